"""The normalize stage's transform (rules and PII masking: ``jinstruct.text``)."""

from __future__ import annotations

import polars as pl

from jinstruct.pipeline import RunSettings
from jinstruct.stage import StageResult
from jinstruct.text import normalize_records

STAGE = "normalize"


def transform(frame: pl.DataFrame, run: RunSettings) -> StageResult:
    return normalize_records(frame, run.params.as_params(), list(run.text_fields))
