"""Merge and unmerge duplicate customers through the storage ports (合并 / 撤销合并).

Each use case runs in one unit of work: it loads the customers and every
related record (activities, opportunities, cases, orders, survey responses,
consents), lets :mod:`crmcore.merge` decide, saves the new snapshots, the
moved records and the merge record together, and publishes the event after
the commit. If anything fails, nothing is saved.

May import: ``crmcore.domain``, ``crmcore.merge``, ``crmcore.ports``,
``crmcore.errors``, ``crmcore.clock``; attrs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from crmcore.clock import Clock
from crmcore.domain.ids import CustomerId, MergeId, UserId, new_id
from crmcore.errors import NotFoundError
from crmcore.merge import (
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
from crmcore.ports import Repository, UnitOfWork

__all__ = ["merge_customers", "unmerge_customers"]


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
        related = [r for c in dict.fromkeys(c.id for c in customers) for r in _related_of(uow, c)]
        plan = plan_merge(
            customers,
            related,
            policy,
            at=clock.now(),
            merge_id=merge_id or MergeId(new_id()),
            by=by,
            survivor_id=survivor_id,
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
        uow.commit()
    return saved


def unmerge_customers(
    uow: UnitOfWork, merge_id: MergeId, *, clock: Clock, by: UserId | None = None
) -> UnmergeResult:
    """Undo a merge: restore the customers and move their records back, in one unit of work.

    Changes made since the merge are kept and reported in
    :attr:`~crmcore.merge.UnmergeResult.conflicts` (see :mod:`crmcore.merge.unmerge`).

    Args:
        uow: The unit of work to load and save through (committed here).
        merge_id: The merge to undo.
        clock: Where "now" comes from.
        by: Who undoes it.

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
        result = unmerge(record, survivor, related, at=clock.now(), by=by, current_merged=merged)
        saved = attrs.evolve(
            result,
            survivor=uow.customers.save(result.survivor),
            restored=tuple(uow.customers.save_many(result.restored)),
            related=_save_related(uow, result.related),
            record=uow.merges.save(result.record),
        )
        uow.collect(result.event)
        uow.commit()
    return saved
