"""Evaluation: scoring, prompts, k-shot draws, tasks, the dataset-hash guard, the CLI.

Models here are real Llama modules built from a config: one with hand-set
output logits (its preferences are known by construction, so are its exact
log-likelihoods and accuracy), one randomly initialised (batched == unbatched),
and one whose LoRA adapter is trained for real to always answer 矛盾.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from jinstruct import cli
from jinstruct.evaluate import fewshot, jcommonsenseqa, jnli, marc_ja, perplexity
from jinstruct.evaluate.metrics import macro_f1, majority_baseline, verdict, wilson_interval
from jinstruct.evaluate.models import check_adapter_dataset
from jinstruct.evaluate.scoring import Request, score_one_at_a_time, score_requests
from jinstruct.evaluate.suite import evaluate_build, load_tasks
from jinstruct.evaluate.templates import load_choice_template
from jinstruct.params import settings_from
from jinstruct.records import InputError, dataset_hash, write_parquet
from tests.support import FIXTURES, MIRROR, REPO_ROOT, stage_argv

JGLUE = MIRROR / "raw.githubusercontent.com/yahoojapan/JGLUE/6f071c09316baae89c3d083a90985b4b1cb9968c/datasets"
JNLI_FILE = JGLUE / "jnli-v1.3" / "valid-v1.3.json"
JCQA_FILE = JGLUE / "jcommonsenseqa-v1.3" / "valid-v1.3.json"
MARC_FIXTURE = FIXTURES / "marc_ja_sample.json"


def raw_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The machine's 2 cores are shared; one thread avoids oversubscription (10x slower here).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    texts = [row[key] for row in raw_rows(JNLI_FILE) for key in ("sentence1", "sentence2")]
    texts += [row[f"choice{i}"] for row in raw_rows(JCQA_FILE) for i in range(5)] + [
        row["question"] for row in raw_rows(JCQA_FILE)]
    texts += [row["sentence"] for row in raw_rows(MARC_FIXTURE)]
    for name in ("jnli", "jcommonsenseqa", "marc_ja"):
        template = load_choice_template(name)
        texts += [template.header, template.item, *template.choices.values()] * 20
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=2000,
                                                       special_tokens=["<pad>", "<unk>", "<s>", "</s>"]))
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")


def tiny_llama(tokenizer, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    return LlamaForCausalLM(config).eval()


def constant_logits_model(tokenizer, bias: dict[int, float]) -> LlamaForCausalLM:
    """A Llama whose output layer ignores the hidden state: logits = ``bias`` at every position."""
    model = tiny_llama(tokenizer)
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        for token, value in bias.items():
            head.bias[token] = value
    model.lm_head = head
    return model


def tokens_after(tokenizer, context: str, text: str) -> list[int]:
    """The tokens ``text`` has right after ``context``: joint-encoding tokens whose characters reach into it."""
    joint = tokenizer(context + text, add_special_tokens=True, return_offsets_mapping=True)
    return [token for token, (_, end) in zip(joint["input_ids"], joint["offset_mapping"], strict=True)
            if end > len(context)]


def expected_logprob(tokenizer, bias: dict[int, float], context: str, text: str) -> float:
    vocab = len(tokenizer)
    log_normaliser = math.log((vocab - len(bias)) + sum(math.exp(v) for v in bias.values()))
    return sum(bias.get(token, 0.0) - log_normaliser for token in tokens_after(tokenizer, context, text))


def own_token(tokenizer, text: str, *others: str) -> int:
    """A token ``text`` has after a prompt that none of ``others`` has: biasing it favours ``text`` alone."""
    ids = lambda t: tokens_after(tokenizer, "### 応答:\n", t)  # noqa: E731
    shared = {token for other in others for token in ids(other)}
    return next(token for token in ids(text) if token not in shared)


# --------------------------------------------------------------------------- scoring


def test_hand_set_logits_give_the_exact_log_likelihoods(tokenizer):
    bias = {own_token(tokenizer, "中立", "含意"): 4.0, own_token(tokenizer, "含意", "中立"): -1.5}
    model = constant_logits_model(tokenizer, bias)
    requests = [Request("前提：犬が走る。\n関係：", ("含意", "矛盾", "中立")),
                Request("質問：", ("マザーボードとハードディスク",))]
    for share_prefix in (True, False):
        scores = score_requests(model, tokenizer, requests, batch_size=2, share_prefix=share_prefix)
        for request, row in zip(requests, scores, strict=True):
            for text, score in zip(request.continuations, row, strict=True):
                assert score.logprob == pytest.approx(expected_logprob(tokenizer, bias, request.context, text),
                                                      abs=1e-4)
                assert score.tokens == len(tokens_after(tokenizer, request.context, text))
                assert (score.chars, score.bytes) == (len(text), len(text.encode("utf-8")))


def test_continuations_are_scored_as_tokens_of_the_joint_encoding(tokenizer):
    """Regression: a metaspace tokenizer gives a continuation encoded on its own a leading ``▁`` piece
    that it never has after its prompt; scoring must use the joint encoding's tokens."""
    space = tokenizer.convert_tokens_to_ids("▁")
    context, answer = "前提：犬が走る。\n関係：", "含意"
    alone = tokenizer(answer, add_special_tokens=False)["input_ids"]
    joint = tokens_after(tokenizer, context, answer)
    assert alone != joint and space not in joint  # the fixture tokenizer shows the artifact
    assert tokenizer.convert_ids_to_tokens(alone)[0].startswith("▁")
    bias = {space: 9.0, alone[0]: 6.0}  # a model that loves the artifact tokens
    model = constant_logits_model(tokenizer, bias)
    log_normaliser = math.log(len(tokenizer) - len(bias) + sum(math.exp(v) for v in bias.values()))
    want = sum(bias.get(token, 0.0) - log_normaliser for token in joint)
    old_way = sum(bias.get(token, 0.0) - log_normaliser for token in alone)
    assert abs(want - old_way) > 1.0
    for share_prefix in (True, False):
        [[score]] = score_requests(model, tokenizer, [Request(context, (answer,))], share_prefix=share_prefix)
        assert score.logprob == pytest.approx(want, abs=1e-4)
        assert score.tokens == len(joint)
    [[score]] = score_one_at_a_time(model, tokenizer, [Request(context, (answer,))])
    assert score.logprob == pytest.approx(want, abs=1e-4)


def test_a_model_that_always_answers_neutral_scores_the_neutral_share(tokenizer):
    model = constant_logits_model(tokenizer, {own_token(tokenizer, "中立", "含意", "矛盾"): 5.0})
    task = jnli.load(JNLI_FILE, {"k_shot": 2, "pool_per_label": 5, "seed": 7, "limit": 120})
    metrics = task.metrics(score_requests(model, tokenizer, task.requests(), batch_size=16))
    gold = {row["sentence_pair_id"]: row["label"] for row in raw_rows(JNLI_FILE)}
    labels = [gold[item.id] for item in task.items]
    neutral = labels.count("neutral")
    assert len(labels) == 120
    assert metrics["acc"] == pytest.approx(neutral / 120)
    assert metrics["acc_norm"] == metrics["acc"]  # the three labels have two characters each
    # Only "neutral" is ever predicted: F1 is 2*TP/(predicted+actual) for it and 0 for the others.
    assert metrics["macro_f1"] == pytest.approx((2 * neutral / (120 + neutral)) / 3)
    assert metrics["confusion"]["contradiction"] == {"entailment": 0, "contradiction": 0,
                                                     "neutral": labels.count("contradiction")}


def test_batched_scores_equal_one_at_a_time(tokenizer):
    model = tiny_llama(tokenizer, seed=3)
    jcqa = jcommonsenseqa.load(JCQA_FILE, {"k_shot": 3, "pool_per_label": 2, "seed": 1, "limit": 9})
    nli = jnli.load(JNLI_FILE, {"k_shot": 1, "pool_per_label": 2, "seed": 1, "limit": 9})
    long_answer = Request("以下は質問です。", ("とても長い答え。" * 40,))  # cut by the 96-token window below
    mixed = jcqa.requests() + nli.requests() + [long_answer]
    same_header = nli.requests()  # all share the template header: it runs once for the whole set
    for requests in (mixed, same_header):
        reference = score_one_at_a_time(model, tokenizer, requests, max_length=96)
        for share_prefix in (True, False):
            batched = score_requests(model, tokenizer, requests, batch_size=7, max_length=96,
                                     share_prefix=share_prefix)
            for want_row, got_row in zip(reference, batched, strict=True):
                assert [s.tokens for s in got_row] == [s.tokens for s in want_row]
                for want, got in zip(want_row, got_row, strict=True):
                    assert got.logprob == pytest.approx(want.logprob, abs=1e-4)
    long_tokens = len(tokenizer(long_answer.continuations[0], add_special_tokens=False)["input_ids"])
    assert score_one_at_a_time(model, tokenizer, [long_answer], max_length=96)[0][0].tokens < long_tokens


# --------------------------------------------------------------------------- prompts and k-shot


def test_jnli_prompt_layout():
    task = jnli.load(JNLI_FILE, {"k_shot": 0, "limit": 1})
    first = raw_rows(JNLI_FILE)[0]
    request = task.requests()[0]
    assert request.continuations == ("含意", "矛盾", "中立")
    assert request.context.endswith(f"### 入力:\n前提：{first['sentence1']}\n仮説：{first['sentence2']}\n\n### 応答:\n")
    assert request.context.startswith("以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。")
    assert request.context.count("### 入力:") == 1
    assert task.items[0].label == first["label"]


def test_shots_appear_with_their_answers_before_the_item():
    task = jnli.load(JNLI_FILE, {"k_shot": 2, "pool_per_label": 3, "seed": 5, "limit": 1})
    shots = fewshot.draw_shots(task.items[0], task.pool, 2, 5)
    context = task.requests()[0].context
    words = {"entailment": "含意", "contradiction": "矛盾", "neutral": "中立"}
    expected_shots = "".join(f"### 入力:\n前提：{shot.fields['sentence1']}\n仮説：{shot.fields['sentence2']}\n\n"
                             f"### 応答:\n{words[shot.label]}\n\n" for shot in shots)
    assert expected_shots in context
    assert context.index(expected_shots) < context.rindex("### 入力:")
    assert context.count("### 入力:") == 3


def test_k_shot_draws_are_deterministic_stratified_and_disjoint_from_scored_items():
    params = {"k_shot": 3, "pool_per_label": 4, "seed": 11}
    small = jnli.load(JNLI_FILE, {**params, "limit": 50})
    large = jnli.load(JNLI_FILE, {**params, "limit": 300})
    pool_ids = {item.id for item in large.pool}
    assert len(pool_ids) == 12 and Counter(item.label for item in large.pool) == {
        "entailment": 4, "contradiction": 4, "neutral": 4}
    assert pool_ids.isdisjoint(item.id for item in large.items)
    assert len(large.items) == 300
    for item in small.items:  # the same item gets the same shots whatever else is scored
        assert small.prompt(item) == large.prompt(item)
    for item in large.items:
        shots = fewshot.draw_shots(item, large.pool, 3, 11)
        assert {shot.label for shot in shots} == {"entailment", "contradiction", "neutral"}
        assert {shot.id for shot in shots} <= pool_ids
    other_seed = jnli.load(JNLI_FILE, {**params, "seed": 12, "limit": 50})
    assert {item.id for item in other_seed.pool} != pool_ids


def test_jcommonsenseqa_items_score_the_five_choice_texts():
    task = jcommonsenseqa.load(JCQA_FILE, {"k_shot": 0, "limit": 3})
    first = raw_rows(JCQA_FILE)[0]
    request = task.requests()[0]
    assert request.continuations == tuple(first[f"choice{i}"] for i in range(5))
    assert task.items[0].gold == first["label"]
    assert f"質問：{first['question']}\n選択肢：{'、'.join(request.continuations)}\n\n### 応答:\n" in request.context


# --------------------------------------------------------------------------- MARC-ja


def test_marc_ja_fixture_scores_in_the_jglue_format(tokenizer):
    task = marc_ja.load(MARC_FIXTURE, {"k_shot": 1, "pool_per_label": 1, "seed": 3})
    rows = raw_rows(MARC_FIXTURE)
    assert len(task.pool) == 2 and len(task.items) == len(rows) - 2
    assert task.requests()[0].continuations == ("ポジティブ", "ネガティブ")
    model = constant_logits_model(tokenizer, {own_token(tokenizer, "ネガティブ", "ポジティブ"): 6.0})
    metrics = task.metrics(score_requests(model, tokenizer, task.requests(), batch_size=4))
    negatives = sum(item.label == "negative" for item in task.items)
    assert metrics["acc"] == pytest.approx(negatives / len(task.items))
    assert task.summary()["majority_baseline"]["acc"] == pytest.approx(
        max(negatives, len(task.items) - negatives) / len(task.items))


def test_marc_ja_bad_label_names_file_and_line(tmp_path):
    bad = tmp_path / "marc.json"
    bad.write_text('{"review_id": "a", "sentence": "良い", "label": "positive"}\n'
                   '{"review_id": "b", "sentence": "悪い", "label": "bad"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"marc.json:2: label 'bad'"):
        marc_ja.load(bad, {"k_shot": 0})
    with pytest.raises(InputError, match="eval.marc_ja|marc_ja: no data file"):
        marc_ja.load(None, {})


# --------------------------------------------------------------------------- metrics


def test_macro_f1_and_majority_baseline_on_hand_counts():
    confusion = {"a": {"a": 3, "b": 1}, "b": {"a": 2, "b": 4}}
    # F1(a) = 2*3/(5+4) = 2/3, F1(b) = 2*4/(5+6) = 8/11
    assert macro_f1(confusion) == pytest.approx((2 / 3 + 8 / 11) / 2)
    items = [fewshot.Item(str(i), {}, ("x", "y"), 0, label) for i, label in enumerate("aabbb")]
    assert majority_baseline(items) == {"label": "b", "acc": 0.6}


def test_wilson_interval_matches_published_values():
    # Newcombe (1998), Statistics in Medicine 17:857, Table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605.
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert wilson_interval(15, 148) == pytest.approx((0.0624, 0.1605), abs=5e-5)
    assert wilson_interval(0, 10)[0] == 0.0


def test_an_accuracy_whose_interval_covers_the_majority_share_is_no_signal(tokenizer):
    model = constant_logits_model(tokenizer, {own_token(tokenizer, "中立", "含意", "矛盾"): 5.0})
    task = jnli.load(JNLI_FILE, {"k_shot": 0, "limit": 60})
    metrics = task.metrics(score_requests(model, tokenizer, task.requests(), batch_size=16))
    assert metrics["verdict"].startswith("no signal")
    summary = task.summary()
    assert summary["chance_baseline"] == pytest.approx(1 / 3)
    assert metrics["acc"] == summary["majority_baseline"]["acc"]  # always "neutral" = the majority label here
    assert metrics["acc_ci95"]["low"] < metrics["acc"] < metrics["acc_ci95"]["high"]
    assert verdict({"low": 0.6, "high": 0.7}, 0.557) == "above the majority baseline"


def test_a_prompt_too_long_for_the_window_drops_shots_and_keeps_header_and_item(tokenizer):
    task = jnli.load(JNLI_FILE, {"k_shot": 3, "pool_per_label": 5, "seed": 7, "limit": 4})
    request = task.requests()[0]
    assert len(request.shorter_contexts) == 3 and request.shorter_contexts[-1] == task.template.prompt(
        task.items[0].fields, [])
    lengths = [len(tokenizer(c)["input_ids"]) for c in (request.context, *request.shorter_contexts)]
    window = lengths[2] + 4  # room for one shot and the answer, not for three
    model = constant_logits_model(tokenizer, {})
    [row] = score_requests(model, tokenizer, [request], max_length=window)
    assert row[0].shots_dropped == 2 and row[0].context_cut == 0
    header_and_item = tokenizer(request.shorter_contexts[1])["input_ids"]
    [[cut]] = score_requests(model, tokenizer, [Request(request.shorter_contexts[-1], ("含意",))],
                             max_length=lengths[3] - 5)
    assert cut.context_cut > 0 and len(header_and_item) == lengths[2]


def test_eval_limit_per_task_limits_each_task_and_leaves_unnamed_tasks_whole(tmp_path):
    records = pl.DataFrame({
        "id": [f"t:{i}" for i in range(5)], "source": ["s"] * 5, "task": ["qa"] * 5,
        "instruction": ["日本の首都は？"] * 5, "input": [""] * 5, "output": ["東京です。"] * 5, "license": ["x"] * 5,
    })
    write_parquet(records, tmp_path / "test.parquet")
    params = settings_from("eval", {
        "tasks": ["jnli", "jcommonsenseqa", "perplexity"], "k_shot": 0, "limit": {"jnli": 7, "perplexity": 2},
        "files": {"jnli": str(JNLI_FILE), "jcommonsenseqa": str(JCQA_FILE),
                  "perplexity": str(tmp_path / "test.parquet")},
    }).as_params()
    nli, jcqa, answers = load_tasks(params)
    assert nli.summary()["n"] == 7
    assert answers.summary()["n"] == 2
    # not named: every item but the k-shot pool (pool_per_label of each of the five labels, held out at any k)
    assert jcqa.summary()["n"] == len(raw_rows(JCQA_FILE)) - 5 * params["pool_per_label"]
    assert [t.summary()["n"] for t in load_tasks({**params, "limit": 3})] == [3, 3, 3]
    with pytest.raises(InputError, match="eval.limit: unknown task jnlii"):
        load_tasks({**params, "limit": {"jnlii": 5}})


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size(tokenizer, tmp_path):
    records = pl.DataFrame({
        "id": ["t:1", "t:2", "t:3"], "source": ["s"] * 3, "task": ["qa", "qa", "translation"],
        "instruction": ["日本の首都は？", "犬とは何ですか。", "英語に訳してください。"],
        "input": ["", "", "猫が好きです。"], "output": ["東京です。", "動物です。", "I like cats."],
        "license": ["x"] * 3,
    })
    write_parquet(records, tmp_path / "test.parquet")
    task = perplexity.load(tmp_path / "test.parquet", {})
    assert task.requests()[2].context.endswith("### 指示:\n英語に訳してください。\n\n"
                                               "### 入力:\n猫が好きです。\n\n### 応答:\n")
    assert "### 入力" not in task.requests()[0].context
    metrics = task.metrics(score_requests(constant_logits_model(tokenizer, {}), tokenizer, task.requests()))
    assert metrics["overall"] == pytest.approx(len(tokenizer), rel=1e-4)
    assert set(metrics["by_task"]) == {"qa", "translation"}
    assert metrics["by_task"]["qa"] == pytest.approx(len(tokenizer), rel=1e-4)
    # Bits per character: every scored token costs log2(vocab) bits, spread over the answers' characters.
    scored_tokens = [len(tokens_after(tokenizer, r.context, r.continuations[0])) for r in task.requests()]
    outputs = records["output"].to_list()
    bits = sum(scored_tokens) * math.log2(len(tokenizer))
    assert metrics["bits_per_char"] == pytest.approx(bits / sum(map(len, outputs)), rel=1e-4)
    assert metrics["bits_per_byte"] == pytest.approx(bits / sum(len(o.encode()) for o in outputs), rel=1e-4)
    assert metrics["bits_per_char_by_task"]["translation"] == pytest.approx(
        scored_tokens[2] * math.log2(len(tokenizer)) / len("I like cats."), rel=1e-4)
    # The stage passes the training template (a file without an id): it is used and named by stem + sha256.
    training = tmp_path / "alpaca_ja.yaml"
    training.write_text('prompt_input: "指示：{instruction}\\n入力：{input}\\n応答："\n'
                        'prompt_no_input: "指示：{instruction}\\n応答："\n', encoding="utf-8")
    trained_format = perplexity.load(tmp_path / "test.parquet", {"prompt_template": str(training)})
    assert trained_format.requests()[0].context == "指示：日本の首都は？\n応答："
    assert trained_format.summary()["template"] == f"alpaca_ja@{hashlib.sha256(training.read_bytes()).hexdigest()[:12]}"


# --------------------------------------------------------------------------- models on disk, CLI


def lora_trained_to_answer(word: str, base, tokenizer, adapter_dir: Path) -> None:
    """A real LoRA fine-tune: JNLI prompts (k=0), the answer is always ``word``, loss on the answer only."""
    from peft import LoraConfig, get_peft_model

    prompts = [r.context for r in jnli.load(JNLI_FILE, {"k_shot": 0, "limit": 64}).requests()]
    answer = tokens_after(tokenizer, prompts[0], word)  # the prompts all end the same way
    tuned = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj",
                                                                                "down_proj"]))
    optimiser = torch.optim.AdamW([p for p in tuned.parameters() if p.requires_grad], lr=3e-2)
    tuned.train()
    for step in range(30):
        rows = [tokenizer(p + word)["input_ids"] for p in prompts[(step * 8) % 64:(step * 8) % 64 + 8]]
        width = max(map(len, rows))
        ids = torch.tensor([row + [tokenizer.pad_token_id] * (width - len(row)) for row in rows])
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
        labels = torch.full_like(ids, -100)
        for i, row in enumerate(rows):
            labels[i, len(row) - len(answer):len(row)] = torch.tensor(answer)
        tuned(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    tuned.save_pretrained(adapter_dir)


@pytest.fixture(scope="module")
def model_dirs(tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    base_dir, adapter_dir = root / "base", root / "adapter"
    base = tiny_llama(tokenizer, seed=0)
    base.save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    (base_dir / "identity.json").write_text(json.dumps({"name": "tiny-test-llama"}), encoding="utf-8")
    # A random base answers one label for every input; teach the adapter the label the base answers least.
    task = jnli.load(JNLI_FILE, {"k_shot": 0, "limit": 40})
    base_predictions = task.metrics(score_requests(base, tokenizer, task.requests()))["confusion"]
    target = min(task.template.choices, key=lambda label: (sum(row[label] for row in base_predictions.values()), label))
    lora_trained_to_answer(task.template.choices[target], base, tokenizer, adapter_dir)
    (adapter_dir / "training_info.json").write_text(json.dumps({"dataset_hash": "a" * 64}), encoding="utf-8")
    return base_dir, adapter_dir, target


def test_adapter_trained_on_another_dataset_is_refused(tmp_path, model_dirs):
    _, adapter_dir, _ = model_dirs
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"dataset_hash": "b" * 64, "splits": {}}), encoding="utf-8")
    with pytest.raises(InputError, match=r"training_info.json: the adapter was trained on dataset aaaaaaaaaaaa"):
        check_adapter_dataset(adapter_dir, manifest)
    manifest.write_text(json.dumps({"dataset_hash": "a" * 64, "splits": {}}), encoding="utf-8")
    assert check_adapter_dataset(adapter_dir, manifest) == "a" * 64


def test_cli_scores_base_and_tuned_in_one_run(model_dirs, tmp_path, capsys):
    base_dir, adapter_dir, target = model_dirs
    out = tmp_path / "scores.json"
    code = cli.main(["eval", "--model", str(base_dir), "--adapter", str(adapter_dir), "--task", "jnli",
                     "--k", "0", "--limit", "40", "--batch-size", "12", "--output", str(out),
                     "--data", f"jnli={JNLI_FILE}"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "jnli" in printed
    scores = json.loads(out.read_text(encoding="utf-8"))
    entry = scores["jnli"]
    gold = [row["label"] for row in raw_rows(JNLI_FILE)[:40]]
    # The adapter was trained to answer `target` whatever the input; the base never answers it.
    predicted = lambda variant: Counter({p: n for row in entry[variant]["confusion"].values()  # noqa: E731
                                         for p, n in row.items() if n})
    assert set(predicted("tuned")) == {target}
    assert target not in predicted("base")
    assert entry["tuned"]["acc"] == pytest.approx(gold.count(target) / 40)
    assert entry["delta"]["acc"] == pytest.approx(entry["tuned"]["acc"] - entry["base"]["acc"])
    assert (entry["n"], entry["k"]) == (40, 0)
    weights = (adapter_dir / "adapter_model.safetensors").read_bytes()
    assert scores["adapter_sha256"] == hashlib.sha256(weights).hexdigest()
    assert scores["base_identity"] == {"name": "tiny-test-llama"}
    for variant in ("base", "tuned"):  # the verdict is said in words, next to the interval
        interval = entry[variant]["acc_ci95"]
        assert f"{variant}: acc {entry[variant]['acc']:.4f}, 95% interval {interval['low']:.4f}" in printed
        assert entry[variant]["verdict"] in printed


def test_cli_reports_a_missing_marc_ja_file_in_one_line(model_dirs, capsys):
    base_dir, _, _ = model_dirs
    assert cli.main(["eval", "--model", str(base_dir), "--task", "marc_ja"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jinstruct eval: error: marc_ja: no data file") and "\n" not in err


def test_cli_scores_a_user_marc_ja_file(model_dirs, capsys):
    base_dir, _, _ = model_dirs
    assert cli.main(["eval", "--model", str(base_dir), "--task", "marc_ja", "--data", f"marc_ja={MARC_FIXTURE}"]) == 0
    assert "marc_ja" in capsys.readouterr().out


# --------------------------------------------------------------------------- the DVC stage script


def test_stage_scores_base_and_tuned_and_counts_contamination(model_dirs, tmp_path):
    """stages/evaluate.py in a build folder: metrics, plots, hashes, and one planted contaminated item."""
    import shutil
    import subprocess

    import yaml

    base_dir, adapter_dir, _ = model_dirs
    project = tmp_path / "build"
    shutil.copytree(base_dir, project / "models" / "base")
    shutil.copytree(adapter_dir, project / "models" / "adapter")
    for name, source, lines in (("jnli", JNLI_FILE, 40), ("jcommonsenseqa", JCQA_FILE, 30)):
        (project / "data" / "eval" / name).mkdir(parents=True)
        head = source.read_text(encoding="utf-8").splitlines(keepends=True)[:lines]
        (project / "data" / "eval" / name / "valid-v1.3.json").write_text("".join(head), encoding="utf-8")
    planted = raw_rows(JNLI_FILE)[3]
    records = lambda split, outputs: pl.DataFrame({  # noqa: E731
        "id": [f"{split}:{i}" for i in range(len(outputs))], "source": ["s"] * len(outputs),
        "task": ["qa"] * len(outputs), "instruction": ["次の文について説明してください。"] * len(outputs),
        "input": [""] * len(outputs), "output": outputs, "license": ["x"] * len(outputs)})
    splits = {"train": records("train", ["犬は動物です。", f"例えば{planted['sentence1']}ということです。"]),
              "test": records("test", ["猫も動物です。", "東京は日本の首都です。"])}
    processed = project / "data" / "processed"
    for name, frame in splits.items():
        write_parquet(frame, processed / f"{name}.parquet")
    manifest = {"dataset_hash": dataset_hash(splits), "splits": {
        name: {"file": f"{name}.parquet", "records": frame.height,
               "sha256": hashlib.sha256((processed / f"{name}.parquet").read_bytes()).hexdigest()}
        for name, frame in splits.items()}}
    (processed / "manifest.json").write_text(json.dumps(manifest))
    (project / "models" / "adapter" / "training_info.json").write_text(
        json.dumps({"dataset_hash": dataset_hash(splits)}))
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["eval"].update({"k_shot": 1, "pool_per_label": 2, "limit": 12, "batch_size": 16})
    (project / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")

    run = subprocess.run(stage_argv("evaluate"), cwd=project, capture_output=True,
                         text=True, timeout=300,
                         env={"PYTHONPATH": str(REPO_ROOT / "src"), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr
    metrics = json.loads((project / "metrics" / "eval.json").read_text(encoding="utf-8"))
    # JNLI pairs reuse captions: every copied item holding the planted sentence counts.
    holding = [row for row in raw_rows(JNLI_FILE)[:40] if planted["sentence1"] in (row["sentence1"], row["sentence2"])]
    assert len(holding) >= 1
    assert metrics["contamination"] == {"eval_items_in_train": len(holding)}
    assert metrics["dataset_hash"] == dataset_hash(splits)
    weights = (adapter_dir / "adapter_model.safetensors").read_bytes()
    assert metrics["adapter_sha256"] == hashlib.sha256(weights).hexdigest()
    assert metrics["base_identity"] == {"name": "tiny-test-llama"}
    for task in ("jnli", "jcommonsenseqa"):
        entry = metrics[task]
        assert (entry["n"], entry["k"]) == (12, 1)
        assert entry["delta"]["acc"] == pytest.approx(entry["tuned"]["acc"] - entry["base"]["acc"])
        data = project / "data" / "eval" / task / "valid-v1.3.json"
        assert metrics["eval_data_sha256"][task] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert metrics["templates"]["jnli"] == load_choice_template("jnli").id
    assert metrics["perplexity"]["n"] == 2 and metrics["perplexity"]["tuned"]["overall"] > 1
    bars = json.loads((project / "plots" / "eval.json").read_text(encoding="utf-8"))
    assert {(row["task"], row["model"]) for row in bars} == {
        (task, model) for task in ("jnli", "jcommonsenseqa") for model in ("base", "tuned", "majority class")}

    (project / "models" / "adapter" / "training_info.json").write_text(json.dumps({"dataset_hash": "c" * 64}))
    with pytest.raises(InputError, match="the adapter was trained on dataset cccccccccccc"):
        evaluate_build(project / "models" / "base", project / "models" / "adapter", processed,
                       project / "data" / "eval", params["eval"], params["eval_sets"], params["filter"])
