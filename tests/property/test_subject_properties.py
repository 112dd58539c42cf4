"""Pseudonymisation: idempotent, keeps ids and aggregates, leaves no contact detail behind."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.domain import ContactPoints, Customer, CustomerId
from crmcore.errors import InvalidValueError
from crmcore.ports import event_aggregate
from crmcore.privacy.subject import (
    ERASURE_STEPS,
    ErasureRequest,
    erase_activity,
    erase_case,
    erase_consent,
    erase_customer,
    erase_event,
    erase_lead,
    erase_merge,
    erase_opportunity,
    erase_survey_response,
    json_value,
)
from crmcore.testing import strategies as cst

LATER = pendulum.datetime(2100, 1, 1)
ERASERS: list[tuple[st.SearchStrategy[Any], Any]] = [
    (cst.customers(), erase_customer),
    (cst.leads(), erase_lead),
    (cst.opportunities(), erase_opportunity),
    (cst.activities(), erase_activity),
    (cst.cases(), erase_case),
    (cst.survey_responses(), erase_survey_response),
    (cst.consents(), erase_consent),
    (cst.merge_records(), erase_merge),
]
KEPT = (
    "id",
    "version",
    "created_at",
    "customer_id",
    "amount",
    "status",
    "stage",
    "tier",
    "csat",
    "nps",
    "ces",
    "owner",
    "kind",
    "survivor_id",
    "merged_ids",
)


def _details(points: ContactPoints) -> list[str]:
    found = [e.address.address for e in points.emails]
    found += [p.number.e164 for p in points.phones]
    return found


def _contact_details(record: Any) -> list[str]:
    customers: list[Customer] = []
    if isinstance(record, Customer):
        customers = [record]
    elif hasattr(record, "originals"):
        customers = [*record.originals, record.result]
    found: list[str] = []
    for c in customers:
        found += _details(c.points)
        for contact in c.contacts:
            found += _details(contact.points)
        if c.person is not None and len(c.person.national_id) >= 4:
            found.append(c.person.national_id)
    if hasattr(record, "points") and not isinstance(record, Customer):
        found += _details(record.points)
    return found


@settings(max_examples=min(settings().max_examples, 40))
@given(data=st.data(), which=st.integers(0, len(ERASERS) - 1))
def test_erasure_is_idempotent_keeps_what_kpis_read_and_drops_contact_details(
    data: st.DataObject, which: int
) -> None:
    strategy, erase = ERASERS[which]
    record = data.draw(strategy)
    erased = erase(record, at=LATER)
    assert erase(erased, at=LATER) == erased
    for name in KEPT:
        if hasattr(record, name):
            assert getattr(erased, name) == getattr(record, name), name
    text = repr(json_value(erased))
    assert [d for d in _contact_details(record) if d in text] == []


@given(cst.events())
def test_erased_events_keep_their_id_time_and_record(event: Any) -> None:
    erased = erase_event(event)
    assert (erased.id, erased.at, type(erased)) == (event.id, event.at, type(event))
    assert event_aggregate(erased) == event_aggregate(event)
    assert erase_event(erased) == erased


@given(st.integers(0, 13))
def test_a_request_finishes_its_steps_in_order_only(done: int) -> None:
    at = pendulum.datetime(2026, 3, 1)
    request = ErasureRequest(
        id="er-1", subject=CustomerId("c-1"), customers=("c-1",), requested_at=at, created_at=at
    )
    for step in ERASURE_STEPS[:done]:
        request = request.finish(step, 1, at=at)
    assert request.done == (done == len(ERASURE_STEPS))
    assert (request.completed_at is not None) == request.done
    if not request.done:
        wrong = [s for s in ERASURE_STEPS if s != request.next_step]
        with pytest.raises(InvalidValueError, match="next step"):
            request.finish(wrong[0], 0, at=at)
