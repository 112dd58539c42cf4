"""Domain events: past-tense facts that operations return beside the new snapshot.

Every event is a frozen attrs class with an ``id``, the instant ``at`` and the
actor ``by``; :data:`DomainEvent` is their tagged union (the tag is the class
name, written as ``"type"`` by :mod:`crmcore.serialization`). Services
publish events through the ``EventPublisher`` port after a successful commit.

May import: ``crmcore.clock``, ``crmcore.domain``'s ids and values; attrs, pendulum.
"""

from __future__ import annotations

import typing
from typing import TypeAlias

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.ids import (
    ActivityId,
    CaseId,
    ConsentId,
    CustomerId,
    EventId,
    LeadId,
    MergeId,
    OpportunityId,
    OrderId,
    SurveyResponseId,
    TeamId,
    UserId,
    new_id,
)
from crmcore.domain.values import Money

__all__ = [
    "ActivityCompleted",
    "ActivityLogged",
    "CaseOpened",
    "ConsentGranted",
    "ConsentWithdrawn",
    "CustomerClassified",
    "CustomerRegistered",
    "CustomerTagged",
    "CustomerUpdated",
    "CustomersMerged",
    "CustomersUnmerged",
    "DomainEvent",
    "LeadCaptured",
    "OpportunityOpened",
    "OrderRecorded",
    "OwnerAssigned",
    "StageChanged",
    "SurveyResponded",
    "event_types",
]


def _event_id() -> EventId:
    return EventId(new_id())


@attrs.frozen(kw_only=True)
class _Event:
    id: EventId = attrs.field(factory=_event_id)
    at: pendulum.DateTime = attrs.field(converter=utc)
    by: UserId | None = None


@attrs.frozen(kw_only=True)
class CustomerRegistered(_Event):
    """A customer account was created."""

    customer_id: CustomerId
    kind: str
    display_name: str
    owner: UserId | None = None


@attrs.frozen(kw_only=True)
class CustomerUpdated(_Event):
    """Fields of a customer were changed (names of the fields, not their values)."""

    customer_id: CustomerId
    fields: tuple[str, ...]


@attrs.frozen(kw_only=True)
class CustomerTagged(_Event):
    """Tags were added to or removed from a customer."""

    customer_id: CustomerId
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class CustomerClassified(_Event):
    """A customer's value tier or priority was set, with the reason kept."""

    customer_id: CustomerId
    tier: str
    priority: str
    previous_tier: str
    previous_priority: str
    reason: str
    automatic: bool = False


@attrs.frozen(kw_only=True)
class OwnerAssigned(_Event):
    """A customer got a new owner (负责人) and/or team."""

    customer_id: CustomerId
    owner: UserId | None
    team: TeamId | None
    previous_owner: UserId | None
    previous_team: TeamId | None


@attrs.frozen(kw_only=True)
class ConsentGranted(_Event):
    """A data subject consented to a purpose on a channel."""

    consent_id: ConsentId
    customer_id: CustomerId
    purpose: str
    channel: str


@attrs.frozen(kw_only=True)
class ConsentWithdrawn(_Event):
    """A data subject withdrew a consent."""

    consent_id: ConsentId
    customer_id: CustomerId
    purpose: str
    channel: str


@attrs.frozen(kw_only=True)
class LeadCaptured(_Event):
    """A lead was captured (线索获取)."""

    lead_id: LeadId
    source: str


@attrs.frozen(kw_only=True)
class OpportunityOpened(_Event):
    """An opportunity (商机) was opened for a customer."""

    opportunity_id: OpportunityId
    customer_id: CustomerId
    amount: Money


@attrs.frozen(kw_only=True)
class ActivityLogged(_Event):
    """An activity (跟进记录) was logged or scheduled."""

    activity_id: ActivityId
    kind: str
    customer_id: CustomerId | None = None
    lead_id: LeadId | None = None
    opportunity_id: OpportunityId | None = None
    case_id: CaseId | None = None


@attrs.frozen(kw_only=True)
class ActivityCompleted(_Event):
    """A task or scheduled activity was completed."""

    activity_id: ActivityId
    outcome: str


@attrs.frozen(kw_only=True)
class CaseOpened(_Event):
    """A service case or complaint was received (接收)."""

    case_id: CaseId
    customer_id: CustomerId
    kind: str
    severity: str
    category: str


@attrs.frozen(kw_only=True)
class SurveyResponded(_Event):
    """A customer answered a satisfaction survey."""

    response_id: SurveyResponseId
    customer_id: CustomerId
    case_id: CaseId | None = None
    csat: int | None = None
    nps: int | None = None
    ces: int | None = None


@attrs.frozen(kw_only=True)
class OrderRecorded(_Event):
    """A purchase was recorded for a customer."""

    order_id: OrderId
    customer_id: CustomerId
    amount: Money


@attrs.frozen(kw_only=True)
class StageChanged(_Event):
    """A record moved between workflow stages; history is the log of these.

    ``entity`` is the kind of record (``customer``, ``lead``, ``opportunity``,
    ``case``), ``transition`` the name of the move that was fired.
    """

    entity: str
    entity_id: str
    workflow: str
    transition: str
    from_stage: str
    to_stage: str
    reason: str = ""


@attrs.frozen(kw_only=True)
class CustomersMerged(_Event):
    """Duplicate customers were merged into a survivor (合并)."""

    merge_id: MergeId
    survivor_id: CustomerId
    merged_ids: tuple[CustomerId, ...]


@attrs.frozen(kw_only=True)
class CustomersUnmerged(_Event):
    """A merge was undone and the merged customers restored."""

    merge_id: MergeId
    survivor_id: CustomerId
    restored_ids: tuple[CustomerId, ...]


DomainEvent: TypeAlias = (
    CustomerRegistered
    | CustomerUpdated
    | CustomerTagged
    | CustomerClassified
    | OwnerAssigned
    | ConsentGranted
    | ConsentWithdrawn
    | LeadCaptured
    | OpportunityOpened
    | ActivityLogged
    | ActivityCompleted
    | CaseOpened
    | SurveyResponded
    | OrderRecorded
    | StageChanged
    | CustomersMerged
    | CustomersUnmerged
)
"""Every domain event crmcore emits."""


def event_types() -> tuple[type[DomainEvent], ...]:
    """Return every concrete event class, in declaration order."""
    return typing.get_args(DomainEvent)
