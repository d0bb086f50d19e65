"""Run one filter class on one record, as the filter stage runs it, and check its reason.

In the style of datatrove's ``check_filter(filter, doc, reason)``: the filter is
built from the library's default section (``make_filter("noise", markup_min=1)``
overrides a key), the record gets the helper columns the stage computes
(``FieldContext.annotate``, through ``Compose``) and the one filter's verdict is
compared with the expected reason (None: kept). The chain as a whole is tested
in tests/filters/test_chain.py.
"""

from __future__ import annotations

import polars as pl

from jinstruct.filters import FILTER_FAMILIES
from jinstruct.filters.base import Compose, Filter
from jinstruct.filters.fields import FieldContext
from jinstruct.params import settings_from
from jinstruct.records import TEXT_FIELDS

# The library's defaults (a settings test keeps them equal to params.yaml's filter section).
FILTER_DEFAULTS = settings_from("filter", None).as_params()

JA_INSTRUCTION = "日本で一番高い山はどこですか？"
JA_ANSWER = "富士山は静岡県と山梨県の境にある日本一高い山で、標高は三千七百七十六メートルです。"


def doc(*, task: str = "open_qa", instruction: str = JA_INSTRUCTION, input: str = "", output: str = JA_ANSWER,
        **columns: str) -> dict:
    """A schema record holding good Japanese text unless a field is given."""
    return {"id": "fixture:1", "source": "fixture", "task": task, "instruction": instruction, "input": input,
            "output": output, "license": "CC0-1.0", **columns}


def make_filter(name: str, **overrides) -> Filter:
    """Filter ``name`` (a key of ``filters.FILTER_FAMILIES``) with its default section, ``overrides`` on top."""
    return FILTER_FAMILIES[name]({**FILTER_DEFAULTS[name], **overrides})


def check_filter(flt: Filter, record: dict, reason: str | None, text_fields=TEXT_FIELDS) -> str | None:
    """Assert that ``flt`` alone gives ``record`` the reject ``reason`` (None: kept); return the detail."""
    frame = pl.DataFrame([record], schema={name: pl.String for name in record})
    fields = FieldContext.from_params(FILTER_DEFAULTS, text_fields, frame.columns)
    reasons, details = Compose([flt])(frame, fields)
    assert reasons[0] == reason, f"expected {reason!r}, got {reasons[0]!r} ({details[0]})"
    return details[0]
