"""The per-batch form of a stage and how the stats of its batches combine.

A stage runs per batch when each record's fate depends on that record alone
(normalize, filter): the same library function then runs on every block and
the kept and rejected rows are the concatenation of the blocks' results, in
input order. Only the extra stats need care, because some are counts (they
add up) and some are not (a filter's "distinct eval items hit"). Each stage's
plan lives with the stage (``pipeline/normalize.py``, ``engine/filter_plan.py``),
so a stage's import closure, and so its DVC deps, hold only its own code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from jinstruct.stage import StageResult


@dataclass(frozen=True)
class BatchPlan:
    apply: Callable[[pl.DataFrame], StageResult]         # one block's records → its StageResult
    merge_stats: Callable[[list[dict | None]], dict | None]  # every block's extra stats → the stage's
    # in process, the kept frame is the input frame itself, chunked as read (one chunk per input
    # row group), and polars writes each chunk as its own row groups: the Ray writer must too
    keeps_input_chunks: bool = False


def additive_stats(parts: list[dict | None]) -> dict | None:
    """Merge stats whose numbers are counts: numbers add up, dicts merge key by key,
    anything else (field lists, settings) is the same in every block and kept once."""
    def merge(left, right):
        if isinstance(left, dict) and isinstance(right, dict):
            merged = dict(left)
            for key, value in right.items():
                merged[key] = merge(merged[key], value) if key in merged else value
            return merged
        if isinstance(left, (int, float)) and not isinstance(left, bool) and isinstance(right, (int, float)):
            return left + right
        return left

    present = [part for part in parts if part is not None]
    if not present:
        return None
    merged = present[0]
    for part in present[1:]:
        merged = merge(merged, part)
    return merged
