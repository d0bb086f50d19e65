"""Benchmark: JNLI log-likelihood scoring, batched vs one choice at a time.

All 2,434 JNLI v1.3 valid items x 3 labels (0-shot, the build's prompt template)
on a tiny Llama-style model built from a config (4 layers, width 256, an 8k BPE
vocabulary trained on the fly; random weights: speed does not depend on them).

    PYTHONPATH=src python bench/eval_bench.py [--jnli FILE] [--threads 2] [--batch-size 32]

Prints wall and CPU seconds, choices/s and the speed-up of each batched mode
over the loop, and the largest log-likelihood difference between them (they
must agree). The default mode of the evaluate stage is "batched + shared prompt".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from jinstruct.evaluate import jnli
from jinstruct.evaluate.scoring import score_one_at_a_time, score_requests
from jinstruct.evaluate.templates import load_choice_template

MIRROR_JNLI = (Path(__file__).resolve().parents[2] / "shared" / "mirror" / "raw.githubusercontent.com" / "yahoojapan"
               / "JGLUE" / "6f071c09316baae89c3d083a90985b4b1cb9968c" / "datasets" / "jnli-v1.3" / "valid-v1.3.json")


def tiny_tokenizer(jnli_file: Path, vocab_size: int) -> PreTrainedTokenizerFast:
    texts = []
    for line in jnli_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts += [row["sentence1"], row["sentence2"]]
    template = load_choice_template(jnli.NAME)
    # Template text once, like any other text: a real tokenizer has not memorised the prompt.
    texts += [template.header, template.item, *template.choices.values()]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size,
                                                       special_tokens=["<pad>", "<unk>", "<s>", "</s>"]))
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")


def tiny_llama(vocab_size: int) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024)
    return LlamaForCausalLM(config).eval()


def timed(label: str, run, choices: int) -> tuple[float, list]:
    """Wall seconds, and CPU seconds of this process: on a shared machine the CPU time is the
    steadier figure (with one thread it is what the wall time would be on an idle core)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    result = run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    print(f"  {label:<34} {seconds:8.1f} s wall {cpu:8.1f} s CPU  {choices / seconds:8.0f} choices/s wall",
          flush=True)
    return cpu, result


def max_difference(a: list, b: list) -> float:
    return max(abs(x.logprob - y.logprob) for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jnli", type=Path, default=MIRROR_JNLI, help="JNLI valid-v1.3.json (JSON Lines)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=8000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tokenizer = tiny_tokenizer(args.jnli, args.vocab)
    model = tiny_llama(len(tokenizer))
    task = jnli.load(args.jnli, {"k_shot": 0, "pool_per_label": 0})
    requests = task.requests()
    choices = sum(len(r.continuations) for r in requests)
    prompt_tokens = sum(len(ids) for ids in tokenizer([r.context for r in requests])["input_ids"])
    print(f"JNLI valid: {len(requests)} items x 3 labels = {choices} choices, "
          f"{prompt_tokens / len(requests):.0f} prompt tokens per item on average")
    print(f"model: Llama 4 layers, width 256, vocab {len(tokenizer)}, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters; torch {torch.__version__}, "
          f"{args.threads} threads, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"load average {os.getloadavg()[0]:.1f}")

    shared_s, shared = timed(f"batched + shared prompt, batch {args.batch_size}", lambda: score_requests(
        model, tokenizer, requests, batch_size=args.batch_size, share_prefix=True), choices)
    flat_s, flat = timed(f"batched, batch {args.batch_size}", lambda: score_requests(
        model, tokenizer, requests, batch_size=args.batch_size, share_prefix=False), choices)
    loop_s, reference = timed("one choice at a time (loop)", lambda: score_one_at_a_time(model, tokenizer, requests),
                              choices)
    print(f"speed-up over the loop (CPU time): batched {loop_s / flat_s:.1f}x, "
          f"batched + shared prompt {loop_s / shared_s:.1f}x")
    print(f"largest log-likelihood difference vs the loop: batched {max_difference(reference, flat):.1e}, "
          f"shared prompt {max_difference(reference, shared):.1e}")


if __name__ == "__main__":
    main()
