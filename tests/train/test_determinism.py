"""The train stage gives the same bytes twice: seeds, deterministic kernels, a fixed thread count.

Two runs of stages/train.py in two scratch projects at different paths, one
after the other (different wall-clock, different absolute paths), with dropout
on so the dropout RNG is exercised too. Everything DVC hashes must match byte
for byte; the timings must be only in logs/train.json, which DVC does not track.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from jinstruct.train.data import load_verified_splits
from jinstruct.train.lora import run_lora
from tests.support import REPO_ROOT, stage_argv
from tests.support.train import instruction_records, lora_params, save_tiny_base, write_processed

IDENTITY = {"kind": "tiny", "weights_sha256": "fixture"}


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    return save_tiny_base(tmp_path_factory.mktemp("base"), IDENTITY, pretraining_lines=600)


def _params(threads: int, **train) -> dict:
    params = lora_params(**{"max_steps": 4, **train})
    params["lora"]["dropout"] = 0.1
    params["torch"] = {"threads": threads}
    return params


def _train_in_scratch_project(root: Path, base_dir: Path, params: dict, hash_seed: str) -> Path:
    write_processed(root / "data" / "processed", instruction_records(60))
    (root / "models").mkdir()
    os.symlink(base_dir, root / "models" / "base")
    (root / "params.yaml").write_text(json.dumps(params), encoding="utf-8")  # JSON is YAML
    done = subprocess.run(stage_argv("train"), cwd=root,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"),
                               "PYTHONHASHSEED": hash_seed}, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    return root


def _hashed_files(root: Path) -> dict[str, bytes]:
    """Every file the train stage writes that dvc.lock hashes."""
    files = [*sorted((root / "models/adapter").rglob("*")), root / "metrics/train.json",
             *sorted((root / "dvclive/train/plots").rglob("*"))]
    return {str(path.relative_to(root)): path.read_bytes() for path in files if path.is_file()}


def test_the_train_stage_twice_gives_byte_identical_adapter_metrics_and_curves(base_dir, tmp_path):
    # Each stage run is its own process with its own string-hash seed, as under DVC; these two
    # seeds order {"q_proj", "v_proj"} differently (peft's set-valued target_modules came out in
    # either order before stable_adapter_config).
    first = _hashed_files(_train_in_scratch_project(tmp_path / "one", base_dir, _params(threads=2), "1"))
    second = _hashed_files(_train_in_scratch_project(tmp_path / "elsewhere" / "two", base_dir, _params(threads=2),
                                                     "3"))
    assert "models/adapter/adapter_model.safetensors" in first
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []

    info = json.loads(first["models/adapter/training_info.json"])
    assert info["numeric"]["threads"] == 2 and info["numeric"]["deterministic_algorithms"] is True
    metrics = json.loads(first["metrics/train.json"])
    assert not {"wall_seconds", "tokens_per_second"} & set(metrics)
    timings = json.loads((tmp_path / "one" / "logs/train.json").read_text(encoding="utf-8"))
    assert timings["wall_seconds"] > 0 and timings["threads"] == 2
    # nothing machine- or commit-specific in what DVC hashes
    for name, data in first.items():
        text = data.decode("utf-8", errors="replace")
        assert str(tmp_path) not in text and "git_commit" not in text, name


@pytest.fixture
def restore_torch_settings():
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def test_the_thread_count_is_the_param_not_the_machine(base_dir, tmp_path, restore_torch_settings):
    write_processed(tmp_path, instruction_records(60))
    splits, digest = load_verified_splits(tmp_path)
    run = run_lora(splits, digest, base_dir, IDENTITY, _params(threads=1, max_steps=1))
    assert run.info["numeric"]["threads"] == 1 == run.timings["threads"]
