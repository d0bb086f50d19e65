"""The dedup key of a record: which text is compared, and in which canonical form.

The key joins the configured fields (default instruction + input + output),
each folded the same way so that differences that never change meaning vanish
(and moving text between instruction and input does not hide an exact duplicate):

- NFKC (full/half width: ＡＢＣ→ABC, ｶﾀｶﾅ→カタカナ, full-width digits and !?),
  then lower case;
- punctuation variants folded to one form (。/．→., 、/，→,, the quote family
  「」『』“”‘’ → ", 〜/～ → ~), because Japanese text mixes them freely;
- all whitespace removed: Japanese has no word spaces, so spaces in a key are
  layout noise (tokenised corpora, line wrapping).

The same canonical key feeds exact dedup (equal keys) and MinHash (character
n-grams of the key). Changing this module changes every key: bump
``settings.KEY_VERSION`` so older indexes are refused.
"""

from __future__ import annotations

import polars as pl
import xxhash

_PUNCTUATION_FOLD = {
    "。": ".", "．": ".", "、": ",", "，": ",",
    "「": '"', "」": '"', "『": '"', "』": '"', "“": '"', "”": '"', "‘": '"', "’": '"', "'": '"',
    "〜": "~", "～": "~",
    "【": "[", "】": "]",
}


def canonical_text_expr(column: str) -> pl.Expr:
    """The canonical form of one text column (rules in the module docstring)."""
    return (
        pl.col(column).cast(pl.String).fill_null("")
        .str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_many(list(_PUNCTUATION_FOLD), list(_PUNCTUATION_FOLD.values()))
        .str.replace_all(r"\s+", "")
    )


def canonical_key_expr(canonical_columns: list[str]) -> pl.Expr:
    """The dedup key: the canonical fields concatenated (whitespace, and so any separator, is gone)."""
    return pl.concat_str([pl.col(name) for name in canonical_columns])


def numbers_expr(key: pl.Expr) -> pl.Expr:
    """The digit runs of a key in order ("2000年8月31日" → "2000 8 31").

    Instruction data often differ only in numbers (an arithmetic problem, a
    date, a count) and then have different answers; a character n-gram Jaccard
    cannot tell them from a typo, so near-duplicate pairs must agree on these.
    """
    return key.str.extract_all(r"[0-9]+").list.join(" ")


def stable_hashes(values: pl.Series, bits: int = 64, batch: int = 100_000) -> pl.Series:
    """xxh3 of each string's UTF-8 bytes: stable across processes, machines and polars versions.

    polars' own ``hash`` is documented as unstable across versions, and the
    hashes are stored in the index a later release compares against. The
    strings reach xxhash as bytes straight from polars (no ``str.encode``), in
    batches so that millions of keys never exist as Python objects at once.
    """
    digest, dtype = (xxhash.xxh3_128_hexdigest, pl.String) if bits == 128 else (xxhash.xxh3_64_intdigest, pl.UInt64)
    as_bytes = values.cast(pl.String).fill_null("").cast(pl.Binary)
    parts = [pl.Series(values.name, list(map(digest, as_bytes.slice(start, batch).to_list())), dtype=dtype)
             for start in range(0, values.len(), batch)]
    return pl.concat(parts) if parts else pl.Series(values.name, [], dtype=dtype)
