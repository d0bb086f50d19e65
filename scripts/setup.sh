#!/usr/bin/env bash
# Create .venv (once) and install jinstruct into it. Safe to run again: it
# reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.jinstruct-installed
wanted=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi

echo "setup: installing dependencies into .venv (a few minutes the first time)"
.venv/bin/python -m pip install --quiet --upgrade pip
# A CPU build of torch: an unpinned torch can pull a multi-GB CUDA build.
# Users with a GPU install their own torch into .venv first; it is kept.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
.venv/bin/python -m pip install --quiet -e ".[test]"
echo "$wanted" > "$stamp"
echo "setup: done"
