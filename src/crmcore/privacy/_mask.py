"""Masking of sensitive values, one function per kind of value (private to ``crmcore.privacy``).

:func:`masked_copy` walks an attrs record and replaces every value whose field is
classified :data:`~crmcore.domain.classification.SENSITIVE` (a field without a
classification inherits the one of the field that holds it) by its masked form:

- a phone number keeps its first digits and its last four, the four before those
  become ``****``: ``+8613800138000`` → ``+86138****8000``; numbers of eight
  digits or fewer keep only their first and last two; the extension is dropped;
- an email address keeps the first character of its local part and the domain:
  ``li.na@example.com`` → ``l***@example.com``;
- a postal address keeps its country; every other non-empty part becomes ``***``;
- text (a national id, any other sensitive string) is fully masked as
  ``********``, whatever its length (so the length is not disclosed); empty text
  stays empty;
- any other sensitive value (a birth date, a gender, a credit rating) is blanked:
  the field's default, ``None`` for the optional ones;
- a nested record (a person, a contact, the contact points) is walked field by
  field with its own classifications: a person's name is public and stays.

Masked values are written through each frozen class's slot descriptors
(:func:`crmcore.domain.slots.slot_setter`): a masked phone is not a valid E.164
number, so no converter may run. A masked snapshot therefore serialises, but does
not read back as a valid record, which is what keeps it from being stored by
mistake.

May import: ``crmcore.domain``, ``crmcore.errors``; attrs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import attrs

from crmcore.domain.classification import Classification
from crmcore.domain.slots import slot_setter
from crmcore.domain.values import EmailAddress, PhoneNumber, PostalAddress
from crmcore.errors import ConfigurationError

__all__ = [
    "MASKED_TEXT",
    "mask_email",
    "mask_phone",
    "mask_text",
    "masked_copy",
]

MASKED_TEXT = "********"
"""What sensitive text (a national id) reads as once masked."""

_PART = "***"
_KEY = "crmcore.classification"


def mask_phone(number: PhoneNumber) -> PhoneNumber:
    """Return ``number`` with its middle digits masked and its extension dropped.

    >>> str(mask_phone(PhoneNumber("+8613800138000")))
    '+86138****8000'
    >>> str(mask_phone(PhoneNumber("+14155552671", "12")))
    '+141****2671'
    """
    digits = number.e164[1:]
    if len(digits) > 8:
        text = f"+{digits[:-8]}****{digits[-4:]}"
    else:
        text = f"+{digits[:1]}{'*' * (len(digits) - 3)}{digits[-2:]}"
    masked: PhoneNumber = _build(PhoneNumber, {"e164": text, "extension": None})
    return masked


def mask_email(address: EmailAddress) -> EmailAddress:
    """Return ``address`` with its local part masked but for its first character.

    >>> str(mask_email(EmailAddress("li.na@example.com")))
    'l***@example.com'
    """
    local = address.local_part
    masked: EmailAddress = _build(EmailAddress, {"address": f"{local[:1]}{_PART}@{address.domain}"})
    return masked


def mask_text(text: str) -> str:
    """Return sensitive text fully masked (empty text stays empty).

    >>> mask_text("110101199003074514"), mask_text("")
    ('********', '')
    """
    return MASKED_TEXT if text else ""


def _mask_address(address: PostalAddress) -> PostalAddress:
    def part(text: str) -> str:
        return _PART if text else ""

    masked: PostalAddress = _build(
        PostalAddress,
        {
            "country": address.country,
            "province": part(address.province),
            "city": part(address.city),
            "district": part(address.district),
            "street": (_PART,) if address.street else (),
            "postcode": part(address.postcode),
        },
    )
    return masked


_SETTERS: dict[type[Any], tuple[tuple[str, Callable[[Any, Any], None]], ...]] = {}


def _setters(cls: type[Any]) -> tuple[tuple[str, Callable[[Any, Any], None]], ...]:
    found = _SETTERS.get(cls)
    if found is None:
        found = tuple((f.name, slot_setter(cls, f.name)) for f in attrs.fields(cls))
        _SETTERS[cls] = found
    return found


def _build(cls: type[Any], values: dict[str, Any]) -> Any:
    instance = object.__new__(cls)
    for name, setter in _setters(cls):
        setter(instance, values[name])
    return instance


def _blank(cls: type[Any], field: attrs.Attribute[Any]) -> Any:
    default: Any = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]  # attrs' Factory is a class
        if default.takes_self:  # pragma: no cover - no domain field masks this way
            raise ConfigurationError(f"cannot mask {cls.__name__}.{field.name}: a self factory")
        return default.factory()
    if default is attrs.NOTHING:
        raise ConfigurationError(
            f"cannot mask {cls.__name__}.{field.name}: no masking for its values and no default"
        )
    return default


def _mask_value(value: Any, cls: type[Any], field: attrs.Attribute[Any]) -> Any:
    """Return the masked form of one sensitive value held by ``cls.field``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, PhoneNumber):
        return mask_phone(value)
    if isinstance(value, EmailAddress):
        return mask_email(value)
    if isinstance(value, PostalAddress):
        return _mask_address(value)
    if isinstance(value, enum.Enum):  # a gender, a credit rating: no partial form
        return _blank(cls, field)
    if isinstance(value, str):
        return mask_text(value)
    if attrs.has(type(value)):
        return _walk(value, Classification.SENSITIVE)
    return _blank(cls, field)


def _walk_item(
    value: Any, inherited: Classification, cls: type[Any], field: attrs.Attribute[Any]
) -> Any:
    if attrs.has(type(value)) and not isinstance(value, (PhoneNumber, EmailAddress, PostalAddress)):
        return _walk(value, inherited)
    if isinstance(value, tuple):
        items = [_walk_item(item, inherited, cls, field) for item in value]
        same = all(new is old for new, old in zip(items, value, strict=True))
        return value if same else tuple(items)
    if inherited is Classification.SENSITIVE:
        return _mask_value(value, cls, field)
    return value


def _walk(record: Any, inherited: Classification) -> Any:
    cls = type(record)
    changed = False
    values: dict[str, Any] = {}
    for field in attrs.fields(cls):
        value = getattr(record, field.name)
        level = Classification(field.metadata.get(_KEY, inherited))
        new = _walk_item(value, level, cls, field)
        changed = changed or new is not value
        values[field.name] = new
    return _build(cls, values) if changed else record


def masked_copy(record: Any) -> Any:
    """Return a copy of an attrs record with every sensitive value masked.

    Args:
        record: A domain record (customer, lead ...); unclassified fields count
            as internal at the top level.

    Returns:
        The same type; the record itself when it holds nothing sensitive.

    Raises:
        ConfigurationError: If a sensitive field holds a value with no masking
            and no default to blank it to.
    """
    return _walk(record, Classification.INTERNAL)
