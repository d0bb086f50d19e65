"""DVC stage normalize: converted records -> normalised records (raw text kept in raw_<field>)."""

from pathlib import Path

from jinstruct.engine.plans import normalize_plan
from jinstruct.params import load_params
from jinstruct.records import TEXT_FIELDS
from jinstruct.stage import run_stage, stage_main
from jinstruct.text import normalize_records

INPUT = Path("data/interim/converted.parquet")
OUTPUT = Path("data/interim/normalized.parquet")
REJECTS = Path("data/rejects/normalize.parquet")
STATS = Path("metrics/normalize.json")


def main() -> None:
    params = load_params("normalize")
    run_stage("normalize", lambda records: normalize_records(records, params, TEXT_FIELDS),
              INPUT, OUTPUT, REJECTS, STATS, batches=normalize_plan(params, TEXT_FIELDS))


if __name__ == "__main__":
    stage_main("normalize", main)
