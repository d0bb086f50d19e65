"""What JNLI, JCommonsenseQA and MARC-ja share: items -> k-shot prompts -> scores.

A task module only reads its file into ``Item`` rows; this module holds the
pool out, builds the prompts from the template, scores every choice and turns
the log-likelihoods into metrics.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jinstruct.evaluate import fewshot
from jinstruct.evaluate.fewshot import Item
from jinstruct.evaluate.metrics import chance_baseline, classification_scores, majority_baseline, verdict
from jinstruct.evaluate.scoring import Request, Score
from jinstruct.evaluate.templates import ChoiceTemplate
from jinstruct.records import InputError, file_sha256


@dataclass
class ChoiceTask:
    name: str
    template: ChoiceTemplate
    label_names: list[str]   # names of the choice positions, for the confusion matrix
    pool: list[Item]         # k-shot examples, never scored
    items: list[Item]        # scored
    data_path: Path
    data_sha256: str
    k: int
    seed: int

    def requests(self) -> list[Request]:
        """Each item's k-shot prompt, plus the same prompt with fewer shots for a window it does not fit."""
        requests = []
        for item in self.items:
            prompts = self.prompts(item)
            requests.append(Request(prompts[0], item.choices, tuple(prompts[1:])))
        return requests

    def prompt(self, item: Item) -> str:
        return self.prompts(item)[0]

    def prompts(self, item: Item) -> list[str]:
        """The prompt with all k shots, then with the first (farthest from the item) dropped, ... down to none."""
        shots = [(shot.fields, shot.choices[shot.gold]) for shot in fewshot.draw_shots(item, self.pool, self.k,
                                                                                        self.seed)]
        return [self.template.prompt(item.fields, shots[drop:]) for drop in range(len(shots) + 1)]

    def metrics(self, scores: list[list[Score]]) -> dict:
        result = classification_scores(self.items, scores, self.label_names)
        result["verdict"] = verdict(result["acc_ci95"], majority_baseline(self.items)["acc"])
        return result

    def summary(self) -> dict:
        """What describes the scored set, whichever model is scored."""
        return {"n": len(self.items), "k": self.k, "pool": len(self.pool),
                "majority_baseline": majority_baseline(self.items), "chance_baseline": chance_baseline(self.items),
                "template": self.template.id, "data_file": str(self.data_path), "data_sha256": self.data_sha256}


def read_json_lines(path: Path) -> list[dict]:
    """JGLUE's ``*.json`` files are JSON Lines despite the suffix; any bad line stops the run."""
    if not path.is_file():
        raise InputError(f"{path}: no such file (run the fetch_eval stage, or point the task at your copy)")
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{number}: expected a JSON object per line")
            rows.append(row)
    if not rows:
        raise InputError(f"{path}: no items")
    return rows


def require_keys(path: Path, number: int, row: dict, keys: tuple[str, ...]) -> None:
    missing = [key for key in keys if key not in row]
    if missing:
        raise InputError(f"{path}:{number}: missing {', '.join(missing)}")


def build_task(name: str, path: Path, template: ChoiceTemplate, label_names: list[str],
               to_item: Callable[[int, dict], Item], params: dict) -> ChoiceTask:
    """Read ``path`` with ``to_item`` (line number, row -> Item) and hold the k-shot pool out.

    ``params``: ``k_shot``, ``pool_per_label``, ``seed``, ``limit`` (None = all scored items).
    """
    rows = read_json_lines(Path(path))
    items = [to_item(number, row) for number, row in enumerate(rows, start=1)]
    k = int(params.get("k_shot", 0))
    if not 0 <= k <= 3:
        raise InputError(f"eval.k_shot={k}: supported values are 0 to 3")
    seed = int(params.get("seed", 0))
    pool, scored = fewshot.split_pool(items, int(params.get("pool_per_label", 0)), seed)
    if k and len(pool) < k:
        raise InputError(f"eval.pool_per_label={params.get('pool_per_label')}: too few examples for {k}-shot {name}")
    limit = params.get("limit")
    if limit is not None:
        scored = scored[:int(limit)]
    if not scored:
        raise InputError(f"{path}: no items left to score after holding out the k-shot pool")
    return ChoiceTask(name=name, template=template, label_names=label_names, pool=pool, items=scored,
                      data_path=Path(path), data_sha256=file_sha256(path), k=k, seed=seed)


def labelled_item(path: Path, template: ChoiceTemplate, id_key: str, text_keys: tuple[str, ...]
                  ) -> Callable[[int, dict], Item]:
    """``to_item`` for tasks with fixed labels (JNLI, MARC-ja): the template's ``choices`` verbalise them."""
    labels = list(template.choices)

    def to_item(number: int, row: dict) -> Item:
        require_keys(path, number, row, (*text_keys, "label"))
        if row["label"] not in template.choices:
            raise InputError(f"{path}:{number}: label {row['label']!r} is not one of {', '.join(labels)}")
        return Item(id=str(row.get(id_key, number)), fields={key: row[key] for key in text_keys},
                    choices=tuple(template.choices.values()), gold=labels.index(row["label"]), label=row["label"])

    return to_item
