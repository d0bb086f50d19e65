"""LoRA instruction tuning of the base model on the processed train split.

``run_lora`` takes the typed settings (``settings.model.TrainingSettings``:
the model, lora, train and torch sections), the verified splits and the base
folder, and returns the tuned peft model with everything the stage writes:
training info (dataset hash, base identity, params, tokens, truncation) and the
metrics. The paper's model cards (izumi-lab
llm-japanese-dataset, section "LoRA tuning") give the defaults in params.yaml:
r=4, lr 3e-4, cutoff 256 tokens, loss on prompt and answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import torch

from jinstruct import __version__
from jinstruct.records import InputError, file_sha256
from jinstruct.settings.model import LoraSection, TrainingSettings, TrainSection
from jinstruct.train.data import (
    length_grouped_batches,
    load_template,
    packed_batches,
    resolve_template,
    select_records,
    tokenize_records,
)
from jinstruct.train.determinism import make_deterministic
from jinstruct.train.loop import LoopSettings, autocast_dtype, mean_loss, pick_device, train

log = logging.getLogger("jinstruct")

# Attention projections LoRA adapts when `lora.target_modules: auto`. The two the
# paper names: q_proj,v_proj for LLaMA and query_key_value (the fused QKV) for
# GPT-NeoX, the architecture of OpenCALM. Llama-like families share the names.
PAPER_TARGET_MODULES = {
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "gemma": ["q_proj", "v_proj"],
    "gpt_neox": ["query_key_value"],
}


def auto_target_modules(config) -> list[str]:
    """Target modules for ``config``: the paper's choice, else peft's own per-architecture table."""
    model_type = getattr(config, "model_type", None)
    if model_type in PAPER_TARGET_MODULES:
        return list(PAPER_TARGET_MODULES[model_type])
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS

    if model_type in PEFT_DEFAULTS:
        return list(PEFT_DEFAULTS[model_type])
    raise InputError(f"lora.target_modules=auto: no default for architecture {model_type!r}; "
                     "name the attention projections, e.g. -S 'lora.target_modules=[q_proj,v_proj]'")


def lora_model(base_model, lora: LoraSection | dict, seed: int):
    """``base_model`` wrapped with freshly initialised (seeded) LoRA adapters."""
    from peft import LoraConfig, get_peft_model

    if not isinstance(lora, LoraSection):
        lora = TrainingSettings.of({"lora": lora}).lora
    targets = lora.target_modules
    if targets == "auto":
        targets = auto_target_modules(base_model.config)
    config = LoraConfig(r=lora.rank, lora_alpha=int(lora.alpha), lora_dropout=lora.dropout,
                        target_modules=[targets] if isinstance(targets, str) else list(targets), bias="none",
                        task_type="CAUSAL_LM")
    torch.manual_seed(seed)
    try:
        return get_peft_model(base_model, config)
    except ValueError as exc:
        raise InputError(f"lora.target_modules={targets}: {str(exc).splitlines()[0]}") from None


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def load_base_for_training(base_dir: Path, trust_remote_code: bool, dtype: torch.dtype | None = None):
    from jinstruct.train.base import load_pretrained

    kwargs = {"dtype": dtype} if dtype is not None else {}
    model, tokenizer = load_pretrained(str(base_dir), trust_remote_code, **kwargs)
    if tokenizer.pad_token_id is None:  # GPT-NeoX/LLaMA tokenizers often have none; padding is masked anyway
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


@dataclass
class LoraRun:
    model: object       # the peft model
    tokenizer: object
    info: dict          # -> models/adapter/training_info.json
    metrics: dict       # -> metrics/train.json
    timings: dict       # -> logs/train.json (not hashed by DVC: seconds differ run to run)


def _batches(tokenized, train: TrainSection, pad_id: int):
    if train.packing:
        return packed_batches(tokenized, train.batch_size, train.seed, pad_id, train.max_length)
    return length_grouped_batches(tokenized, train.batch_size, train.seed, pad_id)


def _limit(df: pl.DataFrame, limit: int | None, seed: int) -> pl.DataFrame:
    """A seeded sample of at most ``limit`` records, in id order (the same ids for the same seed)."""
    if not limit or df.height <= limit:
        return df
    return df.sort("id").sample(n=int(limit), seed=seed).sort("id")


def records_needed(train: TrainSection) -> int | None:
    """How many train records ``max_steps`` can consume (None: all of them, for epochs).

    Tokenising 100k+ records costs minutes on a small CPU; with a step budget
    only a seeded sample of this size is tokenised and trained on, and the
    truncation stats describe exactly those records. Packed rows hold several
    records each, so packing samples up to ``max_length / 32`` times more.
    """
    if train.max_steps <= 0:
        return None
    per_row = max(1, train.max_length // 32) if train.packing else 1
    return train.max_steps * train.batch_size * train.grad_accum * per_row


def run_lora(splits: dict[str, pl.DataFrame], dataset_hash: str, base_dir: Path, base_identity: dict,
             settings: TrainingSettings | dict, on_step: Callable[[int, float, float], None] | None = None) -> LoraRun:
    """Tune LoRA adapters on the selected train records; measure validation loss before and after."""
    if not isinstance(settings, TrainingSettings):
        settings = TrainingSettings.of(settings)
    train_settings, seed = settings.train, settings.train.seed
    device = pick_device(train_settings.device)
    numeric = make_deterministic(seed, settings.torch.threads, device)
    cast = autocast_dtype(device, train_settings.bf16)
    template_path = resolve_template(train_settings.template)
    template = load_template(str(template_path))

    # On a bf16 GPU the frozen base is loaded in bf16 (a 7B model then fits in
    # ~15 GB); peft keeps the adapter weights themselves in float32.
    load_dtype = torch.bfloat16 if cast is torch.bfloat16 and device == "cuda" else None
    model, tokenizer = load_base_for_training(base_dir, settings.model.trust_remote_code, load_dtype)
    model.to(device)
    if train_settings.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model = lora_model(model, settings.lora, seed)

    selection = {"sources": train_settings.sources, "tasks": train_settings.tasks,
                 "exclude_tasks": train_settings.exclude_tasks}

    def selected(split: str, limit: int | None) -> pl.DataFrame:
        return _limit(select_records(splits[split], train_settings.sources, train_settings.tasks,
                                     train_settings.exclude_tasks), limit, seed)

    train_df = selected("train", records_needed(train_settings))
    valid_df = selected("validation", train_settings.validation_records)
    max_length, on_inputs = train_settings.max_length, train_settings.train_on_inputs
    train_set = tokenize_records(train_df, tokenizer, template, max_length, on_inputs)
    valid_set = tokenize_records(valid_df, tokenizer, template, max_length, on_inputs)
    pad_id = tokenizer.pad_token_id
    train_batches = _batches(train_set, train_settings, pad_id)
    valid_batches = length_grouped_batches(valid_set, train_settings.batch_size, seed, pad_id)

    loop = LoopSettings(lr=train_settings.lr, max_steps=train_settings.max_steps, epochs=train_settings.epochs,
                        grad_accum=train_settings.grad_accum, warmup_steps=train_settings.warmup_steps,
                        weight_decay=train_settings.weight_decay, seed=seed, device=device, autocast_dtype=cast)
    log.info("[train] %d train records (%d truncated at %d tokens), %d validation records, %d trainable params, %s",
             train_set.stats["records"], train_set.stats["records_truncated"], max_length, len(valid_set.input_ids),
             trainable_parameters(model), device)
    loss_before = mean_loss(model, valid_batches, device, cast)
    result = train(model, train_batches, loop, on_step=on_step, desc="lora")
    loss_after = mean_loss(model, valid_batches, device, cast)
    tail = result.losses[-min(10, len(result.losses)):]

    counts = train_df.group_by("source", "task").len().sort("source", "task")
    info = {
        "dataset_hash": dataset_hash,
        "base_identity": base_identity,
        "base_licence": base_identity.get("licence"),  # set for presets (e.g. Gemma Terms of Use)
        "params": {"model": settings.model.as_params(), "lora": settings.lora.as_params(),
                   "train": train_settings.as_params()},
        "template_sha256": file_sha256(template_path),
        "jinstruct_version": __version__,
        "numeric": numeric,
        "target_modules": sorted(model.peft_config["default"].target_modules),
        "trainable_parameters": trainable_parameters(model),
        "steps": len(result.losses),
        "tokens_seen": result.tokens_seen,
        "train_records": {f"{row['source']}/{row['task']}": row["len"] for row in counts.iter_rows(named=True)},
        "validation_records": valid_df.height,
        "truncation": train_set.stats,
        "selection": selection,
    }
    metrics = {
        "dataset_hash": dataset_hash,
        "train_loss": round(sum(tail) / len(tail), 6),
        "validation_loss": round(loss_after, 6),
        "validation_loss_before": round(loss_before, 6),
        "steps": len(result.losses),
        "tokens_seen": result.tokens_seen,
        "trainable_parameters": info["trainable_parameters"],
        "records_truncated": train_set.stats["records_truncated"],
    }
    timings = {"dataset_hash": dataset_hash, "wall_seconds": round(result.seconds, 1),
               "tokens_per_second": round(result.tokens_per_second, 1), "threads": numeric["threads"]}
    model.eval()
    return LoraRun(model, tokenizer, info, metrics, timings)
