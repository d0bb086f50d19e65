"""Settings of the model stages: base model, LoRA, training and evaluation.

Defaults are the values the project ships in params.yaml (the reasons are
there); a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from jinstruct.settings.base import ParamsModel

Device = Literal["auto", "cpu", "cuda", "mps"]


class CorpusEntry(ParamsModel):
    reader: str
    path: str


class TinyModelSection(ParamsModel):
    corpus: list[CorpusEntry] = [
        CorpusEntry(reader="tanaka_ja", path="data/raw/tanaka/train.ja"),
        CorpusEntry(reader="jsquad_contexts", path="data/raw/jsquad/valid-v1.3.json"),
    ]
    max_chars: PositiveInt | None = None
    vocab_size: PositiveInt = 8000
    limit_alphabet: PositiveInt = 2000
    hidden_size: PositiveInt = 256
    intermediate_size: PositiveInt = 688
    layers: PositiveInt = 4
    heads: PositiveInt = 4
    max_positions: PositiveInt = 1024
    seq_len: PositiveInt = 128
    batch_size: PositiveInt = 16
    steps: PositiveInt = 100
    warmup_steps: NonNegativeInt = 10
    lr: PositiveFloat = 0.002
    weight_decay: NonNegativeFloat = 0.01
    seed: int = 20261124


class TorchSection(ParamsModel):
    # fixed, not "all cores": another thread count sums floats in another order (train/determinism.py)
    threads: PositiveInt = 2


class ModelSection(ParamsModel):
    base: str = "tiny"
    revision: str | None = None
    trust_remote_code: bool = False
    device: Device = "auto"
    tiny: TinyModelSection = TinyModelSection()


class LoraSection(ParamsModel):
    rank: PositiveInt = 4
    alpha: PositiveFloat = 16
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05
    target_modules: str | list[str] = "auto"


class TrainSection(ParamsModel):
    template: str = "src/jinstruct/train/templates/alpaca_ja.yaml"
    max_length: PositiveInt = 256
    lr: PositiveFloat = 0.0003
    epochs: PositiveFloat = 1
    max_steps: NonNegativeInt = 100
    batch_size: PositiveInt = 8
    grad_accum: PositiveInt = 1
    warmup_steps: NonNegativeInt = 10
    weight_decay: NonNegativeFloat = 0.0
    train_on_inputs: bool = True
    packing: bool = False
    sources: str | list[str] = "all"
    tasks: str | list[str] = "all"
    exclude_tasks: list[str] = []
    validation_records: PositiveInt | None = 200
    device: Device = "auto"
    bf16: bool | Literal["auto"] = "auto"
    gradient_checkpointing: bool = False
    seed: int = 20261124


@dataclass(frozen=True)
class TrainingSettings:
    """What the train stage reads: the model, lora, train and torch sections, typed."""

    model: ModelSection
    lora: LoraSection
    train: TrainSection
    torch: TorchSection = TorchSection()

    @classmethod
    def of(cls, sections: dict) -> TrainingSettings:
        """From params sections given as typed models or as plain dicts (validated here)."""
        from jinstruct.params import settings_from

        def typed(name: str):
            given = sections.get(name)
            return given if isinstance(given, ParamsModel) else settings_from(name, given)

        return cls(typed("model"), typed("lora"), typed("train"), typed("torch"))


class EvalFiles(ParamsModel):
    jnli: str | None = "data/eval/jnli/valid-v1.3.json"
    jcommonsenseqa: str | None = "data/eval/jcommonsenseqa/valid-v1.3.json"
    perplexity: str | None = "data/processed/test.parquet"
    marc_ja: str | None = None


EvalTask = Literal["jnli", "jcommonsenseqa", "marc_ja", "perplexity"]


class EvalSection(ParamsModel):
    tasks: list[EvalTask] = ["jnli", "jcommonsenseqa", "perplexity"]
    k_shot: Annotated[int, Field(ge=0, le=3)] = 3
    pool_per_label: PositiveInt = 10
    seed: int = 20261124
    # one number for every task, or per task ({jnli: 100, perplexity: 30}; a task left out is scored whole)
    limit: int | dict[str, int] | None = None
    batch_size: PositiveInt = 32
    max_length: PositiveInt | None = 256
    share_prefix: bool = True
    files: EvalFiles = EvalFiles()

    @field_validator("limit", mode="plain")
    @classmethod
    def _limit(cls, value):
        """A positive count, or task -> positive count; checked here so a mistake reads as one plain line."""
        if value is None:
            return None
        if not isinstance(value, dict):
            return _positive(value, "a positive number of items, or one per task")
        known = get_args(EvalTask)
        unknown = sorted(str(task) for task in value if task not in known)
        if unknown:
            raise ValueError(f"unknown task {', '.join(unknown)} (known: {', '.join(known)})")
        return {task: _positive(number, f"the limit of {task} must be a positive number")
                for task, number in value.items()}


def _positive(value, message: str) -> int:
    try:
        return TypeAdapter(PositiveInt).validate_python(value)
    except ValidationError:
        raise ValueError(message) from None
