"""The table of mergeable fields: every path read, written, judged and combined in one place."""

from __future__ import annotations

from typing import Any

import attrs
import pendulum
import pytest

from crmcore.domain import (
    ContactPoints,
    CountryCode,
    Customer,
    CustomerId,
    CustomerKind,
    CustomFields,
    EmailAddress,
    EmailContact,
    ExternalId,
    Organization,
    Person,
    PersonName,
    Tag,
    Tier,
    UserId,
)
from crmcore.errors import ConfigurationError
from crmcore.merge import SurvivorshipRule
from crmcore.merge.fields import (
    ABSENT,
    COMMON_FIELDS,
    ORGANIZATION_FIELDS,
    PERSON_FIELDS,
    MergeFieldKind,
    field_paths,
    merge_field,
    value_of,
    with_values,
)

T0 = pendulum.datetime(2026, 1, 1)


def person(id: str = "c-1", **kw: Any) -> Customer:
    kw.setdefault("person", Person(name=PersonName.parse("张伟")))
    return Customer(id=CustomerId(id), kind=CustomerKind.PERSON, created_at=T0, updated_at=T0, **kw)


def test_every_row_of_the_table_is_filed_under_its_own_path() -> None:
    rows = {**PERSON_FIELDS, **ORGANIZATION_FIELDS, **COMMON_FIELDS}
    assert [path for path, row in rows.items() if row.path != path] == []


def test_the_profile_rows_are_the_fields_of_person_and_organization() -> None:
    assert (list(PERSON_FIELDS), list(ORGANIZATION_FIELDS)) == (
        [f"person.{f.name}" for f in attrs.fields(Person)],
        [f"organization.{f.name}" for f in attrs.fields(Organization)],
    )


def test_each_common_path_has_the_kind_that_decides_its_rules() -> None:
    assert {path: row.kind.value for path, row in COMMON_FIELDS.items()} == {
        "country": "scalar",
        "tier": "scalar",
        "priority": "scalar",
        "credit_rating": "scalar",
        "source": "scalar",
        "owner": "scalar",
        "lifecycle_stage": "scalar",
        "points.emails": "points",
        "points.phones": "points",
        "points.addresses": "points",
        "tags": "set",
        "external_ids": "keyed",
        "contacts": "keyed",
    }


def rebuilt(customer: Customer, path: str) -> object:
    """The value at ``path`` taken apart into items and put back together."""
    row = merge_field(path)
    return row.container(row.items(row.get(customer)).values())


def test_collections_are_rebuilt_in_the_container_the_customer_holds() -> None:
    customer = person(
        points=ContactPoints(emails=[EmailContact(address=EmailAddress("a@example.com"))]),
        tags=[Tag("vip")],
        external_ids=[ExternalId("erp", "E-1")],
    )
    paths = ("points.emails", "tags", "external_ids", "contacts")
    assert [rebuilt(customer, p) for p in paths] == [value_of(customer, p) for p in paths]


def test_custom_fields_and_preferences_have_rows_made_on_demand() -> None:
    row = merge_field("preferences.language")
    assert (row.kind, row.default, row.get(person())) == (MergeFieldKind.CUSTOM, None, ABSENT)


def test_an_unknown_path_has_no_row() -> None:
    with pytest.raises(ConfigurationError, match="unknown merge field 'nickname'"):
        merge_field("nickname")


def test_only_ranked_fields_accept_highest() -> None:
    assert sorted(
        path for path, row in COMMON_FIELDS.items() if SurvivorshipRule.HIGHEST in row.allowed
    ) == ["credit_rating", "priority", "tier"]


def test_tier_and_owner_are_read_and_written_as_pairs() -> None:
    customer = person(tier=Tier.VIP, tier_reason="spend", owner=UserId("u-li"))
    changed = with_values(
        customer, {"tier": (Tier.ORDINARY, "reset"), "owner": (UserId("u-bo"), None)}
    )
    assert (value_of(customer, "tier"), value_of(changed, "tier"), value_of(changed, "owner")) == (
        (Tier.VIP, "spend"),
        (Tier.ORDINARY, "reset"),
        ("u-bo", None),
    )


def test_writing_values_changes_only_the_paths_given() -> None:
    customer = person(
        country=CountryCode("CN"),
        points=ContactPoints(emails=[EmailContact(address=EmailAddress("a@example.com"))]),
        custom=CustomFields({"visits": 3, "segment": "a"}),
    )
    changed = with_values(
        customer,
        {"person.occupation": "engineer", "custom.visits": 7, "custom.segment": ABSENT},
    )
    assert changed == attrs.evolve(
        customer,
        person=Person(name=PersonName.parse("张伟"), occupation="engineer"),
        custom=CustomFields({"visits": 7}),
    )


def test_a_person_path_on_an_organization_is_empty_and_left_alone() -> None:
    acme = Customer(
        id=CustomerId("c-9"),
        kind=CustomerKind.ORGANIZATION,
        organization=Organization(legal_name="Acme 有限公司"),
        created_at=T0,
        updated_at=T0,
    )
    row = merge_field("person.occupation")
    assert (row.is_empty(row.get(acme)), with_values(acme, {"person.occupation": "x"})) == (
        True,
        acme,
    )


def test_a_merge_decides_the_profile_of_its_kind_then_common_then_custom_paths() -> None:
    customer = person(custom=CustomFields({"visits": 1}))
    assert field_paths([customer]) == (
        *PERSON_FIELDS,
        *COMMON_FIELDS,
        "custom.visits",
    )
