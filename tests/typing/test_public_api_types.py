"""The public API's static types, checked by mypy (and run by pytest as a smoke test)."""

from __future__ import annotations

from typing import assert_type

import pendulum

import crmcore
from crmcore.domain import (
    Customer,
    CustomerId,
    CustomerRegistered,
    CustomerTagged,
    DomainEvent,
    Money,
    Person,
    PersonName,
    register_customer,
    tag,
)
from crmcore.serialization import structure, unstructure


def test_parsers_return_their_own_types() -> None:
    assert_type(crmcore.PhoneNumber.parse("+8613800138000"), crmcore.PhoneNumber)
    assert_type(crmcore.EmailAddress.parse("a@example.com"), crmcore.EmailAddress)
    assert_type(PersonName.parse("张伟"), PersonName)


def test_operations_return_the_snapshot_and_a_precise_event() -> None:
    at = pendulum.datetime(2026, 1, 1)
    customer, event = register_customer(
        id=CustomerId("c"), person=Person(name=PersonName.parse("张伟")), at=at
    )
    assert_type(customer, Customer)
    assert_type(event, CustomerRegistered)
    tagged = tag(customer, "vip", at=at)
    assert_type(tagged, tuple[Customer, CustomerTagged])


def test_structure_returns_the_requested_type() -> None:
    money = structure(unstructure(Money("1", "CNY")), Money)
    assert_type(money, Money)


def test_money_arithmetic_stays_money() -> None:
    assert_type(Money("1", "CNY") + Money("2", "CNY"), Money)
    assert_type(Money("1", "CNY") * 3, Money)


def test_events_are_one_union() -> None:
    at = pendulum.datetime(2026, 1, 1)
    _, event = register_customer(
        id=CustomerId("c"), person=Person(name=PersonName.parse("张伟")), at=at
    )
    union_event: DomainEvent = event
    assert isinstance(union_event, CustomerRegistered)
