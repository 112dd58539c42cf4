"""cattrs hooks for segment rules (private; use :mod:`crmcore.serialization`).

Rule nodes and time windows are tagged unions: each JSON object carries
``"type": "<ClassName>"``. Comparison values are JSON scalars or lists of
them; every node checks and canonicalises its own values when built, so a
rule read from JSON is as valid as one built in Python.

May import: ``crmcore.segments``, ``crmcore.errors``, ``crmcore.serialization``; cattrs.
"""

from __future__ import annotations

from typing import Any

from cattrs.preconf.json import JsonConverter

from crmcore.errors import InvalidValueError
from crmcore.segments.rule import Rule, Value
from crmcore.segments.window import Window
from crmcore.serialization._domain import configure_tagged
from crmcore.serialization._strict import MAX_ITEMS, StrictValueError

__all__ = ["configure_segments"]


def _structure_value(value: object, _: type) -> Value:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list) and len(value) > MAX_ITEMS:
        raise StrictValueError(
            "value", value, f"too many items: {len(value):,}; at most {MAX_ITEMS:,} are allowed"
        )
    if isinstance(value, list) and all(isinstance(v, bool | int | str) for v in value):
        return tuple(value)
    raise InvalidValueError(
        "value", value, "expected a string, integer, boolean, list of them, or null"
    )


def _unstructure_value(value: Value) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _structure_optional_window(converter: JsonConverter) -> Any:
    def hook(value: object, _: type) -> Window | None:
        if value is None:
            return None
        result: Window = converter.structure(value, Window)  # type: ignore[arg-type]  # a Union alias
        return result

    return hook


def configure_segments(converter: JsonConverter) -> None:
    """Register the hooks for segment rules and windows on ``converter``."""
    converter.register_structure_hook_func(lambda t: t == Value, _structure_value)
    converter.register_unstructure_hook_func(lambda t: t == Value, _unstructure_value)
    configure_tagged(converter, Window)
    converter.register_structure_hook_func(
        lambda t: t == Window | None, _structure_optional_window(converter)
    )
    converter.register_unstructure_hook_func(lambda t: t == Window | None, converter.unstructure)
    configure_tagged(converter, Rule)
