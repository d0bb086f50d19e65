"""NgWordFilter alone on one record: listed terms by category, case-sensitive substrings, user lists.

Terms are taken from the shipped lists (filters/ngwords/*.txt); the rule is
filters/ngwords.py's: a text field containing a listed term is rejected as
``ng_word`` and the detail names the field, the category and the term.
"""

from __future__ import annotations

from tests.support.filters import check_filter, doc, make_filter

NG_WORDS = make_filter("ng_words")


def test_a_good_record_is_kept():
    check_filter(NG_WORDS, doc(), None)


def test_assistant_boilerplate_in_the_output():
    detail = check_filter(NG_WORDS, doc(output="AI言語モデルとして、個人的な意見は持っていません。"), "ng_word")
    assert detail == "output: ai_boilerplate term AI言語モデルとして"


def test_a_spam_phrase_in_the_instruction():
    detail = check_filter(NG_WORDS, doc(instruction="今すぐクリックして無料で読める記事を紹介してください。"),
                          "ng_word")
    assert detail == "instruction: spam term 今すぐクリック"


def test_every_text_field_is_searched_including_the_input():
    check_filter(NG_WORDS, doc(input="エロ動画のサイトの一覧です。"), "ng_word")


def test_matching_is_case_sensitive():
    check_filter(NG_WORDS, doc(output="As an AI language model, I cannot browse."), "ng_word")
    check_filter(NG_WORDS, doc(output="as an ai language model, i cannot browse."), None)


def test_a_category_that_is_off_rejects_nothing():
    only_adult = make_filter("ng_words", categories=["adult"])
    check_filter(only_adult, doc(output="AI言語モデルとして、個人的な意見は持っていません。"), None)


def test_a_user_list_adds_terms_named_after_its_file(tmp_path):
    words = tmp_path / "house_rules.txt"
    words.write_text("# our own terms\n社外秘\n\n", encoding="utf-8")
    own = make_filter("ng_words", categories=[], extra_files=[str(words)])
    assert check_filter(own, doc(output="これは社外秘の資料です。"), "ng_word") == "output: house_rules term 社外秘"
    check_filter(own, doc(output="AI言語モデルとして答えます。"), None)  # the built-in lists are off
