"""The text form of a record's story: a summary line, then one block per stage."""

from __future__ import annotations

from jinstruct.records import TEXT_FIELDS

EXCERPT_CHARS = 120
LABEL_WIDTH = 10


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    if text is None:
        return "(none)"
    flat = text.replace("\n", "⏎")
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _block(label: str, lines: list[str]) -> list[str]:
    pad = " " * (LABEL_WIDTH + 1)
    return [f"{label:<{LABEL_WIDTH}} {lines[0]}", *(pad + line for line in lines[1:])]


def _source(section: dict) -> list[str]:
    head = (f"{section['name']} ({section['kind']}, {section['format']}) @ {section['revision'] or 'no revision'}, "
            f"licence {section['licence']}")
    lines = [head, *(f"url {url}" for url in section["urls"])]
    for file in section["files"]:
        where = "a member of the archive above, whose" if file["archive"] else "file"
        lines.append(f"{file['path']} {file['unit']} {file['position']} "
                     f"({where} sha256 as fetched: {file['sha256'] or 'not recorded'})")
    if not section["files"]:
        lines.append("no origin recorded (a parse error: the id names the file and line)")
    return lines


def _convert(section: dict) -> list[str]:
    lines = [f"adapter {section['adapter']} → task {section['task']}, group {section['group']}"]
    lines += [f"raw {name}: {excerpt(section['raw'][name])}" for name in TEXT_FIELDS]
    return lines


def _normalize(section: dict) -> list[str]:
    lines = [f"{change['rule']} on {change['field']}: {excerpt(change['before'], 60)} → {excerpt(change['after'], 60)}"
             for change in section["changes"]]
    lines += [f"PII {mask['kind']}: {mask['masks']} mask(s) in {mask['field']}" for mask in section["pii"]]
    if not lines:
        lines.append("no rule changed it")
    if not section["matches_stored"]:
        lines.append("warning: replaying the rules on the raw text does not give the stored text")
    return lines


def _dedup(section: dict) -> list[str]:
    if section["verdict"] == "unique":
        return ["unique (no duplicate found)"]
    if section["reason"]:
        line = f"{section['reason']}: {section['detail']}"
    else:
        line = "kept as the representative of its cluster"
    lines = [line]
    if section["cluster_id"]:
        lines.append(f"cluster {section['cluster_id']}, {section['cluster_size']} records, kept {section['kept_id']}"
                     + (f", similarity {section['similarity']:.2f}" if section["similarity"] is not None else ""))
        for member in section["members"]:
            mark = "kept" if member["kept"] else f"{member['reason']} {member['similarity']:.2f}"
            lines.append(f"  {member['id']} ({mark})")
    return lines


def _filter(section: dict) -> list[str]:
    lines = ["kept" if section["verdict"] == "kept" else
             f"rejected by {section['failed_filter'] or '?'}: {section['reason']} ({section['detail']})"]
    lines.append(", ".join(f"{item['filter']} {item['verdict']}" for item in section["filters"]))
    return lines


def _split(section: dict) -> list[str]:
    members = section["group_members"]
    lines = [f"{section['split']} ({section['file']}, sha256 {section['file_sha256']})",
             f"group {section['group']}: " + (", ".join(members) if members else "no other member")]
    lines.append(f"dataset hash {section['dataset_hash']}")
    return lines


def render_story(story: dict) -> str:
    lines = [story["summary"], ""]
    lines += _block("source", _source(story["source"]))
    lines += _block("convert", _convert(story["convert"]))
    renderers = {"normalize": _normalize, "dedup": _dedup, "filter": _filter, "split": _split}
    for stage, render in renderers.items():
        section = story[stage]
        lines += _block(stage, render(section) if section is not None else ["not reached"])
    if story["verify"] is not None:
        verify = story["verify"]
        lines += _block("verify", [("ok " if check["ok"] else "FAILED ") + check["detail"]
                                   for check in verify["checks"]])
    return "\n".join(lines)


def render_search(rows: list[dict], text: str) -> str:
    if not rows:
        return f"no record holds {text!r}"
    return "\n".join(f"{row['id']}  {row['source']}/{row['task']}  {row['field']}: {excerpt(row['text'], 80)}"
                     for row in rows)
