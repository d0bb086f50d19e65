"""Prompt templates: editable YAML files under ``evaluate/templates/``.

A multiple-choice template has ``header``, ``item`` (a format string over the
item's fields), ``answer``, ``separator`` and, for tasks with fixed labels,
``choices`` (label -> the words scored as continuations). Its ``id`` travels
with every score, so numbers from different wordings are never mixed up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from jinstruct.records import InputError

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ChoiceTemplate:
    id: str
    header: str
    item: str
    answer: str
    separator: str
    choices: dict[str, str]

    def prompt(self, fields: dict, shots: list[tuple[dict, str]]) -> str:
        """Header, then each shot with its answer, then the item awaiting its answer."""
        parts = [self.header]
        for shot_fields, shot_answer in shots:
            parts.append(self.item.format(**shot_fields) + self.answer.format(answer=shot_answer) + self.separator)
        parts.append(self.item.format(**fields))
        return "".join(parts)


def load_template(name: str, directory: Path = TEMPLATE_DIR) -> dict:
    path = directory / f"{name}.yaml"
    if not path.is_file():
        raise InputError(f"{path}: no such template")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data.get("id"):
        raise InputError(f"{path}: a template needs a mapping with an 'id'")
    return data


def load_choice_template(name: str, directory: Path = TEMPLATE_DIR) -> ChoiceTemplate:
    data = load_template(name, directory)
    missing = [key for key in ("header", "item", "answer", "separator") if key not in data]
    if missing:
        raise InputError(f"{directory / name}.yaml: missing {', '.join(missing)}")
    return ChoiceTemplate(id=data["id"], header=data["header"], item=data["item"], answer=data["answer"],
                          separator=data["separator"], choices=dict(data.get("choices") or {}))
