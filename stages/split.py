"""DVC stage split: filtered records -> data/processed/{train,validation,test}.parquet,
manifest.json (dataset hash, counts, params, provenance, funnel, code) and the card.

The paths come from dvc.yaml's cmd; the split is jinstruct.splits, the rest jinstruct.release.assemble.
"""

import argparse
import json
import time
from pathlib import Path

from jinstruct.params import load_params
from jinstruct.records import read_records, write_json
from jinstruct.release.assemble import split_metrics, write_processed
from jinstruct.splits import make_splits
from jinstruct.stage import log, stage_main

DATA_STAGES = ("convert", "normalize", "dedup", "filter")
RECORDED_PARAMS = ("sources", "normalize", "dedup", "filter", "split")


def main() -> None:
    parser = argparse.ArgumentParser(prog="stages/split.py")
    for name in ("input", "provenance", "metrics_dir", "output_dir", "stats"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    settings = load_params("split")
    params = load_params()  # the manifest records the params as the user wrote them
    splits = make_splits(read_records(args.input), settings["ratios"], settings["seed"])
    funnel = {stage: json.loads((args.metrics_dir / f"{stage}.json").read_text(encoding="utf-8"))
              for stage in DATA_STAGES if (args.metrics_dir / f"{stage}.json").is_file()}
    manifest = write_processed(
        splits, args.output_dir, name=settings["name"], version=str(settings["version"]),
        params={section: params.get(section) for section in RECORDED_PARAMS},
        provenance=json.loads(args.provenance.read_text(encoding="utf-8")), funnel=funnel)
    write_json(split_metrics(manifest, funnel), args.stats)
    total = sum(frame.height for frame in splits.values())
    log.info(f"[split] {total} records -> " + ", ".join(f"{n}={f.height}" for n, f in splits.items())
             + f"; dataset hash {manifest['dataset_hash'][:12]} {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    stage_main("split", main)
