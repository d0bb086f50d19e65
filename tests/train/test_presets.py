"""Named base presets: pinned package versions and GGUF sha256, refused in one line on a mismatch."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from jinstruct.records import InputError
from jinstruct.train import presets
from jinstruct.train.base import resolve_base
from jinstruct.train.presets import PRESETS, Preset, preset_gguf, preset_identity
from tests.support import REPO_ROOT, dvc_stage
from tests.support.pipeline import make_project, run

GGUF_BYTES = b"GGUF\x03\x00\x00\x00" + bytes(range(256)) * 4


def install_fake_distribution(site: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    """A real installed distribution (dist-info + files) that importlib.metadata finds on sys.path."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    for inner, content in files.items():
        (site / inner).parent.mkdir(parents=True, exist_ok=True)
        (site / inner).write_bytes(content)


@pytest.fixture
def fake_preset(tmp_path, monkeypatch):
    site = tmp_path / "site"
    install_fake_distribution(site, "fake-model-gguf", "2.0.0", {"fake_model_gguf/model.gguf": GGUF_BYTES})
    monkeypatch.syspath_prepend(str(site))
    preset = Preset(name="fake-1m", description="a fake", package="fake-model-gguf", version="2.0.0",
                    gguf_sha256=hashlib.sha256(GGUF_BYTES).hexdigest(), licence="MIT",
                    gguf_file="fake_model_gguf/model.gguf")
    monkeypatch.setitem(PRESETS, "fake-1m", preset)
    return preset


def test_a_matching_preset_yields_its_verified_file(fake_preset):
    assert resolve_base({"base": "fake-1m"}).kind == "preset"
    with preset_gguf("fake-1m") as path:
        assert path.read_bytes() == GGUF_BYTES
    assert preset_identity("fake-1m")["package_version"] == "2.0.0"


def test_a_changed_gguf_is_refused_in_one_line_naming_the_package(fake_preset, monkeypatch):
    monkeypatch.setitem(PRESETS, "fake-1m", Preset(**{**fake_preset.__dict__, "gguf_sha256": "0" * 64}))
    with pytest.raises(InputError) as refused, preset_gguf("fake-1m"):
        pass
    message = str(refused.value)
    assert "package fake-model-gguf" in message and "sha256" in message and "\n" not in message


def test_another_package_version_is_refused(fake_preset, monkeypatch):
    monkeypatch.setitem(PRESETS, "fake-1m", Preset(**{**fake_preset.__dict__, "version": "1.9.0"}))
    with pytest.raises(InputError, match=r"package fake-model-gguf is version 2.0.0, the preset pins 1.9.0"), \
            preset_gguf("fake-1m"):
        pass


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(PRESETS, "absent", Preset(name="absent", description="", package="no-such-model-pkg",
                                                  version="1", gguf_sha256="0" * 64, licence="x", gguf_file="a"))
    hint = r"package no-such-model-pkg is not installed \(pip install -e '\.\[models\]'\)"
    with pytest.raises(InputError, match=hint), preset_gguf("absent"):
        pass


def test_gemma_identity_names_its_licence_text_without_host_paths():
    identity = preset_identity("gemma3-270m")
    assert identity["licence"] == "Gemma Terms of Use"
    assert identity["licence_file"].endswith("GEMMA_TERMS.html") and not identity["licence_file"].startswith("/")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_installed_preset_packages_match_their_pins(name):
    """With the .[models] extra installed, the real files hash to the pinned digests (no model is loaded)."""
    preset = PRESETS[name]
    try:
        metadata.distribution(preset.package)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{preset.package} is not installed (the .[models] extra)")
    if preset.gguf_file:
        with preset_gguf(name) as path:
            assert presets.file_sha256(path) == preset.gguf_sha256
    else:  # the parts must exist at their pinned versions; assembling 253 MB is left to the base stage
        for part, inner in zip(preset.parts, preset.part_files, strict=True):
            dist = metadata.distribution(part)
            assert dist.version == preset.version and Path(str(dist.locate_file(inner))).is_file()


@pytest.mark.integration
def test_dvc_exp_run_refuses_a_changed_preset_file_in_one_line(tmp_path):
    """As a user meets it: `dvc exp run` of the base stage with `-S model.base=smollm2-135m`, in a real git +
    DVC project, where the installed package has the pinned name and version but another GGUF (a re-upload)."""
    preset = PRESETS["smollm2-135m"]
    site = tmp_path / "site"
    install_fake_distribution(site, preset.package, preset.version, {preset.gguf_file: GGUF_BYTES})
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    project, env = make_project(tmp_path, tmp_path / "mirror", params)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(project / "src")])  # the fake wheel wins, as installed first
    for dep in dvc_stage("base")["deps"]:  # the tiny base's corpus files (a preset never reads them), committed
        if dep.startswith("data/raw/"):       # as fetch's output so that `dvc exp run` checks them out
            (project / dep).parent.mkdir(parents=True, exist_ok=True)
            (project / dep).write_text("", encoding="utf-8")
    run([sys.executable, "-m", "dvc", "commit", "--force", "fetch"], project, env)
    run(["git", "add", "dvc.lock"], project, env)
    run(["git", "commit", "-qm", "fetched"], project, env)

    command = ["dvc", "exp", "run", "--single-item", "base", "-S", "model.base=smollm2-135m"]
    done = subprocess.run([sys.executable, "-m", *command], cwd=project, env=env, capture_output=True, text=True,
                          timeout=600)

    assert done.returncode != 0
    output = done.stdout + done.stderr
    refusals = [line for line in output.splitlines() if f"package {preset.package}" in line]
    assert len(refusals) == 1, output
    assert "sha256" in refusals[0] and preset.gguf_sha256[:16] in refusals[0], refusals[0]
    assert "Traceback" not in output
    assert not (project / "models" / "base" / "identity.json").exists()
