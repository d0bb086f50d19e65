"""The normalisation rule table: docs/normalization.md walked against the code,
hand-written fixtures per rule, tricky cases, stats, determinism, stage and CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from jinstruct.records import InputError, read_table
from jinstruct.text import NormalizeConfig, normalize_records, normalize_texts
from jinstruct.text.normalize import (
    RULE_NAMES,
    contains_trigger,
    normalize_expr,
    plain_characters,
    rare_character,
    rule_by_name,
)
from tests.support import REPO_ROOT, stage_argv

DOC = REPO_ROOT / "docs" / "normalization.md"


# --------------------------------------------------------------------------- the doc's tables

def _unescape(cell: str) -> str:
    cell = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), cell)
    return cell.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")


def doc_rows(heading: str) -> list[tuple[str, str, str]]:
    """(first cell, in, out) of each row of the table under ``heading``."""
    section = DOC.read_text(encoding="utf-8").split(f"\n{heading}\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("#"):
            break
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if len(cells) != 4 or not cells[2].startswith("`"):
            continue  # the header row
        rows.append((cells[0].strip("`"), _unescape(cells[2][1:-1]), _unescape(cells[3][1:-1])))
    return rows


def apply_rule(name: str, text: str) -> str:
    return pl.select(rule_by_name(name).apply(pl.lit(text, dtype=pl.String))).item()


def test_doc_lists_every_rule_once_in_code_order():
    assert [name for name, _, _ in doc_rows("## Rules")] == list(RULE_NAMES)


@pytest.mark.parametrize("name, given, expected", doc_rows("## Rules"))
def test_doc_rule_example(name, given, expected):
    assert given != expected, f"{name}: the doc example shows no change"
    assert apply_rule(name, given) == expected


@pytest.mark.parametrize("what, given, expected",
                         doc_rows("## Kept as written") + doc_rows("### Never masked"))
def test_doc_kept_example_survives_the_whole_stage(what, given, expected):
    assert given == expected
    assert normalize_texts([given]) == [expected]


@pytest.mark.parametrize("kind, given, expected", doc_rows("## PII masking"))
def test_doc_pii_example(kind, given, expected):
    assert normalize_texts([given]) == [expected]
    # and it is this kind's switch that does it
    assert normalize_texts([given], {"pii": {kind: False}}) != [expected]


# --------------------------------------------------------------------------- fixtures per rule

RULE_FIXTURES = [
    ("newlines", "一\r\n\r\n二", "一\n\n二"),
    ("invisible_chars", "a\u2060b\u00adc\u200ed", "abcd"),
    ("control_chars", "a\u0085b\u001bc\u007f", "abc"),
    ("control_chars", "行1\r\n行2", "行1\r\n行2"),             # CR is left to the newlines rule
    ("halfwidth_katakana", "ﾜﾞｰﾙﾄﾞ･ｶｯﾌﾟ", "ヷールド・カップ"),
    ("halfwidth_katakana", "ﾎﾟﾝﾌﾟ", "ポンプ"),
    ("kana_voicing", "ウ\u3099ィ", "ヴィ"),
    ("kana_voicing", "ほ゜", "ぽ"),
    ("kana_voicing", "き\u309a", "き\u309a"),                   # no precomposed form: left as written
    ("unicode_nfc", "\u795e", "\u795e"),
    ("fullwidth_ascii", "ｉＰｈｏｎｅ１５", "iPhone15"),
    ("fullwidth_ascii", "１，０００円、１２：３０", "1,000円、12:30"),
    ("fullwidth_ascii", "Ａ！？（Ｂ）", "A！？（B）"),
    ("wave_dash", "〜", "〜"),
    ("katakana_long_vowel", "データ－", "データー"),
    ("katakana_long_vowel", "ｺｰﾋｰ", "ｺーﾋー"),              # ｰ too, even with halfwidth_katakana off
    ("katakana_long_vowel", "カ－ド", "カード"),
    ("katakana_long_vowel", "東京－大阪", "東京－大阪"),       # not after katakana
    ("compat_squares", "㌢㍉㎏", "センチミリkg"),
    ("compat_squares", "①㊤", "①㊤"),
    ("space_variants", "a\u3000b", "a\u3000b"),               # ideographic space is the space rules' business
    ("spaces_between_japanese", "あ い う え お", "あいうえお"),
    ("spaces_between_japanese", "私は John です", "私は John です"),
    ("spaces_between_japanese", "ハリー・ポッター シリーズ 全7巻", "ハリー・ポッター シリーズ全7巻"),
    ("spaces_between_japanese", "カローラ は トヨタ 車", "カローラはトヨタ車"),
    ("spaces_between_japanese", "です。 次に", "です。次に"),
    ("spaces_between_japanese", "行1\n行2", "行1\n行2"),      # line breaks are not spaces
    ("space_runs", "\u3000字下げ", "\u3000字下げ"),           # a paragraph indent is indentation
    ("space_runs", "a\t\tb", "a\t\tb"),
    ("trailing_spaces", "a \u3000\nb", "a\nb"),
    ("blank_lines", "a\n\nb", "a\n\nb"),
    ("strip", "  \n", ""),
]


@pytest.mark.parametrize("name, given, expected", RULE_FIXTURES)
def test_rule_fixture(name, given, expected):
    assert apply_rule(name, given) == expected


@pytest.mark.parametrize("name, given, expected", RULE_FIXTURES + doc_rows("## Rules"))
def test_trigger_is_found_wherever_the_rule_changes_something(name, given, expected):
    # normalize_records skips rows without the trigger, so a rule that changes
    # a text its trigger misses would silently do nothing in the stage.
    if expected != given:
        assert pl.select(contains_trigger(pl.lit(given), rule_by_name(name).trigger)).item(), name


@pytest.mark.parametrize("name, given, expected", RULE_FIXTURES + doc_rows("## Rules"))
def test_key_chars_are_found_wherever_the_rule_changes_something(name, given, expected):
    # Rows made only of plain characters skip rules with key characters.
    key_chars = rule_by_name(name).key_chars
    if expected != given and key_chars is not None:
        assert pl.select(pl.lit(given).str.contains(key_chars)).item(), name
        assert pl.select(pl.lit(given).str.contains(rare_character())).item(), name


def test_plain_characters_are_the_ones_no_keyed_rule_acts_on():
    def is_plain(char: str) -> bool:
        return pl.select(pl.lit(char).str.contains(plain_characters())).item()

    for char in "aア漢あ、。「」…①！？（）〜—\n\t ":
        assert is_plain(char), repr(char)
    for char in "ｱ\u3099゛～．－：Ａ１＠\u00a0\u200b\r\u0007㌔\u0301\u2010":
        assert not is_plain(char), repr(char)


DOLLY = REPO_ROOT.parent / "shared" / "mirror" / "github.com" / "kunishou" / "databricks-dolly-15k-ja" / "archive"


@pytest.mark.skipif(not DOLLY.is_dir(), reason="needs the offline mirror")
def test_records_path_equals_the_plain_expression_on_dolly():
    import tarfile
    texts = []
    with tarfile.open(next(DOLLY.glob("*.tar.gz"))) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".jsonl") and len(texts) < 6000:
                record = json.loads(tar.extractfile(member).read().decode("utf-8").splitlines()[0])
                texts += [record["instruction"], record["input"], record["output"]]
    # Spice the real text with every fixture so that each rule has work to do.
    texts += [given for _, given, _ in RULE_FIXTURES + doc_rows("## Rules")]
    no_pii = {"pii": {"email": False, "card": False, "phone": False, "postal": False}}
    expected = pl.DataFrame({"t": texts}).select(normalize_expr("t"))["t"].to_list()
    assert normalize_texts(texts, no_pii) == expected


def test_records_path_equals_the_plain_expression():
    given = [text for _, text, _ in RULE_FIXTURES + doc_rows("## Rules") + doc_rows("## Kept as written")]
    no_pii = {"pii": {"email": False, "card": False, "phone": False, "postal": False}}
    frame = pl.DataFrame({"t": given})
    assert normalize_texts(given, no_pii) == frame.select(normalize_expr("t"))["t"].to_list()


def test_nfc_stable_ranges_hold_no_character_nfc_can_change():
    from unicodedata import combining, decomposition, normalize

    from jinstruct.text.normalize import NFC_STABLE_RANGES
    # Second halves of canonical pairs are the characters that compose with what precedes them.
    composing = {int(d.split()[1], 16) for d in (decomposition(chr(c)) for c in range(0x110000))
                 if d and not d.startswith("<") and len(d.split()) == 2}
    for low, high in NFC_STABLE_RANGES:
        for code in range(low, high + 1):
            char = chr(code)
            assert normalize("NFC", char) == char and combining(char) == 0 and code not in composing, hex(code)


def test_latin_phrase_keeps_its_spaces():
    text = "The quick brown fox jumps over the lazy dog."
    assert normalize_texts([text]) == [text]
    assert normalize_texts(["「Machine Learning」は 機械 学習 です"]) == ["「Machine Learning」は機械学習です"]


def test_code_keeps_indentation_and_line_breaks():
    code = ("```python\n"
            "def total(values):\n"
            "    result = 0\n"
            "    for value in values:\n"
            "\tresult  +=  value  \n"
            "\n\n\n"
            "    return result\n"
            "```")
    expected = ("```python\n"
                "def total(values):\n"
                "    result = 0\n"
                "    for value in values:\n"
                "\tresult += value\n"
                "\n"
                "    return result\n"
                "```")
    assert normalize_texts([code]) == [expected]


def test_whole_chain_on_a_messy_field():
    given = "\ufeff  ｺｰﾋｰ は １杯 ５００円 ～ です。\r\n\r\n\r\n\r\nＰｙｔｈｏｎ　で  書く\u200b  "
    assert normalize_texts([given]) == ["コーヒーは 1杯 500円〜です。\n\nPython で書く"]  # spaces beside digits stay


def test_normalize_expr_composes_the_rules_in_order():
    frame = pl.DataFrame({"t": ["ｶﾞｷﾞ ＡＢＣ", None]})
    assert frame.select(normalize_expr("t"))["t"].to_list() == ["ガギ ABC", None]
    only_width = frame.select(normalize_expr("t", enabled=("halfwidth_katakana",)))["t"].to_list()
    assert only_width == ["ガギ ＡＢＣ", None]


def test_a_rule_switched_off_is_not_applied():
    assert normalize_texts(["10～20"], {"rules": {"wave_dash": False}}) == ["10～20"]
    assert normalize_texts(["東京 タワー"], {"rules": {"spaces_between_japanese": False}}) == ["東京 タワー"]


def test_normalising_twice_changes_nothing():
    texts = ["ｶﾞ ｷﾞ", "コ－ヒ－ ３．１４", "a  \n\n\n\nb", "電話 ０９０－１２３４－５６７８", "①㍻ 東京 タワー"]
    once = normalize_texts(texts)
    assert normalize_texts(once) == once


# --------------------------------------------------------------------------- config

def test_config_defaults_everything_on():
    config = NormalizeConfig.from_params({})
    assert config.enabled_rules == RULE_NAMES
    assert config.enabled_pii == ("email", "card", "phone", "postal")


@pytest.mark.parametrize("params, message", [
    ({"rulez": {}}, "unknown key 'rulez'"),
    ({"rules": {"nfkc": True}}, "unknown key 'rules.nfkc'"),
    ({"pii": {"address": True}}, "unknown key 'pii.address'"),
    ({"rules": {"strip": "yes"}}, "'rules.strip' must be true or false"),
    ({"rules": ["strip"]}, "rules must be a mapping"),
])
def test_config_rejects_bad_params(params, message):
    with pytest.raises(InputError, match=re.escape(message)):
        NormalizeConfig.from_params(params)


# --------------------------------------------------------------------------- records and stats

def _records() -> pl.DataFrame:
    return pl.DataFrame({
        "id": ["t:1", "t:2", "t:3"],
        "source": ["t", "t", "u"],
        "task": ["open_qa"] * 3,
        "instruction": ["ｶﾀｶﾅ を 直す", "そのまま", "連絡先は？"],
        "input": ["", None, ""],
        "output": ["10～20", "ok", "０９０－１２３４－５６７８ か a@example.com"],
        "license": ["x"] * 3,
    })


def test_records_keep_raw_text_and_count_changes_per_rule():
    result = normalize_records(_records(), {}, ["instruction", "input", "output"])
    kept = result.kept
    assert kept.height == 3 and result.rejected.height == 0
    assert kept["instruction"].to_list() == ["カタカナを直す", "そのまま", "連絡先は？"]
    assert kept["output"].to_list() == ["10〜20", "ok", "<PHONE> か <EMAIL>"]
    assert kept["raw_instruction"].to_list() == ["ｶﾀｶﾅ を 直す", "そのまま", "連絡先は？"]
    assert kept["raw_output"].to_list() == ["10～20", "ok", "０９０－１２３４－５６７８ か a@example.com"]
    assert kept["input"].to_list() == ["", None, ""]
    stats = result.extra_stats
    assert stats["changed_by_rule"]["halfwidth_katakana"] == 1
    assert stats["changed_by_rule"]["spaces_between_japanese"] == 1
    assert stats["changed_by_rule"]["wave_dash"] == 1
    assert stats["changed_by_rule"]["fullwidth_ascii"] == 1
    assert stats["changed_by_rule"]["strip"] == 0
    assert stats["pii_masks"] == {"email": 1, "card": 0, "phone": 1, "postal": 0}
    assert stats["pii_records"] == {"email": 1, "card": 0, "phone": 1, "postal": 0}
    assert stats["records_changed"] == 2


def test_existing_raw_column_is_not_overwritten():
    first = normalize_records(_records(), {}, ["instruction"]).kept
    second = normalize_records(first, {}, ["instruction"]).kept
    assert second["raw_instruction"].to_list() == ["ｶﾀｶﾅ を 直す", "そのまま", "連絡先は？"]


def test_output_is_deterministic_bytes(tmp_path):
    from jinstruct.records import write_parquet
    frames = [normalize_records(_records(), {}, ["instruction", "input", "output"]).kept for _ in range(2)]
    for index, frame in enumerate(frames):
        write_parquet(frame, tmp_path / f"{index}.parquet")
    assert (tmp_path / "0.parquet").read_bytes() == (tmp_path / "1.parquet").read_bytes()


# --------------------------------------------------------------------------- CLI and stage

def _run(args: list[str], cwd: Path, threads: int | None = None) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(REPO_ROOT / "src"), "PATH": "/usr/bin:/bin"}
    if threads:
        env["POLARS_MAX_THREADS"] = str(threads)
    return subprocess.run([sys.executable, "-m", "jinstruct", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_on_jsonl_with_a_non_schema_column(tmp_path):
    given = tmp_path / "notes.jsonl"
    lines = [{"text": "ｶﾞｲﾄﾞ の 電話は ０３－１２３４－５６７８", "score": 3},
             {"text": "Tokyo Tower  ", "score": 1},
             {"text": "〒１００－０００１ 東京都", "score": 2}]
    given.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n{broken\n",
                     encoding="utf-8")
    out, rejects, stats = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl", tmp_path / "stats.json"
    done = _run(["normalize", "--input", str(given), "--output", str(out), "--rejects", str(rejects),
                 "--stats", str(stats), "--text-field", "text", "--set", "pii.postal=false"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows] == ["ガイドの電話は <PHONE>", "Tokyo Tower", "〒100-0001 東京都"]
    assert [row["raw_text"] for row in rows] == [line["text"] for line in lines]
    assert [row["score"] for row in rows] == [3, 1, 2]
    assert [row["id"] for row in rows] == ["notes:1", "notes:2", "notes:3"]
    figures = json.loads(stats.read_text(encoding="utf-8"))
    assert figures["records_in"] == 4 and figures["records_out"] == 3
    assert figures["rejected_by_reason"] == {"parse_error": 1}
    assert figures["pii_masks"] == {"email": 0, "card": 0, "phone": 1}
    assert "postal" not in figures["pii_records"]


def test_same_bytes_with_one_or_two_threads(tmp_path):
    texts = [given for _, given, _ in RULE_FIXTURES + doc_rows("## Rules") + doc_rows("## PII masking")]
    frame = pl.DataFrame({"text": texts * 40, "n": list(range(len(texts) * 40))})
    frame.write_parquet(tmp_path / "in.parquet")
    outputs = []
    for threads in (1, 2):
        out = tmp_path / f"out{threads}.parquet"
        done = _run(["normalize", "--input", str(tmp_path / "in.parquet"), "--output", str(out),
                     "--stats", str(tmp_path / f"stats{threads}.json"), "--text-field", "text"], tmp_path, threads)
        assert done.returncode == 0, done.stderr
        outputs.append((out.read_bytes(), (tmp_path / f"stats{threads}.json").read_bytes()))
    assert outputs[0] == outputs[1]


def test_cli_unknown_rule_is_one_line(tmp_path):
    given = tmp_path / "a.jsonl"
    given.write_text('{"text": "x"}\n', encoding="utf-8")
    done = _run(["normalize", "--input", str(given), "--output", str(tmp_path / "o.jsonl"),
                 "--text-field", "text", "--set", "rules.nfkc=true"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "jinstruct normalize: error: normalize.rules.nfkc: unknown key (allowed: " + ", ".join(RULE_NAMES) + ")"]


def test_stage_script_in_a_project_folder(tmp_path):
    import shutil
    shutil.copy(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    converted = _records()
    (tmp_path / "data" / "interim").mkdir(parents=True)
    converted.write_parquet(tmp_path / "data" / "interim" / "converted.parquet")
    done = subprocess.run(stage_argv("normalize"), cwd=tmp_path,
                          env={"PYTHONPATH": str(REPO_ROOT / "src"), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    kept, _ = read_table(tmp_path / "data" / "interim" / "normalized.parquet")
    assert kept["output"].to_list() == ["10〜20", "ok", "<PHONE> か <EMAIL>"]
    assert {"raw_instruction", "raw_input", "raw_output"} <= set(kept.columns)
    rejected, _ = read_table(tmp_path / "data" / "rejects" / "normalize.parquet")
    assert rejected.height == 0
    stats = json.loads((tmp_path / "metrics" / "normalize.json").read_text(encoding="utf-8"))
    assert stats["by_source"] == {"t": {"in": 2, "out": 2, "rejected": 0}, "u": {"in": 1, "out": 1, "rejected": 0}}
    assert stats["changed_by_rule"]["wave_dash"] == 1
