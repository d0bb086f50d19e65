"""DVC stage `train`: LoRA adapters on the processed train split.

params: model, lora, train, torch. Reads data/processed (dataset hash verified) and
models/base; writes models/adapter (+ training_info.json), metrics/train.json
and the per-step curves through dvclive (dvclive/train). Seconds and tokens/s go
to logs/train.json, which DVC does not track: they differ run to run. Logic:
jinstruct.train.lora.
"""

from pathlib import Path

from jinstruct.params import load_params
from jinstruct.records import write_json
from jinstruct.stage import stage_main
from jinstruct.train.base import read_identity
from jinstruct.train.data import load_verified_splits
from jinstruct.train.determinism import stable_adapter_config
from jinstruct.train.folders import atomic_directory
from jinstruct.train.lora import run_lora

PROCESSED = Path("data/processed")
BASE = Path("models/base")
ADAPTER = Path("models/adapter")
METRICS = Path("metrics/train.json")
TIMINGS = Path("logs/train.json")
LIVE_DIR = Path("dvclive/train")


def main() -> None:
    from dvclive import Live

    params = {section: load_params(section) for section in ("model", "lora", "train")}
    params["torch"] = load_params().get("torch")  # optional: thread_count() has a fixed default
    splits, dataset_hash = load_verified_splits(PROCESSED)
    identity = read_identity(BASE)
    # dvc.yaml declares the plots itself; dvclive only writes the per-step .tsv files.
    with Live(dir=str(LIVE_DIR), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        def on_step(step: int, loss: float, lr: float) -> None:
            live.log_metric("train/loss", loss)
            live.log_metric("train/lr", lr)
            live.next_step()

        run = run_lora(splits, dataset_hash, BASE, identity, params, on_step=on_step)
    with atomic_directory(ADAPTER) as folder:
        run.model.save_pretrained(folder)
        stable_adapter_config(folder / "adapter_config.json")
        write_json(run.info, folder / "training_info.json")
    write_json(run.metrics, METRICS)
    write_json(run.timings, TIMINGS)


if __name__ == "__main__":
    stage_main("train", main)
