"""Reading the rows of a few ids from stage outputs without loading whole tables.

Stage outputs are sorted by ``id`` and written with Parquet statistics, so a
lazy scan filtered on ``id`` lets polars skip row groups whose id range cannot
hold the id, and decode the other columns only for the matching rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from jinstruct.records import TEXT_FIELDS


def rows_where(path: Path, column: str, values: Sequence[str], columns: Sequence[str] | None = None) -> pl.DataFrame:
    """The rows of ``path`` whose ``column`` is one of ``values`` (only ``columns``, when given)."""
    scan = pl.scan_parquet(path).filter(pl.col(column).is_in(list(values)))
    if columns is not None:
        available = scan.collect_schema().names()
        scan = scan.select([name for name in columns if name in available])
    return scan.collect()


def rows_with_id(path: Path, record_id: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
    return rows_where(path, "id", [record_id], columns)


def ids_containing(path: Path, text: str, limit: int) -> pl.DataFrame:
    """id, source, task and the first matching field of the rows whose text (normalised or raw) holds ``text``."""
    scan = pl.scan_parquet(path)
    available = scan.collect_schema().names()
    fields = [name for name in (*TEXT_FIELDS, *(f"raw_{f}" for f in TEXT_FIELDS)) if name in available]
    hits = [pl.col(name).str.contains(text, literal=True).fill_null(False) for name in fields]
    matched = pl.coalesce([pl.when(hit).then(pl.lit(name)) for hit, name in zip(hits, fields)])
    return (scan.filter(pl.any_horizontal(hits))
            .select("id", "source", "task", matched.alias("field"),
                    pl.coalesce([pl.when(hit).then(pl.col(name)) for hit, name in zip(hits, fields)]).alias("text"))
            .sort("id").head(limit).collect())
