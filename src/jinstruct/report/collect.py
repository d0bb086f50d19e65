"""Read a build's files into one plain ``Build`` value.

Every input is optional: a build stopped half-way (or one that skipped
training) still gets a report, and each missing piece is named in
``Build.missing`` so the page can say what it could not show. Files written by
other stages are read defensively (column and key names may grow), but a file
that exists and cannot be parsed is an ``InputError`` naming it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from jinstruct.records import SPLIT_NAMES, TEXT_FIELDS, InputError
from jinstruct.report.clusters import example_cluster_ids, normalise_clusters
from jinstruct.report.model_metrics import eval_rows, read_curves, validation_points

DATA_STAGES = ("convert", "normalize", "dedup", "filter", "split")
DEDUPED = Path("data/interim/deduped.parquet")
FILTERED = Path("data/interim/filtered.parquet")
NORMALIZED = Path("data/interim/normalized.parquet")
CLUSTERS = Path("data/interim/dedup_clusters.parquet")
PROCESSED = Path("data/processed")
REJECTS = Path("data/rejects")
TRAIN_METRICS = Path("metrics/train.json")
EVAL_METRICS = Path("metrics/eval.json")
DVCLIVE = Path("dvclive")  # dvclive folders anywhere below (dvclive/, dvclive/train/, ...)
BASE_MODEL = Path("models/base")


@dataclass
class Build:
    """Everything the report shows, as plain values and small frames."""

    root: Path
    manifest: dict | None = None
    stage_stats: dict[str, dict] = field(default_factory=dict)   # pipeline order
    mix: pl.DataFrame | None = None              # split, source, task, records
    reject_examples: dict[str, pl.DataFrame] = field(default_factory=dict)  # stage -> rows
    clusters: pl.DataFrame | None = None         # cluster, id, kept, similarity (one row per member)
    cluster_texts: pl.DataFrame | None = None    # id, text of the members of the example clusters
    train: dict | None = None
    curves: dict[str, pl.DataFrame] = field(default_factory=dict)  # dvclive metric name -> step, value
    validation_loss: dict[int, float] = field(default_factory=dict)  # step -> loss
    eval_rows: list[dict] = field(default_factory=list)  # task, base, tuned, delta, n, k
    eval_meta: dict = field(default_factory=dict)
    base_identity: dict = field(default_factory=dict)  # models/base/identity.json as the evaluate stage saw it
    filter_histograms: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> {bin label: count}
    missing: dict[str, str] = field(default_factory=dict)  # section -> what is absent

    def path(self, relative: Path | str) -> Path:
        return self.root / relative


# --------------------------------------------------------------------------- small readers


def read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object, found a {type(value).__name__}")
    return value


def scan_parquet(path: Path) -> pl.LazyFrame | None:
    if not path.is_file():
        return None
    try:
        frame = pl.scan_parquet(path)
        frame.collect_schema()
    except Exception as exc:  # polars raises several types for a corrupt file
        raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    return frame


# --------------------------------------------------------------------------- sections


def split_funnel_row(split_stats: dict, manifest: dict | None) -> dict | None:
    """The split stage as a funnel row: it writes per-split record counts, not ``stage_stats``.

    Split keeps every record, so in = out = the records over all splits; per-source counts
    come from the manifest's ``counts`` {split: {source: {task: n}}}.
    """
    records = split_stats.get("records")
    if not isinstance(records, dict):
        return None
    total = sum(int(n) for n in records.values())
    by_source: dict[str, int] = {}
    for by_task_of_source in ((manifest or {}).get("counts") or {}).values():
        for source, by_task in by_task_of_source.items():
            by_source[source] = by_source.get(source, 0) + sum(int(n) for n in by_task.values())
    return {"stage": "split", "records_in": total, "records_out": total, "records_rejected": 0,
            "by_source": {s: {"in": n, "out": n, "rejected": 0} for s, n in sorted(by_source.items())},
            "rejected_by_reason": {}}


def _stage_stats(build: Build) -> None:
    funnel = (build.manifest or {}).get("funnel") or {}
    for stage in DATA_STAGES:
        stats = read_json(build.path(f"metrics/{stage}.json")) or funnel.get(stage)
        if isinstance(stats, dict) and "records_in" not in stats and stage == "split":
            stats = split_funnel_row(stats, build.manifest)
        if isinstance(stats, dict) and "records_in" in stats:
            build.stage_stats[stage] = stats
    build.filter_histograms = find_histograms(build.stage_stats.get("filter", {}))
    absent = [stage for stage in DATA_STAGES if stage not in build.stage_stats]
    if absent:
        build.missing["funnel"] = "no stats for " + ", ".join(f"metrics/{s}.json" for s in absent)


def _bin_order(label: str) -> tuple[float, str]:
    """Bins by their lower edge ("10-19" after "2-9"): stats JSON is key-sorted, i.e. as text."""
    match = re.match(r"\s*[<>≤≥]?\s*(-?\d+(?:\.\d+)?)", label)
    return (float(match.group(1)) if match else float("inf"), label)


def find_histograms(value: object, path: str = "", inside: bool = False) -> dict[str, dict[str, int]]:
    """Every histogram (bin label -> count) under a ``…histogram…`` key of a stats file, by dotted path.

    The filter stage records fixed-bin histograms (language-ID scores, token
    counts) among its extra stats, either directly under the key or one level
    down per field; the report shows whatever it finds there, bins in numeric order.
    """
    found = {}
    if not isinstance(value, dict):
        return found
    for key, sub in sorted(value.items()):
        name = f"{path}.{key}" if path else str(key)
        here = inside or "histogram" in str(key)
        if here and isinstance(sub, dict) and sub and all(isinstance(v, int) for v in sub.values()):
            found[name] = {str(label): int(sub[label]) for label in sorted(sub, key=_bin_order)}
        else:
            found.update(find_histograms(sub, name, here))
    return found


def _mix(build: Build) -> None:
    """Records per split, source and task: from the manifest, else counted from the splits."""
    counts = (build.manifest or {}).get("counts")
    rows = []
    if isinstance(counts, dict):
        for split, by_source in counts.items():
            for source, by_task in (by_source or {}).items():
                for task, records in (by_task or {}).items():
                    rows.append({"split": split, "source": source, "task": task, "records": int(records)})
    else:
        for split in SPLIT_NAMES:
            frame = scan_parquet(build.path(PROCESSED / f"{split}.parquet"))
            if frame is not None:
                grouped = frame.group_by("source", "task").len("records").collect()
                rows += [{"split": split, **row} for row in grouped.iter_rows(named=True)]
    if rows:
        build.mix = pl.DataFrame(rows, schema={"split": pl.String, "source": pl.String, "task": pl.String,
                                               "records": pl.Int64}).sort("split", "source", "task")
    else:
        build.missing["mix"] = f"no {PROCESSED}/manifest.json counts and no split files"


def _reject_examples(build: Build, per_reason: int) -> None:
    """The first few rejects of each reason (by id), so a reader can judge the filter."""
    for stage in DATA_STAGES:
        frame = scan_parquet(build.path(REJECTS / f"{stage}.parquet"))
        if frame is None:
            continue
        columns = frame.collect_schema().names()
        if "reason" not in columns:
            raise InputError(f"{build.path(REJECTS / f'{stage}.parquet')}: no 'reason' column")
        wanted = [c for c in ("id", "source", "task", "reason", "detail", *TEXT_FIELDS,
                              *(f"raw_{f}" for f in TEXT_FIELDS)) if c in columns]
        examples = (frame.select(wanted).sort("reason", "id" if "id" in columns else "reason", nulls_last=True)
                    .group_by("reason", maintain_order=True).head(per_reason).collect())
        if examples.height:
            build.reject_examples[stage] = examples
    if not build.reject_examples:
        build.missing["rejects"] = f"no rejected records under {REJECTS}/"


def _clusters(build: Build, example_count: int) -> None:
    path = build.path(CLUSTERS)
    if not path.is_file():
        build.missing["clusters"] = f"no {CLUSTERS}"
        return
    try:
        build.clusters = normalise_clusters(pl.read_parquet(path))
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    except Exception as exc:
        raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    wanted = example_cluster_ids(build.clusters, example_count)
    member_ids = build.clusters.filter(pl.col("cluster").is_in(wanted))["id"].unique()
    texts = []
    for source in (NORMALIZED, DEDUPED, REJECTS / "dedup.parquet"):
        frame = scan_parquet(build.path(source))
        if frame is not None and {"id", *TEXT_FIELDS} <= set(frame.collect_schema().names()):
            texts.append(frame.filter(pl.col("id").is_in(member_ids.implode()))
                         .select("id", text=record_text()).collect())
    if texts:
        build.cluster_texts = pl.concat(texts).unique("id", keep="first").sort("id")


def record_text() -> pl.Expr:
    """Instruction, input and output joined as one text (empty fields skipped)."""
    return pl.concat_str([pl.col(f).fill_null("") for f in TEXT_FIELDS], separator="\n").str.strip_chars()


def _train(build: Build) -> None:
    build.train = read_json(build.path(TRAIN_METRICS))
    build.curves = read_curves(build.path(DVCLIVE))
    build.validation_loss = validation_points(build.train or {}, build.curves)
    if build.train is None and not build.curves:
        build.missing["train"] = f"no {TRAIN_METRICS} and no dvclive curves under {DVCLIVE}/"


def _eval(build: Build) -> None:
    metrics = read_json(build.path(EVAL_METRICS))
    if metrics is None:
        build.missing["eval"] = f"no {EVAL_METRICS}"
        return
    build.eval_rows = eval_rows(metrics)
    build.eval_meta = {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}
    if isinstance(metrics.get("base_identity"), dict):
        build.base_identity = metrics["base_identity"]
    if not build.eval_rows:
        build.missing["eval"] = f"{EVAL_METRICS} holds no task with both base and tuned scores"


def collect(root: Path, examples_per_reason: int = 3, example_clusters: int = 5) -> Build:
    """Read everything the report shows from the build rooted at ``root``."""
    build = Build(root=Path(root))
    build.manifest = read_json(build.path(PROCESSED / "manifest.json"))
    if build.manifest is None:
        build.missing["header"] = f"no {PROCESSED}/manifest.json"
    _stage_stats(build)
    _mix(build)
    _reject_examples(build, examples_per_reason)
    _clusters(build, example_clusters)
    _train(build)
    _eval(build)
    return build
