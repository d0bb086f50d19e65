"""One dedup tool over one benchmark corpus, in whichever venv holds that tool.

    <venv>/bin/python bench/dedup_runners.py TOOL --corpus DIR --removed FILE [--n-jobs N]

TOOL is jinstruct (project venv), hojichar or datatrove (their venvs made by
bench/setup_peers.sh). Reads DIR/corpus.parquet (jinstruct) or DIR/text/*.jsonl
(peers: {"id", "text"} with the record's fields joined by newlines), writes the
ids it removed one per line, and prints one JSON line: seconds (dedup only, not
reading the input), records/s and peak RSS. Only the standard library and the
tool itself are imported at top level, so this file runs in every venv.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def _cpu_seconds() -> float:
    """User + system CPU of this process and its waited-for workers: unlike wall time,
    barely affected by other jobs sharing the machine."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_rss_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own), "peak_rss_worker_mb": round(children)}


def _read_text_records(corpus: Path) -> list[tuple[str, str]]:
    records = []
    for path in sorted((corpus / "text").glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            records.extend((row["id"], row["text"]) for row in map(json.loads, handle))
    return records


def run_jinstruct(corpus: Path, n_jobs: int, params_file: Path) -> tuple[list[str], float, int]:
    import polars as pl
    import yaml

    from jinstruct.dedup import dedup_records

    params = yaml.safe_load(params_file.read_text(encoding="utf-8"))["dedup"]
    # the records only: the labels (kind, truth) are the benchmark's, and the peers never see them
    path = corpus / "corpus.parquet"
    frame = pl.read_parquet(path, columns=[c for c in pl.read_parquet_schema(path) if c not in ("kind", "truth")])
    started = time.perf_counter()
    outcome = dedup_records(frame, {**params, "n_jobs": n_jobs})
    seconds = time.perf_counter() - started
    return outcome.result.rejected["id"].to_list(), seconds, frame.height


def run_hojichar(corpus: Path) -> tuple[list[str], float, int]:
    """HojiChar's in-process near-dedup with its defaults (character 5-grams,
    num_perm 500, threshold 0.8), one process, as its docs show it."""
    from hojichar import Compose, Document
    from hojichar.filters.deduplication import GenerateDedupLSH, InlineDeduplicator

    records = _read_text_records(corpus)
    pipeline = Compose([GenerateDedupLSH(), InlineDeduplicator()])
    removed = []
    started = time.perf_counter()
    for record_id, text in records:
        if pipeline.apply(Document(text)).is_rejected:
            removed.append(record_id)
    return removed, time.perf_counter() - started, len(records)


def run_datatrove(corpus: Path, n_jobs: int, workdir: Path) -> tuple[list[str], float, int]:
    """datatrove's four-step MinHash dedup with its defaults (5-grams of words,
    14 buckets × 8 hashes) and its Japanese word tokenizer (spaCy ja over SudachiPy)."""
    import gzip

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.typeshelper import Languages

    text_dir = corpus / "text"
    shards = len(list(text_dir.glob("*.jsonl")))
    config = MinhashConfig()
    steps = [
        LocalPipelineExecutor(pipeline=[
            JsonlReader(str(text_dir)),
            MinhashDedupSignature(output_folder=str(workdir / "signatures"), config=config,
                                  language=Languages.japanese),
        ], tasks=shards, workers=n_jobs, logging_dir=str(workdir / "logs/1")),
        LocalPipelineExecutor(pipeline=[
            MinhashDedupBuckets(input_folder=str(workdir / "signatures"), output_folder=str(workdir / "buckets"),
                                config=config),
        ], tasks=config.num_buckets, workers=n_jobs, logging_dir=str(workdir / "logs/2")),
        LocalPipelineExecutor(pipeline=[
            MinhashDedupCluster(input_folder=str(workdir / "buckets"), output_folder=str(workdir / "remove_ids"),
                                config=config),
        ], tasks=1, logging_dir=str(workdir / "logs/3")),
        LocalPipelineExecutor(pipeline=[
            JsonlReader(str(text_dir)),
            MinhashDedupFilter(input_folder=str(workdir / "remove_ids"),
                               exclusion_writer=JsonlWriter(str(workdir / "removed"))),
        ], tasks=shards, workers=n_jobs, logging_dir=str(workdir / "logs/4")),
    ]
    started = time.perf_counter()
    for step in steps:
        step.run()
    seconds = time.perf_counter() - started
    removed = []
    for path in sorted((workdir / "removed").glob("*")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            removed.extend(json.loads(line)["id"] for line in handle)
    records = sum(1 for _ in _read_text_records(corpus))
    return removed, seconds, records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=["jinstruct", "hojichar", "datatrove"])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--removed", type=Path, required=True)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--params", type=Path, default=Path(__file__).resolve().parents[1] / "params.yaml")
    parser.add_argument("--workdir", type=Path, help="datatrove's intermediate folders")
    args = parser.parse_args()
    cpu_before = _cpu_seconds()
    if args.tool == "jinstruct":
        removed, seconds, records = run_jinstruct(args.corpus, args.n_jobs, args.params)
    elif args.tool == "hojichar":
        removed, seconds, records = run_hojichar(args.corpus)
    else:
        removed, seconds, records = run_datatrove(args.corpus, args.n_jobs, args.workdir)
    cpu = _cpu_seconds() - cpu_before  # includes reading the input, a small share for every tool
    args.removed.write_text("".join(f"{record_id}\n" for record_id in removed), encoding="utf-8")
    print(json.dumps({"tool": args.tool, "records": records, "removed": len(removed), "seconds": round(seconds, 2),
                      "records_per_s": round(records / seconds), "cpu_seconds": round(cpu, 1),
                      "records_per_cpu_s": round(records / cpu), **_peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
