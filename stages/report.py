"""DVC stage `report`: reports/index.html from every stats, metrics and record file of the build.

The output path comes from dvc.yaml's cmd; the report reads the build's files where the
project layout puts them (jinstruct.report.collect).
"""

import argparse
from pathlib import Path

from jinstruct.params import load_params
from jinstruct.report import write_report
from jinstruct.stage import stage_main


def main() -> None:
    parser = argparse.ArgumentParser(prog="stages/report.py")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    write_report(Path("."), args.output, load_params("report"))


if __name__ == "__main__":
    stage_main("report", main)
