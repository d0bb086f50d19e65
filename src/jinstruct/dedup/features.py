"""One pass over the records in fixed chunks: what dedup needs to know of each key.

Per record: the canonical key's xxh3-128 (exact duplicates), the hash of its
digit runs (``numbers_must_match``), its katakana words (``names_must_match``),
its length in characters and distinct n-gram count, the distinct bigram
count of each field, its MinHash
signature and the per-field bigram sketches.

The canonical texts (keys.py) exist only for one chunk of ``chunk_records``
records per thread at a time and are dropped once the chunk is measured, so
a 2.5M-record build never holds a second copy of its text. Chunks are fixed
record ranges, each writing its own rows, so the result does not depend on
``n_jobs``.

Every record is signed, exact duplicates included: their signatures equal
their root's, and knowing which records are exact duplicates would need the
keys first (a second canonicalisation pass, the costliest step here).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numba
import numpy as np
import polars as pl
import pyarrow as pa
import xxhash

from jinstruct.dedup.keys import _FUSED, _FUSED_OR_UNSAFE, _fold_text, _splice, _stacked, _write_names, folded_join
from jinstruct.dedup.minhash import _sketch_text, permutations, seen_table
from jinstruct.dedup.settings import FIELD_NGRAM, FIELD_PERM, DedupSettings
from jinstruct.progress import progress_bar

# canonical_keys shares rows out to threads only when each gets at least this many
_ROWS_PER_THREAD = 2_000


@dataclass
class KeyFeatures:
    frame: pl.DataFrame      # _key_hash, _numbers_hash, _key_chars, _shingles (distinct n-grams), _names per record
    signatures: np.ndarray   # (n, num_perm) uint16: low bits of the key's n-gram MinHash (0xFFFF rows: shorter than n)
    fields: np.ndarray       # (n, fields × FIELD_PERM) uint16: low 16 bits of each field's bigram MinHash
    sizes: np.ndarray        # (n, fields) distinct bigrams of each field


def canonical_keys(df: pl.DataFrame, settings: DedupSettings, separator: str = "") -> pl.Series:
    """The canonical key of every record of ``df`` (for verification, on a few rows).

    ``separator`` between the fields: "" gives the key itself (its n-grams and hash);
    verify: edits joins the fields with FIELD_SEPARATOR, so that the last item of a list
    or the last sentence of one field does not run on into the next field.

    keys.canonical_texts of each field joined by keys.canonical_key_expr, in one compiled pass (keys.folded_join) on
    ``n_jobs`` threads, one row range each; tests/dedup/test_features.py checks the two agree.
    ``verify: exact`` asks it for the keys of the rows in candidate pairs; ``verify: edits`` does
    not: its alignment batches fold the raw fields themselves (aligned.FieldTexts)."""
    total = df.height
    parts = max(1, min(settings.n_jobs, total // _ROWS_PER_THREAD))
    bounds = [total * part // parts for part in range(parts + 1)]

    def keys(part: int) -> pa.LargeStringArray:
        chunk = df.slice(bounds[part], bounds[part + 1] - bounds[part])
        return folded_join([chunk[name] for name in settings.fields], separator)

    with ThreadPoolExecutor(max_workers=parts) as pool:
        arrays = list(pool.map(keys, range(parts)))
    return pl.Series("_field_0", pa.chunked_array(arrays, type=pa.large_string()), dtype=pl.String)


@numba.njit(nogil=True, cache=True)
def _chunk_features(offsets, data, fold, check, n, a, b, field_n, field_a, field_b, signatures, shingles, fields,
                    sizes, key_chars):
    """Everything key_features needs of a chunk, one decode of each field.

    offsets (fields × texts + 1) index ``data``: each field's text as UTF-8. Per text, the fields
    are decoded, folded (keys._fold_text, keys.canonical_texts) and put end to end: the key's code
    points (keys.canonical_key_expr), from which its MinHash and distinct n-gram count
    (minhash.sketch_texts), each field's bigram sketch and count, its length, its digit runs
    (keys.numbers_expr) and katakana words (keys.joined_names) all come. Returns the key's UTF-8
    (for its xxh3-128), the digit runs joined by spaces and the joined words, each as (offsets,
    bytes), and which texts were left out: with ``check`` (``fold`` = keys._FUSED_OR_UNSAFE), a
    text holding a character the table cannot NFKC gets empty outputs and no rows; key_features
    measures it again NFKC'd."""
    field_count, texts = offsets.shape[0], offsets.shape[1] - 1
    longest = 1
    for text in range(texts):
        size = 0
        for field in range(field_count):
            size += offsets[field, text + 1] - offsets[field, text]
        longest = max(longest, size)
    total = 0
    for field in range(field_count):
        total += offsets[field, texts] - offsets[field, 0]
    points = np.empty(longest, dtype=np.uint32)
    bounds = np.empty(field_count + 1, dtype=np.int64)
    starts = np.empty(longest, dtype=np.int64)
    stops = np.empty(longest, dtype=np.int64)
    word_keys = np.empty(longest, dtype=np.uint64)
    table = seen_table(longest)
    signature = np.empty(a.size, dtype=np.uint32)
    field_signature = np.empty(field_a.size, dtype=np.uint32)
    # a folded character takes at most 3 bytes where it took at least 2 (ASCII stays ASCII): 1.5 × is room
    key_out = np.empty(total * 3 // 2 + 4, dtype=np.uint8)
    key_offsets = np.zeros(texts + 1, dtype=np.int64)
    digits_out = np.empty(total + texts + 1, dtype=np.uint8)  # a digit is a byte, a space follows a run
    digit_offsets = np.zeros(texts + 1, dtype=np.int64)
    names_out = np.empty(total * 3 // 2 + texts + 1, dtype=np.uint8)
    name_offsets = np.zeros(texts + 1, dtype=np.int64)
    unsafe = np.zeros(texts, dtype=np.bool_)
    key_written = digits_written = names_written = 0
    for text in range(texts):
        length = 0
        for field in range(field_count):
            bounds[field] = length
            key_written, length, flagged = _fold_text(data, offsets[field, text], offsets[field, text + 1], fold,
                                                      check, key_out, key_written, points, length, True)
            if flagged:
                unsafe[text] = True
                break
        if unsafe[text]:
            key_written = key_offsets[text]
            key_offsets[text + 1], digit_offsets[text + 1], name_offsets[text + 1] = \
                key_written, digits_written, names_written
            continue
        bounds[field_count] = length
        key_offsets[text + 1] = key_written
        key_chars[text] = length
        shingles[text] = _sketch_text(points, length, n, a, b, signature, table)
        for permutation in range(a.size):
            signatures[text, permutation] = np.uint16(signature[permutation] & np.uint32(0xFFFF))
        for field in range(field_count):
            sizes[text, field] = _sketch_text(points[bounds[field]:bounds[field + 1]],
                                              bounds[field + 1] - bounds[field], field_n, field_a, field_b,
                                              field_signature, table)
            for permutation in range(field_a.size):
                fields[text, field * field_a.size + permutation] = \
                    np.uint16(field_signature[permutation] & np.uint32(0xFFFF))
        in_run = False
        for at in range(length):
            if 0x30 <= points[at] <= 0x39:
                if not in_run and digits_written > digit_offsets[text]:
                    digits_out[digits_written] = 32
                    digits_written += 1
                digits_out[digits_written] = points[at]
                digits_written += 1
                in_run = True
            else:
                in_run = False
        digit_offsets[text + 1] = digits_written
        names_written = _write_names(points, length, starts, stops, word_keys, names_out, names_written)
        name_offsets[text + 1] = names_written
    return (key_offsets, key_out[:key_written], digit_offsets, digits_out[:digits_written], name_offsets,
            names_out[:names_written], unsafe)


def _hashes(offsets: np.ndarray, data: np.ndarray, digest) -> list:
    """``digest`` of each text's bytes (keys.stable_hashes' values, straight from the buffer)."""
    view = memoryview(data)
    return [digest(view[start:stop]) for start, stop in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def key_features(df: pl.DataFrame, settings: DedupSettings) -> KeyFeatures:
    """Everything dedup needs of each record's key, in one chunked pass on ``n_jobs`` threads.

    Sketches keep the low 16 bits of each MinHash value: b-bit minwise hashing (Li and König,
    WWW 2010). Two different values agree in 16 bits with probability 2^-16, which raises a
    Jaccard estimate by at most 0.00002, far below its sampling error (≈ 0.035 at 128
    permutations), and halves the sketches: 0.64 GB instead of 1.28 at 2.5M records.

    Per chunk, one compiled pass (_chunk_features) does it all for the records whose every
    character the fold table can NFKC; the others (1.5 % of the benchmark corpus) are NFKC'd by
    polars, measured by a second call and spliced in (keys.folded_join does the same).
    tests/dedup/test_features.py checks it equals the separate steps (canonical_texts,
    concat_str, sketch_texts, numbers_expr, names_expr)."""
    total, field_count = df.height, len(settings.fields)
    a, b = permutations(settings.num_perm, settings.seed)
    field_a, field_b = permutations(FIELD_PERM, settings.seed + 1)
    signatures = np.empty((total, settings.num_perm), dtype=np.uint16)
    fields = np.empty((total, field_count * FIELD_PERM), dtype=np.uint16)
    sizes = np.empty((total, field_count), dtype=np.int32)
    no_numbers = xxhash.xxh3_64_intdigest(b"")

    def measure(start: int) -> tuple[int, pl.DataFrame]:
        stop = min(start + settings.chunk_records, total)
        chunk = df.slice(start, stop - start)
        columns = [chunk[name].cast(pl.String).fill_null("").rechunk() for name in settings.fields]
        shingles = np.empty(stop - start, dtype=np.int32)
        key_chars = np.empty(stop - start, dtype=np.int64)
        *found, unsafe = _chunk_features(*_stacked(columns), _FUSED_OR_UNSAFE, True, settings.ngram, a, b, FIELD_NGRAM,
                                         field_a, field_b, signatures[start:stop], shingles, fields[start:stop],
                                         sizes[start:stop], key_chars)
        key_offsets, key_bytes, digit_offsets, digits, name_offsets, names = found
        key_hashes = _hashes(key_offsets, key_bytes, xxhash.xxh3_128_hexdigest)
        numbers = _hashes(digit_offsets, digits, xxhash.xxh3_64_intdigest) if settings.numbers_must_match \
            else [no_numbers] * (stop - start)
        rows = np.flatnonzero(unsafe)
        if rows.size:  # polars' NFKC (5M characters/s) only for the records the table cannot do
            index = pl.Series(rows)
            again = (np.empty((rows.size, a.size), dtype=np.uint16), np.empty(rows.size, dtype=np.int32),
                     np.empty((rows.size, fields.shape[1]), dtype=np.uint16),
                     np.empty((rows.size, field_count), dtype=np.int32), np.empty(rows.size, dtype=np.int64))
            *redone, _ = _chunk_features(*_stacked([column.gather(index).str.normalize("NFKC") for column in columns]),
                                         _FUSED, False, settings.ngram, a, b, FIELD_NGRAM, field_a, field_b, *again)
            signatures[start + rows], shingles[rows], fields[start + rows], sizes[start + rows], key_chars[rows] = again
            # their hashes replace the empty keys' (no copy of the chunk's key bytes); their words are spliced in
            for row, key_hash in zip(rows.tolist(), _hashes(redone[0], redone[1], xxhash.xxh3_128_hexdigest)):
                key_hashes[row] = key_hash
            if settings.numbers_must_match:
                for row, number_hash in zip(rows.tolist(), _hashes(redone[2], redone[3], xxhash.xxh3_64_intdigest)):
                    numbers[row] = number_hash
            name_offsets, names = _splice(name_offsets, names, rows, redone[4], redone[5])
        return start, pl.DataFrame({
            "_key_hash": pl.Series(key_hashes, dtype=pl.String),
            "_numbers_hash": pl.Series(numbers, dtype=pl.UInt64),
            "_key_chars": key_chars,
            "_shingles": shingles,
            # even with names_must_match off: the index must let a later build apply the rule
            "_names": pl.Series(pa.LargeStringArray.from_buffers(stop - start, pa.py_buffer(name_offsets),
                                                                  pa.py_buffer(names)), dtype=pl.String),
        })

    parts: dict[int, pl.DataFrame] = {}
    with progress_bar("dedup keys", total=total) as bar, ThreadPoolExecutor(max_workers=settings.n_jobs) as pool:
        for done in as_completed([pool.submit(measure, start) for start in range(0, total, settings.chunk_records)]):
            start, part = done.result()
            parts[start] = part
            bar.update(part.height)
    frame = pl.concat([parts[start] for start in sorted(parts)]) if parts else pl.DataFrame(
        schema={"_key_hash": pl.String, "_numbers_hash": pl.UInt64, "_key_chars": pl.Int64,
                "_shingles": pl.Int32, "_names": pl.String})
    return KeyFeatures(frame, signatures, fields, sizes)
