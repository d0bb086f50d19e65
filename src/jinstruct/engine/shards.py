"""Outputs written by the workers as shards, combined by the driver into the in-process bytes.

On Ray no stage brings its records back to the driver: each task writes its
block's kept and rejected records as an Arrow IPC shard into a folder beside
the stage's output (``.<records>.ray-shards-*``, on the filesystem every node
reads), and returns the shard's name and row count. The driver then writes
the final file from the shards, in input order, holding one row group at a
time:

- Parquet: polars 2.1's ``write_parquet`` (a ``sink_parquet`` of the frame)
  cuts a frame of n rows into ``parquet_row_groups(n)`` row groups, and the
  bytes of the file depend on nothing else; ``sink_parquet`` from a Python
  source that yields exactly those row groups writes the same bytes
  (tests/engine/test_shards.py checks both against ``write_parquet`` itself, so
  a polars upgrade that changes the rule fails there, not silently);
- JSON Lines: every line is encoded on its own, so the shards' lines in order
  are the file.

A retried task writes a new shard under a new name (the lost attempt's file, if
any, is never named); the folder is removed when the stage ends, and a run
killed before that leaves it to the next run, which removes it under the
output set's lock.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jinstruct.records import _PARQUET_OPTIONS, atomic_path

# polars 2.1's in-memory source: morsels of about 100,000 rows, row groups of at most 2^17 rows
_MORSEL_ROWS = 100_000
_MAX_GROUP_ROWS = 131_072


def parquet_row_groups(rows: int) -> list[int]:
    """The row-group sizes polars' ``write_parquet`` gives a one-chunk frame of ``rows`` rows:
    min(rows // 100,000, ⌈rows / 2^17⌉) groups (at least one), the first ``rows % groups``
    one row longer (measured: tests/engine/test_shards.py)."""
    if rows <= 0:
        return []
    groups = max(1, min(rows // _MORSEL_ROWS, -(-rows // _MAX_GROUP_ROWS)))
    base, extra = divmod(rows, groups)
    return [base + 1] * extra + [base] * (groups - extra)


def clear_shards(directory: Path, stage: str) -> None:
    """Remove the shard folders a killed run of ``stage`` left in ``directory`` (call under the stage's lock)."""
    for stale in sorted(Path(directory).glob(f".{stage}-*.ray-shards-*")):
        shutil.rmtree(stale, ignore_errors=True)


def remove_folders(*folders: Path) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def shard_folder(directory: Path, stage: str, role: str) -> Path:
    """A new folder for the ``role`` shards (kept, rejected, …) of one run of ``stage``: an absolute
    path, since the workers do not run in the driver's folder."""
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{stage}-{role}.ray-shards-", dir=directory))


def write_shard(frame: pl.DataFrame, folder: str) -> str:
    """Write ``frame`` as a new IPC shard in ``folder`` (whole or not at all); its file name."""
    name = f"{uuid.uuid4().hex}.arrow"
    temporary = Path(folder) / f".{name}.partial"
    frame.write_ipc(temporary, compression="uncompressed")
    os.replace(temporary, Path(folder) / name)
    return name


@dataclass
class Shards:
    """An output frame as shards in order: (file name, rows) each, and the frame's schema."""

    folder: Path
    parts: list[tuple[str, int]]
    # the chunks (row counts) of the frame the in-process engine writes, when it has several:
    # polars writes each chunk as its own row groups (dedup's kept rows keep the input's row groups)
    chunks: list[int] | None = None

    @property
    def schema(self) -> pl.Schema:
        if not self.parts:
            raise ValueError("no shards")
        return pl.Schema(pl.read_ipc_schema(self.folder / self.parts[0][0]))

    @property
    def rows(self) -> int:
        return sum(rows for _, rows in self.parts)

    @property
    def bytes(self) -> int:
        """The size of the shard files (what the workers wrote to the shared filesystem)."""
        return sum((self.folder / name).stat().st_size for name, _ in self.parts)

    def frames(self) -> Iterator[pl.DataFrame]:
        for name, rows in self.parts:
            if rows:
                yield pl.read_ipc(self.folder / name)

    def row_groups(self) -> Iterator[pl.DataFrame]:
        """The rows cut as ``write_parquet`` cuts the whole frame (each chunk by ``parquet_row_groups``),
        one group in memory at a time."""
        if self.chunks is not None and sum(self.chunks) != self.rows:
            raise ValueError(f"chunks of {sum(self.chunks)} rows for shards of {self.rows}")
        pending: list[pl.DataFrame] = []
        held = 0
        sizes = iter([size for chunk in (self.chunks if self.chunks is not None else [self.rows])
                      for size in parquet_row_groups(chunk)])
        want = next(sizes, 0)
        for frame in self.frames():
            while frame.height:
                take = min(want - held, frame.height)
                pending.append(frame.slice(0, take))
                frame = frame.slice(take)
                held += take
                if held == want:
                    yield pl.concat(pending, how="vertical", rechunk=True)
                    pending, held = [], 0
                    want = next(sizes, 0)

    def write_parquet(self, path: Path, metadata: dict[str, str] | None = None) -> None:
        """The bytes ``write_parquet`` gives the concatenated frame (``records.write_parquet``,
        or ``dedup.index.write_index`` with its metadata); the shards are removed after."""
        from polars.io.plugins import register_io_source

        options = dict(_PARQUET_OPTIONS, **({"metadata": metadata} if metadata else {}))

        def source(_columns, _predicate, _n_rows, _batch_size):
            yield from self.row_groups()

        with atomic_path(path) as tmp:
            if self.rows == 0:
                pl.DataFrame(schema=self.schema).write_parquet(tmp, **options)
            else:
                register_io_source(source, schema=self.schema).sink_parquet(tmp, **options)
        shutil.rmtree(self.folder, ignore_errors=True)

    def write_jsonl(self, path: Path) -> None:
        """The bytes of ``records.write_jsonl`` of the concatenated frame, one frame at a time."""
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            for frame in self.frames():
                frame.write_ndjson(handle)
        shutil.rmtree(self.folder, ignore_errors=True)

    def writer(self, target: Path):
        """A writer for ``stage.run_stage``: the file format of ``target``'s suffix."""
        if Path(target).suffix in (".jsonl", ".json"):
            return self.write_jsonl
        return self.write_parquet

