"""Leads (线索): prospects not yet qualified into customers and deals.

The lead workflow (new → contacted → qualified → converted | disqualified)
is defined in :mod:`crmcore.lifecycle`; this module holds the snapshot and
how a lead is captured.

May import: ``crmcore.errors``, ``crmcore.clock``, ``crmcore.domain``; attrs, pendulum.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL, PUBLIC, SENSITIVE
from crmcore.domain.contact import ContactPoints
from crmcore.domain.custom import CustomFields
from crmcore.domain.customer import SourceChannel
from crmcore.domain.entity import not_before, require_id, require_text, require_version
from crmcore.domain.events import LeadCaptured
from crmcore.domain.ids import CustomerId, LeadId, OpportunityId, TeamId, UserId
from crmcore.domain.values import EmailAddress, PersonName, PhoneNumber
from crmcore.errors import InvalidValueError

__all__ = ["Lead", "LeadStatus", "capture_lead"]


class LeadStatus(enum.StrEnum):
    """Where a lead is in its workflow."""

    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


def _company(value: str) -> str:
    return require_text("company", value, max_length=300)


def _check_reachable(instance: Lead, _: attrs.Attribute[object], __: object) -> None:
    if instance.name is None and not instance.company:
        raise InvalidValueError("lead", instance.id, "a lead needs a name or a company")


@attrs.frozen(kw_only=True)
class Lead:
    """A sales lead: who, how to reach them, where they came from, who owns them."""

    id: LeadId = attrs.field(converter=require_id, metadata=INTERNAL)
    version: int = attrs.field(default=0, converter=require_version, metadata=INTERNAL)
    name: PersonName | None = attrs.field(default=None, metadata=PUBLIC)
    company: str = attrs.field(default="", converter=_company, metadata=PUBLIC)
    points: ContactPoints = attrs.field(factory=ContactPoints, metadata=SENSITIVE)
    source: SourceChannel = attrs.field(default=SourceChannel.OTHER, metadata=INTERNAL)
    status: LeadStatus = attrs.field(default=LeadStatus.NEW, metadata=INTERNAL)
    owner: UserId | None = attrs.field(default=None, metadata=INTERNAL)
    team: TeamId | None = attrs.field(default=None, metadata=INTERNAL)
    score: int = attrs.field(default=0, metadata=INTERNAL)
    disqualified_reason: str = attrs.field(default="", metadata=INTERNAL)
    converted_customer_id: CustomerId | None = attrs.field(default=None, metadata=INTERNAL)
    converted_opportunity_id: OpportunityId | None = attrs.field(default=None, metadata=INTERNAL)
    custom: CustomFields = attrs.field(factory=CustomFields, metadata=INTERNAL)
    created_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    updated_at: pendulum.DateTime = attrs.field(
        converter=utc, validator=[not_before("created_at"), _check_reachable], metadata=INTERNAL
    )

    @property
    def display_name(self) -> str:
        """The person's name, or the company when there is no name."""
        return self.name.full if self.name is not None else self.company


def capture_lead(
    *,
    id: LeadId,
    at: pendulum.DateTime,
    by: UserId | None = None,
    name: PersonName | None = None,
    company: str = "",
    emails: Iterable[EmailAddress] = (),
    phones: Iterable[PhoneNumber] = (),
    source: SourceChannel = SourceChannel.OTHER,
    owner: UserId | None = None,
    team: TeamId | None = None,
) -> tuple[Lead, LeadCaptured]:
    """Capture a new lead (线索获取).

    Raises:
        InvalidValueError: If there is neither a name nor a company.
    """
    points = ContactPoints()
    for email in emails:
        points = points.with_email(email)
    for phone in phones:
        points = points.with_phone(phone)
    when = utc(at)
    lead = Lead(
        id=id,
        name=name,
        company=company,
        points=points,
        source=source,
        owner=owner,
        team=team,
        created_at=when,
        updated_at=when,
    )
    return lead, LeadCaptured(lead_id=lead.id, source=source.value, at=when, by=by)
