"""Dedup as users run it: whole processes, start-up + read + dedup + write, side by side.

    bash bench/setup_peers.sh                           # once: HojiChar with its [dedup] extra
    nice -n 10 python bench/dedup_e2e.py --sizes 100000 500000 [--signature]

For each size, writes (once, under --workdir) a corpus of bench/dedup_corpus.py's
labelled records lengthened to ~1.3 KB of text each (every record of one truth
cluster gets the same filler sentences, so copies stay copies) as text.jsonl and
text.parquet ({"id", "text"}), then times, one after the other in this run:

--filler says how a cluster's filler sentences are drawn from the one pool of
76,454 Dolly-ja sentences. ``sampled`` (default): at random, seeded by the
cluster, so two unrelated clusters share a sentence now and then, as unrelated
records of a real corpus do. ``runs`` (the corpus of the figures before
2026-12-02 06:30): consecutive positions seed + 7919·k, so clusters whose seeds
differ by a small multiple of 7919 share runs of up to six of their seven
sentences; the number of such neighbours grows with the corpus (about 10 per
cluster at 100k, 50 at 500k), which made candidate pairs grow with its square.

- ``jinstruct dedup --input text.jsonl --output … --rejects … --text-field text``;
- the same with text.parquet in and out;
- HojiChar (its own venv): read the JSONL, GenerateDedupLSH + InlineDeduplicator
  with its defaults, write the kept records as JSONL.

Wall time and peak RSS are the child process's (os.wait4). Run under load, compare
the ratios of one run, not absolute figures across runs. After each size, what
every tool removed is held against the corpus's truth clusters (truth.parquet):
records removed, records lost (removed while no record of their cluster was kept:
content gone) and copies missed (kept records beyond one per cluster), so a speed
ratio is never read without what each tool did for it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOJICHAR_PYTHON = Path("/work/bench-venvs/hojichar/bin/python")
TARGET_BYTES = 1300


def build(size: int, folder: Path, filler_draw: str = "sampled") -> None:
    import hashlib
    import random

    import polars as pl
    sys.path.insert(0, str(HERE))
    from dedup_corpus import _sentences, build_corpus, load_dolly

    corpus = build_corpus(size)
    filler = _sentences(load_dolly())
    texts = []
    for row in corpus.iter_rows(named=True):
        text = "\n".join(part for part in (row["instruction"], row["input"], row["output"]) if part)
        seed = int.from_bytes(hashlib.blake2b(row["truth"].encode(), digest_size=8).digest(), "little")
        draw = random.Random(seed)
        step = 0
        while len(text.encode()) < TARGET_BYTES:
            if filler_draw == "runs":
                text += filler[(seed + step * 7919) % len(filler)]
            else:
                text += filler[draw.randrange(len(filler))]
            step += 1
        texts.append(text)
    frame = pl.DataFrame({"id": corpus["id"], "text": texts})
    folder.mkdir(parents=True, exist_ok=True)
    corpus.select("id", "truth", "kind").write_parquet(folder / "truth.parquet")
    frame.write_ndjson(folder / "text.jsonl")
    frame.write_parquet(folder / "text.parquet")


def truth_of(size: int, folder: Path):
    """id → truth cluster of the corpus in ``folder`` (rebuilt from the seed for corpora written before)."""
    import polars as pl
    if not (folder / "truth.parquet").is_file():
        sys.path.insert(0, str(HERE))
        from dedup_corpus import build_corpus
        build_corpus(size).select("id", "truth", "kind").write_parquet(folder / "truth.parquet")
    return pl.read_parquet(folder / "truth.parquet")


def removal_quality(truth, kept_file: Path) -> dict:
    """What a tool's kept file did to the truth clusters: removed, lost (a whole cluster gone), missed
    (kept beyond one per cluster)."""
    import polars as pl
    kept = (pl.read_parquet(kept_file, columns=["id"]) if kept_file.suffix == ".parquet"
            else pl.read_ndjson(kept_file, schema={"id": pl.String}))["id"]
    unknown = kept.filter(~kept.is_in(truth["id"].implode()))
    if unknown.len():
        raise SystemExit(f"{kept_file}: {unknown.len()} kept ids are not in the corpus")
    kept_truths = truth.filter(pl.col("id").is_in(kept.implode()))["truth"]
    return {"removed": truth.height - kept.len(),
            "lost": truth["truth"].n_unique() - kept_truths.n_unique(),
            "missed": kept.len() - kept_truths.n_unique()}


def timed(command: list[str], env: dict | None = None) -> dict:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode(errors="replace").strip().splitlines()[-1:] if status else []
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "error": error,
            "load": f"{load_before:.1f}→{os.getloadavg()[0]:.1f}"}


def hojichar_main(source: Path, output: Path) -> None:
    """Runs inside HojiChar's venv: read JSONL, near-dedup with the defaults, write the kept."""
    from hojichar import Compose, Document
    from hojichar.filters.deduplication import GenerateDedupLSH, InlineDeduplicator

    pipeline = Compose([GenerateDedupLSH(), InlineDeduplicator()])
    with open(source, encoding="utf-8") as reader, open(output, "w", encoding="utf-8") as writer:
        for line in reader:
            row = json.loads(line)
            if not pipeline.apply(Document(row["text"])).is_rejected:
                writer.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 500_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/jinstruct-dedup-e2e"))
    parser.add_argument("--filler", choices=("sampled", "runs"), default="sampled",
                        help="how clusters draw filler sentences (docstring); runs: the corpus until 2026-12-02")
    parser.add_argument("--signature", action="store_true",
                        help="also time Parquet with verify: signature, lsh_threshold 0.6 (the pre-#16 defaults)")
    parser.add_argument("--hojichar", nargs=2, type=Path, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hojichar:
        hojichar_main(*args.hojichar)
        return 0
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    jinstruct = [sys.executable, "-m", "jinstruct.cli"]
    print(f"{'size':>8} {'run':<22} {'seconds':>8} {'CPU s':>7} {'peak RSS MB':>12} {'load (1 min)':>12}")
    for size in args.sizes:
        folder = args.workdir / (str(size) if args.filler == "runs" else f"{size}-sampled")
        if not (folder / "text.parquet").is_file():
            build(size, folder, args.filler)
        runs = {
            "jinstruct jsonl": jinstruct + ["dedup", "--input", str(folder / "text.jsonl"), "--output",
                                            str(folder / "out.jsonl"), "--rejects", str(folder / "rej.jsonl"),
                                            "--text-field", "text"],
            "jinstruct parquet": jinstruct + ["dedup", "--input", str(folder / "text.parquet"), "--output",
                                              str(folder / "out.parquet"), "--rejects", str(folder / "rej.parquet"),
                                              "--text-field", "text"],
        }
        if args.signature:  # the faster verification of main before issue #16, for the cost of verify: edits
            runs["jinstruct parquet sig"] = jinstruct + [
                "dedup", "--input", str(folder / "text.parquet"), "--output", str(folder / "out-sig.parquet"),
                "--rejects", str(folder / "rej-sig.parquet"), "--text-field", "text",
                "--set", "verify=signature", "--set", "lsh_threshold=0.6"]
        if HOJICHAR_PYTHON.exists():
            runs["hojichar jsonl"] = [str(HOJICHAR_PYTHON), __file__, "--hojichar", str(folder / "text.jsonl"),
                                      str(folder / "hojichar.jsonl")]
        results = {}
        for name, command in runs.items():
            results[name] = result = timed(command, env if name.startswith("jinstruct") else None)
            print(f"{size:>8} {name:<22} {result['seconds']:>8.1f} {result['cpu_seconds']:>7.1f} "
                  f"{result['peak_rss_mb']:>12,} {result['load']:>12} {' '.join(result['error'])}", flush=True)
        truth = truth_of(size, folder)
        ideal = truth.height - truth["truth"].n_unique()
        print(f"{size:>8} truth: {truth['truth'].n_unique():,} clusters, {ideal:,} records to remove", flush=True)
        outputs = {"jinstruct jsonl": folder / "out.jsonl", "jinstruct parquet": folder / "out.parquet",
                   "jinstruct parquet sig": folder / "out-sig.parquet", "hojichar jsonl": folder / "hojichar.jsonl"}
        for name in results:
            if not results[name]["error"]:
                quality = removal_quality(truth, outputs[name])
                print(f"{size:>8} {name:<22} removed {quality['removed']:,}, lost {quality['lost']:,} "
                      f"clusters, missed {quality['missed']:,} copies", flush=True)
        if "hojichar jsonl" in results:
            for name in [name for name in results if name.startswith("jinstruct")]:
                ratio = results["hojichar jsonl"]["seconds"] / max(results[name]["seconds"], 0.1)
                print(f"{size:>8} {'hojichar / ' + name.split(' ', 1)[1]:<22} {ratio:>7.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
