"""Write the report as one self-contained HTML page.

No scripts, no external files: charts are PNG data URIs and the style sheet is
inline, so the page opens offline, from an e-mail or from a CI artifact. Every
piece of text from the data goes through ``html.escape``; rejected records are
exactly the kind of text that may hold markup. Numbers in the funnel tables
carry ``data-stage``/``data-field`` attributes so tests can read them back.
"""

from __future__ import annotations

import base64
import html
import json

import polars as pl

from jinstruct.nested import flatten
from jinstruct.records import SPLIT_NAMES, TEXT_FIELDS
from jinstruct.report.clusters import members_in_order
from jinstruct.report.collect import Build
from jinstruct.report.measure import Distributions

STYLE = """
body{font-family:system-ui,"Noto Sans CJK JP","IPAexGothic",sans-serif;margin:0 auto;max-width:1100px;padding:1rem 2rem;
color:#1f2328;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;
vertical-align:top}th{background:#f6f8fa;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;display:block;margin:.6rem 0}.missing{color:#9a6700;background:#fff8c5;padding:.4rem .6rem;
border-radius:4px}.bad{color:#cf222e;font-weight:bold}.ok{color:#1a7f37}code,pre{font-size:.85rem}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;max-height:24rem}.text{white-space:pre-wrap;overflow-wrap:anywhere;max-width:46rem}
nav a{margin-right:.8rem}dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:bold}
dd{margin:0;font-family:monospace}.small{color:#656d76;font-size:.85rem}
"""

SECTIONS = (("funnel", "Funnel"), ("mix", "Source × task"), ("lengths", "Lengths"),
            ("language", "Language ID and scripts"), ("clusters", "Duplicates"), ("rejects", "Rejected examples"),
            ("training", "Training"), ("evaluation", "Evaluation"))


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def number(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return esc(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:,.0f}"
    return esc(value)


def preview(text: str | None, limit: int) -> str:
    """At most ``limit`` characters of ``text``, saying how much was cut."""
    text = text or ""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [+{len(text) - limit:,} chars]"


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def missing_note(text: str) -> str:
    return f'<p class="missing">Not shown: {esc(text)}</p>'


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A table from cells that are already HTML (escape before calling)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell if cell.startswith("<td") else f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def count_cell(value: object, **attributes: str) -> str:
    data = "".join(f' data-{key}="{esc(val)}"' for key, val in attributes.items())
    return f'<td class="n"{data}>{number(value)}</td>'


# --------------------------------------------------------------------------- sections


def header(build: Build, title: str) -> str:
    manifest = build.manifest or {}
    code = manifest.get("code") or {}
    dataset_hash = manifest.get("dataset_hash")
    facts = [("dataset", f"{manifest.get('name', '?')} {manifest.get('version', '')}"),
             ("dataset hash", dataset_hash), ("git commit", code.get("git_commit")),
             ("uncommitted changes", code.get("git_dirty")), ("jinstruct", code.get("jinstruct_version"))]
    items = "".join(f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>" for label, value in facts if value is not None)
    # A metric computed on another dataset version is the mistake this header exists to catch.
    for label, metrics in (("train metrics", build.train), ("eval metrics", build.eval_meta or None)):
        if metrics and metrics.get("dataset_hash"):
            verdict = ('<span class="ok">(matches)</span>' if metrics["dataset_hash"] == dataset_hash
                       else '<span class="bad">(DIFFERENT DATASET)</span>')
            items += f"<dt>{esc(label)} hash</dt><dd>{esc(metrics['dataset_hash'])} {verdict}</dd>"
    params = manifest.get("params")
    params_json = json.dumps(params, ensure_ascii=False, indent=2, sort_keys=True)
    params_html = f"<details><summary>params</summary><pre>{esc(params_json)}</pre></details>" if params else ""
    note = missing_note(build.missing["header"]) if "header" in build.missing else ""
    nav = "".join(f'<a href="#{anchor}">{esc(name)}</a>' for anchor, name in SECTIONS)
    return f"<header><h1>{esc(title)}</h1>{note}<dl>{items}</dl>{params_html}<nav>{nav}</nav></header>"


def funnel(build: Build, images: dict[str, bytes]) -> str:
    parts = ['<section id="funnel"><h2>Funnel: records in and out per stage</h2>']
    if "funnel" in build.missing:
        parts.append(missing_note(build.missing["funnel"]))
    if not build.stage_stats:
        return "".join(parts) + "</section>"
    if "funnel" in images:
        parts.append(image(images["funnel"], "records kept and rejected per stage"))
    rows = []
    for stage, stats in build.stage_stats.items():
        reasons = ", ".join(f"{esc(r)}: {number(n)}" for r, n in stats.get("rejected_by_reason", {}).items())
        rows.append([esc(stage)] + [count_cell(stats.get(key), stage=stage, field=key)
                                    for key in ("records_in", "records_out", "records_rejected")] + [reasons or "–"])
    parts.append(table(["stage", "in", "out", "rejected", "rejected by reason"], rows))
    parts.append("<h3>Per source</h3>")
    sources = sorted({s for stats in build.stage_stats.values() for s in stats.get("by_source", {})})
    rows = []
    for stage, stats in build.stage_stats.items():
        for source in sources:
            counts = stats.get("by_source", {}).get(source)
            if counts is None:
                continue
            reasons = ", ".join(f"{esc(reason)}: {number(by_source[source])}"
                                for reason, by_source in stats.get("rejected_by_reason_source", {}).items()
                                if source in by_source)
            rows.append([esc(stage), esc(source)]
                        + [count_cell(counts.get(key), stage=stage, source=source, field=key)
                           for key in ("in", "out", "rejected")] + [reasons or "–"])
    parts.append(table(["stage", "source", "in", "out", "rejected", "rejected by reason"], rows))
    return "".join(parts) + "</section>"


def mix(build: Build, images: dict[str, bytes]) -> str:
    parts = ['<section id="mix"><h2>Source × task mix of the final splits</h2>']
    if build.mix is None:
        return "".join(parts) + missing_note(build.missing.get("mix", "no split counts")) + "</section>"
    if "mix" in images:
        parts.append(image(images["mix"], "records per source and task"))
    wide = (build.mix.pivot(on="split", index=["source", "task"], values="records", aggregate_function="sum")
            .fill_null(0).sort("source", "task"))
    splits = sorted((c for c in wide.columns if c not in ("source", "task")),
                    key=lambda name: (SPLIT_NAMES.index(name) if name in SPLIT_NAMES else len(SPLIT_NAMES), name))
    rows = [[esc(row["source"]), esc(row["task"])] + [count_cell(row[s], split=s) for s in splits]
            for row in wide.iter_rows(named=True)]
    parts.append(table(["source", "task", *splits], rows))
    return "".join(parts) + "</section>"


def _sample_note(dists: Distributions) -> str:
    notes = [f"{phase}: {sampled:,} of {total:,} records" for phase, (sampled, total) in dists.sampled.items()]
    return f'<p class="small">Measured on every k-th record by id ({esc("; ".join(notes))}).</p>' if notes else ""


def lengths(dists: Distributions, images: dict[str, bytes]) -> str:
    parts = ['<section id="lengths"><h2>Length distributions before and after filtering</h2>', _sample_note(dists)]
    for key in ("distributions", "tokens"):
        if key in dists.missing:
            parts.append(missing_note(dists.missing[key]))
    for unit, caption in (("chars", "characters"), ("tokens", f"model tokens ({dists.tokenizer})")):
        if f"lengths_{unit}" in images:
            parts.append(f"<h3>{esc(caption)}</h3>" + image(images[f"lengths_{unit}"], f"lengths in {caption}"))
    if dists.lengths is not None and dists.lengths.height:
        summary = (dists.lengths.group_by("unit", "field", "phase", maintain_order=True)
                   .agg(median=pl.col("length").median(), p95=pl.col("length").quantile(0.95, "nearest"),
                        max=pl.col("length").max()))
        rows = [[esc(r["unit"]), esc(r["field"]), esc(r["phase"])]
                + [count_cell(r[k]) for k in ("median", "p95", "max")] for r in summary.iter_rows(named=True)]
        parts.append(table(["unit", "field", "phase", "median", "p95", "max"], rows))
    return "".join(parts) + "</section>"


def language(dists: Distributions, images: dict[str, bytes]) -> str:
    parts = ['<section id="language"><h2>Language-ID score and script ratios</h2>', _sample_note(dists)]
    if "langid" in images:
        parts.append(image(images["langid"], "language-ID score histogram"))
    if "scripts" in images:
        parts.append(image(images["scripts"], "script ratio histograms"))
    if "filter_histograms" in images:
        parts.append(image(images["filter_histograms"], "histograms recorded by the filter stage"))
    if "langid" not in images and "distributions" in dists.missing:
        parts.append(missing_note(dists.missing["distributions"]))
    return "".join(parts) + "</section>"


def clusters(build: Build, images: dict[str, bytes], example_ids: list[str], text_limit: int) -> str:
    parts = ['<section id="clusters"><h2>Near-duplicate clusters</h2>']
    if build.clusters is None:
        return "".join(parts) + missing_note(build.missing.get("clusters", "no clusters")) + "</section>"
    sizes = build.clusters.group_by("cluster").len("size")
    parts.append(f"<p>{number(sizes.height)} clusters holding {number(int(sizes['size'].sum() or 0))} records; "
                 f"largest: {number(int(sizes['size'].max() or 0))}.</p>")
    if "clusters" in images:
        parts.append(image(images["clusters"], "cluster size distribution"))
    texts = {}
    if build.cluster_texts is not None:
        texts = dict(zip(build.cluster_texts["id"].to_list(), build.cluster_texts["text"].to_list()))
    for cluster_id in example_ids:
        members = members_in_order(build.clusters, cluster_id)
        rows = [[esc(m["id"]), esc({True: "kept", False: "removed"}.get(m["kept"], "?")), esc(m["reason"] or ""),
                 number(m["similarity"]), f'<div class="text">{esc(preview(texts.get(m["id"]), text_limit))}</div>']
                for m in members.iter_rows(named=True)]
        parts.append(f"<h3>Cluster {esc(cluster_id)} ({members.height} records)</h3>"
                     + table(["id", "", "reason", "similarity", "text"], rows))
    return "".join(parts) + "</section>"


def explain_cell(record_id: str | None) -> str:
    """The id of a rejected record and the command that tells its whole story."""
    if not record_id:
        return esc(record_id)
    return f'{esc(record_id)}<br><code class="small">jinstruct explain {esc(record_id)}</code>'


def rejects(build: Build, text_limit: int) -> str:
    parts = ['<section id="rejects"><h2>Rejected examples per reason</h2>',
             ('<p class="small">The first records by id for each reason; long texts are cut. '
              '<code>jinstruct explain ID</code> tells where a record came from and why it was removed.</p>')]
    if not build.reject_examples:
        return "".join(parts) + missing_note(build.missing.get("rejects", "no rejects")) + "</section>"
    for stage, examples in build.reject_examples.items():
        parts.append(f"<h3>{esc(stage)}</h3>")
        for (reason,), group in examples.group_by("reason", maintain_order=True):
            rows = []
            for record in group.iter_rows(named=True):
                fields = []
                for name in TEXT_FIELDS:
                    if record.get(name):
                        fields.append(f"<b>{esc(name)}</b>: {esc(preview(record[name], text_limit))}")
                    raw = record.get(f"raw_{name}") if stage == "normalize" else None  # later stages: text as cleaned
                    if raw and raw != record.get(name):
                        fields.append(f"<b>raw {esc(name)}</b>: {esc(preview(raw, text_limit))}")
                rows.append([explain_cell(record.get("id")), esc(record.get("source")), esc(record.get("task")),
                             esc(preview(record.get("detail"), 200)),
                             '<div class="text">' + "<br>".join(fields) + "</div>"])
            total = build.stage_stats.get(stage, {}).get("rejected_by_reason", {}).get(reason)
            count = f" ({number(total)} {'record' if total == 1 else 'records'})" if total is not None else ""
            parts.append(f"<h4>{esc(reason)}{count}</h4>" + table(["id", "source", "task", "detail", "record"], rows))
    return "".join(parts) + "</section>"


def opening(anchor: str, title: str, missing: str | None, png: bytes | None, alt: str) -> list[str]:
    """A section's heading, its "Not shown" note if an input is absent, and its chart if drawn."""
    parts = [f'<section id="{anchor}"><h2>{esc(title)}</h2>']
    if missing:
        parts.append(missing_note(missing))
    if png is not None:
        parts.append(image(png, alt))
    return parts


def training(build: Build, images: dict[str, bytes]) -> str:
    parts = opening("training", "Training", build.missing.get("train"), images.get("loss"),
                    "training and validation loss curves")
    if build.train:
        rows = [[esc(key), count_cell(value) if isinstance(value, (int, float)) else esc(value)]
                for key, value in flatten(build.train) if not isinstance(value, (list, dict))]
        parts.append(table(["metrics/train.json", "value"], rows))
    return "".join(parts) + "</section>"


def evaluation(build: Build, images: dict[str, bytes]) -> str:
    parts = opening("evaluation", "Evaluation: base vs tuned", build.missing.get("eval"), images.get("eval"),
                    "base and tuned scores per task")
    parts.append(_base_model(getattr(build, "base_identity", None) or {}))
    if build.eval_rows:
        rows = [[esc(r["task"]), esc(r.get("metric"))] + [count_cell(r[k], task=r["task"], field=k)
                                                          for k in ("base", "tuned", "delta", "majority", "n", "k")]
                for r in build.eval_rows]
        parts.append(table(["task", "metric", "base", "tuned", "delta", "majority class", "n", "k"], rows))
        parts.append(_accuracy_intervals(build.eval_rows))
        parts.append(_bits_table(build.eval_rows))
    return "".join(parts) + "</section>"


def _base_model(identity: dict) -> str:
    """Which base was scored and, for a named preset, its package, pinned sha256 and licence."""
    if not identity:
        return ""
    facts = [("base model", identity.get("description") or identity.get("base") or identity.get("name")),
             ("package", f"{identity['package']} {identity.get('package_version', '')}".strip()
              if identity.get("package") else None),
             ("GGUF sha256", identity.get("gguf_sha256")), ("licence", identity.get("licence")),
             ("licence text", identity.get("licence_file"))]
    facts += [("note", note) for note in identity.get("notes") or []]
    items = "".join(f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>" for label, value in facts if value)
    return f"<dl>{items}</dl>" if items else ""


def _accuracy_intervals(rows: list[dict]) -> str:
    """Each accuracy with its 95% Wilson interval, its baselines and, in words, whether it shows anything."""
    shown = [r for r in rows if r.get("base_ci") or r.get("tuned_ci")]
    if not shown:
        return ""
    span = lambda ci: f"{ci[0]:.3f} to {ci[1]:.3f}" if ci else "–"  # noqa: E731
    cells = [[esc(r["task"]), esc(span(r.get("base_ci"))), esc(span(r.get("tuned_ci"))),
              count_cell(r.get("majority"), task=r["task"], field="majority"),
              count_cell(r.get("chance"), task=r["task"], field="chance"), esc(r.get("verdict") or "")]
             for r in shown]
    return ("<p>Accuracy is a share of n items: the 95% Wilson interval says how far it could be from the"
            " model's true accuracy. <strong>No signal</strong> means the interval includes the accuracy of"
            " always answering the most frequent label: the score does not tell the model apart from that.</p>"
            + table(["task", "base 95% interval", "tuned 95% interval", "majority class", "chance", "verdict"],
                    cells))


def _bits_table(rows: list[dict]) -> str:
    """Bits per character and per UTF-8 byte of held-out answers: comparable across tokenizers."""
    shown = [r for r in rows if r.get("base_bpc") is not None]
    if not shown:
        return ""
    cells = [[esc(r["task"])] + [count_cell(r.get(k), task=r["task"], field=k)
                                 for k in ("base_bpc", "tuned_bpc", "base_bpb", "tuned_bpb")] for r in shown]
    return ("<p>Perplexity per token depends on the tokenizer; bits per character and per byte of the same"
            " answers do not, so they compare base models with different vocabularies (lower is better).</p>"
            + table(["task", "base bits/char", "tuned bits/char", "base bits/byte", "tuned bits/byte"], cells))


def render(build: Build, dists: Distributions, images: dict[str, bytes], example_ids: list[str],
           text_limit: int) -> str:
    manifest = build.manifest or {}
    title = f"jinstruct build report: {manifest.get('name', 'unnamed build')} {manifest.get('version', '')}".strip()
    body = "".join([
        header(build, title), funnel(build, images), mix(build, images), lengths(dists, images),
        language(dists, images), clusters(build, images, example_ids, text_limit), rejects(build, text_limit),
        training(build, images), evaluation(build, images),
    ])
    return (f'<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n")
