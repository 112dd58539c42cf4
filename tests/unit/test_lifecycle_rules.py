"""Time rules: what is due, as data, idempotent."""

from __future__ import annotations

import datetime as dt

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.domain import (
    ActivityId,
    ActivityKind,
    Case,
    CaseId,
    CaseKind,
    Customer,
    CustomerId,
    LeadId,
    LeadStatus,
    Money,
    OpportunityId,
    Organization,
    PersonName,
    Severity,
    SurveyResponseId,
    TeamId,
    UserId,
    capture_lead,
    log_activity,
    open_case,
    open_opportunity,
    record_survey_response,
    register_customer,
)
from crmcore.errors import InvalidValueError
from crmcore.lifecycle import (
    CASE_WORKFLOW,
    ActionKind,
    FollowUpOverdue,
    LeadIdle,
    RuleSnapshot,
    SlaEscalation,
    SurveyAfterClose,
    TimeRule,
    china_mainland,
    due_actions,
    fire,
)
from crmcore.lifecycle.rules import (
    follow_up_action,
    follow_up_actions,
    idle_lead_action,
    survey_action,
)
from crmcore.privacy.retention import RetentionRule
from crmcore.serialization import dumps, loads

T0 = pendulum.datetime(2026, 3, 2, 9, tz="Asia/Shanghai")
SALES = UserId("u-sales")
BOSS = UserId("u-boss")


def owned_customer() -> Customer:
    c, _ = register_customer(
        id=CustomerId("c-1"), organization=Organization(legal_name="腾达科技"), owner=SALES, at=T0
    )
    return c


def test_a_customer_without_follow_up_for_three_days_reminds_the_supervisor() -> None:
    snapshot = RuleSnapshot(customers=[owned_customer()], supervisors={SALES: BOSS})
    (action,) = due_actions(snapshot, at=T0.add(days=3, hours=1), rules=[FollowUpOverdue()])
    assert (action.kind, action.recipient, action.subject_id) == (
        ActionKind.REMIND_SUPERVISOR,
        BOSS,
        "c-1",
    )
    assert action.due_at == T0.add(days=3)


def test_a_recent_activity_means_no_reminder() -> None:
    call, _ = log_activity(
        id=ActivityId("a-1"),
        kind=ActivityKind.CALL,
        customer_id=CustomerId("c-1"),
        at=T0.add(days=2),
        by=SALES,
    )
    snapshot = RuleSnapshot(customers=[owned_customer()], activities=[call])
    assert due_actions(snapshot, at=T0.add(days=3, hours=1), rules=[FollowUpOverdue()]) == ()


def test_without_a_known_supervisor_the_owner_is_reminded() -> None:
    snapshot = RuleSnapshot(customers=[owned_customer()])
    (action,) = due_actions(snapshot, at=T0.add(days=4), rules=[FollowUpOverdue()])
    assert action.recipient == SALES
    assert action.reason.endswith("(no supervisor known; reminding the owner)")


def test_an_open_opportunity_without_follow_up_is_due_too() -> None:
    opp, _ = open_opportunity(
        id=OpportunityId("o-1"),
        customer_id=CustomerId("c-1"),
        title="年度采购",
        amount=Money(1000, "CNY"),
        owner=SALES,
        at=T0,
    )
    snapshot = RuleSnapshot(opportunities=[opp], supervisors={SALES: BOSS})
    (action,) = due_actions(snapshot, at=T0.add(days=5), rules=[FollowUpOverdue(days=5)])
    assert (action.subject, action.customer_id) == ("opportunity", "c-1")


def test_an_action_already_issued_is_not_issued_again() -> None:
    snapshot = RuleSnapshot(customers=[owned_customer()], supervisors={SALES: BOSS})
    (first,) = due_actions(snapshot, at=T0.add(days=4), rules=[FollowUpOverdue()])
    issued = attrs.evolve(snapshot, issued={first.id})
    assert due_actions(issued, at=T0.add(days=5), rules=[FollowUpOverdue()]) == ()


def test_the_same_situation_gives_the_same_action_id() -> None:
    snapshot = RuleSnapshot(customers=[owned_customer()], supervisors={SALES: BOSS})
    first = due_actions(snapshot, at=T0.add(days=4), rules=[FollowUpOverdue()])
    again = due_actions(snapshot, at=T0.add(days=6), rules=[FollowUpOverdue()])
    assert [a.id for a in first] == [a.id for a in again]


def open_complaint() -> tuple[RuleSnapshot, list[TimeRule]]:
    case, _ = open_case(
        id=CaseId("k-1"),
        customer_id=CustomerId("c-1"),
        kind=CaseKind.COMPLAINT,
        subject="设备故障",
        severity=Severity.HIGH,
        owner=SALES,
        at=T0,
    )
    return (
        RuleSnapshot(cases=[case], supervisors={SALES: BOSS}),
        [SlaEscalation(calendar=china_mainland())],
    )


def test_a_case_whose_sla_is_at_risk_is_escalated() -> None:
    snapshot, rules = open_complaint()
    (action,) = due_actions(snapshot, at=T0.add(hours=3, minutes=30), rules=rules)
    assert (action.kind, action.recipient) == (ActionKind.ESCALATE_CASE, BOSS)
    assert action.id == "sla-at_risk:case:k-1:first_response"


def test_a_case_whose_sla_is_breached_is_escalated_at_its_deadline() -> None:
    snapshot, rules = open_complaint()
    actions = due_actions(snapshot, at=T0.add(hours=6), rules=rules)
    assert [a.id for a in actions] == ["sla-breached:case:k-1:first_response"]
    assert actions[0].due_at == T0.add(hours=5)  # four business hours with the lunch break


def test_an_idle_lead_is_recycled() -> None:
    lead, _ = capture_lead(id=LeadId("l-1"), name=PersonName.parse("李娜"), owner=SALES, at=T0)
    (action,) = due_actions(RuleSnapshot(leads=[lead]), at=T0.add(days=15), rules=[LeadIdle()])
    assert (action.kind, action.subject_id) == (ActionKind.RECYCLE_LEAD, "l-1")


def closed_case() -> RuleSnapshot:
    case, _ = open_case(
        id=CaseId("k-1"),
        customer_id=CustomerId("c-1"),
        kind=CaseKind.INQUIRY,
        subject="billing question",
        at=T0,
    )
    case, _ = fire(CASE_WORKFLOW, case, "start", at=T0)
    case, _ = fire(CASE_WORKFLOW, case, "resolve", at=T0.add(hours=1))
    case, _ = fire(CASE_WORKFLOW, case, "close", at=T0.add(hours=2))
    return RuleSnapshot(cases=[case])


def test_a_survey_is_due_a_day_after_a_case_closed() -> None:
    (action,) = due_actions(closed_case(), at=T0.add(days=2), rules=[SurveyAfterClose()])
    assert (action.kind, action.recipient, action.customer_id) == (
        ActionKind.SEND_SURVEY,
        None,
        "c-1",
    )


def test_a_case_with_an_answer_needs_no_survey() -> None:
    answer, _ = record_survey_response(
        id=SurveyResponseId("s-1"),
        customer_id=CustomerId("c-1"),
        case_id=CaseId("k-1"),
        csat=4,
        at=T0.add(days=1),
    )
    snapshot = attrs.evolve(closed_case(), survey_responses=(answer,))
    assert due_actions(snapshot, at=T0.add(days=2), rules=[SurveyAfterClose()]) == ()


def test_a_case_closed_long_ago_is_not_surveyed() -> None:
    rule = SurveyAfterClose(expires_after=dt.timedelta(days=7))
    assert due_actions(closed_case(), at=T0.add(days=30), rules=[rule]) == ()


def test_rule_thresholds_must_be_positive() -> None:
    with pytest.raises(InvalidValueError, match="at least 1"):
        FollowUpOverdue(days=0)


def test_rules_round_trip_through_json_as_a_tagged_union() -> None:
    rules: list[TimeRule] = [FollowUpOverdue(days=5), LeadIdle(), SurveyAfterClose()]
    assert [loads(dumps(r), TimeRule) for r in rules] == rules  # type: ignore[arg-type]  # a union


# --------------------------------------------------------------------------- unowned cases
SUPPORT = TeamId("t-support")
TEAM_LEAD = UserId("u-team-lead")
QUEUE = UserId("q-escalations")
AT_RISK = T0.add(hours=3, minutes=30)


def unowned_complaint(team: TeamId | None = SUPPORT) -> Case:
    case, _ = open_case(
        id=CaseId("k-2"),
        customer_id=CustomerId("c-1"),
        kind=CaseKind.COMPLAINT,
        subject="无人负责的投诉",
        severity=Severity.HIGH,
        team=team,
        at=T0,
    )
    return case


def test_an_unowned_case_is_escalated_to_its_team_lead() -> None:
    snapshot = RuleSnapshot(cases=[unowned_complaint()], team_leads={SUPPORT: TEAM_LEAD})
    (action,) = due_actions(snapshot, at=AT_RISK, rules=[SlaEscalation(calendar=china_mainland())])
    assert (action.kind, action.recipient) == (ActionKind.ESCALATE_CASE, TEAM_LEAD)
    assert action.reason.endswith("(unowned; escalated to the lead of team t-support)")


def test_the_team_lead_comes_before_the_escalation_queue() -> None:
    snapshot = RuleSnapshot(cases=[unowned_complaint()], team_leads={SUPPORT: TEAM_LEAD})
    rule = SlaEscalation(calendar=china_mainland(), escalation_queue=QUEUE)
    (action,) = due_actions(snapshot, at=AT_RISK, rules=[rule])
    assert action.recipient == TEAM_LEAD


def test_an_unowned_case_without_a_known_team_lead_goes_to_the_escalation_queue() -> None:
    snapshot = RuleSnapshot(cases=[unowned_complaint(team=None)], team_leads={SUPPORT: TEAM_LEAD})
    rule = SlaEscalation(calendar=china_mainland(), escalation_queue=QUEUE)
    (action,) = due_actions(snapshot, at=AT_RISK, rules=[rule])
    assert (action.recipient, action.reason.endswith("(unowned; escalated to q-escalations)")) == (
        QUEUE,
        True,
    )


def test_an_unowned_case_with_no_lead_and_no_queue_has_no_recipient_and_says_why() -> None:
    snapshot = RuleSnapshot(cases=[unowned_complaint()])
    (action,) = due_actions(snapshot, at=AT_RISK, rules=[SlaEscalation(calendar=china_mainland())])
    assert action.recipient is None
    assert action.reason.endswith("(unowned; no team lead or escalation queue known)")


def test_an_owned_case_still_goes_to_the_owners_supervisor_not_the_queue() -> None:
    snapshot, _ = open_complaint()
    snapshot = attrs.evolve(snapshot, team_leads={SUPPORT: TEAM_LEAD})
    rule = SlaEscalation(calendar=china_mainland(), escalation_queue=QUEUE)
    (action,) = due_actions(snapshot, at=AT_RISK, rules=[rule])
    assert action.recipient == BOSS


def test_the_escalation_queue_round_trips_through_json() -> None:
    rule = SlaEscalation(escalation_queue=QUEUE)
    assert loads(dumps(rule), TimeRule) == rule  # type: ignore[arg-type]  # a union


_INSTANTS = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=dt.datetime(2090, 1, 1),  # noqa: DTZ001
)
_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)


@settings(max_examples=60)
@given(naive=_INSTANTS, zone=_OFFSETS, days=st.integers(min_value=1, max_value=400))
def test_actions_are_the_same_whatever_form_their_instant_comes_in(
    naive: dt.datetime, zone: dt.tzinfo, days: int
) -> None:
    """A driver's value (naive UTC, or aware in any zone) gives the pendulum value's reminder."""
    last = pendulum.instance(naive, tz="UTC")
    at = last.add(days=days, seconds=7)
    rule = FollowUpOverdue(days=1)
    forms = [last, naive, naive.replace(tzinfo=dt.UTC).astimezone(zone)]
    subjects = [("customer", "c-1", SALES, CustomerId("c-1"), form) for form in forms]
    reminders = list(follow_up_actions(rule, subjects, at=at, supervisors={SALES: BOSS}))
    assert reminders == [reminders[0]] * 3
    one = reminders[0]
    assert type(one.due_at) is pendulum.DateTime
    assert one.due_at == last + dt.timedelta(days=1)
    assert one.id == f"follow-up:customer:c-1:{last.isoformat()}"
    assert f"for {(at - last).days} days since {last.date().isoformat()}" in one.reason
    assert one == follow_up_action(
        rule,
        subject="customer",
        subject_id="c-1",
        owner=SALES,
        customer_id=CustomerId("c-1"),
        last=last,
        at=at,
        supervisors={SALES: BOSS},
    )
    idle = [
        idle_lead_action(
            LeadIdle(days=1),
            lead_id="l-1",
            status=LeadStatus.NEW,
            owner=None,
            last=form,
            at=at,
            supervisors={},
        )
        for form in forms
    ]
    assert idle == [idle[0]] * 3
    assert idle[0].id == f"lead-idle:lead:l-1:{last.isoformat()}"
    assert idle[0].due_at == last + dt.timedelta(days=1)
    surveys = [
        survey_action(SurveyAfterClose(), case_id="k-1", customer_id=CustomerId("c-1"), closed=form)
        for form in forms
    ]
    assert surveys == [surveys[0]] * 3
    assert surveys[0].id == f"survey:case:k-1:{last.isoformat()}"
    assert surveys[0].due_at == last + dt.timedelta(days=1)
    assert type(surveys[0].due_at) is pendulum.DateTime


def test_a_retention_rule_builds_the_same_actions_from_records_or_their_fields() -> None:
    (case,) = closed_case().cases
    rule = RetentionRule(
        record_type="case", time_field="closed_at", period=dt.timedelta(days=2), action="archive"
    )
    at = T0.add(days=10)
    from_records = list(rule.due(RuleSnapshot(cases=[case]), at))
    assert from_records == list(rule.actions([(case.id, case.closed_at, case.customer_id)], at))
    assert [a.customer_id for a in from_records] == [case.customer_id]
    assert list(rule.actions([(case.id, None, case.customer_id)], at)) == []
