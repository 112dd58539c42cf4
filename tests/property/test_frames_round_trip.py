"""Frames round-trip every aggregate exactly and keep their declared schema."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from crmcore.adapters.frames.records import (
    EVENT_SCHEMA,
    events_frame,
    from_frame,
    schema_of,
    to_frame,
)
from crmcore.domain import (
    Activity,
    Case,
    Consent,
    Customer,
    DomainEvent,
    Lead,
    Opportunity,
    Order,
    SurveyResponse,
)
from crmcore.ports import event_aggregate
from crmcore.serialization import loads_event
from crmcore.testing import strategies as cst

AGGREGATES: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (Customer, cst.customers()),
    (Lead, cst.leads()),
    (Opportunity, cst.opportunities()),
    (Activity, cst.activities()),
    (Case, cst.cases()),
    (Order, cst.orders()),
    (SurveyResponse, cst.survey_responses()),
    (Consent, cst.consents()),
]


@given(data=st.data())
def test_from_frame_of_to_frame_gives_back_the_records_of_every_aggregate(
    data: st.DataObject,
) -> None:
    record_type, strategy = data.draw(st.sampled_from(AGGREGATES), label="aggregate")
    records = data.draw(st.lists(strategy, max_size=2), label="records")
    frame = to_frame(records, record_type=record_type)
    assert frame.schema == {**schema_of(record_type), "document": frame.schema["document"]}
    assert frame.height == len(records)
    assert from_frame(frame, record_type) == records


@given(events=st.lists(cst.events(), max_size=3))
def test_the_events_frame_has_one_row_per_event_and_its_payload_reads_back(
    events: list[DomainEvent],
) -> None:
    frame = events_frame(events)
    assert frame.schema == dict(EVENT_SCHEMA)
    assert [loads_event(p) for p in frame["payload"]] == events
    assert list(zip(frame["aggregate"], frame["aggregate_id"], strict=True)) == [
        event_aggregate(e) for e in events
    ]
