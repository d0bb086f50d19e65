"""MinHash signatures of character n-grams, compiled with numba and run on threads.

The signatures are exactly those of ``datasketch.MinHash(num_perm, seed,
hashfunc=shingle_hash32, scheme="affine32")`` updated with every character
n-gram of the key (tests/dedup/test_minhash.py checks this): datasketch's
permutation parameters are used as they are, and its affine32 step (MurmurHash3
fmix32 pre-mix, then ``a·h + b`` modulo 2³²) is applied to one n-gram at a time
across all permutations in a compiled loop, so nothing the size of
(n-grams × permutations) is ever written to memory. An earlier numpy version
did write that product and was memory-bound: two processes ran no faster than
one on these machines (docs/benchmarks.md, "Dedup").

Texts are read straight from Arrow UTF-8 buffers (``Utf8Texts``): no Python
object per text or per n-gram. The compiled loops release the GIL, so
features.py runs them on ``n_jobs`` threads, one record range each.

Character n-grams, never whitespace tokens: Japanese has no word spaces.
A key shorter than n characters has no n-gram; its signature is left at the
empty value: such records are deduplicated by exact key only (docs/dedup.md,
"Short records").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np
import polars as pl

EMPTY = np.uint32(0xFFFFFFFF)
_POLY = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime, used as the polynomial base
# MurmurHash3 finalisers (shift, multiplier, shift, multiplier, shift) per width;
# the 32-bit one is datasketch's affine32 pre-mix. Typed constants: numba turns
# uint64 mixed with a plain int into float64.
_FMIX = {64: (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33), 32: (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)}
_S64, _M64A, _S64B, _M64B, _S64C = (np.uint64(value) for value in _FMIX[64])
_S32, _M32A, _S32B, _M32B, _S32C = (np.uint32(value) for value in _FMIX[32])
_LOW32 = np.uint64(0xFFFFFFFF)


@dataclass(frozen=True)
class Utf8Texts:
    """A column of texts as Arrow keeps them: UTF-8 bytes and int64 offsets (n + 1)."""
    offsets: np.ndarray
    data: np.ndarray

    def __len__(self) -> int:
        return self.offsets.size - 1

    @classmethod
    def from_series(cls, series: pl.Series) -> Utf8Texts:
        """Zero-copy view of a string column's buffers (nulls read as empty texts)."""
        array = series.cast(pl.String).fill_null("").rechunk().to_arrow()
        _, offsets, data = array.buffers()
        offsets = np.frombuffer(offsets, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
        data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, dtype=np.uint8)
        return cls(offsets, data)

    @classmethod
    def from_strings(cls, texts: list[str]) -> Utf8Texts:
        return cls.from_series(pl.Series(texts, dtype=pl.String))


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a, b) for this seed, drawn as datasketch 2.0
    draws them (MinHash._init_permutations: odd a, any b, from numpy's RandomState(seed));
    tests/dedup/test_minhash.py checks them against datasketch. Not imported from datasketch:
    its import pulls scipy.integrate and scipy.optimize, ~1 s of every command's start-up."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)


@numba.njit(inline="always")
def fmix64(h):
    h ^= h >> _S64
    h *= _M64A
    h ^= h >> _S64B
    h *= _M64B
    return h ^ (h >> _S64C)


@numba.njit(inline="always")
def _fmix32(h):
    # numba widens uint32 products to 64 bits: truncate after every multiply
    h ^= h >> _S32
    h = np.uint32(h * _M32A)
    h ^= h >> _S32B
    h = np.uint32(h * _M32B)
    return h ^ (h >> _S32C)


@numba.njit(inline="always")
def utf8_code_point(data, position):
    """(code point, byte width) of the UTF-8 character at data[position]. Arrow
    guarantees valid UTF-8, so continuation bytes need no checks."""
    lead = np.int64(data[position])
    if lead < 0x80:
        return lead, 1
    if lead < 0xE0:
        point, width = lead & 0x1F, 2
    elif lead < 0xF0:
        point, width = lead & 0x0F, 3
    else:
        point, width = lead & 0x07, 4
    for extra in range(1, width):
        point = (point << 6) | (np.int64(data[position + extra]) & 0x3F)
    return point, width


@numba.njit(inline="always")
def put_utf8(out, written, point):
    """Write code point ``point`` as UTF-8 at out[written:]; returns the position after it."""
    if point < 0x80:
        out[written] = point
        return written + 1
    if point < 0x800:
        out[written] = 0xC0 | (point >> 6)
        out[written + 1] = 0x80 | (point & 0x3F)
        return written + 2
    if point < 0x10000:
        out[written] = 0xE0 | (point >> 12)
        out[written + 1] = 0x80 | ((point >> 6) & 0x3F)
        out[written + 2] = 0x80 | (point & 0x3F)
        return written + 3
    out[written] = 0xF0 | (point >> 18)
    out[written + 1] = 0x80 | ((point >> 12) & 0x3F)
    out[written + 2] = 0x80 | ((point >> 6) & 0x3F)
    out[written + 3] = 0x80 | (point & 0x3F)
    return written + 4


@numba.njit(inline="always")
def seen_table(longest):
    """The open-addressing table ``_first_seen`` probes: a power of two at least four times the
    n-grams of the longest text, so that each text's part of it (_seen_mask) is at most a quarter full."""
    size = 1
    while size < 4 * longest:
        size *= 2
    return np.empty(size, dtype=np.uint64)


@numba.njit(inline="always")
def _seen_mask(windows, table):
    """The mask of the part of ``table`` a text of ``windows`` n-grams uses (the first power of two
    ≥ 4 × windows slots), those slots cleared to 0 (empty)."""
    mask = 1
    while mask < 4 * windows:
        mask *= 2
    mask -= 1
    table[:mask + 1] = 0
    return mask


@numba.njit(nogil=True, cache=True)
def _code_points(data, start, stop, out):
    """Decode UTF-8 bytes data[start:stop] into ``out``; returns the number of code points."""
    count = 0
    position = start
    while position < stop:
        point, width = utf8_code_point(data, position)
        out[count] = point
        count += 1
        position += width
    return count


@numba.njit(inline="always")
def _window_hash(points, first, n):
    """64-bit hash of the n code points from ``first``: polynomial over code points, then fmix64."""
    h = np.uint64(0)
    for offset in range(n):
        h = h * _POLY + np.uint64(points[first + offset])
    return fmix64(h)


@numba.njit(nogil=True, cache=True)
def _shingle_hashes(offsets, data, n, out):
    """64-bit hashes of every n-gram of every text, concatenated; returns n-grams per text."""
    texts = offsets.size - 1
    counts = np.zeros(texts, dtype=np.int64)
    points = np.empty(max(offsets[-1] - offsets[0], 1), dtype=np.uint32)
    written = 0
    for text in range(texts):
        length = _code_points(data, offsets[text], offsets[text + 1], points)
        for first in range(length - n + 1):
            out[written] = _window_hash(points, first, n)
            written += 1
        counts[text] = max(length - n + 1, 0)
    return counts


@numba.njit(nogil=True, cache=True)
def _signature_rows(offsets, data, first_text, stop_text, n, a, b, out):
    """MinHash rows of texts first_text..stop_text into out[0 : stop_text - first_text]."""
    longest = 1
    for text in range(first_text, stop_text):
        longest = max(longest, offsets[text + 1] - offsets[text])
    points = np.empty(longest, dtype=np.uint32)
    signature = np.empty(a.size, dtype=np.uint32)
    for text in range(first_text, stop_text):
        length = _code_points(data, offsets[text], offsets[text + 1], points)
        signature[:] = np.uint32(0xFFFFFFFF)
        for first in range(length - n + 1):
            premixed = _fmix32(np.uint32(_window_hash(points, first, n) & _LOW32))
            for permutation in range(a.size):  # vectorised by LLVM: 32-bit multiply, add, min
                value = np.uint32(a[permutation] * premixed + b[permutation])
                signature[permutation] = min(signature[permutation], value)
        out[text - first_text, :] = signature


@numba.njit(inline="always")
def _first_seen(h, table, mask):
    """1 when the nonzero hash ``h`` is not yet in table[:mask + 1] (and put it there), else 0.
    Linear probing; 0 marks an empty slot, so the caller counts a zero hash by itself.

    One array cleared per text (_seen_mask) rather than a stamp per slot saying which text
    owns it: one cache line per probe instead of two, and a table at most a quarter full
    instead of half, so fewer probes run on; 3× less time per n-gram (docs/benchmarks.md)."""
    slot = np.int64(h & np.uint64(mask))
    while True:
        held = table[slot]
        if held == 0:
            table[slot] = h
            return 1
        if held == h:
            return 0
        slot = (slot + 1) & mask


@numba.njit(nogil=True, cache=True)
def _distinct_counts(offsets, data, n, out):
    """Per text: how many *distinct* n-grams it has (by 64-bit hash; a collision among
    a few thousand n-grams has probability ~1e-13).

    One open-addressing hash table (_first_seen), at most a quarter full, reused for every
    text. Linear in the text (sorting its hashes cost 2.6x as much)."""
    longest = 1
    for text in range(offsets.size - 1):
        longest = max(longest, offsets[text + 1] - offsets[text])
    points = np.empty(longest, dtype=np.uint32)
    table = seen_table(longest)
    for text in range(offsets.size - 1):
        length = _code_points(data, offsets[text], offsets[text + 1], points)
        windows = max(length - n + 1, 0)
        mask = _seen_mask(windows, table)
        distinct = zero = 0
        for first in range(windows):
            h = _window_hash(points, first, n)
            if h == 0:
                zero = 1
            else:
                distinct += _first_seen(h, table, mask)
        out[text] = distinct + zero


@numba.njit(inline="always")
def _sketch_text(points, length, n, a, b, signature, table):
    """One decoded text: its MinHash (as _signature_rows) into ``signature`` and its distinct
    n-gram count (as _distinct_counts, with the shared ``table``), from one window hash per position."""
    signature[:] = np.uint32(0xFFFFFFFF)
    windows = max(length - n + 1, 0)
    mask = _seen_mask(windows, table)
    distinct = zero = 0
    for first in range(windows):
        h = _window_hash(points, first, n)
        premixed = _fmix32(np.uint32(h & _LOW32))
        for permutation in range(a.size):
            value = np.uint32(a[permutation] * premixed + b[permutation])
            signature[permutation] = min(signature[permutation], value)
        if h == 0:
            zero = 1
        else:
            distinct += _first_seen(h, table, mask)
    return distinct + zero


@numba.njit(nogil=True, cache=True)
def _sketch_rows(offsets, data, n, a, b, n_second, a_second, b_second, low_bits, counts, second_low_bits,
                 second_counts):
    """Per text: the low 16 bits of its n-gram MinHash and its distinct n-gram count, and, when
    ``a_second`` has permutations, the same for n_second-grams of the same text: one decode and
    one pass per n instead of four passes (_signature_rows and _distinct_counts, twice)."""
    longest = 1
    for text in range(offsets.size - 1):
        longest = max(longest, offsets[text + 1] - offsets[text])
    points = np.empty(longest, dtype=np.uint32)
    table = seen_table(longest)
    signature = np.empty(a.size, dtype=np.uint32)
    second = np.empty(a_second.size, dtype=np.uint32)
    for text in range(offsets.size - 1):
        length = _code_points(data, offsets[text], offsets[text + 1], points)
        counts[text] = _sketch_text(points, length, n, a, b, signature, table)
        for permutation in range(a.size):
            low_bits[text, permutation] = np.uint16(signature[permutation] & np.uint32(0xFFFF))
        if a_second.size:
            second_counts[text] = _sketch_text(points, length, n_second, a_second, b_second, second, table)
            for permutation in range(a_second.size):
                second_low_bits[text, permutation] = np.uint16(second[permutation] & np.uint32(0xFFFF))


def sketch_texts(texts: pl.Series, spec: SketchSpec, second: SketchSpec | None = None) -> tuple[np.ndarray, ...]:
    """(low 16 bits of each text's MinHash, distinct n-gram counts) in one compiled pass; with
    ``second``, the same for second.ngram-grams too (a key that is its only field: its key
    sketch and its field sketch). Equal to ``signatures(...) & 0xFFFF`` and
    ``distinct_shingle_counts`` (tests/dedup/test_minhash.py)."""
    column = Utf8Texts.from_series(texts)
    a, b = permutations(spec.num_perm, spec.seed)
    low_bits = np.empty((len(column), spec.num_perm), dtype=np.uint16)
    counts = np.empty(len(column), dtype=np.int32)
    if second is None:
        a_second = b_second = np.empty(0, dtype=np.uint32)
        second_low_bits, second_counts = np.empty((0, 0), dtype=np.uint16), np.empty(0, dtype=np.int32)
    else:
        a_second, b_second = permutations(second.num_perm, second.seed)
        second_low_bits = np.empty((len(column), second.num_perm), dtype=np.uint16)
        second_counts = np.empty(len(column), dtype=np.int32)
    _sketch_rows(column.offsets, column.data, spec.ngram, a, b, second.ngram if second else 1, a_second, b_second,
                 low_bits, counts, second_low_bits, second_counts)
    return (low_bits, counts) if second is None else (low_bits, counts, second_low_bits, second_counts)


def distinct_shingle_counts(texts: pl.Series | list[str], n: int) -> np.ndarray:
    """(len(texts),) int32: the number of distinct character n-grams of each text.

    Set sizes for the overlap coefficient |A∩B| / min(|A|, |B|): the MinHash
    Jaccard is a Jaccard of n-gram *sets*, so the sizes must be set sizes too.
    Counting positions (length − n + 1) instead made repetitive text look
    contained in its neighbours (issue #13, item 10).
    """
    column = Utf8Texts.from_series(texts) if isinstance(texts, pl.Series) else Utf8Texts.from_strings(texts)
    out = np.empty(len(column), dtype=np.int32)
    _distinct_counts(column.offsets, column.data, n, out)
    return out


def shingle_hashes64(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character n-gram of every text, and n-grams per text."""
    column = Utf8Texts.from_strings(texts)
    out = np.empty(max(int(column.offsets[-1] - column.offsets[0]), 0), dtype=np.uint64)
    counts = _shingle_hashes(column.offsets, column.data, n, out)
    return out[:int(counts.sum())], counts


def shingle_hash32(shingle: str) -> int:
    """The 32-bit hash of one n-gram: the ``hashfunc`` to give datasketch.MinHash."""
    hashes, _ = shingle_hashes64([shingle], len(shingle))
    return int(hashes[0] & _LOW32)


def signatures(texts: list[str] | Utf8Texts, n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(texts), num_perm) uint32 MinHash signatures; EMPTY rows for texts shorter than n."""
    column = texts if isinstance(texts, Utf8Texts) else Utf8Texts.from_strings(texts)
    result = np.empty((len(column), a.size), dtype=np.uint32)
    _signature_rows(column.offsets, column.data, 0, len(column), n, a, b, result)
    return result


@dataclass(frozen=True)
class SketchSpec:
    """One kind of MinHash to compute: n-gram size, permutations, seed."""
    ngram: int
    num_perm: int
    seed: int


def sign_texts(texts: pl.Series, spec: SketchSpec) -> np.ndarray:
    """(len(texts), num_perm) uint32 signatures of a string column; the loop releases the GIL."""
    return signatures(Utf8Texts.from_series(texts), spec.ngram, *permutations(spec.num_perm, spec.seed))
