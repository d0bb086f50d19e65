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


def count_contaminated(train: pl.DataFrame, eval_dir: Path, eval_sets: dict, filter_params: dict | None) -> int:
    """Number of eval items that share an n-gram with some text field of some training record.

    ``eval_sets`` is the params section of that name (which files are benchmarks);
    ``filter_params`` the ``filter`` section, completed with the filter's defaults
    here so that evaluate counts with exactly the n-gram size and minimum item
    length the filter removed with. Fields are matched one by one, as the filter
    does: joining them would invent n-grams that span two fields.
    """
    from jinstruct.filters.decontamination import EvalIndex
    from jinstruct.params import settings_from

    rule = settings_from("filter", filter_params).decontamination.as_params()
    index = EvalIndex.build(Path(eval_dir), eval_sets, rule["ngram"], rule.get("extra_files") or [],
                            rule["min_item_chars"])
    found: set[str] = set()
    for field in TEXT_FIELDS:
        found |= index.contaminated_items(train[field].fill_null(""))
    return len(found)
