"""The one rule for finding the project a file belongs to."""

from __future__ import annotations

from pathlib import Path


def project_root(path: str | Path) -> Path | None:
    """The nearest folder at or above ``path`` that is a DVC project (holds ``.dvc/`` or ``dvc.yaml``)."""
    path = Path(path).resolve()
    for folder in [path if path.is_dir() else path.parent, *path.parents]:
        if (folder / ".dvc").is_dir() or (folder / "dvc.yaml").is_file():
            return folder
    return None
