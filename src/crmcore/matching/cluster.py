"""Clustering scored pairs into entities, without chaining.

Plain connected components chain: one record that looks a bit like two
people glues both into one cluster, and at a million rows a few weak links
build a giant. Here a component of matched pairs is accepted as one cluster
only if it is consistent — every pair of its members, compared directly, is
a match. Otherwise it is split by average linkage: groups merge, best first,
only while the average match weight (log-odds) between them stays above the
threshold's, so a bridge record joins one side and never both. Averaging
log-odds rather than probabilities lets a few certain links (a shared mobile)
outweigh many pairs that only lack evidence (one person's work record and
personal record, which share nothing but the name), as they should. Components
larger than ``max_cluster_size`` are first cut at their weakest links.

Cluster ids are stable across runs and input order: the smallest member id.

May import: ``crmcore.matching``, ``crmcore.errors``; numpy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from crmcore.errors import ConfigurationError

__all__ = ["Linkage", "PairScorer", "cluster_pairs", "connected_components"]

Rows: TypeAlias = npt.NDArray[np.int64]
Floats: TypeAlias = npt.NDArray[np.float64]
PairScorer: TypeAlias = Callable[[Rows, Rows], Floats]
"""Score pairs of rows that blocking did not pair (returns match probabilities)."""
Linkage: TypeAlias = Literal["log-odds", "probability"]
"""What average linkage averages: match weights (log2 odds) or probabilities."""

_EPSILON: Final = 1e-9  # probabilities are read within [ε, 1 − ε]: about ±30 bits


def _find(parent: list[int], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def _root_labels(n: int, left: Rows, right: Rows) -> Rows:
    """Return each row's smallest connected row (plain connected components, vectorised).

    Hooks the larger root of every edge under the smaller one, then jumps
    pointers until every row points at its root; repeats until every edge
    joins rows of one root. Every tree only ever points down to smaller
    rows, so a component's root is its smallest row.
    """
    parent = np.arange(n, dtype=np.int64)
    if not len(left):
        return parent
    while True:
        a = parent[left]
        b = parent[right]
        differ = a != b
        if not differ.any():
            return parent
        a, b = a[differ], b[differ]
        np.minimum.at(parent, np.maximum(a, b), np.minimum(a, b))
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


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
    return _component_labels(n, left, right, max_size=max_size).tolist()  # type: ignore[no-any-return]


def _component_labels(n: int, left: Rows, right: Rows, *, max_size: int | None) -> Rows:
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    labels = _root_labels(n, left, right)
    if max_size is None:
        return labels
    sizes = np.bincount(labels, minlength=n)
    big = sizes[labels] > max_size
    if not big.any():
        return labels
    # Only components that outgrow the cap depend on edge order: redo those
    # edge by edge (a component within the cap is the same either way).
    labels = labels.copy()
    rows = np.flatnonzero(big)
    labels[rows] = rows
    in_big = big[left]
    parent = labels.tolist()
    size = [1] * n
    for a, b in zip(left[in_big].tolist(), right[in_big].tolist(), strict=True):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb:
            continue
        if size[ra] + size[rb] > max_size:
            continue
        if ra > rb:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
    for row in rows.tolist():
        labels[row] = _find(parent, row)
    return labels


def _average_linkage(members: list[int], matrix: Floats, threshold: float) -> list[list[int]]:
    """Split one component by average linkage on its full probability matrix.

    Groups merge best first (the first best pair in row order on ties) while
    their mean probability is at least ``threshold``. Group-to-group means
    are kept in a table and only the merged group's are recomputed.
    Components are small (at most ``max_cluster_size``), so plain lists beat
    numpy's per-call overhead here.
    """
    size = len(members)
    probability: list[list[float]] = matrix.tolist()
    groups: list[list[int]] = [[k] for k in range(size)]
    # scores[i][j] for i < j: mean probability between groups i and j.
    scores = [list(row) for row in probability]
    while len(groups) > 1:
        best, bi, bj = -math.inf, -1, -1
        for i in range(len(groups) - 1):
            row = scores[i]
            for j in range(i + 1, len(groups)):
                if row[j] > best:
                    best, bi, bj = row[j], i, j
        if best < threshold:
            break
        groups[bi] = groups[bi] + groups[bj]
        del groups[bj]
        del scores[bj]
        for row in scores:
            del row[bj]
        merged = groups[bi]
        for k, other in enumerate(groups):
            if k != bi:
                mean = _block_mean(probability, other, merged)
                if k < bi:
                    scores[k][bi] = mean
                else:
                    scores[bi][k] = mean
    return [[members[k] for k in group] for group in groups]


def _log_odds(probability: Floats) -> Floats:
    """Return log2 odds of probabilities, read within [1e-9, 1 − 1e-9] (about ±30 bits).

    >>> _log_odds(np.array([0.5, 0.8, 1.0])).round(2).tolist()
    [0.0, 2.0, 29.9]
    """
    p = np.clip(probability, _EPSILON, 1 - _EPSILON)
    return np.asarray(np.log2(p / (1 - p)), dtype=np.float64)


_PRIOR_SHARE: Final = 0.5
"""The share of the prior a non-matching pair inside a component still counts."""


def _evidence_linkage(
    matrix: Floats, prior_weight: float, floor: float, against: Floats | None = None
) -> Floats:
    """Weigh a non-matching pair of a component by its evidence, and half the prior.

    A pair's match weight is the prior's log-odds plus its comparisons' evidence.
    Between two groups that matched pairs already link, the prior has been overcome
    once, by those links; counted in full again for every other pair, it made a pair
    that only lacks evidence — one person's work record and personal record, which
    share the name and nothing else — weigh as if it contradicted the links, and
    split such a person in two. Not counted at all, same-name strangers chain: a pair
    of them lacks evidence in just the same way. So a pair below the threshold counts
    its evidence and half the prior, and never more than 0 (it cannot pull groups
    together); matched pairs keep their weight. Half, measured: the whole prior split
    people on the second corpus, none let strangers chain on the million-row sample
    (largest cluster 16 where the largest true one has 6).

    A pair's evidence *against* (``against``, in bits, at most 0: a comparison
    level that says "another person", such as two mailboxes at one organisation)
    is no lack of evidence: it counts in full, whatever the pair's other
    agreements (two colleagues of one name agree on their name and company,
    and would otherwise weigh 0 and let a record bridge them).

    >>> _evidence_linkage(np.array([[30.0, 5.0], [-6.0, -25.0]]), -12.0, 0.0).tolist()
    [[30.0, 5.0], [0.0, -19.0]]
    >>> against = np.array([[0.0, 0.0], [-2.0, 0.0]])
    >>> _evidence_linkage(np.array([[30.0, 5.0], [-6.0, -25.0]]), -12.0, 0.0, against).tolist()
    [[30.0, 5.0], [-2.0, -19.0]]
    """
    weak = matrix < floor
    if against is None:
        against = np.zeros_like(matrix)
    lacking = np.minimum(matrix - against - _PRIOR_SHARE * prior_weight, 0.0) + against
    out = np.where(weak, lacking, matrix)
    return np.asarray(out, dtype=np.float64)


def _block_mean(probability: list[list[float]], rows: list[int], columns: list[int]) -> float:
    return math.fsum(probability[r][c] for r in rows for c in columns) / (len(rows) * len(columns))


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
    linkage: Linkage = "log-odds",
    prior_weight: float | None = None,
    evidence_against: PairScorer | None = None,
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
            weight is at least this probability's (or, with
            ``linkage="probability"``, their mean probability is).
        linkage: Average match weights (``"log-odds"``, the default: a
            certain link counts for more than a pair lacking evidence) or
            probabilities (``"probability"``, the behaviour before issue 20).
        prior_weight: The model's prior log-odds. Given, average linkage counts
            a pair below the threshold by its evidence and only half the prior
            (and at most 0): the links between two groups already overcame the
            prior once. ``None``: every pair counts its whole weight (the
            behaviour before).
        evidence_against: With ``prior_weight``: scores pairs' evidence against
            a match (bits, at most 0: see
            :meth:`~crmcore.matching.model.MatchModel.contradiction`), which a
            pair below the threshold counts in full rather than offset by its
            agreements. ``None``: none (the behaviour before).

    Returns:
        The cluster id of every row: the smallest member id of its cluster.
    """
    if linkage not in {"log-odds", "probability"}:
        raise ConfigurationError(f"linkage must be 'log-odds' or 'probability', got {linkage!r}")
    n = len(ids)
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    probability = np.asarray(probability, dtype=np.float64)
    keep = probability >= threshold
    order = np.lexsort((right[keep], left[keep], -probability[keep]))
    labels = _component_labels(n, left[keep][order], right[keep][order], max_size=max_cluster_size)
    cluster_of = labels.copy()
    sizes = np.bincount(labels, minlength=n)
    rows = np.flatnonzero(sizes[labels] >= 3)
    if len(rows):
        # Members of each component, rows ascending, components by smallest row.
        members = rows[np.argsort(labels[rows], kind="stable")]
        starts = np.flatnonzero(np.r_[True, labels[members][1:] != labels[members][:-1]])
        counts = np.diff(np.r_[starts, len(members)])
        first, second, component = _component_pairs(members, starts, counts)
        pair_probability = _complete(
            first, second, labels, sizes, left, right, probability, score_pairs
        )
        low = np.full(len(starts), np.inf)
        np.minimum.at(low, component, pair_probability)
        bounds = np.r_[0, np.cumsum(counts * (counts - 1) // 2)]
        split = np.flatnonzero(low < threshold)
        pair_against = np.zeros(len(pair_probability), dtype=np.float64)
        if evidence_against is not None and prior_weight is not None and len(split):
            inside = np.flatnonzero(np.isin(component, split))
            pair_against[inside] = np.minimum(
                np.asarray(evidence_against(first[inside], second[inside]), dtype=np.float64),
                0.0,
            )
        for c in split.tolist():
            group_rows = members[starts[c] : starts[c] + counts[c]].tolist()
            matrix = _matrix(int(counts[c]), pair_probability[bounds[c] : bounds[c + 1]])
            floor = linkage_threshold
            if linkage == "log-odds":
                # Rounding must not split a tie: opposite weights average to 0 exactly.
                matrix, floor = _log_odds(matrix), float(_log_odds(np.array(floor))) - 1e-9
                if prior_weight is not None:
                    against = _matrix(int(counts[c]), pair_against[bounds[c] : bounds[c + 1]])
                    np.fill_diagonal(against, 0.0)
                    matrix = _evidence_linkage(matrix, prior_weight, floor, against)
            for group in _average_linkage(group_rows, matrix, floor):
                root = min(group)
                cluster_of[group] = root
    # Stable ids: the smallest member id of each cluster.
    roots = cluster_of.tolist()
    smallest: dict[int, str] = {}
    for root, record_id in zip(roots, ids, strict=True):
        current = smallest.get(root)
        if current is None or record_id < current:
            smallest[root] = record_id
    return [smallest[root] for root in roots]


def _component_pairs(members: Rows, starts: Rows, counts: Rows) -> tuple[Rows, Rows, Rows]:
    """Return every pair of members of each component (``first < second``), by component."""
    firsts: list[Rows] = []
    seconds: list[Rows] = []
    components: list[Rows] = []
    for size in np.unique(counts).tolist():
        which = np.flatnonzero(counts == size)
        a, b = _upper(size)
        firsts.append(members[(starts[which][:, None] + a[None, :]).ravel()])
        seconds.append(members[(starts[which][:, None] + b[None, :]).ravel()])
        components.append(np.repeat(which, len(a)))
    component = np.concatenate(components)
    order = np.argsort(component, kind="stable")
    return np.concatenate(firsts)[order], np.concatenate(seconds)[order], component[order]


def _complete(  # noqa: PLR0917 - a private helper fed straight from cluster_pairs' locals
    first: Rows,
    second: Rows,
    labels: Rows,
    sizes: Rows,
    left: Rows,
    right: Rows,
    probability: Floats,
    score_pairs: PairScorer,
) -> Floats:
    """Return the probability of every pair ``(first, second)``, scoring the ones not yet scored."""
    n = max(len(labels), 1)
    inside = np.flatnonzero((sizes[labels[left]] >= 3) & (labels[left] == labels[right]))
    a, b = left[inside], right[inside]
    known_keys = np.minimum(a, b) * n + np.maximum(a, b)
    # The last score of a pair given twice wins.
    order = np.argsort(known_keys, kind="stable")
    ordered = known_keys[order]
    last = np.r_[ordered[1:] != ordered[:-1], True] if len(ordered) else np.zeros(0, dtype=bool)
    unique_keys = ordered[last]
    unique_probability = probability[inside][order[last]]
    wanted = first * n + second
    out = np.empty(len(wanted), dtype=np.float64)
    where = np.searchsorted(unique_keys, wanted)
    where_clipped = np.minimum(where, max(len(unique_keys) - 1, 0))
    found = (
        unique_keys[where_clipped] == wanted
        if len(unique_keys)
        else np.zeros(len(wanted), dtype=bool)
    )
    out[found] = unique_probability[where_clipped[found]]
    missing = np.flatnonzero(~found)
    if len(missing):
        out[missing] = np.asarray(score_pairs(first[missing], second[missing]), dtype=np.float64)
    return out


def _matrix(size: int, pair_probability: Floats) -> Floats:
    """Return the symmetric probability matrix of one component from its pairs in triu order."""
    matrix = np.eye(size)
    a, b = _upper(size)
    matrix[a, b] = pair_probability
    matrix[b, a] = pair_probability
    return matrix


@functools.cache
def _upper(size: int) -> tuple[Rows, Rows]:
    """Row and column of each cell above the diagonal of a ``size`` square (read-only, shared)."""
    a, b = np.triu_indices(size, k=1)
    a.flags.writeable = False
    b.flags.writeable = False
    return a, b
