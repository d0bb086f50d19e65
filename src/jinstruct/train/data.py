"""Instruction records -> token sequences for LoRA training.

Reading the processed splits (with the dataset-hash guard), choosing which
sources and tasks to train on, filling the prompt template, tokenising with the
label mask (`train_on_inputs`), truncation statistics, and batching: padded
batches grouped by length, or packed rows whose documents cannot see each other.
"""

from __future__ import annotations

import fnmatch
import random
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl
import torch
import yaml
from transformers.utils import logging as transformers_logging

from jinstruct.records import InputError
from jinstruct.splits import load_splits, verify_manifest

IGNORE_INDEX = -100  # positions torch's cross-entropy skips
TEMPLATE_FIELDS = ("prompt_input", "prompt_no_input")
_PLACEHOLDER = re.compile(r"\{(instruction|input)\}")


# --------------------------------------------------------------------------- splits


def load_verified_splits(processed_dir: str | Path) -> tuple[dict[str, pl.DataFrame], str]:
    """All splits and their dataset hash, refusing stale or hand-edited data.

    ``splits.verify_manifest`` re-hashes the split files exactly as the manifest
    defines it (``records.dataset_hash`` over train, validation, test) and stops
    with one line when anything differs, so an adapter is never tied to a hash
    that does not describe the bytes it was trained on.
    """
    manifest = verify_manifest(processed_dir)
    return load_splits(processed_dir), manifest["dataset_hash"]


def _matches(value: str, patterns: list[str] | str | None) -> bool:
    if patterns in (None, "all"):
        return True
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def select_records(df: pl.DataFrame, sources="all", tasks="all", exclude_tasks=()) -> pl.DataFrame:
    """Records whose source and task match the params (glob patterns, or ``all``).

    ``exclude_tasks: ["translation*"]`` is the paper's "with or without the
    translation data" question as one param. Patterns are matched against the
    few distinct names, then applied as a column filter.
    """
    exclude = [exclude_tasks] if isinstance(exclude_tasks, str) else list(exclude_tasks or [])
    wanted_sources = [s for s in df["source"].unique().to_list() if _matches(s, sources)]
    wanted_tasks = [t for t in df["task"].unique().to_list()
                    if _matches(t, tasks) and not (exclude and _matches(t, exclude))]
    return df.filter(pl.col("source").is_in(wanted_sources) & pl.col("task").is_in(wanted_tasks))


# --------------------------------------------------------------------------- template


def resolve_template(name_or_path: str) -> Path:
    """A template file path, or the name of one shipped in jinstruct/train/templates."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = resources.files("jinstruct.train") / "templates" / f"{path.stem}.yaml"
    if shipped.is_file():
        return Path(str(shipped))
    raise InputError(f"{name_or_path}: no such template file (see src/jinstruct/train/templates/)")


def load_template(name_or_path: str) -> dict[str, str]:
    path = resolve_template(name_or_path)
    template = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [field for field in TEMPLATE_FIELDS if not isinstance(template.get(field), str)]
    if missing:
        raise InputError(f"{path}: template needs the text fields {', '.join(missing)}")
    if "{instruction}" not in template["prompt_no_input"] or "{input}" not in template["prompt_input"]:
        raise InputError(f"{path}: prompt_input needs {{instruction}} and {{input}}, prompt_no_input {{instruction}}")
    return {field: template[field] for field in TEMPLATE_FIELDS}


def _template_expr(template: str) -> pl.Expr:
    """The template as a concat of literals and columns (no str.format: braces in data are safe)."""
    parts: list[pl.Expr] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        parts += [pl.lit(template[position:match.start()]), pl.col(match.group(1)).fill_null("")]
        position = match.end()
    parts.append(pl.lit(template[position:]))
    return pl.concat_str(parts)


def format_prompts(df: pl.DataFrame, template: dict[str, str]) -> pl.Series:
    """The prompt of each record: the with-input form when ``input`` is non-empty."""
    has_input = pl.col("input").fill_null("").str.strip_chars() != ""
    return df.select(pl.when(has_input).then(_template_expr(template["prompt_input"]))
                     .otherwise(_template_expr(template["prompt_no_input"])).alias("prompt")).to_series()


# --------------------------------------------------------------------------- tokenising


@dataclass
class TokenizedSet:
    input_ids: list[list[int]]
    labels: list[list[int]]
    stats: dict


def tokenize_records(df: pl.DataFrame, tokenizer, template: dict[str, str], max_length: int,
                     train_on_inputs: bool = True) -> TokenizedSet:
    """Prompt + output + EOS per record, truncated to ``max_length`` tokens.

    Prompt and answer are tokenised together, with the model's own special
    tokens (BOS for Llama), then EOS. With ``train_on_inputs`` (the paper's
    setting) every token is a target; otherwise the labels are the tail of that
    joint encoding after the prompt's own tokens, the tokens the answer really has
    after its prompt (an answer tokenised alone would start with a metaspace
    ``▁`` that the model then learns to predict). Stats count the records that
    had to be cut.
    """
    if df.height == 0:
        raise InputError("no training records left after the train.sources/tasks selection")
    prompts = format_prompts(df, template).to_list()
    answers = df["output"].fill_null("").to_list()
    # Full lengths are wanted (for the stats), so silence the "longer than the
    # model's maximum" warning; the cut happens below.
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        joint_ids = tokenizer([p + a for p, a in zip(prompts, answers, strict=True)],
                              add_special_tokens=True)["input_ids"]
        prompt_ids = [] if train_on_inputs else tokenizer(prompts, add_special_tokens=True)["input_ids"]
    finally:
        transformers_logging.set_verbosity(verbosity)
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    input_ids, labels, full_lengths = [], [], []
    for index, joint in enumerate(joint_ids):
        ids = list(joint) + eos
        full_lengths.append(len(ids))
        if train_on_inputs:
            target = ids
        else:
            prompt_length = prompt_tokens_in(prompt_ids[index], joint)
            target = [IGNORE_INDEX] * prompt_length + ids[prompt_length:]
        input_ids.append(ids[:max_length])
        labels.append(list(target[:max_length]))
    return TokenizedSet(input_ids, labels, truncation_stats(df, full_lengths, max_length))


def prompt_tokens_in(prompt_ids: list[int], joint_ids: list[int]) -> int:
    """How many leading tokens of the joint encoding are the prompt's own (the rest belong to the answer).

    The prompt's tokens normally start the joint encoding unchanged; where a
    token merges across the boundary it counts as the answer's (as in scoring).
    """
    length = 0
    for ours, joint in zip(prompt_ids, joint_ids):
        if ours != joint:
            break
        length += 1
    return length


def truncation_stats(df: pl.DataFrame, full_lengths: list[int], max_length: int) -> dict:
    lengths = df.select("source").with_columns(tokens=pl.Series(full_lengths, dtype=pl.Int64))
    over = lengths.filter(pl.col("tokens") > max_length)
    by_source = over.group_by("source").len().sort("source")
    return {
        "max_length": max_length,
        "records": lengths.height,
        "records_truncated": over.height,
        "truncated_fraction": round(over.height / lengths.height, 6),
        "truncated_by_source": {row["source"]: row["len"] for row in by_source.iter_rows(named=True)},
        "tokens_before_truncation": int(lengths["tokens"].sum()),
        "length_p50": int(lengths["tokens"].quantile(0.5, "nearest")),
        "length_p95": int(lengths["tokens"].quantile(0.95, "nearest")),
        "length_max": int(lengths["tokens"].max()),
    }


# --------------------------------------------------------------------------- batching


@dataclass
class Batch:
    input_ids: torch.Tensor
    labels: torch.Tensor
    attention_mask: torch.Tensor | None  # None for packed rows (position_ids carry the boundaries)
    position_ids: torch.Tensor | None
    real_tokens: int                     # tokens that are not padding

    def model_inputs(self, device) -> dict:
        # No KV cache: training never reuses it, and with one transformers ignores
        # the packed-sequence boundaries in position_ids.
        inputs = {"input_ids": self.input_ids.to(device), "labels": self.labels.to(device), "use_cache": False}
        if self.attention_mask is not None:
            inputs["attention_mask"] = self.attention_mask.to(device)
        if self.position_ids is not None:
            inputs["position_ids"] = self.position_ids.to(device)
        return inputs


def pad_batch(rows: list[tuple[list[int], list[int]]], pad_id: int) -> Batch:
    """Right-pad to the longest row of this batch (not to max_length)."""
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for row, (ids, targets) in enumerate(rows):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        labels[row, :len(targets)] = torch.tensor(targets)
        attention[row, :len(ids)] = 1
    return Batch(input_ids, labels, attention, None, int(attention.sum()))


def length_grouped_batches(data: TokenizedSet, batch_size: int, seed: int, pad_id: int,
                           group_size: int = 64) -> list[Batch]:
    """Shuffled batches of rows of similar length, so per-batch padding stays small.

    Rows are shuffled with the seed, cut into groups of ``group_size`` batches,
    sorted by length inside each group, batched, and the batches shuffled again:
    randomness of order is kept, padding mostly goes away.
    """
    rng = random.Random(seed)
    order = list(range(len(data.input_ids)))
    rng.shuffle(order)
    span = batch_size * group_size
    batches = []
    for start in range(0, len(order), span):
        group = sorted(order[start:start + span], key=lambda i: len(data.input_ids[i]))
        for offset in range(0, len(group), batch_size):
            rows = [(data.input_ids[i], data.labels[i]) for i in group[offset:offset + batch_size]]
            batches.append(pad_batch(rows, pad_id))
    rng.shuffle(batches)
    return batches


def pack_rows(lengths: list[int], capacity: int) -> list[list[int]]:
    """First-fit-decreasing bin packing of row indices into bins of ``capacity`` tokens.

    Rows are never split; ties keep index order, so the result is deterministic.
    """
    bins: list[list[int]] = []
    free: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        for slot, room in enumerate(free):
            if lengths[index] <= room:
                bins[slot].append(index)
                free[slot] -= lengths[index]
                break
        else:
            bins.append([index])
            free.append(capacity - lengths[index])
    return bins


def packed_batches(data: TokenizedSet, batch_size: int, seed: int, pad_id: int, capacity: int) -> list[Batch]:
    """Rows packed into ``capacity``-token sequences, ``batch_size`` sequences per batch.

    Positions restart at 0 for each packed document and no 2-D attention mask is
    passed: transformers then builds a block-diagonal causal mask from the
    position ids (masking_utils.find_packed_sequence_indices), so a document
    never attends to the one packed before it.
    """
    bins = pack_rows([len(ids) for ids in data.input_ids], capacity)
    random.Random(seed).shuffle(bins)
    batches = []
    for start in range(0, len(bins), batch_size):
        group = bins[start:start + batch_size]
        width = max(sum(len(data.input_ids[i]) for i in members) for members in group)
        input_ids = torch.full((len(group), width), pad_id, dtype=torch.long)
        labels = torch.full((len(group), width), IGNORE_INDEX, dtype=torch.long)
        positions = torch.zeros((len(group), width), dtype=torch.long)
        real = 0
        for row, members in enumerate(group):
            cursor = 0
            for index in members:
                ids, targets = data.input_ids[index], data.labels[index]
                input_ids[row, cursor:cursor + len(ids)] = torch.tensor(ids)
                labels[row, cursor:cursor + len(targets)] = torch.tensor(targets)
                positions[row, cursor:cursor + len(ids)] = torch.arange(len(ids))
                cursor += len(ids)
            real += cursor
            positions[row, cursor:] = torch.arange(width - cursor)  # padding: its own masked-out "document"
        batches.append(Batch(input_ids, labels, None, positions, real))
    return batches
