"""Answer-only perplexity on held-out instruction records (the test split).

The analogue of the paper's perplexity on held-out Japanese QA: each record's
instruction (and input) is laid out in the training prompt format
(templates/perplexity.yaml) and only the tokens of ``output`` are scored, so
the number says how well the model predicts answers, not prompts. Reported
overall and per record ``task``, as exp(total negative log-likelihood / total
answer tokens), i.e. token-weighted, like a corpus perplexity. Perplexity per
token depends on the tokenizer, so bits per character and per UTF-8 byte of
the same answers (total negative log-likelihood in bits / their length) are
reported beside it: those compare models with different vocabularies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from jinstruct.evaluate.scoring import Request, Score
from jinstruct.evaluate.templates import load_template
from jinstruct.records import InputError, file_sha256, read_records

NAME = "perplexity"
DEFAULT_FILE = Path("data/processed/test.parquet")


@dataclass
class PerplexityTask:
    name: str
    template_id: str
    records: pl.DataFrame   # id, task, prompt, output
    skipped_empty: int
    data_path: Path
    data_sha256: str

    def requests(self) -> list[Request]:
        return [Request(prompt, (output,)) for prompt, output in
                zip(self.records["prompt"].to_list(), self.records["output"].to_list(), strict=True)]

    def metrics(self, scores: list[list[Score]]) -> dict:
        scored = self.records.select("task").with_columns(
            logprob=pl.Series([row[0].logprob for row in scores], dtype=pl.Float64),
            tokens=pl.Series([row[0].tokens for row in scores], dtype=pl.Int64),
            chars=pl.Series([row[0].chars for row in scores], dtype=pl.Int64),
            bytes=pl.Series([row[0].bytes for row in scores], dtype=pl.Int64),
        )
        by_task = scored.group_by("task").agg(pl.col("logprob", "tokens", "chars", "bytes").sum()).sort("task")
        total = scored.select(pl.col("logprob", "tokens", "chars", "bytes").sum()).row(0, named=True)
        rows = list(by_task.iter_rows(named=True))
        return {
            "overall": _perplexity(total["logprob"], total["tokens"]),
            "tokens": int(total["tokens"]),
            "by_task": {row["task"]: _perplexity(row["logprob"], row["tokens"]) for row in rows},
            # Bits per character / UTF-8 byte do not depend on the tokenizer: they compare base models.
            "bits_per_char": _bits(total["logprob"], total["chars"]),
            "bits_per_byte": _bits(total["logprob"], total["bytes"]),
            "chars": int(total["chars"]),
            "bits_per_char_by_task": {row["task"]: _bits(row["logprob"], row["chars"]) for row in rows},
            "bits_per_byte_by_task": {row["task"]: _bits(row["logprob"], row["bytes"]) for row in rows},
        }

    def summary(self) -> dict:
        counts = self.records.group_by("task").len().sort("task")
        return {"n": self.records.height, "k": 0, "skipped_empty_output": self.skipped_empty,
                "n_by_task": {row["task"]: row["len"] for row in counts.iter_rows(named=True)},
                "template": self.template_id, "data_file": str(self.data_path), "data_sha256": self.data_sha256}


def _perplexity(logprob: float, tokens: int) -> float:
    return math.exp(-logprob / tokens)


def _bits(logprob: float, units: int) -> float:
    """Negative log-likelihood in bits per unit of text (character or byte)."""
    return -logprob / math.log(2) / units


def prompt_template(params: dict) -> dict:
    """The training prompt template (``params['prompt_template']``, a YAML file) or the shipped copy.

    A file without an ``id`` (the training template) is named by its stem and
    the first 12 hex digits of its sha256, so an edit shows in the metrics.
    """
    chosen = params.get("prompt_template")
    if not chosen:
        return load_template(NAME)
    # Resolved as training resolves it: a file, else the shipped template of that name.
    from jinstruct.train.data import resolve_template

    path = resolve_template(chosen)
    template = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    template.setdefault("id", f"{path.stem}@{file_sha256(path)[:12]}")
    return template


def load(path: Path, params: dict) -> PerplexityTask:
    template = prompt_template(params)
    missing = [key for key in ("prompt_input", "prompt_no_input") if not isinstance(template.get(key), str)]
    if missing:
        raise InputError(f"prompt template {template.get('id')}: missing {', '.join(missing)}")
    records = read_records(path).select("id", "task", "instruction", "input", "output").sort("id")
    empty = records.filter(pl.col("output").fill_null("").str.strip_chars() == "")
    records = records.filter(pl.col("output").fill_null("").str.strip_chars() != "")
    limit = params.get("limit")
    if limit is not None:
        records = records.head(int(limit))
    if records.height == 0:
        raise InputError(f"{path}: no records with an answer to score")
    prompts = [
        (template["prompt_input"] if record_input.strip() else template["prompt_no_input"]).format(
            instruction=instruction, input=record_input)
        for instruction, record_input in zip(records["instruction"].to_list(),
                                             records["input"].fill_null("").to_list(), strict=True)
    ]
    return PerplexityTask(name=NAME, template_id=template["id"],
                          records=records.select("id", "task", "output").with_columns(prompt=pl.Series(prompts)),
                          skipped_empty=empty.height, data_path=Path(path), data_sha256=file_sha256(path))
