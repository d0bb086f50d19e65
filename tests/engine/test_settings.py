"""Choosing the engine: environment only, bad values and an unreachable cluster as one line."""

from __future__ import annotations

import os
import shutil
import subprocess

import polars as pl
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
    shutil.copytree(REPO_ROOT / "stages", tmp_path / "stages")
    shutil.copyfile(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "data/interim").mkdir(parents=True)
    pl.DataFrame({name: ["x"] for name in ("id", "source", "task", "instruction", "input", "output", "license")}
                 ).write_parquet(tmp_path / "data/interim/converted.parquet")
    env = {**os.environ, "JINSTRUCT_ENGINE": "ray", "RAY_ADDRESS": "127.0.0.1:9"}  # nothing listens on port 9
    done = subprocess.run(stage_argv("normalize"), cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("normalize: error: ray: cannot reach the cluster at 127.0.0.1:9")
    assert not (tmp_path / "data/interim/normalized.parquet").exists()
