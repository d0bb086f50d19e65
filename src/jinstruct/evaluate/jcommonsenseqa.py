"""JCommonsenseQA (JGLUE): five-way commonsense multiple choice.

Items are JSON Lines with ``q_id``, ``question``, ``choice0`` … ``choice4`` and
``label`` (index of the right choice); each choice text is scored as the
continuation (templates/jcommonsenseqa.yaml).
"""

from __future__ import annotations

from pathlib import Path

from jinstruct.evaluate.fewshot import Item
from jinstruct.evaluate.multiple_choice import ChoiceTask, build_task, require_keys
from jinstruct.evaluate.templates import load_choice_template
from jinstruct.records import InputError

NAME = "jcommonsenseqa"
DEFAULT_FILE = Path("data/eval/jcommonsenseqa/valid-v1.3.json")
CHOICE_KEYS = tuple(f"choice{i}" for i in range(5))


def load(path: Path, params: dict) -> ChoiceTask:
    template = load_choice_template(NAME)

    def to_item(number: int, row: dict) -> Item:
        require_keys(path, number, row, ("question", *CHOICE_KEYS, "label"))
        label = row["label"]
        if not isinstance(label, int) or not 0 <= label < len(CHOICE_KEYS):
            raise InputError(f"{path}:{number}: label {label!r} is not a choice index 0-4")
        return Item(id=str(row.get("q_id", number)), fields={key: row[key] for key in ("question", *CHOICE_KEYS)},
                    choices=tuple(row[key] for key in CHOICE_KEYS), gold=label, label=CHOICE_KEYS[label])

    return build_task(NAME, path, template, list(CHOICE_KEYS), to_item, params)
