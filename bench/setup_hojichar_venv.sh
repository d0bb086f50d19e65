#!/usr/bin/env bash
# Create the benchmark-only venv holding HojiChar, the peer that bench/filter_bench.py
# compares against. It never enters the project's dependencies.
# Usage: bash bench/setup_hojichar_venv.sh [VENV_DIR]   (default /work/bench-venvs/hojichar)
set -euo pipefail
VENV=${1:-/work/bench-venvs/hojichar}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# fugashi + unidic-lite: HojiChar's word-repetition filter; fasttext-predict: a numpy-2 fastText
# binding for the lid.176 step (HojiChar's own fastText filter downloads the .bin model).
"$VENV/bin/python" -m pip install --quiet "hojichar==0.18.1" "fugashi[unidic-lite]==1.*" "emoji==2.*" "fasttext-predict==0.9.2.4"
"$VENV/bin/python" -c "import hojichar; print('hojichar', hojichar.__version__, 'in', '$VENV')"
