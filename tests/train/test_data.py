"""Prompt formatting, label masks, truncation, packing and the dataset-hash guard."""

from __future__ import annotations

import polars as pl
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from jinstruct.records import InputError, read_records, write_parquet
from jinstruct.train.data import (
    IGNORE_INDEX,
    TokenizedSet,
    format_prompts,
    load_template,
    load_verified_splits,
    pack_rows,
    packed_batches,
    select_records,
    tokenize_records,
)
from jinstruct.train.tiny import train_tokenizer
from tests.support.train import instruction_records, pretraining_text, write_processed


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(pretraining_text(800), vocab_size=500, limit_alphabet=300)


@pytest.fixture(scope="module")
def template():
    return load_template("alpaca_ja")


def test_prompts_use_the_input_form_only_when_there_is_an_input(template):
    df = pl.DataFrame({"instruction": ["訳して{input}", "挨拶して"], "input": ["Hello {x}", ""], "output": ["a", "b"]})
    with_input, without_input = format_prompts(df, template).to_list()
    assert with_input == ("以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。"
                          "要求を適切に満たす応答を書きなさい。"
                          "\n\n### 指示:\n訳して{input}\n\n### 入力:\nHello {x}\n\n### 応答:\n")
    assert without_input == ("以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。"
                             "\n\n### 指示:\n挨拶して\n\n### 応答:\n")


def test_a_template_without_its_placeholders_is_refused(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("prompt_input: 'no fields'\nprompt_no_input: '{instruction}'\n", encoding="utf-8")
    with pytest.raises(InputError, match="prompt_input needs"):
        load_template(str(broken))


def test_answer_only_masks_exactly_the_prompt(tokenizer, template):
    df = instruction_records(8).head(3)
    full = tokenize_records(df, tokenizer, template, max_length=512, train_on_inputs=True)
    answer_only = tokenize_records(df, tokenizer, template, max_length=512, train_on_inputs=False)
    for index, row in enumerate(df.iter_rows(named=True)):
        prompt_len = len(tokenizer(format_prompts(df[index], template)[0])["input_ids"])
        joint = tokenizer(format_prompts(df[index], template)[0] + row["output"])["input_ids"]
        answer = joint[prompt_len:] + [tokenizer.eos_token_id]
        assert full.labels[index] == full.input_ids[index]
        assert answer_only.labels[index][:prompt_len] == [IGNORE_INDEX] * prompt_len
        assert answer_only.labels[index][prompt_len:] == answer
        assert full.input_ids[index][0] == tokenizer.bos_token_id
        assert full.input_ids[index][-1] == tokenizer.eos_token_id


def test_answer_labels_come_from_the_joint_encoding_not_the_answer_alone(template):
    """Regression: with a metaspace tokenizer an answer encoded on its own starts with ``▁``; after the
    prompt it does not, and the labels must be the tokens the model actually sees."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    df = instruction_records(40)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()  # SentencePiece's dummy prefix: "▁" before the text
    bpe.train_from_iterator(df["output"].to_list() + df["instruction"].to_list() + list(template.values()) * 5,
                            trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<unk>", "<s>", "</s>"]))
    metaspace = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                        unk_token="<unk>")
    records = df.filter(pl.col("input") == "").head(3)
    data = tokenize_records(records, metaspace, template, max_length=512, train_on_inputs=False)
    for index, row in enumerate(records.iter_rows(named=True)):
        prompt = format_prompts(records[index], template)[0]
        joint = metaspace(prompt + row["output"], return_offsets_mapping=True)
        answer = [t for t, (_, end) in zip(joint["input_ids"], joint["offset_mapping"], strict=True)
                  if end > len(prompt)]
        alone = metaspace(row["output"], add_special_tokens=False)["input_ids"]
        assert alone != answer  # the artifact the old labels carried
        targets = [t for t in data.labels[index] if t != IGNORE_INDEX]
        assert targets == answer + [metaspace.eos_token_id]
        assert data.input_ids[index] == joint["input_ids"] + [metaspace.eos_token_id]


def test_truncation_is_counted_and_applied(tokenizer, template):
    df = instruction_records(40)
    lengths = [len(ids) for ids in tokenize_records(df, tokenizer, template, 10_000).input_ids]
    cut = sorted(lengths)[len(lengths) // 2]
    result = tokenize_records(df, tokenizer, template, max_length=cut)
    assert result.stats["records_truncated"] == sum(length > cut for length in lengths)
    assert result.stats["records"] == df.height and result.stats["length_max"] == max(lengths)
    assert max(len(ids) for ids in result.input_ids) == cut
    assert sum(result.stats["truncated_by_source"].values()) == result.stats["records_truncated"]


def test_sources_and_tasks_are_selected_by_glob():
    df = instruction_records(20)
    without_translation = select_records(df, exclude_tasks=["translation*"])
    # -S train.exclude_tasks=translation*
    assert select_records(df, exclude_tasks="translation*").equals(without_translation)
    assert set(without_translation["task"]) == {"repeat"}
    assert select_records(df, sources=["tan*"]).height == df.filter(pl.col("source") == "tanaka").height
    assert select_records(df).height == df.height


def test_first_fit_decreasing_packing_fills_bins_without_splitting_rows():
    lengths = [7, 3, 5, 2, 9, 1, 4, 6, 8, 2]
    bins = pack_rows(lengths, capacity=10)
    assert sorted(index for members in bins for index in members) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in members) <= 10 for members in bins)
    assert len(bins) == 5  # 47 tokens need at least 5 bins of 10; FFD reaches that bound here


def test_packed_documents_do_not_see_each_other():
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=2)).eval()
    first, second = [1, 5, 9, 12, 3], [1, 7, 7, 30, 2, 4]
    data = TokenizedSet([first, second], [first, second], {})
    (batch,) = packed_batches(data, batch_size=4, seed=0, pad_id=0, capacity=16)
    assert batch.input_ids.shape == (1, 11) and batch.real_tokens == 11
    with torch.no_grad():
        packed = model(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False).logits[0]
        alone = {len(doc): model(input_ids=torch.tensor([doc])).logits[0] for doc in (first, second)}
    # first-fit-decreasing puts the longer document first
    torch.testing.assert_close(packed[:6], alone[6])
    torch.testing.assert_close(packed[6:], alone[5])


def test_split_files_that_do_not_match_the_manifest_hash_are_refused(tmp_path):
    digest = write_processed(tmp_path, instruction_records(30))
    splits, verified = load_verified_splits(tmp_path)
    assert verified == digest and sum(frame.height for frame in splits.values()) == instruction_records(30).height
    edited = read_records(tmp_path / "train.parquet").with_columns(output=pl.col("output") + "。")
    write_parquet(edited, tmp_path / "train.parquet")
    with pytest.raises(InputError, match="does not match the split files"):
        load_verified_splits(tmp_path)


def test_a_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no manifest"):
        load_verified_splits(tmp_path)
