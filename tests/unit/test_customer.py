from __future__ import annotations

import pendulum
import pytest

from crmcore import InvalidValueError, PayloadError
from crmcore.domain import (
    UNSET,
    ContactKind,
    CountryCode,
    CustomerId,
    CustomFieldSchema,
    EmailAddress,
    FieldDef,
    FieldType,
    Organization,
    Person,
    PersonName,
    PhoneNumber,
    Priority,
    Tier,
    UserId,
    add_email,
    add_phone,
    assign_owner,
    classify,
    register_customer,
    set_custom_fields,
    tag,
    untag,
    update_customer,
)
from crmcore.domain.customer import Customer

AT = pendulum.datetime(2026, 3, 1, 9)
LATER = AT.add(hours=1)


def a_customer() -> Customer:
    customer, _ = register_customer(
        id=CustomerId("c-1"),
        person=Person(name=PersonName.parse("李娜")),
        emails=[EmailAddress("li.na@example.com")],
        phones=[PhoneNumber.parse("13800138000", region="CN")],
        at=AT,
        by=UserId("u-1"),
    )
    return customer


def test_registering_a_person_marks_first_contact_points_primary() -> None:
    customer = a_customer()
    assert (str(customer.points.primary_email), str(customer.points.primary_phone)) == (
        "li.na@example.com",
        "+8613800138000",
    )


def test_registering_emits_an_event_naming_the_customer() -> None:
    _, event = register_customer(
        id=CustomerId("c-9"), organization=Organization(legal_name="腾达科技有限公司"), at=AT
    )
    assert (event.customer_id, event.kind, event.display_name) == (
        "c-9",
        "organization",
        "腾达科技有限公司",
    )


def test_registering_needs_exactly_one_party() -> None:
    with pytest.raises(InvalidValueError, match="exactly one"):
        register_customer(id=CustomerId("c-2"), at=AT)


def test_a_person_customer_cannot_carry_an_organization() -> None:
    customer = a_customer()
    with pytest.raises(InvalidValueError, match="person customer"):
        update_customer(customer, organization=Organization(legal_name="Acme"), at=LATER)


def test_naive_timestamps_are_rejected() -> None:
    naive = pendulum.naive(2026, 3, 1)
    with pytest.raises(InvalidValueError, match="naive"):
        register_customer(
            id=CustomerId("c-3"), person=Person(name=PersonName.parse("王芳")), at=naive
        )


def test_adding_a_primary_email_demotes_the_previous_primary() -> None:
    customer, _ = add_email(a_customer(), EmailAddress("lina@work.cn"), primary=True, at=LATER)
    assert [(str(e.address), e.primary) for e in customer.points.emails] == [
        ("li.na@example.com", False),
        ("lina@work.cn", True),
    ]


def test_adding_a_known_phone_again_only_changes_its_kind() -> None:
    phone = PhoneNumber.parse("13800138000", region="CN")
    customer, _ = add_phone(a_customer(), phone, kind=ContactKind.WORK, at=LATER)
    assert [(p.kind, p.primary) for p in customer.points.phones] == [(ContactKind.WORK, True)]


def test_tagging_twice_reports_only_new_tags() -> None:
    customer, _ = tag(a_customer(), "VIP", at=LATER)
    customer, event = tag(customer, "vip", "高价值", at=LATER)
    assert event.added == ("高价值",)
    assert {str(t) for t in customer.tags} == {"vip", "高价值"}


def test_untagging_removes_present_tags_only() -> None:
    customer, _ = tag(a_customer(), "vip", at=LATER)
    customer, event = untag(customer, "vip", "absent", at=LATER)
    assert (event.removed, customer.tags) == (("vip",), frozenset())


def test_classifying_keeps_the_reason_and_previous_tier() -> None:
    customer, event = classify(a_customer(), tier=Tier.VIP, reason="spend > 1M", at=LATER)
    assert (customer.tier, customer.tier_reason, event.previous_tier) == (
        Tier.VIP,
        "spend > 1M",
        "potential",
    )


def test_classifying_without_a_reason_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="reason"):
        classify(a_customer(), priority=Priority.HIGH, reason=" ", at=LATER)


def test_assigning_an_owner_keeps_the_team_unless_given() -> None:
    customer, _ = assign_owner(a_customer(), UserId("u-2"), team=None, at=LATER)
    customer, event = assign_owner(customer, UserId("u-3"), at=LATER)
    assert (customer.owner, customer.team, event.previous_owner) == ("u-3", None, "u-2")


def test_operations_cannot_go_back_in_time() -> None:
    customer, _ = tag(a_customer(), "vip", at=LATER)
    with pytest.raises(InvalidValueError, match="before the last update"):
        tag(customer, "b2b", at=AT)


def test_update_names_only_fields_that_changed() -> None:
    customer = a_customer()
    _, event = update_customer(
        customer, country=CountryCode("CN"), person=customer.person or UNSET, at=LATER
    )
    assert event.fields == ("country",)


def test_custom_fields_are_patched_and_validated_against_the_schema() -> None:
    schema = CustomFieldSchema((FieldDef(name="budget", type=FieldType.DECIMAL, required=True),))
    customer, event = set_custom_fields(a_customer(), {"budget": "1200.50"}, schema, at=LATER)
    assert (customer.custom["budget"], event.fields) == ("1200.5", ("custom.budget",))


def test_custom_fields_report_every_problem_with_its_path() -> None:
    schema = CustomFieldSchema(
        (
            FieldDef(name="budget", type=FieldType.DECIMAL, required=True),
            FieldDef(name="since", type=FieldType.DATE),
        )
    )
    with pytest.raises(PayloadError) as info:
        set_custom_fields(a_customer(), {"since": "2026-02-30", "x": 1}, schema, at=LATER)
    assert info.value.paths == ("$.custom.budget", "$.custom.since", "$.custom.x")
