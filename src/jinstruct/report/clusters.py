"""Dedup clusters in one shape, whatever layout the dedup stage wrote them in."""

from __future__ import annotations

import polars as pl

from jinstruct.records import InputError


def _first_column(columns: list[str], *candidates: str) -> str | None:
    return next((name for name in candidates if name in columns), None)


def normalise_clusters(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per cluster member (cluster, id, kept, similarity, reason), whatever the layout.

    Accepts one row per member (a cluster column plus ``id``) or one row per
    cluster with a list of member ids; the kept flag may be a boolean column or
    the id of the kept member.
    """
    columns = frame.columns
    cluster = _first_column(columns, "cluster_id", "cluster", "cluster_key", "group")
    members = next((c for c in columns if frame.schema[c] == pl.List(pl.String)), None)
    if cluster is None:
        raise InputError(f"no cluster column among {', '.join(columns)}")
    if members is not None:
        frame = frame.explode(members).rename({members: "__member"})
        member = "__member"
    else:
        member = _first_column(columns, "id", "member_id", "record_id")
        if member is None:
            raise InputError(f"no member id column among {', '.join(columns)}")
    kept_flag = _first_column(columns, "kept", "keep", "is_kept", "is_representative", "representative")
    kept_id = _first_column(columns, "kept_id", "representative_id", "keeper_id")
    if kept_flag is not None and frame.schema[kept_flag] == pl.Boolean:
        kept = pl.col(kept_flag)
    elif kept_id is not None:
        kept = pl.col(kept_id) == pl.col(member)
    else:
        kept = pl.lit(None, dtype=pl.Boolean)
    similarity = _first_column(columns, "similarity", "jaccard", "estimated_jaccard", "score")
    reason = _first_column(columns, "reason", "match", "kind")
    return frame.select(
        cluster=pl.col(cluster).cast(pl.String),
        id=pl.col(member).cast(pl.String),
        kept=kept,
        similarity=pl.col(similarity).cast(pl.Float64) if similarity else pl.lit(None, dtype=pl.Float64),
        reason=pl.col(reason).cast(pl.String) if reason else pl.lit(None, dtype=pl.String),
    ).filter(pl.col("id").is_not_null())


def example_cluster_ids(clusters: pl.DataFrame, count: int) -> list[str]:
    """The largest clusters (ties by cluster id), as the clearest examples of what dedup merges."""
    sizes = clusters.group_by("cluster").len("size").sort(["size", "cluster"], descending=[True, False])
    return sizes.filter(pl.col("size") > 1).head(count)["cluster"].to_list()
