"""Fail when pyproject.toml and the dependency lock (requirements/*.txt) disagree.

Run by `make test` (and tests/test_lock.py). A disagreement is: a dependency or
extra in pyproject.toml that a lock file does not pin, a pin outside the range
pyproject.toml asks for, a pin that claims to come from pyproject.toml but no
longer does, or the subsets (build, test, torch) pinning other versions than
the full resolution (all). The fix is always the same: `make lock`.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# The platform the lock is resolved for (scripts/lock.sh): CPython 3.11, x86_64 Linux.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython"}
FROM_PYPROJECT = "jinstruct (pyproject.toml)"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_EXTRAS = re.compile(r"^# extras:(.*)$")
_VIA = re.compile(r"^\s+#\s+(?:via\s+)?(.+?)\s*$")


@dataclass
class LockFile:
    path: Path
    extras: list[str]                                     # from its "# extras:" line
    pins: dict[str, str] = field(default_factory=dict)    # canonical name -> version
    direct: set[str] = field(default_factory=set)         # pins annotated "via jinstruct (pyproject.toml)"


def read_lock(path: Path) -> LockFile:
    lock, current = LockFile(path, []), None
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := _EXTRAS.match(line):
            lock.extras = match.group(1).split()
        elif match := _PIN.match(line):
            current = canonicalize_name(match.group(1))
            lock.pins[current] = match.group(2)
        elif current and (match := _VIA.match(line)) and match.group(1) == FROM_PYPROJECT:
            lock.direct.add(current)
    return lock


def requirements(pyproject: dict, extras: list[str]) -> list[Requirement]:
    """The project's requirements for ``extras`` that apply on the target platform."""
    project = pyproject["project"]
    wanted = [Requirement(text) for text in project.get("dependencies", [])]
    for extra in extras:
        wanted += [Requirement(text) for text in project.get("optional-dependencies", {}).get(extra, [])]
    return [req for req in wanted if req.marker is None or req.marker.evaluate({**TARGET, "extra": ""})]


def problems(root: Path) -> list[str]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    defined = sorted(pyproject["project"].get("optional-dependencies", {}))
    folder = root / "requirements"
    locks = {name: read_lock(folder / f"{name}.txt") for name in ("all", "build", "test", "torch")
             if (folder / f"{name}.txt").is_file()}
    missing = sorted({"all", "build", "test", "torch"} - set(locks))
    if missing:
        return [f"requirements/{name}.txt is missing" for name in missing]
    found = []
    if sorted(locks["all"].extras) != defined:
        found.append(f"requirements/all.txt resolves extras {sorted(locks['all'].extras)}, "
                     f"pyproject.toml defines {defined}")
    for name in ("all", "build", "test"):
        lock = locks[name]
        unknown = sorted(set(lock.extras) - set(defined))
        if unknown:
            found.append(f"{lock.path.name}: extras {unknown} are not in pyproject.toml")
        wanted = requirements(pyproject, [extra for extra in lock.extras if extra in defined])
        for req in wanted:
            key = canonicalize_name(req.name)
            version = lock.pins.get(key) or (locks["torch"].pins.get(key) if name != "all" else None)
            if version is None:
                found.append(f"{lock.path.name}: no pin for {req}")
            elif req.specifier and not req.specifier.contains(Version(version), prereleases=True):
                found.append(f"{lock.path.name}: {key}=={version} is outside pyproject.toml's {req}")
        stale = sorted(lock.direct - {canonicalize_name(req.name) for req in wanted})
        if stale:
            found.append(f"{lock.path.name}: pins {', '.join(stale)} as a pyproject.toml dependency, "
                         "which pyproject.toml no longer lists")
        if name != "all":
            differ = sorted(key for key, version in lock.pins.items() if locks["all"].pins.get(key) != version)
            if differ:
                found.append(f"{lock.path.name}: {', '.join(differ)} differ from requirements/all.txt")
    if locks["torch"].pins != {key: v for key, v in locks["all"].pins.items() if key == "torch"}:
        found.append("requirements/torch.txt: differs from the torch pin in requirements/all.txt")
    return found


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    found = problems(root)
    for problem in found:
        print(f"lock: {problem}", file=sys.stderr)
    if found:
        print("lock: pyproject.toml and requirements/ disagree; refresh with `make lock`", file=sys.stderr)
        return 1
    print("lock: requirements/ agrees with pyproject.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
