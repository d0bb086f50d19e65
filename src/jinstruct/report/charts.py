"""The report's charts, each drawn to PNG bytes.

Matplotlib runs headless (Agg) with IPAexGothic from the ``matplotlib-fontja``
wheel, so Japanese labels render on any machine without system fonts. Figures
are built as ``Figure`` objects (no pyplot global state) and saved without the
"Software" metadata, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib_fontja  # noqa: F401  (registers IPAexGothic and makes it the default family)
import numpy as np
import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# IPAexGothic has no U+2212 MINUS SIGN; an ASCII hyphen avoids a missing glyph on negative ticks.
matplotlib.rcParams["axes.unicode_minus"] = False

PHASE_COLOURS = {"before filter": "#9aa5b1", "after filter": "#1f6feb"}
KEPT_COLOUR = "#1f6feb"
PALETTE = ["#e5534b", "#f0a93b", "#8957e5", "#2da44e", "#d4a72c", "#bf3989", "#0f7b8a", "#6e7781"]
# Reject reasons can be many (one per filter); tab20 keeps up to 20 of them apart.
REASON_PALETTE = [matplotlib.colors.to_hex(c) for c in matplotlib.colormaps["tab20"].colors]


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _figure(width: float = 8.0, height: float = 3.6) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def funnel_chart(stage_stats: dict[str, dict]) -> bytes:
    """Left: kept records per stage with the rejects stacked on. Right: the rejects alone, by reason.

    Rejects are often a sliver of the records, so the right panel gives them their own scale.
    """
    stages = list(stage_stats)
    reasons = sorted({r for stats in stage_stats.values() for r in stats.get("rejected_by_reason", {})})
    colours = {reason: REASON_PALETTE[index % len(REASON_PALETTE)] for index, reason in enumerate(reasons)}
    figure = _figure(11.0, 0.55 * len(stages) + 1.8)
    positions = np.arange(len(stages))
    kept = np.array([stage_stats[s].get("records_out", 0) for s in stages], dtype=float)
    whole, rejects_only = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    whole.barh(positions, kept, color=KEPT_COLOUR, label="kept 残存")
    for axes, start in ((whole, kept), (rejects_only, np.zeros(len(stages)))):
        left = start.copy()
        for reason in reasons:
            counts = np.array([stage_stats[s].get("rejected_by_reason", {}).get(reason, 0) for s in stages],
                              dtype=float)
            axes.barh(positions, counts, left=left, color=colours[reason], label=reason if axes is whole else None)
            left += counts
        axes.set_yticks(positions, stages)
        axes.invert_yaxis()
    whole.set_xlabel("records レコード数")
    whole.set_title("kept and rejected 残存と除外")
    rejects_only.set_xlabel("rejected records 除外数")
    rejects_only.set_title("rejected by reason 除外理由")
    figure.suptitle("Records per stage / ステージ別のレコード数")
    figure.legend(loc="outside right upper", fontsize="small")
    return png_bytes(figure)


def source_task_chart(mix: pl.DataFrame) -> bytes:
    """Left: records per source in the final splits. Right: each source's task shares.

    Sources differ in size by orders of magnitude, so the task mix gets its own 100% scale.
    """
    table = mix.group_by("source", "task").agg(pl.col("records").sum()).sort("source", "task")
    sources = table["source"].unique().sort().to_list()
    tasks = table["task"].unique().sort().to_list()
    colours = {task: REASON_PALETTE[index % len(REASON_PALETTE)] for index, task in enumerate(tasks)}
    totals = np.array([table.filter(pl.col("source") == s)["records"].sum() for s in sources], dtype=float)
    positions = np.arange(len(sources))
    figure = _figure(11.0, 0.45 * len(sources) + 2.0)
    sizes, shares = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    sizes.barh(positions, totals, color=KEPT_COLOUR)
    for position, total in zip(positions, totals):
        sizes.annotate(f"{int(total):,}", (total, position), xytext=(3, 0), textcoords="offset points",
                       va="center", fontsize="small")
    sizes.set_xlabel("records in train + validation + test")
    sizes.set_title("records per source ソース別")
    sizes.margins(x=0.18)
    left = np.zeros(len(sources))
    for task in tasks:
        lookup = {row["source"]: row["records"] for row in table.filter(pl.col("task") == task).iter_rows(named=True)}
        share = np.array([lookup.get(source, 0) for source in sources], dtype=float) / np.maximum(totals, 1)
        shares.barh(positions, share, left=left, color=colours[task], label=task)
        left += share
    shares.set_xlabel("share of the source's records")
    shares.set_title("task mix タスク構成")
    for axes in (sizes, shares):
        axes.set_yticks(positions, sources)
        axes.invert_yaxis()
    figure.suptitle("Source × task / ソース × タスク")
    figure.legend(title="task", loc="outside right upper", fontsize="small")
    return png_bytes(figure)


def _overlaid_histograms(axes, frame: pl.DataFrame, value: str, bins: np.ndarray) -> None:
    for phase, colour in PHASE_COLOURS.items():
        values = frame.filter(pl.col("phase") == phase)[value].to_numpy()
        if values.size:
            axes.hist(np.clip(values, bins[0], bins[-1]), bins=bins, histtype="step", linewidth=1.6,
                      color=colour, label=f"{phase} (n={values.size:,})")


def length_chart(lengths: pl.DataFrame, unit: str) -> bytes:
    """One panel per field; the longest 0.5% are folded into the last bin."""
    fields = lengths["field"].unique(maintain_order=True).to_list()
    figure = _figure(10.0, 3.2)
    label = "characters 文字数" if unit == "chars" else "model tokens トークン数"
    for index, field_name in enumerate(fields, start=1):
        axes = figure.add_subplot(1, len(fields), index)
        frame = lengths.filter(pl.col("field") == field_name)
        ceiling = max(1.0, float(np.percentile(frame["length"].to_numpy(), 99.5)))
        _overlaid_histograms(axes, frame, "length", np.linspace(0, ceiling, 41))
        axes.set_title(field_name if frame["length"].max() else f"{field_name} (always empty)")
        axes.set_xlabel(label)
        if index == 1:
            axes.set_ylabel("records")
            axes.legend(fontsize="x-small")
    return png_bytes(figure)


def langid_chart(langid: pl.DataFrame) -> bytes:
    figure = _figure(8.0, 3.2)
    axes = figure.add_subplot()
    _overlaid_histograms(axes, langid, "ja_probability", np.linspace(0.0, 1.0, 21))
    axes.set_yscale("log")
    axes.set_xlabel("fastText lid.176 P(ja) 日本語らしさ")
    axes.set_ylabel("records (log)")
    axes.set_title("Language-ID score / 言語判定スコア")
    axes.legend(fontsize="small", loc="upper left")
    return png_bytes(figure)


def script_ratio_chart(ratios: pl.DataFrame) -> bytes:
    scripts = ratios["script"].unique(maintain_order=True).to_list()
    titles = {"hiragana": "hiragana ひらがな", "katakana": "katakana カタカナ", "kanji": "kanji 漢字",
              "latin": "latin ラテン文字"}
    figure = _figure(10.0, 3.0)
    for index, script in enumerate(scripts, start=1):
        axes = figure.add_subplot(1, len(scripts), index)
        _overlaid_histograms(axes, ratios.filter(pl.col("script") == script), "ratio", np.linspace(0.0, 1.0, 21))
        axes.set_title(titles.get(script, script))
        axes.set_xlabel("share of characters")
        if index == 1:
            axes.set_ylabel("records")
            axes.legend(fontsize="x-small")
    return png_bytes(figure)


def recorded_histograms_chart(histograms: dict[str, dict[str, int]]) -> bytes:
    """Histograms the filter stage recorded itself, one small panel each (at most 12)."""
    names = list(histograms)[:12]
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure = _figure(3.4 * columns + 0.6, 2.6 * rows + 0.4)
    figure.suptitle("Histograms recorded by the filter stage / フィルタ段階の記録")
    for index, name in enumerate(names, start=1):
        axes = figure.add_subplot(rows, columns, index)
        bins = histograms[name]
        axes.bar(np.arange(len(bins)), list(bins.values()), color=KEPT_COLOUR)
        axes.set_xticks(np.arange(len(bins)), list(bins), rotation=45, ha="right", fontsize="x-small")
        axes.set_title(name.replace(".", "\n", 1) if len(name) > 40 else name, fontsize="small")
    return png_bytes(figure)


def cluster_size_chart(clusters: pl.DataFrame) -> bytes:
    sizes = clusters.group_by("cluster").len("size").group_by("size").len("clusters").sort("size")
    figure = _figure(8.0, 3.0)
    axes = figure.add_subplot()
    axes.bar(sizes["size"].to_numpy(), sizes["clusters"].to_numpy(), color=KEPT_COLOUR, width=0.8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if sizes["clusters"].max() > 100:  # pairs usually outnumber big clusters by orders of magnitude
        axes.set_yscale("log")
    axes.set_xlabel("records in the cluster クラスタの大きさ")
    axes.set_ylabel("clusters")
    axes.set_title("Near-duplicate cluster sizes / 重複クラスタの大きさ")
    return png_bytes(figure)


def training_chart(curves: dict[str, pl.DataFrame], validation: dict[int, float]) -> bytes:
    """Loss curves (plus validation loss at the steps it was measured); other curves, e.g. lr, beside them."""
    losses = {name: curve for name, curve in sorted(curves.items()) if "loss" in name}
    others = {name: curve for name, curve in sorted(curves.items()) if "loss" not in name}
    panels = [panel for panel in (losses, others) if panel] or [{}]
    figure = _figure(8.0 if len(panels) == 1 else 11.0, 3.4)
    for index, panel in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for colour, (name, curve) in zip(itertools.cycle(PALETTE), panel.items()):
            axes.plot(curve["step"].to_numpy(), curve["value"].to_numpy(), color=colour,
                      marker="o" if curve.height < 30 else None, markersize=3, label=name)
        if index == 1 and validation:
            steps = sorted(validation)
            # measured only before and after tuning: points, not a line that would invent a curve
            axes.plot(steps, [validation[s] for s in steps], color="black", marker="s", linestyle="none",
                      markersize=7, label="validation loss 検証損失 (before/after)")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("step")
        axes.set_ylabel("loss" if index == 1 else "value")
        axes.legend(fontsize="small")
    figure.suptitle("Training and validation loss / 学習・検証損失")
    return png_bytes(figure)


def _eval_bars(axes, rows: list[dict]) -> None:
    positions = np.arange(len(rows))
    base = np.array([row["base"] if row["base"] is not None else np.nan for row in rows])
    tuned = np.array([row["tuned"] if row["tuned"] is not None else np.nan for row in rows])
    width = 0.38
    axes.bar(positions - width / 2, base, width, color=PHASE_COLOURS["before filter"], label="base ベース")
    axes.bar(positions + width / 2, tuned, width, color=KEPT_COLOUR, label="tuned 調整後")
    for position, row, top in zip(positions, rows, np.fmax(base, tuned)):
        if row["delta"] is not None and np.isfinite(top):
            axes.annotate(f"{row['delta']:+.3f}", (position, top), ha="center", va="bottom", fontsize="small",
                          xytext=(0, 2), textcoords="offset points")
    majority = [(position, row["majority"]) for position, row in zip(positions, rows)
                if row.get("majority") is not None]
    for number, (position, value) in enumerate(majority):
        axes.hlines(value, position - width, position + width, colors="black", linestyles="dashed",
                    label="majority class 多数クラス" if number == 0 else None)
    axes.set_xticks(positions, [row["task"] for row in rows])
    axes.set_ylabel(rows[0].get("metric") or "score")
    axes.margins(y=0.15)


def eval_chart(rows: list[dict]) -> bytes:
    """Base and tuned score side by side for each task, the difference written above.

    Scores in [0, 1] (accuracies) and unbounded ones (perplexity) get separate panels
    so that neither squashes the other.
    """
    def bounded(row: dict) -> bool:
        return all(value is None or 0.0 <= value <= 1.0 for value in (row["base"], row["tuned"]))

    groups = [group for group in ([r for r in rows if bounded(r)], [r for r in rows if not bounded(r)]) if group]
    figure = _figure(max(6.0, 1.3 * len(rows) + 2), 3.8)
    figure.suptitle("Evaluation: base vs tuned / 評価: ベースと調整後")
    for index, group in enumerate(groups, start=1):
        axes = figure.add_subplot(1, len(groups), index)
        _eval_bars(axes, group)
        if index == 1:
            figure.legend(loc="outside lower center", ncols=3, fontsize="small")
    return png_bytes(figure)
