"""Retention rules: due exactly when the period is over, once, through ``due_actions``."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.domain import (
    ActivityId,
    ActivityKind,
    CaseId,
    CaseKind,
    CustomerId,
    log_activity,
    open_case,
)
from crmcore.errors import InvalidValueError
from crmcore.lifecycle import ActionKind, RuleSnapshot, due_actions
from crmcore.privacy.retention import RetentionAction, RetentionRule

START = pendulum.datetime(2020, 1, 1)

offsets = st.lists(st.integers(min_value=0, max_value=2000), min_size=0, max_size=12)


@given(
    days=offsets,
    period=st.integers(min_value=1, max_value=1500),
    now=st.integers(min_value=0, max_value=4000),
    action=st.sampled_from(list(RetentionAction)),
)
def test_an_activity_is_due_exactly_when_its_period_is_over(
    days: list[int], period: int, now: int, action: RetentionAction
) -> None:
    activities = [
        log_activity(
            id=ActivityId(f"a-{n}"),
            kind=ActivityKind.CALL,
            customer_id=CustomerId("c-1"),
            at=START.add(days=d),
        )[0]
        for n, d in enumerate(days)
    ]
    rule = RetentionRule(
        record_type="activity",
        time_field="occurred_at",
        period=dt.timedelta(days=period),
        action=action,
    )
    at = START.add(days=now)
    actions = due_actions(RuleSnapshot(activities=activities), at=at, rules=[rule])
    expected = {a.id for a in activities if a.occurred_at + dt.timedelta(days=period) <= at}
    assert {a.subject_id for a in actions} == expected
    kind = ActionKind.ERASE_RECORD if action is RetentionAction.ERASE else ActionKind.ARCHIVE_RECORD
    assert all(a.kind is kind and a.customer_id == "c-1" and a.due_at <= at for a in actions)
    # deterministic ids: issued actions are never returned again
    again = due_actions(
        RuleSnapshot(activities=activities, issued=[a.id for a in actions]), at=at, rules=[rule]
    )
    assert again == ()
    # the rule survives JSON
    assert RetentionRule.from_json(rule.to_json()) == rule


def test_retention_rules_mix_with_the_lifecycle_rules() -> None:
    case, _ = open_case(
        id=CaseId("k-1"),
        customer_id=CustomerId("c-1"),
        kind=CaseKind.COMPLAINT,
        subject="x",
        at=START,
    )
    rule = RetentionRule(
        record_type="case", time_field="opened_at", period=dt.timedelta(days=365), action="erase"
    )
    actions = due_actions(RuleSnapshot(cases=[case]), at=START.add(years=2), rules=[rule])
    assert [(a.rule, a.kind, a.subject) for a in actions] == [
        ("retention:case-erase", ActionKind.ERASE_RECORD, "case")
    ]


def test_an_empty_time_field_is_never_due() -> None:
    call, _ = log_activity(
        id=ActivityId("a-1"), kind=ActivityKind.CALL, customer_id=CustomerId("c-1"), at=START
    )
    rule = RetentionRule(
        record_type="activity",
        time_field="completed_at",
        period=dt.timedelta(days=1),
        action="archive",
    )
    assert due_actions(RuleSnapshot(activities=[call]), at=START.add(years=9), rules=[rule]) == ()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"record_type": "invoice", "time_field": "updated_at"}, "record_type"),
        ({"record_type": "case", "time_field": "subject"}, "time_field"),
        ({"record_type": "case", "time_field": "opened_at", "period": dt.timedelta(0)}, "period"),
        ({"record_type": "case", "time_field": "opened_at", "action": "shred"}, "action"),
    ],
)
def test_a_bad_rule_names_its_field(kwargs: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"period": dt.timedelta(days=1), "action": "erase", **kwargs}
    with pytest.raises((InvalidValueError, ValueError)) as caught:
        RetentionRule(**values)  # type: ignore[arg-type]
    assert field in str(caught.value) or "shred" in str(caught.value)


def test_from_json_refuses_what_is_not_a_rule() -> None:
    with pytest.raises(InvalidValueError, match="retention rule"):
        RetentionRule.from_json('{"record_type": "case"}')
    with pytest.raises(InvalidValueError, match="retention rule"):
        RetentionRule.from_json("not json")
