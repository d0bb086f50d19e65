"""params.yaml sections as typed settings, with ``--set key=value`` overrides.

``stage_settings`` is the one way a DVC stage or a standalone command gets its
settings: the library defaults (``jinstruct.settings``), overlaid key by key
with the params file's section, then with ``--set`` assignments, validated
once. A typo or a value of the wrong type stops the run with one line.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path

import yaml

from jinstruct.records import InputError
from jinstruct.settings import SECTIONS, ParamsModel, validate_section

PARAMS_FILE = Path("params.yaml")


def read_params(path: str | os.PathLike = PARAMS_FILE) -> dict:
    """The whole params file as written (the manifest records it like this)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no params file (run from the project root)")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(params, dict):
        raise InputError(f"{path}: expected a mapping of sections")
    return params


def deep_merge(base: dict, override: dict) -> dict:
    """``base`` with ``override`` laid over it, nested mappings merged key by key."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def apply_overrides(params: dict, assignments: Sequence[str]) -> dict:
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
        try:
            node[leaf] = yaml.safe_load(raw_value)
        except yaml.YAMLError:
            raise InputError(f"--set {assignment!r}: the value is not valid YAML") from None
    return result


def settings_from(section: str, given: dict | None, overrides: Sequence[str] = ()) -> ParamsModel:
    """``section``'s typed settings from a params section (``given``) and ``--set`` overrides."""
    model = SECTIONS.get(section)
    if model is None:
        raise InputError(f"params: no section {section!r} (known: {', '.join(SECTIONS)})")
    if given is not None and not isinstance(given, dict):
        raise InputError(f"params: section {section!r} must be a mapping, got {given!r}")
    defaults = model().as_params()
    return validate_section(section, model, apply_overrides(deep_merge(defaults, given or {}), overrides))


def stage_settings(section: str, path: str | os.PathLike | None = PARAMS_FILE,
                   overrides: Sequence[str] = (), required: bool = True) -> ParamsModel:
    """Typed settings of ``section`` from the params file at ``path`` plus ``--set`` overrides.

    ``path=None`` (a standalone command run where there is no params.yaml) uses
    the library defaults; ``required=False`` allows the file to lack the section.
    """
    given = None
    if path is not None:
        params = read_params(path)
        if section not in params and required:
            raise InputError(f"{path}: no section {section!r}")
        given = params.get(section)
    return settings_from(section, given, overrides)


def load_params(section: str | None = None, path: str | os.PathLike = PARAMS_FILE) -> dict:
    """One section of params.yaml, validated and with defaults filled in, as a dict (or the whole raw file)."""
    if section is None:
        return read_params(path)
    return stage_settings(section, path).as_params()
