"""The files of a built project that explain reads, checked against dvc.lock.

A record's story is only true if every file it is read from comes from the same
build. DVC records the md5 of each stage output in dvc.lock; a file whose md5
differs (a checkout of another revision, a stage run outside DVC, a hand edit)
makes explain stop with one line rather than mix two builds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from jinstruct.records import InputError

# Stage outputs explain reads, by what they hold (paths as dvc.yaml declares them).
OUTPUTS = {
    "origins": "data/interim/origins.parquet",
    "convert_rejects": "data/rejects/convert.parquet",
    "normalized": "data/interim/normalized.parquet",
    "dedup_rejects": "data/rejects/dedup.parquet",
    "clusters": "data/interim/dedup_clusters.parquet",
    "filter_rejects": "data/rejects/filter.parquet",
    "processed": "data/processed",
}
REBUILD_HINT = "run `dvc repro split` (or `dvc checkout` to restore the recorded outputs)"


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def dvc_md5(path: Path) -> str:
    """The md5 DVC 3 records for a file, or for a folder its ``.dir`` hash.

    A folder's hash is the md5 of the JSON list of its files (relative path and
    md5, sorted by path), as dvc_data's Tree computes it, plus ``.dir``.
    """
    if path.is_file():
        return _md5(path)
    entries = sorted(({"md5": _md5(file), "relpath": file.relative_to(path).as_posix()}
                      for file in path.rglob("*") if file.is_file()), key=lambda entry: entry["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def locked_outputs(lock: dict) -> dict[str, str]:
    """Output path → md5 over every stage of a dvc.lock document."""
    found = {}
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if out.get("md5"):
                found[out["path"]] = out["md5"]
    return found


@dataclass
class Build:
    root: Path
    locked: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path) -> Build:
        """The build under ``root``; one-line errors for a missing project or unbuilt outputs."""
        root = root.resolve()
        if not (root / "dvc.yaml").is_file():
            raise InputError(f"{root}: not a jinstruct project (no dvc.yaml); run explain from the project folder "
                             "or pass --root")
        lock_path = root / "dvc.lock"
        missing = [name for name in OUTPUTS.values() if not (root / name).exists()]
        if not lock_path.is_file() or missing:
            what = "no dvc.lock" if not lock_path.is_file() else f"no {missing[0]}"
            raise InputError(f"{root}: the project has not been built ({what}); run `dvc repro split` first")
        # libyaml's loader when present: the pure-Python one takes most of a second on a full dvc.lock
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return cls(root, locked_outputs(yaml.load(lock_path.read_text(encoding="utf-8"), Loader=loader) or {}))

    def path(self, name: str) -> Path:
        return self.root / OUTPUTS[name]

    def check_fresh(self) -> None:
        """Stop if an output explain reads is not the one dvc.lock records."""
        for name in OUTPUTS.values():
            recorded = self.locked.get(name)
            if recorded is None:
                raise InputError(f"{name}: dvc.lock records no such output (built by an older jinstruct?); "
                                 f"{REBUILD_HINT}")
            actual = dvc_md5(self.root / name)
            if actual != recorded:
                raise InputError(f"{name}: stale, not the output dvc.lock records (md5 {actual[:8]}… vs "
                                 f"{recorded[:8]}…), so it comes from a different build; {REBUILD_HINT}")

    def manifest(self) -> dict:
        return json.loads((self.path("processed") / "manifest.json").read_text(encoding="utf-8"))
