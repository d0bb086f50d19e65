"""Connected components over confirmed duplicate pairs, the kept record of each cluster,
and the merge of split groups.

Which record a cluster keeps (one rule, applied the same way everywhere):

1. the source listed earliest in ``dedup.source_priority`` (unlisted sources
   come after every listed one);
2. then the longest ``output`` (the most complete answer);
3. then the smallest ``id`` (a total order, so the choice is deterministic).

Connected components come from scipy's sparse graph routines (compiled),
not a Python union-find: a 2.5M-record build has millions of pairs.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def components(size: int, pairs: np.ndarray) -> np.ndarray:
    """The component root (smallest member) of each of ``size`` items joined by ``pairs``."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(pairs.shape[0], dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    smallest = np.full(labels.max(initial=-1) + 1, size, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(size, dtype=np.int64))
    return smallest[labels]


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
    """Each record's group after merging the groups of every cluster.

    Groups joined through any cluster member become one group, named by its
    smallest member group, so the split stage keeps near-duplicate relatives
    (and both directions of a translation pair) in the same split.
    """
    codes = codes - 1  # dense ranks of ``groups`` (1 = smallest)
    names = groups.unique().sort()
    # link every record's group to the group of its cluster's first record
    first_code = pl.DataFrame({"cluster": clusters, "code": codes}).select(
        pl.col("code").first().over("cluster")).to_series().to_numpy()
    roots = components(len(names), np.stack([first_code, codes], axis=1))
    return names.gather(roots[codes]).alias(groups.name)
