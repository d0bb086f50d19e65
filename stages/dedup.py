"""DVC stage dedup: normalized records → deduped records, clusters, index."""

from __future__ import annotations

import time
from pathlib import Path

from jinstruct.dedup import dedup_records
from jinstruct.dedup.index import write_index
from jinstruct.params import load_params
from jinstruct.records import read_records, write_parquet
from jinstruct.stage import stage_main, write_stage_outputs

INPUT = Path("data/interim/normalized.parquet")
OUTPUT = Path("data/interim/deduped.parquet")
CLUSTERS = Path("data/interim/dedup_clusters.parquet")
INDEX = Path("data/interim/dedup_index.parquet")
REJECTS = Path("data/rejects/dedup.parquet")
STATS = Path("metrics/dedup.json")


def main() -> None:
    started = time.perf_counter()
    params = load_params("dedup")
    incoming = read_records(INPUT)
    outcome = dedup_records(incoming, params)
    write_stage_outputs("dedup", incoming, outcome.result, OUTPUT, REJECTS, STATS, started)
    write_parquet(outcome.clusters, CLUSTERS)
    write_index(outcome.index, outcome.identity, INDEX)


if __name__ == "__main__":
    stage_main("dedup", main)
