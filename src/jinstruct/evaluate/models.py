"""Loading the base model and its LoRA adapter, and what identifies them.

The tuned model is the base with the adapter applied through peft; the base is
scored on the same object with the adapter switched off (``disable_adapter``),
so one load serves both and the two can never be different base weights.
Only safetensors are read (no pickles); ``trust_remote_code`` stays off.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from jinstruct.records import InputError, file_sha256

ADAPTER_WEIGHTS = "adapter_model.safetensors"


@dataclass
class Models:
    model: object          # a transformers causal LM, or a peft model wrapping one
    tokenizer: object
    has_adapter: bool

    def variants(self) -> list[tuple[str, contextlib.AbstractContextManager]]:
        """(name, context in which ``model`` behaves as that variant): base, then tuned."""
        if not self.has_adapter:
            return [("base", contextlib.nullcontext())]
        return [("base", self.model.disable_adapter()), ("tuned", contextlib.nullcontext())]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg})") from None


def load_models(base_dir: Path, adapter_dir: Path | None = None) -> Models:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_dir = Path(base_dir)
    if not (base_dir / "config.json").is_file():
        raise InputError(f"{base_dir}: not a model folder (no config.json)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_dir)
        model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32, use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{base_dir}: cannot load the model ({str(exc).splitlines()[0]})") from None
    if adapter_dir is None:
        return Models(model.eval(), tokenizer, has_adapter=False)
    from peft import PeftModel

    adapter_sha256(adapter_dir)  # refuses a folder without safetensors weights before peft looks for a pickle
    try:
        tuned = PeftModel.from_pretrained(model, adapter_dir)
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"{adapter_dir}: cannot apply the adapter ({str(exc).splitlines()[0]})") from None
    return Models(tuned.eval(), tokenizer, has_adapter=True)


def adapter_sha256(adapter_dir: Path) -> str:
    weights = Path(adapter_dir) / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise InputError(f"{weights}: no such file (an adapter folder needs safetensors weights)")
    return file_sha256(weights)


def base_identity(base_dir: Path) -> dict | None:
    """models/base/identity.json (what the base is and where it came from), when present."""
    path = Path(base_dir) / "identity.json"
    return _read_json(path) if path.is_file() else None


def check_adapter_dataset(adapter_dir: Path, manifest_path: Path) -> str:
    """The dataset hash shared by the adapter and the manifest; refuses a mismatch.

    An adapter trained on other data than the current splits would be scored
    against (and reported next to) the wrong dataset version.
    """
    from jinstruct.release.manifest import read_manifest

    dataset_hash = read_manifest(manifest_path)["dataset_hash"]
    info_path = Path(adapter_dir) / "training_info.json"
    trained_on = _read_json(info_path).get("dataset_hash")
    if trained_on != dataset_hash:
        raise InputError(f"{info_path}: the adapter was trained on dataset {str(trained_on)[:12]}…, but "
                         f"{manifest_path} is dataset {dataset_hash[:12]}…; retrain (dvc repro train) "
                         "before evaluating")
    return dataset_hash
