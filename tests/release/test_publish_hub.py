"""publish through the real huggingface_hub client against a local server that speaks the Hub endpoints.

See tests/support/hub_server.py for which endpoints it implements and what it does not check.
"""

from __future__ import annotations

import io
import json
import shutil

import datasets
import polars as pl
import pytest
from huggingface_hub import constants

from jinstruct import load_dataset
from jinstruct.cli import main
from jinstruct.records import InputError, dataset_hash
from jinstruct.release.publish import publish
from tests.support.hub_server import LocalHub
from tests.support.publish import built_copy, rebuild

TOKEN = "hf_jinstructTestTokenThatMustNeverLeak0042"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-stored-token"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    with LocalHub(TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return built_copy(tmp_path_factory.mktemp("hub") / "project")


def test_publish_pushes_one_commit_tags_it_and_refuses_to_overwrite_the_tag(built, hub, tmp_path, capfd):
    project = shutil.copytree(built, tmp_path / "project", symlinks=True)
    processed = project / "data/processed"
    dry = tmp_path / "dry"
    publish(processed, "org/jinstruct-ja", dry_run_dir=dry)

    args = ["-v", "publish", "--repo-id", "org/jinstruct-ja", "--version", "0.1.0", "--processed", str(processed),
            "--endpoint", hub.url]
    assert main(args) == 0
    repo = hub.repos["org/jinstruct-ja"]
    assert len(repo.commits) == 1 and repo.tags == {"0.1.0": repo.commits[0]["oid"]}
    # The commit holds exactly the dry run's files, byte for byte.
    assert repo.files == {str(p.relative_to(dry)): p.read_bytes() for p in dry.rglob("*") if p.is_file()}

    assert main(args) == 2
    err = capfd.readouterr().err
    assert "org/jinstruct-ja already has a tag 0.1.0" in err and "never overwritten" in err
    assert len(repo.commits) == 1, "a refused publish must not push a commit"
    assert "POST /api/datasets/org/jinstruct-ja/commit/main" not in hub.requests[-3:]

    # A new version (stricter dedup) replaces the shards of the old one in one commit and gets its own tag.
    first_hash = json.loads((processed / "manifest.json").read_text())["dataset_hash"]
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("version: 0.1.0", "version: 0.2.0").replace("0.9", "0.7"))
    rebuild(project, "version 0.2.0")
    second_hash = json.loads((processed / "manifest.json").read_text())["dataset_hash"]
    assert main([*args[:5], "0.2.0", *args[6:], "--max-shard-records", "4"]) == 0
    assert len(repo.commits) == 2 and sorted(repo.tags) == ["0.1.0", "0.2.0"]
    assert "data/train-00000-of-00001.parquet" not in repo.files
    assert sorted(p for p in repo.files if p.startswith("data/train-")) == [
        "data/train-00000-of-00003.parquet", "data/train-00001-of-00003.parquet", "data/train-00002-of-00003.parquet"]

    # Each tag loads back as its own version, hash checked.
    old = load_dataset("org/jinstruct-ja", "0.1.0", endpoint=hub.url)
    new = load_dataset("org/jinstruct-ja", "0.2.0", endpoint=hub.url)
    assert {split: old[split].num_rows for split in old} == {"train": 11, "validation": 3, "test": 3}
    assert {split: new[split].num_rows for split in new} == {"train": 9, "validation": 3, "test": 2}
    assert dataset_hash({s: old[s].to_polars() for s in old}) == first_hash != second_hash
    assert dataset_hash({s: new[s].to_polars() for s in new}) == second_hash

    # The token reached the server (every request is authorised) but no log line and no file.
    output = capfd.readouterr()
    assert TOKEN not in output.out + output.err + err
    for path in [*tmp_path.rglob("*"), *project.rglob("*")]:
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    for data in repo.files.values():
        assert TOKEN.encode() not in data


def test_publish_without_a_token_stops_before_any_request(built, hub, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(InputError, match="no Hugging Face token"):
        publish(built / "data/processed", "org/x", endpoint=hub.url)
    assert hub.requests == []


def test_a_rejected_token_is_reported_without_echoing_it(built, hub, monkeypatch, capfd):
    monkeypatch.setenv("HF_TOKEN", "hf_wrongTokenValue999")
    assert main(["publish", "--repo-id", "org/x", "--processed", str(built / "data/processed"),
                 "--endpoint", hub.url]) == 4  # EXIT_REMOTE
    err = capfd.readouterr().err
    assert "the Hub refused the request for org/x" in err and "hf_wrongTokenValue999" not in err


def test_load_dataset_refuses_records_that_do_not_hash_to_the_version(built, hub):
    publish(built / "data/processed", "org/y", endpoint=hub.url)
    repo = hub.repos["org/y"]
    shard = "data/validation-00000-of-00001.parquet"
    # Corrupt the repository behind the client's back: one answer rewritten in the validation shard.
    buffer = io.BytesIO()
    pl.read_parquet(io.BytesIO(repo.files[shard])).with_columns(output=pl.lit("違う答え")).write_parquet(buffer)
    repo.files = {**repo.files, shard: buffer.getvalue()}
    with pytest.raises(InputError, match="the loaded records hash to .* the version states"):
        load_dataset("org/y", endpoint=hub.url)


def test_an_unreachable_endpoint_is_one_line_with_exit_code_4(built, hub, capfd):
    import socket

    with socket.socket() as probe:  # a local port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["publish", "--repo-id", "org/x", "--processed", str(built / "data/processed"),
                 "--endpoint", f"http://127.0.0.1:{port}"]) == 4
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the Hub at http://127.0.0.1:{port} could not be reached for org/x" in err[0]
    assert TOKEN not in err[0]


def test_a_failed_tag_names_the_pushed_commit_and_how_to_tag_it(built, hub, capfd, monkeypatch):
    from huggingface_hub import HfApi

    def refuse(*args, **kwargs):
        raise ConnectionResetError("connection reset while tagging")

    monkeypatch.setattr(HfApi, "create_tag", refuse)  # the one step that fails; the push itself is real
    assert main(["publish", "--repo-id", "org/t", "--processed", str(built / "data/processed"),
                 "--endpoint", hub.url]) == 4
    err = capfd.readouterr().err.strip().splitlines()
    commit = hub.repos["org/t"].commits[0]["oid"]
    assert len(err) == 1 and f"as commit {commit} but could not tag it" in err[0]
    assert f"hf repos tag create org/t 0.1.0 --revision {commit} --repo-type dataset" in err[0]
