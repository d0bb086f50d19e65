"""Helpers for tests/sources (fetch and convert): real mirrors built in a temp folder."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import FIXTURES, MIRROR, REPO_ROOT, stage_argv

SOURCE_FIXTURES = FIXTURES / "sources"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

needs_shared_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"no offline mirror at {MIRROR}")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_in_mirror(mirror: Path, url: str, data: bytes) -> str:
    """Store ``data`` where a mirror keeps ``url``; its sha256."""
    parts = urlsplit(url)
    path = mirror / parts.netloc / parts.path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256_of(data)


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` by relative path, with its content."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def run_stage(script: str, cwd: Path, *args: str, mirror: Path | None = None) -> subprocess.CompletedProcess:
    """Run a real stage script the way DVC does (from the project root, with the paths of dvc.yaml's cmd)."""
    env = {key: value for key, value in os.environ.items() if key != "JINSTRUCT_MIRROR"}
    env["PYTHONPATH"] = str(REPO_ROOT / "src")
    if mirror is not None:
        env["JINSTRUCT_MIRROR"] = str(mirror)
    argv = [sys.executable, str(REPO_ROOT / "stages" / script), *args]
    if script == "convert.py":
        argv = [*stage_argv("convert"), *args]
    return subprocess.run(argv, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def copy_fixture(name: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE_FIXTURES / name, target)
    return target
