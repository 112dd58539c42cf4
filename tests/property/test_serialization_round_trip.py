"""Every public type survives JSON: unstructure → json text → structure gives it back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import domain
from crmcore.serialization import dumps, loads, loads_event, structure, unstructure
from crmcore.testing import strategies as cst

CASES: list[tuple[Any, Any]] = [
    (cst.customers(), domain.Customer),
    (cst.leads(), domain.Lead),
    (cst.opportunities(), domain.Opportunity),
    (cst.activities(), domain.Activity),
    (cst.cases(), domain.Case),
    (cst.survey_responses(), domain.SurveyResponse),
    (cst.orders(), domain.Order),
    (cst.consents(), domain.Consent),
    (cst.events(), domain.DomainEvent),
    (cst.money(), domain.Money),
    (cst.phone_numbers(), domain.PhoneNumber),
    (cst.email_addresses(), domain.EmailAddress),
    (cst.person_names(), domain.PersonName),
    (cst.postal_addresses(), domain.PostalAddress),
    (cst.contact_points(), domain.ContactPoints),
    (cst.persons(), domain.Person),
    (cst.organizations(), domain.Organization),
    (cst.custom_fields(), domain.CustomFields),
    (cst.field_defs(), domain.FieldDef),
    (cst.tags(), domain.Tag),
    (cst.country_codes(), domain.CountryCode),
]


@pytest.mark.parametrize(
    ("strategy", "cls"), CASES, ids=[getattr(c, "__name__", "DomainEvent") for _, c in CASES]
)
def test_every_public_type_round_trips_through_json(
    strategy: st.SearchStrategy[Any], cls: Any
) -> None:
    @given(strategy)
    def round_trip(value: Any) -> None:
        text = json.dumps(unstructure(value))
        assert structure(json.loads(text), cls) == value

    round_trip()


@given(cst.events())
def test_events_carry_their_type_tag_whether_written_as_union_or_alone(
    event: domain.DomainEvent,
) -> None:
    assert unstructure(event)["type"] == type(event).__name__
    assert loads_event(dumps(event)) == event
    assert loads(dumps(event), type(event)) == event


@given(cst.customers())
def test_serialised_customers_are_deterministic(customer: domain.Customer) -> None:
    assert dumps(customer) == dumps(structure(unstructure(customer), domain.Customer))
