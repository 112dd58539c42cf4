"""Batch deduplication: keys → blocking → comparisons → EM → scores → clusters.

:func:`dedupe` runs the whole pipeline over a data set and returns a
:class:`DedupeResult`: every record's stable cluster id, the trained model,
and every candidate pair's score with its explanation on demand.
:class:`MatchSettings` holds the choices (comparisons, blocking rules,
deterministic rules, threshold); the defaults need no tuning and no labels.

May import: ``crmcore.matching``, ``crmcore.errors``; attrs, numpy.
"""

from __future__ import annotations

import collections
import concurrent.futures
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Generic, TypeAlias, TypeVar

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import ConfigurationError
from crmcore.matching import workers as pool_policy
from crmcore.matching.blocking import (
    DEFAULT_BLOCKING_RULES,
    BlockingRule,
    BlockingStats,
    candidate_pairs,
)
from crmcore.matching.cluster import cluster_pairs
from crmcore.matching.comparison import Comparison
from crmcore.matching.feature import FeatureTable, build_features
from crmcore.matching.key import KeyOptions
from crmcore.matching.model import (
    CONTACT_COLUMNS,
    DEFAULT_COMPARISONS,
    DEFAULT_RULES,
    DeterministicRule,
    MatchModel,
    ScoredPair,
    compare_pairs,
    contact_holders,
    estimate_model,
)
from crmcore.matching.record import MatchRecord
from crmcore.matching.workers import StartMethod

__all__ = ["DEFAULT_THRESHOLD", "DedupeResult", "MatchSettings", "Progress", "dedupe"]

Rows: TypeAlias = npt.NDArray[np.int64]
Floats: TypeAlias = npt.NDArray[np.float64]
_R = TypeVar("_R")
Progress: TypeAlias = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` during long runs (total 0 if unknown)."""

DEFAULT_THRESHOLD: Final = 0.5
"""Match probability at or above which a pair is a match: more likely than not."""


def _probability(value: float) -> float:
    if not 0.0 < value < 1.0:
        raise ConfigurationError(f"threshold must be a probability in (0, 1), got {value!r}")
    return float(value)


@attrs.frozen(kw_only=True)
class MatchSettings:
    """What to compare, how to block, when a pair is a match.

    Attributes:
        comparisons: The comparisons (default: name, email, phone, company,
            city, postcode, birth date, address, national id).
        blocking_rules: Which pairs to compare at all.
        rules: Deterministic rules (a pair satisfying one is a match).
        threshold: Match probability at or above which a pair matches.
        max_cluster_size: Components larger than this are cut at their
            weakest links before the consistency check.
        link_only: Only pair records of different ``source`` (record linkage
            between data sets rather than deduplication).
        keys: How keys are built (email folding, nicknames, phone region).
        u_sample_size: Random pairs used to estimate u (100,000 gives the same
            F1 as 200,000 on the CRM sample and FEBRL, in half the time).
        seed: Seed for that sample.
    """

    comparisons: tuple[Comparison, ...] = attrs.field(default=DEFAULT_COMPARISONS, converter=tuple)
    blocking_rules: tuple[BlockingRule, ...] = attrs.field(
        default=DEFAULT_BLOCKING_RULES, converter=tuple
    )
    rules: tuple[DeterministicRule, ...] = attrs.field(default=DEFAULT_RULES, converter=tuple)
    threshold: float = attrs.field(default=DEFAULT_THRESHOLD, converter=_probability)
    max_cluster_size: int = 50
    link_only: bool = False
    keys: KeyOptions = attrs.field(factory=KeyOptions)
    u_sample_size: int = 100_000
    seed: int = 0

    def estimate(
        self, table: FeatureTable, levels: npt.NDArray[np.int8], left: Rows, right: Rows
    ) -> MatchModel:
        """Estimate a model for these settings from blocked pairs (no labels).

        The estimation :func:`dedupe` runs, for engines that block and compare
        elsewhere (the Spark adapter): u from random pairs, m and the prior by EM,
        with the blocking rules' columns, the rules, the u sample and the seed of
        these settings.
        """
        return estimate_model(
            table,
            levels,
            self.comparisons,
            left=left,
            right=right,
            blocking_columns=[rule.columns for rule in self.blocking_rules],
            rules=self.rules,
            u_sample_size=self.u_sample_size,
            seed=self.seed,
        )


@attrs.frozen(eq=False)
class DedupeResult:
    """The outcome of :func:`dedupe`.

    Attributes:
        table: The records' keys, in id order.
        model: The model trained on the data.
        cluster_ids: The cluster id of each row of ``table``.
        left: Candidate pairs' left rows.
        right: Their right rows.
        levels: Their comparison levels.
        probability: Their match probabilities.
        threshold: The threshold used.
        blocking: Blocking statistics.
        timings: Seconds spent per stage.
    """

    table: FeatureTable
    model: MatchModel
    cluster_ids: tuple[str, ...]
    left: Rows
    right: Rows
    levels: npt.NDArray[np.int8]
    probability: Floats
    threshold: float
    blocking: BlockingStats
    timings: dict[str, float]

    def cluster_of(self) -> dict[str, str]:
        """Return record id → cluster id."""
        return dict(zip(self.table.ids.tolist(), self.cluster_ids, strict=True))

    def clusters(self) -> dict[str, tuple[str, ...]]:
        """Return cluster id → its member ids (sorted), singletons included."""
        out: dict[str, list[str]] = {}
        for record_id, cluster_id in zip(self.table.ids.tolist(), self.cluster_ids, strict=True):
            out.setdefault(cluster_id, []).append(record_id)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    def pairs(self, min_probability: float | None = None) -> Iterator[ScoredPair]:
        """Yield candidate pairs at or above ``min_probability``, explained.

        Args:
            min_probability: Lowest probability to yield (default: the threshold).

        Yields:
            Scored pairs with their contributions, strongest first.
        """
        floor = self.threshold if min_probability is None else min_probability
        rows = np.flatnonzero(self.probability >= floor)
        rows = rows[np.argsort(-self.probability[rows], kind="stable")]
        if not len(rows):
            return
        left, right = self.left[rows], self.right[rows]
        levels = self.levels[rows]
        tf = self.model.tf_adjustments(self.table, levels, left, right)
        weights, probability, fired = self.model.score(levels, tf)
        ids = self.table.ids
        for k in range(len(rows)):
            scored = (float(weights[k]), float(probability[k]), int(fired[k]))
            yield self.model.explain(
                str(ids[left[k]]), str(ids[right[k]]), levels[k], tf[k], scored=scored
            )


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def dedupe(
    records: Iterable[MatchRecord] | FeatureTable,
    settings: MatchSettings | None = None,
    *,
    model: MatchModel | None = None,
    progress: Progress | None = None,
    start_method: StartMethod | None = None,
) -> DedupeResult:
    """Find the duplicate clusters in a data set, without labels.

    Args:
        records: The records (ids unique), or their prebuilt feature table.
        settings: The settings (defaults are sensible).
        model: A trained model to reuse; when ``None``, one is trained on this
            data (or, under 1,000 records, :meth:`MatchModel.default` is used).
        progress: Called with ``(stage, done, total)`` as stages advance.
        start_method: ``"fork"`` lets a large run compare its pairs in this
            process and a forked one at once (it starts in milliseconds and
            shares the table); only a process holding no other threads doing
            work may ask for it (a command-line tool, a batch job). Otherwise
            every pair is compared here. The result is the same either way.

    Returns:
        The clusters, the model, and the scored pairs.

    Raises:
        ConfigurationError: If record ids are not unique.

    >>> result = dedupe([
    ...     MatchRecord(id="1", full_name="张伟", phones=["138 0013 8000"], country="CN"),
    ...     MatchRecord(id="2", full_name="Zhang Wei", phones=["+86 138-0013-8000"]),
    ...     MatchRecord(id="3", full_name="李娜", phones=["139 1234 5678"], country="CN"),
    ... ])
    >>> result.cluster_of()
    {'1': '1', '2': '1', '3': '3'}
    """
    settings = settings or MatchSettings()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if isinstance(records, FeatureTable):
        table = records
    else:
        table = build_features(
            records, settings.keys, progress=lambda done: _report(progress, "keys", done, 0)
        )
    ids = table.ids.tolist()
    if len(set(ids)) != len(ids):
        raise ConfigurationError("record ids must be unique within one dedupe run")
    # Canonical row order: results never depend on input order. The input
    # table is dropped (a caller passing a temporary frees it here).
    del records
    table = table.take(np.argsort(table.ids.astype(str), kind="stable").astype(np.int64))
    timings["keys"] = time.perf_counter() - start

    start = time.perf_counter()
    left, right, stats = candidate_pairs(
        table, settings.blocking_rules, link_only=settings.link_only
    )
    timings["blocking"] = time.perf_counter() - start
    _report(progress, "blocking", stats.pairs, stats.pairs)

    start = time.perf_counter()
    forked = start_method == "fork" and len(left) >= _FORK_PAIRS_FROM
    levels = _compare_in_chunks(table, settings.comparisons, left, right, progress, forked=forked)
    timings["comparisons"] = time.perf_counter() - start

    start = time.perf_counter()
    if model is None and len(table) < _MIN_RECORDS_TO_TRAIN:
        model = MatchModel.default(settings.comparisons)
    model, holders = _model_and_holders(table, settings, model, levels, left, right, forked=forked)
    probability = _score_in_chunks(table, model, levels, left, right, holders, forked=forked)
    timings["scoring"] = time.perf_counter() - start
    _report(progress, "scoring", len(left), len(left))

    start = time.perf_counter()
    trained = model

    def score_pairs(a: Rows, b: Rows) -> Floats:
        if settings.link_only:
            same = table.codes["source"][a] == table.codes["source"][b]
        else:
            same = np.zeros(len(a), dtype=bool)
        extra_levels = compare_pairs(table, trained.comparisons, a, b)
        extra_tf = trained.tf_adjustments(table, extra_levels, a, b, holders=holders)
        _, p, _ = trained.score(extra_levels, extra_tf)
        p[same] = 0.0
        return p

    def evidence_against(a: Rows, b: Rows) -> Floats:
        extra_levels = compare_pairs(table, trained.comparisons, a, b)
        extra_tf = trained.tf_adjustments(table, extra_levels, a, b, holders=holders)
        return trained.contradiction(table, extra_levels, a, b, extra_tf)

    cluster_ids = cluster_pairs(
        [str(i) for i in table.ids.tolist()],
        left,
        right,
        probability,
        threshold=settings.threshold,
        score_pairs=score_pairs,
        max_cluster_size=settings.max_cluster_size,
        prior_weight=trained.prior_weight,
        evidence_against=evidence_against,
    )
    timings["clustering"] = time.perf_counter() - start
    _report(progress, "clustering", len(table), len(table))
    return DedupeResult(
        table=table,
        model=model,
        cluster_ids=tuple(cluster_ids),
        left=left,
        right=right,
        levels=levels,
        probability=probability,
        threshold=settings.threshold,
        blocking=stats,
        timings=timings,
    )


_COMPARE_CHUNK: Final = 1_000_000
_MIN_RECORDS_TO_TRAIN: Final = 1_000


def _model_and_holders(  # noqa: PLR0917 - a private helper fed straight from dedupe's locals
    table: FeatureTable,
    settings: MatchSettings,
    model: MatchModel | None,
    levels: npt.NDArray[np.int8],
    left: Rows,
    right: Rows,
    *,
    forked: bool,
) -> tuple[MatchModel, dict[str, dict[str, int]]]:
    """Return the model (``model``, or one estimated) and every contact's holders.

    With ``forked``, the model is estimated in a forked process while this
    one counts the holders (neither reads what the other builds).
    """
    if model is not None or not forked:
        holders = {c: contact_holders(table, c) for c in CONTACT_COLUMNS}
        if model is None:
            model = settings.estimate(table, levels, left, right)
        return model, holders
    estimation = _Forked(lambda _start, _stop: settings.estimate(table, levels, left, right))
    try:
        holders = {c: contact_holders(table, c) for c in CONTACT_COLUMNS}
        return estimation.result(0, 0, estimation.job), holders
    finally:
        estimation.close()


def _score_in_chunks(  # noqa: PLR0917 - a private helper fed straight from dedupe's locals
    table: FeatureTable,
    model: MatchModel,
    levels: npt.NDArray[np.int8],
    left: Rows,
    right: Rows,
    holders: Mapping[str, Mapping[str, int]],
    *,
    forked: bool = False,
) -> Floats:
    """Score pairs chunk by chunk (the pairs × comparisons adjustments stay small).

    Every pair's score depends on that pair only; with ``forked``, a forked
    process scores a share of the pieces.
    """

    def score(start: int, stop: int) -> Floats:
        part = slice(start, stop)
        tf = model.tf_adjustments(table, levels[part], left[part], right[part], holders=holders)
        return model.score(levels[part], tf)[1]

    out = np.zeros(len(left), dtype=np.float64)
    if forked:
        _shared(score, out, None)
        return out
    for start in range(0, len(left), _COMPARE_CHUNK):
        stop = min(start + _COMPARE_CHUNK, len(left))
        out[start:stop] = score(start, stop)
    return out


def _compare_in_chunks(
    table: FeatureTable,
    comparisons: Sequence[Comparison],
    left: Rows,
    right: Rows,
    progress: Progress | None,
    *,
    forked: bool = False,
) -> npt.NDArray[np.int8]:
    """Compare pairs chunk by chunk; with ``forked``, a forked process takes a share.

    Every pair's levels depend on that pair only, so how the pairs are cut
    and who compares each piece does not change the result.
    """

    def compare(start: int, stop: int) -> npt.NDArray[np.int8]:
        return compare_pairs(table, comparisons, left[start:stop], right[start:stop])

    def report(done: int) -> None:
        _report(progress, "comparisons", done, len(left))

    out = np.zeros((len(left), len(comparisons)), dtype=np.int8)
    if forked:
        _shared(compare, out, report)
        return out
    for start in range(0, len(left), _COMPARE_CHUNK):
        stop = min(start + _COMPARE_CHUNK, len(left))
        out[start:stop] = compare(start, stop)
        report(stop)
    return out


_FORK_PAIRS_FROM: Final = 200_000
"""Pairs from which a forked process helps (below, forking costs more than it saves)."""
_SHARED_CHUNK: Final = 250_000
"""Pairs per piece when two processes share the work (small pieces keep both busy to the end)."""
_AHEAD: Final = 2
"""Pieces queued for the forked process, so it never waits for this one to hand it work."""

_Work: TypeAlias = Callable[[int, int], _R]
"""Work on the pairs ``start:stop``: it depends on them only, and runs in either process."""


class _Forked(Generic[_R]):
    """One forked process running ``work`` on ranges of pairs it is sent.

    The process is forked when the first range is sent, and inherits
    ``work`` with everything it reads (the table, the pairs): only range
    bounds are sent, only results come back. A range whose job could not run
    (the process could not start, or died) is worked here instead. Only a
    process holding no other threads doing work may fork (see :func:`dedupe`).
    """

    def __init__(self, work: _Work[_R], *, first: tuple[int, int] = (0, 0)) -> None:
        self.work = work
        self.pool = pool_policy.start_pool(1, "fork", (_state, (work,)), collect_cycles=False)
        self.job = self.send(*first)

    def send(self, start: int, stop: int) -> concurrent.futures.Future[_R] | None:
        """Send a range; return its job (``None`` if it cannot be sent: work it here)."""
        return pool_policy.submit(self.pool, pool_policy.in_worker, _run_forked, start, stop)

    def result(self, start: int, stop: int, job: concurrent.futures.Future[_R] | None) -> _R:
        """Return the result of the range ``job`` was sent, or work it here."""
        return pool_policy.result_or_here(job, lambda: self.work(start, stop))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _shared(
    work: _Work[npt.NDArray[Any]],
    out: npt.NDArray[Any],
    report: Callable[[int], None] | None,
) -> None:
    """Fill ``out[start:stop]`` with ``work(start, stop)``: this process and a forked one share.

    Pieces go to the forked process from the front, a few ahead, while this
    process works pieces from the back; any order gives the same ``out``.
    """
    queue = collections.deque(
        (start, min(start + _SHARED_CHUNK, len(out))) for start in range(0, len(out), _SHARED_CHUNK)
    )
    pending: collections.deque[
        tuple[int, int, concurrent.futures.Future[npt.NDArray[Any]] | None]
    ] = collections.deque()
    done = 0

    def finished(start: int, stop: int, value: npt.NDArray[Any]) -> None:
        nonlocal done
        out[start:stop] = value
        done += stop - start
        if report is not None:
            report(done)

    forked: _Forked[npt.NDArray[Any]] | None = None
    try:
        first = queue.popleft()
        forked = _Forked(work, first=first)
        pending.append((*first, forked.job))
        while queue:
            while queue and len(pending) < _AHEAD:
                start, stop = queue.popleft()
                pending.append((start, stop, forked.send(start, stop)))
            while pending and pending[0][2] is not None and pending[0][2].done():
                start, stop, job = pending.popleft()
                finished(start, stop, forked.result(start, stop, job))
            if queue:
                start, stop = queue.pop()
                finished(start, stop, work(start, stop))
        while pending:
            start, stop, job = pending.popleft()
            finished(start, stop, forked.result(start, stop, job))
    finally:
        if forked is not None:
            forked.close()


def _state(work: _Work[_R]) -> _Work[_R]:  # pragma: no cover - runs in the forked process
    return work


def _run_forked(  # pragma: no cover - runs in the forked process
    start: int, stop: int, work: _Work[_R]
) -> _R:
    return work(start, stop)
