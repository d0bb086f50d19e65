"""jinstruct lineage: every link verified on a clean build, the first broken link named after tampering."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import polars as pl
import pytest
from safetensors.numpy import save_file

from jinstruct.cli import main
from jinstruct.records import write_parquet
from jinstruct.release.lineage import trace
from jinstruct.release.publish import publish
from tests.support.publish import built_copy


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The fixture build plus what train and evaluate leave: adapter folder and metrics files."""
    root = built_copy(tmp_path_factory.mktemp("lineage") / "project")
    manifest = json.loads((root / "data/processed/manifest.json").read_text())
    adapter = root / "models" / "adapter"
    adapter.mkdir(parents=True)
    base = root / "models" / "base"
    base.mkdir(parents=True)
    save_file({"model.embed_tokens.weight": np.arange(64, dtype=np.float32).reshape(8, 8)},
              str(base / "model.safetensors"))
    identity = {"name": "tiny-llama-ja",
                "weights_sha256": hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest()}
    # A safetensors file of fixed LoRA-shaped tensors: lineage only checks its bytes.
    save_file({"base_model.model.layers.0.q_proj.lora_A.weight": np.arange(32, dtype=np.float32).reshape(4, 8),
               "base_model.model.layers.0.q_proj.lora_B.weight": np.ones((8, 4), dtype=np.float32)},
              str(adapter / "adapter_model.safetensors"))
    (adapter / "training_info.json").write_text(json.dumps({
        "dataset_hash": manifest["dataset_hash"], "base_identity": identity,
        "params": {"lora": {"rank": 8, "alpha": 16}, "train": {"epochs": 1}},
        "git_commit": manifest["code"]["git_commit"]}))
    weights_sha = hashlib.sha256((adapter / "adapter_model.safetensors").read_bytes()).hexdigest()
    (root / "metrics").mkdir()
    (root / "metrics/eval.json").write_text(json.dumps({
        "dataset_hash": manifest["dataset_hash"], "adapter_sha256": weights_sha,
        "base_identity": identity,
        "jnli": {"base": {"accuracy": 0.33}, "tuned": {"accuracy": 0.41}}}))
    (root / "metrics/train.json").write_text(json.dumps({"dataset_hash": manifest["dataset_hash"], "loss": 2.5}))
    return root


@pytest.fixture
def project(built, tmp_path):
    return shutil.copytree(built, tmp_path / "project", symlinks=True)


def statuses(chain):
    return [(link.kind, link.name.split("/")[-1], link.status) for link in chain.links]


def test_a_metric_traces_to_every_source_with_every_link_verified(built, capsys):
    assert main(["lineage", str(built / "metrics/eval.json")]) == 0
    text = capsys.readouterr().out
    assert "every link verified" in text
    assert "https://raw.githubusercontent.com/example/tanaka/" in text and "lora.rank=8" in text
    assert "jnli.tuned.accuracy=0.41" in text

    assert main(["lineage", "--json", str(built / "metrics/eval.json")]) == 0
    chain = json.loads(capsys.readouterr().out)
    commit = json.loads((built / "data/processed/manifest.json").read_text())["code"]["git_commit"]
    assert [(link["kind"], link["status"]) for link in chain["links"]] == [
        ("metric", "stated"), ("adapter", "verified"), ("base", "verified"), ("dataset", "verified"),
        ("manifest", "verified"),
        ("source", "verified"), ("source", "verified"), ("source", "verified"), ("source", "verified"),
        ("params", "verified"), ("code", "verified")]
    assert [link["name"] for link in chain["links"] if link["kind"] == "source"] == [
        "alpaca_ja_seed", "dolly_ja", "jcommonsenseqa", "tanaka"]
    assert chain["links"][-1]["name"] == commit and chain["first_broken"] is None and chain["verified"] is True


@pytest.mark.parametrize("start", ["metrics/train.json", "models/adapter", "data/processed/README.md",
                                   "data/processed/manifest.json"])
def test_every_kind_of_start_verifies(built, start):
    chain = trace(built / start)
    assert chain.first_broken is None
    assert {link.kind for link in chain.links} >= {"manifest", "source", "params", "code"}


def test_a_tampered_split_file_is_the_first_broken_link(project, capsys):
    train = project / "data/processed/train.parquet"
    frame = pl.read_parquet(train)
    write_parquet(frame.with_columns(output=pl.lit("改ざんされた出力")), train)
    assert main(["lineage", str(project / "metrics/eval.json")]) == 1
    out = capsys.readouterr().out
    assert "first broken link: manifest" in out and "train.parquet: sha256" in out
    assert statuses(trace(project / "metrics/eval.json"))[:5] == [
        ("metric", "eval.json", "stated"), ("adapter", "adapter", "verified"),
        ("base", "model.safetensors", "verified"),
        ("dataset", json.loads((project / "data/processed/manifest.json").read_text())["dataset_hash"], "verified"),
        ("manifest", "manifest.json", "broken")]


def test_other_way_round_the_adapter_weights_changed(project):
    (project / "models/adapter/adapter_model.safetensors").write_bytes(b"not the trained weights")
    broken = trace(project / "metrics/eval.json").first_broken
    assert broken.kind == "adapter" and "adapter_model.safetensors sha256" in broken.detail


def test_a_metric_scored_with_another_base(project):
    metrics = json.loads((project / "metrics/eval.json").read_text())
    metrics["base_identity"] = {"name": "another-base"}
    (project / "metrics/eval.json").write_text(json.dumps(metrics))
    broken = trace(project / "metrics/eval.json").first_broken
    assert broken.kind == "adapter" and "base_identity differs" in broken.detail


def test_a_changed_raw_source_file_is_named(project):
    raw = project / "data/raw/dolly_ja/records.jsonl"
    raw.write_text(raw.read_text(encoding="utf-8") + '{"task": "x"}\n', encoding="utf-8")
    broken = trace(project / "data/processed").first_broken
    assert (broken.kind, broken.name) == ("source", "dolly_ja") and "records.jsonl: sha256 differs" in broken.detail


def test_a_metric_of_another_dataset_version(project):
    metrics = json.loads((project / "metrics/eval.json").read_text())
    metrics["dataset_hash"] = "f" * 64
    (project / "metrics/eval.json").write_text(json.dumps(metrics))
    broken = trace(project / "metrics/eval.json").first_broken
    assert broken.kind == "adapter" and "trained on dataset" in broken.detail


def test_changed_params_warn_without_breaking_the_chain(project):
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("threshold: 0.9", "threshold: 0.8"))
    chain = trace(project / "data/processed")
    assert chain.first_broken is None
    link = next(link for link in chain.links if link.kind == "params")
    assert link.status == "warning" and "dedup" in link.detail


def test_a_published_folder_checks_its_shards(built, tmp_path):
    out = tmp_path / "published"
    publish(built / "data/processed", "me/x", dry_run_dir=out)
    assert trace(out / "README.md", root=built).first_broken is None
    shard = out / "data/test-00000-of-00001.parquet"
    write_parquet(pl.read_parquet(shard).head(1), shard)
    broken = trace(out / "README.md", root=built).first_broken
    assert broken.kind == "manifest" and "test-00000-of-00001.parquet: sha256 differs" in broken.detail


def test_a_clone_without_models_or_data_is_not_called_verified(project, capsys):
    shutil.rmtree(project / "models")
    shutil.rmtree(project / "data/processed")
    assert main(["lineage", "--json", str(project / "metrics/eval.json")]) == 1
    chain = json.loads(capsys.readouterr().out)
    assert chain["verified"] is False and chain["first_broken"] is None
    assert [link["kind"] for link in chain["links"] if link["status"] == "unchecked"] == ["adapter", "dataset"]
    assert not any(link["status"] == "verified" for link in chain["links"])
    assert main(["lineage", "--allow-unchecked", str(project / "metrics/eval.json")]) == 0
    assert "2 link(s) could not be checked here (adapter, dataset)" in capsys.readouterr().out


def test_changed_base_weights_break_the_chain(project):
    (project / "models/base/model.safetensors").write_bytes(b"other base weights")
    broken = trace(project / "metrics/eval.json").first_broken
    assert broken.kind == "base" and "differs from the recorded weights_sha256" in broken.detail


def test_an_archive_source_is_checked_against_the_archive_in_the_mirror(tmp_path, monkeypatch):
    from jinstruct.release.lineage import Chain, _source
    from jinstruct.release.manifest import SourceFile, SourceInfo

    url = "https://example.com/releases/corpus-v1.tar.gz"
    archive = tmp_path / "mirror" / "example.com" / "releases" / "corpus-v1.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"the archive bytes as fetched")
    recorded = hashlib.sha256(archive.read_bytes()).hexdigest()
    source = SourceInfo("corpus", "CC-BY-4.0", (SourceFile(url, recorded, None, None, 28),), 10, {"kind": "archive"})
    root = tmp_path / "project"
    root.mkdir()

    monkeypatch.delenv("JINSTRUCT_MIRROR", raising=False)
    chain = Chain("x")
    _source(chain, source, root)
    assert chain.links[-1].status == "unchecked" and "in no mirror" in chain.links[-1].detail

    monkeypatch.setenv("JINSTRUCT_MIRROR", str(tmp_path / "mirror"))
    chain = Chain("x")
    _source(chain, source, root)
    assert chain.links[-1].status == "verified"

    archive.write_bytes(b"another archive")
    chain = Chain("x")
    _source(chain, source, root)
    assert chain.links[-1].status == "broken" and "sha256 differs" in chain.links[-1].detail
