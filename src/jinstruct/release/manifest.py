"""Read-only views of a split manifest, shared by the card, publish, lineage and diff.

The manifest embeds fetch's provenance and the stage stats as they were written;
their exact shape may grow over time, so these helpers read what exists and
fall back to the build params rather than failing on a missing key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jinstruct.records import SPLIT_NAMES, InputError, dataset_hash, file_sha256, read_table
from jinstruct.sources.urls import redact

PIPELINE_STAGES = ("fetch", "convert", "normalize", "dedup", "filter", "split")
_COMMIT = re.compile(r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])")


@dataclass(frozen=True)
class SourceFile:
    url: str | None
    sha256: str | None
    revision: str | None
    path: str | None     # where fetch wrote it, relative to the project root
    bytes: int | None


@dataclass(frozen=True)
class SourceInfo:
    name: str
    licence: str | None
    files: tuple[SourceFile, ...]
    records_kept: int
    entry: dict          # the provenance entry (or the params entry) as written

    @property
    def revision(self) -> str | None:
        return next((f.revision for f in self.files if f.revision), None)


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise InputError(f"{path}: no manifest (build the splits with `dvc repro split` first)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    for key in ("dataset_hash", "splits"):
        if key not in manifest:
            raise InputError(f"{path}: not a split manifest (no {key!r})")
    return manifest


def split_names(manifest: dict) -> list[str]:
    splits = manifest.get("splits", {})
    return [name for name in SPLIT_NAMES if name in splits] + sorted(set(splits) - set(SPLIT_NAMES))


def split_file(manifest: dict, split: str, folder: Path) -> Path:
    """The split file inside ``folder`` (the manifest may name it with or without directories)."""
    name = manifest["splits"][split].get("file") or f"{split}.parquet"
    candidate = folder / name
    return candidate if candidate.is_file() else folder / Path(name).name


def _revision_of(entry: dict, url: str | None) -> str | None:
    if entry.get("revision"):
        return str(entry["revision"])
    match = _COMMIT.search(url or "")
    return match.group(0) if match else None


def _file_entries(entry: dict) -> list[dict]:
    """Each fetched file of a source, whatever shape provenance used (url / urls / files)."""
    for key in ("files", "urls"):
        value = entry.get(key)
        if isinstance(value, dict):
            return [dict(item, key=name) if isinstance(item, dict) else {"url": item, "key": name}
                    for name, item in sorted(value.items())]
        if isinstance(value, list):
            return [item if isinstance(item, dict) else {"url": item} for item in value]
    return [entry] if entry.get("url") or entry.get("sha256") else []


def sources(manifest: dict) -> list[SourceInfo]:
    """Every source of the build: provenance first, the build params as fallback."""
    provenance = manifest.get("provenance") or {}
    by_name = provenance.get("sources", provenance) if isinstance(provenance, dict) else {}
    params = (manifest.get("params") or {}).get("sources") or {}
    kept = records_per_source(manifest)
    enabled = {name for name, entry in params.items() if isinstance(entry, dict) and entry.get("enabled", True)}
    names = sorted({name for name, entry in by_name.items() if isinstance(entry, dict)} | enabled | set(kept))
    result = []
    for name in names:
        entry = by_name.get(name) or {}
        fallback = params.get(name) or {}
        files = _file_entries(entry) or _file_entries(fallback)
        licence = entry.get("license") or fallback.get("license")
        result.append(SourceInfo(
            name=name,
            licence=licence,
            files=tuple(SourceFile(url=redact(f.get("url")), sha256=f.get("sha256"),
                                   revision=_revision_of(f, f.get("url")) or _revision_of(entry, entry.get("url")),
                                   path=f.get("path"), bytes=f.get("bytes"))
                        for f in files),
            records_kept=kept.get(name, 0),
            entry=entry or fallback,
        ))
    return result


def records_per_source(manifest: dict) -> dict[str, int]:
    totals: dict[str, int] = {}
    for per_source in (manifest.get("counts") or {}).values():
        for source, per_task in per_source.items():
            totals[source] = totals.get(source, 0) + sum(per_task.values())
    return totals


def tasks(manifest: dict) -> list[str]:
    return sorted({task for per_source in (manifest.get("counts") or {}).values()
                   for per_task in per_source.values() for task in per_task})


def total_records(manifest: dict) -> int:
    return sum(int(info.get("records", 0)) for info in manifest["splits"].values())


def funnel_stages(manifest: dict) -> list[tuple[str, dict]]:
    """(stage, stats) in pipeline order, unknown stages after them by name."""
    funnel = manifest.get("funnel") or {}
    order = [name for name in PIPELINE_STAGES if name in funnel] + sorted(set(funnel) - set(PIPELINE_STAGES))
    return [(name, funnel[name]) for name in order if isinstance(funnel[name], dict)]


# --------------------------------------------------------------------------- checking split files


def read_split_frames(folder: Path, manifest: dict) -> dict[str, pl.DataFrame]:
    frames = {}
    for split in split_names(manifest):
        path = split_file(manifest, split, folder)
        if not path.is_file():
            raise InputError(f"{path}: split file named in the manifest is missing")
        frames[split] = read_table(path)[0]
    return frames


def split_file_problems(folder: Path, manifest: dict) -> list[str]:
    """Each split file that is missing, or whose sha256 or record count differs from the manifest."""
    problems = []
    for split in split_names(manifest):
        info = manifest["splits"][split]
        path = split_file(manifest, split, folder)
        if not path.is_file():
            problems.append(f"{path}: split file named in the manifest is missing")
        elif info.get("sha256") and file_sha256(path) != info["sha256"]:
            problems.append(f"{path}: sha256 {file_sha256(path)[:12]}… does not match the manifest's "
                            f"{info['sha256'][:12]}… (the file changed after the build)")
    return problems


def verify_processed(folder: str | Path) -> tuple[dict, dict[str, pl.DataFrame]]:
    """The manifest and split frames of a processed folder, after checking files and dataset hash."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = split_file_problems(folder, manifest)
    if problems:
        raise InputError(problems[0])
    frames = read_split_frames(folder, manifest)
    for split, frame in frames.items():
        expected = manifest["splits"][split].get("records")
        if expected is not None and frame.height != int(expected):
            raise InputError(f"{split_file(manifest, split, folder)}: {frame.height} records, "
                             f"the manifest says {expected}")
    recomputed = dataset_hash(frames)
    if recomputed != manifest["dataset_hash"]:
        raise InputError(f"{folder / 'manifest.json'}: dataset hash {manifest['dataset_hash'][:12]}… does not match "
                         f"the split files ({recomputed[:12]}…)")
    return manifest, frames
