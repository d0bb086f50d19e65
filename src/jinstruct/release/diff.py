"""Compare two dataset versions: records added, removed, changed; funnel deltas; both hashes.

A version is a manifest file, a processed folder, or a git revision of the
project (its data/processed read through DVC: ``dvc.lock`` at that revision plus
the DVC cache). Records are matched by ``id``: *added* and *removed* ids,
*changed* = same id with different content, *moved* = same content in another
split. Counts are given per source and task, with a few examples of each kind.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jinstruct.records import InputError, dataset_hash
from jinstruct.release import manifest as manifests

PROCESSED = "data/processed"


@dataclass
class Version:
    label: str
    manifest: dict
    frames: dict[str, pl.DataFrame]

    def records(self) -> pl.DataFrame:
        parts = [frame.with_columns(split=pl.lit(split)) for split, frame in self.frames.items()]
        return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()


# --------------------------------------------------------------------------- loading versions


def load_version(spec: str, root: str | Path = ".") -> Version:
    """A version from a manifest path, a processed folder, or a git revision of the project at ``root``."""
    path = Path(spec)
    if path.exists():
        folder = path.parent if path.is_file() else path
        manifest = manifests.read_manifest(folder)
        return Version(str(spec), manifest, manifests.read_split_frames(folder, manifest))
    return _load_revision(spec, Path(root))


def _load_revision(rev: str, root: Path) -> Version:
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException
    from dvc.scm import RevError

    try:
        fs = DVCFileSystem(str(root), rev=rev)
        manifest = json.loads(fs.read_bytes(f"{PROCESSED}/manifest.json"))
        frames = {}
        for split in manifests.split_names(manifest):
            name = Path(manifest["splits"][split].get("file") or f"{split}.parquet").name
            frames[split] = pl.read_parquet(io.BytesIO(fs.read_bytes(f"{PROCESSED}/{name}")))
    except (RevError, DvcException, FileNotFoundError) as exc:
        raise InputError(f"{rev}: neither a file nor a git revision with {PROCESSED} in the DVC cache "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    if dataset_hash(frames) != manifest["dataset_hash"]:
        raise InputError(f"{rev}: the cached split files do not match that revision's manifest hash")
    return Version(rev, manifest, frames)


# --------------------------------------------------------------------------- comparing


def _content_columns(a: pl.DataFrame, b: pl.DataFrame) -> list[str]:
    return [name for name in a.columns if name in b.columns and name not in ("id", "split")]


def _per_source_task(frame: pl.DataFrame) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = {}
    if frame.height:
        for row in frame.group_by("source", "task").len().sort("source", "task").iter_rows(named=True):
            nested.setdefault(row["source"], {})[row["task"]] = row["len"]
    return nested


def _record_examples(frame: pl.DataFrame, limit: int) -> list[dict]:
    keep = [name for name in ("id", "split", "source", "task", "instruction", "input", "output")
            if name in frame.columns]
    return [{key: _clip(value) for key, value in row.items()}
            for row in frame.sort("id").head(limit).select(keep).iter_rows(named=True)]


def _clip(value: object, width: int = 160) -> object:
    return value[:width] + "…" if isinstance(value, str) and len(value) > width else value


def compare_records(a: Version, b: Version, examples: int = 3) -> dict:
    left, right = a.records(), b.records()
    columns = _content_columns(left, right)
    joined = left.join(right, on="id", how="inner", suffix="__b")
    differs = pl.any_horizontal([pl.col(name).ne_missing(pl.col(f"{name}__b")) for name in columns]) if columns \
        else pl.lit(False)
    changed = joined.filter(differs)
    moved = joined.filter(~differs & (pl.col("split") != pl.col("split__b")))
    added = right.join(left, on="id", how="anti")
    removed = left.join(right, on="id", how="anti")
    changed_examples = []
    for row in changed.sort("id").head(examples).iter_rows(named=True):
        fields = {name: {"a": _clip(row[name]), "b": _clip(row[f"{name}__b"])}
                  for name in columns if row[name] != row[f"{name}__b"]}
        changed_examples.append({"id": row["id"], "fields": fields})
    as_b = lambda frame: frame.select("id", *[pl.col(f"{n}__b").alias(n) for n in ("source", "task")])  # noqa: E731
    return {
        "counts": {"added": added.height, "removed": removed.height, "changed": changed.height,
                   "moved_split": moved.height, "unchanged": joined.height - changed.height - moved.height},
        "by_source_task": {"added": _per_source_task(added), "removed": _per_source_task(removed),
                           "changed": _per_source_task(as_b(changed))},
        "examples": {"added": _record_examples(added, examples), "removed": _record_examples(removed, examples),
                     "changed": changed_examples,
                     "moved_split": [{"id": row["id"], "a": row["split"], "b": row["split__b"]}
                                     for row in moved.sort("id").head(examples).iter_rows(named=True)]},
    }


def compare_funnels(a: dict, b: dict) -> dict:
    stages_a, stages_b = dict(manifests.funnel_stages(a)), dict(manifests.funnel_stages(b))
    order = [name for name, _ in manifests.funnel_stages({"funnel": {**stages_b, **stages_a}})]
    result = {}
    for stage in order:
        sa, sb = stages_a.get(stage, {}), stages_b.get(stage, {})
        counts = {key: {"a": sa.get(key, 0), "b": sb.get(key, 0), "delta": sb.get(key, 0) - sa.get(key, 0)}
                  for key in ("records_in", "records_out", "records_rejected")}
        reasons_a, reasons_b = sa.get("rejected_by_reason") or {}, sb.get("rejected_by_reason") or {}
        reasons = {reason: {"a": reasons_a.get(reason, 0), "b": reasons_b.get(reason, 0),
                            "delta": reasons_b.get(reason, 0) - reasons_a.get(reason, 0)}
                   for reason in sorted(set(reasons_a) | set(reasons_b))}
        result[stage] = {**counts, "rejected_by_reason": reasons}
    return result


def diff_versions(a: Version, b: Version, examples: int = 3) -> dict:
    return {
        "a": {"label": a.label, "dataset_hash": a.manifest["dataset_hash"], "version": a.manifest.get("version")},
        "b": {"label": b.label, "dataset_hash": b.manifest["dataset_hash"], "version": b.manifest.get("version")},
        "identical": a.manifest["dataset_hash"] == b.manifest["dataset_hash"],
        "records": compare_records(a, b, examples),
        "funnel": compare_funnels(a.manifest, b.manifest),
        "params": _params_changes(a.manifest.get("params") or {}, b.manifest.get("params") or {}),
    }


def _params_changes(a: dict, b: dict, prefix: str = "") -> dict:
    changes = {}
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            changes.update(_params_changes(va, vb, f"{prefix}{key}."))
        elif va != vb:
            changes[f"{prefix}{key}"] = {"a": va, "b": vb}
    return changes


# --------------------------------------------------------------------------- text


def format_diff(result: dict) -> str:
    a, b = result["a"], result["b"]
    counts = result["records"]["counts"]
    lines = [f"A {a['label']}  version {a['version']}  dataset_hash {a['dataset_hash']}",
             f"B {b['label']}  version {b['version']}  dataset_hash {b['dataset_hash']}"]
    if result["identical"]:
        return "\n".join([*lines, "identical datasets (same hash)"])
    lines.append("records: " + ", ".join(f"{kind} {count:,}" for kind, count in counts.items()))
    for key, change in result["params"].items():
        lines.append(f"param {key}: {change['a']} -> {change['b']}")
    for kind, nested in result["records"]["by_source_task"].items():
        for source, per_task in nested.items():
            for task, count in per_task.items():
                lines.append(f"  {kind:<8} {source} / {task}: {count:,}")
    lines.append("funnel (A -> B):")
    for stage, stats in result["funnel"].items():
        parts = [f"{key.removeprefix('records_')} {value['a']:,}->{value['b']:,} ({value['delta']:+,})"
                 for key, value in stats.items() if key != "rejected_by_reason"]
        lines.append(f"  {stage}: " + ", ".join(parts))
        for reason, value in stats["rejected_by_reason"].items():
            if value["delta"]:
                lines.append(f"    {reason}: {value['a']:,}->{value['b']:,} ({value['delta']:+,})")
    for kind, rows in result["records"]["examples"].items():
        for row in rows:
            lines.append(f"example {kind}: {json.dumps(row, ensure_ascii=False, sort_keys=True)}")
    return "\n".join(lines)
