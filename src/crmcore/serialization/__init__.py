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
from typing import Any, Final, TypeVar

from cattrs.preconf.json import JsonConverter
from cattrs.preconf.json import make_converter as _make_json_converter

from crmcore.domain.events import DomainEvent
from crmcore.errors import CrmError, InvalidValueError, PayloadError, Problem
from crmcore.segments.rule import (
    MAX_RULE_DEPTH,
    MAX_RULE_NODES,
    RULE_TYPES,
    Rule,
    check_rule_limits,
)
from crmcore.serialization._domain import configure_domain, problems_from
from crmcore.serialization._lifecycle import configure_lifecycle
from crmcore.serialization._privacy import configure_privacy
from crmcore.serialization._schema import DIALECT, SCHEMA_TYPES, json_schema
from crmcore.serialization._segments import configure_segments
from crmcore.serialization._strict import configure_strict, message_of

__all__ = [
    "MAX_PAYLOAD_CHARS",
    "SCHEMA_DIALECT",
    "SCHEMA_TYPES",
    "configure_converter",
    "dumps",
    "json_schema",
    "loads",
    "loads_event",
    "make_converter",
    "structure",
    "structure_event",
    "unstructure",
]

T = TypeVar("T")

SCHEMA_DIALECT: Final = DIALECT
"""The JSON Schema dialect of :func:`json_schema` (draft 2020-12)."""

MAX_PAYLOAD_CHARS: Final = 8 * 1024 * 1024
"""The longest JSON text :func:`loads` reads (8 Mi characters), checked before parsing."""


def configure_converter(converter: JsonConverter) -> JsonConverter:
    """Register crmcore's hooks on ``converter`` (a cattrs JSON converter) and return it.

    Use this to extend a converter you own; hooks you registered before for
    crmcore types are overridden.
    """
    configure_strict(converter)
    configure_domain(converter)
    configure_lifecycle(converter)
    configure_segments(converter)
    configure_privacy(converter)
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
    rule = _is_rule_type(cls)
    try:
        if rule:
            _check_rule_shape(data)
        result = conv.structure(data, cls)
        if rule:
            check_rule_limits(result)  # type: ignore[arg-type]  # cls is a rule type
        return result
    except RecursionError:
        raise PayloadError(
            _name(cls), [Problem("$", "nested too deeply for any crmcore payload")]
        ) from None
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
    if len(text) > MAX_PAYLOAD_CHARS:
        raise PayloadError(
            _name(cls),
            [Problem("$", f"{len(text):,} characters; at most {MAX_PAYLOAD_CHARS:,} are read")],
        )
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(_name(cls), [Problem("$", f"not valid JSON: {exc}")]) from exc
    except RecursionError:
        raise PayloadError(
            _name(cls), [Problem("$", "nested too deeply for any crmcore payload")]
        ) from None
    return structure(data, cls, converter)


def _is_rule_type(cls: object) -> bool:
    return cls == Rule or cls in RULE_TYPES


def _check_rule_shape(data: object) -> None:
    """Refuse rule JSON beyond the rule limits before structuring any of it.

    Each rule level is an object, and its ``rules`` a list: JSON nesting is at
    most twice the rule depth (plus value lists and windows).
    """
    nodes = 0
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > 2 * MAX_RULE_DEPTH + 4:
            raise InvalidValueError(
                "rule depth",
                f"{MAX_RULE_DEPTH}+ levels",
                f"at most {MAX_RULE_DEPTH} levels of nesting per rule",
            )
        if isinstance(item, dict):
            nodes += 1
            if nodes > 2 * MAX_RULE_NODES:  # rule nodes plus their windows
                raise InvalidValueError(
                    "rule size",
                    f"{MAX_RULE_NODES + 1}+ nodes",
                    f"at most {MAX_RULE_NODES} nodes (connectives included) per rule",
                )
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item if isinstance(value, dict | list))


def _name(cls: object) -> str:
    if cls == DomainEvent:
        return "event"
    if cls == Rule:
        return "segment rule"
    name = getattr(cls, "__name__", None)
    return name if isinstance(name, str) else str(cls)
