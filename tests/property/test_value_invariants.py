"""Invariants of the value objects and contact points."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.domain import (
    ContactPoints,
    CurrencyMismatchError,
    EmailAddress,
    Money,
    PersonName,
    PhoneNumber,
    Tag,
)
from crmcore.testing import strategies as cst


@given(cst.phone_numbers())
def test_phone_parse_of_its_canonical_string_is_itself(phone: PhoneNumber) -> None:
    assert PhoneNumber.parse(str(phone)) == phone


@given(cst.email_addresses())
def test_email_parse_of_its_canonical_string_is_itself(email: EmailAddress) -> None:
    assert EmailAddress.parse(str(email)) == email


@given(cst.person_names())
def test_person_name_parse_of_its_full_form_is_itself(name: PersonName) -> None:
    assert PersonName.parse(name.full) == name


@given(st.text(max_size=30))
def test_tag_normalisation_is_idempotent(raw: str) -> None:
    try:
        tag = Tag(raw)
    except ValueError:
        return
    assert Tag(tag.name) == tag


@given(cst.contact_points())
def test_contact_points_have_exactly_one_primary_of_each_kind_present(
    points: ContactPoints,
) -> None:
    for items in (points.emails, points.phones, points.addresses):
        assert sum(1 for p in items if p.primary) == (1 if items else 0)


@given(cst.contact_points(), cst.email_addresses(), st.booleans())
def test_adding_an_email_keeps_one_primary_and_every_other_email(
    points: ContactPoints, email: EmailAddress, primary: bool
) -> None:
    after = points.with_email(email, primary=primary)
    assert sum(1 for e in after.emails if e.primary) == 1
    assert {e.address for e in after.emails} == {e.address for e in points.emails} | {email}
    if primary:
        assert after.primary_email == email


@given(cst.contact_points())
def test_removing_the_primary_phone_promotes_another(points: ContactPoints) -> None:
    if points.primary_phone is None:
        return
    after = points.without_phone(points.primary_phone)
    assert len(after.phones) == len(points.phones) - 1
    assert (after.primary_phone is None) == (not after.phones)


@given(cst.money(("CNY",)), cst.money(("CNY",)), cst.money(("CNY",)))
def test_money_addition_is_associative_and_commutative(a: Money, b: Money, c: Money) -> None:
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a


@given(cst.money(("CNY",)), cst.money(("USD",)))
def test_money_never_mixes_currencies_but_equality_never_raises(a: Money, b: Money) -> None:
    assert a != b
    with pytest.raises(CurrencyMismatchError):
        _ = a + b


@given(
    cst.amounts(-(10**13), 10**13),  # rounding up never carries past 14 digits from here
    st.sampled_from(["CNY", "JPY", "KWD"]),
)
def test_rounding_money_is_idempotent(amount: Decimal, currency: str) -> None:
    money = Money(amount, currency).rounded()
    assert money.rounded() == money
