"""The vectorised MinHash and LSH agree with datasketch, and do not depend on n_jobs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH

from jinstruct.dedup import dedup_records
from jinstruct.dedup.features import canonical_keys, key_features
from jinstruct.dedup.lsh import candidate_pairs
from jinstruct.dedup.minhash import (
    EMPTY,
    SketchSpec,
    distinct_shingle_counts,
    permutations,
    shingle_hash32,
    signatures,
    sketch_texts,
)
from jinstruct.dedup.settings import lsh_shape, resolve_settings
from tests.support import TANAKA
from tests.support.dedup import frame, record


def _japanese_lines(count: int) -> list[str]:
    lines = (TANAKA / "train.ja").read_text(encoding="utf-8").splitlines()[:count]
    return [line.replace(" ", "") for line in lines]


def _with_variants(lines: list[str]) -> list[str]:
    """Every third line also appears with its last character dropped: real near duplicates."""
    return lines + [line[:-1] for line in lines[::3]]


def test_signatures_equal_datasketch_minhash_with_the_same_hash_function():
    texts = _japanese_lines(40) + ["", "短い", "ちょうど五文字", "ｈａｌｆ　ｗｉｄｔｈ and ASCII 123"]
    a, b = permutations(64, seed=7)
    ours = signatures(texts, 3, a, b)
    for text, row in zip(texts, ours):
        reference = MinHash(num_perm=64, seed=7, hashfunc=shingle_hash32, scheme="affine32")
        for start in range(len(text) - 2):
            reference.update(text[start:start + 3])
        assert np.array_equal(reference.hashvalues, row), text
    assert (ours[texts.index("短い")] == EMPTY).all()  # shorter than n: no n-gram at all


def test_key_features_do_not_depend_on_chunking_or_workers():
    lines = _with_variants(_japanese_lines(120))
    df = frame([record(f"t:{i}", "次の文を英語に翻訳してください。", line) for i, line in enumerate(lines)])
    one = key_features(df, resolve_settings({"n_jobs": 1, "chunk_records": 1000}))
    two = key_features(df, resolve_settings({"n_jobs": 2, "chunk_records": 17}))
    assert one.signatures.dtype == np.uint16 and np.array_equal(one.signatures, two.signatures)
    assert np.array_equal(one.fields, two.fields) and np.array_equal(one.sizes, two.sizes)
    assert one.frame.equals(two.frame) and one.frame.height == len(lines)
    # each row is the low 16 bits of the MinHash of that record's whole canonical key
    keys = canonical_keys(df, resolve_settings({})).to_list()
    assert np.array_equal(one.signatures, signatures(keys, 5, *permutations(128, seed=1)) & 0xFFFF)


def test_candidate_pairs_equal_datasketch_minhashlsh_queries():
    texts = _with_variants(_japanese_lines(300))
    a, b = permutations(128, seed=1)
    matrix = signatures(texts, 5, a, b)
    bands, rows = 16, 8
    ours = candidate_pairs(matrix, np.zeros(len(texts), dtype=np.int64), bands, rows, window=len(texts))
    index = MinHashLSH(num_perm=128, params=(bands, rows))
    sketches = [LeanMinHash(seed=1, hashvalues=row, scheme="affine32") for row in matrix]
    for key, sketch in enumerate(sketches):
        index.insert(key, sketch)
    reference = {(min(i, j), max(i, j)) for i, sketch in enumerate(sketches) for j in index.query(sketch) if i != j}
    assert len(reference) >= 80  # most of the 100 dropped-last-character variants
    assert {tuple(pair) for pair in ours.tolist()} == reference


@pytest.mark.parametrize("window", [1, 3, 8])
def test_candidate_pairs_pair_each_bucket_member_with_its_next_window_members(window):
    # a reference written from the rule: per band, the members (ascending) whose partition and band
    # values are equal form a bucket, and each is paired with the next ``window`` of its bucket;
    # few distinct values, so buckets hold from one to dozens of members
    rng = np.random.default_rng(window)
    matrix = rng.integers(0, 2, size=(400, 12)).astype(np.uint16)
    partitions = rng.integers(0, 2, size=400).astype(np.int64)
    members = np.flatnonzero(rng.random(400) < 0.8)
    bands, rows = 4, 3
    buckets: dict = {}
    for band in range(bands):
        for member in members.tolist():
            key = (band, int(partitions[member]), tuple(matrix[member, band * rows:(band + 1) * rows].tolist()))
            buckets.setdefault(key, []).append(member)
    reference = {(bucket[i], bucket[j]) for bucket in buckets.values()
                 for i in range(len(bucket)) for j in range(i + 1, min(i + window, len(bucket) - 1) + 1)}
    assert max(map(len, buckets.values())) > window + 1  # some buckets are cut by the window
    ours = candidate_pairs(matrix, partitions, bands, rows, window, n_jobs=2, members=members)
    assert [tuple(pair) for pair in ours.tolist()] == sorted(reference)


def test_dedup_output_is_identical_whatever_n_jobs():
    lines = _japanese_lines(150)
    rows = [record(f"t:{i}", "次の文を英語に翻訳してください。", line) for i, line in enumerate(lines)]
    rows += [record(f"v:{i}", "次の文を英語に翻訳してください。", line[:-1] + "!") for i, line in enumerate(lines[::4])]
    rows += [record(f"e:{i}", "次の文を英語に翻訳してください。", line) for i, line in enumerate(lines[::5])]
    df = frame(rows)
    params = {"threshold": 0.7, "chunk_records": 23}
    single = dedup_records(df, {**params, "n_jobs": 1})
    double = dedup_records(df, {**params, "n_jobs": 2})
    assert single.result.rejected.height > 30
    for left, right in [(single.result.kept, double.result.kept), (single.result.rejected, double.result.rejected),
                        (single.clusters, double.clusters), (single.index, double.index)]:
        assert left.equals(right)
    assert single.result.extra_stats == double.result.extra_stats
    assert pl.concat([single.result.kept["id"], single.result.rejected["id"]]).sort().equals(df["id"].sort())


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (16, 2), (64, 7), (5, 123)])
def test_permutations_are_datasketch_affine32_parameters(num_perm, seed):
    a, b = permutations(num_perm, seed)
    expected_a, expected_b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    assert a.dtype == b.dtype == np.uint32
    assert np.array_equal(a, expected_a) and np.array_equal(b, expected_b)


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.4, 128), (0.6, 128), (0.5, 128), (0.4, 64)])
def test_lsh_shape_is_datasketch_optimum(threshold, num_perm):
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    assert lsh_shape(threshold, num_perm) == (lsh.b, lsh.r)


def test_one_pass_sketches_equal_the_separate_passes():
    rng = np.random.default_rng(3)
    alphabet = list("あいうえおかきくけこ日本語テキスト。、abc0123") + ["\U0001F600"]
    texts = pl.Series(["".join(rng.choice(alphabet, rng.integers(0, 60))) for _ in range(300)] + ["", "ab", "あ" * 40])
    key, field = SketchSpec(5, 128, 1), SketchSpec(2, 16, 2)
    low, counts, second_low, second_counts = sketch_texts(texts, key, field)
    assert np.array_equal(low, signatures(texts.to_list(), 5, *permutations(128, 1)) & 0xFFFF)
    assert np.array_equal(second_low, signatures(texts.to_list(), 2, *permutations(16, 2)) & 0xFFFF)
    assert counts.tolist() == distinct_shingle_counts(texts, 5).tolist()
    assert second_counts.tolist() == distinct_shingle_counts(texts, 2).tolist()
    assert counts.tolist() == [len({text[i:i + 5] for i in range(len(text) - 4)}) for text in texts.to_list()]
    alone_low, alone_counts = sketch_texts(texts, key)
    assert np.array_equal(alone_low, low) and alone_counts.tolist() == counts.tolist()
