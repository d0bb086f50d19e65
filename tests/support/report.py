"""A small but complete build folder for the report tests, and the funnel numbers read back from its files.

``make_build(root)`` writes every file the report reads, in the formats the stages
write: stage stats from ``stage.stage_stats`` over real frames, rejects and clusters
as Parquet, a manifest, dvclive curves, train/eval metrics and a real BPE tokenizer
trained on the records. ``expected_funnel`` reads the counts back from those files,
never from the report code.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from jinstruct.records import SCHEMA_FIELDS, dataset_hash, write_json, write_parquet
from jinstruct.stage import StageResult, mark_rejected, stage_stats

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


def build_records() -> pl.DataFrame:
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
    records = build_records()
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
