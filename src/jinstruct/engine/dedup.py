"""The dedup stage's engine on Ray, and the two steps of its near-duplicate search that run per block.

``dedup_engine`` is the dedup stage's engine for ``stage.run_stage``: every
input with records runs ``engine.dedup_bounded.bounded_dedup``, whose driver
keeps a few small columns per record (texts and sketches stay in shards on the
workers), with or without ``dedup.previous_index``; an empty input runs the
stage's own transform in this process (there is nothing to spread).

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

from jinstruct.engine.settings import EngineSettings
from jinstruct.progress import progress_bar
from jinstruct.stage import Engine, Incoming, StageResult

log = logging.getLogger("jinstruct")

# bytes of one row of the band table (band int16, bucket uint64, row int64) and of one candidate pair (int64)
BAND_ROW_BYTES, PAIR_BYTES = 2 + 8 + 8, 8


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
