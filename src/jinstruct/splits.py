"""Deterministic train/validation/test assignment, and reading a split folder back (checked).

A record's split depends only on its ``group`` and the seed, never on the order
or number of other records: a group key is hashed with BLAKE2b into a number in
[0, 1) and the ratios cut that interval. Both directions of a translation pair
and the relatives of a near-duplicate cluster share a group (convert and dedup
set it), so they always land in the same split and nothing leaks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from jinstruct.records import SCHEMA_FIELDS, SPLIT_NAMES, InputError, read_records

SPLIT_COLUMNS = (*SCHEMA_FIELDS, "group")


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
    from jinstruct.release.manifest import verify_processed

    return verify_processed(split_dir)[0]
