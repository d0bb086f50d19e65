"""Records/s of every data stage on the current build (default: the default sources).

Runs each stage script as DVC would (a fresh process, imports included) on the
inputs already in data/, and divides the stage's records_in by its wall time.
Run from the project root after `dvc repro split` (or `make build`):

    python bench/data_stages.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("convert", "normalize", "dedup", "filter", "split")


def time_stage(stage: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, f"stages/{stage}.py"], check=True, capture_output=True)
    return time.perf_counter() - started


def records_in(stage: str) -> int:
    stats = json.loads(Path(f"metrics/{stage}.json").read_text())
    return stats.get("records_in", sum(stats.get("records", {}).values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per stage; the fastest counts")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'stage':<10} {'records in':>11} {'seconds':>9} {'records/s':>11}")
    for stage in STAGES:
        seconds = min(time_stage(stage) for _ in range(args.repeat))
        count = records_in(stage)
        print(f"{stage:<10} {count:>11,} {seconds:>9.1f} {count / seconds:>11,.0f}")


if __name__ == "__main__":
    main()
