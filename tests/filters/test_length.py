"""LengthFilter alone on one record: required fields, [min, max] bounds per field and task, copied prompts.

Expected reasons follow the rules in filters/length.py with the default section
(instruction 2-4000, output 1-6000 visible characters; 10 for the outputs of
creative_writing and summarization; echoes of 8+ characters covering 80% of the
instruction).
"""

from __future__ import annotations

import pytest

from tests.support.filters import check_filter, doc, make_filter

LENGTH = make_filter("length")


def test_a_good_record_is_kept():
    check_filter(LENGTH, doc(), None)


@pytest.mark.parametrize("field", ["instruction", "output"])
@pytest.mark.parametrize("text", ["", " \n\u3000"])  # empty, or whitespace only (full-width space too)
def test_an_empty_required_field_is_rejected_by_its_name(field, text):
    assert check_filter(LENGTH, doc(**{field: text}), f"empty_{field}") == f"{field}: empty"


def test_an_empty_input_is_fine():
    check_filter(LENGTH, doc(input=""), None)


def test_an_instruction_of_one_character_is_too_short():
    assert check_filter(LENGTH, doc(instruction="何"), "too_short") == "instruction: 1 chars < 2"


def test_one_character_answers_survive_but_a_one_word_poem_does_not():
    check_filter(LENGTH, doc(task="classification", output="B"), None)
    check_filter(LENGTH, doc(task="brainstorming", output="ビリヤニ"), None)  # brainstorming keeps the default
    assert check_filter(LENGTH, doc(task="creative_writing", output="秋の詩"), "too_short") == "output: 3 chars < 10"
    check_filter(LENGTH, doc(task="summarization", output="春に桜が咲き花見が行われる"), None)  # 13 characters


def test_the_maximum_counts_visible_characters():
    check_filter(LENGTH, doc(output="あ" * 6000), None)
    check_filter(LENGTH, doc(output="あ\n" * 6000), None)  # newlines are not visible characters
    assert check_filter(LENGTH, doc(output="あ" * 6001), "too_long") == "output: 6001 chars > 6000"


def test_an_output_that_copies_the_instruction_or_the_input():
    check_filter(LENGTH, doc(output="日本で一番高い山は、どこですか"), "output_copies_prompt")  # punctuation ignored
    check_filter(LENGTH, doc(input="猫が好きです。", output="猫が 好きです"), "output_copies_prompt")


def test_an_output_that_only_repeats_most_of_the_question_is_an_echo():
    instruction = "日本で一番長い川の名前を教えてください。"  # 19 characters without the 。
    echo = "一番長い川の名前を教えてください"              # 16 of them: at least 0.8 × 19 = 15.2
    assert check_filter(LENGTH, doc(instruction=instruction, output=echo),
                        "output_echoes_question") == "output: repeats the instruction (16 of 19 chars)"
    check_filter(LENGTH, doc(instruction=instruction, output="川の名前を教えてください"), None)  # 12 < 15.2


def test_restating_the_question_and_answering_it_is_a_good_answer():
    check_filter(LENGTH, doc(instruction="ドイツの首都は？", output="ドイツの首都はベルリン"), None)


def test_short_answers_inside_the_instruction_and_extractive_answers_are_exempt():
    check_filter(LENGTH, doc(instruction="次の文は肯定か否定か答えてください。", output="肯定"),
                 None)  # under 8 characters
    passage = "富士山は日本で一番高い山で、静岡県と山梨県にまたがっています。"
    check_filter(LENGTH, doc(instruction="富士山はどの県にありますか？", input=passage,
                             output="静岡県と山梨県にまたがっています"),
                 None)


def test_custom_text_fields_are_all_required():
    record = {"id": "t:1", "text": ""}
    assert check_filter(LENGTH, record, "empty_text", text_fields=["text"]) == "text: empty"
