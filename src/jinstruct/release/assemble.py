"""Assembling data/processed: the split files, the manifest and the dataset card.

The manifest is part of data/processed, which DVC hashes: it records what the
build was made from (params, provenance, each data stage's funnel, the package
version) but never the git commit (see ``code_identity``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from jinstruct import __version__
from jinstruct.records import atomic_path, dataset_hash, file_sha256, write_json, write_parquet
from jinstruct.release.card import render_card
from jinstruct.sources.urls import redact_urls

MANIFEST_NAME = "manifest.json"
CARD_NAME = "README.md"


def count_by_source_task(df: pl.DataFrame) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for row in df.group_by("source", "task").len().sort("source", "task").iter_rows(named=True):
        counts.setdefault(row["source"], {})[row["task"]] = row["len"]
    return counts


def code_identity() -> dict:
    """What the manifest says about the code: the package version, never the git commit.

    The manifest is part of data/processed, which DVC hashes; a commit id there
    would make the same inputs give a different hash on every commit. The commit
    goes where a build is handed on instead: the published lineage.json and card
    (publish) and the report page (``git_state`` at the time they are written).
    """
    return {"jinstruct_version": __version__}


def build_manifest(splits: Mapping[str, pl.DataFrame], split_dir: Path, *, name: str, version: str,
                   params: dict, provenance: dict, funnel: dict, code: dict) -> dict:
    return {
        "name": name,
        "version": version,
        "dataset_hash": dataset_hash(splits),
        "splits": {
            split: {"file": f"{split}.parquet", "records": frame.height,
                    "sha256": file_sha256(split_dir / f"{split}.parquet")}
            for split, frame in splits.items()
        },
        "counts": {split: count_by_source_task(frame) for split, frame in splits.items()},
        "params": redact_urls(params),  # a source URL's user:token@ must never reach the manifest or card
        "provenance": redact_urls(provenance),
        "funnel": funnel,
        "code": code,
    }


def write_processed(splits: Mapping[str, pl.DataFrame], folder: Path, *, name: str, version: str,
                    params: dict, provenance: dict, funnel: dict) -> dict:
    """Write the split files, then the manifest that hashes them, then the card; returns the manifest."""
    for split, frame in splits.items():
        write_parquet(frame, folder / f"{split}.parquet")
    manifest = build_manifest(splits, folder, name=name, version=version, params=params, provenance=provenance,
                              funnel=funnel, code=code_identity())
    write_json(manifest, folder / MANIFEST_NAME)
    with atomic_path(folder / CARD_NAME) as card:
        card.write_text(render_card(manifest), encoding="utf-8")
    return manifest


def split_metrics(manifest: dict, funnel: dict) -> dict:
    """The DVC metric of the data stages (``dvc exp show`` columns): per-stage totals only;
    per-source and per-reason counts stay in metrics/<stage>.json for the report."""
    return {"dataset_hash": manifest["dataset_hash"], "version": manifest["version"],
            "records": {split: info["records"] for split, info in manifest["splits"].items()},
            "funnel": {stage: {key: stats.get(f"records_{key}") for key in ("in", "out", "rejected")}
                       for stage, stats in funnel.items()}}
