"""Firing transitions: pure functions over a workflow and a record snapshot.

:func:`fire` returns the new snapshot and the
:class:`~crmcore.domain.events.StageChanged` event; it never mutates its
input. :func:`allowed` lists the moves a UI may offer; :func:`route` and
:func:`advance_to` walk several transitions at once.

The workflow reads the stage from the record's ``workflow.attribute`` and
writes it into a copy of the record; a record with an ``updated_at`` field
gets ``updated_at = at`` (and ``at`` may not be before it). Effects named by
the transition add their own changes (``closed_at``, ``lost_reason`` ...):
each is a pure function of the record as it was and the :class:`Firing`,
returning the fields to change, which go into the same copy (their
converters and validators run; later effects win on the same field).

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import enum
import random
import typing
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.events import StageChanged
from crmcore.domain.ids import UserId
from crmcore.domain.slots import compile_builder, slot_setter
from crmcore.errors import (
    ConfigurationError,
    InvalidValueError,
    TransitionNotAllowedError,
)
from crmcore.lifecycle.workflow import Effect, Firing, Guard, Transition, Workflow

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
_DateTime = pendulum.DateTime


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


def _guard_failure(guards: tuple[tuple[str, Guard[E]], ...], entity: E) -> str:
    """Return why ``guards`` (a step's) do not hold, or ``""`` when they do.

    A guard without an implementation raises ConfigurationError when it is reached.
    """
    for name, check in guards:
        if not check(entity):
            return f"guard {name} not met"
    return ""


def _guards(
    workflow: Workflow[E, S], transition: Transition[S], stage: str
) -> tuple[tuple[str, Guard[E]], ...]:
    """Return the guards of ``transition`` from ``stage``, resolved when the workflow was built."""
    return workflow._steps[(transition.name, str(stage))].guards


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
        t
        for t in workflow.transitions_from(stage)
        if not _guard_failure(_guards(workflow, t, stage), entity)
    )


def can_fire(workflow: Workflow[E, S], entity: E, transition: str) -> bool:
    """Return whether ``transition`` may be fired on ``entity`` now (given a reason if needed).

    Raises:
        InvalidValueError: If the record's stage is not a state of the workflow.
        ConfigurationError: If a guard has no implementation bound.
    """
    stage = current_stage(workflow, entity)
    found = workflow.find(transition, stage)
    return found is not None and not _guard_failure(_guards(workflow, found, stage), entity)


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
            the record's stage is not a state of the workflow, or the target
            stage is not a value of the record's stage enum (a workflow read as
            plain ``Workflow`` names its stages as text; they are turned into
            the record's enum).
        ConfigurationError: If a guard or effect has no implementation bound.
    """
    attribute = workflow.attribute
    stage = getattr(entity, attribute)
    step = workflow._steps.get((transition, stage))
    if step is None:
        raise _no_move(workflow, entity, transition)
    if step.guards:
        failure = _guard_failure(step.guards, entity)
        if failure:
            raise _not_allowed(workflow, entity, stage, transition, failure)
    why = reason.strip() if reason else ""
    if not why and step.needs_reason:
        raise _not_allowed(workflow, entity, stage, transition, "a reason is required")
    when = at if at.__class__ is _DateTime and at.tzinfo is _UTC else utc(at)
    plan: _Plan | None = workflow._plans.get(entity.__class__)
    if plan is None:
        plan = workflow._plans.setdefault(entity.__class__, _plan(type(entity), attribute))
    if plan.stamped and when < entity.updated_at:  # type: ignore[attr-defined]  # stamped
        raise _too_early(entity, when)
    target: object = step.target
    if plan.stage_type is not None and target.__class__ is not plan.stage_type:
        target = _as_stage(workflow, plan.stage_type, target)
    effects = step.effects
    changes: Mapping[str, Any] | None = None
    if effects:
        firing: Firing[Any] = _make_firing(step.transition, stage, when, by, why)
        changes = (
            effects[0](entity, firing) if len(effects) == 1 else _merged(effects, entity, firing)
        )
    if plan.copy is None:
        new: E = _evolve(
            entity,
            changes,
            attribute=attribute,
            target=target,
            when=when,
            stamped=plan.stamped,
        )
    else:
        new = plan.copy(entity, target, when)
        if changes:
            _apply(new, plan, changes)
    key = entity.id  # type: ignore[attr-defined]  # every record has an id
    # Built slot by slot (the values are already what StageChanged's converter would
    # make); the property tests compare it with the one attrs' __init__ builds.
    event: StageChanged = _make_event(
        _getrandbits(128).to_bytes(16, "big").hex(),
        when,
        by,
        workflow.entity,
        key if key.__class__ is str else str(key),
        workflow.name,
        step.name,
        step.source_name if stage is step.source else str(stage),
        step.target_name,
        why,
    )
    return new, event


def _no_move(workflow: Workflow[E, S], entity: E, transition: str) -> Exception:
    """Return the error for a transition that does not exist from the record's stage."""
    stage = current_stage(workflow, entity)
    known = any(t.name == transition for t in workflow.transitions)
    return _not_allowed(workflow, entity, stage, transition, "" if known else "no such transition")


def _too_early(entity: Any, when: pendulum.DateTime) -> InvalidValueError:
    last: pendulum.DateTime = entity.updated_at
    return InvalidValueError("at", when.isoformat(), f"before the last update {last.isoformat()}")


def _merged(effects: tuple[Effect[E], ...], entity: E, firing: Firing[Any]) -> dict[str, Any]:
    """Return the fields several effects change (later effects win on a field)."""
    merged: dict[str, Any] = {}
    for effect in effects:
        merged.update(effect(entity, firing))
    return merged


def _evolve(
    entity: E,
    changes: Mapping[str, Any] | None,
    *,
    attribute: str,
    target: object,
    when: pendulum.DateTime,
    stamped: bool,
) -> E:
    """Return the new record through :func:`attrs.evolve` (every converter and validator)."""
    every: dict[str, Any] = {attribute: target}
    if stamped:
        every["updated_at"] = when
    if changes:
        every.update(changes)
    return attrs.evolve(entity, **every)  # type: ignore[misc]  # E is an attrs class


# Event ids: 32 hex digits of random.getrandbits(128), built inline in fire. random is
# seeded from the OS and reseeded in a forked child, so ids stay unique across
# processes without a system call per event; event ids need uniqueness, not secrecy.
_getrandbits = random.getrandbits


@attrs.frozen(kw_only=True)
class _Plan:
    """How to copy records of one class with a new stage.

    A workflow keeps one per record class it has fired on (``Workflow._plans``,
    the only cache: the stage attribute is the workflow's).

    ``copy`` is ``None`` when the record must go through :func:`attrs.evolve`
    (not a slotted crmcore domain class, or its stage field has a converter
    or validator). Otherwise ``copy`` duplicates every slot without rerunning
    converters or validators, ``setters`` writes single slots and ``fields``
    gives the converter and validator of a field an effect changes;
    ``direct`` holds the setters of the fields that have neither.
    ``stage_type`` is the enum the record's stage field is annotated with
    (``None`` for text stages): a workflow read without its stage type
    (plain ``Workflow``) names its targets as text, and :func:`fire` turns
    them into this enum so the record never holds a bare string.
    """

    stamped: bool
    stage_type: type[enum.Enum] | None = None
    copy: Callable[[Any, object, pendulum.DateTime], Any] | None = None
    setters: Mapping[str, Callable[[Any, Any], None]] = attrs.field(factory=dict)
    fields: Mapping[str, attrs.Attribute[Any]] = attrs.field(factory=dict)
    converters: Mapping[str, Callable[[Any], Any]] = attrs.field(factory=dict)
    validated: Mapping[str, attrs.Attribute[Any]] = attrs.field(factory=dict)
    direct: Mapping[str, Callable[[Any, Any], None]] = attrs.field(factory=dict)


def _plan(cls: type[Any], attribute: str) -> _Plan:
    """Return the copy plan for records of ``cls`` whose stage lives in ``attribute``.

    The fast copy is used only for crmcore's own domain records, whose stage
    field has neither converter nor validator and whose other invariants do
    not involve the stage; anything else goes through :func:`attrs.evolve`.
    ``tests/property/test_lifecycle_engine.py`` checks both give equal snapshots.
    """
    if not attrs.has(cls):
        return _Plan(stamped=False)
    fields = attrs.fields_dict(cls)
    stamped = "updated_at" in fields
    stage_field = fields.get(attribute)
    stage_type = _enum_type(cls, attribute)
    fast = (
        cls.__module__.startswith("crmcore.domain.")
        and "__slots__" in cls.__dict__
        and not hasattr(cls, "__attrs_post_init__")
        and stage_field is not None
        and stage_field.converter is None
        and stage_field.validator is None
    )
    converters: dict[str, Callable[[Any], Any]] = {}
    for name, field in fields.items():
        if isinstance(field.converter, attrs.Converter):
            fast = False  # takes self or the field: only attrs' own __init__ knows how to call it
        elif field.converter is not None:
            converters[name] = field.converter
    if not fast:
        return _Plan(stamped=stamped, stage_type=stage_type, fields=fields)
    setters = {name: slot_setter(cls, name) for name in fields}
    validated = {name: field for name, field in fields.items() if field.validator is not None}
    return _Plan(
        stamped=stamped,
        stage_type=stage_type,
        copy=_compile_copy(cls, tuple(fields), attribute, stamped),
        setters=setters,
        fields=fields,
        converters=converters,
        validated=validated,
        direct={
            name: setter
            for name, setter in setters.items()
            if name not in converters and name not in validated
        },
    )


def _enum_type(cls: type[Any], attribute: str) -> type[enum.Enum] | None:
    """Return the enum ``cls.attribute`` is annotated with, or ``None`` (text, unknown)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001  # an annotation that does not resolve: no coercion
        return None
    hint = hints.get(attribute)
    return hint if isinstance(hint, type) and issubclass(hint, enum.Enum) else None


def _as_stage(workflow: Workflow[Any, Any], stage_type: type[enum.Enum], target: object) -> object:
    """Return ``target`` as a member of ``stage_type`` (the record's stage enum).

    Raises:
        InvalidValueError: If ``target`` is not one of the enum's values.
    """
    try:
        return stage_type(target)
    except ValueError:
        values = ", ".join(str(member.value) for member in stage_type)
        raise InvalidValueError(
            f"{workflow.entity}.{workflow.attribute}",
            str(target),
            f"the workflow's target stage is not a {stage_type.__name__} (one of: {values})",
        ) from None


def _compile_copy(
    cls: type[Any], names: tuple[str, ...], attribute: str, stamped: bool
) -> Callable[[Any, object, pendulum.DateTime], Any]:
    """Generate ``copy(record, stage, when)``: a new instance with every slot set.

    The stage goes into ``attribute`` and ``when`` into ``updated_at`` (when
    ``stamped``); every other slot is copied from ``record``.
    """
    values = {
        name: "stage"
        if name == attribute
        else "when"
        if name == "updated_at" and stamped
        else f"e.{name}"
        for name in names
    }
    return compile_builder(cls, "e, stage, when", values)


def _positional_builder(cls: type[Any], names: tuple[str, ...]) -> Callable[..., Any]:
    """Return ``make(*values)`` building ``cls`` from one value per field, in ``names`` order.

    ``names`` is the argument order :func:`fire` passes; this raises when the
    module is imported if ``cls`` gained or lost a field.
    """
    return compile_builder(cls, ", ".join(names), {name: name for name in names})


_make_event: Final = _positional_builder(
    StageChanged,
    ("id", "at", "by", "entity", "entity_id", "workflow", "transition", "from_stage", "to_stage",
     "reason"),
)  # fmt: skip
_make_firing: Final = _positional_builder(Firing, ("transition", "source", "at", "by", "reason"))


def _apply(new: Any, plan: _Plan, changes: Mapping[str, Any]) -> None:
    """Set the fields an effect changed, running their converters, then their validators."""
    direct = plan.direct
    checked: list[str] | None = None
    for name, value in changes.items():
        set_slot = direct.get(name)
        if set_slot is not None:  # no converter, no validator
            set_slot(new, value)
            continue
        if name not in plan.fields:
            raise ConfigurationError(
                f"an effect changed {name!r}, which is not a field of {type(new).__name__}"
            )
        convert = plan.converters.get(name)
        plan.setters[name](new, value if convert is None else convert(value))
        if name in plan.validated:
            if checked is None:
                checked = []
            checked.append(name)
    if checked is not None:
        validated = plan.validated
        for name in checked:
            field = validated[name]
            field.validator(new, field, getattr(new, name))  # type: ignore[misc]  # not None


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
