"""Records/s of the normalize stage on Japanese Dolly, replicated to ~100k records.

Reads the Dolly archive from the offline mirror with tarfile (nothing is copied
into the repo), replicates it to --records records with distinct ids, and times
``normalize_records`` with the default params (all rules + PII masking), then
the rules alone, then each rule alone. Prints the figures; the timings never
reach a file that is hashed.

    PYTHONPATH=src .venv/bin/python bench/normalize_bench.py [--records 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tarfile
import time
from pathlib import Path

import polars as pl

from jinstruct.records import TEXT_FIELDS
from jinstruct.text import normalize_records
from jinstruct.text.normalize import RULE_NAMES

REPO = Path(__file__).resolve().parents[1]
DOLLY = (REPO.parent / "shared" / "mirror" / "github.com" / "kunishou" / "databricks-dolly-15k-ja" / "archive"
         / "00fa12ce5cae8da6aa50adb2d8d5ba3dc4aada49.tar.gz")


def load_dolly(archive: Path) -> pl.DataFrame:
    rows = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".jsonl") and "/data/" in member.name:
                for line in tar.extractfile(member).read().decode("utf-8").splitlines():
                    if line.strip():
                        rows.append(json.loads(line))
    frame = pl.DataFrame(rows).select(
        id=pl.lit("dolly_ja:") + pl.col("index"), source=pl.lit("dolly_ja"), task=pl.col("category"),
        instruction="instruction", input="input", output="output", license=pl.lit("CC-BY-SA-3.0"))
    return frame.sort("id")


def replicate(frame: pl.DataFrame, records: int) -> pl.DataFrame:
    copies = -(-records // frame.height)
    parts = [frame.with_columns(id=pl.col("id") + f"#{copy}") for copy in range(copies)]
    return pl.concat(parts).head(records)


def best_seconds(run, repeat: int) -> tuple[float, float]:
    """Best wall-clock and CPU seconds of ``repeat`` runs (CPU time shows how
    much of a slow wall time was other processes on a shared machine)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--per-rule", action="store_true", help="also time every rule on its own")
    args = parser.parse_args()

    frame = replicate(load_dolly(DOLLY), args.records)
    characters = sum(frame[f].str.len_chars().sum() for f in TEXT_FIELDS)
    print(f"corpus: Japanese Dolly 15k replicated to {frame.height:,} records, {characters:,} characters "
          f"in {', '.join(TEXT_FIELDS)}; polars {pl.__version__}, {os.cpu_count()} cores, best of {args.repeat}")

    everything_off = {"rules": dict.fromkeys(RULE_NAMES, False)}
    no_pii = {"pii": {"email": False, "card": False, "phone": False, "postal": False}}
    cases = [("all rules + PII (default)", {}), ("all rules, no PII", no_pii),
             ("PII only", everything_off)]
    if args.per_rule:
        cases += [(f"rule {name} only", {"rules": {other: other == name for other in RULE_NAMES}, **no_pii})
                  for name in RULE_NAMES]
    for label, params in cases:
        wall, cpu = best_seconds(lambda p=params: normalize_records(frame, p, TEXT_FIELDS), args.repeat)
        print(f"{label:<42} {wall:7.2f} s wall {cpu:7.2f} s cpu  {frame.height / wall:>10,.0f} records/s")


if __name__ == "__main__":
    main()
