"""Connected components over confirmed duplicate pairs, the kept record of each cluster,
and the merge of split groups.

Which record a cluster keeps (one rule, applied the same way everywhere):

1. the source listed earliest in ``dedup.source_priority`` (unlisted sources
   come after every listed one);
2. then the longest ``output`` (the most complete answer);
3. then the smallest ``id`` (a total order, so the choice is deterministic).

Connected components come from a compiled union-find (a 2.5M-record build has
millions of pairs); it replaced scipy's sparse graph routines, whose import
(scipy.sparse) was ~0.5 s of the standalone command's start-up.
"""

from __future__ import annotations

import numba
import numpy as np
import polars as pl


def components(size: int, pairs: np.ndarray) -> np.ndarray:
    """The component root (smallest member) of each of ``size`` items joined by ``pairs``."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if pairs.size and (pairs.min() < 0 or pairs.max() >= size):
        raise ValueError(f"components: a pair names an item outside 0..{size - 1}")
    return _smallest_members(size, np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1]))


@numba.njit(nogil=True, cache=True)
def _smallest_members(size, left, right):
    """Union-find in which the smaller root always wins, so every parent is ≤ its child
    and, after one pass in increasing order, each item points at its component's smallest member."""
    parent = np.arange(size, dtype=np.int64)
    for k in range(left.size):
        a, b = left[k], right[k]
        while parent[a] != a:  # path halving
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
    for item in range(size):
        parent[item] = parent[parent[item]]
    return parent


def keep_order(frame: pl.DataFrame, source_priority: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` (with ``_cluster``, ``source``, ``_output_chars``, ``id``) sorted by cluster then
    the keep rule, with ``_rank`` (0 = kept)."""
    listed = {source: position for position, source in enumerate(source_priority)}
    priority = pl.col("source").replace_strict(listed, default=len(listed), return_dtype=pl.Int64)
    return (
        frame.with_columns(_priority=priority)
        .sort(["_cluster", "_priority", "_output_chars", "id"], descending=[False, False, True, False])
        .with_columns(_rank=pl.int_range(pl.len()).over("_cluster"))
        .drop("_priority")
    )


def merged_groups(groups: pl.Series, codes: np.ndarray, clusters: np.ndarray) -> pl.Series:
    """Each record's group after merging the groups of every cluster (``clusters``: each record's
    component root from ``components``, the smallest row of its cluster).

    Groups joined through any cluster member become one group, named by its
    smallest member group, so the split stage keeps near-duplicate relatives
    (and both directions of a translation pair) in the same split.
    """
    codes = codes - 1  # dense ranks of ``groups`` (1 = smallest)
    names = groups.unique().sort()
    # link every record's group to the group of its cluster's first record: ``clusters`` are the
    # component roots ``components`` gives, each cluster's smallest row, so that record is clusters[i]
    # (a lookup, not a window over every record: the Ray driver's memory peaked there)
    first_code = codes[clusters]
    roots = components(len(names), np.stack([first_code, codes], axis=1))
    return names.gather(roots[codes]).alias(groups.name)
