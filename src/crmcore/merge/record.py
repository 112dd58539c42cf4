"""The lineage of a merge (合并记录): everything needed to explain and undo it.

A :class:`MergeRecord` is an entity of its own, stored by the merges
repository: the pre-merge snapshot of every customer involved, the survivor
as the merge left it, each field's decision (winner, source customer and
rule) and every related record that was re-pointed. ``unmerge`` reads it
back; nothing else is needed, because a merge deletes nothing.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.clock``,
``crmcore.merge``; attrs, pendulum.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL, SENSITIVE
from crmcore.domain.customer import Customer
from crmcore.domain.entity import not_before, require_id, require_version
from crmcore.domain.ids import CustomerId, MergeId, UserId
from crmcore.errors import InvalidValueError
from crmcore.merge.rule import SurvivorshipRule

__all__ = ["FieldDecision", "MergeRecord", "RelatedKind", "RepointedRecord"]


class RelatedKind(enum.StrEnum):
    """The kinds of record that point at a customer and follow it into a merge."""

    ACTIVITY = "activity"
    OPPORTUNITY = "opportunity"
    CASE = "case"
    ORDER = "order"
    SURVEY_RESPONSE = "survey_response"
    CONSENT = "consent"


def _customer_ids(value: Iterable[str]) -> tuple[CustomerId, ...]:
    return tuple(CustomerId(require_id(v)) for v in value)


@attrs.frozen(kw_only=True)
class FieldDecision:
    """How one field of the survivor got its value.

    Attributes:
        field: The field path (``"person.name"``, ``"points.emails"``, ``"custom.visits"``).
        rule: The rule that decided.
        source_id: The customer whose value won; for combining rules, the one
            whose primary (or first value) leads; ``None`` when no customer had a value.
        contributors: Every customer that had a value, by id.
        note: A human-readable remark (a clash that could not be combined …).
    """

    field: str = attrs.field(metadata=INTERNAL)
    rule: SurvivorshipRule = attrs.field(converter=SurvivorshipRule, metadata=INTERNAL)
    source_id: CustomerId | None = attrs.field(default=None, metadata=INTERNAL)
    contributors: tuple[CustomerId, ...] = attrs.field(
        default=(), converter=_customer_ids, metadata=INTERNAL
    )
    note: str = attrs.field(default="", metadata=INTERNAL)


@attrs.frozen(kw_only=True, order=True)
class RepointedRecord:
    """A related record moved from a merged customer to the survivor."""

    kind: RelatedKind = attrs.field(converter=RelatedKind, metadata=INTERNAL)
    record_id: str = attrs.field(converter=require_id, metadata=INTERNAL)
    from_id: CustomerId = attrs.field(converter=require_id, metadata=INTERNAL)
    to_id: CustomerId = attrs.field(converter=require_id, metadata=INTERNAL)


def _originals(value: Iterable[Customer]) -> tuple[Customer, ...]:
    return tuple(sorted(value, key=lambda c: c.id))


def _decisions(value: Iterable[FieldDecision]) -> tuple[FieldDecision, ...]:
    return tuple(value)


def _repointed(value: Iterable[RepointedRecord]) -> tuple[RepointedRecord, ...]:
    return tuple(sorted(value))


def _check_consistent(instance: MergeRecord, _: attrs.Attribute[object], __: object) -> None:
    merged = instance.merged_ids
    if not merged:
        raise InvalidValueError("merge record", instance.id, "merges at least one customer")
    if list(merged) != sorted(set(merged)):
        raise InvalidValueError("merged_ids", list(merged), "must be unique and sorted")
    if instance.survivor_id in merged:
        raise InvalidValueError("merged_ids", instance.survivor_id, "the survivor is not merged")
    involved = sorted([instance.survivor_id, *merged])
    if [c.id for c in instance.originals] != involved:
        raise InvalidValueError(
            "originals",
            [c.id for c in instance.originals],
            f"expected one snapshot of each of {involved}",
        )
    if any(c.merged_into is not None for c in instance.originals):
        raise InvalidValueError("originals", instance.id, "pre-merge snapshots are active")
    if instance.result.id != instance.survivor_id or instance.result.merged_into is not None:
        raise InvalidValueError("result", instance.result.id, "must be the active survivor")
    strays = sorted(r.record_id for r in instance.repointed if r.from_id not in merged)
    if strays or any(r.to_id != instance.survivor_id for r in instance.repointed):
        raise InvalidValueError(
            "repointed", strays, "records move from a merged customer to the survivor"
        )
    if instance.undone_at is None and instance.undone_by is not None:
        raise InvalidValueError("undone_by", instance.undone_by, "set only with undone_at")


@attrs.frozen(kw_only=True)
class MergeRecord:
    """One merge, kept so it can be explained and undone.

    ``originals`` are sorted by customer id and include the survivor;
    ``repointed`` is sorted by kind and record id, so equal merges have equal
    records whatever order the customers were given in.

    Attributes:
        id: The merge id.
        version: 0 until first saved, then bumped by every save.
        survivor_id: The customer that kept its id.
        merged_ids: The customers merged into it (now carrying ``merged_into``), sorted.
        originals: The pre-merge snapshot of every customer involved.
        result: The survivor as the merge produced it (before saving).
        decisions: One decision per field the merge looked at.
        repointed: Every related record moved to the survivor.
        merged_at: When the merge happened.
        merged_by: Who merged.
        undone_at: When the merge was undone, if it was.
        undone_by: Who undid it.
        created_at: When the record was created (the merge instant).
        updated_at: When the record last changed.
    """

    id: MergeId = attrs.field(converter=require_id, metadata=INTERNAL)
    version: int = attrs.field(default=0, converter=require_version, metadata=INTERNAL)
    survivor_id: CustomerId = attrs.field(converter=require_id, metadata=INTERNAL)
    merged_ids: tuple[CustomerId, ...] = attrs.field(converter=_customer_ids, metadata=INTERNAL)
    originals: tuple[Customer, ...] = attrs.field(converter=_originals, metadata=SENSITIVE)
    result: Customer = attrs.field(metadata=SENSITIVE)
    decisions: tuple[FieldDecision, ...] = attrs.field(
        default=(), converter=_decisions, metadata=INTERNAL
    )
    repointed: tuple[RepointedRecord, ...] = attrs.field(
        default=(), converter=_repointed, metadata=INTERNAL
    )
    merged_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    merged_by: UserId | None = attrs.field(default=None, metadata=INTERNAL)
    undone_at: pendulum.DateTime | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(utc),
        validator=not_before("merged_at"),
        metadata=INTERNAL,
    )
    undone_by: UserId | None = attrs.field(default=None, metadata=INTERNAL)
    created_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    updated_at: pendulum.DateTime = attrs.field(
        converter=utc,
        validator=[not_before("created_at"), _check_consistent],
        metadata=INTERNAL,
    )

    @property
    def is_undone(self) -> bool:
        """Whether the merge was undone."""
        return self.undone_at is not None

    @property
    def customer_ids(self) -> tuple[CustomerId, ...]:
        """Every customer involved, survivor included, sorted by id."""
        return tuple(c.id for c in self.originals)

    def original(self, customer_id: CustomerId) -> Customer:
        """Return the pre-merge snapshot of one customer involved.

        Args:
            customer_id: The survivor's id or one of ``merged_ids``.

        Returns:
            The snapshot as it was just before the merge.

        Raises:
            InvalidValueError: If the customer was not part of this merge.
        """
        for customer in self.originals:
            if customer.id == customer_id:
                return customer
        raise InvalidValueError("customer_id", customer_id, f"not part of merge {self.id}")

    def decision(self, field: str) -> FieldDecision:
        """Return the decision taken for ``field``.

        Args:
            field: A field path such as ``"person.name"``.

        Returns:
            The decision.

        Raises:
            InvalidValueError: If the merge took no decision on that field.
        """
        for decision in self.decisions:
            if decision.field == field:
                return decision
        raise InvalidValueError("field", field, f"no decision in merge {self.id}")
