"""Properties of the engine: the fast snapshot copy and the JSON round trip."""

from __future__ import annotations

import itertools
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.domain import Case, Customer, Lead, Opportunity, UserId
from crmcore.domain.events import StageChanged
from crmcore.lifecycle import (
    CASE_WORKFLOW,
    CUSTOMER_WORKFLOW,
    LEAD_WORKFLOW,
    OPPORTUNITY_WORKFLOW,
    Policy,
    State,
    Transition,
    Workflow,
    allowed,
    fire,
)
from crmcore.lifecycle.workflow import Firing
from crmcore.serialization import dumps, loads
from crmcore.testing import strategies as cst


def _check_fire_equals_evolve(workflow: Workflow[Any, Any], entity: Any) -> None:
    """Every allowed move, effects included, gives what attrs.evolve (all validators) gives."""
    for move in allowed(workflow, entity):
        later = entity.updated_at.add(seconds=1)
        new, event = fire(workflow, entity, move.name, at=later, by=UserId("u-1"), reason="because")
        firing = Firing(
            transition=move,
            source=getattr(entity, workflow.attribute),
            at=later,
            by=UserId("u-1"),
            reason="because",
        )
        changes: dict[str, Any] = {workflow.attribute: move.target, "updated_at": later}
        for name in move.effects:
            changes.update(workflow.effect_functions[name](entity, firing))
        expected = attrs.evolve(entity, **changes)
        assert new == expected
        assert type(new) is type(expected)
        # The event built without attrs' __init__ equals the one attrs would build.
        assert event == StageChanged(
            id=event.id,
            entity=workflow.entity,
            entity_id=entity.id,
            workflow=workflow.name,
            transition=move.name,
            from_stage=str(getattr(entity, workflow.attribute)),
            to_stage=str(move.target),
            reason="because",
            at=later,
            by=UserId("u-1"),
        )
        assert len(event.id) == 32
        assert int(event.id, 16) >= 0
        assert type(event) is StageChanged
        for value in (event.entity_id, event.transition, event.from_stage, event.to_stage):
            assert type(value) is str


# The record strategies are costly and the code path is the same for every record: fewer examples.
_RECORDS = settings(max_examples=40)


@_RECORDS
@given(cst.leads())
def test_firing_on_a_lead_gives_the_snapshot_evolve_would(lead: Lead) -> None:
    _check_fire_equals_evolve(LEAD_WORKFLOW, lead)


@given(cst.opportunities())
def test_firing_on_an_opportunity_gives_the_snapshot_evolve_would(opp: Opportunity) -> None:
    _check_fire_equals_evolve(OPPORTUNITY_WORKFLOW, opp)


@given(cst.cases())
def test_firing_on_a_case_gives_the_snapshot_evolve_would(case: Case) -> None:
    _check_fire_equals_evolve(CASE_WORKFLOW, case)


@_RECORDS
@given(cst.customers())
def test_firing_on_a_customer_gives_the_snapshot_evolve_would(customer: Customer) -> None:
    _check_fire_equals_evolve(CUSTOMER_WORKFLOW, customer)


NAMES = st.text("abcdefghij_", min_size=1, max_size=6)


@st.composite
def pipelines(draw: st.DrawFn) -> Workflow[Any, str]:
    """Valid string pipelines: a chain of stages with extra forward moves and a final stage."""
    stages = draw(st.lists(NAMES, min_size=2, max_size=7, unique=True))
    states = tuple(
        State(
            name=name,
            label=draw(st.sampled_from(["", "阶段"])),
            initial=i == 0,
            final=i == len(stages) - 1,
        )
        for i, name in enumerate(stages)
    )
    transitions = [
        Transition(name=f"to_{b}", sources=(a,), target=b) for a, b in itertools.pairwise(stages)
    ]
    if len(stages) > 2 and draw(st.booleans()):
        transitions.append(
            Transition(
                name="back", sources=(stages[1],), target=stages[0], regress=True, label="退回"
            )
        )
    return Workflow(
        name=draw(NAMES),
        entity="deal",
        attribute="stage",
        policy=draw(st.sampled_from(list(Policy))),
        states=states,
        transitions=tuple(transitions),
    )


@given(pipelines())
def test_a_pipeline_round_trips_through_json(workflow: Workflow[Any, str]) -> None:
    assert loads(dumps(workflow), Workflow) == workflow


@given(st.sampled_from([LEAD_WORKFLOW, OPPORTUNITY_WORKFLOW, CASE_WORKFLOW, CUSTOMER_WORKFLOW]))
def test_a_default_workflow_round_trips_through_json(workflow: Workflow[Any, Any]) -> None:
    assert loads(dumps(workflow), Workflow) == workflow
