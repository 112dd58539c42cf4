"""Properties of the analytics KPIs on random frames.

Rates stay in [0, 1], churn and retention add up to one, cohort sizes sum to the
customers acquired, a funnel never converts more than it had, NPS stays in
[−100, 100] inside its interval, and the vectorised business time and SLA verdicts
agree with :mod:`crmcore.lifecycle`'s own per-case answers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pendulum
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.analytics.customers import (
    NoPurchaseWithin,
    churn_rate,
    cohort_retention,
    retention_rate,
)
from crmcore.analytics.kpi import Period
from crmcore.analytics.quality import completeness
from crmcore.analytics.sales import stage_funnel
from crmcore.analytics.service import (
    net_promoter_score,
    resolution_time,
    sla_attainment,
)
from crmcore.domain import Case, CaseId, CaseKind, CustomerId, Severity
from crmcore.domain.case import WaitingPeriod
from crmcore.lifecycle import (
    CUSTOMER_WORKFLOW,
    DEFAULT_SLA_POLICY,
    OPPORTUNITY_WORKFLOW,
    BusinessCalendar,
    SlaState,
    always_open,
    china_mainland,
    status,
    weekday_calendar,
)

UTC = pl.Datetime("us", "UTC")
BASE = pendulum.datetime(2026, 1, 1)
MARCH = Period.month(2026, 3)
STAGES = [str(s.name) for s in CUSTOMER_WORKFLOW.states]
OPPORTUNITY_STAGES = [str(s.name) for s in OPPORTUNITY_WORKFLOW.states]
CALENDARS = st.sampled_from(
    [
        None,
        always_open(),
        china_mainland(),
        weekday_calendar("Asia/Shanghai", hours=("09:00-12:00", "13:00-18:00")),
    ]
)


# The heaviest properties (several polars queries per example, or a reference computation
# per case) run a quarter of the profile's examples: 50 under the CI profile.
FEWER = settings(max_examples=max(10, settings().max_examples // 4))


def at(hours: int) -> pendulum.DateTime:
    return BASE.add(hours=hours)


LAST_HOUR = 119 * 24  # everything happens from Jan 1 to Apr 30


@st.composite
def customer_history(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Random customers, their lifecycle moves and paid orders."""
    people = draw(
        st.lists(
            st.tuples(
                st.integers(0, LAST_HOUR),
                st.sampled_from(STAGES),
                st.booleans(),
                st.lists(st.tuples(st.integers(0, LAST_HOUR), st.sampled_from(STAGES)), max_size=4),
                st.lists(st.tuples(st.integers(0, LAST_HOUR), st.booleans()), max_size=4),
            ),
            max_size=8,
        )
    )
    ids = [f"c{i}" for i in range(len(people))]
    customers = pl.DataFrame(
        {
            "id": ids,
            "created_at": [at(p[0]) for p in people],
            "lifecycle_stage": [p[1] for p in people],
            "merged_into": ["c0" if p[2] and i % 3 == 2 else None for i, p in enumerate(people)],
        },
        schema={
            "id": pl.String,
            "created_at": UTC,
            "lifecycle_stage": pl.String,
            "merged_into": pl.String,
        },
    )
    moves: list[tuple[str, str, str, pendulum.DateTime]] = []
    orders: list[tuple[str, pendulum.DateTime, str]] = []
    for cid, (created, first, _, steps, bought) in zip(ids, people, strict=True):
        stage = first
        for hour, new in sorted(steps):
            moves.append((cid, stage, new, at(max(hour, created))))
            stage = new
        orders.extend((cid, at(hour), "paid" if paid else "refunded") for hour, paid in bought)
    changes = pl.DataFrame(
        {
            "entity": ["customer"] * len(moves),
            "entity_id": [m[0] for m in moves],
            "workflow": ["customer-lifecycle"] * len(moves),
            "from_stage": [m[1] for m in moves],
            "to_stage": [m[2] for m in moves],
            "at": [m[3] for m in moves],
        },
        schema={
            "entity": pl.String,
            "entity_id": pl.String,
            "workflow": pl.String,
            "from_stage": pl.String,
            "to_stage": pl.String,
            "at": UTC,
        },
    )
    order_frame = pl.DataFrame(
        {
            "customer_id": [o[0] for o in orders],
            "ordered_at": [o[1] for o in orders],
            "amount": [Decimal(1)] * len(orders),
            "currency": ["CNY"] * len(orders),
            "status": [o[2] for o in orders],
        },
        schema={
            "customer_id": pl.String,
            "ordered_at": UTC,
            "amount": pl.Decimal(38, 6),
            "currency": pl.String,
            "status": pl.String,
        },
    )
    return customers, changes, order_frame


def reference_customers(
    history: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
    lost: NoPurchaseWithin | None,
    t: dt.datetime,
) -> set[str]:
    """The customers at ``t``, the slow way: one customer and one event at a time."""
    customers, changes, orders = history
    out = set()
    for cid, created, current, merged in customers.select(
        "id", "created_at", "lifecycle_stage", "merged_into"
    ).iter_rows():
        if merged is not None or created >= t:
            continue
        if lost is None:
            moves = [
                (at, old, new)
                for eid, old, new, at in changes.select(
                    "entity_id", "from_stage", "to_stage", "at"
                ).iter_rows()
                if eid == cid
            ]
            before = [m for m in moves if m[0] < t]
            stage = before[-1][2] if before else moves[0][1] if moves else current
            if stage != "churned":
                out.add(cid)
        elif any(
            who == cid and state == "paid" and t - dt.timedelta(days=lost.days) <= when < t
            for who, when, state in orders.select("customer_id", "ordered_at", "status").iter_rows()
        ):
            out.add(cid)
    return out


@FEWER
@given(customer_history(), st.one_of(st.none(), st.builds(NoPurchaseWithin, st.integers(1, 60))))
def test_churn_and_retention_are_shares_that_add_up_to_one(
    history: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], lost: NoPurchaseWithin | None
) -> None:
    customers, changes, orders = history
    churn = churn_rate(customers, period=MARCH, lost=lost, stage_changes=changes, orders=orders)
    kept = retention_rate(customers, period=MARCH, lost=lost, stage_changes=changes, orders=orders)
    assert churn.denominator == kept.denominator
    start = reference_customers(history, lost, MARCH.start)
    end = reference_customers(history, lost, MARCH.end)
    assert (churn.numerator, churn.denominator) == (len(start - end), len(start))
    if churn.value is None or kept.value is None:
        assert churn.denominator == 0
        assert kept.value is None
        return
    assert 0.0 <= float(churn.value) <= 1.0
    assert 0.0 <= float(kept.value) <= 1.0
    assert abs(float(churn.value) + float(kept.value) - 1.0) < 1e-12


@FEWER
@given(customer_history())
def test_cohort_sizes_sum_to_the_customers_acquired_and_retention_is_a_share(
    history: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    customers, _, orders = history
    period = Period(BASE, BASE.add(months=4))
    kpi = cohort_retention(customers, orders, period=period)
    assert kpi.table is not None
    active = customers.filter(pl.col("merged_into").is_null())["id"]
    buyers = orders.filter(
        (pl.col("status") == "paid") & pl.col("customer_id").is_in(active.to_list())
    )["customer_id"].n_unique()
    sizes = kpi.table.filter(pl.col("months_since") == 0)["cohort_size"].sum()
    assert sizes == buyers == kpi.value
    assert kpi.table["retention"].is_between(0.0, 1.0).all()
    # Month 0 is the month of the first purchase: everyone is active in it.
    assert kpi.table.filter(pl.col("months_since") == 0)["retention"].eq(1.0).all()
    registered = cohort_retention(customers, orders, period=period, acquisition="registration")
    assert registered.value == active.len()
    # The slow way: each buyer's first month and the months they bought in (all in 2026).
    months: dict[str, set[int]] = {}
    for who, when, state in orders.select("customer_id", "ordered_at", "status").iter_rows():
        if state == "paid" and who in set(active.to_list()):
            months.setdefault(who, set()).add(when.month)
    expected: dict[tuple[int, int], int] = {}
    for bought in months.values():
        first = min(bought)
        for month in bought:
            expected[first, month - first] = expected.get((first, month - first), 0) + 1
    actual = {
        (cohort.month, since): n
        for cohort, since, n in kpi.table.select("cohort", "months_since", "active").iter_rows()
        if n
    }
    assert actual == expected


@st.composite
def opportunity_moves(draw: st.DrawFn) -> pl.DataFrame:
    rows = []
    for i in range(draw(st.integers(0, 10))):
        stage = "lead"
        for hour in sorted(draw(st.lists(st.integers(24 * 59, 24 * 95), max_size=6))):
            new = draw(st.sampled_from(OPPORTUNITY_STAGES))
            rows.append((f"o{i}", stage, new, at(hour)))
            stage = new
    return pl.DataFrame(
        {
            "entity": ["opportunity"] * len(rows),
            "entity_id": [r[0] for r in rows],
            "workflow": ["opportunity"] * len(rows),
            "from_stage": [r[1] for r in rows],
            "to_stage": [r[2] for r in rows],
            "at": [r[3] for r in rows],
        },
        schema={
            "entity": pl.String,
            "entity_id": pl.String,
            "workflow": pl.String,
            "from_stage": pl.String,
            "to_stage": pl.String,
            "at": UTC,
        },
    )


@FEWER
@given(opportunity_moves())
def test_a_funnel_never_converts_more_than_it_had(changes: pl.DataFrame) -> None:
    kpi = stage_funnel(changes, period=MARCH)
    assert kpi.table is not None
    reached = kpi.table["reached"].to_list()
    assert all(a >= b for a, b in itertools.pairwise(reached))
    conversions = kpi.table["conversion"].drop_nulls()
    assert conversions.is_between(0.0, 1.0).all()
    assert kpi.value is None or 0.0 <= float(kpi.value) <= 1.0


@given(st.lists(st.one_of(st.none(), st.integers(0, 10)), max_size=60), st.floats(0.5, 0.999))
def test_nps_lies_in_its_scale_and_inside_its_interval(
    scores: list[int | None], confidence: float
) -> None:
    frame = pl.DataFrame(
        {"nps": scores, "responded_at": [at(24 * 65)] * len(scores)},
        schema={"nps": pl.Int64, "responded_at": UTC},
    )
    kpi = net_promoter_score(frame, period=MARCH, confidence=confidence)
    if kpi.value is None:
        assert all(s is None for s in scores)
        return
    low, high = kpi.interval or (None, None)
    assert low is not None
    assert high is not None
    assert -100.0 <= low <= float(kpi.value) <= high <= 100.0


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(max_size=3)),
            st.one_of(st.none(), st.lists(st.text(max_size=2), max_size=2)),
        ),
        max_size=20,
    )
)
def test_completeness_is_a_share(rows: list[tuple[str | None, list[str] | None]]) -> None:
    frame = pl.DataFrame(
        {"name": [r[0] for r in rows], "tags": [r[1] for r in rows]},
        schema={"name": pl.String, "tags": pl.List(pl.String)},
    )
    kpi = completeness(frame, fields=["name", "tags"])
    assert kpi.table is not None
    assert kpi.table["completeness"].drop_nulls().is_between(0.0, 1.0).all()
    assert kpi.value is None or 0.0 <= float(kpi.value) <= 1.0


MINUTES = st.integers(0, 20 * 24 * 60)


@st.composite
def a_case(draw: st.DrawFn) -> tuple[Case, list[tuple[pendulum.DateTime, pendulum.DateTime]]]:
    """A case opened in March with a response, a resolution and waits, all before April."""
    opened = pendulum.datetime(2026, 3, 1).add(minutes=draw(st.integers(0, 25 * 24 * 60)))
    cuts = sorted(draw(st.lists(MINUTES, min_size=2, max_size=6, unique=True)))
    moments = [opened.add(minutes=m) for m in cuts]
    moments = [m for m in moments if m < MARCH.end]
    answered, solved = draw(st.booleans()), draw(st.booleans())
    respond = moments[0] if moments and answered else None
    resolve = moments[-1] if len(moments) > 1 and solved else None
    middle = moments[1:-1]
    waits = [(a, b) for a, b in zip(middle[::2], middle[1::2], strict=False)]
    case = Case(
        id=CaseId("k1"),
        customer_id=CustomerId("c1"),
        kind=CaseKind.COMPLAINT,
        subject="s",
        severity=draw(st.sampled_from(list(Severity))),
        opened_at=opened,
        first_response_at=respond,
        resolved_at=resolve,
        waiting=tuple(WaitingPeriod(start=a, end=b) for a, b in waits),
        created_at=opened,
        updated_at=opened,
    )
    return case, waits


def frames_of(
    case: Case, waits: list[tuple[pendulum.DateTime, pendulum.DateTime]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    cases = pl.DataFrame(
        {
            "id": [str(case.id)],
            "severity": [case.severity.value],
            "opened_at": [case.opened_at],
            "first_response_at": [case.first_response_at],
            "resolved_at": [case.resolved_at],
            "closed_at": [None],
        },
        schema={
            "id": pl.String,
            "severity": pl.String,
            "opened_at": UTC,
            "first_response_at": UTC,
            "resolved_at": UTC,
            "closed_at": UTC,
        },
    )
    rows = []
    for start, end in waits:
        rows.append(("in_progress", "waiting_on_customer", start))
        rows.append(("waiting_on_customer", "in_progress", end))
    changes = pl.DataFrame(
        {
            "entity": ["case"] * len(rows),
            "entity_id": [str(case.id)] * len(rows),
            "workflow": ["case"] * len(rows),
            "from_stage": [r[0] for r in rows],
            "to_stage": [r[1] for r in rows],
            "at": [r[2] for r in rows],
        },
        schema={
            "entity": pl.String,
            "entity_id": pl.String,
            "workflow": pl.String,
            "from_stage": pl.String,
            "to_stage": pl.String,
            "at": UTC,
        },
    )
    return cases, changes


@FEWER
@given(a_case(), CALENDARS)
def test_resolution_time_equals_the_calendar_s_business_time_between(
    drawn: tuple[Case, list[tuple[pendulum.DateTime, pendulum.DateTime]]],
    calendar: BusinessCalendar | None,
) -> None:
    case, waits = drawn
    cases, changes = frames_of(case, waits)
    kpi = resolution_time(cases, period=MARCH, calendar=calendar, stage_changes=changes)
    if case.resolved_at is None:
        assert kpi.value is None
        return
    reference = calendar or always_open()
    expected = reference.business_time_between(case.opened_at, case.resolved_at, paused=waits)
    assert kpi.value is not None
    assert abs(float(kpi.value) - expected / dt.timedelta(hours=1)) < 1e-9


@FEWER
@given(a_case(), CALENDARS)
def test_sla_verdicts_agree_with_the_sla_module(
    drawn: tuple[Case, list[tuple[pendulum.DateTime, pendulum.DateTime]]],
    calendar: BusinessCalendar | None,
) -> None:
    case, waits = drawn
    cases, changes = frames_of(case, waits)
    reference = calendar or always_open()
    expected = status(case, at=MARCH.end, policy=DEFAULT_SLA_POLICY, calendar=reference)
    kpi = sla_attainment(cases, period=MARCH, calendar=calendar, stage_changes=changes)
    assert kpi.table is not None
    verdicts = {
        target: ("met" if met else "breached" if breached else "pending")
        for target, met, breached in kpi.table.select("target", "met", "breached").iter_rows()
    }
    for target, state in (
        ("first_response", expected.first_response.state),
        ("resolution", expected.resolution.state),
    ):
        want = {SlaState.MET: "met", SlaState.BREACHED: "breached"}.get(state, "pending")
        assert verdicts[target] == want, (target, state)
