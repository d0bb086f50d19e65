"""Decontamination: drop training records that share a long character n-gram with an eval item.

Removes (reason ``contaminated``) a record any of whose text fields shares a
character ``ngram``-gram with a registered evaluation item, so that a model
trained on the splits is not scored on text it has seen. The detail names the
colliding eval item(s); the stats list every eval item that collided, per set.

What is registered:

- the eval sets fetched by ``fetch_eval`` into ``data/eval/<set>/<file>``
  (params ``eval_sets``: each set's ``task`` picks the fields below; JNLI and
  JCommonsenseQA by default);
- user-listed files: ``filter.decontamination.extra_files``, each
  ``{path, text_fields: [...], id_field: optional}`` (JSONL or a JSON list).

Texts are compared on a key that survives normalisation: NFKC, lower-cased,
with everything but letters and digits removed (so that the normalize stage's
choices, full-width forms or spacing cannot hide a collision). Why character
n-grams: Japanese has no spaces, and GPT-3's 13-word decontamination
(Brown et al., 2020, App. C) corresponds to roughly 20-25 Japanese characters,
hence the default ``ngram: 20``. An eval text shorter than the n-gram but at
least ``min_item_chars`` long (a JCommonsenseQA question of 15 characters)
counts when a training text contains it whole; shorter ones (the answer
choices 「ペン」「犬」) are not registered, as they would match everywhere.

API shared with the evaluate stage, which counts overlap the same way::

    index = EvalIndex.build(eval_dir, eval_sets, ngram=20, extra_files=[...])
    index.matching_items(["text", ...])  # -> [set of eval item ids, ...] per text
    index.collisions(texts)              # -> {position: set of eval item ids}, colliding texts only
    index.contaminated_items(texts)      # -> set of eval item ids hit by any text
    index.items                          # eval item id -> set name

Item ids are ``<set>:<id>`` with the set's own id (JNLI ``sentence_pair_id``,
JCommonsenseQA ``q_id``) or the 1-based line number when a file has none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from jinstruct.filters.base import DETAIL, REASON, Filter
from jinstruct.filters.fields import FieldContext
from jinstruct.records import InputError

# Per eval task: which fields hold the text a model is scored on, and the id field.
EVAL_TASK_FIELDS = {
    "jnli": (["sentence1", "sentence2"], "sentence_pair_id"),
    "jsts": (["sentence1", "sentence2"], "sentence_pair_id"),
    "jcommonsenseqa": (["question"], "q_id"),
    "marc_ja": (["sentence"], "review_id"),
    "jsquad": (["question", "context"], "id"),
}
NOT_LETTER_OR_DIGIT = r"[^\p{L}\p{N}]+"


def comparison_keys(texts: pl.Series | list[str]) -> pl.Series:
    """NFKC, lower-cased, letters and digits only: what texts are compared on (eval and training alike)."""
    series = texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)
    return (series.cast(pl.String).fill_null("").str.normalize("NFKC").str.to_lowercase()
            .str.replace_all(NOT_LETTER_OR_DIGIT, ""))


def _read_eval_rows(path: Path) -> list[dict]:
    """Rows of a JSON Lines file (JGLUE's ``.json`` files are JSONL), a JSON list, or a SQuAD-style document."""
    try:
        text = path.read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable eval file ({exc})") from None
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("data"), list):  # SQuAD layout
        return [{"id": qa.get("id"), "question": qa.get("question"), "context": paragraph.get("context")}
                for article in document["data"] for paragraph in article.get("paragraphs", [])
                for qa in paragraph.get("qas", [])]
    if isinstance(document, dict):
        return [document]  # a JSON Lines file of one line
    raise InputError(f"{path}: expected JSON Lines, a JSON list or a SQuAD-style document")


@dataclass
class EvalIndex:
    ngram: int
    min_item_chars: int
    items: dict[str, str] = field(default_factory=dict)              # item id -> set name
    _grams: dict[str, set[str]] = field(default_factory=dict)         # n-gram -> item ids
    _anchors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # prefix -> (short key, item id)
    _short_keys: set[str] = field(default_factory=set)
    _patterns: list[str] | None = None

    @classmethod
    def build(cls, eval_dir: Path | None, eval_sets: dict | None, ngram: int, extra_files: Iterable[dict] = (),
              min_item_chars: int = 10) -> EvalIndex:
        """Index the enabled eval sets under ``eval_dir`` (``eval_sets`` as in params.yaml; None: every
        sub-folder, its name taken as the task) plus ``extra_files``."""
        index = cls(int(ngram), int(min_item_chars))
        if eval_dir is not None:
            eval_dir = Path(eval_dir)
            if not eval_dir.is_dir():
                raise InputError(f"{eval_dir}: no eval folder (run fetch_eval, or disable filter.decontamination)")
            sets = eval_sets if eval_sets is not None else {
                folder.name: {"task": folder.name} for folder in sorted(eval_dir.iterdir()) if folder.is_dir()}
            for set_name, spec in sorted(sets.items()):
                if spec.get("enabled", True):
                    index._add_set(eval_dir / set_name, set_name, spec.get("task", set_name))
        for extra in extra_files:
            path = Path(extra["path"])
            if not path.is_file():
                raise InputError(f"{path}: eval file not found (filter.decontamination.extra_files)")
            index._add_rows(_read_eval_rows(path), extra.get("name") or path.stem,
                            list(extra["text_fields"]), extra.get("id_field"))
        return index

    def _add_set(self, folder: Path, set_name: str, task: str) -> None:
        if task not in EVAL_TASK_FIELDS:
            raise InputError(f"eval set {set_name!r}: no decontamination fields known for task {task!r} "
                             f"(known: {', '.join(sorted(EVAL_TASK_FIELDS))}); list it under extra_files")
        files = sorted(path for path in folder.glob("*") if path.is_file() and path.suffix in (".json", ".jsonl"))
        if not files:
            raise InputError(f"{folder}: no eval files for set {set_name!r} (run fetch_eval)")
        text_fields, id_field = EVAL_TASK_FIELDS[task]
        for path in files:
            self._add_rows(_read_eval_rows(path), set_name, text_fields, id_field)

    def _add_rows(self, rows: list[dict], set_name: str, text_fields: list[str], id_field: str | None) -> None:
        pending: list[tuple[str, str]] = []
        for line_number, row in enumerate(rows, start=1):
            item_id = f"{set_name}:{row.get(id_field) if id_field and row.get(id_field) is not None else line_number}"
            for name in text_fields:
                value = row.get(name)
                if isinstance(value, str):
                    pending.append((value, item_id))
        for key, (_, item_id) in zip(comparison_keys([value for value, _ in pending]), pending):
            self._add_text(key, item_id, set_name)

    def _add_text(self, key: str, item_id: str, set_name: str) -> None:
        if len(key) >= self.ngram:
            for start in range(len(key) - self.ngram + 1):
                self._grams.setdefault(key[start:start + self.ngram], set()).add(item_id)
        elif len(key) >= self.min_item_chars:
            self._anchors.setdefault(key[:self.min_item_chars], []).append((key, item_id))
            self._short_keys.add(key)
        else:
            return
        self.items[item_id] = set_name
        self._patterns = None

    def _match_key(self, key: str) -> set[str]:
        found: set[str] = set()
        if self._grams:
            for start in range(len(key) - self.ngram + 1):
                hit = self._grams.get(key[start:start + self.ngram])
                if hit:
                    found |= hit
        if self._anchors:
            for start in range(len(key) - self.min_item_chars + 1):
                for short_key, item_id in self._anchors.get(key[start:start + self.min_item_chars], ()):
                    if key.startswith(short_key, start):
                        found.add(item_id)
        return found

    def collisions(self, texts: Iterable[str] | pl.Series) -> dict[int, set[str]]:
        """Position of each colliding text -> ids of the eval items it shares an n-gram with.

        One Aho-Corasick scan over all texts for every registered n-gram and short
        item finds the colliding texts; only those are looked up one by one.
        """
        keys = comparison_keys(texts if isinstance(texts, pl.Series) else list(texts))
        if self._patterns is None:
            self._patterns = sorted(set(self._grams) | self._short_keys)
        if not self._patterns:
            return {}
        collides = keys.str.contains_any(self._patterns).fill_null(False)
        return {row: self._match_key(keys[row]) for row in collides.arg_true().to_list()}

    def matching_items(self, texts: Iterable[str] | pl.Series) -> list[set[str]]:
        """For each text, the ids of the eval items it shares an n-gram with (empty set: clean)."""
        texts = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
        found = self.collisions(texts)
        return [found.get(row, set()) for row in range(len(texts))]

    def contaminated_items(self, texts: Iterable[str]) -> set[str]:
        """Ids of every eval item that any of the texts collides with."""
        return set().union(*self.matching_items(texts))


class DecontaminationFilter(Filter):
    name = "decontamination"

    def __init__(self, index: EvalIndex):
        self.index = index
        self.collided: set[str] = set()

    def evaluate(self, frame: pl.DataFrame, fields: FieldContext) -> pl.DataFrame:
        hits: dict[int, set[str]] = {}
        first_field: dict[int, str] = {}
        for name in fields.text_fields:
            for row, found in self.index.collisions(frame[name]).items():
                hits.setdefault(row, set()).update(found)
                first_field.setdefault(row, name)
        reasons: list[str | None] = [None] * frame.height
        details: list[str | None] = [None] * frame.height
        for row, found in hits.items():
            self.collided |= found
            ordered = sorted(found)
            more = f" (+{len(ordered) - 1} more)" if len(ordered) > 1 else ""
            reasons[row] = "contaminated"
            details[row] = f"{first_field[row]}: shares a {self.index.ngram}-char span with {ordered[0]}{more}"
        return pl.DataFrame({REASON: reasons, DETAIL: details}, schema={REASON: pl.String, DETAIL: pl.String})

    def extra_stats(self) -> dict:
        registered: dict[str, int] = {}
        collided: dict[str, int] = {}
        for item_id, set_name in self.index.items.items():
            registered[set_name] = registered.get(set_name, 0) + 1
            if item_id in self.collided:
                collided[set_name] = collided.get(set_name, 0) + 1
        return {"decontamination": {
            "ngram": self.index.ngram,
            "eval_items": dict(sorted(registered.items())),
            "collided_items": dict(sorted(collided.items())),
            "collided_item_ids": sorted(self.collided),
        }}
