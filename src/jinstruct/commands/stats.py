"""``jinstruct stats PATH``: counts, lengths and dataset hash of a file or dataset folder.

A folder is read as a processed dataset (its split files); a single file is
hashed as one split named after the file (``train.parquet`` -> ``train``), so a
split file on its own gives a hash you can compare between builds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl

from jinstruct.records import LINE_COLUMN, TEXT_FIELDS, InputError, dataset_hash, read_table
from jinstruct.splits import load_splits


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="a JSONL/Parquet file or a processed dataset folder")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _load(path: Path) -> dict[str, pl.DataFrame]:
    if path.is_dir():
        return load_splits(path)
    frame, broken = read_table(path)
    if broken.height:
        raise InputError(f"{path}: {broken.height} unparseable line(s), first: {broken['detail'][0]}")
    if "id" not in frame.columns:
        raise InputError(f"{path}: no `id` column, so no dataset hash can be taken")
    # records are hashed in id order: with an id twice, the order of the file would decide the hash
    twice = frame["id"].filter(frame["id"].is_duplicated())
    if twice.len():
        raise InputError(f"{path}: id {twice[0]!r} appears more than once; ids must be unique to take a dataset hash")
    return {path.stem: frame.drop(LINE_COLUMN)} if LINE_COLUMN in frame.columns else {path.stem: frame}


def _length_summary(frame: pl.DataFrame) -> dict[str, dict[str, float]]:
    summary = {}
    for field in (f for f in TEXT_FIELDS if f in frame.columns):
        lengths = frame[field].fill_null("").str.len_chars()
        summary[field] = {"mean": round(float(lengths.mean() or 0), 1), "median": float(lengths.median() or 0),
                          "p95": float(lengths.quantile(0.95, "nearest") or 0), "max": int(lengths.max() or 0)}
    return summary


def collect(path: Path) -> dict:
    splits = _load(path)
    every = pl.concat(list(splits.values()), how="diagonal_relaxed")
    by = [column for column in ("source", "task") if column in every.columns]
    counts = every.group_by(by).len().sort(by).to_dicts() if by else []
    return {
        "path": str(path),
        "dataset_hash": dataset_hash(splits),
        "records": {name: frame.height for name, frame in splits.items()},
        "counts": counts,
        "lengths_chars": _length_summary(every),
    }


def run(args: argparse.Namespace) -> int:
    stats = collect(args.path)
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
        return 0
    print(f"{stats['path']}\n  dataset hash  {stats['dataset_hash']}")
    for name, count in stats["records"].items():
        print(f"  {name:<12}  {count:>9,} records")
    if stats["counts"]:
        print("  by source and task:")
        for row in stats["counts"]:
            label = " / ".join(str(row[key]) for key in row if key != "len")
            print(f"    {label:<48} {row['len']:>9,}")
    print("  length in characters (mean / median / p95 / max):")
    for field, summary in stats["lengths_chars"].items():
        print(f"    {field:<12} {summary['mean']:>8} / {summary['median']:>6.0f} / {summary['p95']:>6.0f} "
              f"/ {summary['max']:>7}")
    return 0
