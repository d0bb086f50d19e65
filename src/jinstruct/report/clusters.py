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
