"""k-shot examples: a pool held out from the scored items, drawn per item, stratified by label.

Only the JGLUE valid splits are available offline (train/test are not mirrored),
so the examples come from the valid file itself: ``pool_per_label`` items of
each label are set aside (chosen by a seeded hash of their id, so the choice does
not depend on file order) and never scored. The pool is held out whatever k is,
so k=0 and k=3 scores cover the same items and can be compared.

For each scored item the k examples are drawn with a generator seeded by
(seed, item id): deterministic, and independent of ``limit`` and of which other
items are scored. Stratified: labels are taken round-robin in an order shuffled
per item, so k=3 on JNLI shows each label once and no label is favoured.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    id: str
    fields: dict          # values the template's ``item`` format string uses
    choices: tuple[str, ...]  # the continuations scored
    gold: int             # index of the right choice
    label: str            # the gold label name (stratification and confusion matrix)


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def split_pool(items: Sequence[Item], pool_per_label: int, seed: int) -> tuple[list[Item], list[Item]]:
    """(pool, scored): ``pool_per_label`` items of each label held out, the rest scored in file order."""
    if pool_per_label <= 0:
        return [], list(items)
    by_label: dict[str, list[Item]] = {}
    for item in items:
        by_label.setdefault(item.label, []).append(item)
    pool_ids = set()
    for label in sorted(by_label):
        ranked = sorted(by_label[label], key=lambda item: _rank(seed, item.id))
        pool_ids.update(item.id for item in ranked[:pool_per_label])
    pool = [item for item in items if item.id in pool_ids]
    scored = [item for item in items if item.id not in pool_ids]
    return pool, scored


def draw_shots(item: Item, pool: Sequence[Item], k: int, seed: int) -> list[Item]:
    """k examples for ``item`` from ``pool``, labels taken round-robin in a per-item order."""
    if k <= 0:
        return []
    by_label: dict[str, list[Item]] = {}
    for candidate in pool:
        if candidate.id != item.id:
            by_label.setdefault(candidate.label, []).append(candidate)
    if sum(len(v) for v in by_label.values()) < k:
        raise ValueError(f"a {k}-shot prompt needs at least {k} pool examples, the pool has "
                         f"{sum(len(v) for v in by_label.values())}")
    rng = random.Random(_rank(seed, item.id))
    labels = sorted(by_label)
    rng.shuffle(labels)
    remaining = {label: rng.sample(by_label[label], len(by_label[label])) for label in labels}
    shots: list[Item] = []
    while len(shots) < k:
        for label in labels:
            if remaining[label] and len(shots) < k:
                shots.append(remaining[label].pop())
    return shots
