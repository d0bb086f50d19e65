"""Candidate pairs and their verification, phase by phase, in CPU seconds (one process).

    nice -n 10 python bench/dedup_phases.py [--input /tmp/jinstruct-dedup-e2e/100000/text.parquet]
        [--n-jobs 1] [--rounds 2]

Prepares the records as dedup does (``--text-field text``, params.yaml's dedup section, a
``source`` column as the command adds; not timed), then runs the candidate generation and
verification (``run._confirmed_near_pairs``) ``--rounds`` times, printing each round's CPU and
wall seconds per phase (LSH candidates, fields_agree, the similarity estimate, could_align, the
canonical keys (``canonical_keys`` until 2026-12-02 session 4; since then ``_field_texts``, the
key fields that the alignment's batches fold), the alignment, the names rule; "other" is what
the phases leave), the load, and the candidate and confirmed pair counts. For comparing two
versions of the code: run it with each on PYTHONPATH, alternating, and compare CPU seconds at
``--n-jobs 1``.
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
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(HERE.parent / "src"))
import jinstruct.dedup.previous as previous  # noqa: E402  (src/ is on sys.path from the lines above)
import jinstruct.dedup.run as run  # noqa: E402
from jinstruct.dedup.settings import resolve_settings  # noqa: E402

PHASES = [(run, "candidate_pairs"), (previous, "fields_agree"), (run, "_similarity"), (previous, "could_align"),
          (run, "canonical_keys"), (run, "_field_texts"), (previous, "edits_confirm"), (previous, "names_agree"),
          (previous, "joined_names_agree"), (previous, "names_within_typo")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=Path("/tmp/jinstruct-dedup-e2e/100000/text.parquet"))
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    params = yaml.safe_load((HERE.parent / "params.yaml").read_text())["dedup"]
    settings = resolve_settings({**params, "n_jobs": args.n_jobs}, ["text"])
    records = pl.read_parquet(args.input).with_columns(source=pl.lit("bench"))
    work, signed = run._prepared(records, settings)
    spent: dict[str, list[float]] = {}
    for module, name in PHASES:
        if hasattr(module, name):  # the names rule's entry point differs between versions
            setattr(module, name, _timed(getattr(module, name), spent.setdefault(name, [0.0, 0.0])))
    print(f"{args.input}: {run.__file__}, n_jobs {args.n_jobs}")
    for round_ in range(args.rounds):
        for total in spent.values():
            total[:] = [0.0, 0.0]
        cpu, wall = time.process_time(), time.perf_counter()
        pairs, candidates, _ = run._confirmed_near_pairs(records, work, signed, settings,
                                                         np.zeros(work.height, dtype=bool))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"round {round_}: {cpu:.2f} CPU-s, {wall:.2f} s wall, load {os.getloadavg()[0]:.1f}; "
              f"{candidates:,} candidates, {pairs.shape[0]:,} confirmed")
        for name, (phase_cpu, phase_wall) in spent.items():
            if phase_wall:
                print(f"  {name:20s} {phase_cpu:6.2f} CPU-s {phase_wall:6.2f} s wall")
        print(f"  {'other':20s} {cpu - sum(phase_cpu for phase_cpu, _ in spent.values()):6.2f} CPU-s")
    return 0


def _timed(function, total: list[float]):
    def timed(*args, **kwargs):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            total[0] += time.process_time() - cpu
            total[1] += time.perf_counter() - wall
    return timed


if __name__ == "__main__":
    sys.exit(main())
