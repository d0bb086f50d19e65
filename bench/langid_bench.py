"""Language ID on short lines: the language filter vs fastText lid.176 alone, on bench/langid/.

Every line of the labelled set goes through ``filter_records`` as a
Japanese-expected text field (what ``jinstruct filter --text-field text`` does
with a file that has no task column), with only the language filter enabled
and the filter params of ./params.yaml. The baseline keeps a line when
lid.176's top label is ``ja``; "no lingua" is the filter without its second
opinion (``second_opinion.languages: []``). Prints keep rates of Japanese lines per register
and reject rates of other lines per language, and the lines each method gets wrong
(``--show-errors``).

    JINSTRUCT_MIRROR=../shared/mirror python bench/langid_bench.py [--show-errors] \
        [--build data/interim/deduped.parquet]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import polars as pl
import yaml

from jinstruct.filters import filter_records
from jinstruct.filters.language import predict_languages

HERE = Path(__file__).parent / "langid"
sys.path.insert(0, str(HERE))
from make_langid_set import resolve  # noqa: E402  (bench/langid/ is on sys.path from the line above)


def load_set(mirror: Path | None) -> pl.DataFrame:
    rows = [json.loads(line) for line in (HERE / "sentences.jsonl").read_text(encoding="utf-8").splitlines()]
    if mirror is not None:
        refs = [json.loads(line) for line in (HERE / "mirror_refs.jsonl").read_text(encoding="utf-8").splitlines()]
        rows += resolve(refs, mirror)
    else:
        print("JINSTRUCT_MIRROR not set: Japanese lines from the training sources are left out")
    return pl.DataFrame(rows).with_columns(group=pl.when(pl.col("lang") == "ja").then(
        pl.lit("ja ") + pl.col("register")).otherwise(pl.col("lang")))


def filter_params(second_opinion: bool = True) -> dict:
    params = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))["filter"]
    params = {**params, "order": ["language"]}
    if not second_opinion:
        params["language"] = {**params["language"],
                              "second_opinion": {**params["language"]["second_opinion"], "languages": []}}
    return params


def compare_on_build(path: Path) -> None:
    """Records of a build that the language filter alone rejects, and that fastText alone would
    (top label not ``ja`` on a non-empty Japanese-expected field, as params.yaml assigns them)."""
    records = pl.read_parquet(path)
    params = filter_params()
    result = filter_records(records, params, ["instruction", "input", "output"], None)
    texts = []
    for field, lang in params["field_languages"].items():
        if lang != "ja":
            continue
        english_tasks = [task for task, fields in params["english_fields"].items() if field in fields]
        texts.append(records.filter(~pl.col("task").is_in(english_tasks) & (pl.col(field).str.strip_chars() != ""))
                     .select("id", pl.col(field).alias("text")))
    texts = pl.concat(texts)
    labels, _ = predict_languages(texts["text"].to_list())
    fasttext_rejects = texts.filter(pl.Series([label != "ja" for label in labels]))["id"].n_unique()
    print(f"{path}: {records.height} records; language filter rejects {result.rejected.height} "
          f"({result.rejected.height / records.height:.4%}), fastText only {fasttext_rejects} "
          f"({fasttext_rejects / records.height:.4%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--build", type=Path, help="also compare on a build's records (data/interim/deduped.parquet)")
    args = parser.parse_args()
    if args.build:
        compare_on_build(args.build)
    mirror = os.environ.get("JINSTRUCT_MIRROR")
    lines = load_set(Path(mirror) if mirror else None)
    result = filter_records(lines.select("id", "text"), filter_params(), ["text"], None)
    rejected = set(result.rejected["id"].to_list())
    without_lingua = filter_records(lines.select("id", "text"), filter_params(second_opinion=False), ["text"], None)
    labels, scores = predict_languages(lines["text"].to_list())
    lines = lines.with_columns(
        filter_keeps=~pl.col("id").is_in(list(rejected)),
        no_lingua_keeps=~pl.col("id").is_in(without_lingua.rejected["id"].to_list()),
        fasttext_keeps=pl.Series([label == "ja" for label in labels]),
        fasttext=pl.Series([f"{label} {score:.2f}" for label, score in zip(labels, scores)]))
    japanese = pl.col("lang") == "ja"

    def right(keeps: str) -> pl.Expr:
        return pl.when(japanese).then(pl.col(keeps)).otherwise(~pl.col(keeps)).mean()

    table = lines.group_by("group").agg(
        lines=pl.len(), filter=right("filter_keeps"), no_lingua=right("no_lingua_keeps"),
        fasttext_only=right("fasttext_keeps")).sort("group")
    print(f"{lines.height} lines; figures are keep rates for Japanese and reject rates for the rest")
    print(f"{'group':<18}{'lines':>6}{'filter':>9}{'no lingua':>11}{'fastText only':>15}")
    for group, count, filter_rate, no_lingua_rate, fasttext_rate in table.iter_rows():
        print(f"{group:<18}{count:>6}{filter_rate:>9.3f}{no_lingua_rate:>11.3f}{fasttext_rate:>15.3f}")
    for name, subset in (("Japanese kept", lines.filter(japanese)), ("non-Japanese rejected", lines.filter(~japanese))):
        figures = subset.select(right("filter_keeps"), right("no_lingua_keeps"), right("fasttext_keeps")).row(0)
        print(f"{name:<24}{subset.height:>6}  filter {figures[0]:.4f}  no lingua {figures[1]:.4f}  "
              f"fastText only {figures[2]:.4f}")
    rules = result.rejected.select(pl.col("detail").str.extract(r"^[^:]+: ([^,]+),").alias("rule"))
    print("rejects by rule:", dict(sorted(rules.group_by("rule").len().iter_rows())))
    if args.show_errors:
        wrong = lines.filter(pl.when(japanese).then(~pl.col("filter_keeps")).otherwise(pl.col("filter_keeps")))
        for row in wrong.sort("group").iter_rows(named=True):
            print(f"  {row['group']:<14} {row['fasttext']:<10} {row['text'][:90]!r}")


if __name__ == "__main__":
    main()
