"""components: each item's smallest connected member, as scipy's graph routines find it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from jinstruct.dedup.clusters import components


@pytest.mark.parametrize(("size", "edges", "seed"), [(50, 30, 0), (1000, 900, 1), (1000, 3000, 2), (7, 0, 3)])
def test_components_agree_with_scipy(size, edges, seed):
    pairs = np.random.default_rng(seed).integers(0, size, (edges, 2))
    _, labels = connected_components(coo_matrix((np.ones(edges), (pairs[:, 0], pairs[:, 1])), shape=(size, size)),
                                     directed=False)
    expected = np.array([np.flatnonzero(labels == label).min() for label in labels])
    assert np.array_equal(components(size, pairs), expected)


def test_a_chain_joined_from_its_far_end_has_one_root():
    assert components(5, np.array([[4, 3], [3, 2], [2, 1], [1, 0]])).tolist() == [0] * 5
    assert components(4, np.array([[3, 1]])).tolist() == [0, 1, 2, 1]


def test_a_pair_outside_the_items_is_refused():
    with pytest.raises(ValueError):
        components(3, np.array([[0, 3]]))
