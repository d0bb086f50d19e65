"""The dedup index of a release, and checking a new build against an older one.

The index is one Parquet file (``data/interim/dedup_index.parquet``) holding,
for every record the build kept: id, task, the canonical-key hash (xxh3-128),
the numbers hash, the katakana words (``names``, always stored so that a later
build can apply names_must_match), the MinHash signature and the per-field
bigram sketches. Its key-value metadata records the settings that make
signatures comparable (fields, n, num_perm, seed, key version); an index built
with other settings is refused with a clear message, never compared silently.

Releasing 1.1 with ``dedup.previous_index`` pointing at 1.0's index rejects
every record that duplicates a 1.0 record (same task; exact key, or verified
MinHash similarity ≥ threshold) with reason ``duplicate_of_previous_release``,
so 1.1 does not re-admit what 1.0 removed. A record whose own id is in the
index was released before and is exempt: re-released records are not
duplicates of themselves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import polars as pl

from jinstruct.records import InputError, atomic_path

_METADATA_KEY = "jinstruct.dedup"


def index_frame(ids: pl.Series, tasks: pl.Series, key_hashes: pl.Series, numbers: pl.Series,
                signatures: np.ndarray, field_sketches: np.ndarray, field_sizes: np.ndarray,
                has_signature: np.ndarray, shingles: pl.Series, names: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({
        "id": ids, "task": tasks, "key_hash": key_hashes, "numbers_hash": numbers,
        "names": names.cast(pl.String).alias("names"),
        "has_signature": has_signature, "shingles": shingles.alias("shingles"),
        "signature": pl.Series(signatures, dtype=pl.Array(pl.UInt16, signatures.shape[1])),
        "field_sketch": pl.Series(field_sketches, dtype=pl.Array(pl.UInt16, field_sketches.shape[1])),
        "field_sizes": pl.Series(field_sizes, dtype=pl.Array(pl.Int32, field_sizes.shape[1])),
    })  # record order, as in deduped.parquet: sorting would copy every signature


def write_index(frame: pl.DataFrame, identity: dict, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        # one chunk: polars cuts row groups differently for a frame of many chunks, and how the
        # frame was chunked (n_jobs, the engine's blocks) must not reach the file's bytes
        frame.rechunk().write_parquet(tmp, compression="zstd", compression_level=3, statistics=True,
                                      metadata={_METADATA_KEY: json.dumps(identity, sort_keys=True)})


def read_index(path: str | os.PathLike, identity: dict) -> pl.DataFrame:
    """A previous release's index, after checking it was built with comparable settings."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no dedup index here (dedup.previous_index names a file written by dedup)")
    try:
        stored = pl.read_parquet_metadata(path).get(_METADATA_KEY)
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several types for corrupt files
        raise InputError(f"{path}: not a readable dedup index ({type(exc).__name__})") from None
    if stored is None:
        raise InputError(f"{path}: not a dedup index (no {_METADATA_KEY} metadata)")
    stored = json.loads(stored)
    if stored != identity:
        differing = sorted(key for key in set(stored) | set(identity) if stored.get(key) != identity.get(key))
        raise InputError(f"{path}: built with other dedup settings ({', '.join(differing)}: "
                         f"{ {k: stored.get(k) for k in differing} } vs { {k: identity.get(k) for k in differing} })")
    return frame
