"""The ``tiny`` base model: built offline from plain Japanese text in minutes.

A byte-fallback BPE tokenizer (Llama-style: ``▁`` for spaces, ``<0xNN>`` tokens
for any byte it has no piece for, so nothing is ever ``<unk>``) trained with
`tokenizers`, and a small LlamaConfig model pretrained briefly as a causal LM.
The text is plain prose, not instruction records: the Japanese side of the
Tanaka pairs (detokenised) and/or JSQuAD contexts, as params choose.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import polars as pl
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from jinstruct.records import InputError
from jinstruct.sources.tanaka import join_kytea_tokens_expr
from jinstruct.train.data import Batch
from jinstruct.train.loop import LoopResult, LoopSettings, train

log = logging.getLogger("jinstruct")

SPECIAL_TOKENS = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
BYTE_TOKENS = [f"<0x{value:02X}>" for value in range(256)]


# --------------------------------------------------------------------------- corpus


def _read_lines(path: Path) -> pl.Series:
    if not path.is_file():
        raise InputError(f"{path}: pretraining text not found (run `dvc repro fetch`, or change model.tiny.corpus)")
    return pl.Series("text", path.read_text(encoding="utf-8").splitlines())


def tanaka_sentences(path: Path) -> pl.Series:
    """Japanese side of the Tanaka pairs, KyTea spaces removed."""
    frame = pl.DataFrame({"text": _read_lines(path)})
    return frame.select(join_kytea_tokens_expr("text")).to_series()


def jsquad_contexts(path: Path) -> pl.Series:
    """Distinct JSQuAD paragraph contexts without their ``title [SEP] `` prefix."""
    if not path.is_file():
        raise InputError(f"{path}: pretraining text not found (run `dvc repro fetch`, or change model.tiny.corpus)")
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise InputError(f"{path}: not a SQuAD-style JSON document with a 'data' list") from None
    contexts = [paragraph["context"] for article in articles for paragraph in article["paragraphs"]]
    frame = pl.DataFrame({"text": contexts}).unique(maintain_order=True)
    return frame.select(pl.col("text").str.replace(r"^.*? \[SEP\] ", "")).to_series()


def plain_lines(path: Path) -> pl.Series:
    return _read_lines(path)


READERS = {"tanaka_ja": tanaka_sentences, "jsquad_contexts": jsquad_contexts, "plain_lines": plain_lines}


def pretraining_texts(corpus: list[dict], max_chars: int | None = None) -> list[str]:
    """Non-empty texts from each ``{reader, path}`` entry, in order, up to ``max_chars``."""
    texts: list[str] = []
    for entry in corpus:
        reader = READERS.get(entry.get("reader"))
        if reader is None:
            raise InputError(f"model.tiny.corpus: unknown reader {entry.get('reader')!r} "
                             f"(one of {', '.join(READERS)})")
        texts += [text for text in reader(Path(entry["path"])).to_list() if text and text.strip()]
    if max_chars:
        kept, total = [], 0
        for text in texts:
            if total >= max_chars:
                break
            kept.append(text)
            total += len(text)
        texts = kept
    if not texts:
        raise InputError("model.tiny.corpus: no pretraining text")
    return texts


# --------------------------------------------------------------------------- tokenizer


def alphabet(texts: list[str], size: int) -> list[str]:
    """The ``size`` most frequent characters, ties broken by code point.

    BpeTrainer's own ``limit_alphabet`` breaks frequency ties in hash order, so
    the same text gave different vocabularies run to run; handing it exactly
    this list (each forced in) keeps the tokenizer byte-identical.
    """
    counts = (pl.DataFrame({"text": texts}).select(pl.col("text").str.split("").explode().alias("char"))
              .filter(pl.col("char").str.strip_chars() != "").group_by("char").len()
              .sort(["len", "char"], descending=[True, False]))
    return ["▁", *counts["char"].head(size).to_list()]


def train_tokenizer(texts: list[str], vocab_size: int, limit_alphabet: int = 2000) -> PreTrainedTokenizerFast:
    """A Llama-style byte-fallback BPE tokenizer trained on ``texts`` (deterministic).

    Japanese has thousands of distinct characters; the rarest beyond
    ``limit_alphabet`` get no piece of their own and are spelled as UTF-8 byte
    tokens, so every string round-trips.
    """
    metaspace = dict(replacement="▁", prepend_scheme="first", split=True)
    tokenizer = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"], byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(**metaspace)
    # Decoding as Llama's tokenizer.json does: ▁ back to spaces, bytes to text, drop the prepended space.
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    specials = [SPECIAL_TOKENS[key] for key in ("unk_token", "bos_token", "eos_token", "pad_token")]
    characters = alphabet(texts, limit_alphabet)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials + BYTE_TOKENS,
                                  initial_alphabet=characters, limit_alphabet=len(characters), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # The byte tokens must be ordinary vocabulary (as in Llama's tokenizer.json), not
    # "added" special tokens that the input text could spell and decoding would drop.
    spec = json.loads(tokenizer.to_str())
    spec["added_tokens"] = [token for token in spec["added_tokens"] if token["content"] in specials]
    tokenizer = Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))
    bos = SPECIAL_TOKENS["bos_token"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tokenizer.token_to_id(bos))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=1024, **SPECIAL_TOKENS)


# --------------------------------------------------------------------------- model


def tiny_config(tokenizer: PreTrainedTokenizerFast, tiny: dict) -> LlamaConfig:
    hidden = int(tiny["hidden_size"])
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=int(tiny.get("intermediate_size") or hidden * 8 // 3),
        num_hidden_layers=int(tiny["layers"]),
        num_attention_heads=int(tiny["heads"]),
        num_key_value_heads=int(tiny["heads"]),
        max_position_embeddings=int(tiny.get("max_positions", 1024)),
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def pretraining_batches(texts: list[str], tokenizer, seq_len: int, batch_size: int, seed: int) -> list[Batch]:
    """The texts as one stream (each ended by EOS), cut into full ``seq_len`` blocks."""
    stream: list[int] = []
    for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]:
        stream += ids + [tokenizer.eos_token_id]
    blocks = [stream[start:start + seq_len] for start in range(0, len(stream) - seq_len + 1, seq_len)]
    random.Random(seed).shuffle(blocks)
    batches = []
    for start in range(0, len(blocks) - batch_size + 1, batch_size):
        ids = torch.tensor(blocks[start:start + batch_size], dtype=torch.long)
        batches.append(Batch(ids, ids.clone(), None, None, ids.numel()))
    if not batches:
        raise InputError(f"model.tiny: too little pretraining text for one batch of {batch_size}x{seq_len} tokens")
    return batches


def build_tiny_model(tiny: dict, texts: list[str],
                     device: str = "cpu") -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast, LoopResult]:
    """Train the tokenizer, initialise the model with the seed, pretrain it briefly."""
    seed = int(tiny["seed"])
    tokenizer = train_tokenizer(texts, int(tiny["vocab_size"]), int(tiny.get("limit_alphabet", 2000)))
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_config(tokenizer, tiny)).to(device)
    batches = pretraining_batches(texts, tokenizer, int(tiny["seq_len"]), int(tiny["batch_size"]), seed)
    settings = LoopSettings(lr=float(tiny["lr"]), max_steps=int(tiny["steps"]),
                            warmup_steps=int(tiny.get("warmup_steps", 0)),
                            weight_decay=float(tiny.get("weight_decay", 0.0)), seed=seed, device=device)
    log.info("[base] tiny model: %s parameters, %d pretraining steps over %d blocks of %d tokens",
             f"{model.num_parameters():,}", settings.max_steps, len(batches) * int(tiny["batch_size"]),
             int(tiny["seq_len"]))
    result = train(model, batches, settings, desc="pretrain")
    model.eval()
    return model.cpu(), tokenizer, result
