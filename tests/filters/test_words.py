"""WordFilter alone on one record, with the real Sudachi dictionary: repeated word n-grams, token counts.

From filters/words.py with the default section: in Japanese-expected prose of
instruction and output of at least 100 visible characters, more than 0.6 of the
tokens covered by a repeated word 10-gram is ``repeated_words``, more than
``max_tokens`` tokens is ``too_many_tokens``.
"""

from __future__ import annotations

from tests.support.filters import check_filter, doc, make_filter

WORDS = make_filter("words")
SENTENCE = "私は猫が好きです。"  # nine characters
PROSE = ("富士山は静岡県と山梨県の境にある日本一高い山で、標高は三千七百七十六メートルです。"
         "夏になると多くの登山者が山頂を目指し、ご来光を見るために夜から登り始める人もいます。"
         "周辺には富士五湖があり、観光地としても人気があります。")


def test_ordinary_long_prose_is_kept():
    assert len(PROSE) >= 100
    check_filter(WORDS, doc(output=PROSE), None)


def test_a_sentence_repeated_over_and_over_is_repeated_words():
    assert check_filter(WORDS, doc(output=SENTENCE * 20),
                        "repeated_words") == "output: 1.00 of tokens in repeated word 10-grams"


def test_texts_under_100_characters_are_left_to_the_character_filters():
    check_filter(WORDS, doc(output=SENTENCE * 11), None)  # 99 characters


def test_source_passages_and_english_fields_are_not_checked():
    check_filter(WORDS, doc(input=SENTENCE * 20), None)
    check_filter(WORDS, doc(task="translation_ja_en", input=PROSE, output="i like green tea very much . " * 10), None)


def test_more_tokens_than_the_bound():
    few_tokens = make_filter("words", max_tokens=20)
    detail = check_filter(few_tokens, doc(output=PROSE), "too_many_tokens")
    assert detail.startswith("output: ") and detail.endswith(" tokens > 20")
    assert int(detail.split()[1]) > 20
