"""DVC stage split: filtered records -> data/processed/{train,validation,test}.parquet,
manifest.json (dataset hash, counts, params, provenance, funnel, code) and the card."""

import json
import time
from pathlib import Path

from jinstruct.release.card import render_card
from jinstruct.params import load_params
from jinstruct.records import atomic_path, read_records, write_json, write_parquet
from jinstruct.splits import MANIFEST_NAME, build_manifest, code_identity, make_splits
from jinstruct.stage import log, stage_main

INPUT = Path("data/interim/filtered.parquet")
PROVENANCE = Path("data/raw/provenance.json")
OUTPUT_DIR = Path("data/processed")
STATS = Path("metrics/split.json")
DATA_STAGES = ("convert", "normalize", "dedup", "filter")


def main() -> None:
    started = time.perf_counter()
    params = load_params()
    split_params = params["split"]
    records = read_records(INPUT)
    splits = make_splits(records, split_params["ratios"], split_params["seed"])
    for name, frame in splits.items():
        write_parquet(frame, OUTPUT_DIR / f"{name}.parquet")
    funnel = {stage: json.loads(Path(f"metrics/{stage}.json").read_text(encoding="utf-8"))
              for stage in DATA_STAGES if Path(f"metrics/{stage}.json").is_file()}
    manifest = build_manifest(
        splits, OUTPUT_DIR,
        name=split_params["name"], version=str(split_params["version"]),
        params={section: params.get(section) for section in ("sources", "normalize", "dedup", "filter", "split")},
        provenance=json.loads(PROVENANCE.read_text(encoding="utf-8")),
        funnel=funnel, code=code_identity())
    write_json(manifest, OUTPUT_DIR / MANIFEST_NAME)
    with atomic_path(OUTPUT_DIR / "README.md") as card:
        card.write_text(render_card(manifest), encoding="utf-8")
    # The DVC metric of the data stages (dvc exp show columns): per-stage totals only;
    # per-source and per-reason counts stay in metrics/<stage>.json for the report.
    write_json({"dataset_hash": manifest["dataset_hash"], "version": manifest["version"],
                "records": {name: frame.height for name, frame in splits.items()},
                "funnel": {stage: {key: stats.get(f"records_{key}") for key in ("in", "out", "rejected")}
                           for stage, stats in funnel.items()}}, STATS)
    total = sum(frame.height for frame in splits.values())
    log.info(f"[split] {total} records -> " + ", ".join(f"{n}={f.height}" for n, f in splits.items())
             + f"; dataset hash {manifest['dataset_hash'][:12]} {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    stage_main("split", main)
