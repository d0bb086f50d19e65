"""Which normalisation rules changed one record, recomputed from its raw text.

The normalize stage stores the text as converted (``raw_<field>``) beside the
result but not which rule did what. Replaying the enabled rules of the build's
params, in order, on the raw text of one record is cheap and tells exactly that;
the replay must end at the stored normalised text, and says so when it does not.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from jinstruct.records import TEXT_FIELDS
from jinstruct.text.normalize import rule_by_name
from jinstruct.text.normalizer import RAW_PREFIX, NormalizeConfig
from jinstruct.text.pii import PLACEHOLDERS, masker

CONTEXT_CHARS = 12


def change_excerpt(before: str, after: str, context: int = CONTEXT_CHARS) -> tuple[str, str]:
    """The part of ``before`` and ``after`` that differs, with a little context on each side."""
    prefix = 0
    while prefix < min(len(before), len(after)) and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < min(len(before), len(after)) - prefix
           and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]):
        suffix += 1
    start = max(prefix - context, 0)

    def cut(text: str) -> str:
        end = min(len(text) - suffix + context, len(text))
        return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")

    return cut(before), cut(after)


def replay(record: Mapping[str, str | None], params: Mapping | None) -> dict:
    """``changes`` (rule, field, before, after), ``pii`` (kind, field, masks) and whether the replay
    ends at the record's stored normalised text (``matches_stored``)."""
    config = NormalizeConfig.from_params(params)
    fields = [name for name in TEXT_FIELDS if RAW_PREFIX + name in record]
    rules = config.enabled_rules
    # every rule's output as its own column of one lazy frame: one collect for the whole replay
    stages = pl.LazyFrame({f"0:{name}": [record[RAW_PREFIX + name]] for name in fields},
                          schema={f"0:{name}": pl.String for name in fields})
    for step, rule_name in enumerate(rules, start=1):
        rule = rule_by_name(rule_name)
        stages = stages.with_columns([rule.apply(pl.col(f"{step - 1}:{name}")).alias(f"{step}:{name}")
                                      for name in fields])
    replayed = stages.collect().row(0, named=True) if fields else {}
    changes, pii = [], []
    for step, rule_name in enumerate(rules, start=1):
        for name in fields:
            old, new = replayed[f"{step - 1}:{name}"], replayed[f"{step}:{name}"]
            if old != new:
                before_text, after_text = change_excerpt(old, new)
                changes.append({"rule": rule_name, "field": name, "before": before_text, "after": after_text})
    texts = pl.DataFrame({name: [replayed[f"{len(rules)}:{name}"]] for name in fields},
                         schema=dict.fromkeys(fields, pl.String))
    for kind in config.enabled_pii:
        placeholder = PLACEHOLDERS[kind]
        for field in fields:
            old = texts[field]
            new = masker(kind).mask(old)
            added = (new.str.count_matches(placeholder, literal=True).fill_null(0)[0]
                     - old.str.count_matches(placeholder, literal=True).fill_null(0)[0])
            if added:
                pii.append({"kind": kind, "field": field, "masks": int(added)})
            texts = texts.with_columns(new.alias(field))
    matches = all(texts[field][0] == record.get(field) for field in fields)
    return {"changes": changes, "pii": pii, "matches_stored": matches}
