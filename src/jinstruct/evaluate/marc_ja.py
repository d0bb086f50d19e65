"""MARC-ja (JGLUE): is an Amazon product review positive or negative?

MARC-ja is no longer distributed upstream, so nothing is fetched: the task runs
on a file the user names (``eval.marc_ja.file`` or ``jinstruct eval --data``),
in the JGLUE format: JSON Lines with ``sentence``, ``label`` (positive /
negative) and ``review_id``. Off by default.
"""

from __future__ import annotations

from pathlib import Path

from jinstruct.evaluate.multiple_choice import ChoiceTask, build_task, labelled_item
from jinstruct.evaluate.templates import load_choice_template
from jinstruct.records import InputError

NAME = "marc_ja"
DEFAULT_FILE = None  # user-supplied


def load(path: Path | None, params: dict) -> ChoiceTask:
    if path is None:
        raise InputError("marc_ja: no data file; set eval.marc_ja.file (MARC-ja is not distributed upstream)")
    template = load_choice_template(NAME)
    to_item = labelled_item(Path(path), template, "review_id", ("sentence",))
    return build_task(NAME, Path(path), template, list(template.choices), to_item, params)
