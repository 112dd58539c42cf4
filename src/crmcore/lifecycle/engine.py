"""Firing transitions: pure functions over a workflow and a record snapshot.

:func:`fire` returns the new snapshot and the
:class:`~crmcore.domain.events.StageChanged` event; it never mutates its
input. :func:`allowed` lists the moves a UI may offer; :func:`route` and
:func:`advance_to` walk several transitions at once.

The workflow reads the stage from the record's ``workflow.attribute`` and
writes it with :func:`attrs.evolve`; a record with an ``updated_at`` field
gets ``updated_at = at`` (and ``at`` may not be before it). Effects named by
the transition then apply their own changes (``closed_at``, ``lost_reason``
...), each a pure function of the record and the :class:`Firing`.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, TypeVar

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.events import StageChanged
from crmcore.domain.ids import EventId, UserId
from crmcore.errors import (
    ConfigurationError,
    InvalidValueError,
    TransitionNotAllowedError,
)
from crmcore.lifecycle.workflow import Firing, Transition, Workflow

__all__ = [
    "advance_to",
    "allowed",
    "can_fire",
    "current_stage",
    "fire",
    "route",
]

E = TypeVar("E")
S = TypeVar("S", bound=str)

_UTC = pendulum.UTC


def current_stage(workflow: Workflow[E, S], entity: E) -> S:
    """Return the stage ``entity`` is in, as the workflow's state type.

    Raises:
        InvalidValueError: If the record's stage is not a state of the workflow.
    """
    value = getattr(entity, workflow.attribute)
    if not workflow.has_state(value):
        raise InvalidValueError(
            f"{workflow.entity}.{workflow.attribute}",
            value,
            f"not a state of workflow {workflow.name!r}",
        )
    return workflow.state(value).name


def _guard_failure(workflow: Workflow[E, S], transition: Transition[S], entity: E) -> str:
    """Return why the guards of ``transition`` do not hold, or ``""`` when they do."""
    for name in transition.guards:
        check = workflow.guard_functions.get(name)
        if check is None:
            raise ConfigurationError(
                f"workflow {workflow.name!r}: guard {name!r} of transition "
                f"{transition.name!r} has no implementation; bind it with with_guards()"
            )
        if not check(entity):
            return f"guard {name} not met"
    return ""


def allowed(workflow: Workflow[E, S], entity: E) -> tuple[Transition[S], ...]:
    """Return the transitions that may be fired on ``entity`` now (guards evaluated).

    Transitions that need a reason are included: the reason is an argument
    of :func:`fire`, not a property of the record.

    Raises:
        InvalidValueError: If the record's stage is not a state of the workflow.
        ConfigurationError: If a guard has no implementation bound.
    """
    stage = current_stage(workflow, entity)
    return tuple(
        t for t in workflow.transitions_from(stage) if not _guard_failure(workflow, t, entity)
    )


def can_fire(workflow: Workflow[E, S], entity: E, transition: str) -> bool:
    """Return whether ``transition`` may be fired on ``entity`` now (given a reason if needed).

    Raises:
        InvalidValueError: If the record's stage is not a state of the workflow.
        ConfigurationError: If a guard has no implementation bound.
    """
    stage = current_stage(workflow, entity)
    found = workflow.find(transition, stage)
    return found is not None and not _guard_failure(workflow, found, entity)


def _not_allowed(
    workflow: Workflow[E, S], entity: E, stage: S, transition: str, why: str
) -> TransitionNotAllowedError:
    names = sorted({t.name for t in allowed(workflow, entity)})
    return TransitionNotAllowedError(workflow.name, transition, str(stage), names, why)


def fire(
    workflow: Workflow[E, S],
    entity: E,
    transition: str,
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    reason: str = "",
) -> tuple[E, StageChanged]:
    """Fire ``transition`` on ``entity``; return the new snapshot and its event.

    Args:
        workflow: The workflow that governs the record.
        entity: The record (an attrs instance with an ``id``).
        transition: The name of the transition to fire.
        at: When it happens (aware; stored in UTC).
        by: Who fires it.
        reason: Why; required by regress transitions and those declaring
            ``requires_reason`` (lost reason, reopen reason).

    Returns:
        The new record, in the target stage with effects applied, and the
        :class:`~crmcore.domain.events.StageChanged` event.

    Raises:
        TransitionNotAllowedError: If the transition does not exist from the
            current stage, a guard does not hold, or a required reason is missing;
            the message names the moves that are allowed.
        InvalidValueError: If ``at`` is naive or before the record's last update,
            or the record's stage is not a state of the workflow.
        ConfigurationError: If a guard or effect has no implementation bound.
    """
    stage = getattr(entity, workflow.attribute)
    found = workflow.find(transition, stage)
    if found is None:
        stage = current_stage(workflow, entity)
        known = any(t.name == transition for t in workflow.transitions)
        raise _not_allowed(
            workflow, entity, stage, transition, "" if known else "no such transition"
        )
    if found.guards:
        failure = _guard_failure(workflow, found, entity)
        if failure:
            raise _not_allowed(workflow, entity, stage, transition, failure)
    why = reason.strip() if reason else ""
    if not why and found.needs_reason:
        raise _not_allowed(workflow, entity, stage, transition, "a reason is required")
    when = at if at.__class__ is pendulum.DateTime and at.tzinfo is _UTC else utc(at)
    new = _with_stage(entity, workflow.attribute, found.target, when)
    if found.effects:
        firing = Firing(transition=found, source=stage, at=when, by=by, reason=why)
        for name in found.effects:
            effect = workflow.effect_functions.get(name)
            if effect is None:
                raise ConfigurationError(
                    f"workflow {workflow.name!r}: effect {name!r} of transition "
                    f"{found.name!r} has no implementation; bind it with with_effects()"
                )
            new = effect(new, firing)
    event = StageChanged(
        id=EventId(os.urandom(16).hex()),
        entity=workflow.entity,
        entity_id=str(entity.id),  # type: ignore[attr-defined]  # every record has an id
        workflow=workflow.name,
        transition=found.name,
        from_stage=str(stage),
        to_stage=str(found.target),
        reason=why,
        at=when,
        by=by,
    )
    return new, event


def _plan(cls: type[Any], attribute: str) -> tuple[bool, tuple[str, ...]]:
    """Return whether ``cls`` has ``updated_at`` and the field names a fast copy may set.

    The fast copy (no converters or validators rerun) is used only for
    crmcore's own domain records, whose stage field has neither and whose
    other invariants do not involve the stage; anything else goes through
    :func:`attrs.evolve`. ``tests/property/test_lifecycle_engine.py`` checks
    both give equal snapshots.
    """
    key = (cls, attribute)
    known = _PLANS.get(key)
    if known is not None:
        return known
    if not attrs.has(cls):
        return _PLANS.setdefault(key, (False, ()))
    fields = attrs.fields_dict(cls)
    stamped = "updated_at" in fields
    stage_field = fields.get(attribute)
    fast = (
        cls.__module__.startswith("crmcore.domain.")
        and "__slots__" in cls.__dict__
        and stage_field is not None
        and stage_field.converter is None
        and stage_field.validator is None
    )
    return _PLANS.setdefault(key, (stamped, tuple(fields) if fast else ()))


_PLANS: dict[tuple[type[Any], str], tuple[bool, tuple[str, ...]]] = {}


def _with_stage(entity: E, attribute: str, stage: object, when: pendulum.DateTime) -> E:
    cls = type(entity)
    stamped, names = _plan(cls, attribute)
    changes: dict[str, Any] = {attribute: stage}
    if stamped:
        last: pendulum.DateTime = entity.updated_at  # type: ignore[attr-defined]  # has the field
        if when < last:
            raise InvalidValueError(
                "at", when.isoformat(), f"before the last update {last.isoformat()}"
            )
        changes["updated_at"] = when
    if not names:
        return attrs.evolve(entity, **changes)  # type: ignore[misc]  # E is an attrs class
    new = cls.__new__(cls)
    for name in names:
        _set(new, name, changes[name] if name in changes else getattr(entity, name))
    return new


_set = object.__setattr__


def route(workflow: Workflow[E, S], source: S, target: S) -> tuple[Transition[S], ...]:
    """Return the shortest sequence of transitions from ``source`` to ``target``.

    Routes made only of transitions that need no reason are preferred (a
    forward route is never replaced by a detour through ``lost`` and
    ``reopen``); guards are not evaluated (they depend on the record); ties
    are broken by declaration order. An empty tuple means ``source == target``.

    Raises:
        InvalidValueError: If ``target`` cannot be reached from ``source``.
    """
    if str(source) == str(target):
        return ()
    plain = _shortest(workflow, str(source), str(target), reasonless=True)
    found = plain if plain is not None else _shortest(workflow, str(source), str(target))
    if found is None:
        raise InvalidValueError(
            "target", str(target), f"not reachable from {source} in workflow {workflow.name!r}"
        )
    return found


def _shortest(
    workflow: Workflow[E, S], source: str, target: str, *, reasonless: bool = False
) -> tuple[Transition[S], ...] | None:
    previous: dict[str, tuple[str, Transition[S]]] = {}
    queue = deque([source])
    seen = {source}
    while queue:
        state = queue.popleft()
        for t in workflow.transitions_from(state):
            nxt = str(t.target)
            if nxt in seen or (reasonless and t.needs_reason):
                continue
            seen.add(nxt)
            previous[nxt] = (state, t)
            if nxt == target:
                steps: list[Transition[S]] = []
                cursor = nxt
                while cursor != source:
                    cursor, step = previous[cursor]
                    steps.append(step)
                return tuple(reversed(steps))
            queue.append(nxt)
    return None


def advance_to(
    workflow: Workflow[E, S],
    entity: E,
    target: S,
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    reason: str = "",
) -> tuple[E, tuple[StageChanged, ...]]:
    """Fire the shortest route of transitions that brings ``entity`` to ``target``.

    Every step is fired with the same ``at``, ``by`` and ``reason`` and
    yields its own event; nothing happens when the record is already there.

    Raises:
        InvalidValueError: If ``target`` cannot be reached from the current stage.
        TransitionNotAllowedError: If a step is not allowed (a guard, a missing reason).
    """
    events: list[StageChanged] = []
    for step in route(workflow, current_stage(workflow, entity), target):
        entity, event = fire(workflow, entity, step.name, at=at, by=by, reason=reason)
        events.append(event)
    return entity, tuple(events)
