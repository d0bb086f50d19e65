"""How many benchmark items also appear in the training split.

The rule is the filter stage's decontamination (one rule, one place): this
module only adapts its index to the question evaluate asks. The filter should
already have removed every overlapping record, so the count is 0 on a default
build; a non-zero count means the scores of that task are inflated.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jinstruct.records import TEXT_FIELDS


def record_texts(records: pl.DataFrame) -> list[str]:
    """One text per record: instruction, input and output joined, as the filter sees them."""
    return records.select(
        pl.concat_str([pl.col(field).fill_null("") for field in TEXT_FIELDS], separator="\n")
    ).to_series().to_list()


def count_contaminated(train: pl.DataFrame, eval_dir: Path, eval_sets: dict, decontamination: dict) -> int:
    """Number of eval items matched by at least one training record.

    ``eval_sets`` is the params section of that name (which files are benchmarks);
    ``decontamination`` the filter's decontamination params (n-gram size etc.).
    """
    from jinstruct.filters.decontamination import EvalIndex

    index = EvalIndex.build(Path(eval_dir), eval_sets, **decontamination)
    return len(index.matching_items(record_texts(train)))
