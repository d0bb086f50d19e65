"""The filter contract and the Compose that runs filters in order.

A filter looks at a whole DataFrame at once and returns, per row, a ``reason``
(null = keep) and a short ``detail``. Most filters are a list of ``Check``s, each
a polars condition with the reason it stands for; ``ExprFilter`` turns them into
one ``select``. Filters that need a model (fastText, Sudachi) or an index
(decontamination) override ``evaluate`` and work on batches of unique texts.

``Compose`` runs the filters in order, each on the rows no earlier filter
rejected, so the first failing filter's reason wins and expensive filters late
in the chain see fewer rows. Each filter may add ``extra_stats`` (histograms,
collided eval items) that the stage writes next to the reject counts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import polars as pl

from jinstruct.filters.fields import FieldContext

log = logging.getLogger("jinstruct")

REASON, DETAIL = "reason", "detail"


@dataclass(frozen=True)
class Check:
    """One rule: rows where ``condition`` is true are rejected with ``reason``."""

    reason: str
    condition: pl.Expr
    detail: pl.Expr | str = ""


def no_verdicts(height: int) -> tuple[pl.Series, pl.Series]:
    """Empty ``reason`` and ``detail`` columns: every row kept so far."""
    return (pl.Series(REASON, [None] * height, dtype=pl.String), pl.Series(DETAIL, [None] * height, dtype=pl.String))


def record_verdicts(reason: pl.Series, detail: pl.Series, positions: pl.Series,
                    verdict: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Write a subset's verdict (rows at ``positions``) into the full columns, rejected rows only."""
    hit = verdict[REASON].is_not_null()
    if hit.any():
        reason = reason.scatter(positions.filter(hit), verdict[REASON].filter(hit))
        detail = detail.scatter(positions.filter(hit), verdict[DETAIL].filter(hit).fill_null(""))
    return reason, detail


class Filter:
    """Base class: ``evaluate`` returns a frame of ``reason`` and ``detail`` (one row per input row)."""

    name = "filter"

    def evaluate(self, frame: pl.DataFrame, fields: FieldContext) -> pl.DataFrame:
        raise NotImplementedError

    def extra_stats(self) -> dict:
        """Stats gathered during ``evaluate`` (deterministic: counts, never timings)."""
        return {}


@dataclass(frozen=True)
class CheckGroup:
    """Checks that only concern the rows where ``gate`` holds (None: every row).

    Gating is what keeps the regex work proportional to the text that matters:
    the checks of a group run on the gated rows only, e.g. the script ratios on
    Japanese prose of 200+ characters rather than on every field of every row.
    """

    gate: pl.Expr | None
    checks: list[Check]


class ExprFilter(Filter):
    """A filter made of ``Check``s evaluated as polars expressions; the first true check wins."""

    def check_groups(self, fields: FieldContext) -> list[CheckGroup]:
        raise NotImplementedError

    def evaluate(self, frame: pl.DataFrame, fields: FieldContext) -> pl.DataFrame:
        reason, detail = no_verdicts(frame.height)
        for group in self.check_groups(fields):
            if not group.checks:
                continue
            rows = reason.is_null()
            if group.gate is not None:
                rows = rows & frame.select(group.gate.fill_null(False)).to_series()
            if not rows.any():
                continue
            positions = rows.arg_true()
            subset = frame.filter(rows)
            # Reasons first; the (formatted, costlier) details only for the rows that failed.
            hit = subset.select(first_failing(group.checks)[0]).to_series().is_not_null()
            if hit.any():
                verdict = subset.filter(hit).select(first_failing(group.checks))
                reason, detail = record_verdicts(reason, detail, positions.filter(hit), verdict)
        return pl.DataFrame([reason, detail])


def first_failing(checks: list[Check]) -> list[pl.Expr]:
    """Expressions for ``reason`` and ``detail`` of the first check whose condition holds."""
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    detail: pl.Expr = pl.lit(None, dtype=pl.String)
    for check in reversed(checks):
        hit = check.condition.fill_null(False)
        check_detail = check.detail if isinstance(check.detail, pl.Expr) else pl.lit(check.detail)
        reason = pl.when(hit).then(pl.lit(check.reason)).otherwise(reason)
        detail = pl.when(hit).then(check_detail.cast(pl.String)).otherwise(detail)
    return [reason.alias(REASON), detail.alias(DETAIL)]


@dataclass
class Compose:
    """Run filters in order on the rows still kept; the first reason wins."""

    filters: list[Filter]
    seconds: dict[str, float] = field(default_factory=dict)
    # per filter, the records it rejected by reason: says which filter a reject's reason came from
    rejected_by_filter: dict[str, dict[str, int]] = field(default_factory=dict)

    def __call__(self, frame: pl.DataFrame, fields: FieldContext) -> tuple[pl.Series, pl.Series]:
        reasons, details = no_verdicts(frame.height)
        work = fields.annotate(frame)
        for flt in self.filters:
            pending = reasons.is_null()
            if not pending.any():
                break
            positions = pending.arg_true()
            started = time.perf_counter()
            verdict = flt.evaluate(work.filter(pending), fields)
            self.seconds[flt.name] = self.seconds.get(flt.name, 0.0) + time.perf_counter() - started
            reasons, details = record_verdicts(reasons, details, positions, verdict)
            counts = verdict[REASON].drop_nulls().value_counts().sort(REASON)
            self.rejected_by_filter[flt.name] = dict(zip(counts[REASON].to_list(), counts["count"].to_list()))
            log.debug("[filter] %s: %d of %d rows rejected", flt.name, verdict[REASON].is_not_null().sum(),
                      len(positions))
        return reasons, details

    def extra_stats(self) -> dict:
        stats: dict = {"filter_order": [flt.name for flt in self.filters],
                       "rejected_by_filter": {name: self.rejected_by_filter.get(name, {})
                                              for name in (flt.name for flt in self.filters)}}
        for flt in self.filters:
            stats.update(flt.extra_stats())
        return stats
