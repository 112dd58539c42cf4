"""Convert a lead (线索转化): create or reuse the customer, add the contact, open the opportunity.

The use case loads the lead, looks for a customer it duplicates (an exact
normalised email or phone match until the matching engine's online index
is wired in), plans the conversion with
:func:`crmcore.lifecycle.plan_conversion`, saves everything in one unit of
work and publishes the events after the commit. It never creates a second
customer for someone who is already one.

May import: ``crmcore.domain``, ``crmcore.lifecycle``, ``crmcore.ports``,
``crmcore.errors``, ``crmcore.clock``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt

import attrs

from crmcore.clock import Clock
from crmcore.domain.customer import Customer
from crmcore.domain.ids import ContactId, CustomerId, LeadId, OpportunityId, UserId
from crmcore.domain.lead import Lead
from crmcore.domain.values import Money
from crmcore.lifecycle.conversion import ConversionPlan, match_existing_customer, plan_conversion
from crmcore.ports import IdFactory, UnitOfWork

__all__ = ["convert_lead"]

_MAX_MERGE_HOPS = 16


def _candidates(uow: UnitOfWork, lead: Lead) -> list[Customer]:
    """Load the customers sharing an email or phone with the lead (exact canonical form)."""
    points = lead.points
    found: dict[str, Customer] = {}
    for email in points.emails:
        for customer in uow.customers.find_by_email(email.address):
            found[customer.id] = customer
    for phone in points.phones:
        for customer in uow.customers.find_by_phone(phone.number):
            found[customer.id] = customer
    return list(found.values())


def _survivor(uow: UnitOfWork, customer: Customer) -> Customer:
    """Follow ``merged_into`` to the customer that survived a merge."""
    current = customer
    for _ in range(_MAX_MERGE_HOPS):
        if current.merged_into is None:
            return current
        current = uow.customers.get(current.merged_into)
    return current


def convert_lead(
    uow: UnitOfWork,
    lead_id: LeadId,
    *,
    amount: Money,
    clock: Clock,
    ids: IdFactory,
    by: UserId | None = None,
    title: str = "",
    expected_close: dt.date | None = None,
) -> ConversionPlan:
    """Convert a qualified lead into a customer (new or existing), contact and opportunity.

    Args:
        uow: The unit of work to load and save through (committed here).
        lead_id: The lead to convert; it must be qualified.
        amount: The opportunity's amount.
        clock: Where "now" comes from.
        ids: Where new customer, contact and opportunity ids come from.
        by: Who converts.
        title: The opportunity's title (default: the lead's company or name).
        expected_close: The opportunity's expected close date.

    Returns:
        The plan as saved (snapshots with their stored versions).

    Raises:
        NotFoundError: If there is no such lead.
        TransitionNotAllowedError: If the lead is not qualified.
        StaleVersionError: If a record changed concurrently; nothing was saved.
    """
    with uow:
        lead = uow.leads.get(lead_id)
        match = match_existing_customer(lead, _candidates(uow, lead))
        existing = _survivor(uow, match) if match is not None else None
        plan = plan_conversion(
            lead,
            existing=existing,
            customer_id=CustomerId(ids.new_id()),
            contact_id=ContactId(ids.new_id()),
            opportunity_id=OpportunityId(ids.new_id()),
            amount=amount,
            at=clock.now(),
            by=by,
            title=title,
            expected_close=expected_close,
        )
        customer = (
            uow.customers.save(plan.customer)
            if existing is None or plan.customer != existing
            else existing
        )
        saved = attrs.evolve(
            plan,
            lead=uow.leads.save(plan.lead),
            customer=customer,
            opportunity=uow.opportunities.save(plan.opportunity),
        )
        uow.collect(*plan.events)
        uow.commit()
    return saved
