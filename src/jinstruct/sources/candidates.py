"""What every adapter shares: reading rows, judging them, shaping records.

An adapter turns the fetched files of one source into *candidate* records: the
record columns plus ``reason``/``detail`` (null reason = keep). Judging is a
list of ``Check`` (a condition, a reason, a detail) evaluated as polars
expressions, first match wins, so one record gets one clear reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jinstruct.records import SCHEMA_FIELDS, InputError
from jinstruct.sources import readers
from jinstruct.sources.spec import SourceSpec

# Task labels users can mix by (docs/sources.md says which upstream label maps where).
TASKS = (
    "open_qa", "closed_qa", "reading_comprehension", "multiple_choice_qa",
    "translation_en_ja", "translation_ja_en", "classification", "summarization",
    "brainstorming", "creative_writing", "information_extraction", "general",
)
RECORD_COLUMNS = (*SCHEMA_FIELDS, "group")
CANDIDATE_COLUMNS = (*RECORD_COLUMNS, "reason", "detail")
# Where a candidate came from inside data/raw: the file(s) and the 1-based line
# (JSON Lines, text) or item (a question of a SQuAD document, a table row).
# Convert writes them to origins.parquet so `jinstruct explain` can point at the bytes.
ORIGIN_COLUMNS = ("origin_files", "origin_position")


@dataclass
class Candidates:
    """One source's candidate records, unparseable upstream records, upstream count."""

    frame: pl.DataFrame    # CANDIDATE_COLUMNS
    errors: pl.DataFrame   # file, line, message (records that never became candidates)
    upstream_records: int


@dataclass(frozen=True)
class Check:
    failed: pl.Expr
    reason: str
    detail: pl.Expr | str


def where() -> pl.Expr:
    """``file:line`` of the upstream record, for details that point at it."""
    return pl.col("__file__") + pl.lit(":") + pl.col("__line__").cast(pl.String)


def required(*fields: str) -> list[Check]:
    """A missing (or null) upstream field is a ``missing_field`` reject naming it."""
    return [Check(pl.col(name).is_null(), "missing_field", where() + pl.lit(f": no {name!r}")) for name in fields]


def wrong_type() -> Check:
    return Check(pl.col("__wrong__").is_not_null(), "wrong_type", where() + pl.lit(": ") + pl.col("__wrong__"))


def verdict(checks: Sequence[Check]) -> list[pl.Expr]:
    """``reason`` and ``detail`` columns: the first failing check, else null."""
    if not checks:
        return [pl.lit(None, pl.String).alias("reason"), pl.lit(None, pl.String).alias("detail")]
    as_expr = lambda value: value if isinstance(value, pl.Expr) else pl.lit(value)  # noqa: E731
    reason = pl.coalesce([pl.when(check.failed).then(pl.lit(check.reason)) for check in checks])
    detail = pl.coalesce([pl.when(check.failed).then(as_expr(check.detail)) for check in checks])
    return [reason.cast(pl.String).alias("reason"), detail.cast(pl.String).alias("detail")]


def upstream_id(column: str) -> pl.Expr:
    """The upstream id, or ``<file>:<line>`` when the record has none."""
    return pl.coalesce(pl.col(column).cast(pl.String), where())


def shape(frame: pl.DataFrame, spec: SourceSpec, checks: Sequence[Check], **columns: pl.Expr | str) -> pl.DataFrame:
    """Candidate records: the given column expressions plus source, license, verdict.

    ``id`` is given without the ``<source>:`` prefix; ``group`` defaults to the id.
    The origin (ORIGIN_COLUMNS) defaults to the row's ``__file__`` and ``__line__``;
    an adapter whose record spans several files passes ``origin_files`` as a list.
    """
    as_expr = lambda value: value if isinstance(value, pl.Expr) else pl.lit(value)  # noqa: E731
    given_origin = {name: columns.pop(name) for name in ORIGIN_COLUMNS if name in columns}
    exprs = {name: as_expr(value).cast(pl.String) for name, value in columns.items()}
    exprs["id"] = pl.lit(f"{spec.name}:") + exprs["id"]
    exprs["group"] = pl.lit(f"{spec.name}:") + exprs["group"] if "group" in exprs else exprs["id"]
    exprs["input"] = exprs.get("input", pl.lit("")).fill_null("")
    exprs["source"] = pl.lit(spec.name)
    exprs["license"] = pl.lit(spec.license)
    origin = {
        "origin_files": given_origin.get("origin_files", pl.concat_list(pl.col("__file__"))
                                         if "__file__" in frame.columns else pl.lit(None, pl.List(pl.String))),
        "origin_position": given_origin.get("origin_position", pl.col("__line__")
                                            if "__line__" in frame.columns else pl.lit(None)),
    }
    return frame.select(*(exprs[name].alias(name) for name in RECORD_COLUMNS),
                        origin["origin_files"].cast(pl.List(pl.String)).alias("origin_files"),
                        origin["origin_position"].cast(pl.Int64).alias("origin_position"), *verdict(checks))


def source_files(spec: SourceSpec, raw_dir: Path) -> list[Path]:
    """The fetched files of a source (archives: every extracted member, sorted)."""
    folder = raw_dir / spec.name
    if spec.kind == "archive":
        paths = readers.files_under(folder)
    else:
        paths = [folder / location.file_name for location in spec.locations]
    missing = [path for path in paths if not path.is_file()]
    if not paths or missing:
        raise InputError(f"{missing[0] if missing else folder}: not fetched (run `dvc repro fetch` first)")
    return paths


def read_rows(spec: SourceSpec, raw_dir: Path, fields: dict[str, str]) -> readers.Read:
    """Rows with the requested ``fields`` from any table-like format of the source.

    Hub sources are loaded with ``datasets``; JSON Lines is read line by line so
    that one broken line is a reject, not a failed stage.
    """
    paths = source_files(spec, raw_dir)
    if spec.format == "jsonl" and spec.kind != "hf":
        return readers.read_jsonl(paths, raw_dir, fields)
    if spec.format not in ("jsonl", "json", "parquet", "csv"):
        raise InputError(f"params.yaml sources.{spec.name}: format {spec.format!r} has no fields to map")
    table = readers.read_table_files(paths, spec.format, via_datasets=spec.kind == "hf")
    _check_column_types(table, fields, paths[0])
    return readers.Read(_fields_of_table(table, fields, paths[0].relative_to(raw_dir).as_posix()),
                        pl.DataFrame(schema=readers.ERROR_SCHEMA), table.height)


def _check_column_types(table: pl.DataFrame, fields: dict[str, str], path: Path) -> None:
    """A typed table (Parquet) whose column cannot hold the field stops with one line."""
    for name, kind in fields.items():
        dtype = table.schema.get(name)
        if dtype is None or dtype == pl.Null:
            continue
        fits = {"text": dtype == pl.String or dtype.is_numeric(), "int": dtype.is_integer(),
                "bool": dtype == pl.Boolean}.get(kind, isinstance(dtype, pl.List))
        if not fits:
            raise InputError(f"{path}: column {name!r} holds {dtype}, expected {kind}")


def _fields_of_table(table: pl.DataFrame, fields: dict[str, str], file_name: str) -> pl.DataFrame:
    columns, problems = [], []
    for name, kind in fields.items():
        original = pl.col(name) if name in table.columns else pl.lit(None)
        if kind in readers.FIELD_DTYPES:
            cast = original.cast(readers.FIELD_DTYPES[kind], strict=False)
            problems.append(pl.when(original.is_not_null() & cast.is_null()).then(pl.lit(f"{name}: expected {kind}")))
            columns.append(cast.alias(name))
        else:
            columns.append(original.alias(name))
    wrong = pl.concat_str(problems, separator="; ", ignore_nulls=True) if problems else pl.lit(None)
    return table.select(
        *columns,
        pl.lit(file_name).alias("__file__"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("__line__"),
        pl.when(wrong != "").then(wrong).cast(pl.String).alias("__wrong__"),
    )
