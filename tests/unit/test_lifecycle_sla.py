"""SLA deadlines and status over business calendars, paused while waiting on the customer."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from crmcore.domain import Case, CaseId, CaseKind, CustomerId, Severity, Tier, open_case
from crmcore.errors import ConfigurationError, InvalidValueError
from crmcore.lifecycle import (
    CASE_WORKFLOW,
    DEFAULT_SLA_POLICY,
    SlaPolicy,
    SlaState,
    SlaTarget,
    china_mainland,
    deadline,
    fire,
    status,
)
from crmcore.serialization import dumps, loads

SH = "Asia/Shanghai"
OPENED = pendulum.datetime(2026, 9, 30, 16, tz=SH)
CN = china_mainland()


def case(severity: Severity = Severity.MEDIUM) -> Case:
    new, _ = open_case(
        id=CaseId("k-1"),
        customer_id=CustomerId("c-1"),
        kind=CaseKind.COMPLAINT,
        subject="设备故障",
        severity=severity,
        at=OPENED,
    )
    return new


def test_deadlines_skip_the_national_day_holiday_and_count_the_make_up_saturday() -> None:
    due = deadline(case(), DEFAULT_SLA_POLICY, CN)
    assert due.first_response == pendulum.datetime(2026, 10, 8, 16, tz=SH)
    assert due.resolution == pendulum.datetime(2026, 10, 13, 16, tz=SH)


def test_time_waiting_on_the_customer_moves_the_resolution_deadline() -> None:
    k, _ = fire(CASE_WORKFLOW, case(), "start", at=OPENED)
    k, _ = fire(CASE_WORKFLOW, k, "wait_on_customer", at=pendulum.datetime(2026, 10, 8, 9, tz=SH))
    k, _ = fire(CASE_WORKFLOW, k, "resume", at=pendulum.datetime(2026, 10, 9, 9, tz=SH))
    assert deadline(k, DEFAULT_SLA_POLICY, CN).resolution == pendulum.datetime(
        2026, 10, 14, 16, tz=SH
    )


def test_the_deadline_of_a_case_still_waiting_is_open_unless_an_end_is_assumed() -> None:
    k, _ = fire(CASE_WORKFLOW, case(), "start", at=OPENED)
    waiting_from = pendulum.datetime(2026, 10, 8, 9, tz=SH)
    k, _ = fire(CASE_WORKFLOW, k, "wait_on_customer", at=waiting_from)
    due = deadline(k, DEFAULT_SLA_POLICY, CN)
    assert (due.resolution, due.waiting_since) == (None, waiting_from)
    assumed = deadline(k, DEFAULT_SLA_POLICY, CN, at=pendulum.datetime(2026, 10, 9, 9, tz=SH))
    assert assumed.resolution == pendulum.datetime(2026, 10, 14, 16, tz=SH)


def test_a_fresh_case_is_on_track() -> None:
    sla = status(case(), at=OPENED.add(minutes=30), policy=DEFAULT_SLA_POLICY, calendar=CN)
    assert sla.state is SlaState.ON_TRACK


def test_a_case_with_most_of_its_response_time_used_is_at_risk() -> None:
    at = pendulum.datetime(2026, 10, 8, 14, tz=SH)  # 2 h + 4 h of 8 h used
    sla = status(case(), at=at, policy=DEFAULT_SLA_POLICY, calendar=CN)
    assert (sla.first_response.state, sla.first_response.remaining) == (
        SlaState.AT_RISK,
        dt.timedelta(hours=2),
    )


def test_a_case_past_its_deadline_is_breached_even_outside_working_hours() -> None:
    at = pendulum.datetime(2026, 10, 8, 20, tz=SH)
    sla = status(case(), at=at, policy=DEFAULT_SLA_POLICY, calendar=CN)
    assert sla.first_response.state is SlaState.BREACHED
    assert sla.state is SlaState.BREACHED


def test_a_response_in_time_is_met_for_good() -> None:
    k, _ = fire(CASE_WORKFLOW, case(), "acknowledge", at=OPENED.add(hours=1))
    sla = status(
        k, at=pendulum.datetime(2026, 12, 1, tz=SH), policy=DEFAULT_SLA_POLICY, calendar=CN
    )
    assert (sla.first_response.state, sla.resolution.state) == (SlaState.MET, SlaState.BREACHED)


def test_a_case_waiting_on_the_customer_never_breaches_while_it_waits() -> None:
    k, _ = fire(CASE_WORKFLOW, case(), "start", at=OPENED)
    k, _ = fire(CASE_WORKFLOW, k, "wait_on_customer", at=OPENED.add(hours=1))
    sla = status(
        k, at=pendulum.datetime(2026, 12, 1, tz=SH), policy=DEFAULT_SLA_POLICY, calendar=CN
    )
    assert sla.paused
    assert sla.resolution.state is SlaState.ON_TRACK
    assert sla.resolution.remaining == dt.timedelta(hours=39)


def test_per_tier_targets_win_over_the_default_for_the_severity() -> None:
    policy = SlaPolicy(
        name="vip",
        targets=(
            SlaTarget(
                severity=Severity.HIGH,
                first_response=dt.timedelta(hours=4),
                resolution=dt.timedelta(hours=16),
            ),
            SlaTarget(
                severity=Severity.HIGH,
                tier=Tier.VIP,
                first_response=dt.timedelta(hours=1),
                resolution=dt.timedelta(hours=4),
            ),
        ),
    )
    assert policy.target_for(Severity.HIGH, Tier.VIP).first_response == dt.timedelta(hours=1)
    assert policy.target_for(Severity.HIGH, Tier.ORDINARY).first_response == dt.timedelta(hours=4)


def test_a_policy_without_a_target_for_the_severity_is_a_configuration_error() -> None:
    policy = SlaPolicy(
        name="narrow",
        targets=(
            SlaTarget(
                severity=Severity.HIGH,
                first_response=dt.timedelta(hours=1),
                resolution=dt.timedelta(hours=2),
            ),
        ),
    )
    with pytest.raises(ConfigurationError, match="no target for low"):
        deadline(case(Severity.LOW), policy, CN)


def test_two_targets_for_the_same_severity_and_tier_are_rejected() -> None:
    target = SlaTarget(
        severity=Severity.HIGH,
        first_response=dt.timedelta(hours=1),
        resolution=dt.timedelta(hours=2),
    )
    with pytest.raises(InvalidValueError, match="one target per severity and tier"):
        SlaPolicy(name="twice", targets=(target, target))


def test_an_sla_policy_round_trips_through_json_with_iso_durations() -> None:
    text = dumps(DEFAULT_SLA_POLICY)
    assert '"first_response": "PT1H"' in text
    assert loads(text, SlaPolicy) == DEFAULT_SLA_POLICY
