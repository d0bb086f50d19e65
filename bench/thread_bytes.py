"""Does the thread count change the bytes a model stage writes? Prints one sha256 per count.

The tiny Llama shape of the default build (params.yaml model.tiny, 8k vocabulary)
is initialised with one seed and trained a few AdamW steps on one fixed batch
stream, at each thread count in turn; then a LoRA adapter (rank 4, dropout on)
is trained on it the same way. Same digest = byte-identical weights.

    python bench/thread_bytes.py 1 2 3 4
"""

from __future__ import annotations

import hashlib
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from jinstruct.train.determinism import make_deterministic

SEED, STEPS = 20261124, 5


def digest(tensors: dict) -> str:
    sha = hashlib.sha256()
    for name, tensor in sorted(tensors.items()):
        sha.update(name.encode())
        sha.update(tensor.detach().contiguous().numpy().tobytes())
    return sha.hexdigest()[:16]


def steps(model, generator) -> float:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    for _ in range(STEPS):
        ids = torch.randint(4, 8000, (16, 128), generator=generator)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return float(loss)


def run(threads: int) -> tuple[str, str, float]:
    from peft import LoraConfig, get_peft_model

    make_deterministic(SEED, threads)
    config = LlamaConfig(vocab_size=8000, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=3)
    model = LlamaForCausalLM(config)
    steps(model, torch.Generator().manual_seed(1))
    base = digest(model.state_dict())
    torch.manual_seed(SEED)
    tuned = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, lora_dropout=0.05,
                                             target_modules=["q_proj", "v_proj"]))
    loss = steps(tuned, torch.Generator().manual_seed(2))
    adapter = digest({name: p for name, p in tuned.named_parameters() if p.requires_grad})
    return base, adapter, loss


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {STEPS} pretraining + {STEPS} LoRA steps, batch 16x128")
    for count in [int(arg) for arg in sys.argv[1:]] or [1, 2, 3, 4]:
        base, adapter, loss = run(count)
        print(f"threads={count}: base {base}  adapter {adapter}  last LoRA loss {loss:.8f}")
