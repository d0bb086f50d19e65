"""MinHash signatures of character n-grams, computed in numpy batches.

The signatures are exactly those of ``datasketch.MinHash(num_perm, seed,
hashfunc=shingle_hash32, scheme="affine32")`` updated with every character
n-gram of the key (tests/test_dedup_minhash.py checks this): datasketch's
permutation parameters are used as they are, and its affine32 step (MurmurHash3
fmix32 pre-mix, then ``a·h + b`` modulo 2³²) is applied to whole arrays instead
of one shingle at a time. No Python object is made per shingle; memory is
bounded by ``chunk_records`` per worker and ``_PRODUCT_VALUES`` per product.

Character n-grams, never whitespace tokens: Japanese has no word spaces.
A key shorter than n characters has no n-gram; its signature is left at the
empty value and ``has_signature`` is False: such records are deduplicated by
exact key only (docs/dedup.md, "Short records").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
from datasketch import MinHash

from jinstruct.progress import progress_bar

EMPTY = np.uint32(0xFFFFFFFF)
# Values per (num_perm × n-grams) product block: 4M × 4 B = 16 MB. Measured
# here: 32k n-grams × 128 permutations ran at 5.6–6.3 M n-grams per CPU-second,
# 2k at 4.2 M, 128k at 4.1 M.
_PRODUCT_VALUES = 1 << 22
_POLY = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime, used as the polynomial base


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a, b) for this seed."""
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)


# MurmurHash3 finalisers (shift, multiplier, shift, multiplier, shift) per width;
# the 32-bit one is datasketch's affine32 pre-mix.
_FMIX = {64: (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33), 32: (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)}


def fmix(h: np.ndarray, width: int) -> np.ndarray:
    """MurmurHash3's finaliser over an array of uint64 (width 64) or uint32 (width 32)."""
    dtype = np.uint64 if width == 64 else np.uint32
    shift1, multiplier1, shift2, multiplier2, shift3 = (dtype(value) for value in _FMIX[width])
    h = h ^ (h >> shift1)
    h = h * multiplier1
    h = h ^ (h >> shift2)
    h = h * multiplier2
    return h ^ (h >> shift3)


def shingle_hashes64(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character n-gram of every text, and n-grams per text.

    The texts are concatenated as UTF-32 code points; a polynomial hash over a
    sliding window of n code points is then mixed with fmix64. Windows that
    cross from one text into the next are dropped.
    """
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    counts = np.maximum(lengths - n + 1, 0)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.uint64), counts
    code_points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    windows = code_points.size - n + 1
    rolling = np.zeros(windows, dtype=np.uint64)
    for offset in range(n):
        rolling = rolling * _POLY + code_points[offset:offset + windows]
    starts = np.cumsum(lengths) - lengths
    shingle_starts = np.cumsum(counts) - counts
    positions = np.repeat(starts - shingle_starts, counts) + np.arange(total)
    return fmix(rolling[positions], 64), counts


def shingle_hash32(shingle: str) -> int:
    """The 32-bit hash of one n-gram: the ``hashfunc`` to give datasketch.MinHash."""
    hashes, _ = shingle_hashes64([shingle], len(shingle))
    return int(hashes[0] & np.uint64(0xFFFFFFFF))


def signatures(texts: list[str], n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(texts), num_perm) uint32 MinHash signatures; EMPTY rows for texts shorter than n."""
    hashes64, counts = shingle_hashes64(texts, n)
    premixed = fmix((hashes64 & np.uint64(0xFFFFFFFF)).astype(np.uint32), 32)
    result = np.full((len(texts), a.size), EMPTY, dtype=np.uint32)
    ends = np.cumsum(counts)
    block = max(_PRODUCT_VALUES // a.size, 1)
    buffer = np.empty(a.size * max(block, int(counts.max(initial=0))), dtype=np.uint32)  # reused: no page faults per block
    first = 0
    while first < len(texts):
        # a block of whole texts holding about `block` n-grams (at least one text)
        start = ends[first] - counts[first]
        last = max(int(np.searchsorted(ends, start + block, side="right")), first + 1)
        block_counts = counts[first:last]
        nonempty = np.flatnonzero(block_counts)
        if nonempty.size:
            # (num_perm, n-grams): each permutation's values are contiguous, so the
            # per-text minimum runs over contiguous memory (2-3x faster than n-grams-major)
            grams = premixed[start:ends[last - 1]]
            product = buffer[:a.size * grams.size].reshape(a.size, grams.size)
            np.multiply(a[:, None], grams[None, :], out=product)  # uint32 wrap-around = mod 2^32
            product += b[:, None]
            offsets = (np.cumsum(block_counts) - block_counts)[nonempty]
            result[first + nonempty] = np.minimum.reduceat(product, offsets, axis=1).T
        first = last
    return result


@dataclass(frozen=True)
class SketchSpec:
    """One kind of MinHash to compute: n-gram size, permutations, seed."""
    ngram: int
    num_perm: int
    seed: int


def _sketch_job(job: tuple[list[list[str]], list[tuple[int, np.ndarray, np.ndarray]]]) -> list[np.ndarray]:
    columns, specs = job
    return [signatures(texts, n, a, b) for texts, (n, a, b) in zip(columns, specs)]


def sketches_parallel(total: int, chunk_columns: Callable[[int, int], list[list[str]]], specs: list[SketchSpec],
                      n_jobs: int, chunk_records: int) -> list[np.ndarray]:
    """One signature matrix per (text column, spec) pair over ``total`` records in order.

    ``chunk_columns(start, stop)`` gives the text columns of records start..stop;
    it is called lazily with at most two chunks per worker in flight, so the
    texts never all exist as Python strings at once. Records are chunked by a
    fixed count, so the result is identical whatever ``n_jobs`` is (chunks are
    computed independently and concatenated in order).
    """
    resolved = [(spec.ngram, *permutations(spec.num_perm, spec.seed)) for spec in specs]
    if total == 0:
        return [np.empty((0, spec.num_perm), dtype=np.uint32) for spec in specs]
    jobs = ((chunk_columns(start, min(start + chunk_records, total)), resolved)
            for start in range(0, total, chunk_records))
    parts: list[list[np.ndarray]] = []
    with progress_bar("minhash", total=total) as bar:
        if n_jobs <= 1 or total <= chunk_records:
            for job in jobs:
                parts.append(_sketch_job(job))
                bar.update(len(job[0][0]))
        else:
            # spawn, not fork: the parent holds polars' thread pool, which fork can deadlock
            with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
                in_flight: deque = deque()
                for job in jobs:
                    in_flight.append((len(job[0][0]), pool.submit(_sketch_job, job)))
                    if len(in_flight) >= 2 * n_jobs:
                        size, future = in_flight.popleft()
                        parts.append(future.result())
                        bar.update(size)
                while in_flight:
                    size, future = in_flight.popleft()
                    parts.append(future.result())
                    bar.update(size)
    return [np.concatenate([part[index] for part in parts]) for index in range(len(specs))]


def signatures_parallel(texts: list[str], n: int, num_perm: int, seed: int, n_jobs: int,
                        chunk_records: int) -> np.ndarray:
    """Signatures of one list of texts (see ``sketches_parallel``)."""
    return sketches_parallel(len(texts), lambda start, stop: [texts[start:stop]], [SketchSpec(n, num_perm, seed)],
                             n_jobs, chunk_records)[0]
