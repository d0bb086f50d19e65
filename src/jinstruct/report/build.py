"""Collect, measure, draw, render, write: the report stage end to end."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from jinstruct.progress import progress
from jinstruct.records import atomic_path
from jinstruct.release.project import with_commit
from jinstruct.report import charts
from jinstruct.report.clusters import example_cluster_ids
from jinstruct.report.collect import Build, collect
from jinstruct.report.measure import Distributions, measure
from jinstruct.report.render import render

log = logging.getLogger("jinstruct")

# Defaults for the `report` section of params.yaml.
DEFAULTS = {
    "examples_per_reason": 3,   # rejected records shown per stage and reason
    "example_clusters": 3,      # largest near-duplicate clusters shown in full
    "sample_records": 5000,     # records measured per phase for lengths, scripts and language ID
    "text_preview_chars": 300,  # longer texts are cut in the page
}


@dataclass
class ReportSummary:
    output: Path
    images: int
    sections_missing: dict[str, str]
    glyph_warnings: list[str]
    seconds: float

    def line(self) -> str:
        missing = f", missing: {'; '.join(self.sections_missing.values())}" if self.sections_missing else ""
        charts = f"{self.images} chart" + ("" if self.images == 1 else "s")
        return f"[report] {self.output}: {charts}{missing} {self.seconds:.1f}s"


def draw_charts(build: Build, dists: Distributions) -> tuple[dict[str, bytes], list[str]]:
    """Every chart whose inputs exist, and the glyph-missing warnings raised while drawing them.

    A glyph missing from the font would be drawn as a box; it is logged (and the
    tests assert there is none) rather than failing the build over a label.
    """
    jobs = {}
    if build.stage_stats:
        jobs["funnel"] = lambda: charts.funnel_chart(build.stage_stats)
    if build.mix is not None and build.mix.height:
        jobs["mix"] = lambda: charts.source_task_chart(build.mix)
    if dists.lengths is not None:
        for unit in dists.lengths["unit"].unique().sort().to_list():
            jobs[f"lengths_{unit}"] = lambda unit=unit: charts.length_chart(
                dists.lengths.filter(dists.lengths["unit"] == unit), unit)
    if dists.langid is not None and dists.langid.height:
        jobs["langid"] = lambda: charts.langid_chart(dists.langid)
    if dists.script_ratios is not None and dists.script_ratios.height:
        jobs["scripts"] = lambda: charts.script_ratio_chart(dists.script_ratios)
    if build.filter_histograms:
        jobs["filter_histograms"] = lambda: charts.recorded_histograms_chart(build.filter_histograms)
    if build.clusters is not None and build.clusters.height:
        jobs["clusters"] = lambda: charts.cluster_size_chart(build.clusters)
    if build.curves or build.validation_loss:
        jobs["loss"] = lambda: charts.training_chart(build.curves, build.validation_loss)
    if build.eval_rows:
        jobs["eval"] = lambda: charts.eval_chart(build.eval_rows)
    images = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in progress(list(jobs), desc="report charts", total=len(jobs), unit="chart"):
            images[name] = jobs[name]()
    glyph_warnings = sorted({str(w.message) for w in caught if "missing from font" in str(w.message)})
    for message in glyph_warnings:
        log.warning("report: %s", message)
    return images, glyph_warnings


def write_report(root: Path, output: Path, params: dict | None = None) -> ReportSummary:
    """Write the HTML report of the build rooted at ``root`` to ``output`` (atomically)."""
    started = time.perf_counter()
    options = {**DEFAULTS, **(params or {})}
    root = Path(root)
    build = collect(root, options["examples_per_reason"], options["example_clusters"])
    if build.manifest is not None:  # the commit the page is rendered from (the manifest holds no commit)
        build.manifest = with_commit(build.manifest, root)
    dists = measure(root, options["sample_records"])
    images, glyph_warnings = draw_charts(build, dists)
    example_ids = example_cluster_ids(build.clusters, options["example_clusters"]) if build.clusters is not None else []
    page = render(build, dists, images, example_ids, options["text_preview_chars"])
    with atomic_path(output) as tmp:
        tmp.write_text(page, encoding="utf-8")
    summary = ReportSummary(Path(output), len(images), {**build.missing, **dists.missing},
                            glyph_warnings, time.perf_counter() - started)
    log.info(summary.line())
    return summary
