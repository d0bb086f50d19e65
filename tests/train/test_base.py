"""The base stage: tiny model built offline, GGUF and local folders, and its guard rails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGUFWriter, TokenType
from transformers import AutoModelForCausalLM, AutoTokenizer

from jinstruct.records import InputError, file_sha256
from jinstruct.train.base import build_base, read_identity, resolve_base
from jinstruct.train.tiny import build_tiny_model, train_tokenizer
from tests.support import REPO_ROOT, TANAKA
from tests.support.train import TINY_PARAMS, pretraining_text

SENTENCE = "私は毎朝、駅まで歩いて行きます。iPhone 12 😀"


def tiny_model_params(tmp_path: Path) -> dict:
    corpus = [{"reader": "tanaka_ja", "path": str(TANAKA / "train.ja")}]
    return {"base": "tiny", "tiny": {**TINY_PARAMS, "corpus": corpus, "max_chars": 40_000}}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny") / "base"
    identity = build_base(tiny_model_params(folder), folder)
    return folder, identity


def test_the_tiny_tokenizer_never_needs_unk():
    tokenizer = train_tokenizer(pretraining_text(500), vocab_size=400, limit_alphabet=200)
    ids = tokenizer(SENTENCE, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert any(token.startswith("<0x") for token in tokenizer.convert_ids_to_tokens(ids))  # the emoji, as bytes
    assert tokenizer.decode(ids) == SENTENCE


def test_the_tiny_base_is_a_loadable_folder_with_its_identity(tiny_base):
    folder, identity = tiny_base
    on_disk = read_identity(folder)
    assert on_disk["kind"] == "tiny" and on_disk["architecture"] == "llama"
    assert on_disk["weights_sha256"] == file_sha256(folder / "model.safetensors")
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.num_parameters() == on_disk["parameters"]
    assert tokenizer.decode(tokenizer(SENTENCE)["input_ids"], skip_special_tokens=True) == SENTENCE
    assert identity["pretraining_tokens"] == TINY_PARAMS["steps"] * TINY_PARAMS["batch_size"] * TINY_PARAMS["seq_len"]


def test_the_tiny_base_is_deterministic_with_its_seed(tiny_base, tmp_path):
    folder, _ = tiny_base
    again = build_base(tiny_model_params(tmp_path), tmp_path / "again")
    assert again["weights_sha256"] == read_identity(folder)["weights_sha256"]
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == (folder / "tokenizer.json").read_bytes()


def test_a_local_folder_is_copied_with_the_sha256_of_its_weights(tiny_base, tmp_path):
    folder, _ = tiny_base
    identity = build_base({"base": str(folder)}, tmp_path / "copy")
    assert identity["kind"] == "local"
    assert identity["source_weights_sha256"] == file_sha256(folder / "model.safetensors")
    source, copy = (AutoModelForCausalLM.from_pretrained(path, use_safetensors=True)
                    for path in (folder, tmp_path / "copy"))
    ids = torch.tensor([[1, 40, 41, 42, 2]])
    with torch.no_grad():
        torch.testing.assert_close(copy(ids).logits, source(ids).logits)


@pytest.mark.parametrize("base, message", [
    ("some-org/some-model", "model.revision"),
    ("no/such/folder", "neither 'tiny'"),
    ("missing.gguf", "no such GGUF file"),
    ("pkg:jinstruct_no_such_package/model.gguf", "is not installed"),
    ("pkg:jinstruct/no_model_here.gguf", "no file"),
])
def test_model_base_that_names_nothing_is_a_clear_error(base, message):
    with pytest.raises(InputError, match=message):
        resolve_base({"base": base})


def test_an_unreachable_hub_is_a_one_line_error(tmp_path):
    """The real download code path, with the Hub switched off (as it is offline)."""
    code = ("from jinstruct.train.base import build_base\n"
            "build_base({'base': 'llm-jp/llm-jp-3-7.2b', 'revision': 'a' * 40}, __import__('pathlib').Path('out'))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, "-c",
                           f"from jinstruct.stage import stage_main\nstage_main('base', lambda: exec({code!r}))"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "model.base=llm-jp/llm-jp-3-7.2b" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_model_that_needs_remote_code_is_refused_unless_trusted(tmp_path):
    config = {"model_type": "jinstruct_custom_arch", "architectures": ["CustomForCausalLM"],
              "auto_map": {"AutoConfig": "configuration_custom.CustomConfig",
                           "AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"}}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(InputError, match="trust_remote_code: true"):
        build_base({"base": str(tmp_path)}, tmp_path / "out")


def test_pickled_weights_are_never_loaded(tiny_base, tmp_path):
    folder, _ = tiny_base
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # written here, never read back
    with pytest.raises(InputError, match="only safetensors"):
        build_base({"base": str(tmp_path)}, tmp_path / "out")


# --------------------------------------------------------------------------- GGUF


def _rope_interleave(weight: np.ndarray, heads: int) -> np.ndarray:
    """GGUF stores q/k rows with each head's two rotary halves interleaved (llama.cpp's layout)."""
    rows, cols = weight.shape
    return weight.reshape(heads, 2, rows // heads // 2, cols).swapaxes(1, 2).reshape(rows, cols)


def write_llama_gguf(model, tokenizer, path: Path) -> None:
    """A real GGUF file (F32 tensors, llama tokenizer metadata) from a transformers Llama."""
    config = model.config
    writer = GGUFWriter(str(path), "llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    specials = set(tokenizer.all_special_tokens)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([-float(index) for index in range(len(tokens))])
    writer.add_token_types([TokenType.CONTROL if token in specials else
                            TokenType.BYTE if token.startswith("<0x") else TokenType.NORMAL for token in tokens])
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_token_merges([" ".join(pair) if isinstance(pair, list) else pair for pair in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_unk_token_id(tokenizer.unk_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    state = {name: tensor.float().numpy() for name, tensor in model.state_dict().items()}
    writer.add_tensor("token_embd.weight", state["model.embed_tokens.weight"])
    writer.add_tensor("output_norm.weight", state["model.norm.weight"])
    names = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
             "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for layer in range(config.num_hidden_layers):
        for hf_name, gguf_name in names.items():
            weight = state[f"model.layers.{layer}.{hf_name}.weight"]
            if hf_name == "self_attn.q_proj":
                weight = _rope_interleave(weight, config.num_attention_heads)
            elif hf_name == "self_attn.k_proj":
                weight = _rope_interleave(weight, config.num_key_value_heads)
            writer.add_tensor(f"blk.{layer}.{gguf_name}.weight", np.ascontiguousarray(weight))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_a_gguf_file_becomes_the_same_model(tmp_path):
    model, tokenizer, _ = build_tiny_model({**TINY_PARAMS, "steps": 1}, pretraining_text(800))
    gguf_path = tmp_path / "tiny-llama.gguf"
    write_llama_gguf(model, tokenizer, gguf_path)
    identity = build_base({"base": str(gguf_path)}, tmp_path / "base")
    assert identity["kind"] == "gguf" and identity["gguf_sha256"] == file_sha256(gguf_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "base", use_safetensors=True).eval()
    ids = torch.tensor([tokenizer(SENTENCE)["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model.eval()(ids).logits, rtol=1e-4, atol=1e-4)
    reloaded_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "base")
    assert reloaded_tokenizer.decode(reloaded_tokenizer(SENTENCE)["input_ids"], skip_special_tokens=True) == SENTENCE
