"""The filter stage's transform (the filters themselves: ``jinstruct.filters``)."""

from __future__ import annotations

import polars as pl

from jinstruct.filters import filter_records
from jinstruct.pipeline import RunSettings
from jinstruct.stage import StageResult

STAGE = "filter"


def transform(frame: pl.DataFrame, run: RunSettings) -> StageResult:
    return filter_records(frame, run.params, run.text_fields, run.eval_dir, run.eval_sets)
