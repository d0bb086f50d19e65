"""dvc.yaml's deps cover every jinstruct module a stage can import, so DVC re-runs a stage when its code changes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.support import REPO_ROOT
from tests.support.import_closure import import_closure

SCRIPT = re.compile(r"\bpython\s+(stages/[\w/]+\.py)")


def _resolved_stages(dvc_yaml: Path) -> dict[str, dict]:
    document = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))
    paths = {key: value for entry in document.get("vars", []) for key, value in entry.get("paths", {}).items()}
    text = re.sub(r"\$\{paths\.(\w+)\}", lambda match: paths[match.group(1)],
                  yaml.safe_dump(document["stages"], sort_keys=False, allow_unicode=True))
    return yaml.safe_load(text)


def uncovered_imports(root: Path) -> dict[str, list[str]]:
    """Per stage of ``root/dvc.yaml``: the files its script may import that no dep covers
    (a dep folder covers its files)."""
    missing = {}
    for name, stage in _resolved_stages(root / "dvc.yaml").items():
        script = SCRIPT.search(stage["cmd"])
        assert script, f"stage {name}: cmd does not run a stages/ script: {stage['cmd']}"
        needed = {root / script.group(1), *import_closure(root / script.group(1), root / "src")}
        deps = [root / dep for dep in stage.get("deps", [])]
        uncovered = sorted(path.relative_to(root).as_posix() for path in needed
                           if not any(path == dep or dep in path.parents for dep in deps))
        if uncovered:
            missing[name] = uncovered
    return missing


def test_every_stage_declares_the_code_it_imports():
    assert uncovered_imports(REPO_ROOT) == {}


def test_an_import_without_a_matching_dep_is_reported(tmp_path):
    (tmp_path / "stages").mkdir()
    package = tmp_path / "src" / "jinstruct"
    (package / "tools").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "tools" / "__init__.py").write_text("", encoding="utf-8")
    (package / "tools" / "helper.py").write_text("X = 1\n", encoding="utf-8")
    (package / "core.py").write_text("def run():\n    from jinstruct.tools import helper\n", encoding="utf-8")
    (tmp_path / "stages" / "one.py").write_text("from jinstruct import core\n", encoding="utf-8")
    (tmp_path / "dvc.yaml").write_text(
        "vars:\n  - paths:\n      out: out.txt\n"
        "stages:\n  one:\n    cmd: python stages/one.py --output ${paths.out}\n"
        "    deps: [stages/one.py, src/jinstruct/__init__.py, src/jinstruct/core.py]\n"
        "    outs: [\"${paths.out}\"]\n", encoding="utf-8")
    # a lazy import inside a function counts: it runs when the stage does
    assert uncovered_imports(tmp_path) == {"one": ["src/jinstruct/tools/__init__.py", "src/jinstruct/tools/helper.py"]}
    text = (tmp_path / "dvc.yaml").read_text(encoding="utf-8")
    (tmp_path / "dvc.yaml").write_text(text.replace("src/jinstruct/core.py]",
                                                    "src/jinstruct/core.py, src/jinstruct/tools]"),
                                       encoding="utf-8")
    assert uncovered_imports(tmp_path) == {}
