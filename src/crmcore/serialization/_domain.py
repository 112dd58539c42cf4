"""cattrs hooks for the domain types (private; use :mod:`crmcore.serialization`)."""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pendulum
from cattrs import BaseValidationError, transform_error
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.preconf.json import JsonConverter

from crmcore.clock import parse_timestamp, utc
from crmcore.domain.custom import CustomFields
from crmcore.domain.events import DomainEvent
from crmcore.domain.values import CountryCode, EmailAddress, PhoneNumber, Tag
from crmcore.errors import CrmError, InvalidValueError, Problem
from crmcore.serialization._strict import PREVIEW_CHARS, message_of, preview, wrong_type

__all__ = ["TAG", "configure_domain", "configure_tagged", "problems_from"]


def _structure_datetime(value: object, _: type) -> pendulum.DateTime:
    if isinstance(value, dt.datetime):
        return utc(value)
    if not isinstance(value, str):
        raise wrong_type("timestamp", value, "an ISO 8601 string with offset")
    return parse_timestamp(value)


def _structure_date(value: object, _: type) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise wrong_type("date", value, "a YYYY-MM-DD string")
    if len(value) != 10:
        raise InvalidValueError("date", value, "expected YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidValueError("date", value, "no such date") from exc


def _structure_decimal(value: object, _: type) -> Decimal:
    if value is None or isinstance(value, list | dict):
        raise wrong_type("amount", value, "a decimal string")
    if isinstance(value, bool | float):
        raise InvalidValueError("amount", value, "amounts are strings or integers, never floats")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except ArithmeticError as exc:
            raise InvalidValueError("amount", value, "not a decimal number") from exc
        if number.is_finite():
            return number
    raise InvalidValueError("amount", value, "expected a finite decimal string")


def _from_string(cls: type[Any], parse: Callable[[str], Any]) -> Callable[[object, type], Any]:
    def hook(value: object, _: type) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise wrong_type(cls.__name__, value, "a string")
        return parse(value)

    return hook


def _structure_custom(value: object, _: type) -> CustomFields:
    if not isinstance(value, dict):
        raise wrong_type("custom fields", value, "an object")
    return CustomFields({k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})


def _is_frozenset(tp: Any) -> bool:
    return typing.get_origin(tp) is frozenset


def _unstructure_frozenset_factory(tp: Any, converter: JsonConverter) -> Callable[[Any], Any]:
    (item_type,) = typing.get_args(tp) or (Any,)
    item = converter.get_unstructure_hook(item_type)

    def hook(value: frozenset[Any]) -> list[Any]:
        return sorted((item(v) for v in value), key=_sort_key)

    return hook


def _sort_key(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _wrap_attrs_structure(converter: JsonConverter) -> None:
    """Report an ``__init__`` invariant failure of a nested attrs class as that field's problem."""

    def factory(cls: type[Any]) -> Callable[[object, type], Any]:
        from cattrs.gen import make_dict_structure_fn  # noqa: PLC0415 - cattrs internals, used once.

        inner = make_dict_structure_fn(
            cls, converter, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
        )

        def hook(value: object, tp: type) -> Any:
            if not isinstance(value, dict):
                raise wrong_type(cls.__name__, value, "an object")
            return inner(value, tp)

        return hook

    converter.register_structure_hook_factory(attrs.has, factory)


def configure_domain(converter: JsonConverter) -> None:
    """Register the hooks for every domain type on ``converter``."""
    _wrap_attrs_structure(converter)
    converter.register_unstructure_hook(pendulum.DateTime, lambda v: utc(v).isoformat())
    converter.register_structure_hook(pendulum.DateTime, _structure_datetime)
    converter.register_unstructure_hook(dt.date, lambda v: v.isoformat())
    converter.register_structure_hook(dt.date, _structure_date)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, _structure_decimal)
    for cls, parse in (
        (EmailAddress, EmailAddress.parse),
        (PhoneNumber, PhoneNumber.parse),
        (Tag, Tag),
        (CountryCode, CountryCode),
    ):
        converter.register_unstructure_hook(cls, str)
        converter.register_structure_hook(cls, _from_string(cls, parse))
    converter.register_unstructure_hook(
        CustomFields, lambda v: {k: list(x) if isinstance(x, tuple) else x for k, x in v.items()}
    )
    converter.register_structure_hook(CustomFields, _structure_custom)
    converter.register_unstructure_hook_factory(
        _is_frozenset, lambda tp: _unstructure_frozenset_factory(tp, converter)
    )
    configure_tagged(converter, DomainEvent)


TAG = "type"


def configure_tagged(converter: JsonConverter, union: Any) -> None:
    """Make every member of ``union`` carry ``"type": ClassName`` in its JSON form.

    The tag is written whether a member is unstructured as itself or as the
    union, and read (and checked) by both; an unknown or missing tag is a
    problem at ``$.type``.
    """
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn  # noqa: PLC0415

    members: tuple[type[Any], ...] = typing.get_args(union)
    by_tag = {cls.__name__: cls for cls in members}

    for cls in members:
        plain_unstructure = make_dict_unstructure_fn(cls, converter)
        plain_structure = make_dict_structure_fn(
            cls, converter, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
        )

        def unstructure(
            value: Any, _fn: Callable[[Any], dict[str, Any]] = plain_unstructure
        ) -> Any:
            return {TAG: type(value).__name__, **_fn(value)}

        def structure(
            value: object,
            tp: type,
            _fn: Callable[[Any, type], Any] = plain_structure,
            _name: str = cls.__name__,
        ) -> Any:
            if not isinstance(value, dict):
                raise wrong_type(_name, value, "an object")
            tag = value.get(TAG, _name)
            if tag != _name:
                raise InvalidValueError(TAG, tag, f"expected {_name}")
            return _fn({k: v for k, v in value.items() if k != TAG}, tp)

        converter.register_unstructure_hook(cls, unstructure)
        converter.register_structure_hook(cls, structure)

    def structure_union(value: object, _: type) -> Any:
        if not isinstance(value, dict):
            raise wrong_type("event", value, "an object")
        tag = value.get(TAG)
        cls = by_tag.get(tag) if isinstance(tag, str) else None
        if cls is None:
            raise InvalidValueError(TAG, tag, f"expected one of {sorted(by_tag)}")
        return converter.structure(value, cls)

    converter.register_structure_hook_func(lambda t: t == union, structure_union)
    converter.register_unstructure_hook_func(lambda t: t == union, converter.unstructure)


def _format(exc: BaseException, tp: type | None) -> str:
    if isinstance(exc, InvalidValueError):
        return message_of(exc)
    if isinstance(exc, CrmError):
        return str(exc)
    if isinstance(exc, ForbiddenExtraKeysError):
        return _extra_fields(exc.extra_fields)
    if isinstance(exc, KeyError):
        return "required field missing"
    name = getattr(tp, "__name__", None) or (str(tp) if tp is not None else "")
    expected = f", expected {name}" if name else ""
    if isinstance(exc, ValueError | TypeError):
        return f"invalid value{expected}"
    return f"invalid value{expected} ({type(exc).__name__})"


def _extra_fields(names: set[str]) -> str:
    listed = sorted(names)
    shown = ", ".join(preview(n) if len(n) > PREVIEW_CHARS else n for n in listed[:_EXTRA_SHOWN])
    more = f" and {len(listed) - _EXTRA_SHOWN:,} more" if len(listed) > _EXTRA_SHOWN else ""
    return f"extra fields found ({shown}{more})"


_EXTRA_SHOWN = 10


def problems_from(exc: BaseException) -> list[Problem]:
    """Flatten a cattrs validation error into problems with a ``$.path`` each."""
    if isinstance(exc, BaseValidationError):
        lines = transform_error(exc, path="$", format_exception=_format)
    else:
        lines = [f"{_format(exc, None)} @ $"]
    problems = []
    for line in lines:
        message, _, path = line.rpartition(" @ ")
        problems.append(Problem(path or "$", message or line))
    return problems
