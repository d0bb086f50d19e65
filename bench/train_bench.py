"""LoRA training throughput: jinstruct's loop vs plain transformers.Trainer.

Same base model (models/base, the default tiny Llama), same LoRA config, same
records (a seeded sample of data/processed/train.parquet formatted with the
default template), same batch size, learning rate and number of steps, on CPU.
Three runs, interleaved per round so that a busy machine hurts them alike:

- Trainer: transformers.Trainer, random batches padded per batch (DataCollatorForSeq2Seq), no packing;
- jinstruct: length-grouped batches, padded per batch, no packing;
- jinstruct packed: rows packed to train.max_length tokens.

The rate counts real (non-padding) tokens per second of training; packed rows
hold more real tokens per step, so their rate is the "effective" one.

    PYTHONPATH=src python bench/train_bench.py [--records 2000] [--steps 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import polars as pl
import torch

from jinstruct.params import load_params
from jinstruct.records import read_records
from jinstruct.train.data import length_grouped_batches, load_template, packed_batches, tokenize_records
from jinstruct.train.loop import LoopSettings, train
from jinstruct.train.lora import load_base_for_training, lora_model


def jinstruct_rate(base_dir, tokenized, params, steps, packing) -> tuple[float, int]:
    model, tokenizer = load_base_for_training(base_dir, False)
    model = lora_model(model, params["lora"], seed=0)
    batch_size, seed = int(params["train"]["batch_size"]), 0
    if packing:
        batches = packed_batches(tokenized, batch_size, seed, tokenizer.pad_token_id,
                                 int(params["train"]["max_length"]))
    else:
        batches = length_grouped_batches(tokenized, batch_size, seed, tokenizer.pad_token_id)
    settings = LoopSettings(lr=float(params["train"]["lr"]), max_steps=steps, seed=seed)
    result = train(model, batches, settings, desc="jinstruct")
    return result.tokens_per_second, result.tokens_seen


def trainer_rate(base_dir, tokenized, params, steps, workdir) -> tuple[float, int]:
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    model, tokenizer = load_base_for_training(base_dir, False)
    model = lora_model(model, params["lora"], seed=0)
    dataset = Dataset.from_dict({"input_ids": tokenized.input_ids, "labels": tokenized.labels,
                                 "attention_mask": [[1] * len(ids) for ids in tokenized.input_ids]})
    pad = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    seen = {"tokens": 0}

    def collate(features):
        batch = pad(features)
        seen["tokens"] += int(batch["attention_mask"].sum())
        return batch

    args = TrainingArguments(output_dir=str(workdir), per_device_train_batch_size=int(params["train"]["batch_size"]),
                             max_steps=steps, learning_rate=float(params["train"]["lr"]), lr_scheduler_type="linear",
                             max_grad_norm=1.0, save_strategy="no", report_to=[], logging_steps=steps, use_cpu=True,
                             dataloader_num_workers=0, seed=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collate)
    started = time.perf_counter()
    trainer.train()
    return seen["tokens"] / (time.perf_counter() - started), seen["tokens"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=Path("models/base"))
    parser.add_argument("--train", type=Path, default=Path("data/processed/train.parquet"))
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    params = {section: load_params(section) for section in ("lora", "train")}
    records = read_records(args.train)
    sample = records.sort("id").sample(n=min(args.records, records.height), seed=0)
    _, tokenizer = load_base_for_training(args.base, False)
    tokenized = tokenize_records(sample, tokenizer, load_template(params["train"]["template"]),
                                 int(params["train"]["max_length"]), bool(params["train"]["train_on_inputs"]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f}; {sample.height} records, {args.steps} steps of batch "
          f"{params['train']['batch_size']}, LoRA r={params['lora']['rank']}")
    rates: dict[str, list[float]] = {"Trainer (padding per batch)": [], "jinstruct (no packing)": [],
                                     "jinstruct (packing)": []}
    for round_number in range(args.rounds):
        rates["Trainer (padding per batch)"].append(
            trainer_rate(args.base, tokenized, params, args.steps, Path("/tmp/jinstruct-train-bench"))[0])
        rates["jinstruct (no packing)"].append(jinstruct_rate(args.base, tokenized, params, args.steps, False)[0])
        rates["jinstruct (packing)"].append(jinstruct_rate(args.base, tokenized, params, args.steps, True)[0])
        print(f"round {round_number + 1}: " + ", ".join(f"{name} {values[-1]:,.0f}" for name, values in rates.items()))
    reference = max(rates["Trainer (padding per batch)"])
    print("\n| run | real tokens/s (best of rounds) | vs Trainer |\n|---|---:|---:|")
    for name, values in rates.items():
        print(f"| {name} | {max(values):,.0f} | {max(values) / reference:.2f}x |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    pl.Config.set_tbl_rows(20)
    main()
