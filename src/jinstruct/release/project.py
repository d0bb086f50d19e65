"""The project a file belongs to: its root, and the commit its code is at."""

from __future__ import annotations

import subprocess
from pathlib import Path

from jinstruct import __version__


def project_root(path: str | Path) -> Path | None:
    """The nearest folder at or above ``path`` that is a DVC project (holds ``.dvc/`` or ``dvc.yaml``)."""
    path = Path(path).resolve()
    for folder in [path if path.is_dir() else path.parent, *path.parents]:
        if (folder / ".dvc").is_dir() or (folder / "dvc.yaml").is_file():
            return folder
    return None


def git_state(repo: Path = Path(".")) -> dict:
    """The commit the code is at now, and whether the code differs from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no", "--", "src", "stages", "pyproject.toml")
    return {"git_commit": commit, "git_dirty": bool(changes) if changes is not None else None,
            "jinstruct_version": __version__}


def with_commit(manifest: dict, repo: Path = Path(".")) -> dict:
    """The manifest plus the commit ``repo`` is at, for what hands a build on (publish, report).

    A manifest that already names a commit (an older build) keeps it; outside a
    git checkout nothing is added.
    """
    code = manifest.get("code") or {}
    if code.get("git_commit"):
        return manifest
    state = {key: value for key, value in git_state(repo).items() if value is not None}
    return {**manifest, "code": {**code, **state}} if state.get("git_commit") else manifest
