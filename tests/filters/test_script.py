"""ScriptFilter alone on one record: hiragana and Japanese shares of long Japanese-expected prose.

From filters/script.py with the default section: prose fields of at least 200
visible characters need Japanese characters ≥ 0.1 (else ``low_japanese``) and
hiragana ≥ 0.05 (else ``low_hiragana``); lists, code and English-expected fields
are exempt.
"""

from __future__ import annotations

from tests.support.filters import JA_ANSWER, check_filter, doc, make_filter

SCRIPT = make_filter("script")
NO_HIRAGANA = "東京タワー"  # five characters, none of them hiragana
ENGLISH = "Mount Fuji is the highest mountain in Japan and it is a famous place for climbing in summer. "


def test_long_japanese_prose_is_kept():
    assert len(JA_ANSWER * 5) >= 200
    check_filter(SCRIPT, doc(output=JA_ANSWER * 5), None)


def test_long_prose_without_hiragana_is_rejected_from_200_characters():
    assert check_filter(SCRIPT, doc(output=NO_HIRAGANA * 40), "low_hiragana") == "output: hiragana 0.0 < 0.05"
    check_filter(SCRIPT, doc(output=NO_HIRAGANA * 39), None)  # 195 characters


def test_long_prose_in_another_language_is_low_japanese_first():
    assert len((ENGLISH * 3).replace(" ", "")) >= 200
    check_filter(SCRIPT, doc(output=ENGLISH * 3), "low_japanese")


def test_the_english_side_of_a_translation_is_exempt():
    check_filter(SCRIPT, doc(task="translation_ja_en", input=JA_ANSWER, output=ENGLISH * 3), None)


def test_a_list_is_exempt_at_any_length():
    names = "\n".join(f"- {NO_HIRAGANA}{number}号館" for number in range(30))
    check_filter(SCRIPT, doc(output=names), None)
