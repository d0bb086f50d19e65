"""data/processed names no git commit (DVC hashes it); publish, the report and lineage take it from git."""

from __future__ import annotations

import json
import subprocess

from jinstruct.release.assemble import code_identity
from jinstruct.release.lineage import trace
from jinstruct.release.project import with_commit
from tests.support.publish import built_copy


def _git(*args, cwd) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def test_the_manifest_code_entry_is_the_same_on_every_commit():
    assert "git_commit" not in code_identity() and "git_dirty" not in code_identity()


def test_with_commit_adds_the_checkout_commit_and_keeps_a_recorded_one(tmp_path):
    manifest = {"dataset_hash": "ab" * 32, "code": code_identity()}
    assert with_commit(manifest, tmp_path) == manifest          # not a git checkout: nothing to add
    _git("init", "-q", cwd=tmp_path)
    (tmp_path / "f").write_text("x")
    _git("add", "f", cwd=tmp_path)
    _git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "one", cwd=tmp_path)
    head = _git("rev-parse", "HEAD", cwd=tmp_path)
    stamped = with_commit(manifest, tmp_path)
    assert stamped["code"]["git_commit"] == head and stamped["code"]["git_dirty"] is False
    assert "git_commit" not in manifest["code"]                 # the input is not changed
    older = {"code": {"git_commit": "0" * 40}}
    assert with_commit(older, tmp_path) == older


def test_lineage_of_a_commit_free_manifest_names_the_checkout_head(tmp_path):
    root = built_copy(tmp_path / "project")
    path = root / "data/processed/manifest.json"
    manifest = json.loads(path.read_text())
    manifest["code"] = code_identity()
    path.write_text(json.dumps(manifest))
    chain = trace(path)
    code = [link for link in chain.links if link.kind == "code"]
    assert [(link.name, link.status) for link in code] == [(_git("rev-parse", "HEAD", cwd=root), "verified")]
