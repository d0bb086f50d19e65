"""The dedup stage's transform: kept records and rejects, plus the clusters and the index as artifacts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from jinstruct.dedup import dedup_records
from jinstruct.dedup.index import write_index
from jinstruct.engine.settings import EngineSettings
from jinstruct.pipeline import RunSettings
from jinstruct.stage import Engine, StageResult

STAGE = "dedup"
ARTIFACTS = ("clusters", "index")


def transform(frame: pl.DataFrame, run: RunSettings) -> StageResult:
    # --text-field replaces dedup.fields; in the pipeline the key fields come from params
    outcome = dedup_records(frame, run.params.as_params(), list(run.text_fields) if run.fields_given else None)
    return replace(outcome.result, artifacts={
        "clusters": outcome.clusters,
        "index": lambda path: write_index(outcome.index, outcome.identity, path),
    })


def on_ray(_run: RunSettings, input_path: Path, settings: EngineSettings) -> Engine:
    from jinstruct.engine.dedup import dedup_engine

    return dedup_engine(input_path, settings)
