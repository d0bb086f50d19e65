"""Undoing the tokenisation of the small_parallel_enja (Tanaka corpus) files.

The Japanese side was segmented with KyTea: words are separated by single
spaces. Natural Japanese has no spaces, except between two ASCII alphanumeric
words ("iPhone 12"), so a space survives only when both neighbours are ASCII
letters or digits (see ../shared/mirror/README.md, "Quirk").
"""

from __future__ import annotations

import polars as pl

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
