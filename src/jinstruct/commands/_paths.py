"""Output paths checked before a command reads anything, so a typo never costs data.

Refused: an output that is the input or another output (they would overwrite
each other), a folder, an existing non-regular file (a device such as
/dev/full, a pipe), a parent that is not a folder, and a suffix that says no
format jinstruct writes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from jinstruct.records import OUTPUT_SUFFIXES, InputError


def _same(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _check_one(flag: str, path: Path, suffixes: tuple[str, ...]) -> None:
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a folder; give a file path")
    if path.exists() and not path.is_file():
        raise InputError(f"{flag} {path}: exists and is not a regular file (a device or pipe); give a file path")
    parent = path.resolve().parent
    for folder in (parent, *parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise InputError(f"{flag} {path}: {folder} is a file, not a folder")
            break
    if path.suffix not in suffixes:
        raise InputError(f"{flag} {path}: unknown output format {path.suffix or '(no extension)'!r}; "
                         f"name it {', '.join('*' + s for s in suffixes)}")


def check_paths(input_path: Path, records: Mapping[str, Path | None], json_files: Mapping[str, Path | None],
                suffixes: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """Refuse colliding, folder, device and unknown-format output paths; say which flag and why."""
    outputs: list[tuple[str, Path]] = []
    for flag, path in records.items():
        if path is not None:
            _check_one(flag, path, (suffixes or {}).get(flag, OUTPUT_SUFFIXES))
            outputs.append((flag, path))
    for flag, path in json_files.items():
        if path is not None:
            _check_one(flag, path, (".json",))
            outputs.append((flag, path))
    for index, (flag, path) in enumerate(outputs):
        if _same(path, input_path):
            raise InputError(f"{flag} {path}: is the input file; writing there would destroy it")
        for other_flag, other in outputs[:index]:
            if _same(path, other):
                raise InputError(f"{flag} {path}: is also given as {other_flag}; each output needs its own path")
