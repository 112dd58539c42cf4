from __future__ import annotations

import attrs
import pytest

from crmcore import domain
from crmcore.domain import Classification, classification_of, classifications
from crmcore.errors import ConfigurationError

ENTITIES = [
    domain.Customer,
    domain.Person,
    domain.Organization,
    domain.Contact,
    domain.EmailContact,
    domain.PhoneContact,
    domain.AddressContact,
    domain.Lead,
    domain.Opportunity,
    domain.Activity,
    domain.Case,
    domain.SurveyResponse,
    domain.Order,
    domain.Consent,
]


@pytest.mark.parametrize("cls", ENTITIES, ids=lambda c: c.__name__)
def test_every_built_in_field_carries_a_classification(cls: type) -> None:
    assert set(classifications(cls)) == {f.name for f in attrs.fields(cls)}


def test_identity_numbers_and_birth_dates_are_sensitive() -> None:
    assert classification_of(domain.Person, "national_id") is Classification.SENSITIVE
    assert classification_of(domain.Person, "birth_date") is Classification.SENSITIVE


def test_asking_for_an_unknown_field_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no field"):
        classification_of(domain.Person, "shoe_size")
