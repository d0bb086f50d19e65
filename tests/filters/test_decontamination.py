"""Decontamination against eval files laid out as fetch_eval writes them, and the EvalIndex API."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from jinstruct.filters import filter_records
from jinstruct.filters.decontamination import DecontaminationFilter, EvalIndex
from jinstruct.records import TEXT_FIELDS, InputError
from tests.support import MIRROR
from tests.support.filters import check_filter, doc

JGLUE = MIRROR / "raw.githubusercontent.com/yahoojapan/JGLUE/6f071c09316baae89c3d083a90985b4b1cb9968c/datasets"
EVAL_SETS = {"jnli": {"task": "jnli", "enabled": True}, "jcommonsenseqa": {"task": "jcommonsenseqa", "enabled": True}}

JNLI_SENTENCE = "二人の男性がキッチンで料理をしながら楽しそうに話しています。"
JCQA_QUESTION = "千葉県の県庁所在地は？"


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def eval_dir(tmp_path: Path) -> Path:
    # JGLUE's ".json" files are JSON Lines.
    write_jsonl(tmp_path / "eval/jnli/valid-v1.3.json", [
        {"sentence_pair_id": "7", "sentence1": JNLI_SENTENCE, "sentence2": "男性が料理をしている。",
         "label": "entailment"},
        {"sentence_pair_id": "8", "sentence1": "青い空の下で子供たちがサッカーボールを追いかけて走っている。",
         "sentence2": "子供が遊んでいる。", "label": "entailment"}])
    write_jsonl(tmp_path / "eval/jcommonsenseqa/valid-v1.3.json", [
        {"q_id": 42, "question": JCQA_QUESTION, "choice0": "千葉市", "choice1": "松戸", "choice2": "幕張",
         "choice3": "木更津", "choice4": "房総半島", "label": 0}])
    return tmp_path / "eval"


def rec(index: int, instruction: str, output: str, input: str = "") -> dict:
    return {"id": f"fixture:{index}", "source": "fixture", "task": "open_qa", "instruction": instruction,
            "input": input, "output": output, "license": "CC0-1.0"}


def run(records: list[dict], eval_dir: Path | None, params: dict | None = None):
    return filter_records(pl.DataFrame(records), params or {}, TEXT_FIELDS, eval_dir, EVAL_SETS)


def test_records_sharing_a_long_span_with_an_eval_item_are_removed_and_named(eval_dir: Path):
    copied = rec(1, "次の文の状況を説明してください。",
                 "写真では、二人の男性がキッチンで料理をしながら楽しそうに話しています。")
    # Full-width forms, spaces and punctuation do not hide a collision (the key is NFKC, letters and digits).
    disguised = rec(2, "次の質問に答えてください。", "答えは千葉市です。",
                    input="千葉県の 県庁所在地は ?\n選択肢: 千葉市、松戸")
    clean = rec(3, "日本で一番高い山は？", "富士山です。")
    result = run([copied, disguised, clean], eval_dir)
    details = dict(zip(result.rejected["id"], result.rejected["detail"]))
    assert set(result.rejected["reason"]) == {"contaminated"}
    assert details == {"fixture:1": "output: shares a 20-char span with jnli:7",
                       "fixture:2": "input: shares a 20-char span with jcommonsenseqa:42"}
    assert result.kept["id"].to_list() == ["fixture:3"]
    stats = result.extra_stats["decontamination"]
    assert stats["eval_items"] == {"jcommonsenseqa": 1, "jnli": 2}
    assert stats["collided_items"] == {"jcommonsenseqa": 1, "jnli": 1}
    assert stats["collided_item_ids"] == ["jcommonsenseqa:42", "jnli:7"]


def test_short_choices_are_not_registered_and_short_spans_do_not_collide(eval_dir: Path):
    # 「千葉市」 is an answer choice, and "男性が料理" is shorter than the n-gram: both are everyday text.
    result = run([rec(1, "千葉市について教えてください。",
                      "千葉市は千葉県の県庁所在地で、男性が料理をする教室も多い。")], eval_dir)
    assert result.rejected.height == 0


def test_ngram_size_comes_from_params(eval_dir: Path):
    record = rec(1, "説明してください。",
                 "男性がキッチンで料理をしながら話す。")  # shares 「キッチンで料理をしながら」 (12 chars)
    assert run([record], eval_dir).rejected.height == 0
    assert run([record], eval_dir, {"decontamination": {"ngram": 12}}).rejected.height == 1


def test_user_listed_eval_files(tmp_path: Path):
    extra = tmp_path / "my_eval.jsonl"
    write_jsonl(extra, [{"qid": "a1",
                         "prompt": "社内規定によれば、有給休暇の申請は取得日の三日前までに行う必要がある。"}])
    params = {"decontamination": {"extra_files": [{"path": str(extra), "text_fields": ["prompt"], "id_field": "qid"}]}}
    leaked = rec(1, "有給休暇の申請期限は？",
                 "社内規定によれば、有給休暇の申請は取得日の三日前までに行う必要があります。")
    result = run([leaked, rec(2, "日本で一番高い山は？", "富士山です。")], None, params)
    assert result.rejected.select("id", "detail").rows() == [
        ("fixture:1", "output: shares a 20-char span with my_eval:a1")]


def test_eval_index_api_for_the_evaluate_stage(eval_dir: Path):
    index = EvalIndex.build(eval_dir, EVAL_SETS, ngram=20)
    matches = index.matching_items(["関係ない文です。", JNLI_SENTENCE + "そして" + JCQA_QUESTION, None])
    assert matches == [set(), {"jnli:7", "jcommonsenseqa:42"}, set()]
    assert index.contaminated_items([JNLI_SENTENCE]) == {"jnli:7"}
    assert index.items == {"jnli:7": "jnli", "jnli:8": "jnli", "jcommonsenseqa:42": "jcommonsenseqa"}
    # Without eval_sets every sub-folder is a set named after its task.
    assert EvalIndex.build(eval_dir, None, ngram=20).items == index.items


def test_missing_eval_folder_or_unknown_task_is_a_clear_error(tmp_path: Path, eval_dir: Path):
    with pytest.raises(InputError, match="no eval folder"):
        EvalIndex.build(tmp_path / "nowhere", EVAL_SETS, ngram=20)
    with pytest.raises(InputError, match="no decontamination fields known for task 'mystery'"):
        EvalIndex.build(eval_dir, {"jnli": {"task": "mystery"}}, ngram=20)


@pytest.mark.skipif(not JGLUE.is_dir(), reason=f"offline mirror not found at {MIRROR}")
def test_real_jglue_valid_sets_are_indexed(tmp_path: Path):
    for name in ("jnli", "jcommonsenseqa"):
        target = tmp_path / "eval" / name / "valid-v1.3.json"
        target.parent.mkdir(parents=True)
        target.write_bytes((JGLUE / f"{name}-v1.3" / "valid-v1.3.json").read_bytes())
    index = EvalIndex.build(tmp_path / "eval", EVAL_SETS, ngram=20)
    first_jcqa = json.loads((JGLUE / "jcommonsenseqa-v1.3/valid-v1.3.json").read_text(encoding="utf-8").splitlines()[0])
    first_jnli = json.loads((JGLUE / "jnli-v1.3/valid-v1.3.json").read_text(encoding="utf-8").splitlines()[0])
    # 1,119 questions, of which those under min_item_chars (10) letters are not registered.
    assert 800 < sum(1 for set_name in index.items.values() if set_name == "jcommonsenseqa") < 1119
    hits = index.matching_items([first_jcqa["question"], first_jnli["sentence1"], "今日は良い天気ですね。"])
    assert f"jcommonsenseqa:{first_jcqa['q_id']}" in hits[0]
    assert f"jnli:{first_jnli['sentence_pair_id']}" in hits[1]
    assert hits[2] == set()


# ------------------------------------------------------------------ the filter alone on schema records (check_filter)

LEAKED = "社内規定によれば、有給休暇の申請は取得日の三日前までに行う必要がある。"
SHORT_ITEM = "電車に乗る場所はどこですか"  # 13 letters: under the 20-gram, at least min_item_chars (10)
LATIN_ITEM = "Python3で1から10まで数える"


@pytest.fixture
def decontamination(tmp_path: Path) -> DecontaminationFilter:
    extra = tmp_path / "my_eval.jsonl"
    write_jsonl(extra, [{"qid": "a1", "prompt": LEAKED}, {"qid": "a2", "prompt": SHORT_ITEM},
                        {"qid": "a3", "prompt": "ペン"}, {"qid": "a4", "prompt": LATIN_ITEM}])
    files = [{"path": str(extra), "text_fields": ["prompt"], "id_field": "qid"}]
    return DecontaminationFilter(EvalIndex.build(None, None, ngram=20, extra_files=files, min_item_chars=10))


def test_a_shared_20_character_span_in_any_field(decontamination):
    span = LEAKED[9:29]
    assert span == "有給休暇の申請は取得日の三日前までに行う"  # 20 characters
    assert check_filter(decontamination, doc(input=f"資料によると、{span}ことになっている。"),
                        "contaminated") == "input: shares a 20-char span with my_eval:a1"
    check_filter(decontamination, doc(output=f"資料によると、{span[:-1]}ことになっている。"), None)  # 19 shared


def test_width_case_and_punctuation_do_not_hide_a_collision(decontamination):
    # LATIN_ITEM is short (18 letters and digits), so it collides only when contained whole.
    check_filter(decontamination, doc(instruction="ｐｙｔｈｏｎ３で、１から１０まで 数える方法を教えて。"),
                 "contaminated")
    check_filter(decontamination, doc(output="電車に乗る場所は、どこですか？"), "contaminated")


def test_items_under_min_item_chars_are_not_registered(decontamination):
    check_filter(decontamination, doc(output="ペンを貸してください。"), None)
    check_filter(decontamination, doc(output="電車に乗る場所は駅です。"), None)  # part of a short item only
