"""Verifying candidate pairs, one chain for this build's pairs and for pairs with a previous release.

``verify_pairs`` applies the near-duplicate rules of docs/dedup.md to LSH
candidates, whichever rows they join: the records of this build among
themselves (run.py), or this build's records and a previous release's index
(``previous_release_matches`` below, rows stacked previous-first). The checks
run cheapest and most selective first, the names rule last, so that it runs on
the fewest pairs and its count is what that rule alone refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from jinstruct.dedup.edits import could_align, edits_confirm, names_within_typo
from jinstruct.dedup.index import read_index
from jinstruct.dedup.keys import joined_names_agree
from jinstruct.dedup.lsh import candidate_pairs, confirmed, fields_agree, signature_similarity, sorted_unique
from jinstruct.dedup.settings import DedupSettings

Similarity = Callable[[np.ndarray, np.ndarray], np.ndarray]
Keys = Callable[[np.ndarray], object]  # the keys of given rows: a list, a string column or aligned.FieldTexts


@dataclass
class RowSketches:
    """What verification reads of each row of one row space."""
    signatures: np.ndarray   # (rows, num_perm) uint16 key MinHash
    fields: np.ndarray       # (rows, fields × FIELD_PERM) uint16 per-field bigram MinHash
    sizes: np.ndarray        # (rows, fields) distinct bigrams per field
    shingles: np.ndarray     # (rows,) distinct key n-grams
    numbers: np.ndarray      # (rows,) uint64 hash of the key's digit runs
    names: pl.Series         # (rows,) katakana words joined by spaces


@dataclass
class Verified:
    pairs: np.ndarray        # (m, 2) confirmed pairs of rows
    similarity: np.ndarray   # (m,) their similarity
    names_refused: np.ndarray  # (k, 2) pairs that passed every check but the names rule


def verify_pairs(rows: RowSketches, left: np.ndarray, right: np.ndarray, settings: DedupSettings,
                 similarity: Similarity | None = None, keys: Keys | None = None) -> Verified:
    """The candidate pairs (left[i], right[i]) that are near duplicates: same numbers, every field
    overlapping, similar or contained as a whole, and no katakana word replaced. ``similarity``
    defaults to the signature estimate (``verify: exact`` passes the n-gram set Jaccard).

    With ``verify: edits`` and ``keys`` (the canonical keys of given rows), "similar or
    contained, same numbers" is decided by aligning the two keys (edits.py), which checks
    numbers where the keys differ; without keys (a previous release's index holds no text)
    the signature rules apply."""
    aligned = settings.verify == "edits" and keys is not None
    if settings.numbers_must_match and not aligned:
        same = rows.numbers[left] == rows.numbers[right]
        left, right = left[same], right[same]
    agree = fields_agree(rows.fields, rows.sizes, left, right, settings.field_overlap)
    left, right = left[agree], right[agree]
    measured = (similarity or (lambda a, b: signature_similarity(rows.signatures, a, b)))(left, right)
    if aligned:
        # only pairs whose n-gram overlap leaves room for edit_share are aligned (edits.could_align)
        room = could_align(measured, rows.shingles[left], rows.shingles[right], settings.edit_share,
                           settings.ngram)
        left, right, measured = left[room], right[room], measured[room]
        involved = sorted_unique(np.concatenate([left, right]))
        texts = keys(involved)
        similar, _ = edits_confirm(texts, np.searchsorted(involved, left), np.searchsorted(involved, right),
                                   settings.edit_share, settings.numbers_must_match, settings.field_overlap,
                                   settings.n_jobs)
    else:
        similar = confirmed(measured, rows.shingles[left], rows.shingles[right], settings.threshold,
                            settings.containment)
    left, right, measured = left[similar], right[similar], measured[similar]
    refused = np.zeros(left.size, dtype=bool)
    if settings.names_must_match:
        left_names, right_names = rows.names.gather(left), rows.names.gather(right)
        agree = (left_names == right_names).to_numpy()  # most pairs: the same words, nothing to decide
        undecided = np.flatnonzero(~agree)
        agree[undecided] = joined_names_agree(left_names.gather(undecided).to_list(),
                                              right_names.gather(undecided).to_list())
        if aligned:
            # the alignment has seen every edit: a long word one typo away is the same word
            for pair in np.flatnonzero(~agree):
                agree[pair] = names_within_typo(left_names[int(pair)], right_names[int(pair)])
        refused = ~agree
    return Verified(np.stack([left[~refused], right[~refused]], axis=1), measured[~refused],
                    np.stack([left[refused], right[refused]], axis=1))


MATCHES_SCHEMA = {"_row": pl.UInt32, "_matched_id": pl.String, "_similarity": pl.Float64}


def previous_release_matches(work: pl.DataFrame, current: RowSketches, signed_rows: np.ndarray,
                             settings: DedupSettings, identity: dict) -> tuple[pl.DataFrame, int]:
    """Records of ``work`` duplicating a record of the previous release's index (columns _row,
    _matched_id, _similarity: the best match per record), and how many (record, previous
    record) pairs names_must_match refused.

    Exact: same task and key hash. Near: LSH over the index's signatures stacked above
    this build's signed rows (one per distinct key), pairs across the two verified by
    ``verify_pairs``, then spread to every record carrying that key. A record whose own
    id is in the index was released before and is exempt.
    """
    empty = pl.DataFrame(schema=MATCHES_SCHEMA)
    if not settings.previous_index:
        return empty, 0
    previous = read_index(settings.previous_index, identity)
    candidates = work.filter(~pl.col("id").is_in(previous["id"].implode()))
    exact = (
        candidates.select("_row", "_task", "_key_hash")
        .join(previous.select(pl.col("task").alias("_task"), pl.col("key_hash").alias("_key_hash"),
                              pl.col("id").alias("_matched_id")), on=["_task", "_key_hash"])
        .group_by("_row").agg(pl.col("_matched_id").min())
        .with_columns(_similarity=pl.lit(1.0))
    )
    signed = previous.filter(pl.col("has_signature"))
    offset = signed.height
    stacked = RowSketches(
        signatures=np.concatenate([_array(signed["signature"], np.uint16, offset),
                                   current.signatures[signed_rows]]),
        fields=np.concatenate([_array(signed["field_sketch"], np.uint16, offset), current.fields[signed_rows]]),
        sizes=np.concatenate([_array(signed["field_sizes"], np.int32, offset), current.sizes[signed_rows]]),
        shingles=np.concatenate([signed["shingles"].to_numpy(), current.shingles[signed_rows]]),
        numbers=np.concatenate([signed["numbers_hash"].to_numpy(), current.numbers[signed_rows]]),
        names=pl.concat([signed["names"].cast(pl.String), current.names.gather(signed_rows)]),
    )
    tasks = pl.concat([signed["task"], work["_task"].gather(signed_rows)])
    partitions = tasks.rank("dense").cast(pl.Int64).to_numpy()
    pairs = candidate_pairs(stacked.signatures, partitions, settings.bands, settings.rows,
                            settings.bucket_window, settings.n_jobs)
    across = pairs[(pairs[:, 0] < offset) & (pairs[:, 1] >= offset)]
    verified = verify_pairs(stacked, across[:, 0], across[:, 1], settings)

    def spread(found: np.ndarray, similarity: np.ndarray) -> pl.DataFrame:
        """(this build's record, previous id, similarity) for every record whose key is in ``found``."""
        by_key = pl.DataFrame({"_exact_root": signed_rows[found[:, 1] - offset].astype(np.uint32),
                               "_matched_id": signed["id"].gather(found[:, 0]), "_similarity": similarity})
        return candidates.select("_row", "_exact_root").join(by_key, on="_exact_root")

    names_refused = spread(verified.names_refused, np.zeros(verified.names_refused.shape[0])).height
    near = spread(verified.pairs, verified.similarity)
    best_first = {"by": ["_row", "_similarity", "_matched_id"], "descending": [False, True, False]}
    matches = (pl.concat([exact.select(list(MATCHES_SCHEMA)), near.select(list(MATCHES_SCHEMA)).cast(MATCHES_SCHEMA)])
               .sort(**best_first).group_by("_row", maintain_order=True).first())
    return matches, names_refused


def _array(column: pl.Series, dtype: type, rows: int) -> np.ndarray:
    return column.to_numpy().astype(dtype).reshape(rows, -1)
