"""Japanese-aware text normalisation: the rule table of docs/normalization.md.

Every rule is one polars expression over a whole text column, applied in the
order of ``RULES`` and switchable by name (``normalize.rules.<name>`` in
params.yaml). The table in docs/normalization.md documents the same rules with
an example each; tests/text/test_normalize.py walks that table against this module.

Plain NFKC is deliberately not used: it folds meaning-bearing characters (… →
..., ① → 1, ～ → ~, ㍻ → 平成 but ㎡ → m2). Instead each fold we want is an
explicit literal map (built once from ``unicodedata`` and applied with
Aho-Corasick ``str.replace_many``) or a regex.

polars' regex engine has no look-around, so a rule that needs "between two X"
captures the neighbours and writes them back; where neighbouring matches can
overlap ("あ い う"), the replacement runs twice, which is enough because the
matches a first pass skips never overlap each other.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

import polars as pl

Transform = Callable[[pl.Expr], pl.Expr]


@dataclass(frozen=True)
class Rule:
    """One row of the table.

    ``trigger`` is a regex found in every text the rule would change (a test
    checks it on every example): ``normalize_records`` runs the rule only on the
    rows that contain it, which is cheaper than rewriting every string (on
    Dolly, NFC has work in 1% of the fields).
    """

    name: str
    apply: Transform
    trigger: str | tuple[str, ...]   # several regexes: any of them (an alternation can scan slower)
    # A character class one of whose members every change of this rule involves.
    # Rules that have one run only on the rows holding a character outside
    # ``plain_characters()`` (70% of Dolly's rows hold none, so 11 scans shrink).
    key_chars: str | None = None


def _twice(pattern: str, replacement: str) -> Transform:
    """A capture-and-restore replacement whose neighbouring matches may overlap."""
    return lambda expr: expr.str.replace_all(pattern, replacement).str.replace_all(pattern, replacement)


def _literal_map(mapping: dict[str, str]) -> Transform:
    # Longest pattern first with leftmost-first matching: "ｶﾞ" wins over "ｶ".
    patterns = sorted(mapping, key=lambda key: (-len(key), key))
    replacements = [mapping[key] for key in patterns]
    return lambda expr: expr.str.replace_many(patterns, replacements, leftmost=True)


# --------------------------------------------------------------------------- literal maps


@cache
def halfwidth_katakana_map() -> dict[str, str]:
    """ﾊﾝｶｸ (U+FF61–U+FF9F) → full width, a base plus ﾞ/ﾟ → one precomposed kana.

    A voicing mark that cannot compose (ｱﾞ) becomes the spacing full-width mark
    (ア゛) rather than NFKC's combining U+3099, which would float over nothing.
    """
    mapping = {chr(code): unicodedata.normalize("NFKC", chr(code)) for code in range(0xFF61, 0xFFA0)}
    mapping["\uff9e"], mapping["\uff9f"] = "\u309b", "\u309c"
    for code in range(0xFF66, 0xFF9E):
        for mark in ("\uff9e", "\uff9f"):
            composed = unicodedata.normalize("NFKC", chr(code) + mark)
            if len(composed) == 1:
                mapping[chr(code) + mark] = composed
    return mapping


@cache
def kana_voicing_map() -> dict[str, str]:
    """か + U+3099 (combining) or か + ゛ (spacing U+309B) → が; likewise ぱ with U+309A/゜.

    Only pairs with a precomposed kana are mapped, so あ゛ (an expressive
    spelling with no precomposed form) stays as written.
    """
    spacing = {"3099": "\u309b", "309A": "\u309c"}
    mapping = {}
    for code in range(0x3041, 0x3100):
        decomposition = unicodedata.decomposition(chr(code)).split()
        if len(decomposition) == 2 and decomposition[1] in spacing:
            base = chr(int(decomposition[0], 16))
            mapping[base + chr(int(decomposition[1], 16))] = chr(code)
            mapping[base + spacing[decomposition[1]]] = chr(code)
    return mapping


# Letters and digits, plus the ASCII symbols that have no role in Japanese
# typography. ！？（）：；，．［］｛｝＂＇ stay: they are ordinary Japanese punctuation.
_FULLWIDTH_TECHNICAL = "＃＄％＆＊＋／＜＝＞＠＼＾＿｀｜"


@cache
def fullwidth_ascii_map() -> dict[str, str]:
    characters = [chr(code) for code in range(0xFF10, 0xFF1A)]           # ０-９
    characters += [chr(code) for code in range(0xFF21, 0xFF3B)]          # Ａ-Ｚ
    characters += [chr(code) for code in range(0xFF41, 0xFF5B)]          # ａ-ｚ
    characters += list(_FULLWIDTH_TECHNICAL)
    return {char: chr(ord(char) - 0xFEE0) for char in characters}


@cache
def compat_squares_map() -> dict[str, str]:
    """Squared words, units and era names (U+3300–U+33FF, ㋿) spelled out; ㈱ → （株）.

    One level of the compatibility decomposition is used, not NFKC, so ㎡ becomes
    m² (NFKC would give m2).
    """
    mapping = {}
    for code in [*range(0x3300, 0x3400), 0x32FF]:
        fields = unicodedata.decomposition(chr(code)).split()
        if fields and fields[0] in ("<square>", "<compat>"):
            mapping[chr(code)] = unicodedata.normalize("NFC", "".join(chr(int(f, 16)) for f in fields[1:]))
    for code in range(0x3220, 0x3244):  # parenthesised ideographs ㈠…㈱…
        fields = unicodedata.decomposition(chr(code)).split()
        mapping[chr(code)] = "（" + "".join(chr(int(f, 16)) for f in fields[2:-1]) + "）"
    return mapping


# --------------------------------------------------------------------------- character classes

# Zero-width and invisible format characters: ZWSP, ZWNJ, ZWJ, word joiner,
# BOM / ZWNBSP, Mongolian vowel separator, soft hyphen, bidi marks and controls.
_INVISIBLE = r"[\x{200B}-\x{200F}\x{2060}-\x{2064}\x{FEFF}\x{180E}\x{00AD}\x{202A}-\x{202E}\x{2066}-\x{2069}]"
# C0 except tab, LF and CR (CR belongs to the newlines rule), DEL, C1.
_CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"
# Hyphen- and minus-like characters typed or converted in place of ー. Left out
# on purpose: the ASCII hyphen-minus (joins transliterated words: ジャン-ポール),
# and the en dash, em dash and horizontal bar (ロンドン–パリ is a route,
# ソフト—つまり a parenthesis).
_HYPHENS = r"\x{2010}\x{2011}\x{2212}\x{2500}\x{2501}\x{FE63}\x{FF0D}\x{FF70}"
_KATAKANA = r"\p{Katakana}\x{30FC}"
# Characters that make a neighbouring space meaningless: hiragana, kanji, the
# CJK symbols block (。、「」『』〜…) and full-width punctuation (！？（）) —
# and katakana, except between two katakana words, where the space is the word
# boundary of a transliteration (トヨタ カローラ, ジョン スミス).
_JAPANESE_NOT_KATAKANA = r"\p{Hiragana}\p{Han}\x{3001}-\x{303F}\x{30FB}\x{FF01}-\x{FF65}"
_JAPANESE = _JAPANESE_NOT_KATAKANA + _KATAKANA
_NEWLINES = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"}
# A run of spaces after a visible character (indentation at a line start is kept).
_SPACE_RUN = r"(\S)(?:[ \x{3000}]{2,}|\x{3000})"
# Unicode spaces other than ASCII and ideographic: NBSP, en/em spaces, thin, narrow NBSP…
_SPACE_VARIANTS = r"[\x{00A0}\x{2000}-\x{200A}\x{202F}\x{205F}]"


def _char_class(characters: Iterable[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(char):X}}}" for char in sorted(set(characters))) + "]"


# Characters NFC leaves alone wherever they stand: ASCII to IPA, general
# punctuation (dashes, quotes, …), circled numbers, CJK symbols (minus the
# combining tone marks U+302A-302F), kana (minus the combining voicing marks),
# unified kanji, half/full-width forms. Only a text with some other character can
# change under NFC (tests/text/test_normalize.py checks the ranges against Unicode).
NFC_STABLE_RANGES = ((0x0000, 0x02FF), (0x2010, 0x2027), (0x2030, 0x205E), (0x2460, 0x24FF),
                     (0x3000, 0x3029), (0x3030, 0x3098), (0x309B, 0x30FF), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF))
_NFC_TRIGGER = "[^" + "".join(f"\\x{{{low:04X}}}-\\x{{{high:04X}}}" for low, high in NFC_STABLE_RANGES) + "]"


def _fullwidth_ascii(expr: pl.Expr) -> pl.Expr:
    expr = _literal_map(fullwidth_ascii_map())(expr)
    # Inside ASCII text ．，：－ are the ASCII . , : - (３．１４, ０９０－１２３４);
    # between Japanese words they stay (the ，．style of academic writing).
    for wide, narrow in (("．", "."), ("，", ","), ("：", ":"), ("－", "-")):
        expr = _twice(f"([A-Za-z0-9]){wide}([A-Za-z0-9])", "${1}" + narrow + "${2}")(expr)
    return expr


def _spaces_between_japanese(expr: pl.Expr) -> pl.Expr:
    # Japanese on both sides, and at least one side not katakana; groups of the
    # alternative that did not match are replaced by "".
    space = r"[ \x{3000}]+"
    pattern = f"([{_JAPANESE}]){space}([{_JAPANESE_NOT_KATAKANA}])|([{_JAPANESE_NOT_KATAKANA}]){space}([{_JAPANESE}])"
    return _twice(pattern, "${1}${2}${3}${4}")(expr)


def _class_rule(name: str, apply: Transform, character_class: str) -> Rule:
    """A rule that acts on the characters of one class: the class is both its trigger and its key."""
    return Rule(name, apply, character_class, character_class)


# --------------------------------------------------------------------------- the table

RULES: tuple[Rule, ...] = (
    _class_rule("newlines", _literal_map(_NEWLINES), _char_class(key[0] for key in _NEWLINES)),
    _class_rule("invisible_chars", lambda e: e.str.replace_all(_INVISIBLE, ""), _INVISIBLE),
    _class_rule("control_chars", lambda e: e.str.replace_all(_CONTROL, ""), _CONTROL),
    _class_rule("halfwidth_katakana", _literal_map(halfwidth_katakana_map()), r"[\x{FF61}-\x{FF9F}]"),
    _class_rule("kana_voicing", _literal_map(kana_voicing_map()), r"[\x{3099}-\x{309C}]"),
    # Canonical composition only (é from e + U+0301); no compatibility folds.
    _class_rule("unicode_nfc", lambda e: e.str.normalize("NFC"), _NFC_TRIGGER),
    Rule("fullwidth_ascii", _fullwidth_ascii, _char_class(fullwidth_ascii_map()) + "|[A-Za-z0-9][．，：－]",
         _char_class([*fullwidth_ascii_map(), *"．，：－"])),
    _class_rule("wave_dash", lambda e: e.str.replace_all("～", "〜", literal=True), "[～]"),
    # After a katakana, unless a letter or digit follows (ボーイング－747 keeps its dash)
    # or the dash is doubled (―― is a Japanese dash).
    Rule("katakana_long_vowel", _twice(f"([{_KATAKANA}])[{_HYPHENS}]([^A-Za-z0-9{_HYPHENS}]|$)", "${1}ー${2}"),
         f"[{_KATAKANA}][{_HYPHENS}]", f"[{_HYPHENS}]"),
    _class_rule("compat_squares", _literal_map(compat_squares_map()), _char_class(compat_squares_map())),
    _class_rule("space_variants", lambda e: e.str.replace_all(_SPACE_VARIANTS, " "), _SPACE_VARIANTS),
    # The rules below only delete whitespace or turn it into ASCII spaces: they never
    # bring in a character outside plain_characters(), so rows skipped above stay skippable.
    Rule("spaces_between_japanese", _spaces_between_japanese, f"[{_JAPANESE}][ \\x{{3000}}]"),
    Rule("space_runs", lambda e: e.str.replace_all(_SPACE_RUN, "${1} "), r"  |\x{3000}"),
    Rule("trailing_spaces", lambda e: e.str.replace_all(r"[ \t\x{3000}]+\n", "\n"), r"[ \t\x{3000}]\n"),
    Rule("blank_lines", lambda e: e.str.replace_all(r"\n{3,}", "\n\n"), r"\n\n\n"),
    Rule("strip", lambda e: e.str.strip_chars(), (r"^\s", r"\s\z")),
)

RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in RULES)
_RULES_BY_NAME = {rule.name: rule for rule in RULES}


def rule_by_name(name: str) -> Rule:
    return _RULES_BY_NAME[name]


def contains_trigger(expr: pl.Expr, trigger: str | tuple[str, ...]) -> pl.Expr:
    """Whether ``expr`` holds the trigger (any of its regexes); null counts as no."""
    patterns = (trigger,) if isinstance(trigger, str) else trigger
    return pl.any_horizontal([expr.str.contains(pattern).fill_null(False) for pattern in patterns])


@cache
def plain_characters() -> str:
    """A regex class of the characters no rule with ``key_chars`` acts on.

    Derived from the table, not written by hand: the NFC-stable characters that
    match none of the rules' key characters. A row made of these alone skips
    every such rule.
    """
    codes = [code for low, high in NFC_STABLE_RANGES for code in range(low, high + 1)]
    characters = pl.DataFrame({"c": [chr(code) for code in codes]})
    is_key = pl.any_horizontal([pl.col("c").str.contains(r.key_chars) for r in RULES if r.key_chars])
    plain = [code for code, key in zip(codes, characters.select(is_key).to_series()) if not key]
    ranges = [[plain[0], plain[0]]]
    for code in plain[1:]:
        if code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in ranges) + "]"


def rare_character() -> str:
    """A regex matching any character outside ``plain_characters()``."""
    return "[^" + plain_characters()[1:]


def normalize_expr(expr: pl.Expr | str, enabled: tuple[str, ...] = RULE_NAMES) -> pl.Expr:
    """All ``enabled`` rules, in table order, as one expression (no stats, no PII)."""
    result = pl.col(expr) if isinstance(expr, str) else expr
    for each in RULES:
        if each.name in enabled:
            result = each.apply(result)
    return result
