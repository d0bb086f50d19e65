"""Reading params.yaml sections and ``--set key=value`` overrides."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

from jinstruct.records import InputError

PARAMS_FILE = Path("params.yaml")


def load_params(section: str | None = None, path: str | os.PathLike = PARAMS_FILE) -> dict:
    """One section of params.yaml (or all of it); a missing file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no params file (run from the project root)")
    params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if section is None:
        return params
    if section not in params:
        raise InputError(f"{path}: no section {section!r}")
    return params[section]


def apply_overrides(params: dict, assignments: list[str]) -> dict:
    """Return a copy of ``params`` with ``a.b=value`` assignments applied.

    Values are parsed as YAML, so ``threshold=0.8``, ``enabled=false`` and
    ``fields=[output]`` get their natural types.
    """
    result = copy.deepcopy(params)
    for assignment in assignments:
        key, sep, raw_value = assignment.partition("=")
        if not sep or not key:
            raise InputError(f"--set {assignment!r}: expected key=value")
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"--set {assignment!r}: {part!r} is not a section")
        node[leaf] = yaml.safe_load(raw_value)
    return result
