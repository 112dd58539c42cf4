"""The SQL store answers LeadIdle by a query: the same actions as in-memory ``due_actions``."""

from __future__ import annotations

import attrs
import pendulum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import SqlStore
from crmcore.adapters.sql.tables import metadata
from crmcore.domain import ActivityId, ActivityKind, LeadId, LeadStatus, UserId, capture_lead
from crmcore.domain.activity import log_activity
from crmcore.lifecycle.rules import LeadIdle, RuleSnapshot, due_actions

_BASE = pendulum.datetime(2026, 3, 1)


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    leads=st.lists(
        st.tuples(st.sampled_from(list(LeadStatus)), st.integers(0, 400), st.integers(0, 400)),
        max_size=8,
    ),
    touches=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 900)), max_size=16),
    days=st.integers(1, 10),
    at_hours=st.integers(100, 700),
)
def test_idle_leads_by_query_equal_due_actions(
    sql_engine: Engine,
    leads: list[tuple[LeadStatus, int, int]],
    touches: list[tuple[int, int]],
    days: int,
    at_hours: int,
) -> None:
    _empty(sql_engine)
    stored = []
    for n, (status, created, later) in enumerate(leads):
        at = _BASE.add(hours=created)
        lead, _ = capture_lead(id=LeadId(f"l-{n}"), company=f"公司{n}", owner=UserId("u-1"), at=at)
        stored.append(attrs.evolve(lead, status=status, updated_at=at.add(hours=later)))
    logged = [
        log_activity(
            id=ActivityId(f"a-{k}"),
            kind=ActivityKind.CALL,
            at=_BASE.add(hours=hours),
            lead_id=LeadId(f"l-{n % len(leads)}"),
        )[0]
        for k, (n, hours) in enumerate(touches)
        if leads
    ]
    store = SqlStore(sql_engine)
    with store.unit_of_work() as uow:
        uow.leads.save_many(stored)
        uow.activities.save_many(logged)
        uow.commit()
    with store.unit_of_work() as uow:
        saved_leads = [uow.leads.get(lead.id) for lead in stored]
        saved_activities = [uow.activities.get(a.id) for a in logged]
    rule = LeadIdle(days=days)
    at = _BASE.add(hours=at_hours)
    supervisors = {UserId("u-1"): UserId("u-boss")}
    expected = due_actions(
        RuleSnapshot(leads=saved_leads, activities=saved_activities, supervisors=supervisors),
        at=at,
        rules=[rule],
    )
    with store.unit_of_work() as uow:
        assert uow.time_rules.idle_leads(rule, at=at, supervisors=supervisors) == expected
