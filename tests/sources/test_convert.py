"""convert: each adapter on hand-written fixtures and on the real mirror, bad input, accounting."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import polars as pl
import pytest
import yaml

from jinstruct.records import InputError, write_parquet
from jinstruct.sources.convert import Converted, convert_sources
from jinstruct.sources.fetch import fetch_sources
from jinstruct.sources.spec import enabled_sources
from jinstruct.stage import stage_stats
from tests.support import MIRROR, REPO_ROOT
from tests.support.sources import COMMIT, SOURCE_FIXTURES, needs_shared_mirror, put_in_mirror, run_stage, sha256_of

FETCH = {"mirrors": [], "max_archive_bytes": 10_000_000, "timeout_seconds": 10}


@pytest.fixture(autouse=True)
def _no_mirror_from_environment(monkeypatch):
    monkeypatch.delenv("JINSTRUCT_MIRROR", raising=False)


def _local(path: Path, fmt: str, adapter: str, **extra) -> dict:
    return {"kind": "local", "path": str(path), "format": fmt, "adapter": adapter, "license": "CC-BY-4.0", **extra}


def _convert(tmp_path: Path, sources: dict, mirrors: list[Path] = ()) -> tuple[Converted, dict]:
    """Fetch for real into tmp_path/raw, convert, and check the accounting."""
    specs = enabled_sources(sources)
    fetch_sources(specs, tmp_path / "raw", {**FETCH, "mirrors": [str(m) for m in mirrors]})
    converted = convert_sources(specs, tmp_path / "raw")
    stats = stage_stats("convert", converted.candidates, converted.result, converted.parse_errors)
    assert converted.result.kept["id"].is_unique().all()
    assert converted.result.kept["id"].to_list() == sorted(converted.result.kept["id"].to_list())
    return converted, stats


def _records(converted: Converted) -> dict[str, dict]:
    return {row["id"]: row for row in converted.result.kept.iter_rows(named=True)}


def _rejects(converted: Converted) -> dict[str, tuple[str, str]]:
    return {row["id"]: (row["reason"], row["detail"]) for row in converted.result.rejected.iter_rows(named=True)}


# --------------------------------------------------------------------------- adapters on fixtures


def _dolly_archive(extra_members: dict[str, bytes] = {}) -> bytes:  # noqa: B006 (read only)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        members = {f"dolly-{COMMIT}/data/{p.name}": p.read_bytes()
                   for p in sorted((SOURCE_FIXTURES / "dolly").iterdir())}
        for name, content in {**members, **extra_members}.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _dolly_source(tmp_path: Path, extra_members: dict[str, bytes] = {}) -> tuple[dict, Path]:  # noqa: B006
    url = f"https://example.org/dolly/archive/{COMMIT}.tar.gz"
    mirror = tmp_path / "mirror"
    sha = put_in_mirror(mirror, url, _dolly_archive(extra_members))
    return {"dolly_ja": {"kind": "archive", "url": url, "sha256": sha, "members": "*/data/*.jsonl",
                         "format": "jsonl", "adapter": "dolly", "license": "CC-BY-SA-3.0"}}, mirror


def test_dolly_maps_categories_to_tasks(tmp_path):
    sources, mirror = _dolly_source(tmp_path)
    converted, stats = _convert(tmp_path, sources, [mirror])
    records = _records(converted)
    assert {key: row["task"] for key, row in records.items()} == {
        "dolly_ja:0": "closed_qa", "dolly_ja:1": "general", "dolly_ja:2": "open_qa", "dolly_ja:3": "general"}
    first = records["dolly_ja:0"]
    assert first == {"id": "dolly_ja:0", "source": "dolly_ja", "task": "closed_qa", "instruction": "富士山の高さは？",
                     "input": "富士山は標高3776mの日本最高峰である。", "output": "3776メートルです。",
                     "license": "CC-BY-SA-3.0", "group": "dolly_ja:0"}
    assert stats["by_source"]["dolly_ja"] == {"in": 4, "out": 4, "rejected": 0}


def test_dolly_bad_members_become_reasoned_rejects(tmp_path):
    bad = {
        f"dolly-{COMMIT}/data/00004.jsonl":
            '{"index":"4","instruction":"出力がない","input":"","category":"open_qa"}\n'.encode(),
        f"dolly-{COMMIT}/data/00005.jsonl": b'{"index":"5","instruction":"\xff\xfe","output":"x"}\n',
        f"dolly-{COMMIT}/data/00006.jsonl": b'{"index":"6","instruction": "broken\n',
    }
    sources, mirror = _dolly_source(tmp_path, bad)
    converted, stats = _convert(tmp_path, sources, [mirror])
    rejects = _rejects(converted)
    assert rejects["dolly_ja:4"] == ("missing_field", f"dolly_ja/dolly-{COMMIT}/data/00004.jsonl:1: no 'output'")
    assert rejects[f"dolly_ja:dolly_ja/dolly-{COMMIT}/data/00005.jsonl:1"][0] == "parse_error"
    assert "invalid UTF-8 at byte" in rejects[f"dolly_ja:dolly_ja/dolly-{COMMIT}/data/00005.jsonl:1"][1]
    assert rejects[f"dolly_ja:dolly_ja/dolly-{COMMIT}/data/00006.jsonl:1"][0] == "parse_error"
    assert stats["records_in"] == 7 and stats["records_out"] == 4 and stats["records_rejected"] == 3
    assert stats["rejected_by_reason"] == {"missing_field": 1, "parse_error": 2}
    assert stats["upstream_records"] == {"dolly_ja": 7} and stats["parse_errors"] == {"dolly_ja": 2}


def test_alpaca_seed_gives_one_record_per_instance_grouped_by_task(tmp_path):
    sources = {"alpaca_ja_seed": _local(SOURCE_FIXTURES / "alpaca" / "seed_tasks.jsonl", "jsonl", "alpaca_seed")}
    converted, stats = _convert(tmp_path, sources)
    records = _records(converted)
    assert sorted(records) == ["alpaca_ja_seed:seed_task_0:0", "alpaca_ja_seed:seed_task_0:1",
                               "alpaca_ja_seed:seed_task_1:0"]
    assert records["alpaca_ja_seed:seed_task_0:1"]["input"] == "高い"
    assert records["alpaca_ja_seed:seed_task_0:1"]["output"] == "低い"
    assert {row["group"] for key, row in records.items() if "seed_task_0" in key} == {"alpaca_ja_seed:seed_task_0"}
    assert records["alpaca_ja_seed:seed_task_1:0"]["task"] == "classification"
    assert records["alpaca_ja_seed:seed_task_0:0"]["task"] == "general"
    assert stats["upstream_records"] == {"alpaca_ja_seed": 2} and stats["records_in"] == 3


def test_alpaca_seed_without_instances_or_outputs_is_rejected_with_the_field(tmp_path):
    path = tmp_path / "seed.jsonl"
    path.write_text('{"id": "t0", "instruction": "答えて", "instances": [], "is_classification": false}\n'
                    '{"id": "t1", "instruction": "答えて", '
                    '"instances": [{"input": "x", "output": "y"}, {"input": "z"}], '
                    '"is_classification": false}\n', encoding="utf-8")
    converted, stats = _convert(tmp_path, {"seed": _local(path, "jsonl", "alpaca_seed")})
    assert set(_records(converted)) == {"seed:t1:0"}
    assert _rejects(converted) == {"seed:t0:0": ("missing_field", "seed/seed.jsonl:1: no 'instances'"),
                                   "seed:t1:1": ("missing_field", "seed/seed.jsonl:2: no 'output' in instance 1")}
    assert stats["upstream_records"] == {"seed": 2} and stats["records_in"] == 3


def test_tanaka_pairs_detokenise_and_emit_both_directions(tmp_path):
    sources = {"tanaka": {"kind": "local", "files": {"ja": {"path": str(SOURCE_FIXTURES / "tanaka" / "train.ja")},
                                                     "en": {"path": str(SOURCE_FIXTURES / "tanaka" / "train.en")}},
                          "format": "parallel_text", "adapter": "tanaka_pairs", "license": "CC-BY-2.0-FR"}}
    converted, stats = _convert(tmp_path, sources)
    records = _records(converted)
    expected_pairs = {
        1: ("私はテニス部員です。", "I'm in the tennis club."),
        2: ("私はiPhone 12を持っている。", "I have an iphone 12."),
        3: ("彼は「さようなら」と言った。", 'He said, "good-bye."'),
        4: ("９時です。", "It's nine o'clock."),
    }
    for line, (japanese, english) in expected_pairs.items():
        en_ja, ja_en = records[f"tanaka:{line}:en-ja"], records[f"tanaka:{line}:ja-en"]
        assert (en_ja["input"], en_ja["output"], en_ja["task"]) == (english, japanese, "translation_en_ja")
        assert (ja_en["input"], ja_en["output"], ja_en["task"]) == (japanese, english, "translation_ja_en")
        assert en_ja["group"] == ja_en["group"] == f"tanaka:{line}"
        assert en_ja["instruction"] == "次の英文を日本語に翻訳してください。"
    assert stats["upstream_records"] == {"tanaka": 4} and stats["by_source"]["tanaka"]["out"] == 8


def test_tanaka_bad_lines_and_unpaired_files(tmp_path):
    ja, en = tmp_path / "in" / "train.ja", tmp_path / "in" / "train.en"
    ja.parent.mkdir()
    ja.write_bytes("猫 が い る 。\n".encode() + b"\xff\xfe\n\n")
    en.write_bytes(b"there is a cat .\nbroken line .\nempty japanese side .\n")
    files = {"ja": {"path": str(ja)}, "en": {"path": str(en)}}
    sources = {"tanaka": {"kind": "local", "files": files, "format": "parallel_text", "adapter": "tanaka_pairs",
                          "license": "CC-BY-2.0-FR"}}
    converted, stats = _convert(tmp_path / "a", sources)
    rejects = _rejects(converted)
    assert rejects["tanaka:tanaka/train.ja:2"] == ("parse_error", "tanaka/train.ja:2: invalid UTF-8 at byte 0")
    assert rejects["tanaka:3:en-ja"] == ("empty_field", "tanaka/train.ja:3: empty line")
    assert set(_records(converted)) == {"tanaka:1:en-ja", "tanaka:1:ja-en"}
    assert stats["records_in"] == 5 and stats["records_rejected"] == 3
    en.write_bytes(b"there is a cat .\n")
    with pytest.raises(InputError, match="train.ja: 3 lines but train.en has 1"):
        _convert(tmp_path / "b", sources)


def test_jcommonsenseqa_answer_is_the_labelled_choice(tmp_path):
    sources = {"jcommonsenseqa": _local(SOURCE_FIXTURES / "jglue" / "jcommonsenseqa.json", "jsonl", "jcommonsenseqa")}
    converted, _ = _convert(tmp_path, sources)
    records = _records(converted)
    assert records["jcommonsenseqa:10"]["input"] == (
        "質問：雨の日に差すものはどれ？\n選択肢：\n1. 帽子\n2. 傘\n3. 靴\n4. 鞄\n5. 眼鏡")
    assert records["jcommonsenseqa:10"]["output"] == "傘"
    assert records["jcommonsenseqa:11"]["output"] == "雪"
    assert records["jcommonsenseqa:10"]["task"] == "multiple_choice_qa"
    assert _rejects(converted) == {"jcommonsenseqa:12": (
        "invalid_label", "jcommonsenseqa/jcommonsenseqa.json:3: label 7 is not a choice index 0-4")}


def test_jsquad_questions_become_reading_comprehension_grouped_by_paragraph(tmp_path):
    sources = {"jsquad": _local(SOURCE_FIXTURES / "jglue" / "jsquad.json", "squad", "jsquad")}
    converted, stats = _convert(tmp_path, sources)
    records = _records(converted)
    assert records["jsquad:a1p0q0"]["input"] == (
        "タイトル：富士山\n文章：富士山は静岡県と山梨県にまたがる活火山である。標高は3776メートル。\n質問：富士山の標高は？")
    assert records["jsquad:a1p0q0"]["output"] == "3776メートル"  # the first reference answer
    assert records["jsquad:a1p0q0"]["group"] == records["jsquad:a1p0q1"]["group"] == "jsquad:a1p0"
    assert _rejects(converted) == {"jsquad:a1p1q0": ("no_answer", "jsquad/jsquad.json: question a1p1q0: is_impossible")}
    assert stats["upstream_records"] == {"jsquad": 3}


# --------------------------------------------------------------------------- bad input in a generic JSONL source


BAD_JSONL = b"\n".join([
    '{"instruction": "挨拶して", "output": "こんにちは"}'.encode(),
    b'{"instruction": "broken", "output": ',
    b'{"instruction": "\xe3\x81", "output": "x"}',
    '{"instruction": "出力なし"}'.encode(),
    b"",
    b'["an", "array"]',
    '{"instruction": "型違い", "output": ["a", "b"]}'.encode(),
    '{"instruction": "  ", "output": "空の指示"}'.encode(),
]) + b"\n"


def test_bad_jsonl_lines_become_reasoned_rejects_and_nothing_is_lost(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(BAD_JSONL)
    converted, stats = _convert(tmp_path, {"mine": _local(path, "jsonl", "columns", options={"task": "open_qa"})})
    assert set(_records(converted)) == {"mine:mine/mine.jsonl:1"}
    rejects = _rejects(converted)
    assert rejects["mine:mine/mine.jsonl:2"][0] == "parse_error"
    assert rejects["mine:mine/mine.jsonl:2"][1].startswith("mine/mine.jsonl:2: not JSON")
    assert rejects["mine:mine/mine.jsonl:3"] == ("parse_error", "mine/mine.jsonl:3: invalid UTF-8 at byte 17")
    assert rejects["mine:mine/mine.jsonl:4"] == ("missing_field", "mine/mine.jsonl:4: no 'output'")
    assert rejects["mine:mine/mine.jsonl:6"] == ("parse_error", "mine/mine.jsonl:6: a JSON list, not an object")
    assert rejects["mine:mine/mine.jsonl:7"] == ("wrong_type", "mine/mine.jsonl:7: output: expected text, got list")
    assert rejects["mine:mine/mine.jsonl:8"] == ("empty_field", "the instruction is empty")
    # 7 non-blank lines in, each either kept or rejected with a reason
    assert stats["records_in"] == 7 == stats["records_out"] + stats["records_rejected"]
    assert stats["upstream_records"] == {"mine": 7}
    assert set(converted.result.rejected.columns) >= {"id", "source", "stage", "reason", "detail", "group"}


def test_a_repeated_upstream_id_keeps_the_first_record(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"qid": "a", "instruction": "一", "output": "first"}\n'
                    '{"qid": "a", "instruction": "二", "output": "second"}\n'
                    '{"qid": "b", "instruction": "三", "output": "third"}\n', encoding="utf-8")
    converted, stats = _convert(tmp_path, {"dup": _local(path, "jsonl", "columns", options={"id": "qid"})})
    assert {key: row["output"] for key, row in _records(converted).items()} == {"dup:a": "first", "dup:b": "third"}
    assert _rejects(converted) == {"dup:a": ("duplicate_id", "an earlier record has this id")}
    assert stats["by_source"]["dup"] == {"in": 3, "out": 2, "rejected": 1}


def test_empty_source_file_stops_with_its_name(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jsonl: the file is empty"):
        _convert(tmp_path, {"empty": _local(path, "jsonl", "columns")})


def test_parquet_source_with_a_wrong_column_type_stops_with_one_line(tmp_path):
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    pl.DataFrame({"instruction": ["足して", "引いて"], "output": [3, None]}).write_parquet(good)
    converted, _ = _convert(tmp_path / "a", {"nums": _local(good, "parquet", "columns")})
    assert _records(converted)["nums:nums/good.parquet:1"]["output"] == "3"  # numbers are fine as text
    assert _rejects(converted)["nums:nums/good.parquet:2"] == ("missing_field", "nums/good.parquet:2: no 'output'")
    pl.DataFrame({"instruction": ["足して"], "output": [{"value": 3}]}).write_parquet(bad)
    with pytest.raises(InputError, match=r"bad\.parquet: column 'output' holds Struct.*expected text"):
        _convert(tmp_path / "b", {"nums": _local(bad, "parquet", "columns")})


def test_hf_source_is_loaded_with_datasets(tmp_path):
    url = f"https://huggingface.co/datasets/owner/qa/resolve/{COMMIT}/data/train.jsonl"
    mirror = tmp_path / "mirror"
    lines = [{"question": "日本で一番高い山は？", "answer": "富士山", "kind": "open_qa"},
             {"question": "1+1は？", "answer": "2", "kind": "closed_qa"},
             {"question": "未知のタスク", "answer": "x", "kind": "poetry"}]
    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    sha = put_in_mirror(mirror, url, data)
    assert sha == sha256_of(data)
    source = {"kind": "hf", "repo": "owner/qa", "revision": COMMIT, "data_files": ["data/train.jsonl"],
              "sha256": {"data/train.jsonl": sha}, "format": "jsonl", "adapter": "columns", "license": "CC-BY-4.0",
              "options": {"instruction": "question", "output": "answer", "input": None, "task_column": "kind"}}
    converted, stats = _convert(tmp_path, {"hub_qa": source}, [mirror])
    records = _records(converted)
    assert records["hub_qa:hub_qa/data/train.jsonl:1"]["output"] == "富士山"
    assert records["hub_qa:hub_qa/data/train.jsonl:2"]["task"] == "closed_qa"
    assert _rejects(converted)["hub_qa:hub_qa/data/train.jsonl:3"][0] == "unknown_task"
    assert stats["records_in"] == 3


# --------------------------------------------------------------------------- the stage script


def test_convert_stage_script_writes_records_rejects_and_metrics(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(BAD_JSONL)
    params = {"fetch": FETCH, "sources": {"mine": _local(path, "jsonl", "columns")}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage("convert.py", tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "convert: error: data/raw/provenance.json: missing; fetch the sources first" in done.stderr
    assert run_stage("fetch.py", tmp_path).returncode == 0
    done = run_stage("convert.py", tmp_path)
    assert done.returncode == 0, done.stderr
    kept = pl.read_parquet(tmp_path / "data/interim/converted.parquet")
    rejected = pl.read_parquet(tmp_path / "data/rejects/convert.parquet")
    metrics = json.loads((tmp_path / "metrics/convert.json").read_text())
    assert kept.columns == ["id", "source", "task", "instruction", "input", "output", "license", "group"]
    assert (kept.height, rejected.height) == (1, 6)
    assert metrics["records_in"] == 7 and metrics["rejected_by_reason"]["parse_error"] == 3


# --------------------------------------------------------------------------- the real default sources


@pytest.fixture(scope="module")
def real_raw(tmp_path_factory) -> tuple[list, Path]:
    if not MIRROR.is_dir():
        pytest.skip(f"no offline mirror at {MIRROR}")
    sources = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["sources"]
    specs = enabled_sources(sources)
    raw = tmp_path_factory.mktemp("real") / "raw"
    fetch_sources(specs, raw, {**FETCH, "mirrors": [str(MIRROR)], "max_archive_bytes": 2_000_000_000})
    return specs, raw


@needs_shared_mirror
def test_default_sources_convert_with_the_expected_counts(real_raw, tmp_path):
    specs, raw = real_raw
    converted = convert_sources(specs, raw)
    stats = stage_stats("convert", converted.candidates, converted.result, converted.parse_errors)
    provenance = json.loads((raw / "provenance.json").read_text())["sources"]
    assert stats["upstream_records"] == {name: entry["records"] for name, entry in provenance.items()}
    assert stats["upstream_records"] == {"alpaca_ja_seed": 175, "dolly_ja": 15015, "jcommonsenseqa": 8939,
                                         "jsquad": 4442, "tanaka": 50000}
    assert stats["by_source"]["tanaka"]["in"] == 100_000
    for name, row in stats["by_source"].items():
        assert row["in"] == row["out"] + row["rejected"], name
    kept = converted.result.kept
    assert kept["id"].is_unique().all() and kept["id"].to_list() == sorted(kept["id"].to_list())
    tanaka = kept.filter(pl.col("source") == "tanaka")
    pairs = tanaka.group_by("group").agg(pl.col("task").sort())
    assert pairs.height == 50_000
    assert pairs["task"].to_list()[0] == ["translation_en_ja", "translation_ja_en"]
    assert pairs["task"].list.len().unique().to_list() == [2]
    assert not tanaka["output"].str.contains(r"[ぁ-んァ-ン一-龥] [ぁ-んァ-ン一-龥]").any()  # no KyTea spaces left
    others = kept.filter(~pl.col("source").is_in(["tanaka", "jsquad", "alpaca_ja_seed"]))
    assert (others["group"] == others["id"]).all()
    assert set(kept["task"].unique()) <= {"open_qa", "closed_qa", "reading_comprehension", "multiple_choice_qa",
                                          "translation_en_ja", "translation_ja_en", "classification", "summarization",
                                          "brainstorming", "creative_writing", "information_extraction", "general"}
    # same input → byte-identical output file
    write_parquet(kept, tmp_path / "one.parquet")
    write_parquet(convert_sources(specs, raw).result.kept, tmp_path / "two.parquet")
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()
