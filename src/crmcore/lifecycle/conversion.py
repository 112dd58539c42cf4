"""Lead conversion, the pure part: plan the customer, contact, opportunity and events.

:func:`plan_conversion` fires the lead's ``convert`` transition and builds
what converting creates — a new customer (with the lead's person as its
contact) or, when the customer already exists, a contact added to it — and
an opportunity linked to the lead. :func:`match_existing_customer` is the
duplicate check until the matching engine's online index is wired in:
an exact match on a normalised email (case-insensitive) or E.164 phone.
:mod:`crmcore.services.lead_conversion` loads, calls these, saves and
publishes.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.customer import Customer, CustomerKind, register_customer, update_customer
from crmcore.domain.events import DomainEvent
from crmcore.domain.ids import ContactId, CustomerId, OpportunityId, UserId
from crmcore.domain.lead import Lead
from crmcore.domain.opportunity import Opportunity, open_opportunity
from crmcore.domain.party import Contact, Organization, Person
from crmcore.domain.values import Money
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.engine import fire
from crmcore.lifecycle.lead import LEAD_WORKFLOW

__all__ = ["ConversionPlan", "match_existing_customer", "plan_conversion"]


@attrs.frozen(kw_only=True)
class ConversionPlan:
    """Everything converting a lead changes, to be saved together.

    Attributes:
        lead: The lead, converted, pointing at the customer and opportunity.
        customer: The new or updated customer.
        customer_is_new: Whether the customer is new (else it existed already).
        opportunity: The new opportunity.
        events: The events, in the order they happened.
    """

    lead: Lead
    customer: Customer
    customer_is_new: bool
    opportunity: Opportunity
    events: tuple[DomainEvent, ...]


def _keys(lead_or_customer: Lead | Customer) -> set[str]:
    points = lead_or_customer.points
    return {f"email:{e.address.address.casefold()}" for e in points.emails} | {
        f"phone:{p.number.e164}" for p in points.phones
    }


def match_existing_customer(lead: Lead, candidates: Iterable[Customer]) -> Customer | None:
    """Return the existing customer the lead duplicates, if any.

    A candidate matches when it shares a normalised email (compared without
    case) or an E.164 phone with the lead. Merged-away customers never
    match. When several match, the one created first (then the lowest id)
    wins, so the answer does not depend on the order of ``candidates``.
    """
    wanted = _keys(lead)
    if not wanted:
        return None
    matches = [c for c in candidates if c.is_active and wanted & _keys(c)]
    return min(matches, key=lambda c: (c.created_at, c.id), default=None)


def _same_person(contact: Contact, lead: Lead) -> bool:
    if lead.name is not None and contact.name == lead.name:
        return True
    ours = {e.address.address.casefold() for e in contact.points.emails}
    return any(e.address.address.casefold() in ours for e in lead.points.emails)


def plan_conversion(
    lead: Lead,
    *,
    existing: Customer | None,
    customer_id: CustomerId,
    contact_id: ContactId,
    opportunity_id: OpportunityId,
    amount: Money,
    at: pendulum.DateTime,
    by: UserId | None = None,
    title: str = "",
    expected_close: dt.date | None = None,
) -> ConversionPlan:
    """Plan the conversion of a qualified lead (the customer, contact, opportunity and events).

    Args:
        lead: The lead; it must be qualified.
        existing: The customer the lead duplicates (see
            :func:`match_existing_customer`), or ``None`` to create one.
        customer_id: The id for a new customer (unused when ``existing``).
        contact_id: The id for the contact person added to an organisation.
        opportunity_id: The id for the new opportunity.
        amount: The opportunity's amount.
        at: When the conversion happens.
        by: Who converts.
        title: The opportunity's title (default: the lead's company or name).
        expected_close: The opportunity's expected close date.

    Returns:
        The plan; nothing is saved.

    Raises:
        TransitionNotAllowedError: If the lead is not qualified.
        InvalidValueError: If the existing customer is merged away, or a value is invalid.
    """
    when = utc(at)
    converted, moved = fire(LEAD_WORKFLOW, lead, "convert", at=when, by=by)
    events: list[DomainEvent] = [moved]
    if existing is None:
        customer, registered = _new_customer(lead, customer_id, contact_id, when, by)
        events.append(registered)
    elif not existing.is_active:
        raise InvalidValueError(
            "existing", existing.id, f"merged into {existing.merged_into}; convert into that one"
        )
    else:
        customer = existing
        if (
            existing.kind is CustomerKind.ORGANIZATION
            and lead.name is not None
            and not any(_same_person(c, lead) for c in existing.contacts)
        ):
            contact = Contact(
                id=contact_id, name=lead.name, points=lead.points, primary=not existing.contacts
            )
            customer, updated = update_customer(
                existing, contacts=(*existing.contacts, contact), at=when, by=by
            )
            events.append(updated)
    opportunity, opened = open_opportunity(
        id=opportunity_id,
        customer_id=customer.id,
        title=title or lead.company or lead.display_name,
        amount=amount,
        at=when,
        by=by,
        expected_close=expected_close,
        owner=lead.owner,
        team=lead.team,
        lead_id=lead.id,
    )
    events.append(opened)
    final_lead = attrs.evolve(
        converted, converted_customer_id=customer.id, converted_opportunity_id=opportunity.id
    )
    return ConversionPlan(
        lead=final_lead,
        customer=customer,
        customer_is_new=existing is None,
        opportunity=opportunity,
        events=tuple(events),
    )


def _new_customer(
    lead: Lead,
    customer_id: CustomerId,
    contact_id: ContactId,
    at: pendulum.DateTime,
    by: UserId | None,
) -> tuple[Customer, DomainEvent]:
    emails = [e.address for e in lead.points.emails]
    phones = [p.number for p in lead.points.phones]
    if lead.company:
        customer, registered = register_customer(
            id=customer_id,
            organization=Organization(legal_name=lead.company),
            emails=emails,
            phones=phones,
            source=lead.source,
            owner=lead.owner,
            team=lead.team,
            at=at,
            by=by,
        )
        if lead.name is not None:
            contact = Contact(id=contact_id, name=lead.name, points=lead.points, primary=True)
            customer = attrs.evolve(customer, contacts=(contact,))
        return customer, registered
    if lead.name is None:  # pragma: no cover - a lead always has a name or a company
        raise InvalidValueError("lead", lead.id, "a lead needs a name or a company")
    return register_customer(
        id=customer_id,
        person=Person(name=lead.name),
        emails=emails,
        phones=phones,
        source=lead.source,
        owner=lead.owner,
        team=lead.team,
        at=at,
        by=by,
    )
