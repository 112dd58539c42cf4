"""A value of the wrong JSON type anywhere in a payload is a problem at its path, never coerced."""

from __future__ import annotations

import datetime as dt
import enum
import json
import types
import typing
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import domain
from crmcore.errors import PayloadError
from crmcore.merge import MergeRecord
from crmcore.serialization import make_converter, structure, unstructure
from crmcore.testing import strategies as cst

# Building a converter resolves the string annotations of every event class,
# which cst.events() needs to draw them.
make_converter()

CASES: list[tuple[st.SearchStrategy[Any], Any]] = [
    (cst.customers(), domain.Customer),
    (cst.leads(), domain.Lead),
    (cst.opportunities(), domain.Opportunity),
    (cst.activities(), domain.Activity),
    (cst.cases(), domain.Case),
    (cst.survey_responses(), domain.SurveyResponse),
    (cst.orders(), domain.Order),
    (cst.consents(), domain.Consent),
    (cst.events(), domain.DomainEvent),
    (cst.merge_records(), MergeRecord),
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
IDS = [getattr(cls, "__name__", "DomainEvent") for _, cls in CASES]

TEXT_TYPES = (
    str,
    domain.Tag,
    domain.EmailAddress,
    domain.PhoneNumber,
    domain.CountryCode,
    pendulum.DateTime,
    dt.date,
)

# For each kind of JSON slot, values of a JSON type that does not belong there.
WRONG: dict[str, list[Any]] = {
    "text": [7, 2.5, True, ["x"], {"a": 1}],
    "decimal": [True, 1.5, ["1"], {"a": "1"}],
    "int": [True, 1.9, "7", ["7"], {"n": 7}],
    "bool": [1, 0, "true", [True], {"b": True}],
    "list": ["vip", "c-22", {"a": "b"}, 3, True],
    "object": ["x", ["x"], 3, False],
}

Key = str | int


@attrs.frozen
class Slot:
    """One place in a payload: its keys from the root, what it holds, whether null fits."""

    keys: tuple[Key, ...]
    kind: str
    optional: bool

    @property
    def path(self) -> str:
        return "$" + "".join(f".{k}" if isinstance(k, str) else f"[{k}]" for k in self.keys)


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """Strip NewType and ``| None`` from ``tp``; say whether null was allowed."""
    optional = False
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            return tp, True
        tp, optional = rest[0], True
    while hasattr(tp, "__supertype__"):
        tp = tp.__supertype__
    return tp, optional


def _kind(tp: Any) -> str | None:
    if tp is bool:
        return "bool"
    if tp is int:
        return "int"
    if tp is Decimal:
        return "decimal"
    if tp in TEXT_TYPES or (isinstance(tp, type) and issubclass(tp, enum.StrEnum)):
        return "text"
    if tp is domain.CustomFields or attrs.has(tp):
        return "object"
    if typing.get_origin(tp) in (tuple, frozenset, list):
        return "list"
    return None


def slots(data: Any, tp: Any, keys: tuple[Key, ...] = ()) -> Iterator[Slot]:
    """Every slot of ``data`` (typed ``tp``) whose JSON type is known, root first."""
    tp, optional = _unwrap(tp)
    kind = _kind(tp)
    if kind is None:
        return
    yield Slot(keys, kind, optional)
    if data is None:
        return
    if kind == "object" and tp is not domain.CustomFields:
        hints = typing.get_type_hints(tp)
        for field in attrs.fields(tp):
            if field.name in data:
                yield from slots(data[field.name], hints[field.name], (*keys, field.name))
    elif kind == "list":
        args = typing.get_args(tp)
        if typing.get_origin(tp) is not tuple or (len(args) == 2 and args[1] is Ellipsis):
            for index, item in enumerate(data):
                yield from slots(item, args[0], (*keys, index))


def replaced(data: Any, keys: tuple[Key, ...], value: Any) -> Any:
    """A copy of ``data`` with the value at ``keys`` replaced by ``value``."""
    if not keys:
        return value
    copy = json.loads(json.dumps(data))
    parent = copy
    for key in keys[:-1]:
        parent = parent[key]
    parent[keys[-1]] = value
    return copy


@pytest.mark.parametrize(("strategy", "cls"), CASES, ids=IDS)
def test_a_wrong_json_type_at_any_path_is_a_problem_at_that_path(
    strategy: st.SearchStrategy[Any], cls: Any
) -> None:
    @given(strategy, st.data())
    def check(value: Any, data: st.DataObject) -> None:
        payload = json.loads(json.dumps(unstructure(value)))
        assert structure(payload, cls) == value
        slot = data.draw(st.sampled_from(list(slots(payload, type(value)))), label="slot")
        wrong = data.draw(
            st.sampled_from(WRONG[slot.kind] + ([] if slot.optional else [None])), label="wrong"
        )
        with pytest.raises(PayloadError) as caught:
            structure(replaced(payload, slot.keys, wrong), cls)
        assert slot.path in caught.value.paths

    check()
