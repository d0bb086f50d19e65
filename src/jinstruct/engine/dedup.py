"""The data-parallel halves of dedup on Ray; the decisions stay in jinstruct.dedup.

``dedup_engine`` is the dedup stage's engine for ``stage.run_stage``: it runs
the stage's own transform on the driver with ``RunSettings.cluster`` set to a
``RayDedup``, and ``dedup_records(..., engine=RayDedup(...))`` runs dedup's own code on the
driver with two steps replaced:

1. key features (canonical keys, their hashes, MinHash signatures, field
   sketches — dedup's costliest step) come from ``dedup.features.key_features``
   run per block in ``map_batches`` tasks; the same pass also hashes each
   signed record's LSH band slices with ``dedup.lsh.band_hashes``;
2. the near-duplicate pairs (``confirmed_near_pairs``) are found and verified on
   the workers, in two shuffles:

   a. the band table (band, bucket, row) of the records taking part in LSH is
      repartitioned by (band, bucket) with ``repartition(keys=…)``, so that a
      bucket lands whole in one block; each block sorts its rows by (band,
      bucket, row) and pairs every record with its next ``bucket_window``
      bucket neighbours — the rule of ``lsh.candidate_pairs``, so the
      candidate set is the same;
   b. those pairs (one int64 each, i·n + j) are repartitioned by the pair
      itself, so that every copy of a pair (one per band it collides in) lands
      in one block: each block drops its copies and pairs across tasks, counts
      its candidates and verifies them with ``dedup.run.verify_candidates`` —
      dedup's own checks — on its rows' sketches and key text, which the driver
      put once into the object store (read zero-copy on each node).

   Only the confirmed pairs (and two counts per block) come back to the driver.

Exact duplicates (the smallest row per task and key hash), connected components
over the exact and confirmed edges, the keep rule and the reject details then run
unchanged on the driver: a row is the record's position in the input file (sorted
by id by the stage before), never a counter of the engine, so no result depends on
which task finished first.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from jinstruct.dedup.features import KeyFeatures, key_features
from jinstruct.dedup.lsh import band_hashes
from jinstruct.dedup.run import _Signed, verify_candidates
from jinstruct.dedup.settings import DedupSettings
from jinstruct.engine.batches import block_frame, blocks
from jinstruct.engine.session import TASK_RETRIES, ray_session
from jinstruct.engine.settings import EngineSettings
from jinstruct.progress import progress_bar
from jinstruct.stage import Engine, Incoming, StageResult

log = logging.getLogger("jinstruct")

_FEATURES = pa.schema([("frame", pa.large_binary()), ("signatures", pa.large_binary()),
                       ("fields", pa.large_binary()), ("sizes", pa.large_binary()), ("bands", pa.large_binary()),
                       ("rows", pa.int64())])


def task_codes(df: pl.DataFrame) -> dict[str, int]:
    """Each task's LSH partition: its dense rank among the tasks (as dedup.run numbers them)."""
    tasks = df["task"].cast(pl.String).fill_null("").unique().sort() if "task" in df.columns else pl.Series([""])
    return {task: code for code, task in enumerate(tasks.to_list(), start=1)}


def _features_packed(batch: pa.Table, settings: DedupSettings, codes: dict[str, int]) -> pa.Table:
    records = block_frame(batch)
    features = key_features(records, settings)
    partitions = np.array([codes[task] for task in (records["task"].cast(pl.String).fill_null("").to_list()
                                                    if "task" in records.columns else [""] * records.height)],
                          dtype=np.int64)
    signed = np.flatnonzero(features.frame["_key_chars"].to_numpy() >= settings.ngram).astype(np.int64)
    # one row of bucket hashes per record (zero for records too short to sign: never used)
    buckets = np.zeros((records.height, settings.bands), dtype=np.uint64)
    for band in range(settings.bands):
        buckets[signed, band] = band_hashes(features.signatures, signed, band, settings.rows, partitions)
    frame = io.BytesIO()
    features.frame.write_ipc(frame, compression="uncompressed")
    return pa.table([[frame.getvalue()], [_npy(features.signatures)], [_npy(features.fields)],
                     [_npy(features.sizes)], [_npy(buckets)], [records.height]], schema=_FEATURES)


def _npy(array: np.ndarray) -> bytes:
    """An array with its dtype and shape (whatever dedup's features use), as bytes."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _from_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def _pairs_in_block(batch: pa.Table, window: int, total: int) -> pa.Table:
    """Candidate pairs (packed i·total + j, i < j) of the buckets held whole by this block."""
    table = pl.from_arrow(batch).sort("band", "bucket", "row")
    band, bucket, row = (table[name].to_numpy() for name in ("band", "bucket", "row"))
    found = [np.empty(0, dtype=np.int64)]
    for distance in range(1, window + 1):
        same = np.flatnonzero((bucket[distance:] == bucket[:-distance]) & (band[distance:] == band[:-distance]))
        if same.size == 0:
            break
        found.append(row[same] * np.int64(total) + row[same + distance])
    return pa.table({"pair": np.unique(np.concatenate(found))})


def confirmed_pairs(verified, blocks_count: int, total: int) -> tuple[np.ndarray, int, int]:
    """(confirmed pairs as rows (i, j) in the in-process order, candidates seen, refused) from
    the verify blocks of a Ray dataset, counted on a progress bar."""
    confirmed, candidates, refused = [], 0, 0
    with progress_bar("dedup verify on ray", total=blocks_count, unit="block") as bar:
        for table in verified.iter_batches(batch_format="pyarrow", batch_size=None):
            for row in table.to_pylist():
                confirmed.append(_from_npy(row["confirmed"]))
                candidates += row["candidates"]
                refused += row["refused"]
                bar.update(1)
    # every pair lives in one block, so blocks never share a pair: sorting gives the in-process order
    packed = np.sort(np.concatenate(confirmed)) if confirmed else np.empty(0, dtype=np.int64)
    return np.stack([packed // total, packed % total], axis=1), candidates, refused


_VERIFIED = pa.schema([("confirmed", pa.large_binary()), ("candidates", pa.int64()), ("refused", pa.int64())])
# what verification reads of each row besides its sketches (dedup.run._row_sketches, verify_candidates)
_WORK_COLUMNS = ("_group_code", "_task_code", "_shingles", "_numbers_hash", "_names")


def _verify_block(batch: pa.Table, payload: list, total: int, settings: DedupSettings) -> pa.Table:
    """The candidates of this block (every copy of each lands here): unique, within one task,
    verified by dedup's own ``verify_candidates`` on the rows they join, renumbered 0..k-1."""
    import ray

    packed = np.unique(batch["pair"].to_numpy()) if batch.num_rows else np.empty(0, dtype=np.int64)
    rows = ray.get(payload[0])
    left, right = packed // total, packed % total
    codes = rows["task_code"]
    same_task = codes[left] == codes[right]
    left, right = left[same_task], right[same_task]
    candidates = int(left.size)
    confirmed, refused = np.empty(0, dtype=np.int64), 0
    if candidates:
        involved = np.unique(np.concatenate([left, right]))
        local = np.stack([np.searchsorted(involved, left), np.searchsorted(involved, right)], axis=1)
        take = pa.array(involved)
        signed = _Signed(rows["signatures"][involved], rows["fields"][involved], rows["sizes"][involved],
                         np.empty(0, dtype=np.int64))
        pairs, refused = verify_candidates(pl.from_arrow(rows["records"].take(take)),
                                           pl.from_arrow(rows["work"].take(take)), signed, settings,
                                           rows["excluded"][involved], local)
        confirmed = involved[pairs[:, 0]] * np.int64(total) + involved[pairs[:, 1]]
    return pa.table([[_npy(confirmed.astype(np.int64))], [candidates], [refused]], schema=_VERIFIED)


class RayDedup:
    """Key features and LSH candidates for ``dedup_records`` computed on Ray (see the module doc)."""

    def __init__(self, input_path, settings: EngineSettings):
        self.input_path = input_path
        self.settings = settings
        self.buckets: np.ndarray | None = None   # (n, bands) band hashes, from the features pass
        self.shuffled_bytes = 0                   # band table and candidate pairs sent through the two shuffles
        self.broadcast_bytes = 0                  # sketches and key text put once into the object store

    def key_features(self, df: pl.DataFrame, settings: DedupSettings) -> KeyFeatures:
        one_thread = dataclasses.replace(settings, n_jobs=1)  # Ray's workers are the parallelism
        total = df.height
        if total == 0:  # no blocks to send
            self.buckets = np.empty((0, settings.bands), dtype=np.uint64)
            return key_features(df, settings)
        packed = blocks(self.input_path, self.settings).map_batches(
            _features_packed, fn_kwargs={"settings": one_thread, "codes": task_codes(df)},
            batch_format="pyarrow", batch_size=None,
            max_retries=TASK_RETRIES)
        frames = []
        signatures = np.empty((total, settings.num_perm), dtype=np.uint16)
        sketches, sizes, buckets = [], [], []
        done = 0
        with progress_bar("dedup keys on ray", total=math.ceil(total / self.settings.block_records),
                          unit="block") as bar:
            for table in packed.iter_batches(batch_format="pyarrow", batch_size=None):
                for row in table.to_pylist():
                    n = row["rows"]
                    frames.append(pl.read_ipc(io.BytesIO(row["frame"])))
                    signatures[done:done + n] = _from_npy(row["signatures"])
                    sketches.append(_from_npy(row["fields"]))
                    sizes.append(_from_npy(row["sizes"]))
                    buckets.append(_from_npy(row["bands"]))
                    done += n
                    bar.update(1)
        if done != total:
            raise RuntimeError(f"dedup on ray: {done} records came back from the workers, {total} went in")
        self.buckets = np.concatenate(buckets)
        return KeyFeatures(pl.concat(frames, rechunk=True), signatures, np.concatenate(sketches),
                           np.concatenate(sizes))

    def _band_tables(self, members: np.ndarray, bands: int) -> list[pa.Table]:
        """(band, bucket, row) of every LSH member, in tables of about block_records records."""
        chunk = self.settings.block_records
        tables = []
        for start in range(0, members.size, chunk):
            part = members[start:start + chunk]
            tables.append(pa.table({
                "band": np.repeat(np.arange(bands, dtype=np.int16)[None, :], part.size, axis=0).ravel(),
                "bucket": self.buckets[part].ravel(),
                "row": np.repeat(part, bands),
            }))
        return tables

    def confirmed_near_pairs(self, df: pl.DataFrame, work: pl.DataFrame, signed: _Signed, settings: DedupSettings,
                             excluded: np.ndarray) -> tuple[np.ndarray, int, int]:
        """Same contract as ``dedup.run._confirmed_near_pairs``: the confirmed pairs (i < j, ascending),
        the number of distinct LSH candidates and how many pairs names_must_match refused."""
        import ray
        import ray.data

        total, members = work.height, signed.rows
        if members.size < 2:
            return np.empty((0, 2), dtype=np.int64), 0, 0
        assert self.buckets is not None and self.buckets.shape == (total, settings.bands), "key_features runs first"
        tables = self._band_tables(members, settings.bands)
        partitions_count = len(tables)  # blocks of about block_records × bands rows
        candidates_ds = (ray.data.from_arrow(tables)
                         .repartition(partitions_count, keys=["band", "bucket"])
                         .map_batches(_pairs_in_block, fn_kwargs={"window": settings.bucket_window, "total": total},
                                      batch_format="pyarrow", batch_size=None, max_retries=TASK_RETRIES)
                         .materialize())
        band_bytes = sum(table.nbytes for table in tables)
        del tables
        pair_bytes = candidates_ds.size_bytes()
        self.shuffled_bytes = band_bytes + pair_bytes
        rows = {
            "records": df.select(list(settings.fields)).to_arrow(),
            "work": work.select(_WORK_COLUMNS).to_arrow(),
            "signatures": signed.matrix, "fields": signed.fields, "sizes": signed.sizes,
            "excluded": excluded, "task_code": work["_task_code"].to_numpy(),
        }
        self.broadcast_bytes = sum(value.nbytes for value in rows.values())
        payload = [ray.put(rows)]  # in a list: Ray Data passes the reference on, each task reads it
        del rows
        verified_ds = (candidates_ds.repartition(partitions_count, keys=["pair"])
                       .map_batches(_verify_block, fn_kwargs={"payload": payload, "total": total,
                                                              "settings": settings},
                                    batch_format="pyarrow", batch_size=None, max_retries=TASK_RETRIES))
        return confirmed_pairs(verified_ds, partitions_count, total)


def dedup_engine(input_path: Path, settings: EngineSettings) -> Engine:
    """An engine for ``stage.run_stage``: read here, run the dedup transform here with key
    features and LSH buckets computed on Ray (``run.cluster``); the decisions stay here."""
    def on_ray(transform, read, run) -> tuple[Incoming, StageResult]:
        from jinstruct.dedup.settings import resolve_settings
        from jinstruct.engine.batches import parquet_rows
        from jinstruct.engine.dedup_bounded import bounded_dedup
        from jinstruct.outputs import settled_input

        dedup = resolve_settings(run.params.as_params(), list(run.text_fields) if run.fields_given else None)
        if not dedup.previous_index and parquet_rows(settled_input(Path(input_path))) > 0:
            return bounded_dedup(run, Path(input_path), settings)
        # a previous release's index, or no records: the driver holds the records (below)
        incoming = read()
        cluster = RayDedup(Path(input_path), settings)
        with ray_session(settings):
            result = transform(incoming.frame, dataclasses.replace(run, cluster=cluster))
        log.info(f"[dedup] ray: shuffled {cluster.shuffled_bytes} bytes (band table by (band, bucket), "
                 f"candidate pairs by pair); {cluster.broadcast_bytes} bytes of sketches and key text "
                 "put in the object store for verification")
        return incoming, result
    return on_ray
