"""NoiseFilter alone on one record: mis-decodings, markup, URL-only and symbol-heavy text, truncation.

Each case follows a rule of filters/noise.py with the default section (two
mis-decoding traces, three markup remnants, symbols above 0.6 of 10+ visible
characters, an ellipsis ending 30% of 3+ lines or a line of 50+ characters).
The mis-decoded texts are made here the way the docstring says they arise.
"""

from __future__ import annotations

from tests.support.filters import check_filter, doc, make_filter

NOISE = make_filter("noise")
# One line of 56 characters, cut off mid-sentence.
LONG_LINE = ("この手順では、まず材料をすべて計量してから、鍋に水を入れて中火で十分に温め、"
             "沸騰したら弱火にしてさらに二十分ほど")


def test_a_good_record_is_kept():
    check_filter(NOISE, doc(), None)


def test_one_replacement_character_is_mojibake():
    check_filter(NOISE, doc(output="富士山は日本一高い\ufffdです。"), "mojibake")


def test_japanese_decoded_with_the_wrong_codec_is_mojibake():
    text = "富士山は日本一高い山です。"
    check_filter(NOISE, doc(output=text.encode("utf-8").decode("latin-1")), "mojibake")  # ã\x81¯ ...
    kana = "こんにちは ありがとう"  # kana only: cp1252 has no character for some bytes of 、 and kanji
    check_filter(NOISE, doc(output=kana.encode("shift_jis").decode("cp1252")), "mojibake")  # ‚± ‚ñ ...
    check_filter(NOISE, doc(output="縺薙ｓ縺ｫ縺｡縺ｯ"), "mojibake")  # こんにちは: UTF-8 bytes read as Shift-JIS


def test_a_single_accented_letter_is_not_a_trace():
    check_filter(NOISE, doc(output="サンパウロ（São Paulo）はブラジル最大の都市です。"), None)


def test_three_markup_remnants_are_rejected_two_are_not():
    assert check_filter(NOISE, doc(output="<div>富士山</div>は<br>日本一高い山です。"),
                        "markup") == "output: 3 HTML/Markdown remnants"
    check_filter(NOISE, doc(output="<b>富士山</b>は日本一高い山です。"), None)
    check_filter(NOISE, doc(output="[富士山](https://example.org)&amp;[富士五湖](https://example.org/5)&nbsp;です。"),
                 "markup")


def test_an_answer_that_is_html_code_is_exempt():
    code = "```html\n<div><p>こんにちは</p><br></div>\n```"
    check_filter(NOISE, doc(output=code), None)


def test_a_field_of_urls_only():
    assert check_filter(NOISE, doc(output="https://example.org/a  www.example.org/b"),
                        "url_only") == "output: only URLs"
    check_filter(NOISE, doc(output="詳しくは https://example.org/a を見てください。"), None)


def test_symbol_heavy_prose_is_rejected_but_an_enumeration_is_not():
    check_filter(NOISE, doc(output="★☆★☆★☆★☆★☆！"), "symbol_heavy")
    check_filter(NOISE, doc(output="★☆★☆★"), None)  # under 10 visible characters
    check_filter(NOISE, doc(output="'北'、'南'、'北'、'東'、'西'"), None)  # a list: symbol-dense by design


def test_a_long_answer_cut_off_with_an_ellipsis_is_truncated():
    check_filter(NOISE, doc(output=LONG_LINE + "…"), "ellipsis_ending")
    check_filter(NOISE, doc(output=LONG_LINE + "..."), "ellipsis_ending")  # ASCII dots count the same


def test_a_short_sentence_may_trail_off():
    check_filter(NOISE, doc(task="translation_ja_en", output="finally they said ..."), None)


def test_an_ellipsis_after_a_finished_sentence_is_a_style_not_a_cut():
    check_filter(NOISE, doc(output=LONG_LINE + "ください。..."), None)


def test_lines_ending_in_an_ellipsis_count_from_three_lines():
    assert check_filter(NOISE, doc(output="一つ目の項目は…\n二つ目の項目は…\n三つ目の項目です。"),
                        "ellipsis_ending") == "output: 2 of 3 lines end in an ellipsis"
    check_filter(NOISE, doc(output="一つ目の項目は…\n二つ目の項目です。\n三つ目の項目です。\n四つ目の項目です。"),
                 None)  # 1 of 4 lines: 0.25


def test_instructions_and_inputs_may_end_in_an_ellipsis():
    check_filter(NOISE, doc(instruction="次の文を完成させてください: " + LONG_LINE + "…"), None)
    check_filter(NOISE, doc(input=LONG_LINE + "…"), None)
