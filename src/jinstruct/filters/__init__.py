"""Quality filters of the filter stage: one module per filter family.

``filter_records`` is the transform of both the DVC stage and ``jinstruct
filter``: it builds the filters named in params (``order``), runs them with
``Compose`` (first failing filter's reason wins) and returns the stage result
with per-filter extra stats. See docs/filters.md for the rules and their
measured precision on the default build.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jinstruct.filters.base import Compose, Filter
from jinstruct.filters.decontamination import DecontaminationFilter, EvalIndex
from jinstruct.filters.fields import FieldContext
from jinstruct.filters.language import LanguageFilter
from jinstruct.filters.length import LengthFilter
from jinstruct.filters.ngwords import NgWordFilter
from jinstruct.filters.noise import NoiseFilter
from jinstruct.filters.repetition import RepetitionFilter
from jinstruct.filters.script import ScriptFilter
from jinstruct.filters.words import WordFilter
from jinstruct.params import settings_from
from jinstruct.records import InputError
from jinstruct.settings.data import FilterSection
from jinstruct.stage import StageResult, empty_rejects, partition

STAGE = "filter"
FILTER_FAMILIES = {
    "length": LengthFilter,
    "noise": NoiseFilter,
    "ng_words": NgWordFilter,
    "script": ScriptFilter,
    "repetition": RepetitionFilter,
    "language": LanguageFilter,
    "words": WordFilter,
}


def build_filters(params: dict, eval_dir: Path | None, eval_sets: dict | None = None) -> list[Filter]:
    filters: list[Filter] = []
    for name in params["order"]:
        section = params.get(name)
        if section is None:
            raise InputError(f"filter.order names {name!r}, which has no params section")
        if not section.get("enabled", True):
            continue
        if name == "decontamination":
            extra = section.get("extra_files") or []
            if eval_dir is None and not extra:
                continue
            index = EvalIndex.build(eval_dir, eval_sets, section["ngram"], extra, section["min_item_chars"])
            filters.append(DecontaminationFilter(index))
        elif name in FILTER_FAMILIES:
            filters.append(FILTER_FAMILIES[name](section))
        else:
            raise InputError(f"filter.order: unknown filter {name!r} (known: decontamination, "
                             f"{', '.join(FILTER_FAMILIES)})")
    return filters


def filter_records(df: pl.DataFrame, settings: FilterSection | dict | None, text_fields, eval_dir: Path | None,
                   eval_sets: dict | None = None) -> StageResult:
    """Run the configured filters over ``df``: kept rows, and rejects with reason and detail.

    ``eval_dir`` holds the fetched eval sets for decontamination (None: only
    ``extra_files`` are registered); ``eval_sets`` is params.yaml's section of
    that name (None: every sub-folder of ``eval_dir`` is a set named after its task).
    """
    if not isinstance(settings, FilterSection):  # a params section as a dict: validated here
        settings = settings_from(STAGE, settings)
    params = settings.as_params()
    text_fields = list(text_fields)
    if df.height == 0:  # e.g. a file whose every line was a parse error: nothing to judge
        return StageResult(df, empty_rejects(df), {"filter_order": []})
    compose = Compose(build_filters(params, eval_dir, eval_sets))
    fields = FieldContext.from_params(params, text_fields, df.columns)
    reasons, details = compose(df, fields)
    result = partition(df.with_columns(reasons, details), STAGE)
    result.extra_stats = compose.extra_stats()
    return result
