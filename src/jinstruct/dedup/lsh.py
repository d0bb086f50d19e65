"""LSH banding over a signature matrix, vectorised: candidate pairs, then verification.

Banding follows datasketch's MinHashLSH (band k covers signature columns
[k·r, (k+1)·r); two records are candidates when all r values of one band are
equal), computed for all records at once: each band slice is hashed to 64 bits
and records are sorted by (partition, band, band hash). The partition (the
record's task) is part of the bucket key, so records of different tasks are
never even candidates. tests/test_dedup_minhash.py checks the candidates
against datasketch's MinHashLSH on the same signatures.

A bucket of k records yields all pairs when k ≤ bucket_window + 1, otherwise
each record is paired with its next ``bucket_window`` neighbours in the bucket:
enough to connect the bucket through verified edges without k² pairs when a
template fills a bucket.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from jinstruct.dedup.minhash import fmix

_PAIR_CHUNK = 65_536  # pairs compared per step: 64k × 128 × 4 B × 2 = 64 MB at most


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: one hash per band slice of each signature."""
    result = np.empty((signatures.shape[0], bands), dtype=np.uint64)
    for band in range(bands):
        h = np.full(signatures.shape[0], np.uint64(band + 1), dtype=np.uint64)
        for column in range(band * rows, (band + 1) * rows):
            h = fmix(h ^ signatures[:, column].astype(np.uint64), 64)
        result[:, band] = h
    return result


def candidate_pairs(signatures: np.ndarray, partitions: np.ndarray, bands: int, rows: int,
                    window: int) -> np.ndarray:
    """(m, 2) int64 array of unique candidate pairs (i < j) sharing a band bucket."""
    n = signatures.shape[0]
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    hashes = band_hashes(signatures, bands, rows)
    buckets = pl.DataFrame({
        "partition": np.repeat(partitions.astype(np.int32), bands),
        "band": np.tile(np.arange(bands, dtype=np.int32), n),
        "hash": hashes.reshape(-1),
        "row": np.repeat(np.arange(n, dtype=np.int32), bands),
    }).sort("partition", "band", "hash", "row")
    key_changed = (
        (pl.col("partition") != pl.col("partition").shift(1))
        | (pl.col("band") != pl.col("band").shift(1))
        | (pl.col("hash") != pl.col("hash").shift(1))
    ).fill_null(True)
    bucket = buckets.select(key_changed.cum_sum()).to_series().to_numpy()
    row = buckets["row"].to_numpy()
    found = []
    for distance in range(1, window + 1):
        same = bucket[distance:] == bucket[:-distance]
        if not same.any():
            break
        found.append(np.stack([row[:-distance][same], row[distance:][same]], axis=1))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)  # i < j: rows ascend within a bucket
    unique = pl.DataFrame({"i": pairs[:, 0], "j": pairs[:, 1]}).unique().sort("i", "j")
    return unique.to_numpy().astype(np.int64)


def signature_similarity(signatures: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Jaccard estimated from signatures: the share of equal MinHash values per pair."""
    result = np.empty(left.size, dtype=np.float64)
    for start in range(0, left.size, _PAIR_CHUNK):
        stop = start + _PAIR_CHUNK
        equal = signatures[left[start:stop]] == signatures[right[start:stop]]
        result[start:stop] = equal.mean(axis=1)
    return result


def exact_similarity(texts: list[str], left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    """Exact Jaccard of the 64-bit n-gram hash sets of each pair (``verify: exact``)."""
    from jinstruct.dedup.minhash import shingle_hashes64

    cache: dict[int, np.ndarray] = {}

    def shingle_set(row: int) -> np.ndarray:
        if row not in cache:
            cache[row] = np.unique(shingle_hashes64([texts[row]], n)[0])
        return cache[row]

    result = np.empty(left.size, dtype=np.float64)
    for position, (i, j) in enumerate(zip(left.tolist(), right.tolist())):
        a, b = shingle_set(i), shingle_set(j)
        shared = np.intersect1d(a, b, assume_unique=True).size
        union = a.size + b.size - shared
        result[position] = shared / union if union else 1.0
    return result


def fields_agree(sketches: np.ndarray, sizes: np.ndarray, left: np.ndarray, right: np.ndarray,
                 minimum: float) -> np.ndarray:
    """Per pair: does every key field of one record overlap the same field of the other?

    ``sketches`` holds, per signature row, one small bigram MinHash per field side
    by side; ``sizes`` the bigram count of each field. The overlap coefficient
    |A∩B| / min(|A|, |B|) is derived from the estimated Jaccard J and the sizes:
    J(|A|+|B|) / ((1+J)·min(|A|, |B|)). Overlap rather than Jaccard, so that a
    prefix or an appended sentence does not count against a short field; both
    fields empty agree, one empty does not. This is what keeps two questions on
    one shared passage (JSQuAD, Dolly closed_qa) apart: the passage dominates
    the whole-record Jaccard, but the instruction and output fields differ.
    """
    fields = sizes.shape[1]
    agree = np.ones(left.size, dtype=bool)
    if minimum <= 0 or left.size == 0:
        return agree
    per_field = sketches.shape[1] // fields
    for field in range(fields):
        a, b = sizes[left, field].astype(np.float64), sizes[right, field].astype(np.float64)
        jaccard = signature_similarity(sketches[:, field * per_field:(field + 1) * per_field], left, right)
        overlap = overlap_from_jaccard(jaccard, a, b)
        both_empty = (a == 0) & (b == 0)
        agree &= both_empty | ((np.minimum(a, b) > 0) & (overlap >= minimum))
    return agree


def overlap_from_jaccard(jaccard: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> np.ndarray:
    """|A∩B| / min(|A|, |B|) from the Jaccard and the set sizes: J(|A|+|B|) / ((1+J)·min)."""
    smaller = np.minimum(size_a, size_b).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(smaller > 0, jaccard * (size_a + size_b) / ((1 + jaccard) * smaller), 0.0)


def confirmed(jaccard: np.ndarray, size_a: np.ndarray, size_b: np.ndarray, threshold: float,
              containment: float) -> np.ndarray:
    """A candidate pair is a near duplicate when its Jaccard reaches ``threshold``, or
    when one record is (almost) contained in the other: overlap ≥ ``containment``
    (0 = off). Containment is what finds a short record copied with a prefix or an
    appended sentence, whose Jaccard is low only because it is short."""
    result = jaccard >= threshold
    if containment > 0:
        result |= overlap_from_jaccard(jaccard, size_a, size_b) >= containment
    return result
