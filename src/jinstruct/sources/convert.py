"""The convert stage: every enabled source through its adapter, then shared checks.

``records_in`` of the stage counts candidate records plus unparseable upstream
records. A candidate is what an adapter makes of an upstream record: one record
for most sources, two for a Tanaka line (one per translation direction), one
per instance for an Alpaca seed task. ``upstream_records`` in the stats gives
the upstream count per source, the number provenance.json also reports.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jinstruct.records import InputError
from jinstruct.sources.adapters import ADAPTERS
from jinstruct.sources.candidates import (
    CANDIDATE_COLUMNS,
    ORIGIN_COLUMNS,
    RECORD_COLUMNS,
    TASKS,
    Candidates,
    Check,
    verdict,
)
from jinstruct.sources.spec import SourceSpec
from jinstruct.stage import Incoming, StageResult, partition

log = logging.getLogger("jinstruct")
STAGE = "convert"
# origins.parquet: one row per file a record came from (a Tanaka record: its line in
# both files), sorted by id. ``position`` is the 1-based line or item in that file.
ORIGINS_SCHEMA = {"id": pl.String, "file": pl.String, "position": pl.Int64}


@dataclass
class Converted:
    candidates: pl.DataFrame   # every candidate record (the stage's input, per source)
    result: StageResult        # kept records sorted by id; rejects incl. parse errors
    parse_errors: int
    origins: pl.DataFrame      # ORIGINS_SCHEMA: where in data/raw each candidate came from


def _trimmed_empty(name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars() == ""


# Reasons every source shares, judged after the adapter's own (which name the upstream field).
SHARED_CHECKS = [
    Check(pl.col("instruction").is_null(), "missing_field", "no instruction"),
    Check(pl.col("output").is_null(), "missing_field", "no output"),
    Check(_trimmed_empty("instruction"), "empty_field", "the instruction is empty"),
    Check(_trimmed_empty("output"), "empty_field", "the output is empty"),
    Check(~pl.col("task").is_in(TASKS), "unknown_task", pl.lit("task ") + pl.col("task")),
    Check(~pl.col("id").is_first_distinct(), "duplicate_id", "an earlier record has this id"),
]


def _shared_checks(frame: pl.DataFrame) -> pl.DataFrame:
    """The adapter's verdict where it gave one, else the first failing shared check."""
    reason, detail = verdict(SHARED_CHECKS)
    decided = pl.col("reason").is_not_null()
    return frame.with_columns(
        pl.when(decided).then(pl.col("reason")).otherwise(reason).alias("reason"),
        pl.when(decided).then(pl.col("detail")).otherwise(detail).alias("detail"),
    )


def _parse_error_rejects(candidates: Candidates, spec: SourceSpec) -> pl.DataFrame:
    position = pl.col("file") + pl.lit(":") + pl.col("line").cast(pl.String)
    return candidates.errors.select(
        id=pl.lit(f"{spec.name}:") + position,
        source=pl.lit(spec.name),
        task=pl.lit(None, pl.String), instruction=pl.lit(None, pl.String), input=pl.lit(None, pl.String),
        output=pl.lit(None, pl.String), license=pl.lit(spec.license),
        group=pl.lit(f"{spec.name}:") + position,
        stage=pl.lit(STAGE), reason=pl.lit("parse_error"), detail=position + pl.lit(": ") + pl.col("message"),
    )


def _origins(frame: pl.DataFrame) -> pl.DataFrame:
    """The origin rows of each id's first candidate (a duplicate id keeps the first, as convert does)."""
    return (frame.filter(pl.col("id").is_first_distinct())
            .select("id", file=pl.col("origin_files"), position=pl.col("origin_position"))
            .explode("file").filter(pl.col("file").is_not_null()).cast(ORIGINS_SCHEMA))


def _check_fetched(specs: list[SourceSpec], raw_dir: Path) -> None:
    provenance_path = raw_dir / "provenance.json"
    if not provenance_path.is_file():
        raise InputError(f"{provenance_path}: missing; fetch the sources first (`dvc repro fetch`)")
    fetched = json.loads(provenance_path.read_text(encoding="utf-8")).get("sources", {})
    for spec in specs:
        if spec.name not in fetched:
            raise InputError(f"{provenance_path}: source {spec.name} was not fetched; run `dvc repro fetch`")


def read_candidates(specs: list[SourceSpec], raw_dir: Path) -> Incoming:
    """Every source's candidate records (with the adapters' verdicts) and its unparseable lines."""
    _check_fetched(specs, raw_dir)
    frames, parse_rejects, upstream, parse_counts = [], [], {}, {}
    for spec in specs:
        adapter = ADAPTERS.get(spec.adapter)
        if adapter is None:
            raise InputError(f"params.yaml sources.{spec.name}: adapter {spec.adapter!r} is not one of "
                             f"{', '.join(sorted(ADAPTERS))}")
        candidates = adapter(spec, raw_dir)
        origin = [name for name in ORIGIN_COLUMNS if name in candidates.frame.columns]
        frames.append(candidates.frame.select(*CANDIDATE_COLUMNS, *origin))
        parse_rejects.append(_parse_error_rejects(candidates, spec))
        upstream[spec.name] = candidates.upstream_records
        parse_counts[spec.name] = candidates.errors.height
        log.info("[convert] %s: %d upstream records → %d candidates, %d unparseable", spec.name,
                 candidates.upstream_records, candidates.frame.height, candidates.errors.height)
    return Incoming(pl.concat(frames, how="diagonal_relaxed"), pl.concat(parse_rejects, how="diagonal_relaxed"),
                    {"upstream_records": upstream, "parse_errors": parse_counts})


def judge_candidates(candidates: pl.DataFrame, _settings: object = None) -> StageResult:
    """The convert transform: the adapter's verdict or the first failing shared check; kept sorted by id.

    Its artifact ``origins`` (ORIGINS_SCHEMA) says where in data/raw each record came from, for `jinstruct explain`.
    """
    has_origins = set(ORIGIN_COLUMNS) <= set(candidates.columns)
    origins = (_origins(candidates).sort("id", maintain_order=True) if has_origins
               else pl.DataFrame(schema=ORIGINS_SCHEMA))
    split = partition(_shared_checks(candidates.drop(ORIGIN_COLUMNS, strict=False)), STAGE)
    return StageResult(kept=split.kept.select(RECORD_COLUMNS).sort("id"), rejected=split.rejected.sort("id"),
                       artifacts={"origins": origins})


def convert_sources(specs: list[SourceSpec], raw_dir: Path) -> Converted:
    """Read and judge in one call (what the tests, the benchmark and `jinstruct explain` use)."""
    incoming = read_candidates(specs, raw_dir)
    judged = judge_candidates(incoming.frame)
    rejected = pl.concat([judged.rejected, incoming.parse_rejects], how="diagonal_relaxed").sort(
        "id", maintain_order=True)
    result = StageResult(judged.kept, rejected, incoming.extra_stats)
    return Converted(incoming.frame.drop("reason", "detail", *ORIGIN_COLUMNS, strict=False), result,
                     incoming.parse_rejects.height, judged.artifacts["origins"])
