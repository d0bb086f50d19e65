"""``--verify``: re-read the raw bytes a record came from and confirm its raw fields.

Two checks per record: each file it came from still has the sha256 recorded when
it was fetched (archive members have none of their own: the archive's was
checked at fetch time and only its members are kept), and running the source's
adapter again over those files gives exactly the record's fields as converted.
The adapter sees only the files of this record where it can (one member of an
archive), so verifying a Dolly record does not re-read 15,000 files.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from jinstruct.records import TEXT_FIELDS, InputError, file_sha256
from jinstruct.sources.adapters import ADAPTERS
from jinstruct.sources.spec import enabled_sources


def _check(name: str, ok: bool, detail: str) -> dict:
    return {"check": name, "ok": ok, "detail": detail}


def file_checks(raw_dir: Path, files: list[dict]) -> list[dict]:
    checks = []
    for entry in files:
        path = raw_dir / entry["path"]
        if not path.is_file():
            checks.append(_check("sha256", False, f"{path}: missing"))
        elif entry.get("sha256") and not entry.get("archive"):
            actual = file_sha256(path)
            ok = actual == entry["sha256"]
            checks.append(_check("sha256", ok, f"{entry['path']}: sha256 matches the fetched file" if ok else
                                 f"{entry['path']}: sha256 {actual[:12]}… differs from {entry['sha256'][:12]}… "
                                 "recorded at fetch: the raw file changed after the build"))
        else:
            checks.append(_check("sha256", True, f"{entry['path']}: an archive member (the archive's sha256 was "
                                 "checked at fetch); its bytes are checked by re-converting below"))
    return checks


def _adapter_view(raw_dir: Path, source: str, kind: str, files: list[dict], into: Path) -> Path:
    """A raw folder holding only what the adapter needs: the record's own files for an archive, else the source's."""
    view = into / "raw"
    if kind == "archive":
        for entry in files:
            link = view / entry["path"]
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to((raw_dir / entry["path"]).resolve())
    else:
        view.mkdir(parents=True)
        (view / source).symlink_to((raw_dir / source).resolve(), target_is_directory=True)
    return view


def reconvert_check(raw_dir: Path, sources_params: Mapping, record: Mapping, files: list[dict]) -> dict:
    """Run the source's adapter over the raw bytes again and compare the record's converted fields."""
    source = record["source"]
    spec = next((spec for spec in enabled_sources(dict(sources_params)) if spec.name == source), None)
    if spec is None or spec.adapter not in ADAPTERS:
        return _check("reconvert", False, f"source {source} is not in the build's params")
    with tempfile.TemporaryDirectory(prefix="jinstruct-explain-") as scratch:
        try:
            view = _adapter_view(raw_dir, source, spec.kind, files, Path(scratch))
            candidates = ADAPTERS[spec.adapter](spec, view).frame
        except (InputError, OSError) as exc:
            return _check("reconvert", False, f"the raw files no longer convert: {exc}")
    found = candidates.filter(pl.col("id") == record["id"])
    if found.height == 0:
        return _check("reconvert", False, f"the raw files no longer give a record {record['id']}")
    differing = [field for field in TEXT_FIELDS if found[field][0] != record[field]]
    if differing:
        return _check("reconvert", False, f"the raw bytes now give a different {', '.join(differing)} than the "
                      "build converted: the raw file changed after the build")
    return _check("reconvert", True, "re-converting the raw bytes gives the record's raw instruction, input and output")


def verify_record(raw_dir: Path, sources_params: Mapping, record: Mapping, files: list[dict]) -> dict:
    checks = file_checks(raw_dir, files)
    if all(check["ok"] for check in checks):
        checks.append(reconvert_check(raw_dir, sources_params, record, files))
    return {"ok": all(check["ok"] for check in checks), "checks": checks}
