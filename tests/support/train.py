"""Shared fixtures for the train tests: real Japanese text, a tiny real model.

Text comes from the offline mirror (Tanaka corpus, Japanese side); the model is
a real LlamaForCausalLM with a real byte-fallback BPE tokenizer, just small.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import torch

from jinstruct.records import dataset_hash, write_json, write_parquet
from jinstruct.sources.tanaka import join_kytea_tokens_expr
from tests.support import MIRROR, TANAKA

JSQUAD = (MIRROR / "raw.githubusercontent.com/yahoojapan/JGLUE/6f071c09316baae89c3d083a90985b4b1cb9968c"
          / "datasets/jsquad-v1.3/valid-v1.3.json")

TINY_PARAMS = {
    "vocab_size": 600, "limit_alphabet": 400, "hidden_size": 32, "intermediate_size": 64, "layers": 2, "heads": 2,
    "max_positions": 256, "seq_len": 32, "batch_size": 4, "steps": 4, "warmup_steps": 0, "lr": 0.003,
    "weight_decay": 0.0, "seed": 7,
}


def tanaka_pairs(limit: int) -> list[tuple[str, str]]:
    ja = pl.DataFrame({"ja": (TANAKA / "train.ja").read_text(encoding="utf-8").splitlines()[:limit]})
    ja_text = ja.select(join_kytea_tokens_expr("ja"))["ja"].to_list()
    en_text = (TANAKA / "train.en").read_text(encoding="utf-8").splitlines()[:limit]
    return list(zip(ja_text, en_text, strict=True))


def instruction_records(limit: int = 240) -> pl.DataFrame:
    """Translation records (both directions) plus a few without input, from real pairs."""
    rows = []
    for line, (ja, en) in enumerate(tanaka_pairs(limit)):
        rows.append({"id": f"tanaka:{line:05d}:en-ja", "source": "tanaka", "task": "translation_en_ja",
                     "instruction": "次の英文を日本語に訳してください。", "input": en, "output": ja})
        if line % 4 == 0:
            rows.append({"id": f"echo:{line:05d}", "source": "echo", "task": "repeat",
                         "instruction": f"「{ja}」と言ってください。", "input": "", "output": ja})
    return pl.DataFrame(rows).with_columns(license=pl.lit("CC-BY-2.0-FR"), group=pl.col("id"))


def write_processed(folder: Path, records: pl.DataFrame) -> str:
    """train/validation/test parquet + manifest with the dataset hash, as the split stage writes them."""
    ordered = records.sort("id")
    by_index = ordered.with_row_index("row")
    splits = {
        "validation": by_index.filter(pl.col("row") % 10 == 0).drop("row"),
        "test": by_index.filter(pl.col("row") % 10 == 1).drop("row"),
        "train": by_index.filter(pl.col("row") % 10 > 1).drop("row"),
    }
    for name, frame in splits.items():
        write_parquet(frame, folder / f"{name}.parquet")
    digest = dataset_hash(splits)
    write_json({"name": "fixture", "version": "0", "dataset_hash": digest,
                "splits": {name: {"file": f"{name}.parquet", "records": frame.height}
                           for name, frame in splits.items()}},
               folder / "manifest.json")
    return digest


def pretraining_text(lines: int = 1500) -> list[str]:
    return [ja for ja, _ in tanaka_pairs(lines)]


def lora_params(**train_overrides) -> dict:
    train = {"template": "alpaca_ja", "max_length": 96, "lr": 0.01, "epochs": 1, "max_steps": 12, "batch_size": 8,
             "grad_accum": 1, "warmup_steps": 0, "weight_decay": 0.0, "train_on_inputs": True, "packing": False,
             "sources": "all", "tasks": "all", "exclude_tasks": [], "validation_records": None, "device": "cpu",
             "bf16": False, "gradient_checkpointing": False, "seed": 11}
    train.update(train_overrides)
    return {"model": {"trust_remote_code": False}, "lora": {"rank": 8, "alpha": 16, "dropout": 0.0,
                                                            "target_modules": "auto"}, "train": train}


def save_tiny_base(folder: Path, identity: dict, pretraining_lines: int) -> Path:
    """A tiny base model pretrained here on ``pretraining_lines`` Tanaka lines, saved as the base stage does."""
    from jinstruct.train.base import save_base
    from jinstruct.train.tiny import build_tiny_model

    model, tokenizer, _ = build_tiny_model(TINY_PARAMS, pretraining_text(pretraining_lines))
    save_base(model, tokenizer, folder)
    (folder / "identity.json").write_text(json.dumps(identity), encoding="utf-8")
    return folder


def logits(model, tokenizer, text: str) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits
