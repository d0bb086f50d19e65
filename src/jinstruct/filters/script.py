"""Script ratios of Japanese prose: hiragana share and Japanese-character share.

Removes Japanese-expected prose fields whose characters say they are not
running Japanese text:

- ``low_hiragana``: hiragana below ``min_hiragana`` in a prose field of at least
  ``min_chars`` visible characters. Japanese sentences are held together by
  hiragana (particles, inflections); keyword salad, tables and machine output
  have almost none.
- ``low_japanese``: Japanese characters below ``min_japanese`` in such a field
  (mostly another language: caught here cheaply, before fastText runs).

Thresholds. Swallow (Okazaki et al., 2024, "Building a Large Japanese Web Corpus
for Large Language Models", §3) keeps web pages with hiragana ≥ 0.2, but those
are pages of 400+ characters. Instruction fields are short and dense with names
and terms: measured on the default sources (Dolly-ja, Alpaca-ja seed, JSQuAD,
JCommonsenseQA), instructions of 100+ characters have a median hiragana share of
0.21, so 0.2 would drop half of the good ones. We use nwc-toolkit's sentence-level
rule instead (the NWJC corpus filter: hiragana ≥ 5% and Japanese characters ≥ 70%
per sentence), with the Japanese share lowered to 0.1 because instruction prose
legitimately quotes English names and terms (「Serena Williams、PV Sindhu、Maria
Sharapova…は女性です。」 has 0.15, and is a correct answer),
and only on prose of at least 200 visible characters. Why so long: we read
every output of the default sources below 0.05 hiragana at the 30- and
80-character marks, and all of them were correct answers made of names
(「ピート・サンプラス（1回戦） マイケル・チャン（1回戦）…」, 「Feluda（Prodosh
Chandra Mitter）、Topshe…です。」) or timetables, not broken text; short
instruction fields are dense with katakana and Latin names by nature. Lists and
code are exempt at any length, and so are English-expected fields.
"""

from __future__ import annotations

import polars as pl

from jinstruct.filters.base import Check, CheckGroup, ExprFilter
from jinstruct.filters.fields import FieldContext
from jinstruct.text.scripts import hiragana_fraction, japanese_fraction


class ScriptFilter(ExprFilter):
    name = "script"

    def __init__(self, params: dict):
        self.min_chars = int(params["min_chars"])
        self.min_hiragana = float(params["min_hiragana"])
        self.min_japanese = float(params["min_japanese"])

    def check_groups(self, fields: FieldContext) -> list[CheckGroup]:
        groups = []
        for name in fields.text_fields:
            applies = (fields.lang(name) == "ja") & fields.is_prose(name) & (fields.length(name) >= self.min_chars)
            japanese = japanese_fraction(name, fields.length(name))
            hiragana = hiragana_fraction(name, fields.length(name))
            groups.append(CheckGroup(applies, [
                Check("low_japanese", japanese < self.min_japanese,
                      pl.format("{}: japanese {} < {}", pl.lit(name), japanese.round(3), pl.lit(self.min_japanese))),
                Check("low_hiragana", hiragana < self.min_hiragana,
                      pl.format("{}: hiragana {} < {}", pl.lit(name), hiragana.round(3), pl.lit(self.min_hiragana))),
            ]))
        return groups
