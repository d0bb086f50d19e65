"""The normalize stage's transform (rules and PII masking: ``jinstruct.text``) and its Ray form."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jinstruct.engine.plans import BatchPlan, additive_stats
from jinstruct.engine.settings import EngineSettings
from jinstruct.pipeline import RunSettings
from jinstruct.stage import Engine, StageResult
from jinstruct.text import normalize_records

STAGE = "normalize"


def transform(frame: pl.DataFrame, run: RunSettings) -> StageResult:
    return normalize_records(frame, run.params.as_params(), list(run.text_fields))


def normalize_plan(params: dict | None, text_fields) -> BatchPlan:
    """Per block: the same rules (each record is normalised on its own); counts add up. Every
    record is kept, in the input frame's chunks."""
    fields = list(text_fields)
    return BatchPlan(lambda records: normalize_records(records, params, fields), additive_stats,
                     keeps_input_chunks=True)


def on_ray(run: RunSettings, input_path: Path, settings: EngineSettings) -> Engine:
    from jinstruct.engine.batches import batch_engine

    return batch_engine(STAGE, normalize_plan(run.params.as_params(), run.text_fields), input_path, settings)
