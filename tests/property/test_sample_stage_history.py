"""The sample CRM's deal history is a legal walk through the opportunity workflow.

Every deal's ``StageChanged`` events (what the demo records, and what funnels and time
in stage are computed from) start in the first stage, fire only transitions the
workflow has from the stage the deal is in, end in the deal's stored stage and lie,
in order, between the deal's creation and its last update.
"""

from __future__ import annotations

from collections import defaultdict

import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.domain import CustomerId, OpportunityStage, Person, PersonName, register_customer
from crmcore.domain.events import StageChanged
from crmcore.lifecycle.opportunity import OPPORTUNITY_WORKFLOW
from crmcore.sample.crm import generate_crm

AT = pendulum.datetime(2026, 6, 1, tz="Asia/Shanghai")
PEOPLE = [
    register_customer(
        id=CustomerId(f"c{n}"),
        at=AT.subtract(years=2),
        person=Person(name=PersonName.parse("王芳")),
    )[0]
    for n in range(120)
]
MOVES = {
    (t.name, str(source)): str(t.target)
    for t in OPPORTUNITY_WORKFLOW.transitions
    for source in t.sources
}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_every_deal_walks_the_workflow_to_its_stage(seed: int) -> None:
    crm = generate_crm(PEOPLE, at=AT, seed=seed)
    by_deal: dict[str, list[StageChanged]] = defaultdict(list)
    for event in crm.stage_changes:
        by_deal[event.entity_id].append(event)
    for deal in crm.opportunities:
        events = by_deal.pop(str(deal.id), [])
        stage = str(OpportunityStage.LEAD)
        last = deal.created_at
        for event in events:
            assert (event.entity, event.workflow) == ("opportunity", "opportunity")
            assert event.from_stage == stage
            assert MOVES.get((event.transition, stage)) == event.to_stage
            assert last <= event.at <= deal.updated_at
            stage, last = event.to_stage, event.at
        assert stage == str(deal.stage)
    assert by_deal == {}  # no history for a deal that does not exist
    assert len({e.id for e in crm.stage_changes}) == len(crm.stage_changes)


def test_the_history_is_deterministic() -> None:
    crm = generate_crm(PEOPLE, at=AT, seed=7)
    assert crm.stage_changes  # deals moved
    assert generate_crm(PEOPLE, at=AT, seed=7) == crm
