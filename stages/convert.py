"""DVC stage convert: data/raw → instruction records (data/interim/converted.parquet) and where
each came from (data/interim/origins.parquet, for `jinstruct explain`).

The paths come from dvc.yaml's cmd; reading is jinstruct.sources.convert.read_candidates,
the transform judge_candidates.
"""

import argparse
from pathlib import Path

from jinstruct.outputs import OutputSet
from jinstruct.params import stage_settings
from jinstruct.sources.convert import STAGE, judge_candidates, read_candidates
from jinstruct.sources.spec import enabled_sources
from jinstruct.stage import run_stage, stage_main


def main() -> None:
    parser = argparse.ArgumentParser(prog="stages/convert.py")
    for name in ("raw", "output", "rejects", "stats", "origins"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    args = parser.parse_args()
    specs = enabled_sources(stage_settings("sources").as_params())
    run_stage(STAGE, judge_candidates, None, lambda: read_candidates(specs, args.raw),
              OutputSet(args.output, args.rejects, args.stats, {"origins": args.origins}))


if __name__ == "__main__":
    stage_main(STAGE, main)
