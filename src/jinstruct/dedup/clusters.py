"""Union-find over confirmed duplicate pairs, the kept record of each cluster,
and the merge of split groups.

Which record a cluster keeps (one rule, applied the same way everywhere):

1. the source listed earliest in ``dedup.source_priority`` (unlisted sources
   come after every listed one);
2. then the longest ``output`` (the most complete answer);
3. then the smallest ``id`` (a total order, so the choice is deterministic).
"""

from __future__ import annotations

import numpy as np
import polars as pl


class UnionFind:
    """Disjoint sets over 0..n-1; the root of a set is always its smallest member."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        parent = self.parent
        root = item
        while parent[root] != root:
            root = parent[root]
        while parent[item] != root:  # path compression
            parent[item], item = root, parent[item]
        return root

    def union(self, left: int, right: int) -> None:
        a, b = self.find(left), self.find(right)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def roots(self) -> np.ndarray:
        return np.fromiter((self.find(i) for i in range(len(self.parent))), dtype=np.int64, count=len(self.parent))


def components(size: int, pairs: np.ndarray) -> np.ndarray:
    """The component root (smallest member) of each of ``size`` items joined by ``pairs``."""
    sets = UnionFind(size)
    for left, right in pairs.tolist():
        sets.union(left, right)
    return sets.roots()


def keep_order(frame: pl.DataFrame, source_priority: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` sorted by ``_cluster`` then the keep rule, with ``_rank`` (0 = kept)."""
    listed = {source: position for position, source in enumerate(source_priority)}
    priority = pl.col("source").replace_strict(listed, default=len(listed), return_dtype=pl.Int64)
    output_length = pl.col("output").str.len_chars().fill_null(0) if "output" in frame.columns else pl.lit(0)
    return (
        frame.with_columns(_priority=priority, _length=output_length)
        .sort(["_cluster", "_priority", "_length", "id"], descending=[False, False, True, False])
        .with_columns(_rank=pl.int_range(pl.len()).over("_cluster"))
        .drop("_priority", "_length")
    )


def merged_groups(groups: pl.Series, clusters: np.ndarray) -> pl.Series:
    """Each record's group after merging the groups of every cluster.

    Groups joined through any cluster member become one group, named by its
    smallest member group, so the split stage keeps near-duplicate relatives
    (and both directions of a translation pair) in the same split.
    """
    codes, names = groups.rank("dense").cast(pl.Int64).to_numpy() - 1, groups.unique().sort()
    sets = UnionFind(len(names))
    cluster_first_group: dict[int, int] = {}
    for cluster, code in zip(clusters.tolist(), codes.tolist()):
        first = cluster_first_group.setdefault(cluster, code)
        sets.union(first, code)
    roots = sets.roots()
    return pl.Series(groups.name, names.to_numpy()[roots[codes]], dtype=pl.String)
