"""The workflow engine: definitions, firing, effects of the default workflows, diagrams, JSON."""

from __future__ import annotations

from typing import Any

import attrs
import pendulum
import pytest

from crmcore.domain import (
    Case,
    CaseId,
    CaseKind,
    CaseStatus,
    CustomerId,
    EmailAddress,
    Lead,
    LeadId,
    LeadStatus,
    Money,
    Opportunity,
    OpportunityId,
    OpportunityStage,
    PersonName,
    SurveyResponseId,
    UserId,
    capture_lead,
    open_case,
    open_opportunity,
    record_survey_response,
)
from crmcore.errors import (
    ConfigurationError,
    InvalidValueError,
    PayloadError,
    TransitionNotAllowedError,
    WorkflowDefinitionError,
)
from crmcore.lifecycle import (
    CASE_WORKFLOW,
    LEAD_WORKFLOW,
    OPPORTUNITY_WORKFLOW,
    ForecastCategory,
    Policy,
    State,
    Transition,
    Workflow,
    advance_to,
    allowed,
    can_fire,
    close_with_feedback,
    escalate,
    fire,
    forecast_category,
    route,
    to_mermaid,
    weighted_amount,
    win_probability,
)
from crmcore.serialization import dumps, loads, structure, unstructure

AT = pendulum.datetime(2026, 3, 2, 9, tz="Asia/Shanghai")
BY = UserId("u-li")


@attrs.frozen(kw_only=True)
class Deal:
    id: str
    stage: str = "open"


def ticket(**overrides: Any) -> Workflow[Any, str]:
    fields: dict[str, Any] = {
        "name": "ticket",
        "entity": "deal",
        "attribute": "stage",
        "states": (
            State(name="open", initial=True),
            State(name="review"),
            State(name="done", final=True),
        ),
        "transitions": (
            Transition(name="submit", sources=("open",), target="review"),
            Transition(name="finish", sources=("review",), target="done"),
            Transition(name="rework", sources=("review",), target="open", regress=True),
        ),
        "policy": Policy.FORWARD_ONLY,
    }
    fields.update(overrides)
    return Workflow(**fields)


def problems_of(**overrides: Any) -> tuple[str, ...]:
    with pytest.raises(WorkflowDefinitionError) as caught:
        ticket(**overrides)
    return caught.value.problems


def new_lead(*, reachable: bool = True) -> Lead:
    emails = [EmailAddress("zhang.wei@example.com")] if reachable else []
    lead, _ = capture_lead(
        id=LeadId("l-1"), name=PersonName.parse("张伟"), emails=emails, at=AT, by=BY
    )
    return lead


def new_opportunity(amount: str = "50000.00") -> Opportunity:
    opp, _ = open_opportunity(
        id=OpportunityId("o-1"),
        customer_id=CustomerId("c-1"),
        title="ERP rollout",
        amount=Money(amount, "CNY"),
        at=AT,
    )
    return opp


def new_case() -> Case:
    case, _ = open_case(
        id=CaseId("k-1"),
        customer_id=CustomerId("c-1"),
        kind=CaseKind.COMPLAINT,
        subject="设备故障",
        at=AT,
    )
    return case


# --------------------------------------------------------------------------- definitions


def test_a_valid_definition_builds() -> None:
    assert ticket().initial.name == "open"


def test_a_definition_without_an_initial_state_is_rejected() -> None:
    states = (State(name="open"), State(name="review"), State(name="done", final=True))
    assert "expected exactly one initial state, found none" in problems_of(states=states)


def test_a_definition_with_two_initial_states_is_rejected() -> None:
    states = (
        State(name="open", initial=True),
        State(name="review", initial=True),
        State(name="done", final=True),
    )
    assert "expected exactly one initial state, found open, review" in problems_of(states=states)


def test_a_transition_leaving_a_final_state_is_rejected() -> None:
    transitions = (
        Transition(name="submit", sources=("open",), target="review"),
        Transition(name="finish", sources=("review",), target="done"),
        Transition(name="undo", sources=("done",), target="review", regress=True),
    )
    assert "transition 'undo' leaves final state 'done'" in problems_of(transitions=transitions)


def test_an_unreachable_state_is_rejected() -> None:
    transitions = (Transition(name="finish", sources=("open",), target="done"),)
    assert "states not reachable from open: review" in problems_of(transitions=transitions)


def test_an_ambiguous_transition_is_rejected() -> None:
    transitions = (
        Transition(name="submit", sources=("open",), target="review"),
        Transition(name="submit", sources=("open",), target="done"),
        Transition(name="finish", sources=("review",), target="done"),
    )
    assert "transition 'submit' is ambiguous from state 'open'" in problems_of(
        transitions=transitions
    )


def test_one_name_may_serve_transitions_from_different_states() -> None:
    transitions = (
        Transition(name="next", sources=("open",), target="review"),
        Transition(name="next", sources=("review",), target="done"),
    )
    wf = ticket(transitions=transitions)
    assert wf.find("next", "review") == transitions[1]


def test_a_transition_to_an_unknown_state_is_rejected() -> None:
    transitions = (
        Transition(name="submit", sources=("open",), target="review"),
        Transition(name="finish", sources=("review",), target="archived"),
    )
    assert "transition 'finish' leads to unknown state 'archived'" in problems_of(
        transitions=transitions
    )


def test_an_undeclared_move_back_is_rejected_in_a_forward_only_workflow() -> None:
    transitions = (
        Transition(name="submit", sources=("open",), target="review"),
        Transition(name="finish", sources=("review",), target="done"),
        Transition(name="rework", sources=("review",), target="open"),
    )
    assert (
        "transition 'rework' moves back from review to open in a forward_only workflow; "
        "declare it regress" in problems_of(transitions=transitions)
    )


def test_an_undeclared_move_back_is_fine_in_a_free_workflow() -> None:
    transitions = (
        Transition(name="submit", sources=("open",), target="review"),
        Transition(name="finish", sources=("review",), target="done"),
        Transition(name="rework", sources=("review",), target="open"),
    )
    assert ticket(transitions=transitions, policy=Policy.FREE).policy is Policy.FREE


def test_a_non_final_state_without_exits_is_rejected() -> None:
    transitions = (
        Transition(name="submit", sources=("open",), target="review"),
        Transition(name="finish", sources=("open",), target="done"),
    )
    assert "states with no way out that are not final: review" in problems_of(
        transitions=transitions
    )


def test_every_problem_of_a_definition_is_reported_at_once() -> None:
    states = (State(name="open"), State(name="review"), State(name="review", final=True))
    assert problems_of(states=states, attribute="not an attribute")[:3] == (
        "attribute 'not an attribute' is not an attribute name",
        "states listed twice: review",
        "expected exactly one initial state, found none",
    )


def test_binding_a_guard_no_transition_uses_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="guards bound but used by no transition"):
        ticket().with_guards(approved=lambda _deal: True)


def test_a_win_probability_above_one_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="probability"):
        State(name="x", probability="1.5")


# --------------------------------------------------------------------------- firing


def test_firing_returns_the_moved_record_and_its_event() -> None:
    deal, event = fire(ticket(), Deal(id="d-1"), "submit", at=AT, by=BY)
    assert deal == Deal(id="d-1", stage="review")
    assert (event.entity, event.entity_id, event.workflow, event.transition) == (
        "deal",
        "d-1",
        "ticket",
        "submit",
    )
    assert (event.from_stage, event.to_stage, event.by) == ("open", "review", BY)
    assert event.at == AT


def test_firing_leaves_the_input_record_unchanged() -> None:
    lead = new_lead()
    fire(LEAD_WORKFLOW, lead, "contact", at=AT)
    assert lead.status is LeadStatus.NEW


def test_firing_stamps_updated_at() -> None:
    later = AT.add(hours=1)
    lead, _ = fire(LEAD_WORKFLOW, new_lead(), "contact", at=later)
    assert lead.updated_at == later


def test_firing_before_the_last_update_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="before the last update"):
        fire(LEAD_WORKFLOW, new_lead(), "contact", at=AT.subtract(minutes=1))


def test_a_disallowed_transition_says_what_from_where_and_what_is_allowed() -> None:
    with pytest.raises(TransitionNotAllowedError) as caught:
        fire(LEAD_WORKFLOW, new_lead(), "convert", at=AT)
    assert (
        str(caught.value)
        == "lead: can't convert when in new; allowed: contact, disqualify, qualify"
    )


def test_an_unknown_transition_is_named_as_such() -> None:
    with pytest.raises(
        TransitionNotAllowedError, match=r"can't fly when in new \(no such transition\)"
    ):
        fire(LEAD_WORKFLOW, new_lead(), "fly", at=AT)


def test_a_regress_without_a_reason_is_rejected() -> None:
    deal, _ = fire(ticket(), Deal(id="d-1"), "submit", at=AT)
    with pytest.raises(TransitionNotAllowedError, match="a reason is required"):
        fire(ticket(), deal, "rework", at=AT, reason="  ")


def test_a_regress_with_a_reason_carries_it_in_the_event() -> None:
    deal, _ = fire(ticket(), Deal(id="d-1"), "submit", at=AT)
    _, event = fire(ticket(), deal, "rework", at=AT, reason="missing figures")
    assert event.reason == "missing figures"


def test_a_guard_that_does_not_hold_blocks_the_transition() -> None:
    with pytest.raises(TransitionNotAllowedError, match="guard reachable not met"):
        fire(LEAD_WORKFLOW, new_lead(reachable=False), "qualify", at=AT)


def test_allowed_leaves_out_transitions_whose_guards_do_not_hold() -> None:
    names = [t.name for t in allowed(LEAD_WORKFLOW, new_lead(reachable=False))]
    assert names == ["contact", "disqualify"]


def test_can_fire_answers_for_one_transition() -> None:
    assert can_fire(LEAD_WORKFLOW, new_lead(), "qualify")
    assert not can_fire(LEAD_WORKFLOW, new_lead(), "convert")


def test_a_guard_without_an_implementation_is_a_configuration_error() -> None:
    bare = loads(dumps(LEAD_WORKFLOW), Workflow[Lead, LeadStatus])
    with pytest.raises(ConfigurationError, match="guard 'reachable'"):
        fire(bare, new_lead(), "qualify", at=AT)


def test_guards_bound_after_loading_are_used() -> None:
    bound = loads(dumps(LEAD_WORKFLOW), Workflow[Lead, LeadStatus]).with_guards(
        reachable=lambda _lead: False
    )
    assert not can_fire(bound, new_lead(), "qualify")


def test_a_record_in_a_stage_the_workflow_does_not_know_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="not a state of workflow 'ticket'"):
        allowed(ticket(), Deal(id="d-1", stage="archived"))


def test_route_finds_the_shortest_way_between_stages() -> None:
    steps = route(OPPORTUNITY_WORKFLOW, OpportunityStage.LEAD, OpportunityStage.PROPOSAL)
    assert [t.name for t in steps] == ["contact", "analyse_needs", "propose"]


def test_advance_to_fires_every_step_with_its_own_event() -> None:
    opp, events = advance_to(
        OPPORTUNITY_WORKFLOW, new_opportunity(), OpportunityStage.NEGOTIATION, at=AT
    )
    assert opp.stage is OpportunityStage.NEGOTIATION
    assert [e.to_stage for e in events] == [
        "first_contact",
        "needs_analysis",
        "proposal",
        "negotiation",
    ]


def test_route_to_an_unreachable_stage_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="not reachable"):
        route(LEAD_WORKFLOW, LeadStatus.CONVERTED, LeadStatus.NEW)


# --------------------------------------------------------------------------- defaults


def test_disqualifying_a_lead_keeps_the_reason_and_recycling_clears_it() -> None:
    lead, _ = fire(LEAD_WORKFLOW, new_lead(), "disqualify", at=AT, reason="no budget")
    assert lead.disqualified_reason == "no budget"
    lead, _ = fire(LEAD_WORKFLOW, lead, "recycle", at=AT, reason="new budget year")
    assert (lead.status, lead.disqualified_reason) == (LeadStatus.NEW, "")


def test_losing_an_opportunity_needs_a_reason() -> None:
    with pytest.raises(TransitionNotAllowedError, match="a reason is required"):
        fire(OPPORTUNITY_WORKFLOW, new_opportunity(), "lose", at=AT)


def test_losing_an_opportunity_records_the_lost_reason_and_closes_it() -> None:
    opp, _ = fire(OPPORTUNITY_WORKFLOW, new_opportunity(), "lose", at=AT, reason="price")
    assert (opp.stage, opp.lost_reason, opp.closed_at) == (OpportunityStage.LOST, "price", AT)


def test_reopening_an_opportunity_clears_the_close() -> None:
    opp, _ = fire(OPPORTUNITY_WORKFLOW, new_opportunity(), "lose", at=AT, reason="price")
    opp, event = fire(OPPORTUNITY_WORKFLOW, opp, "reopen", at=AT, reason="budget approved")
    assert (opp.stage, opp.lost_reason, opp.closed_at) == (OpportunityStage.NEGOTIATION, "", None)
    assert event.reason == "budget approved"


def test_winning_needs_an_amount_above_zero() -> None:
    opp, _ = advance_to(OPPORTUNITY_WORKFLOW, new_opportunity(), OpportunityStage.PROPOSAL, at=AT)
    zero = attrs.evolve(opp, amount=Money("0", "CNY"))
    assert not can_fire(OPPORTUNITY_WORKFLOW, zero, "win")


def test_each_sales_stage_has_a_probability_and_forecast_category() -> None:
    opp, _ = advance_to(
        OPPORTUNITY_WORKFLOW, new_opportunity(), OpportunityStage.NEGOTIATION, at=AT
    )
    assert str(win_probability(opp)) == "0.80"
    assert forecast_category(opp) is ForecastCategory.COMMIT
    assert weighted_amount(opp) == Money("40000.00", "CNY")


def test_acknowledging_a_case_stamps_the_first_response_once() -> None:
    case, _ = fire(CASE_WORKFLOW, new_case(), "acknowledge", at=AT.add(hours=1))
    case, _ = fire(CASE_WORKFLOW, case, "start", at=AT.add(hours=2))
    assert case.first_response_at == AT.add(hours=1)


def test_waiting_on_the_customer_opens_and_resuming_ends_a_waiting_period() -> None:
    case, _ = fire(CASE_WORKFLOW, new_case(), "start", at=AT)
    case, _ = fire(CASE_WORKFLOW, case, "wait_on_customer", at=AT.add(hours=1))
    assert case.waiting[-1].end is None
    case, _ = fire(CASE_WORKFLOW, case, "resume", at=AT.add(hours=3))
    assert (case.waiting[0].start, case.waiting[0].end) == (AT.add(hours=1), AT.add(hours=3))


def test_resolving_and_reopening_a_case_sets_and_clears_resolved_at() -> None:
    case, _ = fire(CASE_WORKFLOW, new_case(), "start", at=AT)
    case, _ = fire(CASE_WORKFLOW, case, "resolve", at=AT.add(hours=2))
    assert case.resolved_at == AT.add(hours=2)
    case, _ = fire(CASE_WORKFLOW, case, "reopen", at=AT.add(hours=3), reason="still broken")
    assert (case.status, case.resolved_at) == (CaseStatus.IN_PROGRESS, None)


def test_escalating_a_case_raises_its_level_with_an_event() -> None:
    case, event = escalate(new_case(), at=AT, reason="VIP customer", by=BY)
    assert case.escalation_level == 1
    assert (event.workflow, event.from_stage, event.to_stage) == ("case-escalation", "0", "1")


def test_escalating_a_closed_case_is_rejected() -> None:
    case, _ = fire(CASE_WORKFLOW, new_case(), "withdraw", at=AT, reason="duplicate")
    with pytest.raises(TransitionNotAllowedError, match="the case is closed"):
        escalate(case, at=AT, reason="late")


def resolved_case() -> Case:
    case, _ = fire(CASE_WORKFLOW, new_case(), "start", at=AT)
    case, _ = fire(CASE_WORKFLOW, case, "resolve", at=AT.add(hours=1))
    return case


def test_satisfied_feedback_closes_a_resolved_case() -> None:
    answer, _ = record_survey_response(
        id=SurveyResponseId("s-1"),
        customer_id=CustomerId("c-1"),
        case_id=CaseId("k-1"),
        csat=5,
        at=AT.add(hours=2),
    )
    case, event = close_with_feedback(resolved_case(), answer, at=AT.add(hours=2))
    assert (case.status, event.reason) == (CaseStatus.CLOSED, "customer feedback (CSAT 5)")


def test_unhappy_feedback_reopens_a_resolved_case() -> None:
    answer, _ = record_survey_response(
        id=SurveyResponseId("s-1"),
        customer_id=CustomerId("c-1"),
        case_id=CaseId("k-1"),
        csat=2,
        at=AT.add(hours=2),
    )
    case, _ = close_with_feedback(resolved_case(), answer, at=AT.add(hours=2))
    assert case.status is CaseStatus.IN_PROGRESS


def test_feedback_about_another_case_is_rejected() -> None:
    answer, _ = record_survey_response(
        id=SurveyResponseId("s-1"), customer_id=CustomerId("c-1"), csat=5, at=AT
    )
    with pytest.raises(InvalidValueError, match="not about case"):
        close_with_feedback(resolved_case(), answer, at=AT.add(hours=2))


# --------------------------------------------------------------------------- diagrams and JSON


def test_the_mermaid_diagram_shows_states_moves_and_finals() -> None:
    assert to_mermaid(ticket()).splitlines() == [
        "stateDiagram-v2",
        "    [*] --> open",
        "    open --> review: submit",
        "    review --> done: finish",
        "    review --> open: rework ↩",
        "    done --> [*]",
    ]


def test_the_mermaid_diagram_uses_labels_and_safe_node_names() -> None:
    wf = ticket(
        states=(
            State(name="open", initial=True, label="待处理"),
            State(name="in review"),
            State(name="done", final=True),
        ),
        transitions=(
            Transition(name="submit", sources=("open",), target="in review"),
            Transition(name="finish", sources=("in review",), target="done"),
        ),
    )
    lines = to_mermaid(wf).splitlines()
    assert '    state "待处理" as open' in lines
    assert '    state "in review" as s_in_review' in lines


def test_a_workflow_is_written_without_its_functions() -> None:
    data = unstructure(LEAD_WORKFLOW)
    assert set(data) == {"name", "entity", "attribute", "policy", "states", "transitions"}
    assert data["states"][0] == {
        "name": "new",
        "label": "新线索",
        "initial": True,
        "final": False,
        "probability": None,
        "forecast": None,
    }


def test_a_typed_workflow_reads_back_with_enum_states() -> None:
    typed = loads(dumps(LEAD_WORKFLOW), Workflow[Lead, LeadStatus])
    assert typed.initial.name is LeadStatus.NEW


def test_a_bad_pipeline_is_reported_with_every_problem() -> None:
    data = unstructure(ticket())
    data["states"][0]["initial"] = False
    data["transitions"][0]["target"] = "nowhere"
    with pytest.raises(PayloadError) as caught:
        structure(data, Workflow)
    text = str(caught.value)
    assert "expected exactly one initial state, found none" in text
    assert "transition 'submit' leads to unknown state 'nowhere'" in text


def test_an_unknown_key_in_a_pipeline_is_reported_with_its_path() -> None:
    data = unstructure(ticket())
    data["transitions"][0]["colour"] = "red"
    with pytest.raises(PayloadError) as caught:
        structure(data, Workflow)
    assert caught.value.paths == ("$.transitions[0]",)


# --------------------------------------------------------------------------- effects


def test_an_effect_returns_the_fields_to_change_and_sees_the_record_as_it_was() -> None:
    seen: list[Any] = []

    def note(lead: Lead, firing: Any) -> dict[str, Any]:
        seen.append((lead.status, firing.source, firing.reason))
        return {"disqualified_reason": firing.reason.upper()}

    workflow = LEAD_WORKFLOW.with_effects(record_disqualified_reason=note)
    lead, _ = fire(workflow, new_lead(), "disqualify", at=AT, reason="no budget")
    assert lead.disqualified_reason == "NO BUDGET"
    assert seen == [(LeadStatus.NEW, LeadStatus.NEW, "no budget")]


def test_an_effect_changing_an_unknown_field_is_a_configuration_error() -> None:
    workflow = LEAD_WORKFLOW.with_effects(record_disqualified_reason=lambda _l, _f: {"colour": 1})
    with pytest.raises(ConfigurationError, match="'colour', which is not a field of Lead"):
        fire(workflow, new_lead(), "disqualify", at=AT, reason="no budget")


def test_an_effect_value_goes_through_the_field_converter() -> None:
    workflow = OPPORTUNITY_WORKFLOW.with_effects(
        close=lambda _o, f: {"closed_at": f.at.in_timezone("Asia/Shanghai")}
    )
    opp, _ = fire(workflow, new_opportunity(), "lose", at=AT, reason="price")
    assert opp.closed_at == AT
    assert opp.closed_at is not None
    assert opp.closed_at.timezone_name == "UTC"


def test_an_effect_value_the_field_validator_refuses_is_rejected() -> None:
    lead = new_lead()
    workflow = LEAD_WORKFLOW.with_effects(
        record_disqualified_reason=lambda old, _f: {"updated_at": old.created_at.subtract(days=1)}
    )
    with pytest.raises(InvalidValueError, match="updated_at"):
        fire(workflow, lead, "disqualify", at=AT, reason="no budget")


def test_event_ids_are_distinct_32_digit_hex() -> None:
    lead = new_lead()
    ids = set()
    for _ in range(5_000):
        _, event = fire(LEAD_WORKFLOW, lead, "contact", at=AT)
        assert len(event.id) == 32
        int(event.id, 16)
        ids.add(event.id)
    assert len(ids) == 5_000


def test_a_weighted_amount_with_many_decimal_places_is_rounded_not_refused() -> None:
    opp, _ = advance_to(
        OPPORTUNITY_WORKFLOW, new_opportunity(), OpportunityStage.NEGOTIATION, at=AT
    )
    precise = attrs.evolve(opp, amount=Money("1234.567891", "CNY"))  # × 0.80: 7 places
    assert weighted_amount(precise) == Money("987.65", "CNY")
