import sys
from pathlib import Path

# Tests import shared fixtures from sibling test modules (e.g. `from test_records import record`).
sys.path.insert(0, str(Path(__file__).parent))

REPO_ROOT = Path(__file__).resolve().parents[1]
MIRROR = REPO_ROOT.parent / "shared" / "mirror"


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
