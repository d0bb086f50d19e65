"""The normalize stage's transform: params → config, raw columns, rules, PII, stats.

``normalize_records(df, params, text_fields)`` works on any frame and any text
columns (the standalone CLI passes ``--text-field``). It keeps every record —
normalisation never needs to reject one; emptied or noisy text is the filter
stage's call — and adds ``raw_<field>`` with the text as it came in. The stats
count, per rule, the records whose text that rule changed, and per PII kind the
placeholders inserted and the records touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from jinstruct.progress import progress
from jinstruct.records import InputError
from jinstruct.stage import StageResult, empty_rejects
from jinstruct.text.normalize import RULE_NAMES, Rule, contains_trigger, rare_character, rule_by_name
from jinstruct.text.pii import PII_KINDS, PLACEHOLDERS, masker

RAW_PREFIX = "raw_"


@dataclass(frozen=True)
class NormalizeConfig:
    """Which rules and PII kinds are on; everything is on by default."""

    rules: Mapping[str, bool] = field(default_factory=lambda: dict.fromkeys(RULE_NAMES, True))
    pii: Mapping[str, bool] = field(default_factory=lambda: dict.fromkeys(PII_KINDS, True))

    @classmethod
    def from_params(cls, params: Mapping | None) -> NormalizeConfig:
        """Defaults overlaid with ``params`` (the ``normalize`` section); unknown keys are an error."""
        params = dict(params or {})
        unknown = sorted(set(params) - {"rules", "pii"})
        if unknown:
            raise InputError(f"normalize params: unknown key {unknown[0]!r} (known: rules, pii)")
        return cls(rules=_switches(params.get("rules"), RULE_NAMES, "rules"),
                   pii=_switches(params.get("pii"), PII_KINDS, "pii"))

    @property
    def enabled_rules(self) -> tuple[str, ...]:
        return tuple(name for name in RULE_NAMES if self.rules[name])

    @property
    def enabled_pii(self) -> tuple[str, ...]:
        return tuple(kind for kind in PII_KINDS if self.pii[kind])


def _switches(given: object, names: Sequence[str], section: str) -> dict[str, bool]:
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InputError(f"normalize params: {section} must be a mapping of name: true/false")
    switches = dict.fromkeys(names, True)
    for name, value in given.items():
        if name not in switches:
            raise InputError(f"normalize params: unknown key '{section}.{name}' (known: {', '.join(names)})")
        if not isinstance(value, bool):
            raise InputError(f"normalize params: '{section}.{name}' must be true or false, not {value!r}")
        switches[name] = value
    return switches


def _changed_rows(before: pl.DataFrame, after: pl.DataFrame, fields: Sequence[str]) -> pl.Series:
    """Per row, whether any field differs (null-aware)."""
    return before.select(pl.any_horizontal([before[f].ne_missing(after[f]) for f in fields])).to_series()


def _any_changed(before: pl.DataFrame, after: pl.DataFrame, fields: Sequence[str]) -> int:
    """How many rows differ in some field."""
    if not fields or before.height == 0:
        return 0
    return int(_changed_rows(before, after, fields).sum())


Frames = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]


def _rows_with(texts: pl.DataFrame, fields: Sequence[str], trigger: str | tuple[str, ...]) -> pl.Series:
    """Indices of the rows where some field contains the trigger."""
    found = pl.any_horizontal([contains_trigger(pl.col(f), trigger) for f in fields])
    return texts.select(found).to_series().arg_true()


def _merge(texts: pl.DataFrame, rows: pl.Series, part: pl.DataFrame, fields: Sequence[str]) -> pl.DataFrame:
    """``texts`` with the rows at ``rows`` replaced by ``part``."""
    if rows.len() == 0:
        return texts
    return texts.with_columns([texts[f].clone().scatter(rows, part[f]) for f in fields])


def _on_rows(texts: pl.DataFrame, rows: pl.Series, fields: Sequence[str],
             transform: Callable[[pl.DataFrame], pl.DataFrame]) -> Frames:
    """Apply ``transform`` to ``rows``: (all rows afterwards, those rows before, after)."""
    before = texts[rows]
    if rows.len() == 0:
        return texts, before, before
    after = transform(before)
    return _merge(texts, rows, after, fields), before, after


def _rare_characters(texts: pl.DataFrame, fields: Sequence[str]) -> pl.Series:
    """Per row, the characters outside ``plain_characters()`` in all fields, concatenated (mostly "")."""
    found = [pl.col(f).fill_null("").str.extract_all(rare_character()) for f in fields]
    return texts.select(pl.concat_list(found).list.join("")).to_series()


def _apply_rules(texts: pl.DataFrame, fields: Sequence[str], rules: Sequence[Rule]) -> tuple[pl.DataFrame, dict]:
    """All ``rules`` in order, and the rows each one changed.

    Each rule runs only on the rows holding its trigger. For rules with
    ``key_chars`` the rows are first narrowed by a per-row string of the row's
    rare characters (empty for 70% of Dolly), extracted once and refreshed for
    the rows a rule changes; scanning those short strings replaces a full scan
    per rule. Rules without key characters never bring a rare character in, so
    the summary stays valid (at worst a superset) across them.
    """
    changed_by_rule = {}
    rare: pl.Series | None = None
    for rule in progress(rules, desc="normalize", unit="rule"):
        transform = lambda rows, r=rule: rows.select([r.apply(pl.col(f)) for f in fields])  # noqa: E731
        if rule.key_chars is None:
            rows = _rows_with(texts, fields, rule.trigger)
        else:
            if rare is None:
                rare = _rare_characters(texts, fields)
            rows = rare.str.contains(rule.key_chars).arg_true()
            if rule.trigger != rule.key_chars:
                rows = rows.gather(_rows_with(texts[rows], fields, rule.trigger))
        texts, before, after = _on_rows(texts, rows, fields, transform)
        changed_rows = _changed_rows(before, after, fields)
        changed_by_rule[rule.name] = int(changed_rows.sum())
        if rare is not None and changed_by_rule[rule.name]:
            rare = rare.clone().scatter(rows.filter(changed_rows), _rare_characters(after.filter(changed_rows), fields))
    return texts, changed_by_rule


def _count_placeholders(frame: pl.DataFrame, fields: Sequence[str], placeholder: str) -> int:
    return int(sum(frame[f].str.count_matches(placeholder, literal=True).fill_null(0).sum() for f in fields))


def normalize_records(df: pl.DataFrame, params: Mapping | None, text_fields: Sequence[str]) -> StageResult:
    """Normalise ``text_fields`` of every record; keep the originals in ``raw_<field>``.

    A ``raw_<field>`` column that already exists is left alone: it already holds
    the text as it first came in (normalising twice must not overwrite it).
    """
    config = NormalizeConfig.from_params(params)
    fields = list(dict.fromkeys(text_fields))
    df = df.with_columns([pl.col(f).cast(pl.String) for f in fields])
    df = df.with_columns([pl.col(f).alias(RAW_PREFIX + f) for f in fields if RAW_PREFIX + f not in df.columns])
    texts = df.select(fields)
    changed_by_rule: dict[str, int] = {}
    pii_masks: dict[str, int] = {}
    pii_records: dict[str, int] = {}
    if fields:
        texts, changed_by_rule = _apply_rules(texts, fields, [rule_by_name(n) for n in config.enabled_rules])
        for kind in config.enabled_pii:
            mask = masker(kind).mask
            texts, before, after = _on_rows(texts, _rows_with(texts, fields, masker(kind).trigger), fields,
                                            lambda rows, m=mask: pl.DataFrame([m(rows[f]) for f in fields]))
            pii_records[kind] = _any_changed(before, after, fields)
            placeholder = PLACEHOLDERS[kind]
            pii_masks[kind] = (_count_placeholders(after, fields, placeholder)
                               - _count_placeholders(before, fields, placeholder))

    kept = df.with_columns(texts)
    stats = {
        "text_fields": fields,
        "records_changed": _any_changed(df.select(fields), texts, fields),
        "changed_by_rule": changed_by_rule,
        "pii_masks": pii_masks,
        "pii_records": pii_records,
    }
    return StageResult(kept, empty_rejects(kept), stats)


def normalize_texts(texts: Sequence[str | None], params: Mapping | None = None) -> list[str | None]:
    """Normalise a plain list of strings with the same rules and PII masking."""
    frame = pl.DataFrame({"text": pl.Series(list(texts), dtype=pl.String)})
    return normalize_records(frame, params, ["text"]).kept["text"].to_list()
