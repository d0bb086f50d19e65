#!/usr/bin/env bash
# Create .venv (once) and install the locked dependencies and jinstruct into it.
#   scripts/setup.sh build   requirements/build.txt (make build, make setup)
#   scripts/setup.sh test    requirements/test.txt  (make test: the test extras too)
# Every package is pinned with its sha256 (pip --require-hashes --no-deps), so two
# machines of the project's kind (CPython 3.11, x86_64 Linux) get the same bytes.
# Safe to run again: it reinstalls only when the lock or this script changed.
# The lock itself: `make lock` (scripts/lock.sh); checked by scripts/check_lock.py.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-build}
case "$target" in build|test) ;; *) echo "setup: unknown target '$target' (build or test)" >&2; exit 2 ;; esac
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup: requirements/*.txt are locked for CPython 3.11; .venv has $(.venv/bin/python --version)" >&2
  echo "setup: remove .venv and run again with PYTHON=python3.11" >&2
  exit 2
fi

stamp=.venv/.jinstruct-installed-$target
wanted=$(cat pyproject.toml scripts/setup.sh requirements/torch.txt "requirements/$target.txt" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi

pip=(.venv/bin/python -m pip install --quiet --require-hashes --no-deps)
echo "setup: installing requirements/$target.txt into .venv (a few minutes the first time)"
# torch is locked to the CPU wheel (requirements/torch.txt): an unpinned torch can
# pull a multi-GB CUDA build. GPU users install their own torch into .venv first
# (README); it is kept, and everything else still comes from the lock.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  "${pip[@]}" -r requirements/torch.txt
fi
"${pip[@]}" -r "requirements/$target.txt"
# jinstruct itself, editable; its dependencies are all in the lock already.
.venv/bin/python -m pip install --quiet --no-deps -e .
.venv/bin/python -m pip check
echo "$wanted" > "$stamp"
echo "setup: done"
