"""Choosing the engine: environment only; bad values, an unreachable cluster and a full object store
as one line, with the previous outputs left as they were."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jinstruct.engine.settings import EngineSettings, engine_settings
from jinstruct.records import InputError
from tests.support import REPO_ROOT, stage_argv


def test_the_default_is_in_process_and_ray_settings_are_read_from_the_environment():
    assert engine_settings({}) == EngineSettings()
    chosen = engine_settings({"JINSTRUCT_ENGINE": "Ray", "RAY_ADDRESS": "10.0.0.1:6379",
                              "JINSTRUCT_RAY_OBJECT_STORE_MEMORY": "4G", "JINSTRUCT_RAY_SPILL_DIR": "/scratch",
                              "JINSTRUCT_RAY_BLOCK_RECORDS": "5000"})
    assert chosen.on_ray and chosen.address == "10.0.0.1:6379"
    assert chosen.object_store_memory == 4 * 2**30 and chosen.spill_dir == "/scratch"
    assert chosen.block_records == 5000


@pytest.mark.parametrize("environ, named", [
    ({"JINSTRUCT_ENGINE": "spark"}, "JINSTRUCT_ENGINE"),
    ({"JINSTRUCT_RAY_OBJECT_STORE_MEMORY": "lots"}, "JINSTRUCT_RAY_OBJECT_STORE_MEMORY"),
    ({"JINSTRUCT_RAY_BLOCK_RECORDS": "0"}, "JINSTRUCT_RAY_BLOCK_RECORDS"),
])
def test_a_bad_setting_is_a_one_line_error_naming_it(environ, named):
    with pytest.raises(InputError, match=named) as failure:
        engine_settings(environ)
    assert "\n" not in str(failure.value)


def test_an_unreachable_cluster_stops_the_stage_with_one_line_and_no_output(tmp_path):
    pytest.importorskip("ray")
    _project(tmp_path, pl.DataFrame({name: ["x"] for name in ("id", "source", "task", "instruction", "input",
                                                              "output", "license")}))
    env = {**os.environ, "JINSTRUCT_ENGINE": "ray", "RAY_ADDRESS": "127.0.0.1:9"}  # nothing listens on port 9
    done = subprocess.run(stage_argv("normalize"), cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("normalize: error: ray: cannot reach the cluster at 127.0.0.1:9")
    assert not (tmp_path / "data/interim/normalized.parquet").exists()


def _project(tmp_path, records: pl.DataFrame):
    shutil.copytree(REPO_ROOT / "stages", tmp_path / "stages")
    shutil.copyfile(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "data/interim").mkdir(parents=True)
    records.write_parquet(tmp_path / "data/interim/converted.parquet")


@pytest.mark.integration
def test_a_full_object_store_stops_the_stage_with_one_line_and_the_previous_outputs(tmp_path):
    """A local instance with the smallest store Ray allows (75 MB) and a spill disk that counts as
    full (Ray refuses to spill or allocate on a disk over local_fs_capacity_threshold; 0 here),
    reading ~110 MB of text as one block of n records (the engine joins the V1 reader's blocks of
    about 1 MB into blocks of JINSTRUCT_RAY_BLOCK_RECORDS): the store fills and the stage stops
    before writing anything."""
    pytest.importorskip("ray")
    n, text = 40_000, "今日は天気が良いので散歩に行きました。" * 50
    _project(tmp_path, pl.DataFrame({
        "id": [f"r{i:06d}" for i in range(n)], "source": ["s"] * n, "task": ["t"] * n,
        "instruction": [f"{i} {text}" for i in range(n)], "input": [""] * n, "output": ["答え"] * n,
        "license": ["x"] * n}))
    previous = {"data/interim/normalized.parquet": b"previous records", "data/rejects/normalize.parquet":
                b"previous rejects", "metrics/normalize.json": b"previous stats"}
    for name, content in previous.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "JINSTRUCT_"))},
           "JINSTRUCT_ENGINE": "ray", "JINSTRUCT_RAY_OBJECT_STORE_MEMORY": "75M", "JINSTRUCT_RAY_CPUS": "1",
           "JINSTRUCT_RAY_SPILL_DIR": str(tmp_path / "spill"), "JINSTRUCT_RAY_BLOCK_RECORDS": str(n),
           "RAY_local_fs_capacity_threshold": "0"}
    done = subprocess.run(stage_argv("normalize"), cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("normalize: error: ray: the object store is full and could not spill")
    assert "JINSTRUCT_RAY_SPILL_DIR" in lines[0] and "previous outputs are untouched" in lines[0]
    assert {name: (tmp_path / name).read_bytes() for name in previous} == previous
    leftovers = [p.name for folder in ("data/interim", "data/rejects", "metrics")
                 for p in (tmp_path / folder).iterdir() if p.name.endswith(".tmp")]
    assert not leftovers


_READ_ORDER = """
import sys
from pathlib import Path
import polars as pl
import ray.data
from jinstruct.engine.batches import blocks
from jinstruct.engine.session import ray_session
from jinstruct.engine.settings import EngineSettings
paths = [Path(name) for name in sys.argv[1:]]
settings = EngineSettings(engine="ray", block_records=1000, cpus=2)
with ray_session(settings):
    print("ray at", ray.get_runtime_context().gcs_address, file=sys.stderr)
    # a stage reads one file (engine.batches.blocks); several files go through the reader ray_session set up
    dataset = blocks(paths[0], settings) if len(paths) == 1 else ray.data.read_parquet([str(p) for p in paths])
    read = [pl.from_arrow(batch)["id"] for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None)]
print(",".join(str(block.len()) for block in read))
print(",".join(pl.concat(read).to_list()))
"""


def _records(ids: list[str]) -> pa.Table:
    return pa.table({"id": ids, **{name: [f"{name} {i} " * (1 + i % 7) for i in range(len(ids))]
                                   for name in ("source", "task", "instruction", "input", "output", "license")}})


def _read_on_ray(paths: list) -> tuple[list[int], list[str]]:
    """Block sizes and ids as Ray reads ``paths`` in a local instance of its own, with read units of
    about two 300-row groups (Ray's are 128 MiB; small units show on small files what 2.5M records showed)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "JINSTRUCT_"))},
           "RAY_DATA_PARQUET_BIN_PACKING_BYTES": "200000"}
    done = subprocess.run([sys.executable, "-c", _READ_ORDER, *map(str, paths)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    sizes, ids = done.stdout.strip().splitlines()[-2:]
    return [int(n) for n in sizes.split(",")], ids.split(",")


def test_ray_reads_the_input_in_file_order_in_blocks_of_block_records(tmp_path):
    # Ray Data 2.60's Parquet reader (DataSource V2) bin-packs row groups into read units online and
    # emits a unit when it is full, so a unit still open (the file's first row groups) came back last
    # even with preserve_order: at 2.5M records the first 250k of them went to the end of the output
    # (128 MiB units). The V1 reader reads in order, but in blocks of its own size estimate, which
    # the engine must join into blocks of block_records rows (the unit of work, retry and progress).
    pytest.importorskip("ray")
    path = tmp_path / "records.parquet"
    ids = [f"r{i:05d}" for i in range(6500)]
    pq.write_table(_records(ids), path, row_group_size=300)  # 22 row groups of ~93 kB uncompressed
    sizes, read = _read_on_ray([path])
    assert read == ids
    assert sizes == [1000] * 6 + [500]


def test_ray_reads_several_files_in_the_order_given(tmp_path):
    # Several files (shards of one input on shared storage) go to separate read tasks that run
    # side by side on two CPUs; their rows must still come in the order of the files, and within a
    # file in row-group order.
    pytest.importorskip("ray")
    ids = [f"r{i:05d}" for i in range(6000)]
    cuts = [0, 900, 2700, 3000, 6000]  # files of 900, 1800, 300 and 3000 records
    paths = []
    for number, (start, end) in enumerate(zip(cuts, cuts[1:])):
        paths.append(tmp_path / f"part-{number}.parquet")
        pq.write_table(_records(ids[start:end]), paths[-1], row_group_size=300)
    _, read = _read_on_ray(paths)
    assert read == ids
