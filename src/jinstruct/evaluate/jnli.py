"""JNLI (JGLUE): does the premise entail, contradict or say nothing about the hypothesis?

Items are JSON Lines with ``sentence_pair_id``, ``sentence1`` (premise),
``sentence2`` (hypothesis) and ``label`` (entailment / contradiction / neutral),
scored as the continuations 含意 / 矛盾 / 中立 (templates/jnli.yaml).
"""

from __future__ import annotations

from pathlib import Path

from jinstruct.evaluate.multiple_choice import ChoiceTask, build_task, labelled_item
from jinstruct.evaluate.templates import load_choice_template

NAME = "jnli"
DEFAULT_FILE = Path("data/eval/jnli/valid-v1.3.json")


def load(path: Path, params: dict) -> ChoiceTask:
    template = load_choice_template(NAME)
    to_item = labelled_item(path, template, "sentence_pair_id", ("sentence1", "sentence2"))
    return build_task(NAME, path, template, list(template.choices), to_item, params)
