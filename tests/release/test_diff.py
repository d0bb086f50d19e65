"""jinstruct diff between two builds: git revisions through DVC, and processed folders."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from jinstruct.cli import main
from jinstruct.records import InputError, dataset_hash, write_json, write_parquet
from jinstruct.release.diff import diff_versions, load_version
from tests.support.publish import built_copy, rebuild


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """One project built with dedup.threshold 0.9, then rebuilt with 0.7 and committed: (root, hash 0.9, commits)."""
    root = built_copy(tmp_path_factory.mktemp("diff") / "project")
    first_hash = json.loads((root / "data/processed/manifest.json").read_text())["dataset_hash"]
    first = subprocess_out(["git", "rev-parse", "HEAD"], root)
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("threshold: 0.9", "threshold: 0.7"))
    second = rebuild(root, "dedup.threshold 0.7")
    return root, first_hash, first, second


def subprocess_out(cmd, cwd):
    import subprocess

    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def test_diff_between_two_git_revisions_with_different_dedup_thresholds(two_builds, capsys):
    root, first_hash, first, second = two_builds
    assert main(["diff", first, second, "--root", str(root), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    second_hash = json.loads((root / "data/processed/manifest.json").read_text())["dataset_hash"]
    assert (result["a"]["dataset_hash"], result["b"]["dataset_hash"]) == (first_hash, second_hash)
    assert first_hash != second_hash and not result["identical"]
    # Fixture similarities 0.75, 0.8 and 0.85 are under 0.9 but reach 0.7: those three records go.
    assert result["records"]["counts"]["added"] == 0 and result["records"]["counts"]["removed"] == 3
    assert result["records"]["counts"]["changed"] == 0
    assert result["records"]["by_source_task"]["removed"] == {
        "alpaca_ja_seed": {"seed": 1}, "dolly_ja": {"open_qa": 1}, "jcommonsenseqa": {"jcommonsenseqa": 1}}
    assert [row["id"] for row in result["records"]["examples"]["removed"]] == [
        "alpaca_ja_seed:3", "dolly_ja:2", "jcommonsenseqa:3"]
    dedup = result["funnel"]["dedup"]
    assert dedup["records_out"] == {"a": 17, "b": 14, "delta": -3}
    assert dedup["rejected_by_reason"]["near_duplicate"] == {"a": 0, "b": 3, "delta": 3}
    assert result["params"] == {"dedup.threshold": {"a": 0.9, "b": 0.7}}


def test_text_output_against_the_workspace(two_builds, capsys, monkeypatch):
    root, first_hash, first, _ = two_builds
    monkeypatch.chdir(root)
    assert main(["diff", first]) == 0          # B defaults to data/processed
    out = capsys.readouterr().out
    assert f"dataset_hash {first_hash}" in out
    assert "records: added 0, removed 3, changed 0" in out
    assert "near_duplicate: 0->3 (+3)" in out and "param dedup.threshold: 0.9 -> 0.7" in out
    assert "日本で一番高い山はどこですか？" in out   # an example of a removed record


def test_changed_and_added_records_between_folders(two_builds, tmp_path):
    root = two_builds[0]
    a = root / "data/processed"
    b = shutil.copytree(a, tmp_path / "b")
    train = pl.read_parquet(b / "train.parquet")
    target = train.sort("id")["id"][0]
    extra = train.head(1).with_columns(id=pl.lit("dolly_ja:99"), output=pl.lit("新しい出力"))
    edited = pl.concat([train.with_columns(output=pl.when(pl.col("id") == target).then(pl.lit("書き換えた出力"))
                                           .otherwise(pl.col("output"))), extra]).sort("id")
    write_parquet(edited, b / "train.parquet")
    manifest = json.loads((b / "manifest.json").read_text())
    frames = {split: pl.read_parquet(b / f"{split}.parquet") for split in ("train", "validation", "test")}
    manifest["dataset_hash"] = dataset_hash(frames)
    manifest["splits"]["train"].update(records=edited.height, sha256=None)
    write_json(manifest, b / "manifest.json")

    result = diff_versions(load_version(str(a)), load_version(str(b / "manifest.json")))
    assert result["records"]["counts"]["changed"] == 1 and result["records"]["counts"]["added"] == 1
    change = result["records"]["examples"]["changed"][0]
    assert change["id"] == target and change["fields"]["output"]["b"] == "書き換えた出力"
    assert list(change["fields"]) == ["output"]
    assert result["records"]["examples"]["added"][0]["id"] == "dolly_ja:99"


def test_same_version_is_identical(two_builds):
    folder = two_builds[0] / "data/processed"
    result = diff_versions(load_version(str(folder)), load_version(str(folder)))
    assert result["identical"] and result["records"]["counts"]["removed"] == 0


def test_an_unknown_revision_is_a_clear_error(two_builds):
    with pytest.raises(InputError, match="no-such-tag: neither a file nor a git revision"):
        load_version("no-such-tag", two_builds[0])
