"""What every entity snapshot shares.

A non-empty ``id``, a ``version``, and ``created_at <= updated_at``.

May import: ``crmcore.errors``, ``crmcore.clock``; attrs, pendulum.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.errors import InvalidValueError

__all__ = ["not_before", "require_id", "require_text", "require_version", "touch"]

_E = TypeVar("_E")


def require_id(value: str) -> str:
    """Return ``value`` if it is a non-empty string id.

    Raises:
        InvalidValueError: If it is not.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError("id", value, "a non-empty string is required")
    return value


def require_version(value: int) -> int:
    """Return ``value`` if it is a non-negative integer version.

    Raises:
        InvalidValueError: If it is not.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValueError("version", value, "a non-negative integer is required")
    return value


def require_text(field: str, value: str, *, max_length: int = 10_000) -> str:
    """Return ``value`` trimmed, if it is a string no longer than ``max_length``.

    Raises:
        InvalidValueError: If it is not.
    """
    if not isinstance(value, str):
        raise InvalidValueError(field, value, "expected a string")
    text = value.strip()
    if len(text) > max_length:
        raise InvalidValueError(field, value[:40] + "…", f"longer than {max_length} characters")
    return text


def not_before(field: str) -> Any:
    """Return an attrs validator: the timestamp is not before the one in ``field``."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        earlier = getattr(instance, field)
        if value is not None and earlier is not None and value < earlier:
            raise InvalidValueError(
                attribute.name, value.isoformat(), f"before {field} {earlier.isoformat()}"
            )

    return check


def touch(entity: _E, at: pendulum.DateTime, **changes: Any) -> _E:
    """Return ``entity`` evolved with ``changes`` and ``updated_at=at``.

    Raises:
        InvalidValueError: If ``at`` is before the entity's last update.
    """
    when = utc(at)
    last: pendulum.DateTime = getattr(entity, "updated_at")  # noqa: B009 - any entity
    if when < last:
        raise InvalidValueError(
            "at", when.isoformat(), f"before the last update {last.isoformat()}"
        )
    return attrs.evolve(entity, updated_at=when, **changes)  # type: ignore[misc]  # evolve on a TypeVar bound to attrs classes
