"""One record's journey through a built project, as a JSON-ready dict (schema.json).

Each section comes from the stage outputs of the build (``build.Build`` checks
they are the ones dvc.lock records): where the record came from
(origins.parquet and the manifest's provenance), what convert made of it (the
raw fields kept by normalize), which normalisation rules changed it (replayed
on the raw text), what dedup decided (rejects and clusters), what the filters
decided (rejects and the per-filter reasons of metrics/filter.json, copied into
the manifest's funnel), and where it landed (the split files). A record removed
by a stage has no later sections.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jinstruct.explain.build import Build
from jinstruct.explain.lookup import ids_containing, rows_where, rows_with_id
from jinstruct.explain.normalization import replay
from jinstruct.records import REJECT_FIELDS, SCHEMA_FIELDS, SPLIT_NAMES, TEXT_FIELDS, InputError
from jinstruct.sources.convert import ORIGINS_SCHEMA
from jinstruct.text.normalizer import RAW_PREFIX

FORMAT = "jinstruct-explain/1"
# Columns of dedup_clusters.parquet read here (a subset of jinstruct.dedup.run.CLUSTER_SCHEMA, which a test
# checks): importing the dedup package would load its MinHash kernels and cost seconds per call.
CLUSTER_COLUMNS = ("cluster_id", "id", "kept", "reason", "similarity")
RAW_FIELDS = tuple(RAW_PREFIX + name for name in TEXT_FIELDS)
# What a position counts in each source format.
POSITION_UNITS = {"jsonl": "line", "parallel_text": "line", "text": "line", "csv": "row", "parquet": "row",
                  "json": "item", "squad": "question"}


def _first(frame: pl.DataFrame) -> dict | None:
    return frame.row(0, named=True) if frame.height else None


def _source_section(record: dict, origins: pl.DataFrame, provenance: dict) -> dict:
    fetched = provenance.get(record["source"], {})
    fetched_files = fetched.get("files", {}).values()
    archive = next((entry for entry in fetched_files if fetched.get("kind") == "archive"), None)
    files = []
    for row in origins.iter_rows(named=True):
        entry = archive or next((e for e in fetched_files if e.get("path") == row["file"]), {})
        files.append({"path": row["file"], "position": row["position"],
                      "unit": POSITION_UNITS.get(fetched.get("format"), "item"),
                      "url": entry.get("url"), "sha256": entry.get("sha256"), "archive": archive is not None})
    urls = sorted({entry.get("url") for entry in fetched_files if entry.get("url")})
    return {"name": record["source"], "kind": fetched.get("kind"), "format": fetched.get("format"),
            "urls": urls, "revision": fetched.get("revision"),
            "licence": record.get("license") or fetched.get("license"), "files": files}


def _dedup_section(build: Build, record_id: str) -> tuple[dict, dict | None]:
    """(section, reject row or None)."""
    rejected = _first(rows_with_id(build.path("dedup_rejects"), record_id, ["id", *REJECT_FIELDS]))
    own = _first(rows_with_id(build.path("clusters"), record_id, list(CLUSTER_COLUMNS)))
    section = {"verdict": "unique", "reason": None, "detail": None, "cluster_id": None, "cluster_size": None,
               "kept_id": None, "similarity": None, "members": []}
    if own is not None:
        members = rows_where(build.path("clusters"), "cluster_id", [own["cluster_id"]], list(CLUSTER_COLUMNS)).sort(
            "kept", "id", descending=[True, False])
        kept = members.filter(pl.col("kept"))
        section.update(cluster_id=own["cluster_id"], cluster_size=members.height,
                       kept_id=kept["id"][0] if kept.height else None,
                       similarity=None if own["kept"] else own["similarity"],
                       members=[{"id": m["id"], "kept": m["kept"], "reason": m["reason"], "similarity": m["similarity"]}
                                for m in members.iter_rows(named=True)],
                       verdict="kept" if own["kept"] else own["reason"])
    if rejected is not None:
        section.update(verdict=rejected["reason"], reason=rejected["reason"], detail=rejected["detail"])
    return section, rejected


def _filter_section(build: Build, record_id: str, manifest: dict) -> tuple[dict, dict | None]:
    rejected = _first(rows_with_id(build.path("filter_rejects"), record_id, ["id", *REJECT_FIELDS]))
    stats = (manifest.get("funnel") or {}).get("filter") or {}
    order = stats.get("filter_order") or []
    by_filter = stats.get("rejected_by_filter") or {}
    failed = None
    if rejected is not None:
        failed = next((name for name in order if rejected["reason"] in by_filter.get(name, {})), None)
    verdicts, reached = [], True
    for name in order:
        if not reached:
            verdicts.append({"filter": name, "verdict": "not_run"})
        elif rejected is not None and name == failed:
            verdicts.append({"filter": name, "verdict": "failed"})
            reached = False
        elif rejected is not None and failed is None:
            verdicts.append({"filter": name, "verdict": "unknown"})
        else:
            verdicts.append({"filter": name, "verdict": "passed"})
    section = {"verdict": "kept" if rejected is None else "rejected", "failed_filter": failed,
               "reason": rejected["reason"] if rejected else None, "detail": rejected["detail"] if rejected else None,
               "filters": verdicts}
    return section, rejected


def _split_section(build: Build, record_id: str, manifest: dict) -> dict:
    folder = build.path("processed")
    for split in SPLIT_NAMES:
        path = folder / f"{split}.parquet"
        if not path.is_file():
            continue
        row = _first(rows_with_id(path, record_id, ["id", "group"]))
        if row is None:
            continue
        members = rows_where(path, "group", [row["group"]], ["id"])["id"].sort().to_list()
        info = manifest.get("splits", {}).get(split, {})
        return {"split": split, "group": row["group"], "group_members": [m for m in members if m != record_id],
                "file": f"{build.path('processed').relative_to(build.root).as_posix()}/{split}.parquet",
                "file_sha256": info.get("sha256"), "dataset_hash": manifest.get("dataset_hash")}
    raise InputError(f"{record_id}: passed every stage but is in no split file; {build.path('processed')} does not "
                     "match the earlier outputs (rebuild with `dvc repro split`)")


def _removed(stage: str, rejected: dict) -> dict:
    return {"stage": stage, "reason": rejected["reason"], "detail": rejected["detail"]}


def _summary(story: dict) -> str:
    removed = story["removed"]
    if removed:
        return f"{story['id']}: REMOVED at {removed['stage']}: {removed['reason']} ({removed['detail']})"
    split = story["split"]
    others = len(split["group_members"])
    return (f"{story['id']}: in {split['split']} (group {split['group']}"
            + (f" with {others} other record{'s' if others != 1 else ''}" if others else "") + ")")


def explain_record(root: Path, record_id: str, verify: bool = False, check_fresh: bool = True) -> dict:
    """The story of ``record_id`` in the build under ``root`` (see schema.json)."""
    build = Build.open(root)
    if check_fresh:
        build.check_fresh()
    manifest = build.manifest()
    params = manifest.get("params") or {}
    columns = [*SCHEMA_FIELDS, "group", *RAW_FIELDS]
    record = _first(rows_with_id(build.path("normalized"), record_id, columns))
    convert_reject = None
    if record is None:
        convert_reject = _first(rows_with_id(build.path("convert_rejects"), record_id,
                                             [*SCHEMA_FIELDS, "group", *REJECT_FIELDS]))
        if convert_reject is None:
            raise InputError(f"{record_id}: no record with this id in this build (ids look like "
                             "dolly_ja:123 or tanaka:42:en-ja; find one with `jinstruct explain --search TEXT`)")
        record = {**convert_reject, **{RAW_PREFIX + name: convert_reject[name] for name in TEXT_FIELDS}}
    origins = rows_with_id(build.path("origins"), record_id, list(ORIGINS_SCHEMA))
    provenance = (manifest.get("provenance") or {}).get("sources", {})
    story = {
        "format": FORMAT, "id": record_id, "status": "kept", "summary": "", "removed": None,
        "dataset_hash": manifest.get("dataset_hash"),
        "source": _source_section(record, origins, provenance),
        "convert": {"adapter": provenance.get(record["source"], {}).get("adapter"), "task": record["task"],
                    "group": record["group"], "raw": {name: record[RAW_PREFIX + name] for name in TEXT_FIELDS},
                    "rejected": _removed("convert", convert_reject) if convert_reject else None},
        "normalize": None, "dedup": None, "filter": None, "split": None, "verify": None,
    }
    if verify:
        from jinstruct.explain.verify import verify_record  # the adapters are only needed here

        raw_record = {"id": record_id, "source": record["source"],
                      **{name: record[RAW_PREFIX + name] for name in TEXT_FIELDS}}
        story["verify"] = verify_record(build.root / "data" / "raw", params.get("sources") or {}, raw_record,
                                        story["source"]["files"])
    if convert_reject:
        story["removed"] = _removed("convert", convert_reject)
    else:
        story["normalize"] = {**replay(record, params.get("normalize")),
                              "text": {name: record[name] for name in TEXT_FIELDS}}
        story["dedup"], dedup_reject = _dedup_section(build, record_id)
        if dedup_reject:
            story["removed"] = _removed("dedup", dedup_reject)
        else:
            story["filter"], filter_reject = _filter_section(build, record_id, manifest)
            if filter_reject:
                story["removed"] = _removed("filter", filter_reject)
            else:
                story["split"] = _split_section(build, record_id, manifest)
    story["status"] = "removed" if story["removed"] else "kept"
    story["summary"] = _summary(story)
    return story


def search_records(root: Path, text: str, limit: int = 20, check_fresh: bool = True) -> list[dict]:
    """Records whose instruction, input or output (normalised or as converted) contain ``text``."""
    build = Build.open(root)
    if check_fresh:
        build.check_fresh()
    found = [ids_containing(build.path(name), text, limit) for name in ("normalized", "convert_rejects")]
    frame = pl.concat([part for part in found if part.height], how="vertical_relaxed") if any(
        part.height for part in found) else found[0]
    return frame.sort("id").head(limit).to_dicts()
