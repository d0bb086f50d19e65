"""DVC stage `base`: the base model folder models/base (+ identity.json).

params: model, torch (see params.yaml). Logic: jinstruct.train.base.
"""

from pathlib import Path

from jinstruct.params import load_params
from jinstruct.stage import stage_main
from jinstruct.train.base import build_base
from jinstruct.train.determinism import make_deterministic, thread_count
from jinstruct.train.loop import pick_device

OUTPUT = Path("models/base")


def main() -> None:
    model = load_params("model")
    device = pick_device(model.get("device", "auto"))
    make_deterministic(int((model.get("tiny") or {}).get("seed", 0)), thread_count(load_params().get("torch")), device)
    build_base(model, OUTPUT, device=device)


if __name__ == "__main__":
    stage_main("base", main)
