import json
import subprocess
import sys

import polars as pl
import pytest

from jinstruct.records import InputError, dataset_hash, write_json, write_parquet
from jinstruct.release.assemble import build_manifest
from jinstruct.splits import assign_splits, check_ratios, load_splits, make_splits, verify_manifest
from tests.support.records import record

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def translation_pairs(n: int) -> pl.DataFrame:
    rows = []
    for line in range(n):
        for direction in ("en-ja", "ja-en"):
            rows.append(record(line, id=f"tanaka:{line}:{direction}", source="tanaka", group=f"tanaka:{line}"))
    return pl.DataFrame(rows)


def test_both_directions_of_a_pair_share_a_split():
    frame = translation_pairs(500)
    labelled = frame.with_columns(split=assign_splits(frame, RATIOS, seed=7))
    per_group = labelled.group_by("group").agg(pl.col("split").n_unique())
    assert per_group["split"].max() == 1
    assert set(labelled["split"]) == {"train", "validation", "test"}


def test_split_of_a_record_does_not_depend_on_the_others():
    frame = translation_pairs(300)
    alone = frame.head(10).with_columns(split=assign_splits(frame.head(10), RATIOS, seed=1))
    among_all = frame.with_columns(split=assign_splits(frame, RATIOS, seed=1)).head(10)
    assert alone["split"].to_list() == among_all["split"].to_list()


def test_ratios_are_respected_and_seed_matters():
    frame = pl.DataFrame([record(i) for i in range(4000)])
    splits = make_splits(frame, RATIOS, seed=3)
    assert 0.77 < splits["train"].height / 4000 < 0.83
    assert 0.08 < splits["test"].height / 4000 < 0.12
    other = make_splits(frame, RATIOS, seed=4)
    assert splits["test"]["id"].to_list() != other["test"]["id"].to_list()


def test_bad_ratios_are_a_clear_error():
    with pytest.raises(InputError, match="sum to 1"):
        check_ratios({"train": 0.9, "test": 0.2})
    with pytest.raises(InputError, match="unknown split"):
        check_ratios({"train": 0.9, "dev": 0.1})


def processed_folder(tmp_path):
    splits = make_splits(pl.DataFrame([record(i, group=f"g{i}") for i in range(40)]), RATIOS, seed=0)
    for name, frame in splits.items():
        write_parquet(frame, tmp_path / f"{name}.parquet")
    manifest = build_manifest(splits, tmp_path, name="t", version="0.0.1", params={}, provenance={}, funnel={},
                              code={})
    write_json(manifest, tmp_path / "manifest.json")
    return splits


def test_verify_manifest_catches_a_hand_edited_split(tmp_path):
    processed_folder(tmp_path)
    assert verify_manifest(tmp_path)["dataset_hash"] == dataset_hash(load_splits(tmp_path))
    train = pl.read_parquet(tmp_path / "train.parquet")
    train.with_columns(output=pl.lit("書き換えた")).write_parquet(tmp_path / "train.parquet")
    with pytest.raises(InputError, match="train.parquet: sha256 .* does not match"):
        verify_manifest(tmp_path)


def test_stats_command_prints_the_dataset_hash(tmp_path):
    splits = processed_folder(tmp_path)
    done = subprocess.run([sys.executable, "-m", "jinstruct", "stats", str(tmp_path), "--json"],
                          capture_output=True, text=True, check=True)
    stats = json.loads(done.stdout)
    assert stats["dataset_hash"] == dataset_hash(splits)
    assert sum(stats["records"].values()) == 40
    assert stats["lengths_chars"]["output"]["max"] == len("答え39です。")


def test_stats_command_reports_a_missing_file_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "jinstruct", "stats", str(tmp_path / "nope.jsonl")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no such file" in done.stderr
