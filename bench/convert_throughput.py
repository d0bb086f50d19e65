"""Records per second of the convert stage on the default sources.

Usage (from the project root, after `dvc repro fetch` or with a mirror):

    JINSTRUCT_MIRROR=../shared/mirror PYTHONPATH=src python bench/convert_throughput.py [--repeat 3]

Fetches the enabled sources of params.yaml into a temporary folder (from the
mirror), then times ``convert_sources`` as a whole and each adapter alone, best
of ``--repeat`` runs. For the Tanaka pairs it also times a per-line Python
version of the same detokenisation (the peer the polars expression replaces).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from jinstruct.params import load_params
from jinstruct.sources.adapters import ADAPTERS
from jinstruct.sources.convert import convert_sources
from jinstruct.sources.fetch import fetch_sources
from jinstruct.sources.spec import enabled_sources


def best_of(repeat: int, work) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return min(timings), result


def python_tanaka(ja_path: Path, en_path: Path) -> int:
    """The peer: the same two rules with ``re`` on each line, as a loop would."""
    after, before = re.compile(r"([^A-Za-z0-9]) "), re.compile(r" ([^A-Za-z0-9])")
    records = []
    with open(ja_path, encoding="utf-8") as ja, open(en_path, encoding="utf-8") as en:
        for line, (japanese, english) in enumerate(zip(ja, en), start=1):
            japanese = before.sub(r"\1", after.sub(r"\1", japanese.strip()))
            records.append({"id": f"tanaka:{line}:en-ja", "input": english.strip(), "output": japanese})
            records.append({"id": f"tanaka:{line}:ja-en", "input": japanese, "output": english.strip()})
    return len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    specs = enabled_sources(load_params("sources"))
    with tempfile.TemporaryDirectory(prefix="jinstruct-bench-") as folder:
        raw = Path(folder) / "raw"
        fetch_sources(specs, raw, load_params("fetch"))
        seconds, converted = best_of(args.repeat, lambda: convert_sources(specs, raw))
        total = converted.candidates.height + converted.parse_errors
        print(f"convert (all sources): {total:,} records in {seconds:.2f} s = {total / seconds:,.0f} records/s "
              f"(best of {args.repeat})")
        for spec in specs:
            seconds, candidates = best_of(args.repeat, lambda spec=spec: ADAPTERS[spec.adapter](spec, raw))
            print(f"  {spec.name:<16} {candidates.frame.height:>7,} records  {seconds:6.2f} s  "
                  f"{candidates.frame.height / seconds:>10,.0f} records/s")
            if spec.adapter == "tanaka_pairs":
                folder_of = raw / spec.name
                peer_seconds, peer_records = best_of(
                    args.repeat,
                    lambda folder_of=folder_of: python_tanaka(folder_of / "train.ja", folder_of / "train.en"))
                print(f"  {'  peer: per-line re':<16} {peer_records:>7,} records  {peer_seconds:6.2f} s  "
                      f"{peer_records / peer_seconds:>10,.0f} records/s (Japanese side only, no English tidy)")


if __name__ == "__main__":
    main()
