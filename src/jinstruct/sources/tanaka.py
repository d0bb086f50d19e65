"""The Tanaka corpus pairs of small_parallel_enja, as translation records.

Both sides of the files are tokenised (see ../shared/mirror/README.md, "Quirk"):

- Japanese was segmented with KyTea: words are separated by single spaces.
  Natural Japanese has no spaces, except between two ASCII alphanumeric words
  ("iPhone 12"), so a space survives only when both neighbours are ASCII
  letters or digits.
- English was lowercased and tokenised (Stanford tokenizer, which also splits
  "don't" into "don 't"). ``tidy_english_expr`` undoes what can be undone
  without guessing; proper nouns stay lowercased (docs/sources.md).

Each line pair gives two records, one per direction, sharing the group
``tanaka:<line>`` so that split never puts a sentence in train and its
translation in test.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jinstruct.records import InputError
from jinstruct.sources.candidates import Candidates, Check, shape, source_files
from jinstruct.sources.readers import ERROR_SCHEMA, read_lines
from jinstruct.sources.spec import SourceSpec

INSTRUCTION_EN_JA = "次の英文を日本語に翻訳してください。"
INSTRUCTION_JA_EN = "次の日本語の文を英語に翻訳してください。"


def join_kytea_tokens_expr(column: str | pl.Expr) -> pl.Expr:
    """「私 は 学生 です 。」 → 「私は学生です。」, keeping "iPhone 12".

    polars' regex engine has no look-around, so the rule is applied in two
    passes: drop a space after, then before, a non-ASCII-alphanumeric character.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    return (
        expr.str.strip_chars()
        .str.replace_all(r"([^A-Za-z0-9]) ", "${1}")
        .str.replace_all(r" ([^A-Za-z0-9])", "${1}")
    )


def tidy_english_expr(column: str | pl.Expr) -> pl.Expr:
    """"i 'm in the tennis club ." → "I'm in the tennis club."

    Only unambiguous repairs: contractions and "o'clock" re-attached, no space
    before . , ! ? ; :, paired '' quotes turned into "…", the pronoun "i" and the
    first letter upper-cased. Lone single quotes (quotation or possessive
    plural?) and lowercased names are left as they are.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    tidied = (
        expr.str.strip_chars()
        .str.replace_all(r"'' (.*?) ''", '"${1}"')
        .str.replace_all(r" '(s|m|re|ve|ll|d|t|clock)\b", "'${1}")
        .str.replace_all(r" ([.,!?;:])", "${1}")
        .str.replace_all(r"(^|[ \"])i([ '.,!?]|$)", "${1}I${2}")
    )
    return tidied.str.slice(0, 1).str.to_uppercase() + tidied.str.slice(1)


def tanaka_pairs(spec: SourceSpec, raw_dir: Path) -> Candidates:
    """Line *i* of the ``ja`` file and line *i* of the ``en`` file → two records."""
    if sorted(spec.roles) != ["en", "ja"]:
        raise InputError(f"params.yaml sources.{spec.name}: the tanaka_pairs adapter needs files 'ja' and 'en'")
    paths = dict(zip(spec.roles, source_files(spec, raw_dir)))
    ja, ja_errors = read_lines(paths["ja"], raw_dir)
    en, en_errors = read_lines(paths["en"], raw_dir)
    if ja.len() != en.len():
        raise InputError(f"{paths['ja']}: {ja.len():,} lines but {paths['en'].name} has {en.len():,}; "
                         "the two sides must pair line by line")
    # a line that is not UTF-8 on either side is one unparseable upstream record
    errors = pl.concat([ja_errors, en_errors]).sort("line").unique("line", keep="first", maintain_order=True)
    ja_name, en_name = (paths[role].relative_to(raw_dir).as_posix() for role in ("ja", "en"))
    pairs = (
        pl.DataFrame({"line": pl.int_range(1, ja.len() + 1, eager=True), "ja": ja, "en": en})
        .filter(~pl.col("line").is_in(errors["line"].implode()))
        .with_columns(ja=join_kytea_tokens_expr("ja"), en=tidy_english_expr("en"),
                      line=pl.col("line").cast(pl.String))
    )
    checks = [
        Check(pl.col("ja") == "", "empty_field", pl.lit(f"{ja_name}:") + pl.col("line") + pl.lit(": empty line")),
        Check(pl.col("en") == "", "empty_field", pl.lit(f"{en_name}:") + pl.col("line") + pl.lit(": empty line")),
    ]
    origin = {"origin_files": pl.concat_list(pl.lit(ja_name), pl.lit(en_name)), "origin_position": pl.col("line")}
    directions = [
        shape(pairs, spec, checks, id=pl.col("line") + ":en-ja", group=pl.col("line"), task="translation_en_ja",
              instruction=INSTRUCTION_EN_JA, input=pl.col("en"), output=pl.col("ja"), **origin),
        shape(pairs, spec, checks, id=pl.col("line") + ":ja-en", group=pl.col("line"), task="translation_ja_en",
              instruction=INSTRUCTION_JA_EN, input=pl.col("ja"), output=pl.col("en"), **origin),
    ]
    return Candidates(pl.concat(directions), errors.select(*ERROR_SCHEMA), ja.len())
