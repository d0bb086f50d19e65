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

import functools

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
# Traditional forms whose Japanese (shinjitai) form differs (們/们, 這/这, 說/説,
# 對/対, 國/国, 學/学, 會/会, 來/来, 發/発, 經/経, 體/体 ...), and Chinese
# function words and pronouns that Japanese text does not use (你, 您, 她, 它,
# 吗, 呢, 吧, 啊, 很, 哪, 怎, 咱). Forms that survive in Japanese names (廣, 澤,
# 邊, 濱, 齋, 櫻, 萬) and words Japanese shares (他, 的, 了, 是, 在, 没) are absent.
CHINESE_ONLY = (SIMPLIFIED_ONLY + "們這說對學會來點麼嗎發裡當從與讓讀氣經歲總變體聽覺樂醫實應寫錢歡關賣樣兒腦灣"
                "壞獨黨歷據處數區舊藝圖燈將沒你您她它吗呢吧啊喔哦嘛很哪怎咱吃喝买卖钱饭边头欢实样")
CHINESE_CHARACTER = f"[{CHINESE_ONLY}]"
# Han ranges of Unicode: the unified ideographs, extension A and the compatibility block.
HAN_BLOCKS = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)]


@functools.lru_cache(maxsize=1)
def han_outside_japanese_charset() -> str:
    """A regex class of the Han characters that Shift_JIS (cp932: JIS X 0208 plus the NEC/IBM
    extensions every Japanese PC has) cannot encode: most simplified Chinese forms (热, 资, 汤)
    and rare characters. The supplementary planes (extension B on) are left out: they hold the
    rare Japanese name characters (𠮷) as well as Chinese ones."""
    outside = [code for low, high in HAN_BLOCKS for code in range(low, high + 1)
               if not _encodes(chr(code), "cp932")]
    runs: list[list[int]] = []
    for code in outside:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "[" + "".join(f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in runs) + "]"


def _encodes(character: str, encoding: str) -> bool:
    try:
        character.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


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
