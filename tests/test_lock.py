"""The dependency lock (requirements/*.txt) agrees with pyproject.toml, and the check notices when not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

CHECK = REPO_ROOT / "scripts" / "check_lock.py"


def _check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True, timeout=60)


def test_the_committed_lock_agrees_with_pyproject():
    done = _check(REPO_ROOT)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def project(tmp_path):
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO_ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(("old", "new", "message"), [
    ('"pyyaml>=6",', '"pyyaml>=6",\n    "left-pad-ja>=1",', "no pin for left-pad-ja>=1"),
    ('"pyyaml>=6",', '"pyyaml>=99",', "outside pyproject.toml's pyyaml>=99"),
    ('"pyyaml>=6",', '', "pins pyyaml as a pyproject.toml dependency, which pyproject.toml no longer lists"),
    ('[project.optional-dependencies]\n', '[project.optional-dependencies]\nspeed = ["orjson>=3"]\n',
     "all.txt resolves extras"),
])
def test_a_pyproject_edit_without_make_lock_fails_the_check(project, old, new, message):
    _edit(project / "pyproject.toml", old, new)
    done = _check(project)
    assert done.returncode == 1
    assert message in done.stderr and "make lock" in done.stderr


def test_a_subset_pinning_another_version_than_the_full_resolution_fails(project):
    lock = project / "requirements" / "build.txt"
    pin = next(line for line in lock.read_text(encoding="utf-8").splitlines() if line.startswith("pyyaml=="))
    _edit(lock, pin, "pyyaml==6.0.0 \\")
    done = _check(project)
    assert done.returncode == 1 and "build.txt: pyyaml differ from requirements/all.txt" in done.stderr
