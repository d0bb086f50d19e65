"""``dedup_records``: exact and near-duplicate removal over a record frame.

Order of work (docs/dedup.md explains each rule):

1. one chunked pass (features.py): canonical key per record (keys.py), its
   hash, numbers, katakana words and MinHash sketches; exact duplicates = same
   task and key;
2. with ``previous_index``: records duplicating a previous release are
   rejected first (``duplicate_of_previous_release``);
3. LSH candidates among one record per distinct (task, key) whose key has at
   least n characters (shorter keys: exact dedup only), confirmed by
   previous.verify_pairs when the two records are in different groups, carry the
   same numbers, overlap field by field, are similar enough as a whole (verify:
   edits — an alignment of the keys, edits.py; otherwise Jaccard ≥ threshold, or
   one contained in the other: overlap ≥ containment), and neither replaces a
   katakana word of the other (one's katakana words contain the other's, fused
   words counting as their pieces);
4. connected components of exact and confirmed pairs; each cluster keeps one
   record (clusters.py), the others are rejected naming the kept id and similarity;
5. the groups of every cluster are merged for the split stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from jinstruct.dedup.clusters import components, keep_order, merged_groups
from jinstruct.dedup.features import canonical_keys, key_features
from jinstruct.dedup.index import index_frame
from jinstruct.dedup.lsh import candidate_pairs, exact_similarity, signature_similarity, sorted_unique
from jinstruct.dedup.previous import RowSketches, previous_release_matches, verify_pairs
from jinstruct.dedup.settings import DedupSettings, resolve_settings
from jinstruct.records import CLUSTER_SCHEMA, InputError
from jinstruct.stage import StageResult, mark_rejected

if TYPE_CHECKING:
    from jinstruct.dedup.aligned import FieldTexts

STAGE = "dedup"
EXACT, NEAR, PREVIOUS = "exact_duplicate", "near_duplicate", "duplicate_of_previous_release"


@dataclass
class DedupOutcome:
    result: StageResult      # kept records (groups merged) and rejects
    clusters: pl.DataFrame   # one row per member of every duplicate cluster (CLUSTER_SCHEMA)
    index: pl.DataFrame      # what a later release compares against (index.py)
    identity: dict           # settings the index is only comparable under


@dataclass
class _Signed:
    """Sketches per record row (exact duplicates carry their root's values)."""
    matrix: np.ndarray        # (n, num_perm) uint16 MinHash of the key's n-grams (features.py)
    fields: np.ndarray        # (n, fields × FIELD_PERM) uint16 bigram MinHash of each field, side by side
    sizes: np.ndarray         # (n, fields) distinct bigrams of each field
    rows: np.ndarray          # the rows taking part in LSH: one per distinct (task, key), not short


def _prepared(df: pl.DataFrame, settings: DedupSettings) -> tuple[pl.DataFrame, _Signed]:
    """The small per-record columns dedup works on, and the sketches of every record."""
    missing = [name for name in settings.fields if name not in df.columns]
    if missing:
        raise InputError(f"dedup: no column {', '.join(map(repr, missing))} to build the dedup key from "
                         f"(columns: {', '.join(df.columns)}); set dedup.fields or --text-field")
    features = key_features(df, settings)
    task = pl.col("task").cast(pl.String).fill_null("") if "task" in df.columns else pl.lit("")
    group = pl.col("group").cast(pl.String).fill_null(pl.col("id")) if "group" in df.columns else pl.col("id")
    work = pl.concat([
        df.select(pl.col("id").cast(pl.String), pl.col("source").cast(pl.String), _task=task, _group=group,
                  _output_chars=pl.col("output").cast(pl.String).str.len_chars().fill_null(0)
                  if "output" in df.columns else pl.lit(0, pl.UInt32)),
        features.frame,
    ], how="horizontal").with_row_index("_row").with_columns(
        _has_signature=pl.col("_key_chars") >= settings.ngram,
        _task_code=pl.col("_task").rank("dense").cast(pl.Int64),
        _group_code=pl.col("_group").rank("dense").cast(pl.Int64),
    )
    # exact duplicates: same task and key (by its 128-bit hash: the key text is gone by now)
    work = work.with_columns(_exact_root=pl.col("_row").min().over("_task", "_key_hash"))
    lsh_rows = work.filter((pl.col("_row") == pl.col("_exact_root")) & pl.col("_has_signature"))["_row"]
    return work, _Signed(features.signatures, features.fields, features.sizes, lsh_rows.to_numpy().astype(np.int64))


def _similarity(settings: DedupSettings, df: pl.DataFrame, signed: _Signed,
                left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Similarity of record pairs (by row): exact Jaccard of the keys, or the signature estimate."""
    if settings.verify != "exact":  # signature, and edits (which reports the estimate)
        return signature_similarity(signed.matrix, left, right)
    rows = sorted_unique(np.concatenate([left, right]))
    keys = canonical_keys(df[rows], settings).to_list()
    return exact_similarity(keys, np.searchsorted(rows, left), np.searchsorted(rows, right), settings.ngram)


def _row_sketches(work: pl.DataFrame, signed: _Signed) -> RowSketches:
    return RowSketches(signed.matrix, signed.fields, signed.sizes, work["_shingles"].to_numpy(),
                       work["_numbers_hash"].to_numpy(), work["_names"])


def _confirmed_near_pairs(df: pl.DataFrame, work: pl.DataFrame, signed: _Signed, settings: DedupSettings,
                          excluded: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Verified near-duplicate pairs as record rows, the number of LSH candidates, and how many
    otherwise confirmed pairs names_must_match refused."""
    pairs = candidate_pairs(signed.matrix, work["_task_code"].to_numpy(), settings.bands, settings.rows,
                       settings.bucket_window, settings.n_jobs, members=signed.rows)
    verified, names_refused = verify_candidates(df, work, signed, settings, excluded, pairs)
    return verified, int(pairs.shape[0]), names_refused


def verify_candidates(df: pl.DataFrame, work: pl.DataFrame, signed: _Signed, settings: DedupSettings,
                      excluded: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, int]:
    """The confirmed pairs among candidate ``pairs`` (rows of ``df``/``work``/``signed``), and how
    many otherwise confirmed pairs names_must_match refused. Each pair is judged on its own two
    rows, so any subset of rows (renumbered in order) gives the same verdicts."""
    left, right = pairs[:, 0], pairs[:, 1]
    groups = work["_group_code"].to_numpy()
    eligible = (groups[left] != groups[right]) & ~excluded[left] & ~excluded[right]
    verified = verify_pairs(_row_sketches(work, signed), left[eligible], right[eligible], settings,
                            similarity=lambda a, b: _similarity(settings, df, signed, a, b),
                            keys=lambda rows: _field_texts(df, rows, settings))
    return verified.pairs, int(verified.names_refused.shape[0])


def _field_texts(df: pl.DataFrame, rows: np.ndarray, settings: DedupSettings) -> FieldTexts:
    """The key fields of ``rows`` for verify: edits, folded into canonical keys (fields joined by
    FIELD_SEPARATOR) by the alignment's batches as they decode them (aligned.FieldTexts)."""
    from jinstruct.dedup.aligned import FieldTexts  # compiled code: loaded when pairs are aligned

    index = pl.Series(rows)
    return FieldTexts.from_columns([df[name].gather(index) for name in settings.fields])


def dedup_records(df: pl.DataFrame, params: dict | None, text_fields: list[str] | None = None) -> DedupOutcome:
    """Remove exact and near duplicates from ``df`` in this process (see the module docstring;
    on Ray the same steps run in tasks: engine/dedup_bounded.py)."""
    settings = resolve_settings(params, text_fields)
    identity = settings.index_identity()
    work, signed = _prepared(df, settings)
    previous, previous_names_refused = previous_release_matches(work, _row_sketches(work, signed), signed.rows,
                                                                settings, identity)
    excluded = np.zeros(work.height, dtype=bool)
    excluded[previous["_row"].to_numpy()] = True

    near_pairs, candidates, names_refused = _confirmed_near_pairs(df, work, signed, settings, excluded)
    exact_pairs = (
        work.filter(~pl.Series(excluded))
        .select(pl.col("_row").min().over("_task", "_key_hash").alias("_root"), "_row")
        .to_numpy().astype(np.int64)
    )
    roots = components(work.height, np.concatenate([exact_pairs, near_pairs]))

    work = work.with_columns(_cluster=pl.Series(roots))
    members, verdict = _verdicts(df, work, signed, settings, previous, excluded)
    rejected_mask = np.zeros(work.height, dtype=bool)
    rejected_mask[verdict["_row"].to_numpy()] = True
    groups = merged_groups(work["_group"], work["_group_code"].to_numpy(), roots)
    kept = df.filter(pl.Series(~rejected_mask))
    if "group" in df.columns:
        kept = kept.with_columns(groups.filter(pl.Series(~rejected_mask)).alias("group"))
    rejected = mark_rejected(df.filter(pl.Series(rejected_mask)), STAGE, verdict["_reason"], verdict["_detail"])

    clusters = _cluster_table(members, verdict, work)
    signed_keys = int(signed.rows.size)
    index = _release_index(work, signed, ~rejected_mask)
    stats = {"dedup": {
        "lsh_bands": settings.bands, "lsh_rows": settings.rows, "threshold": settings.threshold,
        "containment": settings.containment,
        "ngram": settings.ngram, "num_perm": settings.num_perm,
        "short_records": int((~work["_has_signature"]).sum()),
        "signed_keys": signed_keys, "candidate_pairs": candidates,
        "confirmed_near_pairs": int(near_pairs.shape[0]),
        # pairs that passed every other check and were kept apart only because each
        # record has a katakana word the other lacks (names_must_match)
        "names_refused": names_refused, "previous_release_names_refused": previous_names_refused,
        "clusters": int(members.filter(pl.col("_rank") == 0).height),
        "largest_cluster": int(members.group_by("_cluster").len()["len"].max() or 0) if members.height else 0,
        "groups_merged": int(work["_group"].n_unique() - groups.n_unique()),
    }}
    return DedupOutcome(StageResult(kept, rejected, stats), clusters, index, identity)


def _release_index(work: pl.DataFrame, signed: _Signed, keep: np.ndarray) -> pl.DataFrame:
    """The index of the kept records, in record order.

    The kept rows of each sketch matrix are moved to its top in place (the
    matrices are not used after this), so a 2.5M-record build never holds a
    second copy of its signatures.
    """
    rows = np.flatnonzero(keep)
    sketches = [_keep_rows_in_place(array, rows) for array in (signed.matrix, signed.fields, signed.sizes)]
    kept = work.filter(pl.Series(keep))
    return index_frame(kept["id"], kept["_task"], kept["_key_hash"], kept["_numbers_hash"], *sketches,
                       kept["_has_signature"].to_numpy(), kept["_shingles"], kept["_names"])


def _keep_rows_in_place(array: np.ndarray, rows: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """array[rows] for ascending ``rows``, written over the top of ``array`` (rows[i] ≥ i, so
    no row is overwritten before it is read), in chunks so the temporary stays small."""
    for start in range(0, rows.size, chunk):
        part = rows[start:start + chunk]
        array[start:start + part.size] = array[part]
    return array[:rows.size]


def ranked_members(work: pl.DataFrame, in_cluster: pl.Expr,
                   source_priority: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(members of every cluster with ``_rank``, 0 = kept, and its kept record's row, id and key
    hash; the members with ``_rank`` > 0, the records to remove), both in row order."""
    ranked = keep_order(work.filter(in_cluster).select("_row", "_cluster", "id", "source", "_task", "_output_chars",
                                                       "_key_hash"),
                        source_priority)
    kept_of_cluster = ranked.filter(pl.col("_rank") == 0).select(
        "_cluster", _kept_row="_row", _kept_id="id", _kept_key_hash="_key_hash")
    members = ranked.join(kept_of_cluster, on="_cluster").sort("_row")
    return members, members.filter(pl.col("_rank") > 0)


def cluster_verdicts(rejected: pl.DataFrame, similarity: np.ndarray, is_exact: np.ndarray,
                     settings: DedupSettings) -> pl.DataFrame:
    """One reject row (reason, detail naming the kept id, similarity) per removed cluster member."""
    method = "exact Jaccard" if settings.verify == "exact" else "MinHash estimate"
    rejected = rejected.with_columns(_similarity=pl.Series(similarity), _is_exact=pl.Series(is_exact))
    return rejected.select(
        "_row",
        _reason=pl.when("_is_exact").then(pl.lit(EXACT)).otherwise(pl.lit(NEAR)),
        _detail=pl.when("_is_exact")
        .then(pl.format("exact duplicate of {} (same normalised key, jaccard 1.00)", "_kept_id"))
        .otherwise(pl.format("near duplicate of {} (jaccard {}, {})", "_kept_id",
                             _two_decimals("_similarity"), pl.lit(method))),
        _cluster_id="_kept_id", _similarity="_similarity")


def _verdicts(df: pl.DataFrame, work: pl.DataFrame, signed: _Signed, settings: DedupSettings,
              previous: pl.DataFrame, excluded: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(members of every cluster with ``_rank``, 0 = kept; one reject row per removed record)."""
    in_cluster = (pl.len().over("_cluster") > 1) & ~pl.Series(excluded)
    members, rejected = ranked_members(work, in_cluster, settings.source_priority)
    left = rejected["_row"].to_numpy().astype(np.int64)
    right = rejected["_kept_row"].to_numpy().astype(np.int64)
    is_exact = (rejected["_key_hash"] == rejected["_kept_key_hash"]).to_numpy()
    similarity = np.ones(left.size)
    if (~is_exact).any():
        similarity[~is_exact] = _similarity(settings, df, signed, left[~is_exact], right[~is_exact])
    verdict = pl.concat([cluster_verdicts(rejected, similarity, is_exact, settings), previous_verdicts(previous)])
    return members, verdict.sort("_row")


def previous_verdicts(previous: pl.DataFrame) -> pl.DataFrame:
    """One reject row per record matching the previous release (``previous_release_matches``)."""
    return previous.select(
        "_row", _reason=pl.lit(PREVIOUS),
        _detail=pl.format("duplicate of {} in the previous release (jaccard {})", "_matched_id",
                          _two_decimals("_similarity")),
        _cluster_id="_matched_id", _similarity="_similarity")


def _two_decimals(column: str) -> pl.Expr:
    """0.8765 → "0.88", 1.0 → "1.00": fixed-width similarity text for reject details."""
    cents = (pl.col(column) * 100).round().cast(pl.Int64)
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def _cluster_table(members: pl.DataFrame, verdict: pl.DataFrame, work: pl.DataFrame) -> pl.DataFrame:
    """Every member of every cluster: the kept record (similarity 1) and each reject."""
    kept_rows = members.filter(pl.col("_rank") == 0).select(
        cluster_id="id", id="id", source="source", task="_task", kept=pl.lit(True), reason=pl.lit(None, pl.String),
        similarity=pl.lit(1.0))
    rejected_rows = verdict.join(work.select("_row", "id", "source", "_task"), on="_row").select(
        cluster_id="_cluster_id", id="id", source="source", task="_task", kept=pl.lit(False), reason="_reason",
        similarity="_similarity")
    table = pl.concat([kept_rows.cast(CLUSTER_SCHEMA), rejected_rows.cast(CLUSTER_SCHEMA)])
    return table.sort("cluster_id", "kept", "id", descending=[False, True, False])
