"""verify: edits, three ways on the same pairs: Python (edits.edit_verdict per pair), compiled with
rapidfuzz's alignment (aligned.verdicts(..., rapidfuzz=True), the way before the alignment was
compiled) and compiled throughout (aligned.verdicts).

    nice -n 10 python bench/dedup_verify.py [--input /tmp/jinstruct-dedup-e2e/100000/text.parquet]

Runs dedup on the file (``--text-field text``, params.yaml's dedup section, n_jobs 1) to
collect the candidate pairs that reach the alignment, then judges them in this one process,
alternating the three ways ``--rounds`` times (CPU seconds), and checks that the verdict codes and
measured shares are equal pair for pair. The input defaults to bench/dedup_e2e.py's 100k corpus.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
import jinstruct.dedup.previous as previous  # noqa: E402  (src/ is on sys.path from the line above)
from jinstruct.dedup import aligned, dedup_records  # noqa: E402
from jinstruct.dedup.edits import edit_verdict  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=Path("/tmp/jinstruct-dedup-e2e/100000/text.parquet"))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    params = yaml.safe_load((HERE.parent / "params.yaml").read_text())["dedup"]
    captured = []
    original = previous.edits_confirm

    def capture(keys, left, right, share, numbers=True, field_share=0.0, n_jobs=1):
        captured.append((keys, left, right, share, numbers, field_share))
        return original(keys, left, right, share, numbers, field_share, n_jobs)

    previous.edits_confirm = capture
    records = pl.read_parquet(args.input).with_columns(source=pl.lit("bench"))  # as the command adds it
    dedup_records(records, {**params, "n_jobs": 1}, ["text"])
    previous.edits_confirm = original
    keys, left, right, share, numbers, field_share = captured[0]
    if isinstance(keys, aligned.FieldTexts):  # the raw fields the batches fold: the keys as strings
        keys = keys.to_list()
    aligned.verdicts(keys, left[:10], right[:10], share, numbers, field_share)  # compiled code loaded
    print(f"{len(left):,} pairs over {len(set(left.tolist()) | set(right.tolist())):,} keys; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    aligned.verdicts(keys, left[:10], right[:10], share, numbers, field_share, rapidfuzz=True)
    for round_ in range(args.rounds):
        started = time.process_time()
        python = [edit_verdict(keys[i], keys[j], share, numbers, field_share, cache)
                  for cache in [{}] for i, j in zip(left.tolist(), right.tolist())]
        python_seconds = time.process_time() - started
        started = time.process_time()
        reference = aligned.verdicts(keys, left, right, share, numbers, field_share, rapidfuzz=True)
        reference_seconds = time.process_time() - started
        started = time.process_time()
        found, measured = aligned.verdicts(keys, left, right, share, numbers, field_share)
        compiled_seconds = time.process_time() - started
        same = found.tolist() == [verdict for verdict, _ in python] == reference[0].tolist() and \
            measured.tolist() == [value for _, value in python] == reference[1].tolist()
        per_pair = [1e6 * seconds / len(left) for seconds in (python_seconds, reference_seconds, compiled_seconds)]
        print(f"round {round_ + 1}: Python {python_seconds:.2f} CPU-s ({per_pair[0]:.0f} µs a pair), "
              f"compiled with rapidfuzz's alignment {reference_seconds:.2f} CPU-s ({per_pair[1]:.1f} µs), "
              f"compiled throughout {compiled_seconds:.2f} CPU-s ({per_pair[2]:.1f} µs): "
              f"{reference_seconds / compiled_seconds:.1f}× the rapidfuzz way, "
              f"{python_seconds / compiled_seconds:.0f}× Python; same verdicts and shares: {same}; "
              f"accepted {int(np.sum(found == 0)):,}; load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
