"""Strict JSON hooks for builtin types (private; use :mod:`crmcore.serialization`).

cattrs' default hooks coerce: ``str(None)`` is ``'None'``, ``int(1.9)`` is
``1`` and a string where a list belongs is split into characters. These
hooks take a value only if it already has the right JSON type:

- text (``str``, and ids built on it) takes only a string;
- ``int`` only an integer that is not a boolean; ``float`` an integer or a
  float, not a boolean; ``bool`` only a boolean;
- an enum only one of its values, of the right type;
- a list, tuple, set or frozenset field only a JSON list (a Python list or
  tuple) of at most :data:`MAX_ITEMS` items, checked before any item is read;
- ``null`` only where the field is optional (``X | None``).

Messages quote at most :data:`PREVIEW_CHARS` characters of the offending
value:

>>> preview("x" * 100)
"'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…' (100 characters)"
>>> preview([1, 2, 3])
'a list of 3 items'
>>> preview(10**5000)
'an integer of 16,610 bits'
>>> kind_of(None), kind_of(True), kind_of(1.5), kind_of({})
('null', 'a boolean', 'a number', 'an object')
"""

from __future__ import annotations

import collections.abc
import enum
import typing
from collections.abc import Callable
from typing import Any, Final

from cattrs.errors import (
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
    StructureHandlerNotFoundError,
)
from cattrs.preconf.json import JsonConverter

from crmcore.errors import CrmError, InvalidValueError

__all__ = [
    "MAX_ITEMS",
    "MAX_MESSAGE_CHARS",
    "PREVIEW_CHARS",
    "StrictValueError",
    "configure_strict",
    "kind_of",
    "message_of",
    "preview",
    "wrong_type",
]

MAX_ITEMS: Final = 10_000
"""The most items a list, tuple or set field of a payload may hold."""

PREVIEW_CHARS: Final = 40
"""How many characters of an offending value a problem message quotes."""

MAX_MESSAGE_CHARS: Final = 300
"""The longest problem message; longer ones are cut."""

_COLLECTIONS: Final[frozenset[Any]] = frozenset(
    {
        list,
        tuple,
        set,
        frozenset,
        collections.abc.Sequence,
        collections.abc.MutableSequence,
        collections.abc.Set,
        collections.abc.MutableSet,
        typing.List,  # noqa: UP006 - the bare alias may appear in host annotations
        typing.Tuple,  # noqa: UP006
        typing.Set,  # noqa: UP006
        typing.FrozenSet,  # noqa: UP006
    }
)


# What structuring one item may raise; each is reported at the item's index.
_ITEM_ERRORS: Final = (
    CrmError,
    BaseValidationError,
    ForbiddenExtraKeysError,
    StructureHandlerNotFoundError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    ArithmeticError,
)


class StrictValueError(InvalidValueError):
    """A payload value of the wrong JSON type; the message is the reason alone.

    The path of the problem says which field; the message says what was
    expected and what was found, quoting at most a short prefix.

    >>> str(StrictValueError("text", None, "required, got null"))
    'required, got null'
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(field, "", reason)
        self.value = value
        self.args = (reason,)


def kind_of(value: object) -> str:
    """Name the JSON type of ``value`` the way a message says it ("a string", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def preview(value: object) -> str:
    """Quote ``value`` briefly: at most :data:`PREVIEW_CHARS` characters of it."""
    if isinstance(value, str):
        if len(value) <= PREVIEW_CHARS:
            return repr(value)
        return f"{value[:PREVIEW_CHARS] + '…'!r} ({len(value):,} characters)"
    if isinstance(value, list | tuple | set | frozenset):
        count = len(value)
        return f"a list of {count:,} item{'' if count == 1 else 's'}"
    if isinstance(value, dict):
        count = len(value)
        return f"an object with {count:,} key{'' if count == 1 else 's'}"
    if isinstance(value, bytes):
        return f"{len(value):,} bytes"
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of {value.bit_length():,} bits"
    text = repr(value)
    if len(text) <= PREVIEW_CHARS:
        return text
    return f"{text[:PREVIEW_CHARS]}… ({len(text):,} characters)"


def message_of(exc: InvalidValueError) -> str:
    """The message of ``exc`` with its value quoted briefly and its length capped."""
    if isinstance(exc, StrictValueError):
        text = exc.reason
    else:
        text = f"invalid {exc.field} {preview(exc.value)}: {exc.reason}"
    return _cap(text)


def _cap(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[:MAX_MESSAGE_CHARS] + "…"


def _got(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"a string {preview(value)}" if len(value) <= PREVIEW_CHARS else "a string"
    if isinstance(value, bool | int | float):
        return f"{kind_of(value)} ({preview(value)})"
    return kind_of(value)


def wrong_type(field: str, value: object, expected: str) -> StrictValueError:
    """The error for ``value`` (meant for ``field``) not being of the ``expected`` JSON type.

    >>> str(wrong_type("tags", "vip", "a list"))
    "expected a list, got a string 'vip'"
    >>> str(wrong_type("tags", None, "a list"))
    'required, got null'
    """
    if value is None:
        return StrictValueError(field, value, "required, got null")
    if isinstance(value, str) and len(value) > PREVIEW_CHARS:
        return StrictValueError(
            field, value, f"expected {expected}, got a string ({len(value):,} characters)"
        )
    return StrictValueError(field, value, f"expected {expected}, got {_got(value)}")


def _structure_enum(value: object, cls: type[enum.Enum]) -> enum.Enum:
    if isinstance(value, cls):
        return value
    for member in cls:
        candidate = member.value
        if type(candidate) is type(value) and candidate == value:
            return member
    values = ", ".join(str(m.value) for m in cls)
    if len(values) > 200:
        values = values[:200] + "…"
    if value is None:
        reason = f"required, got null; expected one of: {values}"
    else:
        shown = preview(value) if isinstance(value, str | int | float) else kind_of(value)
        reason = f"expected one of: {values}; got {shown}"
    raise StrictValueError(cls.__name__, value, reason)


def _structure_str(value: object, tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _structure_enum(value, tp)
    if not isinstance(value, str):
        raise wrong_type("text", value, "a string")
    return value if tp is str else tp(value)


def _structure_int(value: object, tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _structure_enum(value, tp)
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type("integer", value, "an integer")
    return value if tp is int else tp(value)


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type("number", value, "a number")
    return float(value)


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise wrong_type("boolean", value, "true or false")
    return value


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _is_collection(tp: Any) -> bool:
    return tp in _COLLECTIONS or typing.get_origin(tp) in _COLLECTIONS


def _collection_factory(converter: JsonConverter) -> Callable[[Any], Callable[[object, Any], Any]]:
    def factory(tp: Any) -> Callable[[object, Any], Any]:
        origin = typing.get_origin(tp) or tp
        args = typing.get_args(tp)
        fixed: tuple[Any, ...] | None = None
        if origin in (tuple, typing.Tuple) and args and args[-1] is not Ellipsis:  # noqa: UP006
            fixed = args
            item_types: tuple[Any, ...] = ()
        else:
            item_types = (args[0],) if args else (Any,)
        build: Callable[[list[Any]], Any]
        if origin in (set, collections.abc.MutableSet, typing.Set):  # noqa: UP006
            build = set
        elif origin in (frozenset, collections.abc.Set, typing.FrozenSet):  # noqa: UP006
            build = frozenset
        elif origin in (list, collections.abc.MutableSequence, typing.List):  # noqa: UP006
            build = list
        else:
            build = tuple

        def hook(value: object, _: Any) -> Any:
            if not isinstance(value, list | tuple):
                raise wrong_type("list", value, "a list")
            if len(value) > MAX_ITEMS:
                raise StrictValueError(
                    "list",
                    value,
                    f"too many items: {len(value):,}; at most {MAX_ITEMS:,} are allowed",
                )
            if fixed is not None and len(value) != len(fixed):
                raise StrictValueError(
                    "list", value, f"expected a list of {len(fixed)} items, got {len(value):,}"
                )
            types = fixed if fixed is not None else item_types * len(value)
            result: list[Any] = []
            errors: list[Exception] = []
            for index, (item_type, item) in enumerate(zip(types, value, strict=True)):
                if item_type is Any:
                    result.append(item)
                    continue
                try:
                    result.append(converter.get_structure_hook(item_type)(item, item_type))
                except _ITEM_ERRORS as exc:
                    note = IterableValidationNote(
                        f"Structuring {tp} @ index {index}", index, item_type
                    )
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
            return build(result)

        return hook

    return factory


def configure_strict(converter: JsonConverter) -> None:
    """Register the strict hooks for text, numbers, booleans, enums and collections."""
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_func(_is_enum, _structure_enum)
    converter.register_structure_hook_factory(_is_collection, _collection_factory(converter))
