"""The data-parallel halves of dedup on Ray; the decisions stay in jinstruct.dedup.

``dedup_engine`` is the dedup stage's engine for ``stage.run_stage``: it runs
the stage's own transform on the driver with ``RunSettings.cluster`` set to a
``RayDedup``, and ``dedup_records(..., engine=RayDedup(...))`` runs dedup's own code on the
driver with two steps replaced:

1. key features (canonical keys, their hashes, MinHash signatures, field
   sketches — dedup's costliest step) come from ``dedup.features.key_features``
   run per block in ``map_batches`` tasks; the same pass also hashes each
   signed record's LSH band slices with ``dedup.lsh.band_hashes``;
2. LSH candidate pairs come from a band table (band, bucket, row) of the records
   taking part in LSH, repartitioned by (band, bucket) with
   ``repartition(keys=…)`` so that a bucket lands whole in one block; each
   block sorts its rows by (band, bucket, row) and pairs every record with its
   next ``bucket_window`` bucket neighbours — the rule of ``lsh.candidate_pairs``,
   so the candidate set is the same.

Exact duplicates (the smallest row per task and key hash), verification of the
candidates, connected components, the keep rule and the reject details then
run unchanged on the driver over the edge list: a row is the record's position
in the input file (sorted by id by the stage before), never a counter of the
engine, so no result depends on which task finished first.
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
from jinstruct.dedup.settings import DedupSettings
from jinstruct.engine.batches import blocks
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
    records = pl.from_arrow(batch, rechunk=False)
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


class RayDedup:
    """Key features and LSH candidates for ``dedup_records`` computed on Ray (see the module doc)."""

    def __init__(self, input_path, settings: EngineSettings):
        self.input_path = input_path
        self.settings = settings
        self.buckets: np.ndarray | None = None   # (n, bands) band hashes, from the features pass
        self.shuffled_bytes = 0                   # the band table sent through the (band, bucket) shuffle

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

    def candidate_pairs(self, signatures: np.ndarray, partitions: np.ndarray, bands: int, rows: int,
                        window: int, n_jobs: int = 1, members: np.ndarray | None = None) -> np.ndarray:
        """Same contract as ``dedup.lsh.candidate_pairs`` (on the rows signed in ``key_features``)."""
        import ray.data

        total = signatures.shape[0]
        members = np.arange(total, dtype=np.int64) if members is None else np.asarray(members, dtype=np.int64)
        if members.size < 2:
            return np.empty((0, 2), dtype=np.int64)
        assert self.buckets is not None and self.buckets.shape == (total, bands), "key_features runs first"
        chunk = self.settings.block_records
        tables = []
        for start in range(0, members.size, chunk):
            part = members[start:start + chunk]
            tables.append(pa.table({
                "band": np.repeat(np.arange(bands, dtype=np.int16)[None, :], part.size, axis=0).ravel(),
                "bucket": self.buckets[part].ravel(),
                "row": np.repeat(part, bands),
            }))
        self.shuffled_bytes = sum(table.nbytes for table in tables)
        partitions_count = math.ceil(members.size / chunk)  # blocks of about block_records × bands rows
        pairs_ds = (ray.data.from_arrow(tables)
                    .repartition(partitions_count, keys=["band", "bucket"])
                    .map_batches(_pairs_in_block, fn_kwargs={"window": window, "total": total},
                                 batch_format="pyarrow", batch_size=None, max_retries=TASK_RETRIES))
        found = []
        with progress_bar("dedup buckets on ray", total=partitions_count, unit="block") as bar:
            for table in pairs_ds.iter_batches(batch_format="pyarrow", batch_size=None):
                found.append(table["pair"].to_numpy())
                bar.update(1)
        packed = np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)
        pairs = np.stack([packed // total, packed % total], axis=1)
        return pairs[partitions[pairs[:, 0]] == partitions[pairs[:, 1]]]


def dedup_engine(input_path: Path, settings: EngineSettings) -> Engine:
    """An engine for ``stage.run_stage``: read here, run the dedup transform here with key
    features and LSH buckets computed on Ray (``run.cluster``); the decisions stay here."""
    def on_ray(transform, read, run) -> tuple[Incoming, StageResult]:
        incoming = read()
        cluster = RayDedup(Path(input_path), settings)
        with ray_session(settings):
            result = transform(incoming.frame, dataclasses.replace(run, cluster=cluster))
        log.info(f"[dedup] ray: shuffled {cluster.shuffled_bytes} bytes of band table by (band, bucket)")
        return incoming, result
    return on_ray
