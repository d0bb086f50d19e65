"""RepetitionFilter alone on one record: character runs, repeated lines, sentences and n-grams.

From filters/repetition.py with the default section: a run of 10 identical
characters; more than half of 3+ lines repeated; more than 0.3 of 3+ sentences
repeated (prose of instruction and output only); more than half of the character
10-grams of a 50+ character prose text repeated. Layout characters and code are
exempt.
"""

from __future__ import annotations

from tests.support.filters import check_filter, doc, make_filter

REPETITION = make_filter("repetition")
LOOP = "今日はいい天気ですね"  # ten characters, no sentence end: a generation loop repeats it


def test_a_good_record_is_kept():
    check_filter(REPETITION, doc(), None)


def test_ten_identical_characters_in_a_row():
    assert check_filter(REPETITION, doc(output="すご" + "い" * 10), "char_run") == "output: 'い' repeated 10 times"
    check_filter(REPETITION, doc(output="本当に" + "！" * 10), "char_run")
    check_filter(REPETITION, doc(output="すご" + "い" * 9), None)
    check_filter(REPETITION, doc(output="ええと" + "ー" * 2 + "、そうですね！！！"), None)


def test_layout_runs_and_code_are_not_degenerate():
    check_filter(REPETITION, doc(output="| 名前 | 値 |\n|----------|----------|\n| 東京 | 1 |"), None)
    check_filter(REPETITION, doc(output="見出し\n==========\n本文です。"), None)
    check_filter(REPETITION, doc(output="```python\nprint('aaaaaaaaaaaa')\nx = 1;\n```"), None)


def test_more_than_half_of_the_lines_repeated():
    line = "富士山は日本一高い山です。"
    check_filter(REPETITION, doc(output="\n".join([line] * 4 + ["琵琶湖は日本一大きい湖です。"])), "repeated_lines")
    distinct = ["北海道は寒い地方です。", "沖縄は暖かい地方です。", "東京は大きな都市です。"]
    check_filter(REPETITION, doc(output="\n".join([distinct[0], *distinct[1:], distinct[0]])), None)  # 1 of 4


def test_repeated_sentences_in_an_answer_but_not_in_a_source_passage():
    text = "私は猫が好きです。私は猫が好きです。私は猫が好きです。犬も飼っています。"  # 2 of 4 sentences repeat
    assert check_filter(REPETITION, doc(output=text),
                        "repeated_sentences") == "output: 0.50 of 4 sentences are repeats"
    check_filter(REPETITION, doc(input=text), None)  # input is not in prose_fields: only the line rule applies


def test_a_loop_without_sentence_ends_is_caught_by_its_ngrams():
    assert check_filter(REPETITION, doc(output=LOOP * 5),
                        "repeated_ngrams") == "output: 1.00 of 10-grams are repeats"
    check_filter(REPETITION, doc(output=LOOP * 4), None)  # 40 characters: under ngram_min_chars


def test_a_list_may_repeat_its_suffixes():
    comets = "- アリストテレス彗星\n- ハレー彗星\n- エンケ彗星\n- ビエラ彗星\n- テンペル彗星"
    check_filter(REPETITION, doc(output=comets), None)
