"""Merge and unmerge duplicate customers through the storage ports (合并 / 撤销合并).

Each merge runs in one unit of work: it loads the customers and every
related record (activities, opportunities, cases, orders, survey responses,
consents), lets :mod:`crmcore.merge` decide, saves the new snapshots, the
moved records and the merge record together, and publishes the event after
the commit. If anything fails, nothing is saved. :func:`merge_clusters`
merges many clusters (e.g. from :func:`crmcore.matching.dedupe`), one unit
of work each, and reports the clusters it left for a human.

May import: ``crmcore.domain``, ``crmcore.merge``, ``crmcore.ports``, ``crmcore.privacy``,
``crmcore.services``, ``crmcore.errors``, ``crmcore.clock``; attrs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import pendulum

from crmcore.clock import Clock
from crmcore.domain.customer import Customer
from crmcore.domain.ids import CustomerId, MergeId, UserId, new_id
from crmcore.errors import InvalidValueError, NotFoundError
from crmcore.merge import (
    MergeRecord,
    MergeResult,
    RelatedKind,
    RelatedRecord,
    SurvivorshipPolicy,
    UnmergeResult,
    apply_merge,
    plan_merge,
    related_kind,
    unmerge,
)
from crmcore.ports import Repository, Store, UnitOfWork
from crmcore.privacy.audit import AuditAction
from crmcore.services import auditing

__all__ = [
    "ClusterMergeReport",
    "SkippedCluster",
    "merge_clusters",
    "merge_customers",
    "unmerge_customers",
]


def _repository(uow: UnitOfWork, kind: RelatedKind) -> Repository[Any, Any]:
    repositories: dict[RelatedKind, Repository[Any, Any]] = {
        RelatedKind.ACTIVITY: uow.activities,
        RelatedKind.OPPORTUNITY: uow.opportunities,
        RelatedKind.CASE: uow.cases,
        RelatedKind.ORDER: uow.orders,
        RelatedKind.SURVEY_RESPONSE: uow.survey_responses,
        RelatedKind.CONSENT: uow.consents,
    }
    return repositories[kind]


def _related_of(uow: UnitOfWork, customer_id: CustomerId) -> list[RelatedRecord]:
    return [
        *uow.activities.find_by_customer(customer_id),
        *uow.opportunities.find_by_customer(customer_id),
        *uow.cases.find_by_customer(customer_id),
        *uow.orders.find_by_customer(customer_id),
        *uow.survey_responses.find_by_customer(customer_id),
        *uow.consents.find_by_customer(customer_id),
    ]


def _save_related(uow: UnitOfWork, records: Iterable[RelatedRecord]) -> tuple[RelatedRecord, ...]:
    """Save the records kind by kind (all or nothing per kind); return them in input order."""
    items = list(records)
    saved: dict[tuple[RelatedKind, str], RelatedRecord] = {}
    for kind in RelatedKind:
        batch = [r for r in items if related_kind(r) is kind]
        if batch:
            for stored in _repository(uow, kind).save_many(batch):
                saved[(kind, stored.id)] = stored
    return tuple(saved[(related_kind(r), r.id)] for r in items)


def merge_customers(
    uow: UnitOfWork,
    ids: Sequence[CustomerId],
    policy: SurvivorshipPolicy | None = None,
    *,
    clock: Clock,
    by: UserId | None = None,
    merge_id: MergeId | None = None,
    survivor_id: CustomerId | None = None,
    audit: bool = False,
) -> MergeResult:
    """Merge duplicate customers and re-point their related records, in one unit of work.

    Args:
        uow: The unit of work to load and save through (committed here).
        ids: Two or more customer ids.
        policy: The survivorship policy (the defaults when ``None``).
        clock: Where "now" comes from.
        by: Who merges.
        merge_id: The merge record's id (a new random id when ``None``).
        survivor_id: Keep this customer instead of the policy's choice.
        audit: Append a ``merge`` audit entry (ids only) in the same unit of work.

    Returns:
        The merge as saved: snapshots and record with their stored versions.

    Raises:
        NotFoundError: If a customer does not exist.
        InvalidValueError: If the merge is not possible (see
            :func:`crmcore.merge.plan_merge`).
        StaleVersionError: If a record changed concurrently; nothing was saved.
    """
    with uow:
        customers = [uow.customers.get(i) for i in ids]
        saved = _merge(
            uow,
            customers,
            policy,
            at=clock.now(),
            by=by,
            merge_id=merge_id or MergeId(new_id()),
            survivor_id=survivor_id,
            audit=audit,
        )
        uow.commit()
    return saved


def _merge(
    uow: UnitOfWork,
    customers: Sequence[Customer],
    policy: SurvivorshipPolicy | None,
    *,
    at: pendulum.DateTime,
    by: UserId | None,
    merge_id: MergeId,
    survivor_id: CustomerId | None,
    audit: bool = False,
) -> MergeResult:
    """Plan and apply a merge of loaded customers, save it and collect its event (no commit)."""
    related = [r for c in dict.fromkeys(c.id for c in customers) for r in _related_of(uow, c)]
    plan = plan_merge(
        customers, related, policy, at=at, merge_id=merge_id, by=by, survivor_id=survivor_id
    )
    result = apply_merge(plan)
    saved = attrs.evolve(
        result,
        survivor=uow.customers.save(result.survivor),
        merged=tuple(uow.customers.save_many(result.merged)),
        related=_save_related(uow, result.related),
        record=uow.merges.save(result.record),
    )
    uow.collect(result.event)
    if audit:
        _audit_merge(uow, AuditAction.MERGE, saved.record, at=at, by=by)
    return saved


def _audit_merge(
    uow: UnitOfWork, action: str, record: MergeRecord, *, at: pendulum.DateTime, by: UserId | None
) -> None:
    """Append the audit entry of a merge or unmerge: ids only, no personal data."""
    auditing.record(
        uow,
        actor=by,
        action=action,
        record=record,
        at=at,
        payload={
            "survivor_id": record.survivor_id,
            "merged_ids": list(record.merged_ids),
            "repointed": len(record.repointed),
        },
    )


@attrs.frozen(kw_only=True)
class SkippedCluster:
    """A cluster :func:`merge_clusters` left alone, and why.

    Attributes:
        ids: The cluster's customer ids, as given.
        reason: Why it could not be merged (e.g. a person and an organisation).
    """

    ids: tuple[CustomerId, ...]
    reason: str


@attrs.frozen(kw_only=True)
class ClusterMergeReport:
    """The outcome of :func:`merge_clusters`, cluster by cluster in the order given.

    Attributes:
        merges: One merge per merged cluster, as saved.
        already_merged: Clusters whose customers were already merged into one
            of them (nothing to do: a re-run changes nothing).
        skipped: Clusters that could not be merged, left for a human.

    >>> ClusterMergeReport().records_merged
    0
    """

    merges: tuple[MergeResult, ...] = ()
    already_merged: tuple[tuple[CustomerId, ...], ...] = ()
    skipped: tuple[SkippedCluster, ...] = ()

    @property
    def records_merged(self) -> int:
        """How many customers were merged into a survivor."""
        return sum(len(m.merged) for m in self.merges)


def _is_merged(customers: Sequence[Customer]) -> bool:
    """Tell whether all but one of the customers are merged, into customers among them."""
    ids = {c.id for c in customers}
    active = [c for c in customers if c.merged_into is None]
    return len(active) == 1 and all(
        c.merged_into in ids for c in customers if c.merged_into is not None
    )


def merge_clusters(
    store: Store,
    clusters: Iterable[Iterable[CustomerId]],
    policy: SurvivorshipPolicy | None = None,
    *,
    clock: Clock,
    by: UserId | None = None,
    audit: bool = False,
) -> ClusterMergeReport:
    """Merge each cluster of duplicate customers, one unit of work per cluster.

    A cluster that cannot be merged (e.g. a person with an organisation, or a
    customer already merged elsewhere) is skipped with the reason and the
    others go on; a cluster already merged into one of its customers is
    reported as such and left alone, so running the same clusters again
    changes nothing. Clusters of fewer than two distinct ids are ignored.

    Example:
        >>> import pendulum
        >>> from crmcore.adapters.memory import MemoryStore
        >>> from crmcore.clock import FixedClock
        >>> from crmcore.domain import CustomerId, Person, PersonName, register_customer
        >>> store = MemoryStore()
        >>> with store.unit_of_work() as uow:
        ...     for i in ("c-1", "c-2"):
        ...         c, _ = register_customer(id=CustomerId(i), at=pendulum.datetime(2026, 1, 1),
        ...                                  person=Person(name=PersonName.parse("张伟")))
        ...         _ = uow.customers.save(c)
        ...     uow.commit()
        >>> clock = FixedClock(pendulum.datetime(2026, 2, 1))
        >>> clusters = [[CustomerId("c-1"), CustomerId("c-2")]]
        >>> merge_clusters(store, clusters, clock=clock).records_merged
        1
        >>> merge_clusters(store, clusters, clock=clock).already_merged
        (('c-1', 'c-2'),)

    Args:
        store: Where to open a unit of work per cluster (each committed here).
        clusters: Groups of customer ids that are the same customer.
        policy: The survivorship policy (the defaults when ``None``).
        clock: Where "now" comes from.
        by: Who merges.
        audit: Append a ``merge`` audit entry per merge, in its unit of work.

    Returns:
        The merges as saved, the clusters already merged and those skipped.

    Raises:
        NotFoundError: If a customer does not exist; the clusters before it
            stay merged.
        StaleVersionError: If a record changed concurrently; that cluster was
            not saved, the clusters before it stay merged.
    """
    merges: list[MergeResult] = []
    already: list[tuple[CustomerId, ...]] = []
    skipped: list[SkippedCluster] = []
    for cluster in clusters:
        ids = tuple(dict.fromkeys(cluster))
        if len(ids) < 2:  # a merge takes two customers
            continue
        with store.unit_of_work() as uow:
            customers = [uow.customers.get(i) for i in ids]
            if _is_merged(customers):
                already.append(ids)
                continue
            try:
                saved = _merge(
                    uow,
                    customers,
                    policy,
                    at=clock.now(),
                    by=by,
                    merge_id=MergeId(new_id()),
                    survivor_id=None,
                    audit=audit,
                )
            except InvalidValueError as exc:
                skipped.append(SkippedCluster(ids=ids, reason=str(exc)))
                continue  # leaving the block rolls back
            uow.commit()
        merges.append(saved)
    return ClusterMergeReport(
        merges=tuple(merges), already_merged=tuple(already), skipped=tuple(skipped)
    )


def unmerge_customers(
    uow: UnitOfWork,
    merge_id: MergeId,
    *,
    clock: Clock,
    by: UserId | None = None,
    audit: bool = False,
) -> UnmergeResult:
    """Undo a merge: restore the customers and move their records back, in one unit of work.

    Changes made since the merge are kept and reported in
    :attr:`~crmcore.merge.UnmergeResult.conflicts` (see :mod:`crmcore.merge.unmerge`).

    Args:
        uow: The unit of work to load and save through (committed here).
        merge_id: The merge to undo.
        clock: Where "now" comes from.
        by: Who undoes it.
        audit: Append an ``unmerge`` audit entry (ids only) in the same unit of work.

    Returns:
        The unmerge as saved: snapshots and record with their stored versions.

    Raises:
        NotFoundError: If there is no such merge or a customer of it is missing.
        InvalidValueError: If the merge cannot be undone (already undone, or a
            customer of it was merged again since).
        StaleVersionError: If a record changed concurrently; nothing was saved.
    """
    with uow:
        record = uow.merges.get(merge_id)
        survivor = uow.customers.get(record.survivor_id)
        merged = [uow.customers.get(i) for i in record.merged_ids]
        related: list[RelatedRecord] = []
        for entry in record.repointed:
            try:
                related.append(_repository(uow, entry.kind).get(entry.record_id))
            except NotFoundError:
                continue  # deleted since the merge: reported by unmerge
        at = clock.now()
        result = unmerge(record, survivor, related, at=at, by=by, current_merged=merged)
        saved = attrs.evolve(
            result,
            survivor=uow.customers.save(result.survivor),
            restored=tuple(uow.customers.save_many(result.restored)),
            related=_save_related(uow, result.related),
            record=uow.merges.save(result.record),
        )
        uow.collect(result.event)
        if audit:
            _audit_merge(uow, AuditAction.UNMERGE, saved.record, at=at, by=by)
        uow.commit()
    return saved
