"""Time rules answered by the database: only the records that are due are loaded.

:class:`SqlTimeRules` (``uow.time_rules`` of a SQL unit of work) finds the leads
a :class:`~crmcore.lifecycle.rules.LeadIdle` rule makes due with one query over
indexed columns (``leads.status``, ``leads.updated_at``, ``activities.lead_id``),
loads just those leads and their activities, and lets
:func:`~crmcore.lifecycle.rules.due_actions` build the actions: the same actions,
with the same ids, as ``due_actions`` over every stored record.

May import: ``crmcore.adapters.sql``, ``crmcore.lifecycle``, ``crmcore.domain``,
``crmcore.clock``, ``crmcore.errors``; SQLAlchemy, pendulum.
"""

from __future__ import annotations

from collections.abc import Mapping

import pendulum
import sqlalchemy as sa

from crmcore.adapters.sql.repository import SqlActivityRepository, SqlLeadRepository
from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.tables import activities, leads
from crmcore.clock import utc
from crmcore.domain import ActivityId, LeadId, UserId
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.rules import DueAction, LeadIdle, RuleSnapshot, due_actions

__all__ = ["SqlTimeRules"]


class SqlTimeRules:
    """Time rules evaluated by queries, within the unit of work's transaction.

    Args:
        session: The unit of work's connection.
        leads: The unit of work's lead repository.
        activities: The unit of work's activity repository.
    """

    def __init__(
        self, session: SqlSession, leads: SqlLeadRepository, activities: SqlActivityRepository
    ) -> None:
        self._session = session
        self._leads = leads
        self._activities = activities

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
