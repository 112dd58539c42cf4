"""Time rules: what is due at a given instant, as data for the host to deliver.

:func:`due_actions` looks at a :class:`RuleSnapshot` of records and returns
:class:`DueAction` values: remind a supervisor of an overdue follow-up
(超过3天未跟进自动提醒主管), escalate a case whose SLA is at risk or
breached, recycle an idle lead, send a satisfaction survey after a case
closed. The rules are data (:class:`FollowUpOverdue`, :class:`SlaEscalation`,
:class:`LeadIdle`, :class:`SurveyAfterClose`). Evaluation is idempotent:
every action has a deterministic id, and an id the snapshot lists as
already issued is not returned again.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final, Protocol, TypeAlias, runtime_checkable

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.activity import Activity
from crmcore.domain.case import Case
from crmcore.domain.customer import Customer, Tier
from crmcore.domain.ids import CustomerId, TeamId, UserId
from crmcore.domain.lead import Lead, LeadStatus
from crmcore.domain.opportunity import Opportunity
from crmcore.domain.order import Order
from crmcore.domain.survey import SurveyResponse
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.business_calendar import BusinessCalendar, weekday_calendar
from crmcore.lifecycle.sla import DEFAULT_SLA_POLICY, CaseClock, SlaPolicy, SlaState, status

__all__ = [
    "ACTION_ORDER",
    "DEFAULT_RULES",
    "ActionKind",
    "CustomTimeRule",
    "DueAction",
    "EscalatedCase",
    "FollowUpOverdue",
    "FollowUpSubject",
    "LeadIdle",
    "RuleSnapshot",
    "SlaEscalation",
    "SurveyAfterClose",
    "TimeRule",
    "TimeRuleShortcuts",
    "due_actions",
    "escalation_actions",
    "follow_up_action",
    "follow_up_actions",
    "idle_lead_action",
    "survey_action",
]


class ActionKind(enum.StrEnum):
    """What the host is asked to do."""

    REMIND_SUPERVISOR = "remind_supervisor"
    ESCALATE_CASE = "escalate_case"
    RECYCLE_LEAD = "recycle_lead"
    SEND_SURVEY = "send_survey"
    ARCHIVE_RECORD = "archive_record"
    ERASE_RECORD = "erase_record"


@attrs.frozen(kw_only=True)
class DueAction:
    """Something due, for the host to deliver.

    Attributes:
        id: Deterministic: the same situation always gives the same id, so
            the host can record it as issued and never send it twice.
        kind: What to do.
        rule: The rule that produced it.
        subject: The kind of record it is about (``customer``, ``case`` ...).
        subject_id: The record's id.
        recipient: Who should act (``None``: the customer, e.g. for a survey).
        customer_id: The customer concerned, when known.
        due_at: When it became due.
        reason: Why, in words.
    """

    id: str
    kind: ActionKind
    rule: str
    subject: str
    subject_id: str
    recipient: UserId | None
    customer_id: CustomerId | None
    due_at: pendulum.DateTime
    reason: str


ACTION_ORDER: Final[Callable[[DueAction], tuple[Any, ...]]] = operator.attrgetter("due_at", "id")
"""The order of due actions: by ``due_at``, then ``id`` (a sort key)."""


def _positive_days(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(attribute.name, value, "a whole number of days, at least 1")


@attrs.frozen(kw_only=True)
class FollowUpOverdue:
    """No activity on an owned customer or open opportunity for ``days`` → remind the supervisor.

    The owner's supervisor comes from the snapshot's ``supervisors``; when
    none is known the owner is reminded.
    """

    days: int = attrs.field(default=3, validator=_positive_days)
    customers: bool = True
    opportunities: bool = True


@attrs.frozen(kw_only=True)
class SlaEscalation:
    """An open case's SLA target at risk or breached → escalate to the owner's supervisor.

    An unowned case goes to the lead of the case's team (the snapshot's
    ``team_leads``), else to ``escalation_queue``; with neither the action
    has no recipient and the host decides.

    Attributes:
        policy: The SLA targets by severity and tier.
        calendar: The business hours SLA time is counted in.
        at_risk: Also escalate targets at risk, not only breached ones.
        escalation_queue: Who receives escalations of unowned cases whose team
            lead is unknown (a user or a shared queue's id), or None.
    """

    policy: SlaPolicy = DEFAULT_SLA_POLICY
    calendar: BusinessCalendar = attrs.field(factory=weekday_calendar)
    at_risk: bool = True
    escalation_queue: UserId | None = None


@attrs.frozen(kw_only=True)
class LeadIdle:
    """A lead in one of ``statuses`` untouched for ``days`` → recycle it (back to the pool)."""

    days: int = attrs.field(default=14, validator=_positive_days)
    statuses: tuple[LeadStatus, ...] = (
        LeadStatus.NEW,
        LeadStatus.CONTACTED,
        LeadStatus.QUALIFIED,
    )


@attrs.frozen(kw_only=True)
class SurveyAfterClose:
    """A case closed ``delay`` ago without a survey answer → send a satisfaction survey.

    Cases closed longer than ``expires_after`` ago are not surveyed any more.
    """

    delay: dt.timedelta = dt.timedelta(days=1)
    expires_after: dt.timedelta = dt.timedelta(days=30)


@runtime_checkable
class CustomTimeRule(Protocol):
    """A time rule defined outside this module (retention rules in :mod:`crmcore.privacy`).

    It evaluates itself: :func:`due_actions` calls :meth:`due` and treats the
    actions like its own (issued ids skipped, one action per id, sorted).
    """

    def due(self, snapshot: RuleSnapshot, at: pendulum.DateTime) -> Iterable[DueAction]:
        """Yield the actions due at ``at`` (ids deterministic, as :class:`DueAction` says)."""
        ...


TimeRule: TypeAlias = FollowUpOverdue | SlaEscalation | LeadIdle | SurveyAfterClose
"""Every kind of time rule."""

DEFAULT_RULES: Final[tuple[TimeRule, ...]] = (
    FollowUpOverdue(),
    SlaEscalation(),
    LeadIdle(),
    SurveyAfterClose(),
)
"""Follow-up after 3 days, default SLA escalation (UTC weekdays 09–17), idle leads after 14
days, surveys a day after closing. Hosts pass their own rules and calendar."""


def _frozen(value: Mapping[UserId, UserId]) -> Mapping[UserId, UserId]:
    return MappingProxyType(dict(value))


def _frozen_teams(value: Mapping[TeamId, UserId]) -> Mapping[TeamId, UserId]:
    return MappingProxyType(dict(value))


def _customers(value: Iterable[Customer]) -> tuple[Customer, ...]:
    return tuple(value)


def _opportunities(value: Iterable[Opportunity]) -> tuple[Opportunity, ...]:
    return tuple(value)


def _leads(value: Iterable[Lead]) -> tuple[Lead, ...]:
    return tuple(value)


def _cases(value: Iterable[Case]) -> tuple[Case, ...]:
    return tuple(value)


def _activities(value: Iterable[Activity]) -> tuple[Activity, ...]:
    return tuple(value)


def _responses(value: Iterable[SurveyResponse]) -> tuple[SurveyResponse, ...]:
    return tuple(value)


def _orders(value: Iterable[Order]) -> tuple[Order, ...]:
    return tuple(value)


def _ids(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@attrs.frozen(kw_only=True)
class RuleSnapshot:
    """The records time rules look at, and what was already issued.

    Attributes:
        customers: Customers (owned, active ones are followed up).
        opportunities: Opportunities (owned, open ones are followed up).
        leads: Leads.
        cases: Cases.
        activities: Activities (follow-ups) of any of the above.
        survey_responses: Survey answers (a case with an answer needs no survey).
        orders: Orders (retention rules look at them).
        supervisors: Host data: each user's supervisor (主管).
        team_leads: Host data: each team's lead, who receives the SLA
            escalations of the team's unowned cases.
        issued: Ids of actions already issued; they are not returned again.
    """

    customers: tuple[Customer, ...] = attrs.field(default=(), converter=_customers)
    opportunities: tuple[Opportunity, ...] = attrs.field(default=(), converter=_opportunities)
    leads: tuple[Lead, ...] = attrs.field(default=(), converter=_leads)
    cases: tuple[Case, ...] = attrs.field(default=(), converter=_cases)
    activities: tuple[Activity, ...] = attrs.field(default=(), converter=_activities)
    survey_responses: tuple[SurveyResponse, ...] = attrs.field(default=(), converter=_responses)
    orders: tuple[Order, ...] = attrs.field(default=(), converter=_orders)
    supervisors: Mapping[UserId, UserId] = attrs.field(
        factory=lambda: MappingProxyType({}), converter=_frozen
    )
    team_leads: Mapping[TeamId, UserId] = attrs.field(
        factory=lambda: MappingProxyType({}), converter=_frozen_teams
    )
    issued: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)


def due_actions(
    snapshot: RuleSnapshot,
    *,
    at: pendulum.DateTime,
    rules: Iterable[TimeRule | CustomTimeRule] = DEFAULT_RULES,
) -> tuple[DueAction, ...]:
    """Return every action due at ``at`` that was not issued yet, ordered by due time.

    Args:
        snapshot: The records and the ids of actions already issued.
        at: The instant to evaluate at.
        rules: The rules to apply: the built-in ones and any :class:`CustomTimeRule`
            (such as :class:`crmcore.privacy.retention.RetentionRule`).

    Returns:
        The due actions, ordered by ``due_at`` then ``id``; the same snapshot
        and instant always give the same actions with the same ids.

    Raises:
        ConfigurationError: If an SLA policy has no target for a case's severity.
    """
    when = utc(at)
    found: dict[str, DueAction] = {}
    for rule in rules:
        evaluator = _EVALUATORS.get(type(rule))
        found_here = (
            evaluator(rule, snapshot, when)
            if evaluator is not None
            else _custom(rule, snapshot, when)
        )
        for action in found_here:
            if action.id not in snapshot.issued:
                found.setdefault(action.id, action)
    return tuple(sorted(found.values(), key=ACTION_ORDER))


def _custom(rule: object, snapshot: RuleSnapshot, at: pendulum.DateTime) -> Iterable[DueAction]:
    if not isinstance(rule, CustomTimeRule):
        raise InvalidValueError("rule", type(rule).__name__, "not a time rule")
    return rule.due(snapshot, at)


def _boss(supervisors: Mapping[UserId, UserId], owner: UserId) -> tuple[UserId, str]:
    boss = supervisors.get(owner)
    if boss is None:
        return owner, _NO_BOSS
    return boss, ""


class EscalatedCase(CaseClock, Protocol):
    """What :func:`escalation_actions` reads of a case: a :class:`~crmcore.domain.Case` is one.

    The SLA clock (:class:`~crmcore.lifecycle.sla.CaseClock`) and who is concerned; the
    stores that answer the rule by queries pass a lighter value read from their columns.
    """

    @property
    def customer_id(self) -> CustomerId:
        """The customer concerned."""
        ...

    @property
    def owner(self) -> UserId | None:
        """The case's owner, if any."""
        ...

    @property
    def team(self) -> TeamId | None:
        """The case's team, if any."""
        ...

    @property
    def escalation_level(self) -> int:
        """How many times the case was escalated."""
        ...

    @property
    def is_open(self) -> bool:
        """Whether the case is not yet closed."""
        ...


def _escalation_recipient(
    rule: SlaEscalation,
    supervisors: Mapping[UserId, UserId],
    team_leads: Mapping[TeamId, UserId],
    case: EscalatedCase,
) -> tuple[UserId | None, str]:
    """Who receives an escalation of ``case``, and a note on how they were chosen.

    The owner's supervisor (or the owner); for an unowned case the lead of
    its team, else the rule's escalation queue, else nobody.
    """
    if case.owner is not None:
        return _boss(supervisors, case.owner)
    lead = team_leads.get(case.team) if case.team is not None else None
    if lead is not None:
        return lead, f" (unowned; escalated to the lead of team {case.team})"
    if rule.escalation_queue is not None:
        return rule.escalation_queue, f" (unowned; escalated to {rule.escalation_queue})"
    return None, " (unowned; no team lead or escalation queue known)"


def _last_touch(
    start: pendulum.DateTime, times: Iterable[pendulum.DateTime], at: pendulum.DateTime
) -> pendulum.DateTime:
    return max([start, *(t for t in times if t <= at)])


def _follow_ups(
    rule: FollowUpOverdue, snapshot: RuleSnapshot, at: pendulum.DateTime
) -> Iterator[DueAction]:
    quiet = dt.timedelta(days=rule.days)
    by_customer: dict[str, list[pendulum.DateTime]] = {}
    by_opportunity: dict[str, list[pendulum.DateTime]] = {}
    owner_of_opp = {o.id: o.customer_id for o in snapshot.opportunities}
    for a in snapshot.activities:
        if a.customer_id is not None:
            by_customer.setdefault(a.customer_id, []).append(a.occurred_at)
        if a.opportunity_id is not None:
            by_opportunity.setdefault(a.opportunity_id, []).append(a.occurred_at)
            customer = owner_of_opp.get(a.opportunity_id)
            if customer is not None and customer != a.customer_id:
                by_customer.setdefault(customer, []).append(a.occurred_at)
    subjects: list[tuple[str, str, UserId | None, CustomerId | None, pendulum.DateTime, Any]] = []
    if rule.customers:
        subjects.extend(
            ("customer", c.id, c.owner, c.id, c.created_at, by_customer.get(c.id, ()))
            for c in snapshot.customers
            if c.owner is not None and c.is_active
        )
    if rule.opportunities:
        subjects.extend(
            (
                "opportunity",
                o.id,
                o.owner,
                o.customer_id,
                o.created_at,
                by_opportunity.get(o.id, ()),
            )
            for o in snapshot.opportunities
            if o.owner is not None and o.is_open
        )
    due: list[FollowUpSubject] = []
    for subject, subject_id, owner, customer_id, created, times in subjects:
        if owner is None or created > at:
            continue
        last = _last_touch(created, times, at)
        if last + quiet > at:
            continue
        due.append((subject, subject_id, owner, customer_id, last))
    return follow_up_actions(rule, due, at=at, supervisors=snapshot.supervisors)


def follow_up_action(
    rule: FollowUpOverdue,
    *,
    subject: str,
    subject_id: str,
    owner: UserId,
    customer_id: CustomerId | None,
    last: pendulum.DateTime,
    at: pendulum.DateTime,
    supervisors: Mapping[UserId, UserId],
) -> DueAction:
    """Return the reminder ``rule`` makes due for a record last touched at ``last``.

    One reminder of :func:`follow_up_actions` (see there).

    Args:
        rule: The rule.
        subject: ``"customer"`` or ``"opportunity"``.
        subject_id: The record's id.
        owner: The record's owner.
        customer_id: The customer concerned.
        last: The record's last touch (its creation or latest activity up to ``at``),
            at least ``rule.days`` before ``at``.
        at: The instant of evaluation (UTC).
        supervisors: Each user's supervisor.
    """
    touched = [(subject, subject_id, owner, customer_id, last)]
    return next(follow_up_actions(rule, touched, at=at, supervisors=supervisors))


FollowUpSubject: TypeAlias = tuple[str, str, UserId, CustomerId | None, dt.datetime]
"""A record :func:`follow_up_actions` reminds of: subject kind, id, owner, customer, last touch."""


def follow_up_actions(
    rule: FollowUpOverdue,
    subjects: Iterable[FollowUpSubject],
    *,
    at: pendulum.DateTime,
    supervisors: Mapping[UserId, UserId],
) -> Iterator[DueAction]:
    """Yield the reminder ``rule`` makes due for each record of ``subjects``.

    The one place follow-up reminders are built: :func:`due_actions` and the stores
    that answer the rule by queries (``uow.time_rules``) give the same action, with
    the same id, for the same record. Built for tens of thousands of reminders (a
    million-customer store): the last touch may be any aware datetime (a driver's
    value as it comes), and the instants are handled as plain UTC datetimes, with
    one ``pendulum.DateTime`` built per reminder (its ``due_at``).

    Args:
        rule: The rule.
        subjects: ``(subject, subject_id, owner, customer_id, last)`` per record:
            ``"customer"`` or ``"opportunity"``, the record's id, its owner, the customer
            concerned, and its last touch (its creation or latest activity up to ``at``,
            at least ``rule.days`` before ``at``; aware, or naive meaning UTC as the
            SQLite and MariaDB drivers give it).
        at: The instant of evaluation (UTC).
        supervisors: Each user's supervisor.
    """
    quiet = dt.timedelta(days=rule.days)
    now = _naive_utc(at)
    kind = ActionKind.REMIND_SUPERVISOR
    for subject, subject_id, owner, customer_id, last in subjects:
        touched = _naive_utc(last)
        recipient, note = _boss(supervisors, owner)
        stamp = touched.isoformat()  # its first ten characters are the date's ISO form
        yield DueAction(
            id=f"follow-up:{subject}:{subject_id}:{stamp}+00:00",
            kind=kind,
            rule="follow_up_overdue",
            subject=subject,
            subject_id=subject_id,
            recipient=recipient,
            customer_id=customer_id,
            due_at=_instant(touched + quiet),
            reason=f"no follow-up on {subject} {subject_id} (owner {owner}) for "
            f"{(now - touched).days} days since {stamp[:10]}{note}",
        )


# The reminders' instants are handled as plain naive UTC datetimes: their arithmetic and
# isoformat are C-level, pendulum's are Python-level and about ten times slower, which
# counts when a million-customer store has tens of thousands of reminders due.

_NO_BOSS: Final = " (no supervisor known; reminding the owner)"
_EPOCH: Final = pendulum.DateTime(1970, 1, 1, tzinfo=pendulum.UTC)
_NAIVE_EPOCH: Final = dt.datetime(1970, 1, 1)  # noqa: DTZ001 - UTC, with the offset taken off


def _instant(naive: dt.datetime) -> pendulum.DateTime:
    """The UTC instant of a naive UTC datetime, built by C-level arithmetic."""
    result: pendulum.DateTime = dt.datetime.__add__(_EPOCH, naive - _NAIVE_EPOCH)
    return result


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    """The UTC wall time of ``moment`` as a plain naive datetime (naive: already UTC)."""
    if moment.tzinfo is None and type(moment) is dt.datetime:
        return moment
    offset = moment.utcoffset()
    if type(moment) is dt.datetime:
        naive = moment.replace(tzinfo=None)
    else:  # a subclass (pendulum): its replace and isoformat are Python-level, ten times slower
        naive = dt.datetime(  # noqa: DTZ001 - naive on purpose: UTC once the offset is off
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
        )
    return naive - offset if offset else naive


def _escalations(
    rule: SlaEscalation, snapshot: RuleSnapshot, at: pendulum.DateTime
) -> Iterator[DueAction]:
    tiers: dict[str, Tier] = {c.id: c.tier for c in snapshot.customers}
    return escalation_actions(
        rule,
        snapshot.cases,
        at=at,
        tiers=tiers,
        supervisors=snapshot.supervisors,
        team_leads=snapshot.team_leads,
    )


def escalation_actions(
    rule: SlaEscalation,
    cases: Iterable[EscalatedCase],
    *,
    at: pendulum.DateTime,
    tiers: Mapping[str, Tier],
    supervisors: Mapping[UserId, UserId],
    team_leads: Mapping[TeamId, UserId],
) -> Iterator[DueAction]:
    """Yield the escalations ``rule`` makes due at ``at`` (UTC) for ``cases``.

    The one place escalations are decided and built: :func:`due_actions` gives it
    every case, the stores that answer the rule by queries (``uow.time_rules``)
    the cases their query cannot rule out.

    Args:
        rule: The rule.
        cases: The cases to look at (closed ones and those opened after ``at`` are
            skipped): :class:`~crmcore.domain.Case` values or lighter ones with the same
            fields (:class:`EscalatedCase`).
        at: The instant of evaluation (UTC).
        tiers: Customer id -> tier, for policies with per-tier targets.
        supervisors: Each user's supervisor.
        team_leads: Each team's lead.

    Raises:
        ConfigurationError: If the policy has no target for a case's severity.
    """
    for case in cases:
        if not case.is_open or case.opened_at > at:
            continue
        sla = status(
            case,
            at=at,
            policy=rule.policy,
            calendar=rule.calendar,
            tier=tiers.get(case.customer_id),
        )
        for target in (sla.first_response, sla.resolution):
            if target.state is SlaState.BREACHED:
                due = target.deadline
            elif target.state is SlaState.AT_RISK and rule.at_risk:
                due = at
            else:
                continue
            recipient, note = _escalation_recipient(rule, supervisors, team_leads, case)
            words = target.target.replace("_", " ")
            yield DueAction(
                id=f"sla-{target.state}:case:{case.id}:{target.target}",
                kind=ActionKind.ESCALATE_CASE,
                rule="sla_escalation",
                subject="case",
                subject_id=case.id,
                recipient=recipient,
                customer_id=case.customer_id,
                due_at=due,
                reason=f"{words} SLA {target.state.replace('_', ' ')} "
                f"(deadline {target.deadline.isoformat()}, level {case.escalation_level}){note}",
            )


def _idle_leads(
    rule: LeadIdle, snapshot: RuleSnapshot, at: pendulum.DateTime
) -> Iterator[DueAction]:
    quiet = dt.timedelta(days=rule.days)
    touched: dict[str, list[pendulum.DateTime]] = {}
    for a in snapshot.activities:
        if a.lead_id is not None:
            touched.setdefault(a.lead_id, []).append(a.occurred_at)
    for lead in snapshot.leads:
        if lead.status not in rule.statuses or lead.created_at > at:
            continue
        last = _last_touch(min(lead.updated_at, at), touched.get(lead.id, ()), at)
        if last + quiet > at:
            continue
        yield idle_lead_action(
            rule,
            lead_id=lead.id,
            status=lead.status,
            owner=lead.owner,
            last=last,
            at=at,
            supervisors=snapshot.supervisors,
        )


def idle_lead_action(
    rule: LeadIdle,
    *,
    lead_id: str,
    status: LeadStatus,
    owner: UserId | None,
    last: dt.datetime,
    at: pendulum.DateTime,
    supervisors: Mapping[UserId, UserId],
) -> DueAction:
    """Return the recycling ``rule`` makes due for a lead last touched at ``last``.

    Shared by :func:`due_actions` and the stores' queries, as :func:`follow_up_action` is;
    ``last`` may be any aware datetime, or a naive one meaning UTC (a driver's value),
    as in :func:`follow_up_actions`.
    """
    recipient = _boss(supervisors, owner)[0] if owner is not None else None
    touched = _naive_utc(last)
    return DueAction(
        id=f"lead-idle:lead:{lead_id}:{touched.isoformat()}+00:00",
        kind=ActionKind.RECYCLE_LEAD,
        rule="lead_idle",
        subject="lead",
        subject_id=lead_id,
        recipient=recipient,
        customer_id=None,
        due_at=_instant(touched + dt.timedelta(days=rule.days)),
        reason=f"lead {lead_id} {status} untouched for {(_naive_utc(at) - touched).days} days",
    )


def _surveys(
    rule: SurveyAfterClose, snapshot: RuleSnapshot, at: pendulum.DateTime
) -> Iterator[DueAction]:
    answered = {r.case_id for r in snapshot.survey_responses if r.case_id is not None}
    for case in snapshot.cases:
        closed = case.closed_at
        if closed is None or case.id in answered:
            continue
        due = closed + rule.delay
        if due > at or at - closed > rule.expires_after:
            continue
        yield survey_action(rule, case_id=case.id, customer_id=case.customer_id, closed=closed)


def survey_action(
    rule: SurveyAfterClose, *, case_id: str, customer_id: CustomerId, closed: dt.datetime
) -> DueAction:
    """Return the survey ``rule`` makes due for a case closed at ``closed``.

    Shared by :func:`due_actions` and the stores' queries, as :func:`follow_up_action` is;
    ``closed`` may be any aware datetime, or a naive one meaning UTC (a driver's value),
    as in :func:`follow_up_actions`.
    """
    moment = _naive_utc(closed)
    stamp = moment.isoformat()
    return DueAction(
        id=f"survey:case:{case_id}:{stamp}+00:00",
        kind=ActionKind.SEND_SURVEY,
        rule="survey_after_close",
        subject="case",
        subject_id=case_id,
        recipient=None,
        customer_id=customer_id,
        due_at=_instant(moment + rule.delay),
        reason=f"case {case_id} closed {stamp[:10]}; ask for feedback",
    )


_EVALUATORS: Final[
    Mapping[type[Any], Callable[[Any, RuleSnapshot, pendulum.DateTime], Iterator[DueAction]]]
] = {
    FollowUpOverdue: _follow_ups,
    SlaEscalation: _escalations,
    LeadIdle: _idle_leads,
    SurveyAfterClose: _surveys,
}


class TimeRuleShortcuts:
    """The one-rule methods of the ``TimeRuleQueries`` port, written once over ``due``.

    A store's time-rule queries (memory, SQL) subclass it and implement
    :meth:`due`; each shortcut checks the rule's kind and asks ``due`` for
    that rule alone, so every store answers them alike.
    """

    def due(
        self,
        rules: Iterable[TimeRule | CustomTimeRule],
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        team_leads: Mapping[TeamId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return every action ``rules`` make due at ``at`` (implemented by the store)."""
        raise NotImplementedError

    def overdue_follow_ups(
        self,
        rule: FollowUpOverdue,
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return what a ``FollowUpOverdue`` rule makes due at ``at`` (see :meth:`due`).

        Raises:
            InvalidValueError: If ``rule`` is not a ``FollowUpOverdue`` or ``at`` is naive.
            StorageError: If the backend fails or the unit of work is not active.
        """
        _require_kind(rule, FollowUpOverdue)
        return self.due([rule], at=at, supervisors=supervisors, issued=issued)

    def idle_leads(
        self,
        rule: LeadIdle,
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return what a ``LeadIdle`` rule makes due at ``at`` (see :meth:`due`).

        Raises:
            InvalidValueError: If ``rule`` is not a ``LeadIdle`` or ``at`` is naive.
            StorageError: If the backend fails or the unit of work is not active.
        """
        _require_kind(rule, LeadIdle)
        return self.due([rule], at=at, supervisors=supervisors, issued=issued)

    def sla_escalations(
        self,
        rule: SlaEscalation,
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        team_leads: Mapping[TeamId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return what an ``SlaEscalation`` rule makes due at ``at`` (see :meth:`due`).

        Raises:
            InvalidValueError: If ``rule`` is not an ``SlaEscalation`` or ``at`` is naive.
            ConfigurationError: If the policy has no target for a case's severity.
            StorageError: If the backend fails or the unit of work is not active.
        """
        _require_kind(rule, SlaEscalation)
        return self.due(
            [rule], at=at, supervisors=supervisors, team_leads=team_leads, issued=issued
        )

    def surveys_after_close(
        self, rule: SurveyAfterClose, *, at: dt.datetime, issued: frozenset[str] = frozenset()
    ) -> tuple[DueAction, ...]:
        """Return what a ``SurveyAfterClose`` rule makes due at ``at`` (see :meth:`due`).

        Raises:
            InvalidValueError: If ``rule`` is not a ``SurveyAfterClose`` or ``at`` is naive.
            StorageError: If the backend fails or the unit of work is not active.
        """
        _require_kind(rule, SurveyAfterClose)
        return self.due([rule], at=at, issued=issued)


def _require_kind(rule: object, kind: type[object]) -> None:
    if not isinstance(rule, kind):
        raise InvalidValueError("rule", type(rule).__name__, f"a {kind.__name__} rule")
