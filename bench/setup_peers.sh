#!/usr/bin/env bash
# Benchmark-only peers for bench/dedup_bench.py, each in its own venv so they
# never touch the project's dependencies:
#   /work/bench-venvs/datatrove  datatrove's MinHash dedup + its Japanese word tokenizer
#                                (spaCy "ja" over SudachiPy + sudachidict-core)
#   /work/bench-venvs/hojichar   HojiChar's in-process near-dedup
# Idempotent: an existing venv is reused and only topped up.
set -euo pipefail
ROOT="${BENCH_VENVS:-/work/bench-venvs}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$ROOT"

make_venv() {  # name, packages...
    local name="$1"; shift
    [ -x "$ROOT/$name/bin/python" ] || "$PYTHON" -m venv "$ROOT/$name"
    "$ROOT/$name/bin/python" -m pip install --quiet --upgrade pip
    "$ROOT/$name/bin/python" -m pip install --quiet "$@"
    "$ROOT/$name/bin/python" -m pip freeze > "$ROOT/$name/versions.txt"
    echo "$name: $(grep -i "^$name==" "$ROOT/$name/versions.txt")"
}

# datatrove's Language.japanese tokenizer is spaCy's "ja", which needs SudachiPy
# and its core dictionary; its JsonlReader needs orjson, which no extra pulls in.
make_venv datatrove "datatrove[processing]" orjson spacy sudachipy sudachidict-core pyarrow
# the [dedup] extra brings rensa (its Rust MinHash) and xxhash, which near-dedup needs
make_venv hojichar "hojichar[dedup]" pyarrow
