"""The selective, chunked loss equals transformers' own loss (value and gradients) on real tiny models."""

from __future__ import annotations

import pytest
import torch
from transformers import Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM

from jinstruct.train.data import IGNORE_INDEX, TokenizedSet, length_grouped_batches, packed_batches
from jinstruct.train.loss import causal_lm_loss, supports_selective_loss


def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128))


def tiny_gemma3() -> Gemma3ForCausalLM:
    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=128,
                              sliding_window=8, final_logit_softcapping=5.0)
    return Gemma3ForCausalLM(config)


def token_rows(answer_only: bool) -> TokenizedSet:
    generator = torch.Generator().manual_seed(3)
    ids, labels = [], []
    for length in (7, 12, 5, 20, 9, 16):
        row = torch.randint(3, 300, (length,), generator=generator).tolist()
        ids.append(row)
        prompt = length // 2 if answer_only else 0
        labels.append([IGNORE_INDEX] * prompt + row[prompt:])
    return TokenizedSet(ids, labels, {})


def gradients(model) -> list[torch.Tensor]:
    grads = [p.grad.clone() for p in model.parameters() if p.requires_grad and p.grad is not None]
    model.zero_grad(set_to_none=True)
    return grads


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma3])
@pytest.mark.parametrize("answer_only", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_selective_loss_equals_transformers_loss_and_gradients(build, answer_only, packed):
    model = build().train()
    data = token_rows(answer_only)
    batches = (packed_batches(data, 2, 1, 0, capacity=32) if packed
               else length_grouped_batches(data, 3, 1, 0))
    assert supports_selective_loss(model)
    for batch in batches:
        inputs = batch.model_inputs("cpu")
        want = model(**inputs).loss
        want.backward()
        want_grads = gradients(model)
        got = causal_lm_loss(model, inputs, chunk_tokens=4)  # several chunks per batch
        got.backward()
        got_grads = gradients(model)
        assert got.item() == pytest.approx(want.item(), rel=1e-5)
        for a, b in zip(got_grads, want_grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_selective_loss_trains_lora_parameters_like_transformers():
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_llama(), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                     init_lora_weights=False))
    batch = length_grouped_batches(token_rows(True), 6, 1, 0)[0]
    inputs = batch.model_inputs("cpu")
    model(**inputs).loss.backward()
    want = gradients(model)
    causal_lm_loss(model, inputs, chunk_tokens=8).backward()
    got = gradients(model)
    assert len(got) == len(want) == 8  # A and B of q_proj and v_proj in two layers: only LoRA weights train
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
