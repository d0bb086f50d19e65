"""One adapter per source format: fetched files → candidate instruction records.

An adapter is ``adapter(spec, raw_dir) -> Candidates`` (see candidates.py); the
convert stage adds the checks every source shares. ``ADAPTERS`` maps the
``adapter:`` name of a source in params.yaml to its function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from jinstruct.records import InputError
from jinstruct.sources.candidates import (
    TASKS,
    Candidates,
    Check,
    read_rows,
    required,
    shape,
    upstream_id,
    where,
    wrong_type,
)
from jinstruct.sources.jglue import jcommonsenseqa, jsquad
from jinstruct.sources.spec import SourceSpec
from jinstruct.sources.tanaka import tanaka_pairs

# databricks-dolly-15k categories (Conover et al. 2023, the dataset card) → our tasks.
# Dolly's general_qa holds open-ended questions without one correct answer (advice,
# opinions, explanations), unlike open_qa's factual ones: it maps to "general".
DOLLY_TASKS = {
    "open_qa": "open_qa",
    "general_qa": "general",
    "closed_qa": "closed_qa",
    "classification": "classification",
    "brainstorming": "brainstorming",
    "information_extraction": "information_extraction",
    "summarization": "summarization",
    "creative_writing": "creative_writing",
}


def dolly(spec: SourceSpec, raw_dir: Path) -> Candidates:
    """One record per upstream record; ``category`` chooses the task (unknown → general)."""
    read = read_rows(spec, raw_dir, dict.fromkeys(("index", "instruction", "input", "output", "category"), "text"))
    task = pl.col("category").replace_strict(DOLLY_TASKS, default="general", return_dtype=pl.String)
    frame = shape(read.rows, spec, [wrong_type(), *required("instruction", "output")],
                  id=upstream_id("index"), task=task, instruction=pl.col("instruction"), input=pl.col("input"),
                  output=pl.col("output"))
    return Candidates(frame, read.errors, read.upstream_records)


def alpaca_seed(spec: SourceSpec, raw_dir: Path) -> Candidates:
    """One record per instance of a seed task: ``<task id>:<instance>``.

    The instances of one task share its instruction, so they share a group.
    """
    read = read_rows(spec, raw_dir, {"id": "text", "instruction": "text", "instances": "list of objects",
                                     "is_classification": "bool"})
    rows = read.rows
    if rows.schema["instances"] in (pl.Null, pl.List(pl.Null)) or rows.height == 0:
        rows = rows.with_columns(pl.lit(None, pl.List(pl.Struct({"input": pl.String, "output": pl.String})))
                                 .alias("instances"))
    task_id = upstream_id("id")
    instances = (
        rows.with_columns(task_id=task_id)
        .explode("instances", empty_as_null=True)
        .with_columns(instance=pl.int_range(pl.len()).over("task_id").cast(pl.String))
        .with_columns(_instance_fields(rows.schema["instances"]))
    )
    checks = [
        wrong_type(),
        *required("instruction"),
        Check(pl.col("instances").is_null(), "missing_field", where() + pl.lit(": no 'instances'")),
        Check(pl.col("output").is_null(), "missing_field",
              where() + pl.lit(": no 'output' in instance ") + pl.col("instance")),
    ]
    task = (pl.when(pl.col("is_classification").fill_null(False)).then(pl.lit("classification"))
            .otherwise(pl.lit("general")))
    frame = shape(instances, spec, checks, id=pl.col("task_id") + ":" + pl.col("instance"), group=pl.col("task_id"),
                  task=task, instruction=pl.col("instruction"), input=pl.col("input"), output=pl.col("output"))
    return Candidates(frame, read.errors, read.upstream_records)


def _instance_fields(dtype: pl.DataType) -> list[pl.Expr]:
    names = [field.name for field in dtype.inner.fields] if isinstance(dtype, pl.List) and \
        isinstance(dtype.inner, pl.Struct) else []
    return [(pl.col("instances").struct.field(name) if name in names else pl.lit(None, pl.String)).alias(name)
            for name in ("input", "output")]


def columns(spec: SourceSpec, raw_dir: Path) -> Candidates:
    """Any table of instruction/input/output columns (your own data, Hub datasets).

    Options (``options:`` of the source): ``instruction``, ``input``, ``output``
    name the columns (default: the same names; ``input: null`` for none),
    ``id`` an upstream id column (default: file and line), ``task`` a fixed task
    (default general) or ``task_column`` a column holding task labels.
    """
    options = {"instruction": "instruction", "input": "input", "output": "output", "id": None, "task": "general",
               "task_column": None, **spec.options}
    if options["task_column"] is None and options["task"] not in TASKS:
        raise InputError(f"params.yaml sources.{spec.name}.options.task: {options['task']!r} is not one of "
                         f"{', '.join(TASKS)}")
    roles = {role: options[role] for role in ("instruction", "input", "output", "id", "task_column") if options[role]}
    read = read_rows(spec, raw_dir, dict.fromkeys(roles.values(), "text"))
    task = pl.col(roles["task_column"]) if "task_column" in roles else pl.lit(options["task"])
    checks = [wrong_type(), *required(roles["instruction"], roles["output"])]
    if "task_column" in roles:
        checks.append(Check(~task.is_in(TASKS), "unknown_task",
                            where() + pl.lit(f": {roles['task_column']} ") + task.fill_null("null")
                            + pl.lit(" is not a jinstruct task")))
    frame = shape(read.rows, spec, checks, id=upstream_id(roles["id"]) if "id" in roles else where(), task=task,
                  instruction=pl.col(roles["instruction"]),
                  input=pl.col(roles["input"]) if "input" in roles else "", output=pl.col(roles["output"]))
    return Candidates(frame, read.errors, read.upstream_records)


ADAPTERS: dict[str, Callable[[SourceSpec, Path], Candidates]] = {
    "dolly": dolly,
    "alpaca_seed": alpaca_seed,
    "tanaka_pairs": tanaka_pairs,
    "jcommonsenseqa": jcommonsenseqa,
    "jsquad": jsquad,
    "columns": columns,
}
