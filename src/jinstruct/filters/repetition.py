"""Repetition: repeated character n-grams, runs of one character, repeated lines and sentences.

Removes the degenerate text that generation loops and scraping produce:

- ``char_run``: one non-space character repeated ``max_char_run`` or more times
  in a row (「ああああああああああ」, 「！！！！！！！！！！」). No Japanese sentence
  needs ten identical characters; 「ーー」 dashes and 「！！！」 emphasis stay
  well below that. Layout characters (``-----`` table borders, ``=====``
  rules, dotted leaders) and code are exempt.
- ``repeated_lines``: more than ``max_duplicate_line_fraction`` of the non-empty
  lines are copies of another line (texts of at least ``min_lines`` lines; code
  exempt). Gopher (Rae et al., 2021, App. A, Table A1) uses 0.30 for the
  duplicate-line fraction of web documents; in instruction answers lines
  repeat legitimately (a list of each item's country 「- 米国 - 米国 - 日本」, a
  song's chorus), so the bound here is 0.5: half the text a copy of the rest.
- ``repeated_sentences``: the same for sentences (split on 。！？!? and line
  ends) in prose, at least ``min_sentences`` sentences.
- ``repeated_ngrams``: in prose of at least ``ngram_min_chars`` characters, the
  share of character ``ngram``-grams that occur more than once exceeds
  ``max_duplicate_ngram_fraction``. Gopher's "duplicate
  n-gram character fraction" for word 5- to 10-grams is 0.15 to 0.10; Japanese
  has no spaces, so we count character 10-grams (about five Japanese words).
  Measured on the 7,198 Dolly-ja and Alpaca-ja outputs of 100+ characters, the
  share is 0.04 at the 90th percentile, 0.26 at the 99.5th and 0.61 at the
  99.9th: answers restate the question's terms, so the bound is 0.5, which only
  loops and copy-paste blocks exceed.

The n-gram and sentence rules apply to the fields in ``prose_fields`` (default
instruction and output; a JSQuAD input restates its context in the question),
and not to lists: 「- アリストテレス彗星 - ハレー彗星」
repeats its suffix by design. The signals are computed in Python once per
distinct text (polars' regex engine has no back-references).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

import polars as pl

from jinstruct.filters.base import DETAIL, REASON, Filter
from jinstruct.filters.fields import FieldContext

# Runs of these are layout (Markdown rules, table borders, dotted leaders), not degeneration.
FORMATTING_CHARACTERS = re.escape("-=_*~.#|+・…‥─━")
SENTENCE_SPLIT = re.compile(r"[。！？!?\n]+")
SENTENCE_END = r"[。！？!?]"
WORD = re.compile(r"\w")
WHITESPACE = re.compile(r"\s+")


def char_runs(texts: list[str], at_least: int) -> dict[int, tuple[int, str]]:
    """Index of each text holding a run of one non-space, non-layout character ``at_least`` long ->
    (run length, character). One C-speed regex scan over all texts joined by newlines."""
    pattern = re.compile(rf"([^\s{FORMATTING_CHARACTERS}])\1{{{at_least - 1},}}")
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + 1
    runs: dict[int, tuple[int, str]] = {}
    for match in pattern.finditer("\n".join(texts)):
        row = bisect.bisect_right(starts, match.start()) - 1
        runs.setdefault(row, (len(match.group(0)), match.group(1)))
    return runs


def duplicate_fraction(items: list[str]) -> float:
    """Share of items that repeat an earlier item."""
    return (len(items) - len(set(items))) / len(items) if items else 0.0


def duplicate_ngram_fraction(text: str, n: int) -> float:
    """Share of the character n-grams (whitespace removed) that occur more than once in the text.

    Gopher measures the characters covered by repeated n-grams; counting the
    repeated n-gram occurrences instead gives the same ordering and runs at C speed
    (one Counter over the n-grams).
    """
    compact = WHITESPACE.sub("", text)
    total = len(compact) - n + 1
    if total <= 0:
        return 0.0
    counts = Counter([compact[start:start + n] for start in range(total)])
    return sum(count for count in counts.values() if count > 1) / total


class RepetitionFilter(Filter):
    name = "repetition"

    def __init__(self, params: dict):
        self.params = params
        self.prose_fields = params.get("prose_fields")

    def evaluate(self, frame: pl.DataFrame, fields: FieldContext) -> pl.DataFrame:
        p = self.params
        reasons: list[str | None] = [None] * frame.height
        details: list[str | None] = [None] * frame.height
        for name in fields.text_fields:
            texts = frame[name].to_list()
            kinds = frame[f"__kind__{name}"].to_list()
            prose_rules = self._prose_rules_apply(name)
            # Only texts that can fail a line, sentence or n-gram rule reach Python: cheap counts decide.
            candidates = frame.select((fields.kind(name) != "code") & (
                (pl.col(name).str.count_matches(r"(?m)^[ \t]*\S") >= p["min_lines"])
                | (pl.lit(prose_rules) & fields.is_prose(name)
                   & ((pl.col(name).str.count_matches(SENTENCE_END) >= p["min_sentences"] - 1)
                      | (fields.length(name) >= p["ngram_min_chars"]))))).to_series()
            runs = char_runs(texts, p["max_char_run"])
            rows = sorted(set(candidates.arg_true().to_list()) | set(runs))
            verdicts: dict[tuple[str, str], tuple[str, str] | None] = {}
            for row in rows:
                if reasons[row] is not None or kinds[row] == "code":
                    continue
                if row in runs:
                    run, char = runs[row]
                    reasons[row], details[row] = "char_run", f"{name}: {char!r} repeated {run} times"
                    continue
                key = (texts[row], kinds[row] if prose_rules else "source")
                if key not in verdicts:
                    verdicts[key] = self.verdict(*key)
                if verdicts[key] is not None:
                    reasons[row], what = verdicts[key]
                    details[row] = f"{name}: {what}"
        return pl.DataFrame({REASON: reasons, DETAIL: details}, schema={REASON: pl.String, DETAIL: pl.String})

    def _prose_rules_apply(self, name: str) -> bool:
        """Source passages (``input``) legitimately repeat themselves: a JSQuAD question restates its context."""
        return self.prose_fields is None or name in self.prose_fields or name not in ("instruction", "input", "output")

    def verdict(self, text: str, kind: str) -> tuple[str, str] | None:
        """(reason, detail) of the line, sentence and n-gram rules for one text, or None to keep it.

        ``kind`` is the content kind, or "source" for fields where only the line rule applies.
        """
        p = self.params
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) >= p["min_lines"]:
            share = duplicate_fraction(lines)
            if share > p["max_duplicate_line_fraction"]:
                return "repeated_lines", f"{share:.2f} of {len(lines)} lines are repeats"
        if kind != "prose":
            return None
        # Pieces without a letter or digit ("...", "・") are punctuation, not sentences.
        sentences = [part.strip() for part in SENTENCE_SPLIT.split(text) if WORD.search(part)]
        if len(sentences) >= p["min_sentences"]:
            share = duplicate_fraction(sentences)
            if share > p["max_duplicate_sentence_fraction"]:
                return "repeated_sentences", f"{share:.2f} of {len(sentences)} sentences are repeats"
        if len(text) >= p["ngram_min_chars"]:
            share = duplicate_ngram_fraction(text, p["ngram"])
            if share > p["max_duplicate_ngram_fraction"]:
                return "repeated_ngrams", f"{share:.2f} of {p['ngram']}-grams are repeats"
        return None
