"""DVC stage `train`: LoRA adapters on the processed train split.

params: model, lora, train, torch. Reads data/processed (dataset hash verified) and
models/base; writes models/adapter (+ training_info.json), metrics/train.json
and the per-step curves through dvclive (dvclive/train). Seconds and tokens/s go
to logs/train.json (--timings), which DVC does not track: they differ run to run. The paths come from
dvc.yaml's cmd. Logic: jinstruct.train.lora.
"""

import argparse
from pathlib import Path

from jinstruct.params import stage_settings
from jinstruct.records import write_json
from jinstruct.settings.model import TrainingSettings
from jinstruct.stage import stage_main
from jinstruct.train.base import read_identity
from jinstruct.train.data import load_verified_splits
from jinstruct.train.determinism import stable_adapter_config
from jinstruct.train.folders import atomic_directory
from jinstruct.train.lora import run_lora

PATHS = ("processed", "base", "adapter", "metrics", "live_dir", "timings")


def main() -> None:
    from dvclive import Live

    parser = argparse.ArgumentParser(prog="stages/train.py")
    for name in PATHS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=Path, required=True)
    args = parser.parse_args()

    settings = TrainingSettings(*(stage_settings(section) for section in ("model", "lora", "train")),
                                stage_settings("torch", required=False))
    splits, dataset_hash = load_verified_splits(args.processed)
    identity = read_identity(args.base)
    # dvc.yaml declares the plots itself; dvclive only writes the per-step .tsv files.
    with Live(dir=str(args.live_dir), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        def on_step(step: int, loss: float, lr: float) -> None:
            live.log_metric("train/loss", loss)
            live.log_metric("train/lr", lr)
            live.next_step()

        run = run_lora(splits, dataset_hash, args.base, identity, settings, on_step=on_step)
    with atomic_directory(args.adapter) as folder:
        run.model.save_pretrained(folder)
        stable_adapter_config(folder / "adapter_config.json")
        write_json(run.info, folder / "training_info.json")
    write_json(run.metrics, args.metrics)
    write_json(run.timings, args.timings)


if __name__ == "__main__":
    stage_main("train", main)
