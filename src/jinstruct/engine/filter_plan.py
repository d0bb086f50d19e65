"""The filter stage's per-batch form on Ray, with stats equal to one in-process pass."""

from __future__ import annotations

import copy
import json
from collections import Counter
from functools import cache
from pathlib import Path

import polars as pl

from jinstruct.engine.plans import BatchPlan
from jinstruct.stage import StageResult, empty_rejects, partition

# A filter object gathers its stats while it evaluates (Counters of labels, the set
# of eval items hit). Each block gets fresh copies of the filters built once per
# worker process; the containers that were empty when the filter was built are its
# accumulators. The driver merges every block's accumulators into its own fresh
# filters and asks them for their stats, so the stats are exactly those of one
# in-process pass (sets unite, Counters add).


def _accumulator_names(flt) -> list[str]:
    return sorted(name for name, value in vars(flt).items()
                  if isinstance(value, (set, dict, Counter)) and not value)


def _fresh(flt):
    clone = copy.copy(flt)
    for name in _accumulator_names(flt):
        setattr(clone, name, type(getattr(flt, name))())
    return clone


def _merge_into(target, source):
    if isinstance(target, Counter):
        target.update(source)
    elif isinstance(target, set):
        target |= source
    elif isinstance(target, dict):
        for key, value in source.items():
            if key in target:
                _merge_into(target[key], value)
            else:
                target[key] = copy.deepcopy(value)
    return target


@cache
def _built_filters(key: str) -> tuple:
    """The filters of one configuration, built once per process (a language model, an eval
    index): ``key`` is the configuration as JSON so that it can be cached."""
    from jinstruct.filters import build_filters

    params, eval_dir, eval_sets = json.loads(key)
    built = build_filters(params, Path(eval_dir) if eval_dir else None, eval_sets)
    return tuple((flt, _accumulator_names(flt)) for flt in built)


def filter_plan(params: dict | None, text_fields, eval_dir: Path | None, eval_sets: dict | None) -> BatchPlan:
    from jinstruct.filters import STAGE
    from jinstruct.filters.base import Compose
    from jinstruct.filters.fields import FieldContext
    from jinstruct.params import settings_from

    merged = settings_from(STAGE, params).as_params()  # validated, defaults filled in
    fields = list(text_fields)
    # eval files are read by every worker: an absolute path (on a filesystem every node sees)
    key = json.dumps([merged, str(Path(eval_dir).resolve()) if eval_dir else None, eval_sets], sort_keys=True)

    def apply(records: pl.DataFrame) -> StageResult:
        if records.height == 0:
            return StageResult(records, empty_rejects(records), None)
        built = _built_filters(key)
        filters = [_fresh(flt) for flt, _ in built]
        # the same steps as filters.filter_records, with filters whose stats we can collect
        compose = Compose(filters)
        reasons, details = compose(records, FieldContext.from_params(merged, fields, records.columns))
        result = partition(records.with_columns(reasons, details), STAGE)
        result.extra_stats = {"accumulators": [{name: getattr(flt, name) for name in names}
                                               for flt, (_, names) in zip(filters, built)],
                              "rejected_by_filter": compose.rejected_by_filter}
        return result

    def merge_stats(parts: list[dict | None]) -> dict | None:
        compose = Compose([_fresh(flt) for flt, _ in _built_filters(key)])
        for part in parts:
            if part is None:
                continue
            for flt, accumulators in zip(compose.filters, part["accumulators"]):
                for name, value in accumulators.items():
                    _merge_into(getattr(flt, name), value)
            for name, counts in part.get("rejected_by_filter", {}).items():
                merged_counts = compose.rejected_by_filter.setdefault(name, {})
                for reason, count in counts.items():
                    merged_counts[reason] = merged_counts.get(reason, 0) + count
        return compose.extra_stats()

    return BatchPlan(apply, merge_stats)
