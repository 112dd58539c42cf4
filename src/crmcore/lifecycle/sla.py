"""Service-level agreements for cases: targets in business time, deadlines and status.

An :class:`SlaPolicy` holds first-response and resolution targets per case
severity (and optionally per customer tier), in *business* time of a
:class:`~crmcore.lifecycle.business_calendar.BusinessCalendar`. The clock is paused
while the case waits on the customer (the case's ``waiting`` periods).

:func:`deadline` says when each target falls due; :func:`status` says, at a
given instant, whether each target is on track, at risk, breached or met.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Final, Protocol

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.case import Case, Severity, WaitingPeriod
from crmcore.domain.customer import Tier
from crmcore.domain.ids import CaseId
from crmcore.errors import ConfigurationError, InvalidValueError
from crmcore.lifecycle.business_calendar import BusinessCalendar, Interval

__all__ = [
    "DEFAULT_SLA_POLICY",
    "CaseClock",
    "CaseSla",
    "Deadlines",
    "SlaPolicy",
    "SlaState",
    "SlaTarget",
    "TargetStatus",
    "deadline",
    "paused_periods",
    "status",
]


class SlaState(enum.StrEnum):
    """Where a case stands against one target."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"


_SEVERITY_ORDER: Final = {
    SlaState.MET: 0,
    SlaState.ON_TRACK: 1,
    SlaState.AT_RISK: 2,
    SlaState.BREACHED: 3,
}


def _positive_duration(
    _instance: object, attribute: attrs.Attribute[dt.timedelta], value: dt.timedelta
) -> None:
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise InvalidValueError(attribute.name, str(value), "a positive duration")


@attrs.frozen(kw_only=True)
class SlaTarget:
    """First-response and resolution targets (business time) for a severity, maybe a tier.

    A target without a ``tier`` applies to every tier that has none of its own.
    """

    severity: Severity = attrs.field(converter=Severity)
    tier: Tier | None = None
    first_response: dt.timedelta = attrs.field(validator=_positive_duration)
    resolution: dt.timedelta = attrs.field(validator=_positive_duration)


def _ratio(_instance: object, _attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not Decimal(0) < value < Decimal(1):
        raise InvalidValueError("at_risk_ratio", str(value), "a fraction between 0 and 1")


def _unique_targets(
    _instance: object,
    _attribute: attrs.Attribute[tuple[SlaTarget, ...]],
    value: tuple[SlaTarget, ...],
) -> None:
    keys = [(t.severity, t.tier) for t in value]
    twice = sorted({f"{s}/{t or '*'}" for s, t in keys if keys.count((s, t)) > 1})
    if twice:
        raise InvalidValueError("targets", twice, "one target per severity and tier")


@attrs.frozen(kw_only=True)
class SlaPolicy:
    """SLA targets per severity/tier, and when a running target counts as at risk.

    Attributes:
        name: The policy's name.
        targets: The targets; one per (severity, tier).
        at_risk_ratio: The share of a target's business time that, once used,
            makes it at risk (``0.75``: three quarters gone).
    """

    name: str
    targets: tuple[SlaTarget, ...] = attrs.field(validator=_unique_targets)
    at_risk_ratio: Decimal = attrs.field(
        default=Decimal("0.75"), converter=Decimal, validator=_ratio
    )

    def target_for(self, severity: Severity, tier: Tier | None = None) -> SlaTarget:
        """Return the target for ``severity`` and ``tier`` (falling back to the tier-less one).

        Raises:
            ConfigurationError: If the policy has no target for the severity.
        """
        fallback = None
        for target in self.targets:
            if target.severity is severity and target.tier is tier and tier is not None:
                return target
            if target.severity is severity and target.tier is None:
                fallback = target
        if fallback is None:
            raise ConfigurationError(f"SLA policy {self.name!r} has no target for {severity}")
        return fallback


_H = dt.timedelta(hours=1)

DEFAULT_SLA_POLICY: Final = SlaPolicy(
    name="default",
    targets=(
        SlaTarget(severity=Severity.CRITICAL, first_response=1 * _H, resolution=8 * _H),
        SlaTarget(severity=Severity.HIGH, first_response=4 * _H, resolution=16 * _H),
        SlaTarget(severity=Severity.MEDIUM, first_response=8 * _H, resolution=40 * _H),
        SlaTarget(severity=Severity.LOW, first_response=16 * _H, resolution=80 * _H),
    ),
)
"""Business-hour targets (first response / resolution).

Critical 1 h / 8 h, high 4 h / 16 h, medium 8 h / 40 h, low 16 h / 80 h.
"""


@attrs.frozen(kw_only=True)
class Deadlines:
    """When a case's targets fall due.

    A deadline is ``None`` while the case waits on the customer and the
    target was not yet due when the wait began: the clock is stopped and
    the deadline moves with the wait (give ``at=`` to assume it ends then).
    """

    first_response: pendulum.DateTime | None
    resolution: pendulum.DateTime | None
    waiting_since: pendulum.DateTime | None = None


@attrs.frozen(kw_only=True)
class TargetStatus:
    """One target of a case at one instant."""

    target: str
    state: SlaState
    deadline: pendulum.DateTime
    remaining: dt.timedelta
    """Business time left before the deadline (zero once it has passed)."""


@attrs.frozen(kw_only=True)
class CaseSla:
    """Both targets of a case at one instant; ``state`` is the worse of the two."""

    case_id: CaseId
    at: pendulum.DateTime
    first_response: TargetStatus
    resolution: TargetStatus
    paused: bool

    @property
    def state(self) -> SlaState:
        """The worse state of the two targets (breached > at risk > on track > met)."""
        return max(
            (self.first_response.state, self.resolution.state), key=_SEVERITY_ORDER.__getitem__
        )


class CaseClock(Protocol):
    """What :func:`status` reads of a case: a :class:`~crmcore.domain.Case` is one.

    Stores that judge many cases at once (``uow.time_rules``) pass a lighter value
    read from their columns, without building the whole case.
    """

    @property
    def id(self) -> CaseId:
        """The case's id."""
        ...

    @property
    def severity(self) -> Severity:
        """The case's severity (which target applies)."""
        ...

    @property
    def opened_at(self) -> pendulum.DateTime:
        """When the case was opened (the clocks start)."""
        ...

    @property
    def first_response_at(self) -> pendulum.DateTime | None:
        """When the first response was given, if it was."""
        ...

    @property
    def resolved_at(self) -> pendulum.DateTime | None:
        """When the case was resolved, if it was."""
        ...

    @property
    def closed_at(self) -> pendulum.DateTime | None:
        """When the case was closed, if it was."""
        ...

    @property
    def waiting(self) -> Sequence[WaitingPeriod]:
        """The periods the case waited on the customer, in order."""
        ...


def _pauses(case: CaseClock, until: pendulum.DateTime | None) -> list[Interval]:
    closed = [(p.start, p.end) for p in case.waiting if p.end is not None]
    if until is not None and case.waiting and case.waiting[-1].end is None:
        start = case.waiting[-1].start
        closed.append((start, max(start, until)))
    return closed


def _due(
    case: Case,
    budget: dt.timedelta,
    calendar: BusinessCalendar,
    at: pendulum.DateTime | None,
) -> pendulum.DateTime | None:
    due = calendar.add_business_time(case.opened_at, budget, paused=_pauses(case, at))
    open_wait = case.waiting[-1].start if case.waiting and case.waiting[-1].end is None else None
    if at is None and open_wait is not None and due > open_wait:
        return None
    return due


def deadline(
    case: Case,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    *,
    tier: Tier | None = None,
    at: pendulum.DateTime | None = None,
) -> Deadlines:
    """Return the first-response and resolution deadlines of ``case``.

    Args:
        case: The case; its ``waiting`` periods pause the clock.
        policy: The SLA policy.
        calendar: The business calendar targets are counted in.
        tier: The customer's tier, when the policy has per-tier targets.
        at: For a case waiting right now, assume the wait ends at ``at``.

    Returns:
        The deadlines; see :class:`Deadlines` for when one is ``None``.

    Raises:
        ConfigurationError: If the policy has no target for the case's severity.
    """
    target = policy.target_for(case.severity, tier)
    when = utc(at) if at is not None else None
    waiting = case.waiting[-1].start if case.waiting and case.waiting[-1].end is None else None
    return Deadlines(
        first_response=_due(case, target.first_response, calendar, when),
        resolution=_due(case, target.resolution, calendar, when),
        waiting_since=waiting,
    )


def status(
    case: CaseClock,
    *,
    at: pendulum.DateTime,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    tier: Tier | None = None,
) -> CaseSla:
    """Return where ``case`` stands against its SLA targets at ``at``.

    ``case`` is a :class:`~crmcore.domain.Case`, or any :class:`CaseClock`.

    A target that was done (first response given, case resolved — or
    closed without resolution) is met or breached for good; a running one
    is breached once ``at`` is past its deadline, at risk once
    ``policy.at_risk_ratio`` of its business time is used, else on track.

    Raises:
        ConfigurationError: If the policy has no target for the case's severity.
    """
    when = utc(at)
    target = policy.target_for(case.severity, tier)
    done_resolution = case.resolved_at if case.resolved_at is not None else case.closed_at
    pairs = (
        ("first_response", target.first_response, case.first_response_at),
        ("resolution", target.resolution, done_resolution),
    )
    statuses = [
        _target_status(
            case, name, budget=budget, done=done, at=when, policy=policy, calendar=calendar
        )
        for name, budget, done in pairs
    ]
    paused = bool(case.waiting) and case.waiting[-1].end is None
    return CaseSla(
        case_id=case.id,
        at=when,
        first_response=statuses[0],
        resolution=statuses[1],
        paused=paused,
    )


def _target_status(
    case: CaseClock,
    name: str,
    *,
    budget: dt.timedelta,
    done: pendulum.DateTime | None,
    at: pendulum.DateTime,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
) -> TargetStatus:
    until = done if done is not None else at
    pauses = _pauses(case, until)
    due = calendar.add_business_time(case.opened_at, budget, paused=pauses)
    if done is not None:
        state = SlaState.MET if done <= due else SlaState.BREACHED
        return TargetStatus(target=name, state=state, deadline=due, remaining=dt.timedelta(0))
    remaining = calendar.business_time_between(at, due, paused=pauses)
    if at > due:
        state = SlaState.BREACHED
    elif budget - remaining >= budget * float(policy.at_risk_ratio):
        state = SlaState.AT_RISK
    else:
        state = SlaState.ON_TRACK
    return TargetStatus(target=name, state=state, deadline=due, remaining=remaining)


def paused_periods(case: Case, *, at: pendulum.DateTime | None = None) -> Iterable[Interval]:
    """Return the periods the SLA clock of ``case`` was paused (an open wait ends at ``at``)."""
    return tuple(_pauses(case, utc(at) if at is not None else None))
