"""Merge plans: decide a merge, look at it, adjust it, then apply it.

:func:`plan_merge` is pure: it picks the survivor and decides every field by
the :class:`~crmcore.merge.survivorship.SurvivorshipPolicy`, without changing
anything. A UI can show :attr:`MergePlan.decisions` and
:meth:`MergePlan.preview`, let a person override a field with
:func:`choose`, and then :func:`apply_merge` produces the new snapshots, the
:class:`~crmcore.merge.record.MergeRecord` and the ``CustomersMerged`` event.

A merge deletes nothing: the merged customers keep all their data and get
``merged_into``; their related records move to the survivor.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.clock``,
``crmcore.merge``; attrs, pendulum.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.customer import Customer
from crmcore.domain.entity import touch
from crmcore.domain.events import CustomersMerged
from crmcore.domain.ids import CustomerId, EventId, MergeId, UserId
from crmcore.errors import InvalidValueError
from crmcore.merge.fields import field_paths, with_values
from crmcore.merge.record import FieldDecision, MergeRecord, RepointedRecord
from crmcore.merge.related import RelatedRecord, related_key, related_kind, repoint
from crmcore.merge.rule import SurvivorshipRule
from crmcore.merge.survivorship import SurvivorshipPolicy, choose_survivor, decide, decided_value

__all__ = ["MergePlan", "MergeResult", "apply_merge", "choose", "plan_merge"]


def _by_id(value: Iterable[Customer]) -> tuple[Customer, ...]:
    return tuple(sorted(value, key=lambda c: c.id))


def _by_key(value: Iterable[RelatedRecord]) -> tuple[RelatedRecord, ...]:
    return tuple(sorted(value, key=related_key))


def _decisions(value: Iterable[FieldDecision]) -> tuple[FieldDecision, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class MergePlan:
    """A decided but not yet applied merge.

    Attributes:
        merge_id: The id the merge record will have.
        survivor_id: The customer that keeps its id.
        merged_ids: The customers to merge into it, sorted.
        customers: Every customer involved, sorted by id (their current snapshots).
        related: The related records of the merged customers, to move, sorted.
        decisions: One decision per field path, in :func:`field_paths` order.
        at: When the merge happens.
        by: Who merges.
    """

    merge_id: MergeId
    survivor_id: CustomerId
    merged_ids: tuple[CustomerId, ...]
    customers: tuple[Customer, ...] = attrs.field(converter=_by_id)
    related: tuple[RelatedRecord, ...] = attrs.field(default=(), converter=_by_key)
    decisions: tuple[FieldDecision, ...] = attrs.field(converter=_decisions)
    at: pendulum.DateTime = attrs.field(converter=utc)
    by: UserId | None = None

    @property
    def survivor(self) -> Customer:
        """The survivor's current snapshot."""
        return next(c for c in self.customers if c.id == self.survivor_id)

    def decision(self, field: str) -> FieldDecision:
        """Return the decision for ``field``.

        Args:
            field: A field path.

        Returns:
            The decision.

        Raises:
            InvalidValueError: If the plan has no decision for ``field``.
        """
        for decision in self.decisions:
            if decision.field == field:
                return decision
        raise InvalidValueError("field", field, "not decided by this merge")

    def preview(self) -> Customer:
        """Return the survivor as :func:`apply_merge` will produce it."""
        by_id = {c.id: c for c in self.customers}
        values = {
            d.field: decided_value(d, by_id, survivor_id=self.survivor_id) for d in self.decisions
        }
        return touch(with_values(self.survivor, values), self.at)


@attrs.frozen(kw_only=True)
class MergeResult:
    """What applying a merge produced; save all of it in one unit of work.

    Attributes:
        survivor: The survivor with the merged values (same version as read).
        merged: The merged customers with ``merged_into`` set, sorted by id.
        related: The related records moved to the survivor, sorted by kind and id.
        record: The lineage record that makes the merge reversible.
        event: The ``CustomersMerged`` event.
    """

    survivor: Customer
    merged: tuple[Customer, ...]
    related: tuple[RelatedRecord, ...]
    record: MergeRecord
    event: CustomersMerged


def _check_customers(customers: Sequence[Customer], at: pendulum.DateTime) -> None:
    ids = [c.id for c in customers]
    if len(ids) < 2:
        raise InvalidValueError("customers", ids, "a merge needs at least two customers")
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise InvalidValueError("customers", twice, "listed twice")
    for customer in customers:
        if customer.merged_into is not None:
            raise InvalidValueError(
                "customers", customer.id, f"already merged into {customer.merged_into}"
            )
        if customer.updated_at > at:
            raise InvalidValueError(
                "at", at.isoformat(), f"before the last update of customer {customer.id}"
            )
    if len({c.kind for c in customers}) > 1:
        raise InvalidValueError(
            "customers", sorted(ids), "cannot merge a person with an organization"
        )


def _related_to_move(
    related: Iterable[RelatedRecord], ids: set[CustomerId], survivor_id: CustomerId
) -> list[RelatedRecord]:
    moving: list[RelatedRecord] = []
    seen: set[tuple[object, str]] = set()
    for record in related:
        key = related_key(record)
        if key in seen:
            raise InvalidValueError("related", f"{key[0]} {key[1]}", "listed twice")
        seen.add(key)
        owner = record.customer_id
        if owner is None or owner not in ids:
            raise InvalidValueError(
                "related",
                f"{key[0]} {key[1]}",
                f"belongs to customer {owner}, which is not part of this merge",
            )
        if owner != survivor_id:
            moving.append(record)
    return moving


def plan_merge(
    customers: Iterable[Customer],
    related: Iterable[RelatedRecord] = (),
    policy: SurvivorshipPolicy | None = None,
    *,
    at: pendulum.DateTime,
    merge_id: MergeId,
    by: UserId | None = None,
    survivor_id: CustomerId | None = None,
) -> MergePlan:
    """Decide how to merge duplicate ``customers``; change nothing.

    The result does not depend on the order of ``customers`` or ``related``.

    Args:
        customers: Two or more active customers of one kind (current snapshots).
        related: Their related records; those of the survivor stay where they
            are, the others will move to it.
        policy: The survivorship policy (the defaults when ``None``).
        at: When the merge happens.
        merge_id: The id of the merge record.
        by: Who merges.
        survivor_id: Keep this customer's id instead of the policy's choice.

    Returns:
        The plan.

    Raises:
        InvalidValueError: If fewer than two customers are given, one is listed
            twice or already merged, they are of different kinds, ``at`` is
            before one's last update, ``survivor_id`` is not among them, a
            related record belongs to another customer, or a ``SUM`` / custom
            ``UNION`` field holds values those rules cannot combine.
    """
    when = utc(at)
    people = _by_id(customers)
    _check_customers(people, when)
    rules = policy or SurvivorshipPolicy()
    if survivor_id is None:
        survivor = choose_survivor(people, rules)
    else:
        found = [c for c in people if c.id == survivor_id]
        if not found:
            raise InvalidValueError("survivor_id", survivor_id, "not among the customers merged")
        survivor = found[0]
    moving = _related_to_move(related, {c.id for c in people}, survivor.id)
    for record in moving:
        if record.updated_at > when:
            raise InvalidValueError(
                "at",
                when.isoformat(),
                f"before the last update of {related_kind(record)} {record.id}",
            )
    decisions = [
        decide(path, people, survivor_id=survivor.id, policy=rules) for path in field_paths(people)
    ]
    return MergePlan(
        merge_id=merge_id,
        survivor_id=survivor.id,
        merged_ids=tuple(c.id for c in people if c.id != survivor.id),
        customers=people,
        related=moving,
        decisions=decisions,
        at=when,
        by=by,
    )


def choose(plan: MergePlan, field: str, source_id: CustomerId) -> MergePlan:
    """Return ``plan`` with ``field`` taken from customer ``source_id``, chosen by hand.

    The decision's rule becomes ``MANUAL``; the value is the source's whole value.

    Args:
        plan: The plan to adjust.
        field: A field path the plan decides.
        source_id: One of the customers of the plan.

    Returns:
        The adjusted plan.

    Raises:
        InvalidValueError: If the plan does not decide ``field`` or
            ``source_id`` is not part of it.
    """
    old = plan.decision(field)
    if source_id not in {c.id for c in plan.customers}:
        raise InvalidValueError("source_id", source_id, "not part of this merge")
    new = FieldDecision(
        field=field,
        rule=SurvivorshipRule.MANUAL,
        source_id=source_id,
        contributors=old.contributors,
    )
    return attrs.evolve(plan, decisions=[new if d.field == field else d for d in plan.decisions])


def apply_merge(plan: MergePlan) -> MergeResult:
    """Apply a merge plan: the new snapshots, the merge record and the event.

    Args:
        plan: A plan from :func:`plan_merge` (possibly adjusted with :func:`choose`).

    Returns:
        The survivor with the merged values, the merged customers with
        ``merged_into`` set, the moved related records, the merge record and
        the ``CustomersMerged`` event. Versions are the ones read; the
        repositories bump them on save.

    Raises:
        InvalidValueError: If the merged values break an invariant of the customer.
    """
    at = plan.at
    survivor = plan.preview()
    merged = tuple(
        touch(c, at, merged_into=plan.survivor_id)
        for c in plan.customers
        if c.id != plan.survivor_id
    )
    moved = tuple(repoint(r, plan.survivor_id, at=at) for r in plan.related)
    repointed = [
        RepointedRecord(
            kind=related_kind(r),
            record_id=r.id,
            from_id=r.customer_id,
            to_id=plan.survivor_id,
        )
        for r in plan.related
        if r.customer_id is not None
    ]
    record = MergeRecord(
        id=plan.merge_id,
        survivor_id=plan.survivor_id,
        merged_ids=plan.merged_ids,
        originals=plan.customers,
        result=survivor,
        decisions=plan.decisions,
        repointed=repointed,
        merged_at=at,
        merged_by=plan.by,
        created_at=at,
        updated_at=at,
    )
    event = CustomersMerged(
        id=EventId(f"{plan.merge_id}.merged"),
        merge_id=plan.merge_id,
        survivor_id=plan.survivor_id,
        merged_ids=plan.merged_ids,
        at=at,
        by=plan.by,
    )
    return MergeResult(survivor=survivor, merged=merged, related=moved, record=record, event=event)
