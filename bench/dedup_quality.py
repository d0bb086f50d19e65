"""Dedup quality per kind on both labelled corpora (in process, jinstruct only).

    python bench/dedup_quality.py [--bench-size 20000] [--set key=value ...]

Corpora: bench/dedup_corpus.py (Dolly-based; kinds near, exact, hard_number,
hard_name) at --bench-size records, and bench/dedup_corpus_jglue.py (JGLUE-based,
written independently; see its docstring for the kinds). For each corpus it prints
overall precision / recall / F1 of removal (the definition of dedup_bench.score),
then one row per kind:

- positive kinds: how many copies ended in the same cluster as their original
  (recall of the kind), how many removals of that kind were wrong (precision of the
  kind: right removals / removals), and their F1;
- hard kinds: how many pairs lost a member (the target is ≤ 0.5%).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
import dedup_corpus  # noqa: E402  (bench/ and src/ are on sys.path from the lines above)
import dedup_corpus_jglue  # noqa: E402
from dedup_bench import score  # noqa: E402

from jinstruct.dedup import dedup_records  # noqa: E402


def per_kind(corpus: pl.DataFrame, clusters: pl.DataFrame, removed: set[str], paired: bool) -> pl.DataFrame:
    """One row per kind: records, removed, wrong removals, copies found (positives), pairs hit (hard)."""
    cluster_of = dict(clusters.select("id", "cluster_id").iter_rows())
    kept_per_truth = (corpus.with_columns(removed=pl.col("id").is_in(list(removed)))
                      .group_by("truth").agg(kept=(~pl.col("removed")).sum()))
    labelled = corpus.join(kept_per_truth, on="truth").with_columns(
        removed=pl.col("id").is_in(list(removed)),
        cluster=pl.col("id").replace_strict(cluster_of, default=pl.col("id")),
        truth_cluster=pl.col("truth").replace_strict(cluster_of, default=pl.col("truth")))
    rows = []
    for kind in labelled["kind"].unique().sort().to_list():
        part = labelled.filter(kind=kind)
        wrong = part.filter(pl.col("removed") & (pl.col("kept") == 0)).height
        row = {"kind": kind, "records": part.height, "removed": int(part["removed"].sum()), "wrong_removals": wrong}
        if kind.startswith("hard") and paired:
            # pairs are the records of one kind made from one base: consecutive ids before the shuffle
            row["pairs"] = part.height // 2
            row["pairs_hit"] = _pairs_hit(part)
        elif not kind.startswith("hard") and kind != "unique":
            found = part.filter((pl.col("cluster") == pl.col("truth_cluster")) & (pl.col("id") != pl.col("truth")))
            row["found"] = found.height
            recall = found.height / part.height
            # precision of the kind: its removals that were right (a copy removed, or its original
            # removed in its favour, counts under the kind of the removed record)
            precision = 1 - wrong / row["removed"] if row["removed"] else 1.0
            row["precision"] = round(precision, 4)
            row["recall"] = round(recall, 4)
            row["f1"] = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
        rows.append(row)
    return pl.DataFrame(rows)


def _pairs_hit(part: pl.DataFrame) -> int:
    ordered = part.sort("id")
    removed = ordered["removed"].to_list()
    return sum(removed[i] or removed[i + 1] for i in range(0, len(removed) - 1, 2))


def evaluate(name: str, corpus: pl.DataFrame, params: dict, paired: bool) -> None:
    outcome = dedup_records(corpus.drop("kind", "truth"), params)
    removed = set(outcome.result.rejected["id"].to_list())
    overall = score(corpus, removed)
    print(f"\n## {name}: {corpus.height:,} records — precision {overall['precision']:.4f}, "
          f"recall {overall['recall']:.4f}, F1 {overall['f1']:.4f} ({overall['removed']} removed of "
          f"{overall['ideal_removals']} ideal)")
    table = per_kind(corpus, outcome.clusters, removed, paired)
    with pl.Config(tbl_rows=40, tbl_cols=20, tbl_width_chars=200, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-size", type=int, default=20_000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="dedup params over params.yaml's (YAML values), e.g. --set threshold=0.75")
    args = parser.parse_args()
    params = yaml.safe_load((HERE.parent / "params.yaml").read_text(encoding="utf-8"))["dedup"]
    for item in args.set:
        key, value = item.split("=", 1)
        params[key] = yaml.safe_load(value)
    params["n_jobs"] = 2
    evaluate("JGLUE-based (independent)", dedup_corpus_jglue.build_corpus(), params, paired=True)
    evaluate(f"Dolly-based (bench/dedup_corpus.py, {args.bench_size:,})",
             dedup_corpus.build_corpus(args.bench_size), params, paired=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
