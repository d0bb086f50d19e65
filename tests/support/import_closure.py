"""The jinstruct modules a script can import, found statically (every import statement, lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path


def _module_file(src: Path, dotted: str) -> Path | None:
    base = src.joinpath(*dotted.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imported_names(path: Path) -> set[str]:
    """Dotted names of jinstruct modules ``path`` imports (``from a import b``: a.b when b is a module)."""
    names: set[str] = set()
    package = ".".join(path.with_suffix("").parts)  # only used for relative imports below
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # A module-level __getattr__ (PEP 562) imports only when its attribute is used, which no stage does
    # by importing the package (``jinstruct.load_dataset``).
    lazy = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"]
    skipped = {id(inner) for node in lazy for inner in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}: relative import in {package}; jinstruct uses absolute imports")
            names.add(node.module or "")
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name == "jinstruct" or name.startswith("jinstruct.")}


def import_closure(script: Path, src: Path) -> set[Path]:
    """Every file under ``src`` (the folder holding ``jinstruct/``) that ``script`` may import."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        for dotted in _imported_names(path):
            parts = dotted.split(".")
            # importing a.b.c runs a/__init__.py and a/b/__init__.py first
            for end in range(1, len(parts) + 1):
                found = _module_file(src, ".".join(parts[:end]))
                if found is not None and found not in seen:
                    seen.add(found)
                    todo.append(found)
    return seen
