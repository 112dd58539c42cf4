"""cattrs hooks for the lifecycle types (private; use :mod:`crmcore.serialization`).

- A :class:`~crmcore.lifecycle.workflow.Workflow` is written without its
  guard and effect functions (code is not data) and with plain-string
  states; ``structure(data, Workflow)`` reads a host pipeline with string
  states, ``structure(data, Workflow[Lead, LeadStatus])`` reads enum states.
  A definition that is wrong is reported with every problem.
- A :class:`~crmcore.lifecycle.business_calendar.BusinessCalendar` uses the
  format of the shipped calendar files.
- Durations (``datetime.timedelta``) are ISO 8601 time durations: ``"PT8H"``,
  ``"PT1H30M"``, ``"PT0.5S"``; days are written as hours (``"PT24H"``),
  because a business day is not 24 hours.
- Time rules are a tagged union with a ``"type"`` key.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cattrs.gen import make_dict_structure_fn, override
from cattrs.preconf.json import JsonConverter

from crmcore.errors import InvalidValueError
from crmcore.lifecycle.business_calendar import BusinessCalendar
from crmcore.lifecycle.rules import TimeRule
from crmcore.lifecycle.workflow import State, Transition, Workflow
from crmcore.serialization._domain import configure_tagged

__all__ = ["configure_lifecycle"]

_DURATION = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,6})?)S)?")


def _unstructure_duration(value: dt.timedelta) -> str:
    micros = value // dt.timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    seconds, micro = divmod(abs(micros), 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = ""
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or micro or not text:
        text += f"{secs}.{micro:06d}".rstrip("0").rstrip(".") + "S"
    return f"{sign}PT{text}"


def _structure_duration(value: object, _: type) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    text = value if isinstance(value, str) else ""
    negative = text.startswith("-")
    match = _DURATION.fullmatch(text.removeprefix("-"))
    if match is None or not any(match.groups()):
        raise InvalidValueError(
            "duration", value, "expected an ISO 8601 time duration such as PT8H or PT1H30M"
        )
    hours, minutes, seconds = match.groups()
    duration = dt.timedelta(
        hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(Decimal(seconds or 0))
    )
    return -duration if negative else duration


def _name(value: object) -> str:
    return str(value)


def _unstructure_state(state: State[Any]) -> dict[str, Any]:
    return {
        "name": _name(state.name),
        "label": state.label,
        "initial": state.initial,
        "final": state.final,
        "probability": None if state.probability is None else str(state.probability),
        "forecast": None if state.forecast is None else state.forecast.value,
    }


def _unstructure_transition(transition: Transition[Any]) -> dict[str, Any]:
    return {
        "name": transition.name,
        "sources": [_name(s) for s in transition.sources],
        "target": _name(transition.target),
        "regress": transition.regress,
        "requires_reason": transition.requires_reason,
        "guards": list(transition.guards),
        "effects": list(transition.effects),
        "label": transition.label,
    }


def _unstructure_workflow(workflow: Workflow[Any, Any]) -> dict[str, Any]:
    return {
        "name": workflow.name,
        "entity": workflow.entity,
        "attribute": workflow.attribute,
        "policy": workflow.policy.value,
        "states": [_unstructure_state(s) for s in workflow.states],
        "transitions": [_unstructure_transition(t) for t in workflow.transitions],
    }


def _is_generic_of(cls: type[Any]) -> Callable[[Any], bool]:
    return lambda tp: tp is cls or typing.get_origin(tp) is cls


def _workflow_structure(converter: JsonConverter) -> Callable[[Any], Callable[[object, type], Any]]:
    def factory(tp: Any) -> Callable[[object, type], Any]:
        concrete = Workflow[Any, str] if tp is Workflow else tp
        inner = make_dict_structure_fn(
            concrete,
            converter,
            guard_functions=override(omit=True),
            effect_functions=override(omit=True),
            _cattrs_forbid_extra_keys=True,
            _cattrs_detailed_validation=True,
        )

        def hook(value: object, _: type) -> Any:
            if not isinstance(value, dict):
                raise InvalidValueError("Workflow", value, "expected an object")
            return inner(value, concrete)

        return hook

    return factory


def _generic_structure(
    converter: JsonConverter, cls: type[Any]
) -> Callable[[Any], Callable[[object, type], Any]]:
    def factory(tp: Any) -> Callable[[object, type], Any]:
        concrete = cls[str] if tp is cls else tp
        inner = make_dict_structure_fn(
            concrete, converter, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
        )

        def hook(value: object, _: type) -> Any:
            if not isinstance(value, dict):
                raise InvalidValueError(cls.__name__, value, "expected an object")
            return inner(value, concrete)

        return hook

    return factory


def _structure_calendar(value: object, _: type) -> BusinessCalendar:
    if isinstance(value, BusinessCalendar):
        return value
    return BusinessCalendar.from_dict(value)


def configure_lifecycle(converter: JsonConverter) -> None:
    """Register the hooks for the lifecycle types on ``converter``."""
    converter.register_unstructure_hook(dt.timedelta, _unstructure_duration)
    converter.register_structure_hook(dt.timedelta, _structure_duration)
    converter.register_unstructure_hook_func(_is_generic_of(Workflow), _unstructure_workflow)
    converter.register_structure_hook_factory(
        _is_generic_of(Workflow), _workflow_structure(converter)
    )
    converter.register_unstructure_hook_func(_is_generic_of(State), _unstructure_state)
    converter.register_structure_hook_factory(
        _is_generic_of(State), _generic_structure(converter, State)
    )
    converter.register_unstructure_hook_func(_is_generic_of(Transition), _unstructure_transition)
    converter.register_structure_hook_factory(
        _is_generic_of(Transition), _generic_structure(converter, Transition)
    )
    converter.register_unstructure_hook(BusinessCalendar, BusinessCalendar.to_dict)
    converter.register_structure_hook(BusinessCalendar, _structure_calendar)
    configure_tagged(converter, TimeRule)
