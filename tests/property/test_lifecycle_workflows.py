"""Stateful tests of the default workflows: random sequences of moves, checked at every step.

For each workflow: ``fire`` raises exactly when ``allowed`` says no (or a
required reason is missing), nothing leaves a final state, and replaying the
history of events gives the current stage.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pendulum
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from crmcore.domain import (
    CaseId,
    CaseKind,
    CaseStatus,
    CustomerId,
    EmailAddress,
    LeadId,
    Money,
    OpportunityId,
    Organization,
    PersonName,
    StageChanged,
    UserId,
    capture_lead,
    open_case,
    open_opportunity,
    register_customer,
)
from crmcore.errors import TransitionNotAllowedError
from crmcore.lifecycle import (
    CASE_WORKFLOW,
    CUSTOMER_WORKFLOW,
    LEAD_WORKFLOW,
    OPPORTUNITY_WORKFLOW,
    Workflow,
    allowed,
    current_stage,
    fire,
    history,
    replay,
)

T0 = pendulum.datetime(2026, 1, 5, 9, tz="Asia/Shanghai")
BY = UserId("u-1")


class WorkflowMachine(RuleBasedStateMachine):
    """Fire random transitions (including ones that are not allowed) on one record."""

    workflow: ClassVar[Workflow[Any, Any]]

    def __init__(self) -> None:
        super().__init__()
        self.entity: Any = None
        self.events: list[StageChanged] = []
        self.at = T0
        self.final_stage: str | None = None

    def start(self, variant: bool) -> Any:
        raise NotImplementedError

    @initialize(variant=st.booleans())
    def open_record(self, variant: bool) -> None:
        self.entity = self.start(variant)

    @rule(
        data=st.data(),
        reason=st.sampled_from(["", "  ", "customer asked"]),
        minutes=st.integers(0, 3000),
    )
    def fire_a_transition(self, data: st.DataObject, reason: str, minutes: int) -> None:
        names = sorted({t.name for t in self.workflow.transitions} | {"no_such_move"})
        name = data.draw(st.sampled_from(names))
        self.at = self.at.add(minutes=minutes)
        offered = {t.name: t for t in allowed(self.workflow, self.entity)}
        before = str(current_stage(self.workflow, self.entity))
        move = offered.get(name)
        if move is None or (move.needs_reason and not reason.strip()):
            with pytest.raises(TransitionNotAllowedError) as refused:
                fire(self.workflow, self.entity, name, at=self.at, by=BY, reason=reason)
            assert refused.value.state == before
            assert refused.value.allowed == tuple(sorted(offered))
            return
        new, event = fire(self.workflow, self.entity, name, at=self.at, by=BY, reason=reason)
        assert name in offered
        assert self.final_stage is None
        assert event.from_stage == before
        assert event.to_stage == str(offered[name].target)
        assert str(current_stage(self.workflow, new)) == event.to_stage
        self.entity = new
        self.events.append(event)
        if self.workflow.state(event.to_stage).final:
            self.final_stage = event.to_stage

    @invariant()
    def history_replays_to_the_current_stage(self) -> None:
        if self.entity is None:
            return
        stage = str(current_stage(self.workflow, self.entity))
        assert str(replay(self.workflow, self.events)) == stage
        assert history(self.events).current in (None, stage)

    @invariant()
    def nothing_leaves_a_final_state(self) -> None:
        if self.final_stage is not None:
            assert str(current_stage(self.workflow, self.entity)) == self.final_stage
            assert allowed(self.workflow, self.entity) == ()


class LeadMachine(WorkflowMachine):
    workflow = LEAD_WORKFLOW

    def start(self, variant: bool) -> Any:
        emails = [EmailAddress("lead@example.com")] if variant else []
        lead, _ = capture_lead(
            id=LeadId("l-1"), name=PersonName.parse("张伟"), emails=emails, at=T0
        )
        return lead


class OpportunityMachine(WorkflowMachine):
    workflow = OPPORTUNITY_WORKFLOW

    def start(self, variant: bool) -> Any:
        opp, _ = open_opportunity(
            id=OpportunityId("o-1"),
            customer_id=CustomerId("c-1"),
            title="ERP rollout",
            amount=Money("120000.00" if variant else "0", "CNY"),
            at=T0,
        )
        return opp

    @invariant()
    def closed_at_is_set_exactly_when_won_or_lost(self) -> None:
        if self.entity is not None and self.entity.stage in ("won", "lost"):
            assert self.entity.closed_at is not None
        elif self.entity is not None and self.entity.stage != "after_sales":
            assert self.entity.closed_at is None


class CaseMachine(WorkflowMachine):
    workflow = CASE_WORKFLOW

    def start(self, variant: bool) -> Any:
        case, _ = open_case(
            id=CaseId("k-1"),
            customer_id=CustomerId("c-1"),
            kind=CaseKind.COMPLAINT if variant else CaseKind.INQUIRY,
            subject="设备故障",
            at=T0,
        )
        return case

    @invariant()
    def the_case_is_waiting_exactly_when_a_waiting_period_is_open(self) -> None:
        if self.entity is None:
            return
        open_wait = bool(self.entity.waiting) and self.entity.waiting[-1].end is None
        assert open_wait == (self.entity.status is CaseStatus.WAITING_ON_CUSTOMER)

    @invariant()
    def a_case_past_received_has_a_first_response(self) -> None:
        if self.entity is not None and self.entity.status not in (
            CaseStatus.RECEIVED,
            CaseStatus.CLOSED,
        ):
            assert self.entity.first_response_at is not None


class CustomerMachine(WorkflowMachine):
    workflow = CUSTOMER_WORKFLOW

    def start(self, variant: bool) -> Any:
        customer, _ = register_customer(
            id=CustomerId("c-1"),
            organization=Organization(legal_name="腾达科技" if variant else "Acme Inc."),
            at=T0,
        )
        return customer


_SETTINGS = settings(stateful_step_count=15)

TestLeadWorkflow = LeadMachine.TestCase
TestLeadWorkflow.settings = _SETTINGS
TestOpportunityWorkflow = OpportunityMachine.TestCase
TestOpportunityWorkflow.settings = _SETTINGS
TestCaseWorkflow = CaseMachine.TestCase
TestCaseWorkflow.settings = _SETTINGS
TestCustomerWorkflow = CustomerMachine.TestCase
TestCustomerWorkflow.settings = _SETTINGS
