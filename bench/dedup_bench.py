"""Dedup benchmark: jinstruct against datatrove and HojiChar on labelled corpora.

    bench/setup_peers.sh                       # once: the peers' own venvs
    python bench/dedup_bench.py --sizes 100000 500000 [--tools jinstruct hojichar datatrove] [--peer-max 100000]

For each size, builds (or reuses) the deterministic corpus of bench/dedup_corpus.py
under --workdir, runs each tool in its own process (its own venv's python), and
prints one row per tool: records/s (dedup only, wall time), records per CPU
second (this process and its workers; robust when other jobs share the machine),
peak RSS, removals, precision, recall and F1 of removal, and how many hard
negatives it removed. Lines starting with # hold the full JSON of each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from dedup_corpus import build_corpus, write_corpus  # noqa: E402

PEER_PYTHON = {
    "hojichar": Path("/work/bench-venvs/hojichar/bin/python"),
    "datatrove": Path("/work/bench-venvs/datatrove/bin/python"),
}


def score(corpus: pl.DataFrame, removed: set[str]) -> dict:
    """Precision/recall/F1 of removal against the corpus labels (see dedup_corpus.py)."""
    labelled = corpus.select("id", "truth", "kind").with_columns(removed=pl.col("id").is_in(list(removed)))
    kept_per_truth = labelled.group_by("truth").agg(kept=(~pl.col("removed")).sum(), size=pl.len())
    joined = labelled.join(kept_per_truth, on="truth")
    removals = joined.filter("removed")
    correct = removals.filter(pl.col("kept") >= 1).height  # another member of its true cluster survived
    ideal = int((kept_per_truth["size"] - 1).sum())
    precision = correct / removals.height if removals.height else 1.0
    recall = correct / ideal if ideal else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"removed": removals.height, "ideal_removals": ideal, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4),
            "hard_negatives_removed": removals.filter(pl.col("kind").str.starts_with("hard")).height,
            "uniques_removed": removals.filter(pl.col("kind") == "unique").height}


def run_tool(tool: str, folder: Path, n_jobs: int) -> dict:
    python = sys.executable if tool == "jinstruct" else str(PEER_PYTHON[tool])
    removed_file = folder / f"removed-{tool}.txt"
    workdir = folder / f"work-{tool}"
    shutil.rmtree(workdir, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")} if tool == "jinstruct" else dict(os.environ)
    command = [python, str(HERE / "dedup_runners.py"), tool, "--corpus", str(folder), "--removed", str(removed_file),
               "--n-jobs", str(n_jobs), "--workdir", str(workdir)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return {"tool": tool, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["removed_ids"] = set(removed_file.read_text(encoding="utf-8").split())
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 500_000])
    parser.add_argument("--tools", nargs="+", default=["jinstruct", "hojichar", "datatrove"],
                        choices=["jinstruct", *sorted(PEER_PYTHON)])
    parser.add_argument("--peer-max", type=int, default=100_000,
                        help="run peers only on corpora up to this size (datatrove needs ~1 h per 500k here)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/jinstruct-dedup-bench"))
    args = parser.parse_args()
    print(f"{'size':>9} {'tool':<10} {'records/s':>10} {'rec/CPU-s':>10} {'seconds':>8} {'peak RSS MB':>12} "
          f"{'removed':>8} {'precision':>9} {'recall':>7} {'F1':>6} {'hard neg. removed':>17}")
    for size in args.sizes:
        folder = args.workdir / f"{size}-{args.seed}"
        if not (folder / "corpus.parquet").is_file():
            started = time.perf_counter()
            write_corpus(build_corpus(size, args.seed), folder)
            print(f"# built corpus {size} in {time.perf_counter() - started:.0f}s at {folder}", flush=True)
        corpus = pl.read_parquet(folder / "corpus.parquet", columns=["id", "truth", "kind"])
        tools = [tool for tool in args.tools
                 if tool == "jinstruct" or (size <= args.peer_max and PEER_PYTHON[tool].exists())]
        for tool in tools:
            result = run_tool(tool, folder, args.n_jobs)
            if "error" in result:
                print(f"{size:>9} {tool:<10} error: {result['error']}", flush=True)
                continue
            quality = score(corpus, result.pop("removed_ids"))
            rss = max(result["peak_rss_mb"], result["peak_rss_worker_mb"])
            print(f"{size:>9} {tool:<10} {result['records_per_s']:>10,} {result['records_per_cpu_s']:>10,} "
                  f"{result['seconds']:>8.1f} {rss:>12,} "
                  f"{quality['removed']:>8} {quality['precision']:>9.4f} {quality['recall']:>7.4f} "
                  f"{quality['f1']:>6.4f} {quality['hard_negatives_removed']:>17}", flush=True)
            print("#", json.dumps({"size": size, **result, **quality}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
