"""Bookkeeping every data stage shares: rejects, stats, the accounting check.

A data stage is a function ``transform(records) -> StageResult``. It never
drops a record silently: each one leaves either in ``kept`` or in ``rejected``
with ``stage``, ``reason`` and ``detail`` columns. ``run_stage`` reads the input,
calls the transform, checks ``records_in == records_out + records_rejected``
(overall and per source), and writes outputs, rejects and stats atomically.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jinstruct.records import REJECT_FIELDS, SCHEMA_FIELDS, read_records, write_json, write_records

log = logging.getLogger("jinstruct")


class AccountingError(RuntimeError):
    """A stage lost or invented records: a bug, never the user's fault."""


@dataclass
class StageResult:
    kept: pl.DataFrame
    rejected: pl.DataFrame
    extra_stats: dict | None = None


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


def partition(df: pl.DataFrame, stage: str, reason_column: str = "reason", detail_column: str = "detail") -> StageResult:
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


def check_ids(stage: str, incoming: pl.DataFrame, result: StageResult, parse_rejects: pl.DataFrame | int | None) -> None:
    """Every id leaves as often as it came (out + rejected), so a record is never both kept and rejected:
    counts alone let a lost record and a duplicated one balance out. Parse errors (never rows of ``incoming``) come as their
    reject frame, or as a count when the caller has already merged them into the rejects."""
    if isinstance(parse_rejects, int):
        unparsed = result.rejected["id"].filter(~result.rejected["id"].is_in(incoming["id"].implode()))
        if unparsed.len() != parse_rejects:
            raise AccountingError(f"[{stage}] {unparsed.len()} rejects with unknown ids, "
                                  f"but {parse_rejects} parse errors")
        parse_rejects = unparsed.to_frame("id")
    ids_in = incoming["id"] if parse_rejects is None else pl.concat([incoming["id"], parse_rejects["id"]])
    ids_out = pl.concat([result.kept["id"], result.rejected["id"]])
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


def write_stage_outputs(stage: str, incoming: pl.DataFrame, result: StageResult, output: Path,
                        rejects: Path | None, stats_path: Path | None, started: float,
                        parse_rejects: pl.DataFrame | int | None = None) -> dict:
    """Check the accounting, then write outputs, rejects and stats (each atomically)."""
    stats = stage_stats(stage, incoming, result, parse_rejects)
    write_records(result.kept, output)
    if rejects is not None:
        write_records(result.rejected, rejects)
    if stats_path is not None:
        write_json(stats, stats_path)
    log.info(summary_line(stats, time.perf_counter() - started))
    return stats


def run_stage(stage: str, transform: Callable[[pl.DataFrame], StageResult], input_path: Path,
              output: Path, rejects: Path, stats_path: Path, batches=None) -> dict:
    """Run one pipeline stage on a record file written by the stage before it.

    ``batches``: the stage's per-batch form (jinstruct.engine.plans.BatchPlan), used
    instead of ``transform`` when the environment selects the Ray engine."""
    if batches is not None:
        from jinstruct.engine import engine_settings

        settings = engine_settings()
        if settings.on_ray:
            from jinstruct.engine.batches import run_batch_stage

            return run_batch_stage(stage, batches, input_path, output, rejects, stats_path, settings)
    started = time.perf_counter()
    incoming = read_records(input_path)
    result = transform(incoming)
    return write_stage_outputs(stage, incoming, result, output, rejects, stats_path, started)


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
