"""Shared helpers for the tests: paths of this checkout and DVC stage command lines.

The one place tests (and bench/ray_stages.py) get helpers from: ``tests.support`` and
its modules. No test module imports another test module. pytest imports the test
files with ``--import-mode=importlib`` and puts the repository root on ``sys.path``
(``pythonpath`` in pyproject.toml), so ``tests/dedup/test_cli.py`` and
``tests/engine/test_settings.py`` may share basenames with other test files.
"""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC = REPO_ROOT / "src"
FIXTURES = REPO_ROOT / "tests" / "fixtures"
# The offline source data (../shared/mirror beside the checkout); tests that need it skip without it.
MIRROR = REPO_ROOT.parent / "shared" / "mirror"
TANAKA = MIRROR / "raw.githubusercontent.com/odashi/small_parallel_enja/312408a11c5fbcbc09443bebb18121f7efdcd61e"


def dvc_stage(name: str) -> dict:
    """The stage's entry of dvc.yaml with its ``${paths.…}`` resolved, as DVC runs it."""
    import re

    import yaml

    document = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    paths = {key: value for entry in document.get("vars", []) for key, value in entry.get("paths", {}).items()}
    text = yaml.safe_dump(document["stages"][name], sort_keys=False, allow_unicode=True)
    return yaml.safe_load(re.sub(r"\$\{paths\.(\w+)\}", lambda match: paths[match.group(1)], text))


def stage_argv(name: str) -> list[str]:
    """The command line of a DVC stage: this interpreter, the stage script of this checkout, its path arguments."""
    import shlex

    python, script, *args = shlex.split(dvc_stage(name)["cmd"])
    assert python == "python", dvc_stage(name)["cmd"]
    return [sys.executable, str(REPO_ROOT / script), *args]
