"""DVC stage `filter`: language ID, quality filters and decontamination over the deduped records."""

from __future__ import annotations

from pathlib import Path

from jinstruct.engine.plans import filter_plan
from jinstruct.filters import filter_records
from jinstruct.params import load_params
from jinstruct.records import TEXT_FIELDS
from jinstruct.stage import run_stage, stage_main

INPUT = Path("data/interim/deduped.parquet")
OUTPUT = Path("data/interim/filtered.parquet")
REJECTS = Path("data/rejects/filter.parquet")
STATS = Path("metrics/filter.json")
EVAL_DIR = Path("data/eval")


def body() -> None:
    params = load_params("filter") or {}
    eval_sets = load_params("eval_sets") or {}
    run_stage("filter", lambda records: filter_records(records, params, TEXT_FIELDS, EVAL_DIR, eval_sets),
              INPUT, OUTPUT, REJECTS, STATS, batches=filter_plan(params, TEXT_FIELDS, EVAL_DIR, eval_sets))


if __name__ == "__main__":
    stage_main("filter", body)
