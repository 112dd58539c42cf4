"""Custom fields (自定义字段): a host-defined schema and the values validated against it.

Hosts register a :class:`CustomFieldSchema` of :class:`FieldDef` and crmcore
validates values against it at the boundary. Values are stored in a
JSON-native canonical form (:class:`CustomFields`) so that every storage
adapter can keep them in a JSON column and every backend compares them
alike: text and choices as ``str``, integers as ``int``, decimals as
canonical decimal strings, booleans as ``bool``, dates as ``YYYY-MM-DD``,
timestamps as ISO 8601 UTC strings, multi-choice as a sorted tuple of
``str``. :meth:`CustomFieldSchema.typed` reads them back as Python values.

May import: ``crmcore.errors``, ``crmcore.clock``,
``crmcore.domain.classification``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, TypeAlias

import attrs

from crmcore.clock import parse_timestamp, utc
from crmcore.domain.classification import Classification
from crmcore.errors import InvalidValueError, PayloadError, Problem

__all__ = [
    "CustomFieldSchema",
    "CustomFields",
    "CustomValue",
    "FieldDef",
    "FieldType",
]

CustomValue: TypeAlias = str | int | bool | tuple[str, ...]
"""A canonical, JSON-native custom field value."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


class FieldType(enum.StrEnum):
    """The type of a custom field."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"


def _require_name(value: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidValueError(
            "custom field name",
            value,
            "use 1-63 lower-case letters, digits or _; start with a letter",
        )
    return value


def _choices(value: tuple[str, ...] | list[str] | frozenset[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(v) for v in value))


def _check_choices(
    instance: FieldDef, _: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    is_choice = instance.type in (FieldType.CHOICE, FieldType.MULTI_CHOICE)
    if is_choice and not value:
        raise InvalidValueError(
            "custom field", instance.name, f"a {instance.type} field needs allowed values"
        )
    if not is_choice and value:
        raise InvalidValueError(
            "custom field",
            instance.name,
            f"allowed values only apply to choice fields, not {instance.type}",
        )


@attrs.frozen(kw_only=True)
class FieldDef:
    """The definition of one custom field.

    >>> FieldDef(name="wechat_id", type=FieldType.TEXT, classification=Classification.SENSITIVE)
    FieldDef(name='wechat_id', type=<FieldType.TEXT: 'text'>, required=False, ...)
    """

    name: str = attrs.field(converter=_require_name)
    type: FieldType = attrs.field(converter=FieldType)
    required: bool = False
    classification: Classification = attrs.field(
        default=Classification.INTERNAL, converter=Classification
    )
    allowed_values: tuple[str, ...] = attrs.field(
        default=(), converter=_choices, validator=_check_choices
    )
    label: str = ""
    max_length: int = 1000

    def canonical(self, value: object) -> CustomValue:
        """Validate ``value`` and return its canonical, JSON-native form.

        Raises:
            InvalidValueError: If ``value`` does not fit this field.
        """
        try:
            return _CANONICAL[self.type](self, value)
        except InvalidValueError:
            raise
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise InvalidValueError(self.name, value, f"not a valid {self.type}") from exc

    def typed(self, value: CustomValue) -> object:
        """Return the Python value of a canonical ``value`` (Decimal, date, datetime …)."""
        if self.type is FieldType.DECIMAL:
            return Decimal(str(value))
        if self.type is FieldType.DATE:
            return dt.date.fromisoformat(str(value))
        if self.type is FieldType.DATETIME:
            return parse_timestamp(str(value))
        return value


def _text(fd: FieldDef, value: object) -> CustomValue:
    if not isinstance(value, str):
        raise InvalidValueError(fd.name, value, "expected text")
    if len(value) > fd.max_length:
        raise InvalidValueError(fd.name, value, f"longer than {fd.max_length} characters")
    return value


def _integer(fd: FieldDef, value: object) -> CustomValue:
    if isinstance(value, bool):
        raise InvalidValueError(fd.name, value, "expected an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise InvalidValueError(fd.name, value, "expected an integer")


def _decimal(fd: FieldDef, value: object) -> CustomValue:
    if isinstance(value, bool | float):
        raise InvalidValueError(
            fd.name, value, "expected a decimal (str, int or Decimal), not float"
        )
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except decimal.InvalidOperation as exc:
        raise InvalidValueError(fd.name, value, "expected a decimal number") from exc
    if not number.is_finite():
        raise InvalidValueError(fd.name, value, "must be finite")
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


_TRUE = {"true", "yes", "1", "y", "是"}
_FALSE = {"false", "no", "0", "n", "否"}


def _boolean(fd: FieldDef, value: object) -> CustomValue:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise InvalidValueError(fd.name, value, "expected true or false")


def _date(fd: FieldDef, value: object) -> CustomValue:
    if isinstance(value, dt.datetime):
        raise InvalidValueError(fd.name, value, "expected a date, not a timestamp")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return dt.date.fromisoformat(value.strip()).isoformat()
    raise InvalidValueError(fd.name, value, "expected a date YYYY-MM-DD")


def _datetime(fd: FieldDef, value: object) -> CustomValue:
    if isinstance(value, dt.datetime):
        return utc(value).isoformat()
    if isinstance(value, str):
        return parse_timestamp(value.strip()).isoformat()
    raise InvalidValueError(fd.name, value, "expected an ISO 8601 timestamp with offset")


def _choice(fd: FieldDef, value: object) -> CustomValue:
    if not isinstance(value, str) or value not in fd.allowed_values:
        raise InvalidValueError(fd.name, value, f"not one of {list(fd.allowed_values)}")
    return value


def _multi_choice(fd: FieldDef, value: object) -> CustomValue:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise InvalidValueError(fd.name, value, "expected a list of choices")
    items = tuple(value)
    bad = [v for v in items if not isinstance(v, str) or v not in fd.allowed_values]
    if bad:
        raise InvalidValueError(fd.name, bad, f"not among {list(fd.allowed_values)}")
    return tuple(sorted(set(items)))


_CANONICAL = {
    FieldType.TEXT: _text,
    FieldType.INTEGER: _integer,
    FieldType.DECIMAL: _decimal,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.CHOICE: _choice,
    FieldType.MULTI_CHOICE: _multi_choice,
}


def _check_value(key: str, value: object) -> CustomValue:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidValueError(
        f"custom field {key}", value, "canonical values are str, int, bool or a list of str"
    )


def _freeze(
    values: Mapping[str, object] | tuple[tuple[str, CustomValue], ...],
) -> tuple[tuple[str, CustomValue], ...]:
    pairs = values.items() if isinstance(values, Mapping) else values
    frozen = {_require_name(str(k)): _check_value(str(k), v) for k, v in pairs}
    return tuple(sorted(frozen.items()))


@attrs.frozen(eq=True, hash=True, repr=False)
class CustomFields(Mapping[str, CustomValue]):
    """An immutable mapping of custom field names to canonical values.

    >>> CustomFields({"wechat_id": "lina88"})["wechat_id"]
    'lina88'
    """

    _items: tuple[tuple[str, CustomValue], ...] = attrs.field(
        default=(), converter=_freeze, alias="values"
    )

    def __getitem__(self, key: str) -> CustomValue:
        for name, value in self._items:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"CustomFields({dict(self._items)!r})"

    def to_dict(self) -> dict[str, CustomValue]:
        """Return a plain ``dict`` copy."""
        return dict(self._items)


def _unique_names(
    _instance: CustomFieldSchema,
    _: attrs.Attribute[tuple[FieldDef, ...]],
    value: tuple[FieldDef, ...],
) -> None:
    names = [f.name for f in value]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidValueError("custom field schema", dupes, "field names must be unique")


def _field_defs(value: Iterable[FieldDef]) -> tuple[FieldDef, ...]:
    return tuple(value)


@attrs.frozen
class CustomFieldSchema:
    """A host's custom field definitions for one kind of record.

    >>> schema = CustomFieldSchema((
    ...     FieldDef(name="wechat_id", type="text"),
    ...     FieldDef(name="budget", type="decimal", required=True),
    ...     FieldDef(name="region", type="choice", allowed_values=("north", "south")),
    ... ))
    >>> schema.validate({"budget": "12000.50", "region": "south"})
    CustomFields({'budget': '12000.5', 'region': 'south'})
    >>> schema.validate({"region": "east", "color": "red"})
    Traceback (most recent call last):
    ...
    crmcore.errors.PayloadError: invalid custom fields (3 problems):
      required field is missing @ $.custom.budget
      invalid region 'east': not one of ['north', 'south'] @ $.custom.region
      unknown custom field @ $.custom.color
    """

    fields: tuple[FieldDef, ...] = attrs.field(
        default=(), converter=_field_defs, validator=_unique_names
    )

    def field(self, name: str) -> FieldDef:
        """Return the definition of field ``name``.

        Raises:
            InvalidValueError: If there is no such field.
        """
        for fd in self.fields:
            if fd.name == name:
                return fd
        raise InvalidValueError("custom field", name, "not defined in the schema")

    def validate(self, values: Mapping[str, Any], *, path: str = "$.custom") -> CustomFields:
        """Check ``values`` against the schema and return them canonicalised.

        Every problem is reported at once.

        Raises:
            PayloadError: If any value is missing, unknown or does not fit its field.
        """
        problems: list[Problem] = []
        result: dict[str, CustomValue] = {}
        known = {fd.name: fd for fd in self.fields}
        for fd in self.fields:
            raw = values.get(fd.name)
            if raw is None or raw == "":
                if fd.required:
                    problems.append(Problem(f"{path}.{fd.name}", "required field is missing"))
                continue
            try:
                result[fd.name] = fd.canonical(raw)
            except InvalidValueError as exc:
                problems.append(Problem(f"{path}.{fd.name}", str(exc)))
        problems.extend(
            Problem(f"{path}.{name}", "unknown custom field")
            for name in values
            if name not in known
        )
        if problems:
            raise PayloadError("custom fields", problems)
        return CustomFields(result)

    def typed(self, values: CustomFields) -> dict[str, object]:
        """Return ``values`` as Python values (Decimal, date, aware datetime …)."""
        return {name: self.field(name).typed(value) for name, value in values.items()}

    def classification(self, name: str) -> Classification:
        """Return the classification of field ``name``."""
        return self.field(name).classification
