"""Workflow definitions: states, transitions, named guards and effects, and a policy.

A :class:`Workflow` is data. It names the kind of record it moves
(``entity``) and the attribute of that record that holds the stage
(``attribute``: ``lifecycle_stage``, ``status``, ``stage`` ...). It is
validated when it is built: a definition that is wrong raises
:class:`~crmcore.errors.WorkflowDefinitionError` listing every problem, so it
fails at import or load time, never while firing.

The default workflows use enums for their states (``Workflow[Lead,
LeadStatus]``, checked by mypy); a host pipeline loaded from JSON uses plain
strings (``Workflow[Any, str]``). It is the same class and the same engine.

Guards and effects are *named* in the data and implemented by plain
functions bound to the workflow (``guard_functions`` / ``effect_functions``,
or :meth:`Workflow.with_guards` / :meth:`Workflow.with_effects` after loading
a definition from JSON). Functions are not part of the JSON form, nor of
equality.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Generic, Literal, NoReturn, TypeAlias, TypeVar, cast

import attrs
import pendulum

from crmcore.domain.ids import UserId
from crmcore.errors import ConfigurationError, InvalidValueError, WorkflowDefinitionError

__all__ = [
    "Effect",
    "Firing",
    "ForecastCategory",
    "Guard",
    "Policy",
    "State",
    "Transition",
    "Workflow",
]

E = TypeVar("E")
S = TypeVar("S", bound=str)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Policy(enum.StrEnum):
    """How a workflow treats moves back to an earlier stage.

    ``forward_only``: states are ordered as declared; a transition that moves
    back must be declared ``regress=True`` and then needs a reason when it is
    fired. ``free``: any declared move is fine (``regress`` still demands a
    reason).
    """

    FREE = "free"
    FORWARD_ONLY = "forward_only"


class ForecastCategory(enum.StrEnum):
    """Sales forecast category of an opportunity stage."""

    PIPELINE = "pipeline"
    BEST_CASE = "best_case"
    COMMIT = "commit"
    CLOSED = "closed"
    OMITTED = "omitted"


def _probability(
    _instance: object, _attribute: attrs.Attribute[Any], value: Decimal | None
) -> None:
    if value is not None and not Decimal(0) <= value <= Decimal(1):
        raise InvalidValueError("probability", str(value), "a win probability is between 0 and 1")


def _to_decimal(value: Decimal | str | int | None) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(value)


@attrs.frozen(kw_only=True)
class State(Generic[S]):
    """One stage of a workflow.

    Attributes:
        name: The stage as stored on the record (an enum member or a string).
        label: What to show (``"需求分析"``); defaults to the name.
        initial: Whether records start here (exactly one state is initial).
        final: Whether records stay here for good (no transition leaves it).
        probability: For sales pipelines, the default win probability (0..1).
        forecast: For sales pipelines, the forecast category of the stage.
    """

    name: S
    label: str = ""
    initial: bool = False
    final: bool = False
    probability: Decimal | None = attrs.field(
        default=None, converter=_to_decimal, validator=_probability
    )
    forecast: ForecastCategory | None = None

    @property
    def display(self) -> str:
        """The label, or the name when there is no label."""
        return self.label or str(self.name)


@attrs.frozen(kw_only=True)
class Transition(Generic[S]):
    """A named move from one of ``sources`` to ``target``.

    Attributes:
        name: What the move is called (``"qualify"``); several transitions may
            share a name if their sources do not overlap.
        sources: The states it may be fired from.
        target: The state it leads to.
        regress: Whether it is an explicit move back; it then needs a reason.
        requires_reason: Whether firing it needs a reason (lost reason, reopen reason).
        guards: Names of the guards that must all hold for it to be allowed.
        effects: Names of the effects applied to the record, in order, when it fires.
        label: What to show (``"赢单"``); defaults to the name.
    """

    name: str
    sources: tuple[S, ...]
    target: S
    regress: bool = False
    requires_reason: bool = False
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    label: str = ""

    @property
    def needs_reason(self) -> bool:
        """Whether firing this transition requires a reason."""
        return self.regress or self.requires_reason


@attrs.frozen(kw_only=True)
class Firing(Generic[S]):
    """What an effect is told about the transition being fired."""

    transition: Transition[S]
    source: S
    at: pendulum.DateTime
    by: UserId | None
    reason: str


Guard: TypeAlias = Callable[[E], bool]
"""A named condition on the record; a transition is allowed only if all its guards hold."""

Effect: TypeAlias = Callable[[E, Firing[Any]], Mapping[str, Any]]
"""A named, pure change made when a transition fires: given the record as it was
and the :class:`Firing`, return the fields to change (``{"closed_at": firing.at}``).
The engine writes them into the new snapshot, running their converters and validators."""


@attrs.frozen(kw_only=True)
class _Step(Generic[E, S]):
    """One move (a transition from one source state), resolved when the workflow is built.

    What :func:`~crmcore.lifecycle.engine.fire` needs without looking anything
    up: the names as the event carries them (``str`` of the states), the
    guards (name and function) and the effect functions, in order. A guard
    or effect without an implementation is a function that raises the
    :class:`~crmcore.errors.ConfigurationError` when it is reached: a
    definition may be built first and bound later with ``with_guards()`` /
    ``with_effects()``, which build a new workflow and so new steps.
    """

    transition: Transition[S]
    name: str
    source: S
    source_name: str
    target: S
    target_name: str
    needs_reason: bool
    guards: tuple[tuple[str, Guard[E]], ...]
    effects: tuple[Effect[E], ...]


def _steps(workflow: Workflow[E, S]) -> dict[tuple[str, str], _Step[E, S]]:
    """Return the moves of ``workflow`` by transition name and ``str`` of the source state."""
    steps: dict[tuple[str, str], _Step[E, S]] = {}
    for t in workflow.transitions:
        guards = tuple(
            (name, _implementation(workflow, t, "guard", name, workflow.guard_functions))
            for name in t.guards
        )
        effects = tuple(
            _implementation(workflow, t, "effect", name, workflow.effect_functions)
            for name in t.effects
        )
        for source in t.sources:
            steps[(t.name, str(source))] = _Step(
                transition=t,
                name=t.name,
                source=source,
                source_name=str(source),
                target=t.target,
                target_name=str(t.target),
                needs_reason=t.needs_reason,
                guards=guards,
                effects=effects,
            )
    return steps


_F = TypeVar("_F", bound=Callable[..., Any])


def _implementation(
    workflow: Workflow[E, S],
    transition: Transition[S],
    kind: Literal["guard", "effect"],
    name: str,
    functions: Mapping[str, _F],
) -> _F:
    """Return the function bound to guard or effect ``name``, or one raising that it is unbound."""
    found = functions.get(name)
    if found is not None:
        return found
    message = (
        f"workflow {workflow.name!r}: {kind} {name!r} of transition "
        f"{transition.name!r} has no implementation; bind it with with_{kind}s()"
    )

    def unbound(*_args: object) -> NoReturn:
        raise ConfigurationError(message)

    return cast(_F, unbound)


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@attrs.frozen(kw_only=True)
class Workflow(Generic[E, S]):
    """A workflow definition, validated when built.

    Attributes:
        name: The workflow's name (``"lead"``, ``"sales-team-a"``); events carry it.
        entity: The kind of record it moves (``"lead"``); events carry it.
        attribute: The record attribute holding the stage (``"status"``).
        states: Every state, in order (the order defines "forward").
        transitions: Every transition.
        policy: How moves back are treated.
        guard_functions: Implementations of the guards named by transitions.
        effect_functions: Implementations of the effects named by transitions.

    Raises:
        WorkflowDefinitionError: Listing every problem of the definition.

    >>> wf = Workflow(
    ...     name="ticket", entity="ticket", attribute="stage",
    ...     states=(State(name="open", initial=True), State(name="done", final=True)),
    ...     transitions=(Transition(name="finish", sources=("open",), target="done"),))
    >>> wf.initial.name, [t.name for t in wf.transitions_from("open")]
    ('open', ['finish'])
    >>> try:
    ...     Workflow(
    ...         name="broken", entity="ticket", attribute="stage",
    ...         states=(State(name="open"), State(name="done", final=True)),
    ...         transitions=(Transition(name="finish", sources=("done",), target="open"),))
    ... except WorkflowDefinitionError as exc:
    ...     for problem in exc.problems:
    ...         print(problem)
    expected exactly one initial state, found none
    transition 'finish' leaves final state 'done'
    """

    name: str
    entity: str
    attribute: str
    states: tuple[State[S], ...]
    transitions: tuple[Transition[S], ...]
    policy: Policy = Policy.FREE
    guard_functions: Mapping[str, Guard[E]] = attrs.field(
        factory=_empty, converter=_frozen_mapping, eq=False, repr=False
    )
    effect_functions: Mapping[str, Effect[E]] = attrs.field(
        factory=_empty, converter=_frozen_mapping, eq=False, repr=False
    )
    _states_by_name: Mapping[str, State[S]] = attrs.field(
        init=False, eq=False, repr=False, alias="_states_by_name"
    )
    _rank: Mapping[str, int] = attrs.field(init=False, eq=False, repr=False, alias="_rank")
    _moves: Mapping[tuple[str, str], Transition[S]] = attrs.field(
        init=False, eq=False, repr=False, alias="_moves"
    )
    _exits: Mapping[str, tuple[Transition[S], ...]] = attrs.field(
        init=False, eq=False, repr=False, alias="_exits"
    )
    _steps: dict[tuple[str, str], _Step[E, S]] = attrs.field(
        init=False, eq=False, repr=False, alias="_steps"
    )
    # The engine's one plan cache: a copy plan per record class (for this workflow's
    # attribute), filled as it fires; it goes with the workflow.
    _plans: dict[type[Any], Any] = attrs.field(init=False, eq=False, repr=False, alias="_plans")

    def __attrs_post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise WorkflowDefinitionError(self.name, problems)
        by_name = {str(s.name): s for s in self.states}
        moves: dict[tuple[str, str], Transition[S]] = {}
        exits: dict[str, list[Transition[S]]] = {name: [] for name in by_name}
        for t in self.transitions:
            for source in t.sources:
                moves[(t.name, str(source))] = t
                exits[str(source)].append(t)
        object.__setattr__(self, "_states_by_name", MappingProxyType(by_name))
        object.__setattr__(
            self, "_rank", MappingProxyType({str(s.name): i for i, s in enumerate(self.states)})
        )
        object.__setattr__(self, "_moves", MappingProxyType(moves))
        object.__setattr__(self, "_steps", _steps(self))
        object.__setattr__(self, "_plans", {})
        object.__setattr__(
            self, "_exits", MappingProxyType({k: tuple(v) for k, v in exits.items()})
        )

    @property
    def initial(self) -> State[S]:
        """The initial state."""
        return next(s for s in self.states if s.initial)

    @property
    def finals(self) -> tuple[State[S], ...]:
        """The final states, in declaration order."""
        return tuple(s for s in self.states if s.final)

    @property
    def guard_names(self) -> frozenset[str]:
        """Every guard name any transition uses."""
        return frozenset(g for t in self.transitions for g in t.guards)

    @property
    def effect_names(self) -> frozenset[str]:
        """Every effect name any transition uses."""
        return frozenset(e for t in self.transitions for e in t.effects)

    def state(self, name: str) -> State[S]:
        """Return the state called ``name``.

        Raises:
            KeyError: If there is no such state.
        """
        return self._states_by_name[str(name)]

    def has_state(self, name: str) -> bool:
        """Return whether the workflow has a state called ``name``."""
        return str(name) in self._states_by_name

    def rank(self, name: str) -> int:
        """Return the position of state ``name`` in declaration order (the forward order)."""
        return self._rank[str(name)]

    def transitions_from(self, state: str) -> tuple[Transition[S], ...]:
        """Return every transition declared from ``state`` (guards not evaluated)."""
        return self._exits.get(str(state), ())

    def find(self, transition: str, state: str) -> Transition[S] | None:
        """Return the transition called ``transition`` from ``state``, if there is one."""
        return self._moves.get((transition, str(state)))

    def with_guards(self, **guards: Guard[E]) -> Workflow[E, S]:
        """Return a copy with guard implementations bound (added or replaced).

        Raises:
            WorkflowDefinitionError: If a name is not used by any transition.
        """
        return attrs.evolve(self, guard_functions={**self.guard_functions, **guards})

    def with_effects(self, **effects: Effect[E]) -> Workflow[E, S]:
        """Return a copy with effect implementations bound (added or replaced).

        Raises:
            WorkflowDefinitionError: If a name is not used by any transition.
        """
        return attrs.evolve(self, effect_functions={**self.effect_functions, **effects})


def _problems(wf: Workflow[Any, Any]) -> list[str]:
    problems: list[str] = []
    if not isinstance(wf.name, str) or not wf.name.strip():
        problems.append("the workflow needs a name")
    if not isinstance(wf.entity, str) or not wf.entity.strip():
        problems.append("the workflow needs an entity kind")
    if not isinstance(wf.attribute, str) or not _ATTRIBUTE.fullmatch(wf.attribute):
        problems.append(f"attribute {wf.attribute!r} is not an attribute name")
    names = [str(s.name) for s in wf.states]
    problems.extend(_state_problems(wf, names))
    known = set(names)
    finals = {str(s.name) for s in wf.states if s.final}
    problems.extend(_transition_problems(wf, known, finals))
    if problems:
        return problems
    problems.extend(_reachability_problems(wf, names, finals))
    problems.extend(_binding_problems(wf))
    return problems


def _state_problems(wf: Workflow[Any, Any], names: list[str]) -> Iterable[str]:
    if not names:
        yield "the workflow has no states"
    for name in names:
        if not name.strip():
            yield "a state has an empty name"
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        yield f"states listed twice: {', '.join(twice)}"
    initials = [str(s.name) for s in wf.states if s.initial]
    if len(initials) != 1:
        found = ", ".join(initials) if initials else "none"
        yield f"expected exactly one initial state, found {found}"


def _transition_problems(
    wf: Workflow[Any, Any], known: set[str], finals: set[str]
) -> Iterable[str]:
    seen: dict[tuple[str, str], str] = {}
    for t in wf.transitions:
        if not _NAME.fullmatch(t.name):
            yield f"transition name {t.name!r} is not a name (letters, digits, _ and -)"
        if not t.sources:
            yield f"transition {t.name!r} has no source state"
        if str(t.target) not in known:
            yield f"transition {t.name!r} leads to unknown state {str(t.target)!r}"
        for source in t.sources:
            src = str(source)
            if src not in known:
                yield f"transition {t.name!r} starts from unknown state {src!r}"
                continue
            if src in finals:
                yield f"transition {t.name!r} leaves final state {src!r}"
            key = (t.name, src)
            if key in seen:
                yield f"transition {t.name!r} is ambiguous from state {src!r}"
            seen[key] = str(t.target)
        if len(set(t.sources)) != len(t.sources):
            yield f"transition {t.name!r} lists a source twice"
    if wf.policy is Policy.FORWARD_ONLY:
        yield from _direction_problems(wf, known)


def _direction_problems(wf: Workflow[Any, Any], known: set[str]) -> Iterable[str]:
    rank = {str(s.name): i for i, s in enumerate(wf.states)}
    for t in wf.transitions:
        target = str(t.target)
        if target not in known:
            continue
        backward = [str(s) for s in t.sources if str(s) in known and rank[target] < rank[str(s)]]
        forward = [str(s) for s in t.sources if str(s) in known and rank[target] >= rank[str(s)]]
        if backward and not t.regress:
            yield (
                f"transition {t.name!r} moves back from {', '.join(backward)} to {target} "
                "in a forward_only workflow; declare it regress"
            )
        if backward and forward:
            yield f"transition {t.name!r} mixes forward and backward moves; split it"
        if t.regress and not backward:
            yield f"transition {t.name!r} is declared regress but moves forward"


def _reachability_problems(
    wf: Workflow[Any, Any], names: list[str], finals: set[str]
) -> Iterable[str]:
    start = next(str(s.name) for s in wf.states if s.initial)
    exits: dict[str, set[str]] = {n: set() for n in names}
    for t in wf.transitions:
        for source in t.sources:
            exits[str(source)].add(str(t.target))
    reached = {start}
    queue = deque([start])
    while queue:
        for nxt in exits[queue.popleft()]:
            if nxt not in reached:
                reached.add(nxt)
                queue.append(nxt)
    unreachable = [n for n in names if n not in reached]
    if unreachable:
        yield f"states not reachable from {start}: {', '.join(unreachable)}"
    stuck = [n for n in names if n not in finals and not exits[n]]
    if stuck:
        yield f"states with no way out that are not final: {', '.join(stuck)}"


def _binding_problems(wf: Workflow[Any, Any]) -> Iterable[str]:
    unused_guards = sorted(set(wf.guard_functions) - wf.guard_names)
    if unused_guards:
        yield f"guards bound but used by no transition: {', '.join(unused_guards)}"
    unused_effects = sorted(set(wf.effect_functions) - wf.effect_names)
    if unused_effects:
        yield f"effects bound but used by no transition: {', '.join(unused_effects)}"
