"""publish --dry-run: the exact repository files, loaded back with `datasets`; refusals before any upload."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import datasets
import polars as pl
import pytest
from huggingface_hub import DatasetCard

from jinstruct import load_dataset
from jinstruct.cli import main
from jinstruct.records import InputError, dataset_hash, write_parquet
from jinstruct.release.publish import publish
from tests.support.publish import built_copy

EXPECTED_ROWS = {"train": 11, "validation": 3, "test": 3}   # 17 fixture records, every 6th to validation and test
COLUMNS = ["id", "source", "task", "instruction", "input", "output", "license", "group"]


@pytest.fixture(autouse=True)
def own_datasets_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return built_copy(tmp_path_factory.mktemp("built") / "project")


@pytest.fixture
def project(built, tmp_path):
    """A private copy of the built project for tests that change it."""
    return shutil.copytree(built, tmp_path / "project", symlinks=True)


def test_dry_run_writes_the_repository_files_and_datasets_loads_them(built, tmp_path):
    out = tmp_path / "dry"
    code = main(["publish", "--repo-id", "me/jinstruct-ja", "--version", "0.1.0",
                 "--processed", str(built / "data/processed"), "--dry-run", str(out)])
    assert code == 0
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["README.md", "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet",
                     "data/validation-00000-of-00001.parquet", "lineage.json"]

    loaded = datasets.load_dataset(str(out))
    assert set(loaded) == set(EXPECTED_ROWS)
    assert {split: loaded[split].num_rows for split in loaded} == EXPECTED_ROWS
    for split in loaded:
        assert list(loaded[split].features) == COLUMNS
        assert all(feature == datasets.Value("string") for feature in loaded[split].features.values())
    manifest = json.loads((built / "data/processed/manifest.json").read_text())
    # The published rows are the built rows: same dataset hash, recomputed from what `datasets` read.
    assert dataset_hash({split: loaded[split].to_polars() for split in loaded}) == manifest["dataset_hash"]
    outputs = [text for split in loaded for text in loaded[split]["output"]]
    assert "富士山です。標高は3776メートルです。" in outputs


def test_card_yaml_parses_with_huggingface_hub_and_states_the_build(built, tmp_path):
    out = tmp_path / "dry"
    publish(built / "data/processed", "me/jinstruct-ja", "0.1.0", dry_run_dir=out)
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "cc-by-sa-4.0"          # CC BY-SA 3.0 + 4.0 + CC BY + Apache -> BY-SA 4.0
    assert data["language"] == ["ja", "en"]            # the tanaka translation tasks bring English
    assert data["size_categories"] == ["n<1K"]
    assert "translation" in data["task_categories"] and "text-generation" in data["task_categories"]
    assert data["pretty_name"] == "jinstruct-fixture 0.1.0"
    assert "https://github.com/example/tanaka" in data["source_datasets"]
    assert data["configs"] == [{"config_name": "default", "default": True, "data_files": [
        {"split": "train", "path": "data/train-00000-of-00001.parquet"},
        {"split": "validation", "path": "data/validation-00000-of-00001.parquet"},
        {"split": "test", "path": "data/test-00000-of-00001.parquet"}]}]
    datasets.utils.metadata.MetadataConfigs.from_dataset_card_data(card.data)  # the configs block as datasets reads it

    manifest = json.loads((built / "data/processed/manifest.json").read_text())
    body = card.text
    assert f"dataset_hash: `{manifest['dataset_hash']}`" in body
    assert f"git checkout {manifest['code']['git_commit']}" in body and "dvc repro split" in body
    assert "From Base to Conversational: Japanese Instruction Dataset and Tuning Large Language Models" in body
    for name, entry in manifest["provenance"]["sources"].items():   # the sources table: URL, revision, sha256
        sources_table = body.split("## Sources")[1].split("## Licence")[0]
        row = next(line for line in sources_table.splitlines() if line.startswith(f"| {name} |"))
        assert entry["files"]["data"]["url"] in row and entry["files"]["data"]["sha256"] in row
        assert entry["revision"] in row and entry["license"] in row
    assert "| dedup | 17 | 17 | 0 |" in body
    assert "threshold: 0.9" in body

    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["dataset_hash"] == manifest["dataset_hash"] and lineage["manifest"] == manifest


def test_shards_split_large_splits_and_still_load(built, tmp_path):
    out = tmp_path / "dry"
    publish(built / "data/processed", "me/jinstruct-ja", dry_run_dir=out, max_shard_records=4)
    assert sorted(p.name for p in (out / "data").glob("train-*")) == [
        "train-00000-of-00003.parquet", "train-00001-of-00003.parquet", "train-00002-of-00003.parquet"]
    loaded = datasets.load_dataset(str(out))
    assert {split: loaded[split].num_rows for split in loaded} == EXPECTED_ROWS


def test_a_repeated_dry_run_gives_identical_bytes(built, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    publish(built / "data/processed", "me/x", dry_run_dir=first)
    publish(built / "data/processed", "me/x", dry_run_dir=second)
    for path in first.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (second / path.relative_to(first)).read_bytes(), path


def test_dry_run_refuses_a_non_empty_folder(built, tmp_path):
    (tmp_path / "dry").mkdir()
    (tmp_path / "dry" / "old.txt").write_text("left over")
    with pytest.raises(InputError, match="not empty"):
        publish(built / "data/processed", "me/x", dry_run_dir=tmp_path / "dry")


def test_refuses_a_tampered_split_file(project, tmp_path, capsys):
    train = project / "data/processed/train.parquet"
    frame = pl.read_parquet(train)
    write_parquet(frame.with_columns(output=pl.when(pl.col("id") == frame["id"][0]).then(pl.lit("改ざん"))
                                     .otherwise(pl.col("output"))), train)
    code = main(["publish", "--repo-id", "me/x", "--processed", str(project / "data/processed"),
                 "--dry-run", str(tmp_path / "dry")])
    assert code == 2
    err = capsys.readouterr().err
    assert "train.parquet" in err and "does not match the manifest" in err
    assert not (tmp_path / "dry").exists()


def test_refuses_when_the_manifest_hash_does_not_match_the_files(project, tmp_path):
    """Even when the manifest's per-file sha256 was updated, the recomputed dataset hash catches the change."""
    processed = project / "data/processed"
    frame = pl.read_parquet(processed / "test.parquet")
    write_parquet(frame.head(frame.height - 1), processed / "test.parquet")
    manifest = json.loads((processed / "manifest.json").read_text())
    manifest["splits"]["test"].pop("sha256")
    manifest["splits"]["test"]["records"] = frame.height - 1
    (processed / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="dataset hash .* does not match the split files"):
        publish(processed, "me/x", dry_run_dir=tmp_path / "dry")


def test_refuses_when_dvc_status_is_not_clean(project, tmp_path):
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("threshold: 0.9", "threshold: 0.7"))
    with pytest.raises(InputError, match=r"dvc status split --with-deps` is not clean .*params.yaml"):
        publish(project / "data/processed", "me/x", dry_run_dir=tmp_path / "dry")
    assert not (tmp_path / "dry").exists()


def test_refuses_a_folder_outside_a_dvc_project(built, tmp_path):
    loose = shutil.copytree(built / "data/processed", tmp_path / "loose")
    with pytest.raises(InputError, match="not inside a DVC project"):
        publish(loose, "me/x", dry_run_dir=tmp_path / "dry")


def test_refuses_a_version_that_differs_from_the_build(built, tmp_path):
    with pytest.raises(InputError, match="--version 0.2.0 but the build is version 0.1.0"):
        publish(built / "data/processed", "me/x", "0.2.0", dry_run_dir=tmp_path / "dry")


def test_load_dataset_reads_a_processed_folder_and_checks_its_hash(project):
    loaded = load_dataset(project / "data/processed")
    assert {split: loaded[split].num_rows for split in loaded} == EXPECTED_ROWS
    with pytest.raises(InputError, match="holds version 0.1.0, not 9.9.9"):
        load_dataset(project / "data/processed", "9.9.9")
    test = project / "data/processed/test.parquet"
    write_parquet(pl.read_parquet(test).with_columns(instruction=pl.lit("別の指示")), test)
    with pytest.raises(InputError, match="the loaded records hash to"):
        load_dataset(project / "data/processed")


def test_importing_jinstruct_stays_light():
    code = ("import sys, jinstruct; "
            "print(sorted(m for m in ('datasets', 'polars', 'huggingface_hub') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert callable(__import__("jinstruct").load_dataset)


@pytest.mark.parametrize("change, named", [
    (lambda root: (root / "params.yaml").write_text((root / "params.yaml").read_text() + "# a note\n"), "params.yaml"),
    (lambda root: (root / "stages").mkdir(exist_ok=True) or (root / "stages" / "extra.py").write_text("x = 1\n"),
     "stages/extra.py"),
])
def test_a_dirty_git_tree_is_refused_unless_allowed_and_the_card_then_says_so(project, tmp_path, capsys, change, named):
    change(project)
    args = ["publish", "--repo-id", "me/x", "--processed", str(project / "data/processed"), "--dry-run"]
    assert main([*args, str(tmp_path / "dry")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "uncommitted changes" in err[0] and named in err[0] and "--allow-dirty" in err[0]
    assert not (tmp_path / "dry").exists()
    assert main([*args, str(tmp_path / "dry2"), "--allow-dirty"]) == 0
    card = (tmp_path / "dry2" / "README.md").read_text(encoding="utf-8")
    assert "published with `--allow-dirty`" in card and named in card


def test_an_untracked_note_outside_the_build_paths_does_not_make_the_tree_dirty(project, tmp_path):
    (project / "notes.txt").write_text("my notes\n")
    publish(project / "data/processed", "me/x", dry_run_dir=tmp_path / "dry")
    assert "--allow-dirty" not in (tmp_path / "dry" / "README.md").read_text(encoding="utf-8")
