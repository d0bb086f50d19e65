"""Reading a large JSONL file: jinstruct's reader now, the reader before the fast path, polars alone.

    python bench/read_jsonl.py --megabytes 300 [--broken-every 0] [--before 77be4a1]

Writes a file of instruction-shaped Japanese records (deterministic) to a temporary folder, then reads it
with (1) ``polars.read_ndjson`` (the peer: no per-line rejects, no line numbers), (2) ``read_table`` of this
tree and (3) ``read_table`` as it was at git commit ``--before`` (loaded from ``git show``). Each is run
once per round, in turn, so load on the machine hits all three alike; the best of ``--rounds`` is printed,
with ratios, as wall time and as CPU time of all threads (the steadier figure on a shared machine).
``--broken-every N`` makes every N-th line invalid JSON, to time the per-line fallback.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from jinstruct.records import read_table  # noqa: E402  (this checkout's src/ first, from the line above)


def write_corpus(path: Path, megabytes: int, broken_every: int) -> int:
    body = "日本語の指示データを高速に読み込むためのベンチマーク用の文章です。" * 6
    lines, size, number = [], 0, 0
    with open(path, "wb") as out:
        while size < megabytes * 1_000_000:
            number += 1
            if broken_every and number % broken_every == 0:
                line = b'{"id": "broken", "output": \n'
            else:
                line = (json.dumps({"id": f"b:{number}", "source": "bench", "task": "open_qa",
                                    "instruction": f"質問{number}：{body[:40]}", "input": "", "output": body,
                                    "license": "CC0-1.0"}, ensure_ascii=False) + "\n").encode()
            lines.append(line)
            size += len(line)
            if len(lines) >= 10_000:
                out.write(b"".join(lines))
                lines.clear()
        out.write(b"".join(lines))
    return number


def load_before(commit: str):
    source = subprocess.run(["git", "show", f"{commit}:src/jinstruct/records.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("records_before", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{commit}:records.py", "exec"), module.__dict__)  # our own file at a commit
    return module


def timed(read) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds of all threads, rows, rejects)."""
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    rows, rejects = read()
    return time.perf_counter() - started, time.process_time() - cpu, rows, rejects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=300)
    parser.add_argument("--broken-every", type=int, default=0)
    parser.add_argument("--before", default="77be4a1", help="git commit of the reader to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    before = load_before(args.before)
    with tempfile.TemporaryDirectory(prefix="jinstruct-read-bench-") as tmp:
        path = Path(tmp) / "records.jsonl"
        lines = write_corpus(path, args.megabytes, args.broken_every)
        print(f"{path.stat().st_size / 1e6:.0f} MB, {lines:,} lines, broken every {args.broken_every or 'never'}")
        readers = {
            "polars.read_ndjson (peer)": lambda: _polars(path),
            "jinstruct read_table (now)": lambda: _ours(read_table(path)),
            f"jinstruct read_table ({args.before})": lambda: _ours(before.read_table(path)),
        }
        best: dict[str, tuple[float, float, int, int]] = {}
        for _ in range(args.rounds):
            for label, read in readers.items():
                try:
                    result = timed(read)
                except pl.exceptions.PolarsError as exc:  # polars alone refuses a file with a broken line
                    result = (float("nan"), float("nan"), 0, 0)
                    print(f"  {label}: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
                if label not in best or not result[0] >= best[label][0]:
                    best[label] = result
        now = best["jinstruct read_table (now)"]
        for label, (seconds, cpu, rows, rejects) in best.items():
            print(f"{label:<34} wall {seconds:7.2f} s (x{seconds / now[0]:5.2f} of now)  "
                  f"CPU {cpu:7.2f} s (x{cpu / now[1]:5.2f})  rows {rows:>9,}  rejects {rejects:>6,}")


def _polars(path: Path) -> tuple[int, int]:
    return pl.read_ndjson(io.BytesIO(path.read_bytes()), infer_schema_length=None).height, 0


def _ours(result) -> tuple[int, int]:
    rows, rejects = result
    return rows.height, rejects.height


if __name__ == "__main__":
    main()
