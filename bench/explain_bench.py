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
import statistics
import subprocess
import sys
import time
from pathlib import Path

IDS = ("tanaka:10000:en-ja", "dolly_ja:10529", "jcommonsenseqa:182", "jcommonsenseqa:27")
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


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    floor = statistics.median(timed([sys.executable, "-c", "import polars"]) for _ in range(args.repeat))
    print(f"process floor (python -c 'import polars'): {floor:.2f} s; load average {Path('/proc/loadavg').read_text().split()[0]}")
    print(f"{'id':<22} {'explain s':>10} {'--verify s':>11} {'read whole files s':>19} {'ratio':>6}")
    for record_id in IDS:
        explain = [timed([sys.executable, "-m", "jinstruct", "explain", "--root", str(args.root), record_id])
                   for _ in range(args.repeat)]
        verify = [timed([sys.executable, "-m", "jinstruct", "explain", "--root", str(args.root), record_id,
                         "--verify"]) for _ in range(args.repeat)]
        whole = [timed([sys.executable, "-c", WHOLE_FILES, str(args.root), record_id]) for _ in range(args.repeat)]
        ours, peer = statistics.median(explain), statistics.median(whole)
        print(f"{record_id:<22} {ours:>10.2f} {statistics.median(verify):>11.2f} {peer:>19.2f} {peer / ours:>6.2f}")


if __name__ == "__main__":
    main()
