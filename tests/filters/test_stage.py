"""The filter stage as users run it: params, the DVC stage script, and ``jinstruct filter`` on any file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import polars as pl

from jinstruct.cli import main as cli_main
from jinstruct.records import write_parquet
from tests.support import REPO_ROOT, stage_argv


def records() -> list[dict]:
    base = {"source": "fixture", "license": "CC0-1.0", "input": ""}
    return [
        {**base, "id": "fixture:1", "task": "open_qa", "instruction": "日本で一番高い山は？", "output": "富士山です。"},
        {**base, "id": "fixture:2", "task": "open_qa", "instruction": "日本で一番高い山は？", "output": ""},
        {**base, "id": "other:1", "source": "other", "task": "translation_ja_en",
         "instruction": "次の日本語を英語に翻訳してください。", "input": "猫が好きです。",
         "output": "猫が大好きです。"},
        {**base, "id": "other:2", "source": "other", "task": "translation_ja_en",
         "instruction": "次の日本語を英語に翻訳してください。", "input": "猫が好きです。", "output": "i like cats ."},
    ]


def test_stage_script_writes_outputs_rejects_and_a_reason_by_source_table(tmp_path: Path):
    shutil.copy(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    write_parquet(pl.DataFrame(records()), tmp_path / "data/interim/deduped.parquet")
    eval_file = tmp_path / "data/eval/jnli/valid-v1.3.json"
    eval_file.parent.mkdir(parents=True)
    eval_file.write_text(json.dumps({"sentence_pair_id": "1",
                                     "sentence1": "白い犬が芝生の上でボールを追いかけて走っています。",
                                     "sentence2": "犬が走っている。"}, ensure_ascii=False) + "\n", encoding="utf-8")
    (tmp_path / "data/eval/jcommonsenseqa").mkdir()
    (tmp_path / "data/eval/jcommonsenseqa/valid-v1.3.json").write_text(
        json.dumps({"q_id": 1, "question": "猫が好きな食べ物は何でしょうか？"},
                   ensure_ascii=False) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run(stage_argv("filter"), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    kept = pl.read_parquet(tmp_path / "data/interim/filtered.parquet")
    rejected = pl.read_parquet(tmp_path / "data/rejects/filter.parquet")
    assert sorted(kept["id"]) == ["fixture:1", "other:2"]
    assert dict(zip(rejected["id"], rejected["reason"])) == {"fixture:2": "empty_output",
                                                             "other:1": "language_mismatch"}
    stats = json.loads((tmp_path / "metrics/filter.json").read_text(encoding="utf-8"))
    assert stats["rejected_by_reason_source"] == {"empty_output": {"fixture": 1}, "language_mismatch": {"other": 1}}
    assert stats["by_source"]["other"] == {"in": 2, "out": 1, "rejected": 1}
    assert stats["decontamination"]["eval_items"] == {"jcommonsenseqa": 1, "jnli": 1}
    assert "[filter] in=4 out=2 rejected=2" in done.stderr


def test_cli_filters_any_jsonl_with_a_text_field_and_keeps_other_columns(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml here: the built-in defaults apply
    source = tmp_path / "mine.jsonl"
    source.write_text("\n".join([
        json.dumps({"text": "明日は雨が降るそうなので、傘を持って出かけましょう。", "score": 3}, ensure_ascii=False),
        "{broken json",
        json.dumps({"text": "她周一去了学校但是却发现没有其他的同学，所以她意识到这个周一实际上是国家假日。",
                    "score": 1},
                   ensure_ascii=False),
        json.dumps({"text": "   ", "score": 0}),
    ]) + "\n", encoding="utf-8")
    code = cli_main(["filter", "--input", str(source), "--output", "kept.jsonl", "--rejects", "rejects.jsonl",
                     "--stats", "stats.json", "--text-field", "text"])
    assert code == 0
    kept = [json.loads(line) for line in (tmp_path / "kept.jsonl").read_text(encoding="utf-8").splitlines()]
    assert kept == [{"text": "明日は雨が降るそうなので、傘を持って出かけましょう。", "score": 3, "id": "mine:1",
                     "source": "mine"}]
    lines = (tmp_path / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    rejects = {row["id"]: row["reason"] for row in map(json.loads, lines)}
    assert rejects == {"mine:3": "language_mismatch", "mine:4": "empty_text", "parse:mine.jsonl:2": "parse_error"}
    stats = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    assert (stats["records_in"], stats["records_out"], stats["records_rejected"]) == (4, 1, 3)


def test_cli_set_overrides_a_threshold(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "qa.jsonl"
    source.write_text(json.dumps({"instruction": "短い物語を書いてください。", "output": "むかしむかし、ある村に。",
                                  "task": "creative_writing"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert cli_main(["filter", "--input", str(source), "--output", "a.jsonl", "--rejects", "ra.jsonl"]) == 0
    assert (tmp_path / "a.jsonl").read_text(encoding="utf-8").count("\n") == 1
    assert cli_main(["filter", "--input", str(source), "--output", "b.jsonl", "--rejects", "rb.jsonl",
                     "--set", "length.bounds.creative_writing.output=[50, 6000]"]) == 0
    assert json.loads((tmp_path / "rb.jsonl").read_text(encoding="utf-8"))["reason"] == "too_short"


def test_cli_on_a_file_whose_every_line_is_broken_reports_them_as_rejects(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.jsonl").write_text("{not json\n[1, 2]\n", encoding="utf-8")
    assert cli_main(["filter", "--input", "broken.jsonl", "--output", "kept.jsonl", "--rejects", "rejects.jsonl"]) == 0
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["reason"] for row in rejects] == ["parse_error", "parse_error"]
    assert (tmp_path / "kept.jsonl").read_text(encoding="utf-8") == ""
