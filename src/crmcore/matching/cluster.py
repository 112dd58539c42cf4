"""Clustering scored pairs into entities, without chaining.

Plain connected components chain: one record that looks a bit like two
people glues both into one cluster, and at a million rows a few weak links
build a giant. Here a component of matched pairs is accepted as one cluster
only if it is consistent — every pair of its members, compared directly, is
a match. Otherwise it is split by average linkage: groups merge, best first,
only while the average match probability between them stays above the
threshold, so a bridge record joins one side and never both. Components
larger than ``max_cluster_size`` are first cut at their weakest links.

Cluster ids are stable across runs and input order: the smallest member id.

May import: ``crmcore.matching``, ``crmcore.errors``; numpy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["PairScorer", "cluster_pairs", "connected_components"]

Rows: TypeAlias = npt.NDArray[np.int64]
Floats: TypeAlias = npt.NDArray[np.float64]
PairScorer: TypeAlias = Callable[[Rows, Rows], Floats]
"""Score pairs of rows that blocking did not pair (returns match probabilities)."""


def _find(parent: list[int], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def connected_components(
    n: int, left: Rows, right: Rows, *, max_size: int | None = None
) -> list[int]:
    """Return a component label (its smallest row) for each of ``n`` rows.

    Edges are taken in the order given; with ``max_size`` an edge that would
    make a component larger than that is skipped (so pass the strongest first).

    Args:
        n: Number of rows.
        left: Edge ends.
        right: Other edge ends.
        max_size: Largest component allowed, or ``None``.

    Returns:
        The label of every row.

    >>> connected_components(4, np.array([0, 2]), np.array([1, 3]))
    [0, 0, 2, 2]
    """
    parent = list(range(n))
    size = [1] * n
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb:
            continue
        if max_size is not None and size[ra] + size[rb] > max_size:
            continue
        if ra > rb:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
    return [_find(parent, x) for x in range(n)]


def _average_linkage(members: list[int], matrix: Floats, threshold: float) -> list[list[int]]:
    """Split one component by average linkage on its full probability matrix."""
    groups: list[list[int]] = [[k] for k in range(len(members))]
    while len(groups) > 1:
        best = -1.0
        pick: tuple[int, int] | None = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                score = float(matrix[np.ix_(groups[i], groups[j])].mean())
                if score > best:
                    best, pick = score, (i, j)
        if pick is None or best < threshold:
            break
        i, j = pick
        groups[i] = groups[i] + groups[j]
        del groups[j]
    return [[members[k] for k in group] for group in groups]


def cluster_pairs(
    ids: Sequence[str],
    left: Rows,
    right: Rows,
    probability: Floats,
    *,
    threshold: float,
    score_pairs: PairScorer,
    max_cluster_size: int = 50,
    linkage_threshold: float = 0.5,
) -> list[str]:
    """Cluster rows from scored pairs; return each row's cluster id.

    Args:
        ids: Record ids, one per row; ids must be unique.
        left: Scored pairs' left rows.
        right: Their right rows.
        probability: Their match probabilities.
        threshold: Pairs at or above this probability are matches.
        score_pairs: Scores pairs that were not scored yet (for the
            consistency check inside components).
        max_cluster_size: Components are cut at their weakest links until no
            part is larger than this.
        linkage_threshold: An inconsistent component is split by average
            linkage: two groups merge while their members' mean match
            probability is at least this.

    Returns:
        The cluster id of every row: the smallest member id of its cluster.
    """
    n = len(ids)
    keep = probability >= threshold
    order = np.lexsort((right[keep], left[keep], -probability[keep]))
    labels = connected_components(
        n, left[keep][order], right[keep][order], max_size=max_cluster_size
    )
    label_array = np.array(labels, dtype=np.int64)
    cluster_of = label_array.copy()
    sizes = np.bincount(label_array, minlength=n)
    components: dict[int, list[int]] = {}
    for row in np.flatnonzero(sizes[label_array] >= 3).tolist():
        components.setdefault(labels[row], []).append(row)
    if components:
        known = _complete(list(components.values()), label_array, sizes, left, right, probability,
                          score_pairs)  # fmt: skip
        for members in components.values():
            matrix = _matrix(sorted(members), known)
            if matrix.min() >= threshold:
                continue
            for group in _average_linkage(sorted(members), matrix, linkage_threshold):
                root = min(group)
                for row in group:
                    cluster_of[row] = root
    # Stable ids: the smallest member id of each cluster.
    smallest: dict[int, str] = {}
    for row, root in enumerate(cluster_of.tolist()):
        current = smallest.get(root)
        if current is None or ids[row] < current:
            smallest[root] = ids[row]
    return [smallest[root] for root in cluster_of.tolist()]


def _complete(  # noqa: PLR0917 - a private helper fed straight from cluster_pairs' locals
    components: list[list[int]],
    labels: Rows,
    sizes: Rows,
    left: Rows,
    right: Rows,
    probability: Floats,
    score_pairs: PairScorer,
) -> dict[tuple[int, int], float]:
    """Return the probability of every pair inside the components, scoring the missing ones."""
    known: dict[tuple[int, int], float] = {}
    inside = np.flatnonzero((sizes[labels[left]] >= 3) & (labels[left] == labels[right]))
    for a, b, p in zip(
        left[inside].tolist(), right[inside].tolist(), probability[inside].tolist(), strict=True
    ):
        known[(a, b) if a < b else (b, a)] = p
    missing = [
        pair
        for members in components
        for pair in itertools.combinations(sorted(members), 2)
        if pair not in known
    ]
    if missing:
        extra = score_pairs(
            np.array([a for a, _ in missing], dtype=np.int64),
            np.array([b for _, b in missing], dtype=np.int64),
        )
        known.update(zip(missing, extra.tolist(), strict=True))
    return known


def _matrix(members: list[int], known: dict[tuple[int, int], float]) -> Floats:
    """Return the probability matrix of sorted ``members``."""
    size = len(members)
    matrix = np.eye(size)
    for x, y in itertools.combinations(range(size), 2):
        matrix[x, y] = matrix[y, x] = known[(members[x], members[y])]
    return matrix
