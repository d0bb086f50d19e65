"""Dedup clusters as the report shows them, read in the schema the dedup stage writes (records.CLUSTER_SCHEMA)."""

from __future__ import annotations

import polars as pl

from jinstruct.records import CLUSTER_SCHEMA, InputError


def normalise_clusters(frame: pl.DataFrame) -> pl.DataFrame:
    """The dedup stage's cluster table (``records.CLUSTER_SCHEMA``) as the report reads it.

    One row per cluster member: cluster, id, kept, similarity, reason. A file
    without the columns dedup writes is refused, naming the ones it lacks.
    """
    missing = [name for name in CLUSTER_SCHEMA if name not in frame.columns]
    if missing:
        raise InputError(f"not a dedup cluster table: no column {', '.join(missing)} "
                         f"(expected {', '.join(CLUSTER_SCHEMA)})")
    return frame.select(
        cluster=pl.col("cluster_id").cast(pl.String),
        id=pl.col("id").cast(pl.String),
        kept=pl.col("kept").cast(pl.Boolean),
        similarity=pl.col("similarity").cast(pl.Float64),
        reason=pl.col("reason").cast(pl.String),
    ).filter(pl.col("id").is_not_null())


def example_cluster_ids(clusters: pl.DataFrame, count: int) -> list[str]:
    """The largest cluster of each source first, then the second largest of each, and so on.

    The largest clusters overall tend to come from one source (short translation
    pairs); taking them source by source shows what dedup merges everywhere. The
    source is the id prefix (ids are ``<source>:<upstream id>``); ties go by cluster id.
    """
    sizes = (clusters.group_by("cluster")
             .agg(size=pl.len(), source=pl.col("id").min().str.split(":").list.first())
             .filter(pl.col("size") > 1))
    by_size = sizes.sort(["size", "cluster"], descending=[True, False])
    ranked = by_size.with_columns(rank=pl.int_range(pl.len()).over("source"))  # 0 = the source's largest
    return ranked.sort(["rank", "size", "cluster"], descending=[False, True, False]).head(count)["cluster"].to_list()


def members_in_order(clusters: pl.DataFrame, cluster_id: str) -> pl.DataFrame:
    """A cluster's members: the kept record first, then the most similar removals."""
    return (clusters.filter(pl.col("cluster") == cluster_id)
            .sort(["kept", "similarity", "id"], descending=[True, True, False], nulls_last=True))
