"""Small real builds under real DVC: a slice of the offline mirror and a project in a temporary git repo.

``build_slice_mirror`` writes a mirror holding slices of the configured sources (the
same URLs, truncated files, their own sha256 pins) and the eval sets whole;
``make_project`` copies this checkout's stages/, src/ and dvc.yaml into a fresh git +
DVC project. Used by the pipeline, Ray-engine and explain tests.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from jinstruct.records import file_sha256
from tests.support import MIRROR, REPO_ROOT

SLICE_LINES = {"tanaka": 400, "jcommonsenseqa": 300}
DOLLY_FILES = 300


def _mirror_path(mirror: Path, url: str) -> Path:
    return mirror / url.split("://", 1)[1]


def _slice_text(source: Path, target: Path, lines: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as handle:
        target.write_bytes(b"".join(line for _, line in zip(range(lines), handle)))


def _slice_dolly(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = 0
    with tarfile.open(source) as archive, tarfile.open(target, "w:gz") as out:
        for member in archive:
            if member.isfile() and "/data/" in member.name:
                if kept == DOLLY_FILES:
                    continue
                kept += 1
            data = archive.extractfile(member).read() if member.isfile() else None
            out.addfile(member, io.BytesIO(data) if data is not None else None)


def _slice_jsquad(source: Path, target: Path) -> None:
    document = json.loads(source.read_text(encoding="utf-8"))
    document["data"] = document["data"][:2]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def _pin(spec: dict, mirror: Path) -> None:
    """Point a source's sha256 pins at the sliced files."""
    if "files" in spec:
        for entry in spec["files"].values():
            entry["sha256"] = file_sha256(_mirror_path(mirror, entry["url"]))
    else:
        spec["sha256"] = file_sha256(_mirror_path(mirror, spec["url"]))


def _slice_file(name: str, source: Path, target: Path) -> None:
    if name == "dolly_ja":
        _slice_dolly(source, target)
    elif name == "jsquad":
        _slice_jsquad(source, target)
    else:
        _slice_text(source, target, SLICE_LINES.get(name, 200))


def build_slice_mirror(root: Path, params: dict, slice_file=_slice_file) -> Path:
    """A mirror of slices of ``params``' sources (``slice_file(source name, file, target)``), pins updated."""
    mirror = root / "mirror"
    for name, spec in params["sources"].items():
        urls = [entry["url"] for entry in spec["files"].values()] if "files" in spec else [spec["url"]]
        for url in urls:
            slice_file(name, _mirror_path(MIRROR, url), _mirror_path(mirror, url))
        _pin(spec, mirror)
    copy_eval_sets(params, mirror)
    return mirror


def copy_eval_sets(params: dict, mirror: Path) -> None:
    """The enabled eval sets of ``params``, whole, from the shared mirror into ``mirror``."""
    for spec in params["eval_sets"].values():
        if spec.get("enabled", True) and spec.get("url"):
            target = _mirror_path(mirror, spec["url"])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_mirror_path(MIRROR, spec["url"]), target)


def run(cmd: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def make_project(root: Path, mirror: Path, params: dict) -> tuple[Path, dict]:
    project = root / "project"
    project.mkdir(parents=True)
    for name in ("stages", "src"):
        shutil.copytree(REPO_ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copyfile(REPO_ROOT / "dvc.yaml", project / "dvc.yaml")
    (project / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "JINSTRUCT_MIRROR": str(mirror),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    run(["git", "init", "-q"], project, env)
    run([sys.executable, "-m", "dvc", "init", "-q"], project, env)
    run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], project, env)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-qm", "project"], project, env)
    return project, env
