"""Sales KPIs on tiny hand-built frames: every expected value is worked out in a comment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pendulum
import polars as pl
import pytest

from crmcore.analytics.kpi import DAYS, HOURS, Period, per_period
from crmcore.analytics.sales import (
    FORECAST_CATEGORIES,
    STAGE_PROBABILITIES,
    sales_forecast,
    sales_velocity,
    stage_durations,
    stage_funnel,
    weighted_pipeline,
    win_rate,
)
from crmcore.errors import InvalidValueError
from crmcore.lifecycle import LEAD_WORKFLOW, ForecastCategory, weekday_calendar

UTC = pl.Datetime("us", "UTC")
MARCH = Period.month(2026, 3)


def t(month: int, day: int, hour: int = 0) -> pendulum.DateTime:
    return pendulum.datetime(2026, month, day, hour)


def moves(
    *rows: tuple[str, str, str, pendulum.DateTime], entity: str = "opportunity"
) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "entity": entity,
                "entity_id": rid,
                "workflow": entity,
                "transition": "",
                "from_stage": old,
                "to_stage": new,
                "at": at,
            }
            for rid, old, new, at in rows
        ],
        schema={
            "entity": pl.String,
            "entity_id": pl.String,
            "workflow": pl.String,
            "transition": pl.String,
            "from_stage": pl.String,
            "to_stage": pl.String,
            "at": UTC,
        },
    )


def opportunities(*rows: dict[str, Any]) -> pl.DataFrame:
    defaults: dict[str, Any] = {
        "owner": "u1",
        "currency": "CNY",
        "amount": Decimal(0),
        "closed_at": None,
        "expected_close": None,
        "created_at": t(3, 1),
    }
    return pl.DataFrame(
        [{**defaults, **row} for row in rows],
        schema={
            "id": pl.String,
            "stage": pl.String,
            "owner": pl.String,
            "currency": pl.String,
            "amount": pl.Decimal(38, 6),
            "closed_at": UTC,
            "expected_close": pl.Date,
            "created_at": UTC,
        },
    )


# o1 skips negotiation and wins; o2 is lost after first contact; o3 entered in February;
# o4 is lost straight from lead; o5's move on Apr 2 is after the period.
FUNNEL = moves(
    ("o1", "lead", "first_contact", t(3, 2)),
    ("o1", "first_contact", "needs_analysis", t(3, 3)),
    ("o1", "needs_analysis", "proposal", t(3, 4)),
    ("o1", "proposal", "won", t(3, 6)),
    ("o2", "lead", "first_contact", t(3, 2)),
    ("o2", "first_contact", "lost", t(3, 5)),
    ("o3", "lead", "first_contact", t(2, 20)),
    ("o4", "lead", "lost", t(3, 9)),
    ("o5", "lead", "first_contact", t(3, 30)),
    ("o5", "first_contact", "needs_analysis", t(4, 2)),
)


def test_funnel_counts_the_furthest_step_reached_so_a_skipped_step_counts_as_passed() -> None:
    # Cohort (first move in March): o1, o2, o4, o5. Reached lead 4, first contact 3
    # (o1, o2, o5), then only o1 - through negotiation, which it skipped, to won.
    kpi = stage_funnel(FUNNEL, period=MARCH)
    assert kpi.table is not None
    assert kpi.table.select("stage", "reached", "conversion").rows() == [
        ("lead", 4, None),
        ("first_contact", 3, 0.75),
        ("needs_analysis", 1, pytest.approx(1 / 3)),
        ("proposal", 1, 1.0),
        ("negotiation", 1, 1.0),
        ("won", 1, 1.0),
    ]
    assert kpi.table["drop_off"].to_list()[1] == pytest.approx(0.25)
    assert (kpi.value, kpi.numerator, kpi.denominator) == (0.25, 1, 4)


def test_funnel_with_records_takes_the_cohort_by_creation_and_breaks_down_by_owner() -> None:
    # Created in March: o1, o2 (u1); o4, o5 and o6 (u2; o6 never moved, so it sits in lead).
    records = pl.DataFrame(
        {
            "id": ["o1", "o2", "o3", "o4", "o5", "o6"],
            "owner": ["u1", "u1", "u1", "u2", "u2", "u2"],
            "created_at": [t(3, 1), t(3, 1), t(2, 1), t(3, 1), t(3, 1), t(3, 10)],
        },
        schema_overrides={"created_at": UTC},
    )
    kpi = stage_funnel(FUNNEL, period=MARCH, records=records, by="owner")
    assert kpi.table is not None
    reached = {(o, s): n for o, s, n in kpi.table.select("owner", "stage", "reached").rows()}
    assert [reached["u1", s] for s in ("lead", "first_contact", "needs_analysis", "won")] == [
        2,
        2,
        1,
        1,
    ]
    assert [reached["u2", s] for s in ("lead", "first_contact", "needs_analysis", "won")] == [
        3,
        1,
        0,
        0,
    ]
    # Whole funnel: 1 won of 5 created.
    assert (kpi.numerator, kpi.denominator) == (1, 5)


def test_lead_funnel_uses_the_lead_workflow_steps_and_needs_records_for_by() -> None:
    leads = moves(("l1", "new", "contacted", t(3, 3)), entity="lead")
    kpi = stage_funnel(leads, period=MARCH, workflow=LEAD_WORKFLOW)
    assert kpi.table is not None
    assert kpi.table["stage"].to_list() == ["new", "contacted", "qualified", "converted"]
    with pytest.raises(InvalidValueError, match="records"):
        stage_funnel(leads, period=MARCH, workflow=LEAD_WORKFLOW, by="owner")
    with pytest.raises(InvalidValueError, match="stages"):
        stage_funnel(leads, period=MARCH, stages=[])


def test_an_empty_funnel_is_undefined() -> None:
    kpi = stage_funnel(FUNNEL, period=Period.month(2025, 1))
    assert (kpi.value, kpi.denominator) == (None, 0)


def test_time_in_stage_from_consecutive_moves_and_from_creation() -> None:
    records = pl.DataFrame(
        {"id": ["o1", "o2", "o4", "o5"], "created_at": [t(3, 1)] * 4},
        schema_overrides={"created_at": UTC},
    )
    kpi = stage_durations(FUNNEL, period=MARCH, records=records)
    assert kpi.unit == DAYS
    assert kpi.table is not None
    stats = {s: (n, m) for s, n, m in kpi.table.select("stage", "stays", "mean").rows()}
    # lead: o1 1 day, o2 1 day, o4 8 days, o5 29 days -> mean 9.75.
    assert stats["lead"] == (4, 9.75)
    # first contact: o1 1 day, o2 3 days (o5's stay ends after the period).
    assert stats["first_contact"] == (2, 2.0)
    assert stats["needs_analysis"] == (1, 1.0)
    assert stats["proposal"] == (1, 2.0)
    assert "won" not in stats  # still there


def test_time_in_stage_in_business_hours() -> None:
    # Friday 17:00 -> Monday 10:00 on a 09:00-18:00 weekday calendar: 1 h + 1 h.
    friday = moves(
        ("o9", "lead", "first_contact", t(3, 6, 17)),
        ("o9", "first_contact", "needs_analysis", t(3, 9, 10)),
    )
    calendar = weekday_calendar("UTC", hours=("09:00-18:00",))
    kpi = stage_durations(friday, period=MARCH, calendar=calendar)
    assert (kpi.unit, kpi.value) == (HOURS, 2.0)


OPPS = opportunities(
    {"id": "w1", "stage": "won", "amount": Decimal(1000), "closed_at": t(3, 11)},
    {
        "id": "w2",
        "stage": "after_sales",
        "amount": Decimal(3000),
        "closed_at": t(3, 21),
        "owner": "u2",
    },
    {"id": "l1", "stage": "lost", "amount": Decimal(50), "closed_at": t(3, 4), "owner": "u2"},
    {
        "id": "p1",
        "stage": "proposal",
        "amount": Decimal(1000),
        "expected_close": dt.date(2026, 3, 31),
    },
    {
        "id": "x1",
        "stage": "won",
        "amount": Decimal(9),
        "closed_at": t(2, 27),
        "created_at": t(2, 1),
    },
    {
        "id": "u1",
        "stage": "lead",
        "amount": Decimal(500),
        "currency": "USD",
        "expected_close": dt.date(2026, 4, 1),
    },
)


def test_win_rate_is_won_over_closed_in_the_period_by_owner() -> None:
    # March: w1, w2 won, l1 lost (x1 closed in February) -> 2 / 3; u1 1/1, u2 1/2.
    kpi = win_rate(OPPS, period=MARCH, by="owner")
    assert kpi.value == pytest.approx(2 / 3)
    assert kpi.table is not None
    assert kpi.table.select("owner", "won", "closed", "win_rate").rows() == [
        ("u1", 1, 1, 1.0),
        ("u2", 1, 2, 0.5),
    ]


def test_sales_velocity_per_currency() -> None:
    # CNY: 4 created in March (w1, w2, l1, p1); win rate 2/3; average deal (1000 + 3000) / 2
    # = 2000; cycle (10 + 20) / 2 = 15 days -> 4 × 2/3 × 2000 / 15 = 355.56 per day.
    # USD: 1 created, nothing closed -> undefined.
    kpi = sales_velocity(OPPS, period=MARCH)
    assert kpi.table is not None
    assert kpi.table.select("currency", "opportunities", "average_deal", "velocity").rows() == [
        ("CNY", 4, Decimal("2000.00"), Decimal("355.56")),
        ("USD", 1, None, None),
    ]
    assert kpi.value is None  # two currencies
    only_cny = sales_velocity(OPPS.filter(pl.col("currency") == "CNY"), period=MARCH)
    assert (only_cny.value, only_cny.currency) == (Decimal("355.56"), "CNY")


def test_weighted_pipeline_uses_the_workflow_probabilities_unless_overridden() -> None:
    # Open: p1 proposal 1000 × 0.60 (CNY); u1 lead 500 × 0.10 (USD).
    kpi = weighted_pipeline(OPPS, at=t(3, 15))
    assert kpi.table is not None
    assert kpi.table.select("currency", "opportunities", "weighted").rows() == [
        ("CNY", 1, Decimal("600.00")),
        ("USD", 1, Decimal("50.00")),
    ]
    lower = weighted_pipeline(OPPS, at=t(3, 15), probabilities={"proposal": "0.5"})
    assert lower.table is not None
    assert lower.table["weighted"].to_list()[0] == Decimal("500.00")
    assert STAGE_PROBABILITIES["negotiation"] == Decimal("0.80")


def test_weighted_pipeline_refuses_a_bad_probability_or_a_stage_without_one() -> None:
    with pytest.raises(InvalidValueError, match="between 0 and 1"):
        weighted_pipeline(OPPS, at=t(3, 15), probabilities={"proposal": "1.5"})
    odd = opportunities({"id": "m", "stage": "mystery", "amount": Decimal(1)})
    with pytest.raises(InvalidValueError, match="mystery"):
        weighted_pipeline(odd, at=t(3, 15))


def test_forecast_by_category_with_an_overridden_mapping() -> None:
    # closed: w1 1000 + w2 3000 (l1 lost, x1 in February); proposal p1 1000 moved to commit;
    # u1 is expected on Apr 1, after the period.
    kpi = sales_forecast(OPPS, period=MARCH, categories={"proposal": "commit"})
    assert kpi.table is not None
    rows = kpi.table.select("currency", "category", "opportunities", "amount", "cumulative")
    assert rows.rows() == [
        ("CNY", "closed", 2, Decimal("4000.00"), Decimal("4000.00")),
        ("CNY", "commit", 1, Decimal("1000.00"), Decimal("5000.00")),
        ("CNY", "best_case", 0, Decimal("0.00"), Decimal("5000.00")),
        ("CNY", "pipeline", 0, Decimal("0.00"), Decimal("5000.00")),
    ]
    assert kpi.value == Decimal("5000.00")
    assert FORECAST_CATEGORIES["proposal"] is ForecastCategory.BEST_CASE
    with pytest.raises(InvalidValueError, match="categories"):
        sales_forecast(OPPS, period=MARCH, categories={"proposal": "maybe"})


def test_per_period_runs_a_kpi_over_each_month() -> None:
    # January: nothing closed; February: x1 won (1/1); March: 2 of 3.
    q1 = Period(t(1, 1), t(4, 1))
    rows = per_period(win_rate, OPPS, period=q1).select("value", "numerator", "denominator")
    assert rows.rows() == [(None, 0.0, 0), (1.0, 1.0, 1), (pytest.approx(2 / 3), 2.0, 3)]
    # Money KPIs keep Decimals: the March forecast (CNY only) is closed 4000 + commit 0.
    cny = OPPS.filter(pl.col("currency") == "CNY")
    money = per_period(sales_forecast, cny, period=q1)
    assert money.schema["value"] == pl.Decimal(38, 6)
    assert money["value"].to_list()[2] == Decimal("4000")


def test_time_in_stage_breaks_down_by_owner() -> None:
    # u1 owns o1 and o2: first contact 1 and 3 days; u2 owns o5, still in first contact.
    records = pl.DataFrame(
        {"id": ["o1", "o2", "o5"], "owner": ["u1", "u1", "u2"], "created_at": [t(3, 1)] * 3},
        schema_overrides={"created_at": UTC},
    )
    kpi = stage_durations(FUNNEL, period=MARCH, records=records, by="owner")
    assert kpi.table is not None
    rows = kpi.table.filter(pl.col("stage") == "first_contact").select("owner", "stays", "mean")
    assert rows.rows() == [("u1", 2, 2.0)]
    lead = kpi.table.filter(pl.col("stage") == "lead").select("owner", "stays", "mean")
    assert lead.rows() == [("u1", 2, 1.0), ("u2", 1, 29.0)]
    with pytest.raises(InvalidValueError, match="records"):
        stage_durations(FUNNEL, period=MARCH, by="owner")
