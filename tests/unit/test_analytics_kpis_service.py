"""Service KPIs on tiny hand-built frames: every expected value is worked out in a comment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pendulum
import polars as pl
import pytest

from crmcore.analytics.kpi import HOURS, NPS_POINTS, Period
from crmcore.analytics.service import (
    backlog,
    customer_effort_score,
    customer_satisfaction,
    first_response_time,
    net_promoter_score,
    reopen_rate,
    resolution_time,
    sla_attainment,
)
from crmcore.domain import Severity, Tier
from crmcore.errors import InvalidValueError, PayloadError
from crmcore.lifecycle import SlaPolicy, SlaTarget, weekday_calendar

UTC = pl.Datetime("us", "UTC")
MARCH = Period.month(2026, 3)
# 09:00-18:00 UTC, Monday to Friday. March 2026: the 2nd is a Monday, the 6th a Friday.
CALENDAR = weekday_calendar("UTC", hours=("09:00-18:00",))


def t(month: int, day: int, hour: int = 0) -> pendulum.DateTime:
    return pendulum.datetime(2026, month, day, hour)


def cases(*rows: dict[str, Any]) -> pl.DataFrame:
    defaults: dict[str, Any] = {
        "customer_id": "c1",
        "severity": "medium",
        "channel": "phone",
        "first_response_at": None,
        "resolved_at": None,
        "closed_at": None,
    }
    return pl.DataFrame(
        [{**defaults, **row} for row in rows],
        schema={
            "id": pl.String,
            "customer_id": pl.String,
            "severity": pl.String,
            "channel": pl.String,
            "opened_at": UTC,
            "first_response_at": UTC,
            "resolved_at": UTC,
            "closed_at": UTC,
        },
    )


def moves(*rows: tuple[str, str, str, pendulum.DateTime]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "entity": "case",
                "entity_id": cid,
                "workflow": "case",
                "from_stage": old,
                "to_stage": new,
                "at": at,
            }
            for cid, old, new, at in rows
        ],
        schema={
            "entity": pl.String,
            "entity_id": pl.String,
            "workflow": pl.String,
            "from_stage": pl.String,
            "to_stage": pl.String,
            "at": UTC,
        },
    )


ANSWERED = pendulum.datetime(2026, 3, 9)


def answers(
    column: str, scores: Sequence[int | None], at: pendulum.DateTime = ANSWERED
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {"nps": [None] * len(scores), "csat": [None] * len(scores), "ces": [None] * len(scores)},
        schema={"nps": pl.Int64, "csat": pl.Int64, "ces": pl.Int64},
    )
    return frame.with_columns(
        pl.Series(column, list(scores), dtype=pl.Int64),
        pl.Series("responded_at", [at] * len(scores), dtype=UTC),
    )


# k1 is opened Monday 10:00 and answered at 15:00 (5 business hours); it waits on the
# customer all of Tuesday and is resolved Wednesday 12:00.
K1 = cases(
    {
        "id": "k1",
        "opened_at": t(3, 2, 10),
        "first_response_at": t(3, 2, 15),
        "resolved_at": t(3, 4, 12),
    }
)
K1_MOVES = moves(
    ("k1", "received", "in_progress", t(3, 2, 15)),
    ("k1", "in_progress", "waiting_on_customer", t(3, 3, 9)),
    ("k1", "waiting_on_customer", "in_progress", t(3, 3, 18)),
    ("k1", "in_progress", "resolved", t(3, 4, 12)),
)


def test_first_response_time_in_business_hours() -> None:
    kpi = first_response_time(K1, period=MARCH, calendar=CALENDAR)
    assert (kpi.value, kpi.unit, kpi.denominator) == (5.0, HOURS, 1)


def test_resolution_time_excludes_waiting_on_the_customer() -> None:
    # Monday 10-18 (8 h) + Tuesday 9-18 (9 h) + Wednesday 9-12 (3 h) = 20 h; the wait took
    # Tuesday's 9 h: 11 h. Without the stage changes the wait is not known: 20 h.
    paused = resolution_time(K1, period=MARCH, calendar=CALENDAR, stage_changes=K1_MOVES)
    assert paused.value == 11.0
    assert resolution_time(K1, period=MARCH, calendar=CALENDAR).value == 20.0
    # 24×7: Monday 10:00 to Wednesday 12:00 is 50 h, less the 9 h wait.
    assert resolution_time(K1, period=MARCH, stage_changes=K1_MOVES).value == 41.0


def test_response_time_matches_the_calendar_s_own_business_time() -> None:
    expected = CALENDAR.business_time_between(
        t(3, 2, 10), t(3, 4, 12), paused=[(t(3, 3, 9), t(3, 3, 18))]
    )
    paused = resolution_time(K1, period=MARCH, calendar=CALENDAR, stage_changes=K1_MOVES)
    assert paused.value == expected / dt.timedelta(hours=1)


def test_response_time_breaks_down_by_channel_and_counts_unanswered_cases() -> None:
    frame = pl.concat(
        [K1, cases({"id": "k2", "opened_at": t(3, 5, 9), "channel": "email"})], how="vertical"
    )
    kpi = first_response_time(frame, period=MARCH, calendar=CALENDAR, by="channel")
    assert kpi.table is not None
    assert kpi.table.select("channel", "cases", "measured", "mean").rows() == [
        ("email", 1, 0, None),
        ("phone", 1, 1, 5.0),
    ]
    assert kpi.value == 5.0


# SLA, medium severity: first response 8 business hours, resolution 40.
SLA_CASES = cases(
    # Friday 10:00; answered at 18:00, the deadline itself: met. Resolved Monday 12:00
    # (8 + 3 = 11 h): met.
    {
        "id": "k1",
        "opened_at": t(3, 6, 10),
        "first_response_at": t(3, 6, 18),
        "resolved_at": t(3, 9, 12),
    },
    # Answered Saturday 10:00: no working time used since the deadline, but after it:
    # breached (as lifecycle.sla.status says). Resolution met.
    {
        "id": "k2",
        "opened_at": t(3, 6, 10),
        "first_response_at": t(3, 7, 10),
        "resolved_at": t(3, 9, 12),
    },
    # Monday Mar 30 10:00, nothing done: by Apr 1 00:00, 8 + 9 = 17 h used: response
    # breached, resolution pending.
    {"id": "k3", "opened_at": t(3, 30, 10)},
    # Tuesday Mar 31 17:00: 1 h used, both pending.
    {"id": "k4", "opened_at": t(3, 31, 17)},
)


def test_sla_attainment_judges_each_target_like_the_sla_module() -> None:
    kpi = sla_attainment(SLA_CASES, period=MARCH, calendar=CALENDAR)
    assert kpi.table is not None
    assert kpi.table.select("target", "met", "breached", "pending").rows() == [
        ("first_response", 1, 2, 1),
        ("resolution", 2, 0, 2),
        ("both", 1, 2, 1),
    ]
    assert kpi.value == pytest.approx(1 / 3)
    assert (kpi.numerator, kpi.denominator) == (1, 3)


def test_sla_attainment_uses_per_tier_targets_when_given_the_customers() -> None:
    hour = dt.timedelta(hours=1)
    policy = SlaPolicy(
        name="vip first",
        targets=(
            SlaTarget(
                severity=Severity.MEDIUM, tier=Tier.VIP, first_response=hour, resolution=40 * hour
            ),
            SlaTarget(severity=Severity.MEDIUM, first_response=8 * hour, resolution=40 * hour),
        ),
    )
    people = pl.DataFrame({"id": ["c1"], "tier": ["vip"]})
    # k1 took 8 h to answer: fine for an ordinary customer, late for a VIP (1 h).
    plain = sla_attainment(SLA_CASES.head(1), period=MARCH, calendar=CALENDAR, policy=policy)
    vip = sla_attainment(
        SLA_CASES.head(1), period=MARCH, calendar=CALENDAR, policy=policy, customers=people
    )
    assert (plain.value, vip.value) == (1.0, 0.0)


def test_sla_attainment_refuses_an_unknown_severity() -> None:
    with pytest.raises(InvalidValueError, match="severity"):
        sla_attainment(cases({"id": "k", "opened_at": t(3, 2), "severity": "urgent"}), period=MARCH)


def test_backlog_counts_open_cases_at_the_end_of_each_week() -> None:
    kpi = backlog(SLA_CASES, period=Period(t(3, 2), t(4, 6)), every="week")
    assert kpi.table is not None
    # Weeks end Mar 9, 16, 23, 30 and Apr 6 (00:00). k1 and k2 are open until Mar 9 12:00;
    # k3 is opened Mar 30 10:00, after that week's end; k3 and k4 are open on Apr 6.
    assert kpi.table["open_cases"].to_list() == [2, 0, 0, 0, 2]
    assert kpi.value == 2


def test_reopen_rate_reads_moves_out_of_resolved() -> None:
    history = moves(
        ("k1", "in_progress", "resolved", t(3, 2)),
        ("k1", "resolved", "in_progress", t(3, 3)),
        ("k1", "in_progress", "resolved", t(3, 4)),
        ("k2", "in_progress", "resolved", t(3, 2)),
        ("k2", "resolved", "closed", t(3, 5)),
        ("k3", "in_progress", "resolved", t(2, 2)),  # resolved in February
        ("k3", "resolved", "in_progress", t(3, 3)),
        ("k4", "in_progress", "resolved", t(3, 30)),
        ("k4", "resolved", "in_progress", t(4, 2)),  # reopened after the period
    )
    # Resolved in March: k1, k2, k4; reopened by the end: k1.
    kpi = reopen_rate(history, period=MARCH)
    assert (kpi.numerator, kpi.denominator) == (1, 3)


def test_nps_of_all_promoters_is_100_with_a_degenerate_interval() -> None:
    kpi = net_promoter_score(answers("nps", [9, 10, None]), period=MARCH)
    assert (kpi.value, kpi.interval, kpi.unit, kpi.denominator) == (
        100.0,
        (100.0, 100.0),
        NPS_POINTS,
        2,
    )
    assert "trinomial" in kpi.method


def test_nps_interval_for_a_mixed_sample() -> None:
    # 5 promoters, 3 passives, 2 detractors: p = .5, d = .2, NPS 30;
    # variance (.7 - .09) / 10 = .061, 1.96 × √.061 = .4841 -> [-18.4, 78.4].
    kpi = net_promoter_score(answers("nps", [10] * 5 + [8] * 3 + [2] * 2), period=MARCH)
    assert kpi.value == pytest.approx(30.0)
    assert kpi.interval is not None
    assert kpi.interval == pytest.approx((-18.41, 78.41), abs=0.01)


def test_survey_kpis_without_answers_are_undefined() -> None:
    empty = answers("nps", [5], at=t(1, 5))
    assert net_promoter_score(empty, period=MARCH).value is None
    assert customer_satisfaction(empty, period=MARCH).value is None
    assert customer_effort_score(empty, period=MARCH).value is None


def test_scores_outside_their_scale_are_refused_with_the_row() -> None:
    with pytest.raises(PayloadError, match=r"11 is outside 0\.\.10 @ \$\[1\]\.nps"):
        net_promoter_score(answers("nps", [3, 11]), period=MARCH)
    with pytest.raises(PayloadError, match="csat"):
        customer_satisfaction(answers("csat", [0]), period=MARCH)
    with pytest.raises(PayloadError, match="ces"):
        customer_effort_score(answers("ces", [8]), period=MARCH)
    with pytest.raises(InvalidValueError, match="confidence"):
        net_promoter_score(answers("nps", [3]), period=MARCH, confidence=1.5)


def test_csat_and_ces() -> None:
    # CSAT: 4 and 5 of [5, 4, 3, 1] -> 0.5. CES: mean of [2, 4] = 3, interval with s = √2.
    assert customer_satisfaction(answers("csat", [5, 4, 3, 1]), period=MARCH).value == 0.5
    ces = customer_effort_score(answers("ces", [2, 4]), period=MARCH)
    assert ces.value == 3.0
    assert ces.interval == pytest.approx((max(1.0, 3 - 1.96 * 1.0), 3 + 1.96 * 1.0), abs=1e-3)
    assert customer_effort_score(answers("ces", [5]), period=MARCH).interval is None


def test_a_hand_built_frame_with_all_null_columns_is_read_with_the_contract_dtypes() -> None:
    # polars gives a column of only None the Null dtype; it is taken as the contract's
    # Datetime("us", "UTC"): one case opened, none answered, still open.
    untyped = pl.DataFrame(
        {
            "id": ["k1"],
            "severity": ["low"],
            "opened_at": [t(3, 2)],
            "first_response_at": [None],
            "resolved_at": [None],
            "closed_at": [None],
        }
    )
    assert untyped.schema["resolved_at"] == pl.Null
    assert first_response_time(untyped, period=MARCH).denominator == 0
    assert backlog(untyped, period=MARCH).value == 1
