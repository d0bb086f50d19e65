"""Outputs written as shards by the workers and combined by the driver give the in-process bytes."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from jinstruct.engine.shards import Shards, clear_shards, parquet_row_groups, shard_folder, write_shard
from jinstruct.records import write_jsonl, write_parquet


def _records(rows: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "id": [f"r{i:07d}" for i in range(rows)],
        "task": rng.choice(["qa", "summarise", None], rows).tolist(),
        "output": ["日本語の答え" * int(k) + ("\n\"引用\"" if k % 5 == 0 else "") for k in rng.integers(0, 40, rows)],
        "n": pl.Series([None if k % 7 == 0 else k for k in range(rows)], dtype=pl.Int64),
        "sketch": pl.Series(rng.integers(0, 2**16, (rows, 4)).astype(np.uint16), dtype=pl.Array(pl.UInt16, 4)),
    })


def _shards(frame: pl.DataFrame, folder, sizes: list[int], order: list[int]) -> Shards:
    """``frame`` cut into ``sizes`` and written in the task order ``order``, named in frame order."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    names = {}
    for index in order:  # the tasks finish in any order; each names its own file
        names[index] = write_shard(frame.slice(starts[index], sizes[index]), str(folder))
    return Shards(folder, [(names[index], sizes[index]) for index in range(len(sizes))])


@pytest.mark.parametrize("rows", [1, 99_999, 100_000, 131_073, 200_001, 262_145, 300_001, 500_003])
def test_the_row_group_rule_is_the_one_write_parquet_uses(tmp_path, rows):
    frame = pl.DataFrame({"id": pl.int_range(rows, eager=True)})
    frame.write_parquet(tmp_path / "whole.parquet")
    metadata = pq.ParquetFile(tmp_path / "whole.parquet").metadata
    assert parquet_row_groups(rows) == [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


@pytest.mark.parametrize("rows", [0, 7, 262_145])
def test_shards_recombined_in_any_task_order_give_the_bytes_of_the_whole_frame(tmp_path, rows):
    frame = _records(rows)
    write_parquet(frame, tmp_path / "whole.parquet")
    write_jsonl(frame, tmp_path / "whole.jsonl")
    rng = random.Random(rows)
    cuts = sorted(rng.sample(range(1, rows), min(12, max(rows - 1, 0)))) if rows > 1 else []
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, rows])] if rows else [0]
    for attempt, suffix in enumerate((".parquet", ".jsonl")):
        order = list(range(len(sizes)))
        rng.shuffle(order)
        folder = shard_folder(tmp_path, "normalize", f"kept{attempt}")
        shards = _shards(frame, folder, sizes, order)
        shards.writer(tmp_path / f"x{suffix}")(tmp_path / f"sharded{suffix}")
        assert (tmp_path / f"sharded{suffix}").read_bytes() == (tmp_path / f"whole{suffix}").read_bytes()
        assert not folder.exists()  # the shards go once written


def test_shards_out_of_order_are_a_different_file(tmp_path):
    """The check above can fail: the same shards listed in another order are other bytes."""
    frame = _records(5_000)
    write_parquet(frame, tmp_path / "whole.parquet")
    shards = _shards(frame, shard_folder(tmp_path, "dedup", "kept"), [2_000, 3_000], [0, 1])
    shards.parts.reverse()
    shards.write_parquet(tmp_path / "swapped.parquet")
    assert (tmp_path / "swapped.parquet").read_bytes() != (tmp_path / "whole.parquet").read_bytes()
    assert pl.read_parquet(tmp_path / "swapped.parquet").sort("id").equals(frame)


def test_a_killed_runs_shard_folders_are_removed_by_the_next(tmp_path):
    left = shard_folder(tmp_path, "filter", "kept")
    write_shard(_records(3), str(left))
    other = shard_folder(tmp_path, "normalize", "kept")
    clear_shards(tmp_path, "filter")
    assert not left.exists() and other.exists()


def test_a_frame_of_several_chunks_is_written_chunk_by_chunk_and_the_shards_follow(tmp_path):
    """In-process, dedup's kept rows are a filter of the input frame, one chunk per input row
    group, and polars writes each chunk as its own row groups: shards told those chunks give
    the same bytes (and, told nothing, a different file: the chunks matter)."""
    parts = [_records(120_000, seed=1), _records(3_000, seed=2), _records(70_000, seed=3)]
    whole = pl.concat(parts, rechunk=False)
    assert whole.n_chunks() == 3
    write_parquet(whole, tmp_path / "whole.parquet")
    sizes = [40_000, 90_000, 63_000]
    shards = _shards(whole.rechunk(), shard_folder(tmp_path, "dedup", "kept"), sizes, [2, 0, 1])
    shards.chunks = [part.height for part in parts]
    shards.write_parquet(tmp_path / "sharded.parquet")
    assert (tmp_path / "sharded.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    plain = _shards(whole.rechunk(), shard_folder(tmp_path, "dedup", "plain"), sizes, [0, 1, 2])
    plain.write_parquet(tmp_path / "plain.parquet")
    assert (tmp_path / "plain.parquet").read_bytes() != (tmp_path / "whole.parquet").read_bytes()
