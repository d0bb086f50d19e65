"""LoRA tuning on a tiny real Llama: loss goes down, adapters reload, seeds repeat."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM

from jinstruct.records import InputError
from jinstruct.train.data import load_verified_splits
from jinstruct.train.lora import auto_target_modules, lora_model, run_lora, trainable_parameters
from tests.support import REPO_ROOT, stage_argv
from tests.support.train import instruction_records, logits, lora_params, save_tiny_base, write_processed

IDENTITY = {"kind": "tiny", "weights_sha256": "fixture"}


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    return save_tiny_base(tmp_path_factory.mktemp("base"), IDENTITY, pretraining_lines=1500)


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("processed")
    write_processed(folder, instruction_records(240))
    return load_verified_splits(folder)


@pytest.fixture(scope="module")
def tuned(base_dir, processed):
    splits, digest = processed
    losses = []
    run = run_lora(splits, digest, base_dir, IDENTITY, lora_params(),
                   on_step=lambda step, loss, lr: losses.append(loss))
    return run, losses


def test_training_lowers_the_validation_loss(tuned, processed):
    run, losses = tuned
    assert run.metrics["validation_loss"] < run.metrics["validation_loss_before"] - 0.05
    assert run.metrics["dataset_hash"] == processed[1] == run.info["dataset_hash"]
    assert run.metrics["steps"] == len(losses) == 12
    assert run.info["tokens_seen"] > 0 and run.info["base_identity"] == IDENTITY
    assert sum(run.info["train_records"].values()) == 12 * 8 == run.info["truncation"]["records"]  # max_steps x batch


def test_the_same_seed_gives_the_same_losses(tuned, base_dir, processed):
    splits, digest = processed
    _, first = tuned
    again = []
    run_lora(splits, digest, base_dir, IDENTITY, lora_params(), on_step=lambda step, loss, lr: again.append(loss))
    assert again == first
    other_seed = []
    run_lora(splits, digest, base_dir, IDENTITY, lora_params(seed=12, max_steps=3),
             on_step=lambda step, loss, lr: other_seed.append(loss))
    assert other_seed != first[:3]


def test_the_saved_adapter_reloads_with_the_same_logits(tuned, base_dir, tmp_path):
    run, _ = tuned
    run.model.save_pretrained(tmp_path)
    assert (tmp_path / "adapter_model.safetensors").is_file() and (tmp_path / "adapter_config.json").is_file()
    text = "以下は、タスクを説明する指示です。\n\n### 指示:\n猫について書いて\n\n### 応答:\n"
    expected = logits(run.model, run.tokenizer, text)
    base = AutoModelForCausalLM.from_pretrained(base_dir, use_safetensors=True)
    plain = logits(base, run.tokenizer, text)
    reloaded = PeftModel.from_pretrained(base, tmp_path)
    torch.testing.assert_close(logits(reloaded, run.tokenizer, text), expected)
    assert not torch.allclose(plain, expected)  # the adapter changes the model


def _llama(**kwargs):
    return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                        num_attention_heads=4, num_key_value_heads=2, **kwargs))


def test_rank_sets_the_number_of_trainable_parameters():
    hidden, kv_width, layers = 32, 2 * (32 // 4), 3
    for rank in (2, 8):
        model = lora_model(_llama(), {"rank": rank, "alpha": 16, "dropout": 0.0, "target_modules": "auto"}, seed=0)
        # per layer: q_proj (32 -> 32) and v_proj (32 -> 16), each A (r x in) + B (out x r)
        assert trainable_parameters(model) == layers * rank * ((hidden + hidden) + (hidden + kv_width))


def test_auto_target_modules_follow_the_architecture():
    assert auto_target_modules(LlamaConfig()) == ["q_proj", "v_proj"]
    assert auto_target_modules(GPTNeoXConfig()) == ["query_key_value"]
    neox = GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=4))
    wrapped = lora_model(neox, {"rank": 4, "alpha": 8, "dropout": 0.0, "target_modules": "auto"}, seed=0)
    adapted = {name.split(".")[-1] for name, module in wrapped.named_modules() if hasattr(module, "lora_A")}
    assert adapted == {"query_key_value"}
    llama = lora_model(_llama(), {"rank": 4, "alpha": 8, "dropout": 0.0, "target_modules": "auto"}, seed=0)
    assert {name.split(".")[-1] for name, module in llama.named_modules() if hasattr(module, "lora_A")} == {
        "q_proj", "v_proj"}


def test_an_unknown_architecture_asks_for_target_modules():
    class Config:
        model_type = "something_new"

    with pytest.raises(InputError, match="lora.target_modules"):
        auto_target_modules(Config())


def test_packing_and_answer_only_train_too(base_dir, processed):
    splits, digest = processed
    run = run_lora(splits, digest, base_dir, IDENTITY, lora_params(packing=True, train_on_inputs=False, max_steps=4))
    assert run.metrics["steps"] == 4 and run.metrics["tokens_seen"] > 0
    selected = run_lora(splits, digest, base_dir, IDENTITY, lora_params(exclude_tasks=["translation*"], max_steps=1))
    assert set(selected.info["train_records"]) == {"echo/repeat"}


def test_the_train_stage_writes_adapter_info_metrics_and_curves(base_dir, tmp_path):
    """stages/train.py end to end in a scratch project folder, as DVC runs it."""
    write_processed(tmp_path / "data" / "processed", instruction_records(60))
    (tmp_path / "models").mkdir()
    os.symlink(base_dir, tmp_path / "models" / "base")
    params = lora_params(max_steps=3)
    (tmp_path / "params.yaml").write_text(json.dumps(params), encoding="utf-8")  # JSON is YAML
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run(stage_argv("train"), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    info = json.loads((tmp_path / "models/adapter/training_info.json").read_text(encoding="utf-8"))
    metrics = json.loads((tmp_path / "metrics/train.json").read_text(encoding="utf-8"))
    assert info["dataset_hash"] == metrics["dataset_hash"]
    assert info["params"]["lora"]["rank"] == 8 and info["truncation"]["max_length"] == 96
    assert (tmp_path / "models/adapter/adapter_model.safetensors").is_file()
    curve = (tmp_path / "dvclive/train/plots/metrics/train/loss.tsv").read_text(encoding="utf-8").splitlines()
    assert curve[0].split("\t") == ["step", "loss"] and len(curve) == 1 + 3
    assert "timestamp" not in curve[0]

    # a hand-edited split file stops the stage with one line, before any training
    (tmp_path / "data/processed/validation.parquet").write_bytes(
        (tmp_path / "data/processed/test.parquet").read_bytes())
    refused = subprocess.run(stage_argv("train"), cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "does not match the split files" in refused.stderr
    assert "Traceback" not in refused.stderr
