"""Noise: broken encodings, markup remnants, URL-only or symbol-heavy text, truncation.

Removes:

- ``mojibake``: a U+FFFD replacement character (bytes lost in a decode), or two
  or more traces of a known mis-decoding: UTF-8 Japanese read as Latin-1/cp1252
  (「ã\x81\x82」「ã€」 for あ and 、), Shift-JIS read as cp1252 (‚± ‚ñ for こ ん),
  or UTF-8 read as Shift-JIS (縺 繧 繝, kanji that real text practically never
  uses, standing for the bytes E3 81/82/83 that start every kana).
- ``markup``: at least ``markup_min`` HTML tags, HTML entities or Markdown
  link/image syntax in a field that is not code (scraping leftovers; an answer
  that *is* HTML is code and exempt).
- ``url_only``: a field that is nothing but URLs.
- ``symbol_heavy``: a field of at least ``symbol_min_chars`` visible characters
  where letters and digits (of any script) are less than
  ``1 - symbol_max_fraction`` of it; only prose is checked (code, tables and
  enumerations such as 「'北'、'南'、'北'」 are symbol-dense by design). Japanese prose runs at
  about 10-15% punctuation; 0.6 is far above any natural text (formulas such as
  ``p(a/b) = p(b/a) * p(a) / p(b)`` reach 0.57) and catches ASCII
  art, separator lines and emoji strings. Gopher (Rae et al., 2021, App. A)
  uses a symbol-to-word ratio of 0.1 for web text; word counts are not
  meaningful for Japanese, so the character share is used instead.
- ``ellipsis_ending``: prose whose lines end in an ellipsis in more than
  ``ellipsis_max_fraction`` of its lines (truncated text). Both … (and ‥, ・・・)
  and ... count, so that normalisation choices cannot weaken the rule. Gopher
  uses 0.3 for lines ending with an ellipsis; Swallow (Okazaki et al., 2024)
  0.2. We use 0.3 on texts of three or more lines; a shorter text counts when it
  *ends* in an ellipsis and has at least ``ellipsis_single_line_min_chars``
  characters, because a short sentence may trail off on purpose (Tanaka:
  "finally they said ..."), while a long paragraph ending in … was cut off. An
  ellipsis right after a finished sentence (「…確保する。...」, a step list's
  style in Dolly-ja) is not a cut and does not count. Instructions and inputs are exempt
  (「次の文を完成させてください: 昔々…」).
"""

from __future__ import annotations

import polars as pl

from jinstruct.filters.base import Check, CheckGroup, ExprFilter
from jinstruct.filters.fields import FieldContext
from jinstruct.text.scripts import symbol_fraction

REPLACEMENT_CHARACTER = "\ufffd"
CP1252_CONTINUATION = "\u0080-\u00bf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
MOJIBAKE = (rf"ã[{CP1252_CONTINUATION}]"            # UTF-8 E3 xx (kana, punctuation) read as Latin-1/cp1252
            rf"|[äåæçè][{CP1252_CONTINUATION}]{{2}}"  # UTF-8 kanji (E4-E9 xx xx) read as Latin-1/cp1252
            r"|‚[\u00a0-\u00ff]|ƒ[\u00a0-\u00ff]"     # Shift-JIS kana (82 xx, 83 xx) read as cp1252
            r"|[縺繧繝]")                             # UTF-8 kana bytes read as Shift-JIS
MARKUP = (r"</?(?:div|span|p|br|a|img|table|tr|td|th|li|ul|ol|script|style|h[1-6]|b|i|em|strong)\b[^>]*>"
          r"|&(?:nbsp|amp|lt|gt|quot|apos|#\d{2,5}|#x[0-9a-fA-F]{2,4});"
          r"|!?\[[^\]\n]*\]\([^)\s]+\)")
URL = r"(?:https?://|www\.)\S+"
URLS_ONLY = rf"^\s*(?:{URL}\s*)+$"
# An ellipsis ending a line, not right after a finished sentence (「…する。...」 is a style, not a cut).
ELLIPSIS_LINE_END = r"(?m)[^。．!！?？\s][ \t]*(?:…|‥|\.\.\.|・・・)[ \t]*$"
LAST_LINE_ELLIPSIS = r"[^。．!！?？\s][ \t]*(?:…|‥|\.\.\.|・・・)\s*$"
MOJIBAKE_MARKERS = list("ãäåæçè‚ƒ縺繧繝")


def only_if_any(text: pl.Expr, markers: list[str]) -> pl.Expr:
    """``text`` where it holds one of the literal ``markers``, else "": a cheap Aho-Corasick scan that
    spares the costly regex on the (many) texts that cannot match it."""
    return pl.when(text.str.contains_any(markers)).then(text).otherwise(pl.lit(""))


class NoiseFilter(ExprFilter):
    name = "noise"

    def __init__(self, params: dict):
        self.mojibake_min = int(params["mojibake_min"])
        self.markup_min = int(params["markup_min"])
        self.symbol_min_chars = int(params["symbol_min_chars"])
        self.symbol_max_fraction = float(params["symbol_max_fraction"])
        self.ellipsis_max_fraction = float(params["ellipsis_max_fraction"])
        self.ellipsis_exempt_fields = set(params["ellipsis_exempt_fields"])
        self.ellipsis_single_line_min_chars = int(params["ellipsis_single_line_min_chars"])

    def check_groups(self, fields: FieldContext) -> list[CheckGroup]:
        return [CheckGroup(fields.length(name) > 0, self._field_checks(fields, name)) for name in fields.text_fields]

    def _field_checks(self, fields: FieldContext, name: str) -> list[Check]:
        checks = []
        text = pl.col(name)
        not_code = fields.kind(name) != "code"
        replacement = text.str.contains(REPLACEMENT_CHARACTER, literal=True)
        traces = only_if_any(text, MOJIBAKE_MARKERS).str.count_matches(MOJIBAKE)
        checks.append(Check("mojibake", replacement | (traces >= self.mojibake_min),
                            pl.format("{}: {} U+FFFD, {} mis-decoding traces", pl.lit(name),
                                      text.str.count_matches(REPLACEMENT_CHARACTER, literal=True), traces)))
        markup = only_if_any(text, ["<", "&", "]("]).str.count_matches(MARKUP)
        checks.append(Check("markup", not_code & (markup >= self.markup_min),
                            pl.format("{}: {} HTML/Markdown remnants", pl.lit(name), markup)))
        checks.append(Check("url_only", only_if_any(text, ["http", "www."]).str.contains(URLS_ONLY),
                            f"{name}: only URLs"))
        symbols = symbol_fraction(name, fields.length(name))
        checks.append(Check("symbol_heavy", fields.is_prose(name) & (fields.length(name) >= self.symbol_min_chars)
                            & (symbols > self.symbol_max_fraction),
                            pl.format("{}: {} of characters are symbols", pl.lit(name), symbols.round(2))))
        if name not in self.ellipsis_exempt_fields:
            checks.append(self._ellipsis_check(fields, name))
        return checks

    def _ellipsis_check(self, fields: FieldContext, name: str) -> Check:
        text = pl.col(name)
        lines = text.str.strip_chars().str.count_matches(r"(?m)^.*\S.*$")
        ending = only_if_any(text, ["…", "‥", "...", "・・・"]).str.count_matches(ELLIPSIS_LINE_END)
        share = pl.when(lines > 0).then(ending / lines).otherwise(0.0)
        many_lines = (lines >= 3) & (share > self.ellipsis_max_fraction)
        cut_at_the_end = ((lines < 3) & (fields.length(name) >= self.ellipsis_single_line_min_chars)
                          & text.str.contains(LAST_LINE_ELLIPSIS))
        truncated = (fields.kind(name) != "code") & (ending > 0) & (many_lines | cut_at_the_end)
        return Check("ellipsis_ending", truncated,
                     pl.format("{}: {} of {} lines end in an ellipsis", pl.lit(name), ending, lines))
