"""``jinstruct eval``: score any model (optionally + a LoRA adapter) outside DVC.

    jinstruct eval --model models/base --adapter models/adapter --task jnli --k 3 --limit 200

Prints one line per task and variant; ``--output`` writes the full scores as
JSON (the same layout as metrics/eval.json, without the build's hashes unless
``--manifest`` is given, which also refuses an adapter trained on other data).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jinstruct.records import write_json

TASKS = ("jnli", "jcommonsenseqa", "marc_ja", "perplexity")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="a Hugging Face model folder (save_pretrained)")
    parser.add_argument("--adapter", type=Path, help="a peft LoRA folder; scores base and base+adapter")
    parser.add_argument("--task", action="append", choices=TASKS, required=True,
                        help="task to score (repeatable)")
    parser.add_argument("--data", action="append", default=[], metavar="TASK=FILE",
                        help="the task's data file (default: the build's file; required for marc_ja)")
    parser.add_argument("--k", type=int, default=0, help="examples in the prompt (0-3)")
    parser.add_argument("--limit", type=int, help="score only the first N items of each task")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences per forward pass")
    parser.add_argument("--max-length", type=int, help="token window per sequence (default: the model's)")
    parser.add_argument("--pool-per-label", type=int, default=10,
                        help="items per label held out as k-shot examples and never scored (with --k > 0)")
    parser.add_argument("--seed", type=int, default=20261124, help="seed of the pool and of the shots")
    parser.add_argument("--manifest", type=Path, help="data/processed/manifest.json: check the adapter's dataset hash")
    parser.add_argument("--output", type=Path, help="write the scores as JSON here")


def _files(assignments: list[str]) -> dict[str, str]:
    from jinstruct.records import InputError

    files = {}
    for assignment in assignments:
        task, sep, path = assignment.partition("=")
        if not sep or task not in TASKS:
            raise InputError(f"--data {assignment!r}: expected TASK=FILE with TASK one of {', '.join(TASKS)}")
        files[task] = path
    return files


def run(args: argparse.Namespace) -> int:
    from jinstruct.evaluate.models import adapter_sha256, base_identity, check_adapter_dataset, load_models
    from jinstruct.evaluate.suite import HEADLINE, load_tasks, run_tasks

    params = {"tasks": list(dict.fromkeys(args.task)), "k_shot": args.k, "limit": args.limit,
              "batch_size": args.batch_size, "max_length": args.max_length, "share_prefix": True,
              "pool_per_label": args.pool_per_label if args.k else 0, "seed": args.seed,
              "files": _files(args.data)}
    meta: dict = {"base_identity": base_identity(args.model)}
    if args.adapter is not None:
        meta["adapter_sha256"] = adapter_sha256(args.adapter)
        if args.manifest is not None:
            meta["dataset_hash"] = check_adapter_dataset(args.adapter, args.manifest)
    tasks = load_tasks(params)
    results = run_tasks(load_models(args.model, args.adapter), tasks, params)
    for name, entry in results.items():
        headline = HEADLINE[name]
        line = f"{name:<15} n={entry['n']:<5} k={entry['k']}  base {headline}={entry['base'][headline]:.4f}"
        if "tuned" in entry:
            line += f"  tuned={entry['tuned'][headline]:.4f}  delta={entry['delta'][headline]:+.4f}"
        if "majority_baseline" in entry:
            line += (f"  (majority class {entry['majority_baseline']['acc']:.4f},"
                     f" chance {entry['chance_baseline']:.4f})")
        print(line)
        for variant in ("base", "tuned"):
            scores = entry.get(variant, {})
            if "acc_ci95" in scores:
                interval = scores["acc_ci95"]
                print(f"{'':<15} {variant}: acc {scores['acc']:.4f}, 95% interval"
                      f" {interval['low']:.4f}-{interval['high']:.4f}: {scores['verdict']}")
            elif "bits_per_char" in scores:
                print(f"{'':<15} {variant}: {scores['bits_per_char']:.4f} bits per character,"
                      f" {scores['bits_per_byte']:.4f} bits per byte")
    if args.output is not None:
        write_json({**meta, **results}, args.output)
    return 0
