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
