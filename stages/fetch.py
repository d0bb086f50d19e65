"""DVC stage fetch: the enabled `sources` → data/raw (with --eval: `eval_sets` → data/eval)."""

import argparse
from pathlib import Path

from jinstruct.outputs import OutputSet, locked, settle_folder
from jinstruct.params import load_params
from jinstruct.sources.fetch import fetch_sources
from jinstruct.sources.spec import enabled_sources
from jinstruct.stage import stage_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval", action="store_true", help="fetch the benchmark files (eval_sets) instead")
    args = parser.parse_args()
    section, output = ("eval_sets", Path("data/eval")) if args.eval else ("sources", Path("data/raw"))
    specs = enabled_sources(load_params(section), section)
    with locked(OutputSet(output)):  # one fetch into a folder at a time; a killed one is cleaned first
        settle_folder(output)
        fetch_sources(specs, output, load_params("fetch"), section=section)


if __name__ == "__main__":
    stage_main("fetch", main)
