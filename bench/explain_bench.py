"""Wall time of `jinstruct explain ID` on a built project, one fresh process per call.

Each id is explained --repeat times as a new `python -m jinstruct explain`
process (imports, the dvc.lock freshness check and every lookup included), and
the median is printed beside the peer: what a user does without explain — read
the stage outputs whole with polars and filter them on the id (same process
start-up, same files).

    nice -n 10 python bench/explain_bench.py --root . --repeat 5
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# kept, near duplicate, contaminated, normalised
IDS = ("tanaka:10000:en-ja", "dolly_ja:1280", "jcommonsenseqa:182", "jcommonsenseqa:27")
WHOLE_FILES = """
import sys, polars as pl
from pathlib import Path
root, record_id = Path(sys.argv[1]), sys.argv[2]
paths = ["data/interim/origins.parquet", "data/interim/normalized.parquet", "data/rejects/convert.parquet",
         "data/rejects/dedup.parquet", "data/interim/dedup_clusters.parquet", "data/rejects/filter.parquet",
         "data/processed/train.parquet", "data/processed/validation.parquet", "data/processed/test.parquet"]
for path in paths:
    pl.read_parquet(root / path).filter(pl.col("id") == record_id)
"""


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child): CPU is the steadier figure on a loaded machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians(command: list[str], repeat: int) -> tuple[float, float]:
    runs = [timed(command) for _ in range(repeat)]
    return statistics.median(wall for wall, _ in runs), statistics.median(cpu for _, cpu in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    floor_wall, floor_cpu = medians([sys.executable, "-c", "import polars"], args.repeat)
    print(f"load average {Path('/proc/loadavg').read_text().split()[0]}; median of {args.repeat} fresh processes, "
          "wall / CPU seconds")
    print(f"{'process floor (import polars)':<30} {floor_wall:>5.2f} / {floor_cpu:.2f}")
    print(f"{'id':<22} {'explain':>13} {'--verify':>13} {'read whole files':>17} {'CPU ratio':>9}")
    for record_id in IDS:
        base = [sys.executable, "-m", "jinstruct", "explain", "--root", str(args.root), record_id]
        explain, verify = medians(base, args.repeat), medians([*base, "--verify"], args.repeat)
        whole = medians([sys.executable, "-c", WHOLE_FILES, str(args.root), record_id], args.repeat)
        print(f"{record_id:<22} {explain[0]:>5.2f} / {explain[1]:<5.2f} {verify[0]:>5.2f} / {verify[1]:<5.2f} "
              f"{whole[0]:>7.2f} / {whole[1]:<5.2f} {whole[1] / explain[1]:>9.2f}")

if __name__ == "__main__":
    main()
