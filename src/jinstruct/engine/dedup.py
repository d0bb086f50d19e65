"""The dedup stage's engine on Ray, and the steps of its duplicate search that run per block.

``dedup_engine`` is the dedup stage's engine for ``stage.run_stage``: every
input with records runs ``engine.dedup_bounded.bounded_dedup``, whose driver
keeps a few small columns per record (texts and sketches stay in shards on the
workers), with or without ``dedup.previous_index``; an empty input runs the
stage's own transform in this process (there is nothing to spread).

Exact duplicates (same task and key hash) are found on the workers in one
shuffle: the key table (task code, key hash as two integers, row) of every
record is repartitioned by (task, key) with ``repartition(keys=…)``, so that
every record of a (task, key) lands in one block; each block gives every row
the smallest row of its (task, key) (``_roots_in_block``) and sends back only
the rows whose root is another row (``exact_roots``). The driver never holds a
key hash.

The near-duplicate pairs are found and verified on the workers, in two shuffles:

a. the band table (band, bucket, row) of the records taking part in LSH is
   repartitioned by (band, bucket) with ``repartition(keys=…)``, so that a
   bucket lands whole in one block; each block sorts its rows by (band,
   bucket, row) and pairs every record with its next ``bucket_window`` bucket
   neighbours (``_pairs_in_block``) — the rule of ``lsh.candidate_pairs``, so
   the candidate set is the same;
b. those pairs (one int64 each, i·n + j) are repartitioned by the pair itself,
   so that every copy of a pair (one per band it collides in) lands in one
   block: each block keeps one copy of each pair within one task
   (``candidates_in_block``) and verifies them with dedup's own
   ``verify_candidates`` (``dedup_bounded._verify_block``).

Only the confirmed pairs (and a few counts per block) come back to the driver
(``confirmed_pairs``). A row is the record's position in the input file
(sorted by id by the stage before), never a counter of the engine, so no result
depends on which task finished first.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from jinstruct.engine.session import TASK_RETRIES
from jinstruct.engine.settings import EngineSettings
from jinstruct.progress import progress_bar
from jinstruct.stage import Engine, Incoming, StageResult

log = logging.getLogger("jinstruct")

# bytes of one row of the band table (band int16, bucket uint64, row int64) and of one candidate pair (int64)
BAND_ROW_BYTES, PAIR_BYTES = 2 + 8 + 8, 8
# bytes of one row of the key table (task uint32, key hash as two uint64, row int64)
KEY_ROW_BYTES = 4 + 8 + 8 + 8


def _npy(array: np.ndarray) -> bytes:
    """An array with its dtype and shape (whatever dedup's features use), as bytes."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _from_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def key_rows(task_code: np.ndarray, hashes: pl.Series, first_row: int) -> pa.Table:
    """The key table of one block: (task code, key hash as two UInt64 halves, global row) of each
    record, from its ``_key_hash`` (128 bits as 32 hex digits) and the records' first row."""
    if hashes.len():
        halves = np.frombuffer(bytes.fromhex("".join(hashes.to_list())), dtype=">u8").reshape(-1, 2)
        halves = halves.astype(np.uint64)
    else:
        halves = np.empty((0, 2), dtype=np.uint64)
    return pa.table({"task": pa.array(np.asarray(task_code, dtype=np.uint32)), "hi": halves[:, 0],
                     "lo": halves[:, 1], "row": np.arange(first_row, first_row + halves.shape[0], dtype=np.int64)})


def smallest_rows(task: np.ndarray, hi: np.ndarray, lo: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry, the smallest of ``rows`` with its task and key hash (``dedup.run._prepared``'s
    ``_exact_root``), by sorting, not a window (0.3 KB per record in polars)."""
    order = np.lexsort((rows, lo, hi, task))  # by task, key, then row: each run starts at its smallest row
    starts = np.ones(order.size, dtype=bool)
    if order.size:
        starts[1:] = ((task[order[1:]] != task[order[:-1]]) | (hi[order[1:]] != hi[order[:-1]])
                      | (lo[order[1:]] != lo[order[:-1]]))
    first = np.flatnonzero(starts)
    smallest = np.empty(order.size, dtype=rows.dtype)
    smallest[order] = np.repeat(rows[order[first]], np.diff(np.append(first, order.size)))
    return smallest


_ROOTS = pa.schema([("later", pa.large_binary()), ("rows", pa.int64())])


def _roots_in_block(batch: pa.Table) -> pa.Table:
    """(row, root) of the rows of this block whose root (the smallest row of their (task, key),
    every one of which is in this block) is another row, and how many rows the block held."""
    task, hi, lo, rows = (batch[name].to_numpy() for name in ("task", "hi", "lo", "row"))
    roots = smallest_rows(task, hi, lo, rows)
    later = np.flatnonzero(roots != rows)
    return pa.table([[_npy(np.stack([rows[later], roots[later]], axis=1).astype(np.int64))], [batch.num_rows]],
                    schema=_ROOTS)


def exact_roots(key_tables: list, total: int, partitions: int) -> np.ndarray:
    """Each row's exact root (UInt32) from the key tables of the blocks (object refs of
    ``key_rows`` tables, every row 0..total-1 once), by a shuffle on (task, key): the driver gets
    back only the rows whose root is another row, and counts the shuffle's blocks on a bar."""
    import ray.data

    roots_ds = (ray.data.from_arrow_refs(key_tables).repartition(partitions, keys=["task", "hi", "lo"])
                .map_batches(_roots_in_block, batch_format="pyarrow", batch_size=None, max_retries=TASK_RETRIES))
    roots = np.arange(total, dtype=np.uint32)
    seen, done = 0, 0
    with progress_bar("dedup exact on ray", total=partitions, unit="block") as bar:
        for table in roots_ds.iter_batches(batch_format="pyarrow", batch_size=None):
            for row in table.to_pylist():
                later = _from_npy(row["later"])
                roots[later[:, 0]] = later[:, 1]
                seen += row["rows"]
                done += 1
                bar.update(1)
        bar.update(max(0, partitions - done))  # partitions no key hashed to: Ray runs no task for them
    if seen != total:
        raise RuntimeError(f"dedup on ray: the exact shuffle saw {seen} records, {total} went in")
    return roots


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


@dataclass
class BlockCandidates:
    """The candidates of one verify block: each pair once, within one task, on renumbered rows."""
    copies: int            # pairs as they arrived (one copy per band the pair collides in, per bucket block)
    involved: np.ndarray   # the rows the pairs join, ascending
    local: np.ndarray      # (k, 2) the pairs as positions in ``involved``

    @property
    def count(self) -> int:
        return int(self.local.shape[0])


def candidates_in_block(batch: pa.Table, task_code: np.ndarray, total: int) -> BlockCandidates:
    """The pairs of a verify block (every copy of each lands in it): unique, within one task
    (``task_code`` of every row), renumbered 0..k-1 over the rows they join."""
    packed = np.unique(batch["pair"].to_numpy()) if batch.num_rows else np.empty(0, dtype=np.int64)
    left, right = packed // total, packed % total
    same_task = task_code[left] == task_code[right]
    left, right = left[same_task], right[same_task]
    involved = np.unique(np.concatenate([left, right]))
    local = np.stack([np.searchsorted(involved, left), np.searchsorted(involved, right)], axis=1)
    return BlockCandidates(int(batch.num_rows), involved, local)


def confirmed_pairs(verified, blocks_count: int, total: int) -> tuple[np.ndarray, int, int, int]:
    """(confirmed pairs as rows (i, j) in the in-process order, candidates seen, refused, copies of
    candidate pairs shuffled) from the verify blocks of a Ray dataset, counted on a progress bar."""
    confirmed, candidates, refused, copies = [], 0, 0, 0
    with progress_bar("dedup verify on ray", total=blocks_count, unit="block") as bar:
        for table in verified.iter_batches(batch_format="pyarrow", batch_size=None):
            for row in table.to_pylist():
                confirmed.append(_from_npy(row["confirmed"]))
                candidates += row["candidates"]
                refused += row["refused"]
                copies += row["copies"]
                bar.update(1)
    # every pair lives in one block, so blocks never share a pair: sorting gives the in-process order
    packed = np.sort(np.concatenate(confirmed)) if confirmed else np.empty(0, dtype=np.int64)
    return np.stack([packed // total, packed % total], axis=1), candidates, refused, copies


def dedup_engine(input_path: Path, settings: EngineSettings) -> Engine:
    """An engine for ``stage.run_stage``: dedup with the records, their features and the candidate
    pairs on the Ray workers (``dedup_bounded``); the decisions on the driver."""
    def on_ray(transform, read, run) -> tuple[Incoming, StageResult]:
        from jinstruct.engine.batches import parquet_rows
        from jinstruct.engine.dedup_bounded import bounded_dedup
        from jinstruct.outputs import settled_input

        if parquet_rows(settled_input(Path(input_path))) > 0:
            return bounded_dedup(run, Path(input_path), settings)
        incoming = read()  # no records: nothing to spread over workers
        return incoming, transform(incoming.frame, run)
    return on_ray
