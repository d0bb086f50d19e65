"""NG words: a small documented list by category, plus user-supplied list files.

Removes (reason ``ng_word``) a record whose text contains a listed term: adult
content, slurs, spam phrases, or the assistant boilerplate that model-generated
instruction data carries (「AI言語モデルとして」). The lists live in
``filters/ngwords/<category>.txt`` (see its README for what each holds and why
ambiguous words are left out); ``categories`` picks which are on and
``extra_files`` adds the user's own lists (same format: one term per line, ``#``
comments). Matching is substring (Aho-Corasick in polars), case-sensitive,
over every text field, so the lists hold only terms that are unambiguous on
their own. The detail names the field, the category and the term.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import polars as pl

from jinstruct.filters.base import Check, CheckGroup, ExprFilter
from jinstruct.filters.fields import FieldContext
from jinstruct.records import InputError


def read_word_list(text: str) -> list[str]:
    terms = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [term for term in terms if term]


def builtin_categories() -> list[str]:
    folder = resources.files("jinstruct.filters") / "ngwords"
    return sorted(item.name.removesuffix(".txt") for item in folder.iterdir() if item.name.endswith(".txt"))


def load_terms(categories: list[str], extra_files: list[str]) -> dict[str, str]:
    """term -> category (first category listing it wins)."""
    folder = resources.files("jinstruct.filters") / "ngwords"
    known = builtin_categories()
    terms: dict[str, str] = {}
    for category in categories:
        if category not in known:
            raise InputError(f"filter.ng_words.categories: unknown category {category!r} (known: {', '.join(known)})")
        for term in read_word_list((folder / f"{category}.txt").read_text(encoding="utf-8")):
            terms.setdefault(term, category)
    for extra in extra_files:
        path = Path(extra)
        if not path.is_file():
            raise InputError(f"{path}: NG word list not found (filter.ng_words.extra_files)")
        for term in read_word_list(path.read_text(encoding="utf-8")):
            terms.setdefault(term, path.stem)
    return terms


class NgWordFilter(ExprFilter):
    name = "ng_words"

    def __init__(self, params: dict):
        self.terms = load_terms(list(params["categories"]), list(params.get("extra_files") or []))

    def check_groups(self, fields: FieldContext) -> list[CheckGroup]:
        return [CheckGroup(None, self.checks(fields))]

    def checks(self, fields: FieldContext) -> list[Check]:
        if not self.terms:
            return []
        patterns = sorted(self.terms)
        categories = pl.DataFrame({"term": patterns, "category": [self.terms[t] for t in patterns]})
        checks = []
        for name in fields.text_fields:
            text = pl.col(name)
            first_term = text.str.extract_many(patterns).list.first()
            category = first_term.replace_strict(categories["term"], categories["category"], default="")
            checks.append(Check("ng_word", text.str.contains_any(patterns),
                                pl.format("{}: {} term {}", pl.lit(name), category, first_term)))
        return checks
