"""key_features' one compiled pass per chunk equals the separate steps it replaced.

The reference below is built from the pieces as they stand on their own: canonical_texts per
field (polars NFKC + the fold pass), polars' concat_str for the key, sketch_texts per key and
per field, polars' regexes for the digit runs and the katakana words, stable_hashes for the
hashes. Inputs are generated to hold what each step treats specially."""

import random

import numpy as np
import polars as pl
import pytest

from jinstruct.dedup.features import key_features
from jinstruct.dedup.keys import canonical_key_expr, canonical_texts, joined_names_expr, numbers_expr, stable_hashes
from jinstruct.dedup.minhash import SketchSpec, sketch_texts
from jinstruct.dedup.settings import FIELD_NGRAM, FIELD_PERM, DedupSettings

# katakana words (with ー, ・, half-width forms that NFKC composes), digits (ASCII and full
# width), whitespace of several kinds, punctuation folded by the key, upper case, combining
# marks and other characters the fold table leaves to polars' NFKC, characters outside the BMP
PIECES = ["トム", "ケン", "コンピューター", "ジョン・スミス", "ｶﾞｯｺｳ", "ｺﾝﾋﾟｭｰﾀｰ", "すごーい", "ーー", "3ヶ月",
          "2000年8月31日", "１２３", "0", "a1b22", " ", "\u3000", "\n", "\t", "。", "、", "「", "」", "〜", "【",
          "ABC", "Ｘｙｚ", "İ", "é", "e\u0301", "\u1100\u1161", "ｶ\u3099", "😀", "𠀋", "の", "は", "東京", "x"]


def _texts(rng: random.Random, count: int, longest: int) -> list[str | None]:
    return [None if rng.random() < 0.05 else "".join(rng.choice(PIECES) for _ in range(rng.randint(0, longest)))
            for _ in range(count)]


def _reference(df: pl.DataFrame, settings: DedupSettings) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    canonical = pl.DataFrame({f"_field_{position}": canonical_texts(df[name])
                              for position, name in enumerate(settings.fields)})
    key = canonical.select(canonical_key_expr(canonical.columns)).to_series().alias("key")
    signatures, shingles = sketch_texts(key, SketchSpec(settings.ngram, settings.num_perm, settings.seed))
    field_spec = SketchSpec(FIELD_NGRAM, FIELD_PERM, settings.seed + 1)
    per_field = [sketch_texts(canonical[column], field_spec) for column in canonical.columns]
    numbers = key.to_frame().select(numbers_expr(pl.col("key"))).to_series()
    if not settings.numbers_must_match:
        numbers = pl.Series([""] * key.len())
    frame = pl.DataFrame({
        "_key_hash": stable_hashes(key, bits=128),
        "_numbers_hash": stable_hashes(numbers),
        "_key_chars": key.str.len_chars().cast(pl.Int64),
        "_shingles": shingles,
        "_names": key.to_frame().select(joined_names_expr(pl.col("key"))).to_series(),
    })
    return (frame, signatures, np.hstack([bits for bits, _ in per_field]),
            np.stack([counts for _, counts in per_field], axis=1))


@pytest.mark.parametrize(("fields", "numbers", "n_jobs"), [(("text",), True, 1), (("instruction", "input", "output"),
                                                                                  True, 2),
                                                         (("instruction", "output"), False, 2)])
def test_one_pass_equals_the_separate_steps(fields, numbers, n_jobs):
    rng = random.Random(len(fields))
    count = 1_500
    df = pl.DataFrame({name: _texts(rng, count, 40 if position else 120)
                       for position, name in enumerate(("text",) if fields == ("text",)
                                                       else ("instruction", "input", "output"))},
                      schema_overrides={"text": pl.String} if fields == ("text",) else None)
    settings = DedupSettings(fields=fields, numbers_must_match=numbers, n_jobs=n_jobs, chunk_records=400)
    got = key_features(df, settings)
    frame, signatures, field_sketches, sizes = _reference(df, settings)
    assert got.frame.equals(frame)
    assert np.array_equal(got.signatures, signatures)
    assert np.array_equal(got.fields, field_sketches)
    assert np.array_equal(got.sizes, sizes)
    # the inputs reached what the steps treat specially
    assert frame["_names"].str.contains(" ").any() and (frame["_key_chars"] < settings.ngram).any()
    assert got.frame["_numbers_hash"].n_unique() > (10 if numbers else 0)


def test_the_comparison_can_fail():
    """A key that differs in one folded character gives another hash, sketch and word set."""
    settings = DedupSettings(fields=("text",))
    one = key_features(pl.DataFrame({"text": ["トムは2000年に来た。"]}), settings)
    other = key_features(pl.DataFrame({"text": ["ケンは2001年に来た。"]}), settings)
    for column in ("_key_hash", "_numbers_hash", "_names"):
        assert one.frame[column][0] != other.frame[column][0]
    assert not np.array_equal(one.signatures, other.signatures)


@pytest.mark.parametrize("fields,separator,n_jobs", [
    (["instruction"], "", 1), (["instruction", "input", "output"], "", 2),
    (["instruction", "input", "output"], "\n", 2), (["output", "input"], "\n", 3)])
def test_canonical_keys_are_the_joined_canonical_fields(fields, separator, n_jobs):
    # canonical_keys' one compiled pass on n_jobs row ranges (of a frame that is itself a slice)
    # equals canonical_texts per field joined by polars' concat_str
    from jinstruct.dedup.features import canonical_keys

    rng = random.Random(len(fields) * 10 + n_jobs)
    count = 7_001
    df = pl.DataFrame({name: _texts(rng, count, 12) for name in ("instruction", "input", "output")}).slice(3, count - 5)
    canonical = pl.DataFrame({f"_field_{position}": canonical_texts(df[name]) for position, name in enumerate(fields)})
    expected = canonical.select(canonical_key_expr(canonical.columns, separator)).to_series()
    keys = canonical_keys(df, DedupSettings(fields=tuple(fields), n_jobs=n_jobs), separator)
    assert keys.len() == df.height and keys.null_count() == 0
    assert keys.to_list() == expected.to_list()
