"""History, replay and time in stage, from StageChanged events."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from crmcore.domain import (
    CustomerId,
    EmailAddress,
    Lead,
    LeadId,
    Money,
    OrderId,
    PersonName,
    StageChanged,
    capture_lead,
    record_order,
)
from crmcore.errors import InvalidValueError
from crmcore.lifecycle import LEAD_WORKFLOW, china_mainland, fire, history, replay, time_in_stage

T0 = pendulum.datetime(2026, 9, 28, 9, tz="Asia/Shanghai")


def lead() -> Lead:
    new, _ = capture_lead(
        id=LeadId("l-1"),
        name=PersonName.parse("张伟"),
        emails=[EmailAddress("zw@example.com")],
        at=T0,
    )
    return new


def moves() -> list[StageChanged]:
    current = lead()
    events = []
    for name, hours in (("contact", 2), ("qualify", 50), ("disqualify", 400)):
        current, event = fire(
            LEAD_WORKFLOW, current, name, at=T0.add(hours=hours), reason="no budget"
        )
        events.append(event)
    return events


def test_history_orders_the_moves_of_one_record_and_ignores_other_events() -> None:
    _, placed = record_order(
        id=OrderId("o-1"),
        customer_id=CustomerId("c-1"),
        amount=Money(1, "CNY"),
        ordered_at=T0,
        at=T0,
    )
    events = moves()
    found = history([events[2], placed, events[0], events[1]])
    assert [e.transition for e in found.changes] == ["contact", "qualify", "disqualify"]
    assert found.current == "disqualified"


def test_history_of_several_records_needs_an_entity_id() -> None:
    other = StageChanged(
        entity="lead",
        entity_id="l-2",
        workflow="lead",
        transition="contact",
        from_stage="new",
        to_stage="contacted",
        at=T0,
    )
    with pytest.raises(InvalidValueError, match="pass entity_id="):
        history([*moves(), other])
    assert len(history([*moves(), other], entity_id="l-1").changes) == 3


def test_history_with_a_gap_is_rejected() -> None:
    events = moves()
    with pytest.raises(
        InvalidValueError,
        match="disqualify starts from qualified but the previous move ended in contacted",
    ):
        history([events[0], events[2]])


def test_stage_periods_say_who_moved_the_record_when_and_why() -> None:
    periods = history(moves()).periods(started_at=T0)
    assert [(p.stage, p.entered_at, p.left_at) for p in periods] == [
        ("new", T0, T0.add(hours=2)),
        ("contacted", T0.add(hours=2), T0.add(hours=50)),
        ("qualified", T0.add(hours=50), T0.add(hours=400)),
        ("disqualified", T0.add(hours=400), None),
    ]
    assert periods[-1].reason == "no budget"


def test_replay_recovers_the_current_stage() -> None:
    assert replay(LEAD_WORKFLOW, moves()) == "disqualified"


def test_replay_rejects_a_move_the_workflow_does_not_have() -> None:
    forged = StageChanged(
        entity="lead",
        entity_id="l-1",
        workflow="lead",
        transition="convert",
        from_stage="new",
        to_stage="converted",
        at=T0,
    )
    with pytest.raises(InvalidValueError, match="is not a move of workflow 'lead'"):
        replay(LEAD_WORKFLOW, [forged])


def test_time_in_stage_sums_elapsed_time_up_to_now() -> None:
    spent = time_in_stage(moves(), at=T0.add(hours=500), started_at=T0)
    assert spent == {
        "new": dt.timedelta(hours=2),
        "contacted": dt.timedelta(hours=48),
        "qualified": dt.timedelta(hours=350),
        "disqualified": dt.timedelta(hours=100),
    }


def test_time_in_stage_can_count_business_time_over_the_national_day_holiday() -> None:
    spent = time_in_stage(moves(), at=T0.add(hours=500), calendar=china_mainland())
    # contacted from Mon 28 Sep 11:00 to Wed 30 Sep 11:00: two working days of 8 hours.
    assert spent["contacted"] == dt.timedelta(hours=16)
