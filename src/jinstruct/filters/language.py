"""Language ID per field: script first, fastText lid.176 and lingua where script does not settle it.

Removes (reason ``language_mismatch``) a field whose language is not the one the
record needs: a Japanese instruction or answer that is a Chinese, English or other
foreign sentence, however short, or the English side of a translation record
that is Japanese. Names, titles, lists, code, numbers and Japanese text mixed
with them stay. The figures below come from bench/langid_bench.py on the
labelled short-line set of bench/langid/ (959 Japanese lines in six registers,
2,700 lines in 18 other languages) and from the default build; docs/filters.md
has the tables.

Why not fastText alone: lid.176 is a bag of character n-grams and calls short
Japanese terms Chinese: on the labelled set its top label is ``ja`` for only 73%
of JCommonsenseQA answer choices (「天体暦」, 「伝染病」) and 78% of Wikipedia
titles. Why not the old length guards (no check under 10 characters, Chinese
only from 20 characters, English only from 8 words): they kept 56% of the
non-Japanese lines ("She has a son who is a doctor.", 「我该去睡觉了。」).

A Japanese-expected field is decided by the first rule that applies:

1. **kana**: a text with kana and at least ``mixed_min_japanese`` Japanese
   characters is Japanese, whatever fastText says (「頭を上げるな。」 is zh to
   lid.176; 「The Science Laureates of the United States Act of 2013とは？」
   is a Japanese question). Chinese, Korean and European text have no kana.
2. **other script**: more than half the characters are letters of a script
   that is neither Japanese nor Latin (Hangul, Cyrillic, Thai ...): rejected at
   any length (「나는 그의 모자가 싫다.」 is 9 characters: the old length guard kept
   21% of the Korean lines).
3. **chinese**: no kana, some Han, and either
   - a character Japanese does not write: a simplified or traditional form
     whose Japanese form differs, or a Chinese function word (``CHINESE_ONLY``
     in text/scripts.py: 们, 這, 说, 你, 吗 ...), or two Han characters that
     Shift_JIS cannot encode (热, 资, 汤: most simplified forms; one is enough
     in a sentence, so that a Japanese term with one rare character, 「蓬蔂」,
     stays);
   - or a Chinese fastText label (zh, wuu, yue) with at least ``min_score.zh``
     on a mostly-Han text that is a sentence (。！？，) or at least
     ``chinese_min_chars`` long. A Japanese sentence has kana, so a Han-only
     sentence is Chinese, while all-kanji Japanese terms and lists
     (「不法入国者等退去強制手続令」, 「陸軍省、海軍省」) carry no sentence
     punctuation or get ``ja``. A Chinese sentence quoting a Latin title
     (「《西城故事》（West Side Story）是……」) has more Latin than Han: there a
     score of at least ``min_score.foreign`` is needed, because a Japanese list
     of Latin names with a kanji note (「Danish Siddiqui（殺害）、…」) gets zh 0.54.
   A ``ja`` label with at least ``min_score.ja`` overrides the label route
   but not a Chinese-only character.
4. **foreign sentence**: no kana, at least half Latin letters, not labelled
   ``ja``, at least two words and one written all in lower case (names, brands
   and titles are capitalised: 「Chevrolet、Ford、Dodge」, "We Light the Way",
   "iPhone 14 pro vs Samsung s22 ultra" stay), and the words read as a sentence:
   a final . ! ? (also before closing quotes and after a French space), or more
   than half of the words in lower case ("Open my eyes", "I don't trust you":
   untranslated Dolly lines), or at least ``foreign_min_words`` words with a
   fastText score of at least ``min_score.foreign`` (song-title lists score
   0.5-0.8). Web and e-mail addresses are not words. Lists are exempt unless
   they are running text: mostly lower case, at least ``foreign_min_words``
   words and at least three words per comma-separated item (a German sentence
   with four commas is a "list" to the content-kind heuristic, 「'prime',
   'composite', …」 is a list of labels).
5. **foreign (two opinions)**: a Latin-script prose text that fastText labels
   with a language other than Japanese or English with at least
   ``min_score.foreign``, and lingua, restricted to ``second_opinion.languages``,
   names the same language with at least ``second_opinion.min_confidence``:
   one- and two-word sentences without a lower-case word ("Ben Portekizdeyim.",
   tr 0.95 and lingua tr 0.93) that rule 4 cannot tell from a name. English is
   left out because English titles and names are frequent Japanese answers and
   lingua, like fastText, is confident on them. lingua restricted to Japanese
   and Chinese was measured too and not used: it calls every kana-free text
   Chinese (「東京都」, 「100万円。」: Chinese 1.0), which is rule 1 again.

Known misses on the labelled set: one-word sentences ("Senyum."), sentences
whose words are all capitalised or one letter long ("Fui a Paris.", "Tôi ở
Osaka"), Han-only Chinese that fastText calls ``ja`` and that uses only
characters Japanese shares (「東歐的酒精消耗量比西歐高。」 ja 0.81), and e-mail
headers and dates of the English web treebank.

An output contained in its input is extractive (reading comprehension) and is
not language-checked: it has the passage's language. Code is not
language-checked. An English-expected field (the English side of a translation)
passes when fastText says ``en`` with at least ``min_score.en``, or when it is
Latin script with at most ``english_max_japanese`` Japanese characters and no
other language scores at least ``other_language_max_score``; under
``min_chars`` visible characters only its Japanese share is checked.

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

from collections import Counter

import polars as pl

from jinstruct.filters.base import DETAIL, REASON, Filter, no_verdicts, record_verdicts
from jinstruct.filters.fields import FieldContext
from jinstruct.filters.language_models import predict_languages, second_opinion
from jinstruct.text.scripts import (
    CHINESE_CHARACTER,
    HAN,
    JAPANESE,
    LATIN_LETTER,
    OTHER_SCRIPT_LETTER,
    fraction,
    han_outside_japanese_charset,
    has_kana,
)

CHINESE_LABELS = ["zh", "wuu", "yue"]
# A word of a Latin-script language ("don't" and "Philosopher's" are one word);
# web addresses and e-mail addresses are not words of any sentence.
LATIN_WORD = r"\p{Latin}[\p{Latin}\p{M}'’]*"
# A word written all in lower case (names, brands and titles are capitalised: iPhone, We Light the Way).
LOWERCASE_WORD = r"^\p{Ll}[\p{Ll}\p{M}'’]+$"
WEB_ADDRESS = r"\S+@\S+|(?:https?://|www\.)\S+|\S+\.(?:com|org|net|jp|io)\b\S*"
# Sentence ends and the Chinese comma: a Han text holding one is a sentence, not a term or a title.
HAN_SENTENCE_PUNCTUATION = r"[。！？!?，]"
# A sentence end after the last word, before closing quotes or brackets.
LATIN_SENTENCE_END = r"[\p{Latin}\d]\s?[.!?…]+[\s\"'“”„’«»)）]*$"
# Items of an enumeration ('prime', 'composite', ...) hold one or two words; clauses of a sentence more.
ITEM_SEPARATOR = r"[,、;，；]"
WORDS_PER_ITEM = 3
SCORE_BINS = [round(0.1 * step, 1) for step in range(11)]


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
        self.second_opinion_languages = tuple(params["second_opinion"]["languages"])
        self.second_opinion_min_confidence = float(params["second_opinion"]["min_confidence"])
        self._labels: dict[str, Counter] = {}
        self._scores: dict[str, Counter] = {}

    def evaluate(self, frame: pl.DataFrame, fields: FieldContext) -> pl.DataFrame:
        reason, detail = no_verdicts(frame.height)
        for name in fields.text_fields:
            checked = (fields.lang(name) != "any") & (fields.kind(name) != "code") & (fields.length(name) > 0)
            # Rule 1 first and alone: most fields are kana-bearing Japanese, and the other
            # signals (word lists, a 20k-character Han class) would cost more than the rule.
            kana_japanese = ((fields.lang(name) == "ja") & has_kana(pl.col(name))
                             & (fraction(pl.col(name), JAPANESE, fields.length(name)) >= self.mixed_min_japanese))
            checked = checked & ~kana_japanese
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
        words = text.str.replace_all(WEB_ADDRESS, " ").str.extract_all(LATIN_WORD)
        signals = frame.select(
            text=text,
            lang=fields.lang(name),
            length=length,
            japanese=fraction(text, JAPANESE, length),
            latin=fraction(text, LATIN_LETTER, length),
            kana=has_kana(text),
            chinese_character=text.str.contains(CHINESE_CHARACTER),
            outside_japanese_charset=text.str.count_matches(han_outside_japanese_charset()),
            han=text.str.contains(HAN),
            sentence_punctuation=text.str.contains(HAN_SENTENCE_PUNCTUATION),
            sentence_end=text.str.contains(LATIN_SENTENCE_END),
            prose=fields.kind(name) == "prose",
            latin_words=words.list.len(),
            separators=text.str.count_matches(ITEM_SEPARATOR),
            lowercase_words=words.list.eval(pl.element().str.contains(LOWERCASE_WORD)).list.sum(),
            other_script=fraction(text, OTHER_SCRIPT_LETTER, length),
        )
        # fastText runs only where its answer matters: kana-bearing Japanese never gets
        # here (rule 1), and a short English-expected text is judged by script alone.
        needs_lid = (signals["lang"] == "ja") | (signals["length"] >= self.min_chars)
        labels = pl.Series("label", [None] * frame.height, dtype=pl.String)
        scores = pl.Series("score", [None] * frame.height, dtype=pl.Float64)
        if needs_lid.any():
            positions = needs_lid.arg_true()
            found_labels, found_scores = predict_languages(signals["text"].filter(needs_lid).to_list())
            labels = labels.scatter(positions, pl.Series(found_labels, dtype=pl.String))
            scores = scores.scatter(positions, pl.Series(found_scores, dtype=pl.Float64))
            self._record(name, signals["lang"].filter(needs_lid), found_labels, found_scores)
        signals = signals.with_columns(label=labels, score=scores, checked=pl.lit(True))
        return self._with_second_opinion(signals).select(self._rules(name))

    def _with_second_opinion(self, signals: pl.DataFrame) -> pl.DataFrame:
        """lingua's label and confidence where fastText names a language other than Japanese or
        English with confidence, on a Latin-script text expected Japanese (else null)."""
        asked = signals.select(
            (pl.col("lang") == "ja") & ~pl.col("kana") & pl.col("prose") & (pl.col("latin") >= 0.5)
            & ~pl.col("label").is_in(["ja", "en"]) & (pl.col("score") >= self.min_score["foreign"])
        ).to_series().fill_null(False)
        labels = pl.Series("second_label", [None] * signals.height, dtype=pl.String)
        confidences = pl.Series("second_confidence", [None] * signals.height, dtype=pl.Float64)
        if self.second_opinion_languages and asked.any():
            positions = asked.arg_true()
            found, values = second_opinion(signals["text"].filter(asked).to_list(), self.second_opinion_languages)
            labels = labels.scatter(positions, pl.Series(found, dtype=pl.String))
            confidences = confidences.scatter(positions, pl.Series(values, dtype=pl.Float64))
        return signals.with_columns(labels, confidences)

    def _japanese_rules(self) -> pl.Expr:
        """The name of the rule that rejects a Japanese-expected field (null: kept), in the
        order the module docstring gives them."""
        kana, japanese = pl.col("kana"), pl.col("japanese")
        lid_japanese = (pl.col("label") == "ja") & (pl.col("score") >= self.min_score["ja"])
        chinese_characters = self._chinese_characters()
        return (pl.when(kana & (japanese >= self.mixed_min_japanese)).then(None)  # rule 1, also applied in evaluate
                .when(~kana & (pl.col("other_script") > 0.5)).then(pl.lit("other script"))
                .when(~kana & pl.col("han") & (chinese_characters | self._chinese_by_label())
                      & ~(lid_japanese & ~chinese_characters)).then(pl.lit("chinese"))
                .when(~kana & self._foreign_sentence()).then(pl.lit("foreign sentence"))
                .when(~kana & self._confirmed_foreign()).then(pl.lit("foreign (two opinions)")))

    def _chinese_characters(self) -> pl.Expr:
        """A character Japanese does not write: a listed Chinese form, or two characters outside
        Shift_JIS (one suffices in a sentence)."""
        outside = pl.col("outside_japanese_charset")
        return pl.col("chinese_character") | (outside >= 2) | ((outside >= 1) & pl.col("sentence_punctuation"))

    def _chinese_by_label(self) -> pl.Expr:
        """fastText says Chinese of a Han sentence or a long Han text; with more Latin than Han
        (a Chinese sentence quoting an English title) only when it is confident."""
        score, punctuation = pl.col("score"), pl.col("sentence_punctuation")
        chinese_label = pl.col("label").is_in(CHINESE_LABELS) & (score >= self.min_score["zh"])
        mostly_han = (pl.col("japanese") >= 0.5) & (punctuation | (pl.col("length") >= self.chinese_min_chars))
        return chinese_label & (mostly_han | (punctuation & (score >= self.min_score["foreign"])))

    def _foreign_sentence(self) -> pl.Expr:
        """Latin-script words that read as a sentence rather than as names or a title."""
        words, lowercase = pl.col("latin_words"), pl.col("lowercase_words")
        mostly_lowercase = lowercase * 2 > words
        running_text = (mostly_lowercase & (words >= self.foreign_min_words)
                        & (words >= WORDS_PER_ITEM * (pl.col("separators") + 1)))
        long_and_confident = (words >= self.foreign_min_words) & (pl.col("score") >= self.min_score["foreign"])
        return ((pl.col("prose") | running_text) & (pl.col("latin") >= 0.5) & (pl.col("label") != "ja")
                & (words >= 2) & (lowercase >= 1) & (pl.col("sentence_end") | mostly_lowercase | long_and_confident))

    def _confirmed_foreign(self) -> pl.Expr:
        """fastText and lingua name the same language (lingua is asked only where it matters)."""
        return ((pl.col("second_label") == pl.col("label"))
                & (pl.col("second_confidence") >= self.second_opinion_min_confidence)).fill_null(False)

    def _rules(self, name: str) -> list[pl.Expr]:
        lang, label, score = pl.col("lang"), pl.col("label"), pl.col("score")
        japanese, latin = pl.col("japanese"), pl.col("latin")
        short = pl.col("length") < self.min_chars
        ja_rule = self._japanese_rules()
        en_pass = ((label == "en") & (score >= self.min_score["en"])) | (
            (japanese <= self.english_max_japanese) & (latin >= 0.5) & (score < self.other_language_max_score))
        en_reject = pl.when(short).then(japanese >= 0.5).otherwise(~en_pass)
        rejected = pl.col("checked") & pl.when(lang == "ja").then(ja_rule.is_not_null()).when(lang == "en").then(
            en_reject).otherwise(False)
        rule = pl.when(lang == "ja").then(ja_rule).otherwise(pl.lit("not english"))
        found = pl.when(label.is_null()).then(pl.lit("short text")).otherwise(
            pl.format("lid {} {}", label, score.round(2)))
        detail = pl.format("{}: {}, {}, japanese {}, {} (expected {})", pl.lit(name), rule, found, japanese.round(2),
                           pl.when(pl.col("kana")).then(pl.lit("kana")).otherwise(pl.lit("no kana")), lang)
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
