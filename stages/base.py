"""DVC stage `base`: the base model folder models/base (+ identity.json).

params: model, torch (see params.yaml). The path comes from dvc.yaml's cmd. Logic: jinstruct.train.base.
"""

import argparse
from pathlib import Path

from jinstruct.params import load_params, stage_settings
from jinstruct.stage import stage_main
from jinstruct.train.base import build_base
from jinstruct.train.determinism import make_deterministic
from jinstruct.train.loop import pick_device


def main() -> None:
    parser = argparse.ArgumentParser(prog="stages/base.py")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    model = load_params("model")
    device = pick_device(model.get("device", "auto"))
    make_deterministic(int((model.get("tiny") or {}).get("seed", 0)), stage_settings("torch", required=False).threads,
                       device)
    build_base(model, args.output, device=device)


if __name__ == "__main__":
    stage_main("base", main)
