"""Train-step throughput with a 262k vocabulary: jinstruct's selective chunked loss vs transformers' own.

Loads a base preset (default gemma3-270m, from its pinned GGUF wheels), wraps it
with the build's LoRA config and runs the same batches of real instruction
records (Tanaka pairs from the offline mirror, default template) through a full
train step (forward, loss, backward, optimizer) two ways, interleaved batch by
batch so that machine load hurts both alike:

- transformers: ``model(**inputs).loss`` (logits for every position, upcast to float32);
- jinstruct: ``train.loss.causal_lm_loss`` (decoder once; the output layer and
  cross-entropy only at labelled positions, in checkpointed chunks).

Both for ``train_on_inputs: true`` (every real token is a target) and
``false`` (answer only). Prints real tokens per second of each and the ratio.

    JINSTRUCT_MIRROR=../shared/mirror nice -n 10 python bench/loss_bench.py [--base gemma3-270m] [--batches 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import polars as pl
import torch

from jinstruct.train.base import load_gguf
from jinstruct.train.data import length_grouped_batches, load_template, tokenize_records
from jinstruct.train.lora import lora_model
from jinstruct.train.loss import causal_lm_loss
from jinstruct.train.presets import preset_gguf

TANAKA = "raw.githubusercontent.com/odashi/small_parallel_enja/312408a11c5fbcbc09443bebb18121f7efdcd61e"


def records(mirror: Path, count: int) -> pl.DataFrame:
    ja = (mirror / TANAKA / "train.ja").read_text(encoding="utf-8").splitlines()[:count]
    en = (mirror / TANAKA / "train.en").read_text(encoding="utf-8").splitlines()[:count]
    return pl.DataFrame({"source": ["tanaka"] * count, "instruction": ["次の英文を日本語に訳してください。"] * count,
                         "input": en, "output": [line.replace(" ", "") for line in ja]})


def step_seconds(model, optimizer, inputs: dict, selective: bool) -> float:
    started = time.perf_counter()
    loss = causal_lm_loss(model, inputs) if selective else model(**inputs).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="gemma3-270m")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    mirror = Path(os.environ.get("JINSTRUCT_MIRROR", "../shared/mirror"))
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    started = time.perf_counter()
    with preset_gguf(args.base) as path:
        base, tokenizer = load_gguf(path)
    print(f"{args.base}: loaded in {time.perf_counter() - started:.0f}s, vocabulary {base.config.vocab_size:,}")
    model = lora_model(base, {"rank": 4, "alpha": 16, "dropout": 0.0, "target_modules": "auto"}, seed=0)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    template = load_template("alpaca_ja")
    data = records(mirror, args.batches * args.batch_size)
    for train_on_inputs in (True, False):
        tokenized = tokenize_records(data, tokenizer, template, args.max_length, train_on_inputs)
        batches = length_grouped_batches(tokenized, args.batch_size, 0, tokenizer.pad_token_id)
        seconds = {False: 0.0, True: 0.0}
        tokens = 0
        for batch in batches:
            inputs = batch.model_inputs("cpu")
            for selective in (False, True):  # same batch, one after the other
                seconds[selective] += step_seconds(model, optimizer, inputs, selective)
            tokens += batch.real_tokens
        ours, theirs = tokens / seconds[True], tokens / seconds[False]
        print(f"train_on_inputs={train_on_inputs}: {len(batches)} batches, {tokens} real tokens | "
              f"transformers forward-with-labels {theirs:.0f} tokens/s | jinstruct selective loss {ours:.0f} "
              f"tokens/s | ratio {ours / theirs:.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
