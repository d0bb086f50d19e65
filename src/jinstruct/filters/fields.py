"""What each text field of each record is expected to hold.

Filters are field- and task-aware: the same rule means different things for an
instruction, a context passage and an answer. Two facts are computed once per
record and field, as helper columns, before any filter runs:

- the expected language (``ja``, ``en`` or ``any``): from ``field_languages``
  (fields not listed are Japanese, so a ``--text-field`` file with no task
  column gets prose defaults), overridden per task by ``english_fields`` (the
  English side of a translation record is English);
- the content kind (``code``, ``list`` or ``prose``; a list is two or more
  bulleted or numbered lines, a Markdown table, at least four separated items
  per sentence end, or three or more lines most of which end no sentence).
  Code and lists are kept away from the prose heuristics (hiragana and symbol
  shares, n-gram and sentence repetition), because a Python answer or a list
  of katakana names is fine as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from jinstruct.text.scripts import visible_length

# A fenced block, or two lines that look like source code: keywords that open a
# statement, or a line ending in ; { } as C-family and JSON text does. The line
# regex is slow on long Japanese text, so it runs only on texts holding one of
# the cheap ASCII markers (an Aho-Corasick scan).
CODE_FENCE = "```"
CODE_MARKERS = ["def ", "class ", "import ", "#include", "public ", "private ", "function", "return", "for (",
                "for(", "while", "if (", "if(", "SELECT ", "print(", "console.", "var ", "let ", "const ", "fn ",
                "package ", ";", "{", "}"]
SQL_QUERY = r"\bSELECT\s.+\sFROM\s"
CODE_LINE = (r"(?m)^[ \t]*(?:def |class |import |from \S+ import |#include|public |private |function |return\b|"
             r"for\s*\(|while\s*\(|if\s*\(|SELECT |print\(|console\.|var |let |const |fn |package )"
             r"|[;{}][ \t]*$")
# A list item: a bullet or an enumerator at the start of a line.
LIST_LINE = r"(?m)^\s*(?:[-*+・•●○◦▪■□◆◇]|\d{1,3}[.)．）:/、]|\d{1,3}\s+[-–]\s|[（(]\d{1,3}[)）]|[①-⑳])\s*\S"
# Separated items: 「東京、大阪、名古屋」, 『A』『B』, 「A｜B」. Japanese prose has one
# or two 、 per sentence; an enumeration has many per sentence end.
ENUMERATION_SEPARATOR = r"[、,，/／;；|｜]|』『|」「"
SENTENCE_END = r"[。!！?？]"
ITEMS_PER_SENTENCE = 4
# A line that ends a sentence; lines of a list ("ムース：陸上") mostly do not.
LINE_WITH_SENTENCE_END = r"(?m)[。．.!！?？」』][ \t]*$"
NON_EMPTY_LINE = r"(?m)^[ \t]*\S"
# A Markdown table row.
TABLE_ROW = r"(?m)^[ \t]*\|?[^|\n]+\|[^\n]*$"


@dataclass(frozen=True)
class FieldContext:
    text_fields: tuple[str, ...]
    field_languages: dict[str, str]
    english_fields: dict[str, list[str]]
    has_task: bool

    @classmethod
    def from_params(cls, params: dict, text_fields, columns) -> FieldContext:
        return cls(tuple(text_fields), dict(params.get("field_languages") or {}),
                   {task: list(fields) for task, fields in (params.get("english_fields") or {}).items()},
                   "task" in columns)

    # ------------------------------------------------------------------ helper columns

    @staticmethod
    def lang(field: str) -> pl.Expr:
        return pl.col(f"__lang__{field}")

    @staticmethod
    def kind(field: str) -> pl.Expr:
        return pl.col(f"__kind__{field}")

    @staticmethod
    def length(field: str) -> pl.Expr:
        """Visible (non-whitespace) characters of the field."""
        return pl.col(f"__len__{field}")

    def is_prose(self, field: str) -> pl.Expr:
        return self.kind(field) == "prose"

    def annotate(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with nulls read as empty text and the helper columns added."""
        frame = frame.with_columns(pl.col(name).fill_null("") for name in self.text_fields)
        helpers = []
        for name in self.text_fields:
            helpers += [self._expected_language(name).alias(f"__lang__{name}"),
                        content_kind(pl.col(name)).alias(f"__kind__{name}"),
                        visible_length(name).alias(f"__len__{name}")]
        return frame.with_columns(helpers)

    def _expected_language(self, name: str) -> pl.Expr:
        expected = pl.lit(self.field_languages.get(name, "ja"))
        if self.has_task:
            english_tasks = [task for task, fields in self.english_fields.items() if name in fields]
            if english_tasks:
                expected = pl.when(pl.col("task").is_in(english_tasks)).then(pl.lit("en")).otherwise(expected)
        return expected


def content_kind(text: pl.Expr) -> pl.Expr:
    """``code``, ``list`` or ``prose`` for each text."""
    code_lines = pl.when(text.str.contains_any(CODE_MARKERS)).then(text).otherwise(pl.lit("")).str.count_matches(
        CODE_LINE)
    is_code = text.str.contains(CODE_FENCE, literal=True) | (code_lines >= 2) | text.str.contains(SQL_QUERY)
    separators = text.str.count_matches(ENUMERATION_SEPARATOR)
    sentence_ends = text.str.count_matches(SENTENCE_END)
    enumeration = (separators >= 2) & (separators >= ITEMS_PER_SENTENCE * pl.max_horizontal(sentence_ends, pl.lit(1)))
    lines = text.str.count_matches(NON_EMPTY_LINE)
    mostly_unfinished_lines = (lines >= 3) & (text.str.count_matches(LINE_WITH_SENTENCE_END) * 2 < lines)
    is_list = ((text.str.count_matches(LIST_LINE) >= 2) | enumeration | mostly_unfinished_lines
               | (text.str.count_matches(TABLE_ROW) >= 2))
    return pl.when(is_code).then(pl.lit("code")).when(is_list).then(pl.lit("list")).otherwise(pl.lit("prose"))
