"""The language filter's rules, one case per rule, with the real lid.176 model and real lingua.

The sentences are written for these tests (none comes from the labelled set in
bench/langid/). Each line is a Japanese-expected text field, as in
``jinstruct filter --text-field text`` on a file without a task column.
"""

from __future__ import annotations

import polars as pl
import pytest

from jinstruct.filters import filter_records
from jinstruct.records import InputError
from jinstruct.text.scripts import han_outside_japanese_charset
from tests.support.filters import check_filter, doc, make_filter


def rules(texts: list[str], params: dict | None = None) -> dict[str, str | None]:
    """text -> the rule that rejected it (the start of the reject detail), None when kept."""
    frame = pl.DataFrame({"id": [f"t:{index}" for index in range(len(texts))], "text": texts})
    result = filter_records(frame, {"order": ["language"], **(params or {})}, ["text"], None)
    assert result.kept.height + result.rejected.height == len(texts)
    found = {row["id"]: row["detail"] for row in result.rejected.iter_rows(named=True)}
    assert set(result.rejected["reason"].to_list()) <= {"language_mismatch"}
    return {text: (found[f"t:{index}"].split(",")[0].removeprefix("text: ") if f"t:{index}" in found else None)
            for index, text in enumerate(texts)}


def test_short_foreign_sentences_are_rejected_however_short():
    assert rules(["Where is the station?", "Come here!", "Wo ist der Bahnhof?", "Dove sei?",
                  "Il pleut aujourd'hui."]) == {
        "Where is the station?": "foreign sentence", "Come here!": "foreign sentence",
        "Wo ist der Bahnhof?": "foreign sentence", "Dove sei?": "foreign sentence",
        "Il pleut aujourd'hui.": "foreign sentence"}


def test_short_chinese_is_rejected_by_its_characters_or_as_a_han_sentence():
    assert rules(["他们在哪里？", "我們走吧。", "他是学生。", "今天天气很好"]) == {
        "他们在哪里？": "chinese",    # 们: simplified form
        "我們走吧。": "chinese",      # 們, 吧: traditional form, Chinese particle
        "他是学生。": "chinese",      # only characters Japanese shares, but a Han sentence labelled zh
        "今天天气很好": "chinese"}    # 气: outside Shift_JIS, 很: Chinese adverb


def test_other_scripts_are_rejected_at_any_length():
    assert rules(["감사합니다", "Спасибо!"]) == {"감사합니다": "other script", "Спасибо!": "other script"}


def test_a_capitalised_foreign_sentence_needs_fasttext_and_lingua_to_agree():
    # Rule 4 cannot tell "Ben Öğretmenim." (Turkish: I am a teacher) from a name; two opinions can.
    assert rules(["Ben Öğretmenim."]) == {"Ben Öğretmenim.": "foreign (two opinions)"}
    no_second_opinion = {"language": {"second_opinion": {"languages": [], "min_confidence": 0.5}}}
    assert rules(["Ben Öğretmenim."], no_second_opinion) == {"Ben Öğretmenim.": None}


def test_names_titles_lists_code_numbers_and_mixed_japanese_stay():
    keep = ["Toyota、Honda、Nissan", "Harry Potter and the Goblet of Fire", "Pride and Prejudice",
            "Visual Studio Code", "SELECT name FROM users WHERE id = 1", "3.14", "1,000円", "B",
            "https://example.com/docs", "info@example.co.jp", "東海道新幹線", "量子力学", "北海道、本州、四国、九州。",
            "私のお気に入りはiPhoneです。", "'red', 'green', 'blue', 'green', 'red', 'blue', 'red', 'green', 'blue'"]
    assert rules(keep) == dict.fromkeys(keep)


def test_han_outside_shift_jis_are_simplified_forms_not_japanese_ones():
    outside = pl.Series(["热", "资", "東", "髙", "國"]).str.contains(han_outside_japanese_charset()).to_list()
    assert outside == [True, True, False, False, False]   # 髙 is a cp932 extension, 國 a JIS X 0208 form


def test_an_unknown_second_opinion_language_is_a_one_line_error():
    with pytest.raises(InputError, match="second_opinion.languages: unknown"):
        rules(["Ben Öğretmenim."], {"language": {"second_opinion": {"languages": ["en", "xx"], "min_confidence": 0.5}}})


# ------------------------------------------------------------------ the filter alone on schema records (check_filter)

LANGUAGE = make_filter("language")


@pytest.mark.parametrize("output, rule", [
    ("頭を上げるな。", None),                            # 1. kana: Japanese whatever lid.176 says
    ("나는 그의 모자가 싫다.", "other script"),           # 2. Hangul
    ("他们在哪里？", "chinese"),                           # 3. 们 is a simplified form
    ("不法入国者等退去強制手続令", None),                   #    an all-kanji Japanese term
    ("She has a son who is a doctor.", "foreign sentence"),  # 4. lower-case words ending in a full stop
    ("Chevrolet、Ford、Dodge", None),                     #    names are capitalised
])
def test_a_japanese_answer_by_rule(output, rule):
    detail = check_filter(LANGUAGE, doc(output=output), None if rule is None else "language_mismatch")
    if rule is not None:
        assert detail.startswith(f"output: {rule}, "), detail
        assert detail.endswith("(expected ja)"), detail


def test_the_english_side_of_a_translation_must_not_be_japanese():
    record = doc(task="translation_ja_en", instruction="次の日本語を英語に訳してください。",
                 input="私はお茶が好きです。",
                 output="私は学生です。")  # 7 characters: under min_chars, judged by its Japanese share
    assert check_filter(LANGUAGE, record, "language_mismatch").startswith("output: not english, ")
    check_filter(LANGUAGE, {**record, "output": "i met a certain mr smith ."}, None)  # lowercased Tanaka English


def test_an_answer_copied_from_its_passage_has_the_passage_language():
    passage = "駅の看板には英語で「Where is the station?」と書かれていた。"
    check_filter(LANGUAGE, doc(input=passage, output="Where is the station?"), None)
    check_filter(LANGUAGE, doc(output="Where is the station?"), "language_mismatch")
