"""The SQL store answers LeadIdle by a query: the same actions as in-memory ``due_actions``."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pendulum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import SqlStore
from crmcore.adapters.sql.tables import metadata
from crmcore.domain import (
    ActivityId,
    ActivityKind,
    CustomerId,
    LeadId,
    LeadStatus,
    Money,
    OpportunityId,
    OpportunityStage,
    Organization,
    UserId,
    capture_lead,
    open_opportunity,
    register_customer,
)
from crmcore.domain.activity import log_activity
from crmcore.lifecycle.rules import FollowUpOverdue, LeadIdle, RuleSnapshot, due_actions

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


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.integers(0, 400)), min_size=1, max_size=6
    ),
    deals=st.lists(
        st.tuples(
            st.integers(0, 5),
            st.booleans(),
            st.sampled_from(list(OpportunityStage)),
            st.integers(0, 400),
        ),
        max_size=6,
    ),
    touches=st.lists(
        st.tuples(st.integers(-1, 5), st.integers(-1, 5), st.integers(0, 900)), max_size=16
    ),
    setting=st.tuples(
        st.integers(1, 10),
        st.integers(100, 700),
        st.sampled_from([(True, True), (True, False), (False, True)]),
    ),
)
def test_overdue_follow_ups_by_query_equal_due_actions(
    sql_engine: Engine,
    people: list[tuple[bool, bool, int]],
    deals: list[tuple[int, bool, OpportunityStage, int]],
    touches: list[tuple[int, int, int]],
    setting: tuple[int, int, tuple[bool, bool]],
) -> None:
    days, at_hours, which = setting
    _empty(sql_engine)
    stored = []
    for n, (owned, merged, created) in enumerate(people):
        customer, _ = register_customer(
            id=CustomerId(f"c-{n}"),
            organization=Organization(legal_name=f"公司{n}"),
            owner=UserId(f"u-{n % 2}") if owned else None,
            at=_BASE.add(hours=created),
        )
        if merged and n > 0:
            customer = attrs.evolve(customer, merged_into=CustomerId("c-0"))
        stored.append(customer)
    opened = [
        attrs.evolve(
            open_opportunity(
                id=OpportunityId(f"o-{k}"),
                customer_id=CustomerId(f"c-{c % len(people)}"),
                title="deal",
                amount=Money(Decimal("100"), "CNY"),
                owner=UserId("u-1") if owned else None,
                at=_BASE.add(hours=created),
            )[0],
            stage=stage,
        )
        for k, (c, owned, stage, created) in enumerate(deals)
    ]
    logged = []
    for k, (c, o, hours) in enumerate(touches):
        customer_id = CustomerId(f"c-{c % len(people)}") if c >= 0 else None
        opportunity_id = OpportunityId(f"o-{o % len(deals)}") if o >= 0 and deals else None
        if customer_id is None and opportunity_id is None:
            continue
        logged.append(
            log_activity(
                id=ActivityId(f"a-{k}"),
                kind=ActivityKind.CALL,
                at=_BASE.add(hours=hours),
                customer_id=customer_id,
                opportunity_id=opportunity_id,
            )[0]
        )
    store = SqlStore(sql_engine)
    with store.unit_of_work() as uow:
        uow.customers.save_many(stored)
        uow.opportunities.save_many(opened)
        uow.activities.save_many(logged)
        uow.commit()
    with store.unit_of_work() as uow:
        everything = RuleSnapshot(
            customers=list(uow.customers.iter_all()),
            opportunities=list(uow.opportunities.iter_all()),
            activities=list(uow.activities.iter_all()),
            supervisors={UserId("u-1"): UserId("u-boss")},
        )
    rule = FollowUpOverdue(days=days, customers=which[0], opportunities=which[1])
    at = _BASE.add(hours=at_hours)
    expected = due_actions(everything, at=at, rules=[rule])
    with store.unit_of_work() as uow:
        found = uow.time_rules.overdue_follow_ups(rule, at=at, supervisors=everything.supervisors)
    assert found == expected
