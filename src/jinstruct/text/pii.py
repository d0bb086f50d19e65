"""PII masking: e-mail addresses, Japanese phone numbers, postal codes, card numbers.

Runs as the last step of normalisation, so full-width digits are already ASCII
(０９０ → 090) and a full-width hyphen between digits is already "-". Each kind
is replaced by a placeholder (``<EMAIL>``, ``<PHONE>``, ``<POSTAL>``, ``<CARD>``).

Each kind has a cheap polars trigger that picks the few rows that can hold it.
E-mail is then one polars regex. Phones, postal codes and cards need look-around
(a phone number must not be a slice of a longer digit run), digit counting and
the Luhn checksum, which polars' regex engine cannot express, so Python's ``re``
runs on that batch of rows only (on Dolly: ~1% of the fields).

Look-alikes that must survive: dates (2024-01-15), prices (1,234,567円), years,
ISBNs (978-4-...), JAN codes (13 digits), times (10:30), versions (1.2.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

PLACEHOLDERS = {"email": "<EMAIL>", "card": "<CARD>", "phone": "<PHONE>", "postal": "<POSTAL>"}

_EMAIL = (r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
          r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}")

# The patterns below run with re.ASCII (\d is 0-9): full-width digits were folded by the rules.

# Dash-like separators people type in phone numbers, including the long-vowel
# mark ー that Japanese IMEs produce for "-" (090ー1234ー5678).
_DASH = "[-‐‑‒–—―−－ー]"
_NOT_AFTER = r"(?<![0-9A-Za-z.\-‐－ー])"   # not the tail of a longer number or word
_NOT_BEFORE = rf"(?!{_DASH}?[0-9])(?![A-Za-z])"

# --- cards: 14-19 digits, contiguous or in the printed 4-4-4-4(-3) / 4-6-5 / 4-6-4 groups.
_CARD = re.compile(
    rf"{_NOT_AFTER}(?:\d{{4}}([ -])\d{{4}}\1\d{{4}}\1\d{{4}}(?:\1\d{{3}})?"   # 4-4-4-4(-3), one separator
    rf"|\d{{4}}([ -])\d{{6}}\2\d{{4,5}}"                                      # 4-6-5 / 4-6-4
    rf"|\d{{14,19}}){_NOT_BEFORE}", re.ASCII)

# --- phones: domestic numbers start with 0; +81 drops it. Separators: dash-likes,
# parentheses around the area code, or (for +81 forms) spaces.
_PHONE = re.compile(
    rf"{_NOT_AFTER}(?:"
    rf"\+81[ \-]?(?:\(0\))?\d{{1,4}}(?:[ \-]?\d{{1,4}})?[ \-]?\d{{4}}"      # +81 90-1234-5678, +81 3 1234 5678
    rf"|\(0\d{{1,4}}\)\s?\d{{1,4}}{_DASH}\d{{4}}"                         # (03)1234-5678
    rf"|0\d{{1,4}}\(\d{{1,4}}\)\d{{4}}"                                    # 03(1234)5678
    rf"|0\d{{1,4}}{_DASH}\d{{1,4}}{_DASH}\d{{3,4}}"                        # 03-1234-5678, 0120-123-456
    rf"|0\d{{9,10}}"                                                       # 0312345678, 09012345678
    rf"){_NOT_BEFORE}", re.ASCII)

# --- postal codes: 〒 always; a bare 123-4567 only with address context around it.
_PREFECTURE = r"(?:東京都|北海道|大阪府|京都府|[\u4e00-\u9fff]{2,3}県)"
_AFTER_POSTAL_LABEL = "(?:" + "|".join(f"(?<=郵便番号{gap})" for gap in ("", ":", "：", ": ", "： ", " ")) + ")"
_POSTAL = re.compile(
    rf"〒\s?\d{{3}}{_DASH}?\d{{4}}(?!\d)"
    rf"|{_AFTER_POSTAL_LABEL}\d{{3}}{_DASH}?\d{{4}}(?!\d)"
    rf"|{_NOT_AFTER}\d{{3}}{_DASH}\d{{4}}(?=\s?{_PREFECTURE})", re.ASCII)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number carries (ISO/IEC 7812-1)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _card_or_keep(match: re.Match) -> str:
    digits = _digits(match.group(0))
    # Issuer ranges start with 2-6 (Mastercard 2/5, Amex/JCB/Diners 3, Visa 4, Discover/UnionPay 6);
    # this keeps ISBN-13 (978/979…) and other 9-led codes out even when Luhn passes by chance.
    if 14 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits):
        return PLACEHOLDERS["card"]
    return match.group(0)


def _phone_or_keep(match: re.Match) -> str:
    text = match.group(0)
    digits = _digits(text)
    national = "0" + digits[2:].removeprefix("0") if text.startswith("+81") else digits
    # Japanese numbers have 10 digits (landline, 0120, 0570) or 11 (050/070/080/090 and 0800).
    valid = (len(national) == 10 and national[1] != "0") or (
        len(national) == 11 and (national[:3] in ("050", "070", "080", "090") or national[:4] == "0800"))
    return PLACEHOLDERS["phone"] if valid else text


# Anything that may sit between the digit groups of a phone number.
_TRIGGER_SEPARATORS = r"[()\s\-‐‑‒–—―−－ー]{0,2}"


def _in_python(mask_one: Callable[[str], str]) -> Callable[[pl.Series], pl.Series]:
    return lambda series: pl.Series(series.name, [None if text is None else mask_one(text) for text in series],
                                    dtype=pl.String)


@dataclass(frozen=True)
class Masker:
    """One PII kind: ``mask`` rewrites a batch of texts; ``trigger`` (a polars
    regex) is found in every text that ``mask`` would change, so only those rows
    are handed to it."""

    kind: str
    trigger: str
    mask: Callable[[pl.Series], pl.Series]


MASKERS: tuple[Masker, ...] = (
    Masker("email", "@", lambda series: series.str.replace_all(_EMAIL, PLACEHOLDERS["email"])),
    Masker("card", r"[0-9]{4}[ \-]?[0-9]{4,6}[ \-]?[0-9]{4}", _in_python(lambda text: _CARD.sub(_card_or_keep, text))),
    Masker("phone", rf"\+81|0[0-9]{{1,4}}{_TRIGGER_SEPARATORS}[0-9]{{1,4}}{_TRIGGER_SEPARATORS}[0-9]{{3}}",
           _in_python(lambda text: _PHONE.sub(_phone_or_keep, text))),
    Masker("postal", r"[0-9]{3}[\-‐‑‒–—―−－ー]?[0-9]{4}",
           _in_python(lambda text: _POSTAL.sub(PLACEHOLDERS["postal"], text))),
)
PII_KINDS = tuple(masker.kind for masker in MASKERS)
_MASKERS_BY_KIND = {masker.kind: masker for masker in MASKERS}


def masker(kind: str) -> Masker:
    return _MASKERS_BY_KIND[kind]


def mask_series(series: pl.Series, kind: str) -> pl.Series:
    """``series`` with one PII kind masked (nulls stay null; the input is not modified)."""
    candidates = series.str.contains(masker(kind).trigger).fill_null(False).arg_true()
    if candidates.len() == 0:
        return series
    return series.clone().scatter(candidates, masker(kind).mask(series.gather(candidates)))


def mask_text(text: str, kinds: tuple[str, ...] = PII_KINDS) -> str:
    """One string, for callers outside a frame (benchmarks, notebooks)."""
    series = pl.Series([text], dtype=pl.String)
    for kind in PII_KINDS:
        if kind in kinds:
            series = mask_series(series, kind)
    return series[0]
