"""The model side of a build: dvclive training curves and per-task evaluation scores.

The train and evaluate stages own these formats; the readers accept the shapes
they write today and a few plain alternatives, so a renamed key degrades one
table cell, not the report.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jinstruct.records import InputError


def read_curves(live_root: Path) -> dict[str, pl.DataFrame]:
    """Every per-step curve dvclive wrote below ``live_root`` (``<dir>/plots/metrics/<name>.tsv``).

    Keyed by the metric name dvclive was given (``train/loss``), as step and value columns.
    """
    curves = {}
    for path in sorted(live_root.rglob("*.tsv")) if live_root.is_dir() else []:
        posix = path.as_posix()
        if "/plots/metrics/" not in posix:
            continue
        name = posix.split("/plots/metrics/", 1)[1].removesuffix(".tsv")
        try:
            frame = pl.read_csv(path, separator="\t")
        except Exception as exc:
            raise InputError(f"{path}: not a readable TSV file ({type(exc).__name__})") from None
        value = next((c for c in reversed(frame.columns) if c not in ("step", "timestamp")), None)
        if "step" in frame.columns and value is not None and frame.height:
            curves[name] = frame.select(step=pl.col("step").cast(pl.Int64), value=pl.col(value).cast(pl.Float64))
    return curves


def validation_points(train: dict, curves: dict[str, pl.DataFrame]) -> dict[int, float]:
    """Validation loss before and after tuning (metrics/train.json) placed at the first and last step."""
    last_step = max((int(curve["step"].max()) for curve in curves.values()), default=int(train.get("steps", 1) or 1))
    points = {}
    for key, step in (("validation_loss_before", 0), ("validation_loss", last_step)):
        value = _number(train.get(key))
        if value is not None:
            points[step] = value
    return points


# Which score stands for a task when the evaluate stage records several (acc, macro-F1, ...).
HEADLINE_KEYS = ("score", "acc", "accuracy", "overall", "perplexity")


def headline(value: object) -> tuple[float | None, str | None]:
    """(score, its name): a bare number, or the headline entry of a dict of scores."""
    if isinstance(value, dict):
        key = next((k for k in HEADLINE_KEYS if _number(value.get(k)) is not None), None)
        key = key or next((k for k, v in value.items() if _number(v) is not None), None)
        return (_number(value[key]), key) if key else (None, None)
    return _number(value), None


def eval_rows(metrics: dict) -> list[dict]:
    """Per-task rows from metrics/eval.json: any object holding both ``base`` and ``tuned``.

    Accepts ``{"tasks": {task: {...}}}``, ``{task: {...}}`` or a list of rows with a ``task`` key;
    scores may be numbers or dicts of scores (the headline one is shown).
    """
    candidates = metrics.get("tasks", metrics)
    if isinstance(candidates, list):
        items = [(str(row.get("task")), row) for row in candidates if isinstance(row, dict)]
    elif isinstance(candidates, dict):
        items = list(candidates.items())
    else:
        items = []
    rows = []
    for task, scores in items:
        if not (isinstance(scores, dict) and "base" in scores and "tuned" in scores):
            continue
        base, metric = headline(scores["base"])
        tuned, _ = headline(scores["tuned"])
        delta = scores.get("delta")
        delta = _number(delta.get(metric)) if isinstance(delta, dict) else _number(delta)
        if delta is None and base is not None and tuned is not None:
            delta = tuned - base
        majority, _ = headline(scores.get("majority_baseline"))
        rows.append({"task": task, "metric": scores.get("metric", metric), "base": base, "tuned": tuned,
                     "delta": delta, "majority": majority, "n": scores.get("n"), "k": scores.get("k"),
                     "chance": _number(scores.get("chance_baseline")),
                     "base_ci": _interval(scores["base"]), "tuned_ci": _interval(scores["tuned"]),
                     "verdict": _verdicts(scores),
                     "base_bpc": _field(scores["base"], "bits_per_char"),
                     "tuned_bpc": _field(scores["tuned"], "bits_per_char"),
                     "base_bpb": _field(scores["base"], "bits_per_byte"),
                     "tuned_bpb": _field(scores["tuned"], "bits_per_byte")})
    return sorted(rows, key=lambda row: row["task"])


def _field(scores: object, key: str) -> float | None:
    return _number(scores.get(key)) if isinstance(scores, dict) else None


def _interval(scores: object) -> tuple[float, float] | None:
    interval = scores.get("acc_ci95") if isinstance(scores, dict) else None
    if isinstance(interval, dict) and _number(interval.get("low")) is not None:
        return _number(interval["low"]), _number(interval.get("high"))
    return None


def _verdicts(scores: dict) -> str | None:
    """"base: ..., tuned: ..." from the evaluate stage's words (no signal / above / below the majority)."""
    words = [f"{variant}: {scores[variant]['verdict']}" for variant in ("base", "tuned")
             if isinstance(scores.get(variant), dict) and isinstance(scores[variant].get("verdict"), str)]
    return "; ".join(words) or None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
