"""The filter stage's transform (the filters themselves: ``jinstruct.filters``) and its Ray form."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jinstruct.engine.settings import EngineSettings
from jinstruct.filters import filter_records
from jinstruct.pipeline import RunSettings
from jinstruct.stage import Engine, StageResult

STAGE = "filter"


def transform(frame: pl.DataFrame, run: RunSettings) -> StageResult:
    return filter_records(frame, run.params, run.text_fields, run.eval_dir, run.eval_sets)


def on_ray(run: RunSettings, input_path: Path, settings: EngineSettings) -> Engine:
    from jinstruct.engine.batches import batch_engine
    from jinstruct.engine.filter_plan import filter_plan

    plan = filter_plan(run.params.as_params(), run.text_fields, run.eval_dir, run.eval_sets)
    return batch_engine(STAGE, plan, input_path, settings)
