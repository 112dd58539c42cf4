"""Serialization: the one cattrs converter for every crmcore type.

Build a converter with :func:`make_converter` (or configure one of your own
with :func:`configure_converter`); crmcore never touches cattrs' global
converter. The JSON form is stable and strict:

- unknown keys are rejected;
- nothing is coerced: text fields take only strings, integer fields only
  integers (not booleans), boolean fields only booleans, list fields only JSON
  lists (of at most 10,000 items), and ``null`` only where a field is optional;
- timestamps are ISO 8601 with an offset (offset-less strings are rejected,
  never assumed UTC); dates are ``YYYY-MM-DD``; money amounts are strings;
- value objects are their canonical strings (``"+8613800138000"``,
  ``"li.na@example.com"``, ``"vip"``, ``"CN"``);
- events are a tagged union with a ``"type"`` key naming the event class;
- sets are written as sorted lists, so the output is deterministic.

Every problem of a bad payload is reported at once, in one
:class:`~crmcore.errors.PayloadError` whose problems each carry a ``$.path``
and quote at most 40 characters of the offending value.

>>> from crmcore.domain import Money
>>> unstructure(Money("12.50", "CNY"))
{'amount': '12.50', 'currency': 'CNY'}
>>> structure({"amount": "12.50", "currency": "cny"}, Money)
Money(amount=Decimal('12.50'), currency='CNY')
>>> structure({"amount": 12.5, "currency": "CNY", "note": "x"}, Money)
Traceback (most recent call last):
...
crmcore.errors.PayloadError: invalid Money (2 problems):
  invalid amount 12.5: amounts are strings or integers, never floats @ $.amount
  extra fields found (note) @ $
>>> structure({"amount": "1", "currency": ["CNY"]}, Money)
Traceback (most recent call last):
...
crmcore.errors.PayloadError: invalid Money (1 problem):
  expected a string, got a list @ $.currency

May import: ``crmcore.domain``, ``crmcore.lifecycle``, ``crmcore.segments``,
``crmcore.errors``, ``crmcore.clock``; cattrs.
"""

from __future__ import annotations

import functools
import json
from typing import Any, TypeVar

from cattrs.preconf.json import JsonConverter
from cattrs.preconf.json import make_converter as _make_json_converter

from crmcore.domain.events import DomainEvent
from crmcore.errors import CrmError, InvalidValueError, PayloadError, Problem
from crmcore.segments.rule import Rule
from crmcore.serialization._domain import configure_domain, problems_from
from crmcore.serialization._lifecycle import configure_lifecycle
from crmcore.serialization._segments import configure_segments
from crmcore.serialization._strict import configure_strict, message_of

__all__ = [
    "configure_converter",
    "dumps",
    "loads",
    "loads_event",
    "make_converter",
    "structure",
    "structure_event",
    "unstructure",
]

T = TypeVar("T")


def configure_converter(converter: JsonConverter) -> JsonConverter:
    """Register crmcore's hooks on ``converter`` (a cattrs JSON converter) and return it.

    Use this to extend a converter you own; hooks you registered before for
    crmcore types are overridden.
    """
    configure_strict(converter)
    configure_domain(converter)
    configure_lifecycle(converter)
    configure_segments(converter)
    return converter


def make_converter() -> JsonConverter:
    """Return a new cattrs JSON converter configured for every crmcore type.

    Unknown keys are rejected and each attribute is structured separately,
    so every problem in a payload is collected.
    """
    converter = _make_json_converter(forbid_extra_keys=True, detailed_validation=True)
    return configure_converter(converter)


@functools.cache
def _default() -> JsonConverter:
    return make_converter()


def unstructure(value: object, converter: JsonConverter | None = None) -> Any:
    """Return ``value`` as JSON-ready builtins (dicts, lists, strings, numbers)."""
    return (converter or _default()).unstructure(value)


def structure(data: object, cls: type[T], converter: JsonConverter | None = None) -> T:
    """Build a ``cls`` from JSON-ready ``data``, validating every field.

    Raises:
        PayloadError: Listing every problem with its ``$.path``.
    """
    conv = converter or _default()
    try:
        return conv.structure(data, cls)
    except CrmError as exc:
        if isinstance(exc, PayloadError):
            raise
        message = message_of(exc) if isinstance(exc, InvalidValueError) else str(exc)
        raise PayloadError(_name(cls), [Problem("$", message)]) from exc
    except Exception as exc:
        raise PayloadError(_name(cls), problems_from(exc)) from exc


def structure_event(data: object, converter: JsonConverter | None = None) -> DomainEvent:
    """Build whichever domain event ``data`` describes (by its ``"type"`` tag).

    Raises:
        PayloadError: Listing every problem with its ``$.path``.
    """
    event: DomainEvent = structure(data, DomainEvent, converter)  # type: ignore[arg-type]  # a union is not a type[T]
    return event


def loads_event(text: str | bytes, converter: JsonConverter | None = None) -> DomainEvent:
    """Parse JSON ``text`` into the domain event it describes.

    Raises:
        PayloadError: If the text is not JSON or not a valid event.
    """
    event: DomainEvent = loads(text, DomainEvent, converter)  # type: ignore[arg-type]  # a union is not a type[T]
    return event


def dumps(value: object, converter: JsonConverter | None = None) -> str:
    """Return ``value`` as a JSON string (UTF-8 text, keys in definition order)."""
    return json.dumps(unstructure(value, converter), ensure_ascii=False)


def loads(text: str | bytes, cls: type[T], converter: JsonConverter | None = None) -> T:
    """Parse JSON ``text`` into a ``cls``.

    Raises:
        PayloadError: If the text is not JSON or does not describe a valid ``cls``.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(_name(cls), [Problem("$", f"not valid JSON: {exc}")]) from exc
    return structure(data, cls, converter)


def _name(cls: object) -> str:
    name = getattr(cls, "__name__", None)
    if isinstance(name, str):
        return name
    if cls == DomainEvent:
        return "event"
    return "segment rule" if cls == Rule else str(cls)
