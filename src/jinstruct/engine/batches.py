"""A per-batch stage on Ray Data: the same library function on every block.

The input Parquet file is read with ``ray.data.read_parquet`` (so it must live
where every node can read it), cut into blocks of ``block_records`` records,
and each block goes through the stage's ``BatchPlan.apply`` in a
``map_batches(batch_format="pyarrow")`` task. The task writes the block's kept
and rejected records as shards (``engine/shards.py``) and sends back, packed in
one row, in input order (``preserve_order``): the shards' names and row counts,
the id, source, task and reason of each of its records (Arrow IPC) and its stats
(pickled). The driver merges the stats and hands ``stage.run_stage`` those small
frames for the accounting and the stats file, with writers that combine the
shards into the bytes ``write_parquet`` gives the whole frame: the driver never
holds a record's text (its memory grows by the few columns of each record).
"""

from __future__ import annotations

import io
import logging
import math
import pickle
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from jinstruct.engine.plans import BatchPlan
from jinstruct.engine.session import TASK_RETRIES, ray_session
from jinstruct.engine.settings import EngineSettings
from jinstruct.outputs import settled_input
from jinstruct.progress import progress_bar
from jinstruct.records import SCHEMA_FIELDS, InputError
from jinstruct.stage import Engine, Incoming, StageResult

_PACKED = pa.schema([("kept", pa.large_binary()), ("rejected", pa.large_binary()), ("stats", pa.large_binary()),
                     ("kept_shard", pa.string()), ("kept_rows", pa.int64()),
                     ("rejected_shard", pa.string()), ("rejected_rows", pa.int64())])
log = logging.getLogger("jinstruct")
# what the runner's accounting and stats read of kept and rejected records (stage.stage_stats)
ACCOUNTED = ("id", "source", "task", "reason")


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="uncompressed")
    return buffer.getvalue()


def block_frame(batch: pa.Table) -> pl.DataFrame:
    """A block as one contiguous frame, as the in-process engine reads a file.

    A Ray block is often several Arrow chunks (repartition concatenates slices), and
    polars 2.1.0 panics on some string expressions of the filters over a multi-chunk
    string column ("assertion failed: i < self.len()" in binview, found by
    bench/ray_stages.py at 100k records); one copy per block avoids it."""
    return pl.from_arrow(batch, rechunk=True)


def accounted(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns of ``frame`` the runner's checks and stats read."""
    return frame.select([name for name in ACCOUNTED if name in frame.columns])


def _apply_packed(batch: pa.Table, plan: BatchPlan, kept_folder: str, rejected_folder: str) -> pa.Table:
    from jinstruct.engine.shards import write_shard

    result = plan.apply(block_frame(batch))
    return pa.table([[_ipc(accounted(result.kept))], [_ipc(accounted(result.rejected))],
                     [pickle.dumps(result.extra_stats)],
                     [write_shard(result.kept, kept_folder)], [result.kept.height],
                     [write_shard(result.rejected, rejected_folder)], [result.rejected.height]],
                    schema=_PACKED)


def parquet_rows(path: Path) -> int:
    """The record count of a Parquet file, checking that it holds instruction records."""
    try:
        metadata = pq.ParquetFile(path)
    except (OSError, pa.ArrowException):
        raise InputError(f"{path}: not a readable Parquet file") from None
    missing = [name for name in SCHEMA_FIELDS if name not in metadata.schema_arrow.names]
    if missing:
        raise InputError(f"{path}: not instruction records (missing {', '.join(missing)})")
    return metadata.metadata.num_rows


def blocks(path: Path, settings: EngineSettings):
    """The records of ``path`` as a Ray dataset of blocks of ``block_records`` rows (the last one
    shorter), in file order.

    ``strict=True``: without it Ray 2.60 only splits blocks larger than the target and never joins
    smaller ones, so the reader's blocks decide the block count. The V1 reader (``ray_session``)
    cuts a file into blocks by its own size estimate (a 40,000-record test file of 117 MB came out
    as 111 blocks of 361 records), which would make the block, the unit of work, retry, memory and
    progress, something other than ``JINSTRUCT_RAY_BLOCK_RECORDS`` records."""
    import ray.data

    return ray.data.read_parquet(str(path.resolve())).repartition(target_num_rows_per_block=settings.block_records,
                                                                  strict=True)


def batch_engine(stage: str, plan: BatchPlan, input_path: Path, settings: EngineSettings) -> Engine:
    """An engine for ``stage.run_stage`` that runs ``plan`` over the blocks of ``input_path`` on Ray.

    The stage's in-process transform and reader are not used: every block goes
    through ``plan.apply`` (the same library function) and is written by its task
    as shards. The driver reads only ``id`` and ``source`` of the input and gets
    back the accounted columns of the results, which is all the runner's checks need.
    """
    from jinstruct.engine.shards import clear_shards, remove_folders, shard_folder

    def on_ray(_transform, _read, _settings) -> tuple[Incoming, StageResult]:
        path = settled_input(Path(input_path))
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        rows = parquet_rows(path)
        clear_shards(path.parent, stage)
        kept_folder, rejected_folder = (shard_folder(path.parent, stage, role) for role in ("kept", "rejected"))
        try:
            kept, rejected, stats, kept_shards, rejected_shards = _run_blocks(
                stage, plan, path, rows, settings, kept_folder, rejected_folder)
        except BaseException:
            remove_folders(kept_folder, rejected_folder)  # no output of this run is kept
            raise
        if not kept:  # an empty input has no blocks: the plan decides on the empty frame itself
            remove_folders(kept_folder, rejected_folder)
            empty = plan.apply(pl.read_parquet(path))
            return (Incoming(pl.read_parquet(path, columns=["id", "source"])),
                    StageResult(empty.kept, empty.rejected, plan.merge_stats([empty.extra_stats])))
        result = StageResult(pl.concat(kept, how="vertical", rechunk=True),
                             pl.concat(rejected, how="vertical", rechunk=True), plan.merge_stats(stats),
                             writers={"records": kept_shards.writer, "rejects": rejected_shards.writer},
                             scratch=(kept_folder, rejected_folder))
        if result.kept.height != kept_shards.rows or result.rejected.height != rejected_shards.rows:
            remove_folders(kept_folder, rejected_folder)
            raise RuntimeError(f"{stage} on ray: the shards hold {kept_shards.rows} + {rejected_shards.rows} "
                               f"records, the tasks reported {result.kept.height} + {result.rejected.height}")
        if plan.keeps_input_chunks:
            if kept_shards.rows != rows:
                remove_folders(kept_folder, rejected_folder)
                raise RuntimeError(f"{stage} on ray: a plan that keeps the input's chunks rejected records")
            metadata = pq.ParquetFile(path).metadata
            kept_shards.chunks = [n for n in (metadata.row_group(i).num_rows
                                              for i in range(metadata.num_row_groups)) if n]
        log.info(f"[{stage}] ray: wrote {kept_shards.bytes + rejected_shards.bytes} bytes of shards")
        return Incoming(pl.read_parquet(path, columns=["id", "source"])), result
    return on_ray


def _run_blocks(stage: str, plan: BatchPlan, path: Path, rows: int, settings: EngineSettings,
                kept_folder: Path, rejected_folder: Path):
    """Every block through ``plan`` on Ray: the accounted frames, stats and shards, in input order."""
    from jinstruct.engine.shards import Shards

    kept, rejected, stats = [], [], []
    kept_shards, rejected_shards = Shards(kept_folder, []), Shards(rejected_folder, [])
    with ray_session(settings):
        packed = blocks(path, settings).map_batches(
            _apply_packed, fn_kwargs={"plan": plan, "kept_folder": str(kept_folder),
                                      "rejected_folder": str(rejected_folder)},
            batch_format="pyarrow", batch_size=None, max_retries=TASK_RETRIES)
        with progress_bar(f"{stage} on ray", total=math.ceil(rows / settings.block_records), unit="block") as bar:
            for table in packed.iter_batches(batch_format="pyarrow", batch_size=None):
                for row in table.to_pylist():
                    kept.append(pl.read_ipc(io.BytesIO(row["kept"])))
                    rejected.append(pl.read_ipc(io.BytesIO(row["rejected"])))
                    stats.append(pickle.loads(row["stats"]))
                    kept_shards.parts.append((row["kept_shard"], row["kept_rows"]))
                    rejected_shards.parts.append((row["rejected_shard"], row["rejected_rows"]))
                    bar.update(1)
    return kept, rejected, stats, kept_shards, rejected_shards
