"""Deterministic train/validation/test assignment, the manifest, and its checks.

A record's split depends only on its ``group`` and the seed, never on the order
or number of other records: a group key is hashed with BLAKE2b into a number in
[0, 1) and the ratios cut that interval. Both directions of a translation pair
and the relatives of a near-duplicate cluster share a group (convert and dedup
set it), so they always land in the same split and nothing leaks.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from jinstruct import __version__
from jinstruct.records import SCHEMA_FIELDS, SPLIT_NAMES, InputError, dataset_hash, file_sha256, read_records
from jinstruct.sources.urls import redact_urls

SPLIT_COLUMNS = (*SCHEMA_FIELDS, "group")
MANIFEST_NAME = "manifest.json"


def _unit_interval(key: str, seed: int) -> float:
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def check_ratios(ratios: Mapping[str, float]) -> dict[str, float]:
    unknown = set(ratios) - set(SPLIT_NAMES)
    if unknown:
        raise InputError(f"split.ratios: unknown split(s) {sorted(unknown)}; use {list(SPLIT_NAMES)}")
    if any(value < 0 for value in ratios.values()) or abs(sum(ratios.values()) - 1.0) > 1e-9:
        raise InputError(f"split.ratios must be non-negative and sum to 1, got {dict(ratios)}")
    return {name: float(ratios.get(name, 0.0)) for name in SPLIT_NAMES}


def assign_splits(df: pl.DataFrame, ratios: Mapping[str, float], seed: int) -> pl.Series:
    """The split name of every row, from its ``group`` (or ``id`` when there is none)."""
    ratios = check_ratios(ratios)
    key_column = "group" if "group" in df.columns else "id"
    groups = df[key_column].unique().sort()
    bounds, upper = [], 0.0
    for name in SPLIT_NAMES:
        upper += ratios[name]
        bounds.append((upper, name))

    def split_of(key: str) -> str:
        position = _unit_interval(key, seed)
        return next((name for bound, name in bounds if position < bound), bounds[-1][1])

    mapping = pl.DataFrame({key_column: groups, "split": [split_of(key) for key in groups.to_list()]})
    return df.select(key_column).join(mapping, on=key_column, how="left", maintain_order="left")["split"]


def make_splits(df: pl.DataFrame, ratios: Mapping[str, float], seed: int) -> dict[str, pl.DataFrame]:
    columns = [name for name in SPLIT_COLUMNS if name in df.columns]
    labelled = df.select(columns).with_columns(split=assign_splits(df, ratios, seed))
    return {name: labelled.filter(pl.col("split") == name).drop("split").sort("id") for name in SPLIT_NAMES}


def count_by_source_task(df: pl.DataFrame) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for row in df.group_by("source", "task").len().sort("source", "task").iter_rows(named=True):
        counts.setdefault(row["source"], {})[row["task"]] = row["len"]
    return counts


def git_state(repo: Path = Path(".")) -> dict:
    """The commit the code was built from, and whether the code differed from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no", "--", "src", "stages", "pyproject.toml")
    return {"git_commit": commit, "git_dirty": bool(changes) if changes is not None else None,
            "jinstruct_version": __version__}


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


def load_splits(split_dir: str | Path) -> dict[str, pl.DataFrame]:
    """The split files of a processed dataset folder, by split name."""
    split_dir = Path(split_dir)
    found = {name: split_dir / f"{name}.parquet" for name in SPLIT_NAMES if (split_dir / f"{name}.parquet").is_file()}
    if not found:
        raise InputError(f"{split_dir}: no split files ({', '.join(f'{n}.parquet' for n in SPLIT_NAMES)})")
    return {name: read_records(path) for name, path in found.items()}


def verify_manifest(split_dir: str | Path) -> dict:
    """The manifest, after checking each split file and the dataset hash against it.

    Raises InputError naming the first stale or hand-edited file.
    """
    from jinstruct.buildinfo import verify_processed

    return verify_processed(split_dir)[0]
