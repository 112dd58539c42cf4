"""Time rules answered by the database: only the records that are due are loaded.

:class:`SqlTimeRules` (``uow.time_rules`` of a SQL unit of work) finds the records
a :class:`~crmcore.lifecycle.rules.FollowUpOverdue` or
:class:`~crmcore.lifecycle.rules.LeadIdle` rule makes due with queries over indexed
columns (``created_at``, ``owner``, ``status``, ``activities.customer_id``,
``activities.opportunity_id``, ``activities.lead_id``), loads just those records and
their activities, and lets :func:`~crmcore.lifecycle.rules.due_actions` build the
actions: the same actions, with the same ids, as ``due_actions`` over every stored
record (a property test checks it on SQLite, PostgreSQL and MariaDB).

>>> import pendulum
>>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
>>> from crmcore.domain import CustomerId, Organization, UserId, register_customer
>>> from crmcore.lifecycle.rules import FollowUpOverdue
>>> engine = create_engine("sqlite://")
>>> create_schema(engine)
>>> store = SqlStore(engine)
>>> customer, _ = register_customer(id=CustomerId("c-1"), owner=UserId("u-li"),
...     organization=Organization(legal_name="腾达科技"), at=pendulum.datetime(2026, 3, 1))
>>> with store.unit_of_work() as uow:
...     _ = uow.customers.save(customer)
...     uow.commit()
>>> with store.unit_of_work() as uow:
...     due = uow.time_rules.overdue_follow_ups(FollowUpOverdue(days=3),
...         at=pendulum.datetime(2026, 3, 5), supervisors={UserId("u-li"): UserId("u-wang")})
>>> [(a.subject_id, a.recipient) for a in due]
[('c-1', 'u-wang')]
>>> engine.dispose()

May import: ``crmcore.adapters.sql``, ``crmcore.lifecycle``, ``crmcore.domain``,
``crmcore.clock``, ``crmcore.errors``; SQLAlchemy, pendulum.
"""

from __future__ import annotations

from collections.abc import Mapping

import pendulum
import sqlalchemy as sa

from crmcore.adapters.sql.repository import (
    SqlActivityRepository,
    SqlCustomerRepository,
    SqlLeadRepository,
    SqlOpportunityRepository,
)
from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.tables import activities, customers, leads, opportunities
from crmcore.clock import utc
from crmcore.domain import ActivityId, CustomerId, LeadId, OpportunityId, OpportunityStage, UserId
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.rules import (
    DueAction,
    FollowUpOverdue,
    LeadIdle,
    RuleSnapshot,
    due_actions,
)

__all__ = ["SqlTimeRules"]


class SqlTimeRules:
    """Time rules evaluated by queries, within the unit of work's transaction.

    Args:
        session: The unit of work's connection.
        leads: The unit of work's lead repository.
        activities: The unit of work's activity repository.
    """

    def __init__(
        self,
        session: SqlSession,
        *,
        customers: SqlCustomerRepository,
        opportunities: SqlOpportunityRepository,
        leads: SqlLeadRepository,
        activities: SqlActivityRepository,
    ) -> None:
        self._session = session
        self._customers = customers
        self._opportunities = opportunities
        self._leads = leads
        self._activities = activities

    def overdue_follow_ups(
        self,
        rule: FollowUpOverdue,
        *,
        at: pendulum.DateTime,
        supervisors: Mapping[UserId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return what ``rule`` makes due at ``at``, as ``due_actions`` over every stored record.

        Owned, active customers and owned, open opportunities created at least
        ``rule.days`` ago with no activity since (on the customer or any of its
        opportunities) are found by query; only they are loaded.

        Raises:
            InvalidValueError: If ``rule`` is not a ``FollowUpOverdue`` or ``at`` is naive.
            StorageError: If the backend fails or the unit of work is not active.
        """
        if not isinstance(rule, FollowUpOverdue):
            raise InvalidValueError("rule", rule, "a FollowUpOverdue rule")
        when = utc(at)
        cutoff = when.subtract(days=rule.days)
        conn = self._session.connection("evaluate time rules")
        recent = (activities.c.occurred_at > cutoff) & (activities.c.occurred_at <= when)
        customer_ids: list[str] = []
        opportunity_ids: set[str] = set()
        with translating("evaluate time rules"):
            if rule.customers:
                on_opportunity = (
                    sa.select(activities.c.id)
                    .join(opportunities, opportunities.c.id == activities.c.opportunity_id)
                    .where(opportunities.c.customer_id == customers.c.id, recent)
                    .exists()
                )
                on_customer = sa.exists().where(activities.c.customer_id == customers.c.id, recent)
                query = sa.select(customers.c.id).where(
                    customers.c.owner.is_not(None),
                    customers.c.merged_into.is_(None),
                    customers.c.created_at <= cutoff,
                    ~on_customer,
                    ~on_opportunity,
                )
                customer_ids = [row[0] for row in conn.execute(query)]
                for chunk in _chunks(customer_ids):
                    opportunity_ids.update(
                        row[0]
                        for row in conn.execute(
                            sa.select(opportunities.c.id).where(
                                opportunities.c.customer_id.in_(chunk)
                            )
                        )
                    )
            if rule.opportunities:
                touched = sa.exists().where(
                    activities.c.opportunity_id == opportunities.c.id, recent
                )
                closed = [str(s) for s in _CLOSED]
                query = sa.select(opportunities.c.id).where(
                    opportunities.c.owner.is_not(None),
                    opportunities.c.stage.not_in(closed),
                    opportunities.c.created_at <= cutoff,
                    ~touched,
                )
                opportunity_ids.update(row[0] for row in conn.execute(query))
            activity_ids: set[str] = set()
            for chunk in _chunks(customer_ids):
                activity_ids.update(
                    row[0]
                    for row in conn.execute(
                        sa.select(activities.c.id).where(
                            activities.c.customer_id.in_(chunk), activities.c.occurred_at <= when
                        )
                    )
                )
            for chunk in _chunks(sorted(opportunity_ids)):
                activity_ids.update(
                    row[0]
                    for row in conn.execute(
                        sa.select(activities.c.id).where(
                            activities.c.opportunity_id.in_(chunk),
                            activities.c.occurred_at <= when,
                        )
                    )
                )
        snapshot = RuleSnapshot(
            customers=[self._customers.get(CustomerId(i)) for i in customer_ids],
            opportunities=[
                self._opportunities.get(OpportunityId(i)) for i in sorted(opportunity_ids)
            ],
            activities=[self._activities.get(ActivityId(i)) for i in sorted(activity_ids)],
            supervisors=supervisors or {},
            issued=issued,
        )
        return due_actions(snapshot, at=when, rules=[rule])

    def idle_leads(
        self,
        rule: LeadIdle,
        *,
        at: pendulum.DateTime,
        supervisors: Mapping[UserId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return what ``rule`` makes due at ``at``, as ``due_actions`` over every stored lead.

        Raises:
            InvalidValueError: If ``rule`` is not a ``LeadIdle`` or ``at`` is naive.
            StorageError: If the backend fails or the unit of work is not active.
        """
        if not isinstance(rule, LeadIdle):
            raise InvalidValueError("rule", rule, "a LeadIdle rule")
        when = utc(at)
        cutoff = when.subtract(days=rule.days)
        conn = self._session.connection("evaluate time rules")
        touched = sa.exists().where(
            activities.c.lead_id == leads.c.id,
            activities.c.occurred_at > cutoff,
            activities.c.occurred_at <= when,
        )
        query = (
            sa.select(leads.c.id)
            .where(
                leads.c.status.in_([str(s) for s in rule.statuses]),
                leads.c.created_at <= when,
                leads.c.updated_at <= cutoff,
                ~touched,
            )
            .order_by(leads.c.id)
        )
        with translating("evaluate time rules"):
            ids = [LeadId(row[0]) for row in conn.execute(query)]
            activity_ids: list[str] = []
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                activity_ids.extend(
                    row[0]
                    for row in conn.execute(
                        sa.select(activities.c.id).where(
                            activities.c.lead_id.in_(chunk), activities.c.occurred_at <= when
                        )
                    )
                )
        snapshot = RuleSnapshot(
            leads=[self._leads.get(i) for i in ids],
            activities=[self._activities.get(ActivityId(i)) for i in activity_ids],
            supervisors=supervisors or {},
            issued=issued,
        )
        return due_actions(snapshot, at=when, rules=[rule])


_CLOSED = (OpportunityStage.WON, OpportunityStage.LOST, OpportunityStage.AFTER_SALES)


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]
