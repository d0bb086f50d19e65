"""The stage protocol and its one runner: rejects, stats, the accounting check, the output set.

A data stage is a plain function ``transform(frame, settings) -> StageResult``.
It never drops a record silently: each one leaves either in ``kept`` or in
``rejected`` with ``stage``, ``reason`` and ``detail`` columns; extra files it
produces (dedup's clusters and index) are named ``artifacts``, each a writer.

``run_stage`` is the only code that runs one, for the DVC stage scripts and the
standalone commands alike: it takes the output set's lock, reads the input,
hands frame and settings to an *engine* (here: call the transform in this
process; another engine may run it elsewhere), checks ``records_in ==
records_out + records_rejected`` overall and per source, and publishes records,
rejects, stats and artifacts as one set (``jinstruct.outputs``).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from jinstruct.outputs import OutputSet, Writer, locked, publish, settle, settled_input
from jinstruct.records import REJECT_FIELDS, SCHEMA_FIELDS, read_records, write_jsonl, write_parquet

log = logging.getLogger("jinstruct")


class AccountingError(RuntimeError):
    """A stage lost or invented records: a bug, never the user's fault."""


@dataclass
class StageResult:
    kept: pl.DataFrame
    rejected: pl.DataFrame
    extra_stats: dict | None = None
    # extra files by name ("clusters", "index"): a frame (written in its target's format)
    # or a writer that writes itself to the path it is given
    artifacts: dict[str, pl.DataFrame | Writer] = field(default_factory=dict)
    # "records"/"rejects": target path → its writer, used instead of writing ``kept``/``rejected`` (an
    # engine whose workers wrote the rows: the frames then hold only id, source, task and reason, for the checks)
    writers: dict[str, Callable[[Path], Writer]] = field(default_factory=dict)
    # folders of that engine's shards: removed once the outputs are published or the stage fails
    scratch: tuple[Path, ...] = ()


@dataclass
class Incoming:
    """What a stage reads: the records, and the rows that could not be parsed (already rejects)."""

    frame: pl.DataFrame
    parse_rejects: pl.DataFrame | None = None
    extra_stats: dict | None = None


Transform = Callable[[pl.DataFrame, Any], StageResult]
Reader = Callable[[], Incoming]
# Where a stage runs: ``engine(transform, read, settings) -> (incoming, result)``. The
# runner checks and publishes whatever the engine returns; ``incoming.frame`` needs only
# the ``id`` and ``source`` columns for that (an engine on a cluster sends no more back).
Engine = Callable[[Transform, Reader, Any], tuple[Incoming, StageResult]]


def in_process(transform: Transform, read: Reader, settings: Any) -> tuple[Incoming, StageResult]:
    """The default engine: read here, and call the transform on the whole frame.

    ``settings`` may be a function of what was read (a standalone command picks the
    text columns from the file it reads)."""
    incoming = read()
    if callable(settings):
        settings = settings(incoming)
    return incoming, transform(incoming.frame, settings)


def empty_rejects(like: pl.DataFrame | None = None) -> pl.DataFrame:
    schema = dict(like.schema) if like is not None else {name: pl.String for name in SCHEMA_FIELDS}
    schema.update({name: pl.String for name in REJECT_FIELDS})
    return pl.DataFrame(schema=schema)


def mark_rejected(df: pl.DataFrame, stage: str, reason: str | pl.Expr, detail: str | pl.Expr = "") -> pl.DataFrame:
    """``df`` with the reject columns added (a constant or a per-row expression)."""
    as_expr = lambda value: value if isinstance(value, pl.Expr) else pl.lit(value)  # noqa: E731
    return df.with_columns(
        stage=pl.lit(stage, dtype=pl.String),
        reason=as_expr(reason).cast(pl.String),
        detail=as_expr(detail).cast(pl.String),
    )


def partition(df: pl.DataFrame, stage: str, reason_column: str = "reason",
              detail_column: str = "detail") -> StageResult:
    """Split a frame that carries a per-row reason (null = keep) into kept and rejected."""
    is_rejected = pl.col(reason_column).is_not_null()
    kept = df.filter(~is_rejected).drop(reason_column, detail_column)
    rejected = mark_rejected(
        df.filter(is_rejected).drop(reason_column, detail_column),
        stage,
        df.filter(is_rejected)[reason_column],
        df.filter(is_rejected)[detail_column].fill_null(""),
    )
    return StageResult(kept, rejected)


def _counts_by_source(df: pl.DataFrame) -> dict[str, int]:
    if df.height == 0:
        return {}
    counts = df.group_by(pl.col("source").fill_null("(unknown)")).len()
    return {row["source"]: row["len"] for row in counts.iter_rows(named=True)}


def _nested_counts(df: pl.DataFrame, outer: str, inner: str) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = {}
    if df.height == 0:
        return nested
    def column(name: str) -> pl.Expr:  # plain files need not have a `task` (or `source`) column
        return pl.col(name).fill_null("(unknown)") if name in df.columns else pl.lit("(unknown)").alias(name)

    counts = df.group_by(column(outer), column(inner)).len()
    for row in counts.sort(outer, inner).iter_rows(named=True):
        nested.setdefault(row[outer], {})[row[inner]] = row["len"]
    return nested


def check_ids(stage: str, incoming: pl.DataFrame, result: StageResult,
              parse_rejects: pl.DataFrame | int | None) -> None:
    """Every id leaves as often as it came (out + rejected), so a record is never both kept and rejected:
    counts alone let a lost record and a duplicated one balance out. Parse errors (never rows of
    ``incoming``) come as their reject frame, or as a count when the caller has already merged them
    into the rejects."""
    if isinstance(parse_rejects, int):
        unparsed = result.rejected["id"].filter(~result.rejected["id"].is_in(incoming["id"].implode()))
        if unparsed.len() != parse_rejects:
            raise AccountingError(f"[{stage}] {unparsed.len()} rejects with unknown ids, "
                                  f"but {parse_rejects} parse errors")
        parse_rejects = unparsed.to_frame("id")
    ids_in = incoming["id"] if parse_rejects is None else pl.concat([incoming["id"], parse_rejects["id"]])
    ids_out = pl.concat([result.kept["id"], result.rejected["id"]])
    # equal multisets <=> equal when sorted: two sorts cost half of the counting join below,
    # which is left to name the first id that does not balance
    if ids_in.dtype == ids_out.dtype and ids_in.len() == ids_out.len() and ids_in.sort().equals(ids_out.sort()):
        return
    # compared as multisets: an upstream id may repeat (convert keeps the first, rejects the rest)
    balance = ids_in.value_counts(name="n_in").join(ids_out.value_counts(name="n_out"), on="id", how="full",
                                                     coalesce=True, nulls_equal=True).fill_null(0)
    unbalanced = balance.filter(pl.col("n_in") != pl.col("n_out")).sort("id")
    if unbalanced.height:
        record_id, n_in, n_out = unbalanced.row(0)
        raise AccountingError(f"[{stage}] {unbalanced.height} id(s) do not balance, e.g. {record_id!r}: "
                              f"{n_in} in, {n_out} out + rejected")


def stage_stats(stage: str, incoming: pl.DataFrame, result: StageResult,
                parse_rejects: pl.DataFrame | int | None = None) -> dict:
    """Counts in/out/rejected overall, per source and per reason; raises on a leak (checked by id)."""
    parse_count = parse_rejects if isinstance(parse_rejects, int) else getattr(parse_rejects, "height", 0)
    records_in = incoming.height + parse_count
    out, rejected = result.kept.height, result.rejected.height
    if records_in != out + rejected:
        raise AccountingError(f"[{stage}] {records_in} records in but {out} out + {rejected} rejected")
    check_ids(stage, incoming, result, parse_rejects)
    in_by_source = _counts_by_source(incoming)
    out_by_source = _counts_by_source(result.kept)
    rejected_by_source = _counts_by_source(result.rejected.filter(pl.col("reason") != "parse_error"))
    by_source = {}
    for source in sorted(set(in_by_source) | set(out_by_source) | set(rejected_by_source)):
        row = {"in": in_by_source.get(source, 0), "out": out_by_source.get(source, 0),
               "rejected": rejected_by_source.get(source, 0)}
        if row["in"] != row["out"] + row["rejected"]:
            raise AccountingError(f"[{stage}] source {source}: {row}")
        by_source[source] = row
    by_reason = {}
    if rejected:
        counts = result.rejected.group_by("reason").len().sort("reason")
        by_reason = {row["reason"]: row["len"] for row in counts.iter_rows(named=True)}
    stats = {
        "stage": stage,
        "records_in": records_in,
        "records_out": out,
        "records_rejected": rejected,
        "by_source": by_source,
        "rejected_by_reason": by_reason,
        "rejected_by_reason_source": _nested_counts(result.rejected, "reason", "source"),
        "rejected_by_reason_task": _nested_counts(result.rejected, "reason", "task"),
    }
    if result.extra_stats:
        stats.update(result.extra_stats)
    return stats


def summary_line(stats: dict, seconds: float) -> str:
    reasons = ", ".join(f"{reason}={count}" for reason, count in stats["rejected_by_reason"].items())
    rate = stats["records_in"] / seconds if seconds > 0 else float("inf")
    return (f"[{stats['stage']}] in={stats['records_in']} out={stats['records_out']} "
            f"rejected={stats['records_rejected']}" + (f" ({reasons})" if reasons else "")
            + f" {seconds:.1f}s ({rate:,.0f} records/s)")


def frame_writer(frame: pl.DataFrame, target: Path) -> Writer:
    """Write ``frame`` in the format of ``target``'s suffix (JSON Lines or Parquet) to any path."""
    if target.suffix in (".jsonl", ".json"):
        return lambda path: write_jsonl(frame, path)
    return lambda path: write_parquet(frame, path)


def json_writer(obj: object) -> Writer:
    """Pretty, key-sorted JSON: stable bytes for stats."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return lambda path: path.write_text(text, encoding="utf-8")


def read_input(path: Path) -> Reader:
    """The reader of a pipeline stage: the record file the stage before it published."""
    return lambda: Incoming(read_records(settled_input(path)))


def _with_parse_rejects(result: StageResult, incoming: Incoming) -> StageResult:
    extra = {**(incoming.extra_stats or {}), **(result.extra_stats or {})} or None
    rejected = result.rejected
    if incoming.parse_rejects is not None and incoming.parse_rejects.height:
        rejected = pl.concat([rejected, incoming.parse_rejects], how="diagonal_relaxed").sort("id", maintain_order=True)
    if rejected is not result.rejected and "rejects" in result.writers:
        raise AccountingError("parse errors and rejects written by an engine's workers cannot be merged")
    return StageResult(result.kept, rejected, extra, result.artifacts, result.writers, result.scratch)


def run_stage(stage: str, transform: Transform, settings: Any, read: Reader, outputs: OutputSet,
              engine: Engine = in_process) -> dict:
    """Run one data stage on ``engine`` and publish its outputs as one set; returns the stats."""
    targets = outputs.targets()
    with locked(outputs):
        settle(outputs)
        started = time.perf_counter()
        incoming, result = engine(transform, read, settings)
        try:
            result = _with_parse_rejects(result, incoming)
            parse_rejects = incoming.parse_rejects.height if incoming.parse_rejects is not None else 0
            stats = stage_stats(stage, incoming.frame, result, parse_rejects)
            missing = sorted(set(outputs.artifacts) - set(result.artifacts))
            if missing:
                raise AccountingError(
                    f"[{stage}] asked to write {', '.join(missing)}, which this stage does not produce")

            def writer(role: str, frame: pl.DataFrame) -> Writer:
                given = result.writers.get(role)
                return given(targets[role]) if given else frame_writer(frame, targets[role])

            writers = {"records": writer("records", result.kept)}
            if outputs.rejects is not None:
                writers["rejects"] = writer("rejects", result.rejected)
            if outputs.stats is not None:
                writers["stats"] = json_writer(stats)
            for name in outputs.artifacts:
                artifact = result.artifacts[name]
                writers[name] = (frame_writer(artifact, targets[name]) if isinstance(artifact, pl.DataFrame)
                                 else artifact)
            publish(outputs, writers)
        finally:  # a check or a writer that fails leaves no shard behind (the outputs stay as they were)
            for folder in result.scratch:
                shutil.rmtree(folder, ignore_errors=True)
    log.info(summary_line(stats, time.perf_counter() - started))
    return stats


def stage_main(name: str, body: Callable[[], object]) -> None:
    """Entry point for ``stages/<name>.py``: one-line errors, exit code 2."""
    import sys

    from jinstruct.errors import InputError, RemoteError, describe_error
    from jinstruct.progress import setup_logging

    setup_logging()
    try:
        body()
    except (InputError, RemoteError, OSError) as exc:  # a user's or the machine's problem: one line
        code, message = describe_error(exc)
        print(f"{name}: error: {message}", file=sys.stderr)
        raise SystemExit(code) from None
