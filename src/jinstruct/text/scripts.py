"""Character classes of Japanese text, as regexes and polars expressions.

One place for "what counts as a Japanese character", shared by the filters
(script ratios, language checks, symbol-heavy text). The classes use Unicode
script properties, which polars' regex engine (Rust ``regex``) understands.

Japanese characters follow nwc-toolkit's text-filter (the NWJC corpus tool):
hiragana, katakana (with the prolonged sound mark ー), and CJK ideographs, plus
the iteration marks 々〆〇 and the Japanese punctuation 、。「」『』・ that
only Japanese text uses in running prose.
"""

from __future__ import annotations

import polars as pl

HIRAGANA = r"\p{Hiragana}"
KATAKANA = r"[\p{Katakana}ー]"
KANA = r"[\p{Hiragana}\p{Katakana}ー]"
HAN = r"\p{Han}"
JAPANESE = r"[\p{Hiragana}\p{Katakana}\p{Han}ー々〆〇、。「」『』・]"
LATIN_LETTER = r"[A-Za-z\p{Latin}]"
WHITESPACE = r"\s"
# Letters of scripts that are neither Japanese nor Latin (Hangul, Cyrillic, Thai ...).
OTHER_SCRIPT_LETTER = r"[\p{L}&&[^\p{Latin}\p{Han}\p{Hiragana}\p{Katakana}ー々〆]]"
# Letters and digits of any script: everything else is punctuation or a symbol.
WORD_CHARACTER = r"[\p{L}\p{N}]"

# Frequent simplified-Chinese characters whose Japanese forms differ (说/説,
# 时/時, 对/対, 发/発, 东/東 ...) or that Japanese does not use at all (们, 这,
# 么, 谁). A short text holding one of these and no kana is Chinese even when it
# is too short for fastText to be trusted. Shared forms such as 来 or 没 are
# deliberately absent.
SIMPLIFIED_ONLY = "们这说时对为个么过还发经见让认识语请读谁话该爱东车门问间长马鸟鱼习业从众传优给结题观应"
SIMPLIFIED_CHINESE = f"[{SIMPLIFIED_ONLY}]"


def _col(text: str | pl.Expr) -> pl.Expr:
    return pl.col(text) if isinstance(text, str) else text


def visible_length(text: str | pl.Expr) -> pl.Expr:
    """Characters that are not whitespace (the denominator of every ratio)."""
    return _col(text).str.replace_all(WHITESPACE, "").str.len_chars()


def count(text: str | pl.Expr, pattern: str) -> pl.Expr:
    return _col(text).str.count_matches(pattern)


def fraction(text: str | pl.Expr, pattern: str, length: pl.Expr | None = None) -> pl.Expr:
    """Share of the visible characters matching ``pattern``; 0 for empty text.

    Pass ``length`` when the visible length is already a column, to save a pass.
    """
    length = visible_length(text) if length is None else length
    return pl.when(length > 0).then(count(text, pattern) / length).otherwise(0.0)


def hiragana_fraction(text: str | pl.Expr, length: pl.Expr | None = None) -> pl.Expr:
    return fraction(text, HIRAGANA, length)


def japanese_fraction(text: str | pl.Expr, length: pl.Expr | None = None) -> pl.Expr:
    return fraction(text, JAPANESE, length)


def has_kana(text: str | pl.Expr) -> pl.Expr:
    return _col(text).str.contains(KANA)


def symbol_fraction(text: str | pl.Expr, length: pl.Expr | None = None) -> pl.Expr:
    """Share of visible characters that are neither letters nor digits of any script."""
    length = visible_length(text) if length is None else length
    return pl.when(length > 0).then(1.0 - count(text, WORD_CHARACTER) / length).otherwise(0.0)
