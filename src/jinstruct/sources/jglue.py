"""JGLUE training data as instruction records (JCommonsenseQA, JSQuAD).

Only splits that are not scored by the evaluate stage belong here: the
JCommonsenseQA *train* split (evaluate scores valid) and JSQuAD *valid* (JSQuAD
is not an evaluate task; its train split is not in the mirror).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jinstruct.records import InputError
from jinstruct.sources.candidates import (
    Candidates,
    Check,
    read_rows,
    required,
    shape,
    source_files,
    upstream_id,
    where,
    wrong_type,
)
from jinstruct.sources.readers import ERROR_SCHEMA, read_json_document, squad_questions
from jinstruct.sources.spec import SourceSpec

JCQA_CHOICES = [f"choice{index}" for index in range(5)]
JCQA_INSTRUCTION = "次の質問に対する答えとして最も適切なものを、選択肢の中から1つ選んでください。"
JSQUAD_INSTRUCTION = "次の文章を読んで、質問に文章中の言葉で答えてください。"


def jcommonsenseqa(spec: SourceSpec, raw_dir: Path) -> Candidates:
    """question + five numbered choices → the text of the correct choice."""
    read = read_rows(spec, raw_dir, {"q_id": "text", "question": "text", **dict.fromkeys(JCQA_CHOICES, "text"),
                                     "label": "int"})
    answer = pl.concat_list(JCQA_CHOICES).list.get(pl.col("label"), null_on_oob=True)
    checks = [
        wrong_type(),
        *required("question", *JCQA_CHOICES, "label"),
        Check(answer.is_null(), "invalid_label",
              where() + pl.lit(": label ") + pl.col("label").cast(pl.String) + pl.lit(" is not a choice index 0-4")),
    ]
    numbered = [pl.lit(f"\n{index + 1}. ") + pl.col(choice) for index, choice in enumerate(JCQA_CHOICES)]
    frame = shape(read.rows, spec, checks, id=upstream_id("q_id"), task="multiple_choice_qa",
                  instruction=JCQA_INSTRUCTION,
                  input=pl.concat_str([pl.lit("質問："), pl.col("question"), pl.lit("\n選択肢："), *numbered]),
                  output=answer)
    return Candidates(frame, read.errors, read.upstream_records)


def jsquad(spec: SourceSpec, raw_dir: Path) -> Candidates:
    """title + paragraph + question → the first reference answer.

    Questions on one paragraph share a group (``jsquad:<article>p<paragraph>``),
    so a paragraph never sits in train and test at once.
    """
    if spec.format != "squad":
        raise InputError(f"params.yaml sources.{spec.name}: the jsquad adapter reads format 'squad'")
    frames = []
    for path in source_files(spec, raw_dir):
        questions = squad_questions(read_json_document(path), path)
        for column in ("title", "context", "question", "id", "answers", "is_impossible"):
            if column not in questions.columns:
                questions = questions.with_columns(pl.lit(None).alias(column))
        frames.append(questions.with_columns(__file__=pl.lit(path.relative_to(raw_dir).as_posix()),
                                             __line__=pl.int_range(1, pl.len() + 1)))
    rows = pl.concat(frames, how="diagonal_relaxed")
    first_answer = pl.col("answers").list.first().struct.field("text") if _has_struct_answers(rows) else pl.lit(None)
    # the context starts with "<title> [SEP] "; the title becomes its own line
    context = pl.col("context").str.replace(r"^.*? \[SEP\] ", "")
    # a SQuAD document has no lines: details point at the question id (or its position)
    at = pl.col("__file__") + pl.lit(": question ") + pl.coalesce(pl.col("id"), pl.col("__line__").cast(pl.String))
    checks = [
        *(Check(pl.col(name).is_null(), "missing_field", at + pl.lit(f": no {name!r}"))
          for name in ("question", "context")),
        Check(pl.col("is_impossible").fill_null(False), "no_answer", at + pl.lit(": is_impossible")),
        Check(first_answer.is_null() | (first_answer == ""), "no_answer", at + pl.lit(": no answer text")),
    ]
    qa_id = upstream_id("id")
    frame = shape(rows, spec, checks, id=qa_id, group=qa_id.str.replace(r"q\d+$", ""), task="reading_comprehension",
                  instruction=JSQUAD_INSTRUCTION,
                  input=pl.concat_str([pl.lit("タイトル："), pl.col("title").fill_null(""), pl.lit("\n文章："), context,
                                       pl.lit("\n質問："), pl.col("question")]),
                  output=first_answer)
    return Candidates(frame, pl.DataFrame(schema=ERROR_SCHEMA), rows.height)


def _has_struct_answers(rows: pl.DataFrame) -> bool:
    dtype = rows.schema["answers"]
    return isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct) and \
        "text" in [field.name for field in dtype.inner.fields]
