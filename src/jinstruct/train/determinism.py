"""One place that pins what makes a model stage give the same bytes twice.

Same inputs give byte-identical weights and scores only when every random
number generator is seeded, torch picks deterministic kernels, and the number
of CPU threads is fixed: a float sum split over a different number of threads
is added in another order and rounds differently (measured in
docs/architecture.md, "What is hashed"). The thread count is therefore a param
(``torch.threads`` in params.yaml), never "all cores", and each model stage
records what it ran with.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def make_deterministic(seed: int, threads: int, device: str = "cpu") -> dict:
    """Seed every RNG, fix the thread count, ask torch for deterministic kernels; return what was set.

    On CUDA, cuBLAS needs a fixed workspace for repeatable matmuls, and a few
    kernels have no deterministic form: torch then warns instead of failing, so
    a GPU run still works (its bytes are not promised to match a CPU run's).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # all devices
    torch.set_num_threads(threads)
    if device == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")
    return settings_in_effect()


def settings_in_effect() -> dict:
    """What training_info.json records about the numeric environment."""
    import transformers

    return {"threads": torch.get_num_threads(),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "torch": torch.__version__, "transformers": transformers.__version__}


# peft keeps these as Python sets and writes them to adapter_config.json in set
# order, which follows string hashing and so changes from process to process
# (PYTHONHASHSEED): the same adapter got different config bytes run to run.
SET_VALUED_ADAPTER_KEYS = ("target_modules", "exclude_modules")


def stable_adapter_config(path) -> None:
    """Rewrite a peft adapter_config.json with its set-valued entries sorted."""
    import json
    from pathlib import Path

    from jinstruct.records import write_json

    path = Path(path)
    config = json.loads(path.read_text(encoding="utf-8"))
    for key in SET_VALUED_ADAPTER_KEYS:
        if isinstance(config.get(key), list):
            config[key] = sorted(config[key])
    write_json(config, path)
