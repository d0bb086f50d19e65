"""DVC stage dedup: normalized records → deduped records, clusters, index."""

from __future__ import annotations

import time
from pathlib import Path

from jinstruct.dedup import dedup_records
from jinstruct.dedup.index import write_index
from jinstruct.engine import engine_settings
from jinstruct.engine.dedup import RayDedup
from jinstruct.engine.session import ray_session
from jinstruct.params import load_params
from jinstruct.records import read_records, write_parquet
from jinstruct.stage import log, stage_main, write_stage_outputs

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
    engine = engine_settings()
    if engine.on_ray:  # key features and LSH buckets on the cluster, the decisions here
        on_ray = RayDedup(INPUT, engine)
        with ray_session(engine):
            outcome = dedup_records(incoming, params, engine=on_ray)
        log.info(f"[dedup] ray: shuffled {on_ray.shuffled_bytes} bytes of band table by (band, bucket)")
    else:
        outcome = dedup_records(incoming, params)
    write_stage_outputs("dedup", incoming, outcome.result, OUTPUT, REJECTS, STATS, started)
    write_parquet(outcome.clusters, CLUSTERS)
    write_index(outcome.index, outcome.identity, INDEX)


if __name__ == "__main__":
    stage_main("dedup", main)
