"""Import fast paths equal the validated paths they replace."""

from __future__ import annotations

from collections.abc import Callable

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.domain import (
    ContactPoints,
    CountryCode,
    Customer,
    CustomerId,
    CustomerKind,
    ExternalId,
    Organization,
    Person,
    PersonName,
    SourceChannel,
    Tag,
    UserId,
)
from crmcore.domain.customer import assemble_customer
from crmcore.errors import InvalidValueError
from crmcore.testing import strategies as cst

_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789 "


def _outcome(build: Callable[[], Customer]) -> Customer | type[InvalidValueError]:
    """Return what a constructor call gives: the customer, or that it was rejected."""
    try:
        return build()
    except InvalidValueError:
        return InvalidValueError


@given(
    id=st.text(_ID_CHARS, max_size=6).map(CustomerId),
    person=st.none() | cst.persons(),
    organization=st.none() | cst.organizations(),
    points=cst.contact_points(),
    country=st.none() | cst.country_codes(),
    source=st.sampled_from(list(SourceChannel)),
    owner=st.none() | cst.user_ids(),
    tags=st.frozensets(cst.tags(), max_size=3),
    external_ids=st.lists(
        st.builds(
            ExternalId, st.sampled_from(["erp", "ERP", "import:a.csv", "a.csv"]), st.just("1")
        ),
        max_size=3,
    ).map(frozenset),
    at=cst.timestamps().map(lambda t: t.in_timezone("Asia/Shanghai")),
)
def test_assembling_a_customer_gives_what_the_validating_constructor_gives(
    *,
    id: CustomerId,
    person: Person | None,
    organization: Organization | None,
    points: ContactPoints,
    country: CountryCode | None,
    source: SourceChannel,
    owner: UserId | None,
    tags: frozenset[Tag],
    external_ids: frozenset[ExternalId],
    at: pendulum.DateTime,
) -> None:
    parts = {
        "id": id,
        "person": person,
        "organization": organization,
        "points": points,
        "country": country,
        "source": source,
        "owner": owner,
        "tags": tags,
        "external_ids": external_ids,
    }
    kind = CustomerKind.PERSON if person is not None else CustomerKind.ORGANIZATION
    fast = _outcome(lambda: assemble_customer(at=at, **parts))  # type: ignore[arg-type]
    slow = _outcome(lambda: Customer(kind=kind, created_at=at, updated_at=at, **parts))  # type: ignore[arg-type]
    assert fast == slow


@pytest.mark.parametrize(
    ("field", "value"), [("source", "web"), ("country", "CN"), ("points", ["a@b.cn"])]
)
def test_assembling_from_raw_values_instead_of_value_objects_is_rejected(
    field: str, value: object
) -> None:
    at = pendulum.datetime(2026, 3, 2, 9, tz="UTC")
    parts: dict[str, object] = {"person": Person(name=PersonName.parse("张伟")), field: value}
    with pytest.raises(InvalidValueError, match="value objects"):
        assemble_customer(id=CustomerId("c-1"), at=at, **parts)  # type: ignore[arg-type]
