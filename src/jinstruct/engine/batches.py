"""A per-batch stage on Ray Data: the same library function on every block.

The input Parquet file is read with ``ray.data.read_parquet`` (so it must live
where every node can read it), cut into blocks of ``block_records`` records,
and each block goes through the stage's ``BatchPlan.apply`` in a
``map_batches(batch_format="pyarrow")`` task. A block's result travels back
packed in one row (its kept and rejected records as Arrow IPC, its stats
pickled), in input order (``preserve_order``). The driver concatenates them,
merges the stats and hands the result to ``stage.run_stage``, which checks and
publishes it exactly as it does the in-process engine's, so both engines
produce the same bytes.
"""

from __future__ import annotations

import io
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

_PACKED = pa.schema([("kept", pa.large_binary()), ("rejected", pa.large_binary()), ("stats", pa.large_binary())])


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


def _apply_packed(batch: pa.Table, plan: BatchPlan) -> pa.Table:
    result = plan.apply(block_frame(batch))
    return pa.table([[_ipc(result.kept)], [_ipc(result.rejected)], [pickle.dumps(result.extra_stats)]],
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
    """The records of ``path`` as a Ray dataset of blocks of ``block_records`` rows, in file order."""
    import ray.data

    return ray.data.read_parquet(str(path.resolve())).repartition(target_num_rows_per_block=settings.block_records)


def batch_engine(stage: str, plan: BatchPlan, input_path: Path, settings: EngineSettings) -> Engine:
    """An engine for ``stage.run_stage`` that runs ``plan`` over the blocks of ``input_path`` on Ray.

    The stage's in-process transform and reader are not used: every block goes
    through ``plan.apply`` (the same library function). The driver reads only
    ``id`` and ``source`` of the input, which is all the runner's accounting needs.
    """
    def on_ray(_transform, _read, _settings) -> tuple[Incoming, StageResult]:
        path = settled_input(Path(input_path))
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        rows = parquet_rows(path)
        kept, rejected, stats = [], [], []
        with ray_session(settings):
            packed = blocks(path, settings).map_batches(
                _apply_packed, fn_kwargs={"plan": plan}, batch_format="pyarrow", batch_size=None,
                max_retries=TASK_RETRIES)
            with progress_bar(f"{stage} on ray", total=math.ceil(rows / settings.block_records), unit="block") as bar:
                for table in packed.iter_batches(batch_format="pyarrow", batch_size=None):
                    for row in table.to_pylist():
                        kept.append(pl.read_ipc(io.BytesIO(row["kept"])))
                        rejected.append(pl.read_ipc(io.BytesIO(row["rejected"])))
                        stats.append(pickle.loads(row["stats"]))
                        bar.update(1)
        if not kept:  # an empty input has no blocks: the plan decides on the empty frame itself
            empty = plan.apply(pl.read_parquet(path))
            kept, rejected, stats = [empty.kept], [empty.rejected], [empty.extra_stats]
        result = StageResult(pl.concat(kept, how="vertical", rechunk=True),
                             pl.concat(rejected, how="vertical", rechunk=True), plan.merge_stats(stats))
        return Incoming(pl.read_parquet(path, columns=["id", "source"])), result
    return on_ray
