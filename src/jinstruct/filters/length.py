"""Length bounds per field and task, empty answers, and answers that copy the prompt.

Removes:

- ``empty_<field>``: a required field (``required_fields``; with a custom
  ``--text-field`` file, every text field) that is empty or whitespace only.
- ``too_short`` / ``too_long``: a field outside its ``[min, max]`` visible
  characters. ``bounds["*"]`` holds the defaults per field (a field not listed
  there gets ``bounds["*"]["*"]``) and ``bounds[<task>]`` overrides them for one
  task. The default output minimum is 1 so that 「はい」 or 「B」 survive in
  classification and multiple choice; tasks whose answers are texts
  (creative_writing, summarization) ask for ten characters (Dolly's
  categories are noisy: a one-word "brainstorming" answer such as 「ビリヤニ」
  is often right, so brainstorming keeps the default). The maxima
  bound what a LoRA run with a 2k-token context can use (a Japanese character
  is about one token for small BPE vocabularies).
- ``output_copies_prompt``: the output equals the instruction or a non-empty
  input once whitespace is ignored: the record teaches nothing.
- ``output_echoes_question``: the output only repeats part of the instruction:
  it is contained in it and covers at least ``echo_min_share`` of it (a truncated
  copy of the question). An output that restates the question and then answers
  (「ドイツの首都は？」→「ドイツの首都はベルリン」) is a good answer and stays.
  Outputs of fewer than ``echo_min_chars`` characters are exempt (an
  instruction that lists the labels 肯定/否定 contains its one-word answer).
  Answers contained in the *input* are fine: that is extractive QA.
"""

from __future__ import annotations

import polars as pl

from jinstruct.filters.base import Check, CheckGroup, ExprFilter
from jinstruct.filters.fields import FieldContext

WHITESPACE_AND_PUNCTUATION = r"[\s。、．，.,!！?？「」『』\"'()（）]"


def _compact(name: str) -> pl.Expr:
    return pl.col(name).str.replace_all(WHITESPACE_AND_PUNCTUATION, "")


class LengthFilter(ExprFilter):
    name = "length"

    def __init__(self, params: dict):
        self.required_fields = list(params["required_fields"])
        self.bounds = {task: dict(per_field) for task, per_field in params["bounds"].items()}
        self.echo_min_chars = int(params["echo_min_chars"])
        self.echo_min_share = float(params["echo_min_share"])

    def _bound(self, task: str, name: str) -> tuple[int, int]:
        defaults = self.bounds["*"]
        low, high = self.bounds.get(task, {}).get(name) or defaults.get(name) or defaults["*"]
        return int(low), int(high)

    def check_groups(self, fields: FieldContext) -> list[CheckGroup]:
        return [CheckGroup(None, self.checks(fields))]

    def checks(self, fields: FieldContext) -> list[Check]:
        required = [name for name in self.required_fields if name in fields.text_fields] or list(fields.text_fields)
        checks = [Check(f"empty_{name}", fields.length(name) == 0, f"{name}: empty") for name in required]
        for name in fields.text_fields:
            low, high = self._bounds_expr(fields, name)
            length = fields.length(name)
            not_empty = length > 0
            checks.append(Check("too_short", not_empty & (length < low),
                                pl.format("{}: {} chars < {}", pl.lit(name), length, low)))
            checks.append(Check("too_long", length > high, pl.format("{}: {} chars > {}", pl.lit(name), length, high)))
        if "output" in fields.text_fields:
            checks += self._copy_checks(fields)
        return checks

    def _bounds_expr(self, fields: FieldContext, name: str) -> tuple[pl.Expr, pl.Expr]:
        low, high = self._bound("*", name)
        low_expr, high_expr = pl.lit(low), pl.lit(high)
        if fields.has_task:
            for task in self.bounds:
                if task != "*" and name in self.bounds[task]:
                    task_low, task_high = self._bound(task, name)
                    is_task = pl.col("task") == task
                    low_expr = pl.when(is_task).then(pl.lit(task_low)).otherwise(low_expr)
                    high_expr = pl.when(is_task).then(pl.lit(task_high)).otherwise(high_expr)
        return low_expr, high_expr

    def _copy_checks(self, fields: FieldContext) -> list[Check]:
        output = _compact("output")
        checks = []
        for name in ("instruction", "input"):
            if name in fields.text_fields:
                source = _compact(name)
                checks.append(Check("output_copies_prompt", (output.str.len_chars() > 0) & (output == source),
                                    f"output: identical to the {name}"))
        if "instruction" in fields.text_fields:
            instruction = _compact("instruction")
            out_len, ins_len = output.str.len_chars(), instruction.str.len_chars()
            inside = instruction.str.contains(output, literal=True) & (out_len >= self.echo_min_share * ins_len)
            echoes = (out_len >= self.echo_min_chars) & (ins_len > 0) & (out_len < ins_len) & inside
            checks.append(Check("output_echoes_question", echoes,
                                pl.format("output: repeats the instruction ({} of {} chars)", out_len, ins_len)))
        return checks
