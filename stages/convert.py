"""DVC stage convert: data/raw → instruction records (data/interim/converted.parquet) and where
each came from (data/interim/origins.parquet)."""

import time
from pathlib import Path

from jinstruct.params import load_params
from jinstruct.records import write_parquet
from jinstruct.sources.convert import STAGE, convert_sources
from jinstruct.sources.spec import enabled_sources
from jinstruct.stage import stage_main, write_stage_outputs


def main() -> None:
    started = time.perf_counter()
    converted = convert_sources(enabled_sources(load_params("sources")), Path("data/raw"))
    write_stage_outputs(STAGE, converted.candidates, converted.result, Path("data/interim/converted.parquet"),
                        Path("data/rejects/convert.parquet"), Path("metrics/convert.json"), started,
                        parse_rejects=converted.parse_errors)
    # where each record came from in data/raw, for `jinstruct explain`
    write_parquet(converted.origins, Path("data/interim/origins.parquet"))


if __name__ == "__main__":
    stage_main(STAGE, main)
