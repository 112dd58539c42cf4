"""Time rules answered by the database: only the records that are due are read.

:class:`SqlTimeRules` (``uow.time_rules`` of a SQL unit of work) evaluates every
built-in time rule with queries over indexed columns and returns exactly what
:func:`~crmcore.lifecycle.rules.due_actions` returns over every stored record
(a property test checks it on memory, SQLite, PostgreSQL and MariaDB):

- :class:`~crmcore.lifecycle.rules.FollowUpOverdue`: owned, active customers whose
  last touch (``customers.touched_at``, kept by the repositories, see
  :mod:`crmcore.adapters.sql.touches`) is at or before the cutoff — one range of
  ``ix_customers_touched_at``, which holds every column read — plus, checked by
  ``NOT EXISTS`` over ``activities``, the few touched after the instant (a
  future-dated activity) or never computed (rows written by other means). Owned,
  open opportunities created before the cutoff with no activity since (``NOT
  EXISTS``). The last touch of such a record is a ``MAX(occurred_at)`` subquery
  the database evaluates for the due rows only. No document is read.
- :class:`~crmcore.lifecycle.rules.LeadIdle`: the same over leads.
- :class:`~crmcore.lifecycle.rules.SurveyAfterClose`: cases closed within the
  window (``ix_cases_closed_at``) with no survey response.
- :class:`~crmcore.lifecycle.rules.SlaEscalation`: a deadline counted in a
  business calendar (with pauses kept in the case document) cannot be computed
  in SQL, so the query finds a *superset* by a conservative bound: business time
  never runs faster than the clock, so a target of ``B`` business hours cannot be
  breached before ``opened_at + B`` nor at risk before ``opened_at + ratio × B``.
  Open cases opened before that bound (``ix_cases_status_opened_at``), or with a
  first response, resolution or closing recorded after the instant, are decided
  exactly in Python by :func:`~crmcore.lifecycle.rules.escalation_actions`, from
  their columns and the waiting periods of their document (``document['waiting']``,
  extracted by the database): no case is built from its document.
- :class:`~crmcore.privacy.retention.RetentionRule`: records whose time field is at
  least the period old (id, that field and the customer id read), handed to
  :meth:`~crmcore.privacy.retention.RetentionRule.actions`.
- Any other :class:`~crmcore.lifecycle.rules.CustomTimeRule` cannot be queried:
  it is given a snapshot of every stored record (the one case that reads
  everything).

Every built-in rule reads columns of the rows that may be due, never a whole
document. Memory grows with the due records, not with the stored ones.

>>> import pendulum
>>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
>>> from crmcore.domain import CustomerId, Organization, UserId, register_customer
>>> from crmcore.lifecycle.rules import FollowUpOverdue
>>> engine = create_engine("sqlite://")
>>> create_schema(engine)
>>> store = SqlStore(engine)
>>> customer, _ = register_customer(id=CustomerId("c-1"), owner=UserId("u-li"),
...     organization=Organization(legal_name="腾达科技"), at=pendulum.datetime(2026, 3, 1))
>>> with store.unit_of_work() as uow:
...     _ = uow.customers.save(customer)
...     uow.commit()
>>> with store.unit_of_work() as uow:
...     due = uow.time_rules.overdue_follow_ups(FollowUpOverdue(days=3),
...         at=pendulum.datetime(2026, 3, 5), supervisors={UserId("u-li"): UserId("u-wang")})
>>> [(a.subject_id, a.recipient) for a in due]
[('c-1', 'u-wang')]
>>> engine.dispose()

May import: ``crmcore.adapters.sql``, ``crmcore.lifecycle``, ``crmcore.privacy``,
``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; SQLAlchemy, pendulum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs
import pendulum
import sqlalchemy as sa

from crmcore.adapters.sql.repository import (
    SqlActivityRepository,
    SqlCaseRepository,
    SqlCustomerRepository,
    SqlLeadRepository,
    SqlOpportunityRepository,
    SqlOrderRepository,
    SqlRepository,
    SqlSurveyResponseRepository,
)
from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.tables import (
    activities,
    cases,
    customers,
    leads,
    opportunities,
    orders,
    survey_responses,
)
from crmcore.clock import EARLIEST, utc
from crmcore.domain import (
    CaseId,
    CaseStatus,
    CustomerId,
    LeadStatus,
    OpportunityStage,
    Severity,
    TeamId,
    Tier,
    UserId,
    WaitingPeriod,
)
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.rules import (
    ACTION_ORDER,
    CustomTimeRule,
    DueAction,
    FollowUpOverdue,
    LeadIdle,
    RuleSnapshot,
    SlaEscalation,
    SurveyAfterClose,
    TimeRule,
    TimeRuleShortcuts,
    escalation_actions,
    follow_up_actions,
    idle_lead_action,
    survey_action,
)
from crmcore.privacy.retention import RETENTION_RECORDS, RetentionRule
from crmcore.serialization import structure

__all__ = ["SqlTimeRules"]

_OPERATION = "evaluate time rules"
_CLOSED = (str(OpportunityStage.WON), str(OpportunityStage.LOST), str(OpportunityStage.AFTER_SALES))
_OPEN_CASES = tuple(str(s) for s in CaseStatus if s is not CaseStatus.CLOSED)
_CLOSED_CASE = str(CaseStatus.CLOSED)
_SLACK = dt.timedelta(seconds=1)  # float rounding of ratio × budget, kept on the safe side
_TABLES: Final[Mapping[str, sa.Table]] = {
    "customer": customers,
    "lead": leads,
    "opportunity": opportunities,
    "activity": activities,
    "case": cases,
    "survey_response": survey_responses,
    "order": orders,
}


def _before(when: pendulum.DateTime, delta: dt.timedelta) -> pendulum.DateTime | None:
    """``when - delta``, or ``None`` if that lies before any storable instant."""
    try:
        bound = when - delta
    except OverflowError:
        return None
    return bound if bound >= EARLIEST else None


class SqlTimeRules(TimeRuleShortcuts):
    """Time rules evaluated by queries, within the unit of work's transaction.

    See :class:`~crmcore.ports.TimeRuleQueries` for the contract and the module
    docstring for how each rule is queried.
    """

    def __init__(
        self,
        session: SqlSession,
        *,
        customers: SqlCustomerRepository,
        opportunities: SqlOpportunityRepository,
        leads: SqlLeadRepository,
        activities: SqlActivityRepository,
        cases: SqlCaseRepository,
        survey_responses: SqlSurveyResponseRepository,
        orders: SqlOrderRepository,
    ) -> None:
        self._session = session
        self._repositories: Mapping[str, SqlRepository[Any]] = {
            "customer": customers,
            "lead": leads,
            "opportunity": opportunities,
            "activity": activities,
            "case": cases,
            "survey_response": survey_responses,
            "order": orders,
        }

    # -- the entry points --------------------------------------------------------------

    def due(
        self,
        rules: Iterable[TimeRule | CustomTimeRule],
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        team_leads: Mapping[TeamId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return every action ``rules`` make due at ``at``, as ``due_actions`` over everything.

        Raises:
            InvalidValueError: If a rule is not a time rule or ``at`` is naive.
            ConfigurationError: If an SLA policy has no target for a case's severity.
            StorageError: If the backend fails or the unit of work is not active.
        """
        when = utc(at)
        bosses = dict(supervisors or {})
        leads_of = dict(team_leads or {})
        found: dict[str, DueAction] = {}
        for rule in list(rules):
            for action in self._evaluate(rule, when, bosses, leads_of):
                if action.id not in issued:
                    found.setdefault(action.id, action)
        return tuple(sorted(found.values(), key=ACTION_ORDER))

    # -- one rule ----------------------------------------------------------------------

    def _evaluate(
        self,
        rule: object,
        when: pendulum.DateTime,
        supervisors: Mapping[UserId, UserId],
        team_leads: Mapping[TeamId, UserId],
    ) -> Iterable[DueAction]:
        if isinstance(rule, FollowUpOverdue):
            return self._follow_ups(rule, when, supervisors)
        if isinstance(rule, LeadIdle):
            return self._idle_leads(rule, when, supervisors)
        if isinstance(rule, SlaEscalation):
            return self._escalations(rule, when, supervisors, team_leads)
        if isinstance(rule, SurveyAfterClose):
            return self._surveys(rule, when)
        if isinstance(rule, RetentionRule):
            return self._retention(rule, when)
        if isinstance(rule, CustomTimeRule):
            return list(rule.due(self._everything(supervisors, team_leads), when))
        raise InvalidValueError("rule", type(rule).__name__, "not a time rule")

    def _rows(self, statement: sa.Executable) -> list[Any]:
        conn = self._session.connection(_OPERATION)
        with translating(_OPERATION):
            return list(conn.execute(statement).all())

    def _naive(self, instant: sa.ColumnElement[Any]) -> sa.ColumnElement[dt.datetime]:
        """``instant`` read as a naive UTC datetime, without the type's per-row conversion.

        SQLite and MariaDB store naive UTC values; PostgreSQL converts its ``timestamptz``
        (``timezone('UTC', ...)``), which spares the driver an aware value per row.
        """
        if self._session.connection(_OPERATION).dialect.name == "postgresql":
            instant = sa.func.timezone("UTC", instant)
        return sa.type_coerce(instant, sa.DateTime())

    def _follow_ups(
        self, rule: FollowUpOverdue, when: pendulum.DateTime, supervisors: Mapping[UserId, UserId]
    ) -> Iterator[DueAction]:
        cutoff = _before(when, dt.timedelta(days=rule.days))
        if cutoff is None:
            return
        a, c, o = activities.c, customers.c, opportunities.c
        recent = (a.occurred_at > cutoff) & (a.occurred_at <= when)
        if rule.customers:
            active = (c.owner.is_not(None), c.merged_into.is_(None))
            # Last touched by the cutoff: due, and that touch is the last one up to `when`.
            # One range of ix_customers_touched_at, which holds every column read.
            # The instant is read as a naive UTC datetime (see _naive) and handed to
            # follow_up_actions as it is: no pendulum value is built per row but the
            # reminder's due_at, which counts with 50,000 reminders due.
            settled = sa.select(c.id, c.owner, self._naive(c.touched_at)).where(
                c.touched_at <= cutoff, *active
            )
            yield from follow_up_actions(
                rule,
                (
                    ("customer", id, owner, id, touched)
                    for id, owner, touched in self._rows(settled)
                ),
                at=when,
                supervisors=supervisors,
            )
            # Touched after `when` (a future-dated activity) or never computed (a row
            # written by other means): the touches up to `when` decide, as before.
            on_customer = sa.exists().where(a.customer_id == c.id, recent)
            # Driven from the customer's opportunities, then each one's recent activities:
            # one index range per opportunity, whatever the planner knows of the tables.
            on_opportunity = sa.exists().where(
                o.customer_id == c.id,
                sa.exists().where(a.opportunity_id == o.id, recent),
            )
            # The last touch, computed for the due rows only (one index probe each).
            direct = (
                sa.select(sa.func.max(a.occurred_at))
                .where(a.customer_id == c.id, a.occurred_at <= when)
                .scalar_subquery()
            )
            through_deals = (
                sa.select(sa.func.max(a.occurred_at))
                .select_from(opportunities.join(activities, a.opportunity_id == o.id))
                .where(o.customer_id == c.id, a.occurred_at <= when)
                .scalar_subquery()
            )
            # One query per kind of row, each a range of ix_customers_touched_at: with the
            # two in an OR, or with the creation bound on the rows touched after `when`
            # (checked here instead), SQLite scans every customer created by the cutoff.
            created_by_cutoff = c.created_at <= cutoff
            for unknown, *created_bound in (
                (c.touched_at.is_(None), created_by_cutoff),
                (c.touched_at > when,),
            ):
                unsettled = sa.select(c.id, c.owner, c.created_at, direct, through_deals).where(
                    unknown, *created_bound, *active, ~on_customer, ~on_opportunity
                )
                yield from follow_up_actions(
                    rule,
                    (
                        ("customer", id, owner, id, _last(_last(created, touched), via_deal))
                        for id, owner, created, touched, via_deal in self._rows(unsettled)
                        if created <= cutoff
                    ),
                    at=when,
                    supervisors=supervisors,
                )
        if rule.opportunities:
            on_deal = sa.exists().where(a.opportunity_id == o.id, recent)
            touched_deal = (
                sa.select(sa.func.max(a.occurred_at))
                .where(a.opportunity_id == o.id, a.occurred_at <= when)
                .scalar_subquery()
            )
            statement = sa.select(o.id, o.owner, o.customer_id, o.created_at, touched_deal).where(
                o.owner.is_not(None),
                o.stage.not_in(_CLOSED),
                o.created_at <= cutoff,
                ~on_deal,
            )
            yield from follow_up_actions(
                rule,
                (
                    ("opportunity", id, owner, customer_id, _last(created, touched))
                    for id, owner, customer_id, created, touched in self._rows(statement)
                ),
                at=when,
                supervisors=supervisors,
            )

    def _idle_leads(
        self, rule: LeadIdle, when: pendulum.DateTime, supervisors: Mapping[UserId, UserId]
    ) -> Iterator[DueAction]:
        cutoff = _before(when, dt.timedelta(days=rule.days))
        if cutoff is None or not rule.statuses:
            return
        a, lead = activities.c, leads.c
        touched_since = sa.exists().where(
            a.lead_id == lead.id, a.occurred_at > cutoff, a.occurred_at <= when
        )
        # Both instants as naive UTC datetimes (see _naive): idle_lead_action takes them.
        last_touch = (
            sa.select(sa.func.max(a.occurred_at))
            .where(a.lead_id == lead.id, a.occurred_at <= when)
            .scalar_subquery()
        )
        statement = sa.select(
            lead.id,
            lead.status,
            lead.owner,
            self._naive(lead.updated_at),
            self._naive(last_touch),
        ).where(
            lead.status.in_([str(s) for s in rule.statuses]),
            lead.created_at <= when,
            lead.updated_at <= cutoff,
            ~touched_since,
        )
        for id, status, owner, updated, touched in self._rows(statement):
            yield idle_lead_action(
                rule,
                lead_id=id,
                status=LeadStatus(status),
                owner=owner,
                last=_last(updated, touched),
                at=when,
                supervisors=supervisors,
            )

    def _surveys(self, rule: SurveyAfterClose, when: pendulum.DateTime) -> Iterator[DueAction]:
        latest = _before(when, rule.delay)
        if latest is None:
            return
        k, r = cases.c, survey_responses.c
        conditions = [k.closed_at.is_not(None), k.closed_at <= latest]
        earliest = _before(when, rule.expires_after)
        if earliest is not None:
            conditions.append(k.closed_at >= earliest)
        answered = sa.exists().where(r.case_id == k.id)
        statement = sa.select(k.id, k.customer_id, self._naive(k.closed_at)).where(
            *conditions, ~answered
        )
        for id, customer_id, closed in self._rows(statement):
            yield survey_action(rule, case_id=id, customer_id=customer_id, closed=closed)

    def _escalations(
        self,
        rule: SlaEscalation,
        when: pendulum.DateTime,
        supervisors: Mapping[UserId, UserId],
        team_leads: Mapping[TeamId, UserId],
    ) -> Iterator[DueAction]:
        k, c = cases.c, customers.c
        could_be_due: list[sa.ColumnElement[bool]] = [
            k.first_response_at > when,  # a target done after `when` is judged for good
            k.resolved_at > when,
            k.closed_at > when,
        ]
        ratio = float(rule.policy.at_risk_ratio) if rule.at_risk else 1.0
        for severity in {t.severity for t in rule.policy.targets} | set(Severity):
            targets = [t for t in rule.policy.targets if t.severity is severity]
            if not any(t.tier is None for t in targets):
                # No fallback target: the exact check may raise ConfigurationError, as
                # due_actions does for such a case, so every open case of it is read.
                could_be_due.append(k.severity == str(severity))
                continue
            shortest = min(min(t.first_response, t.resolution) for t in targets)
            bound = _before(when, shortest * ratio - _SLACK)
            if bound is not None:
                could_be_due.append((k.severity == str(severity)) & (k.opened_at <= bound))
        statement = (
            sa.select(
                k.id,
                k.customer_id,
                k.severity,
                k.status,
                k.escalation_level,
                k.owner,
                k.team,
                k.opened_at,
                k.first_response_at,
                k.resolved_at,
                k.closed_at,
                cases.c.document["waiting"],
                c.tier,
            )
            .select_from(cases.outerjoin(customers, c.id == k.customer_id))
            .where(k.status.in_(_OPEN_CASES), k.opened_at <= when, sa.or_(*could_be_due))
            .order_by(k.id)
        )
        rows = self._rows(statement)
        tiers = {row[1]: Tier(row[-1]) for row in rows if row[-1] is not None}
        yield from escalation_actions(
            rule,
            (_OpenCase.of(row, self._session.converter) for row in rows),
            at=when,
            tiers=tiers,
            supervisors=supervisors,
            team_leads=team_leads,
        )

    def _retention(self, rule: RetentionRule, when: pendulum.DateTime) -> Iterable[DueAction]:
        bound = _before(when, rule.period)
        if bound is None:
            return ()
        table = _TABLES[rule.record_type]
        stamp = table.c[rule.time_field]
        customer_id = table.c.customer_id if "customer_id" in table.c else sa.null()
        statement = (
            sa.select(table.c.id, stamp, customer_id)
            .where(stamp.is_not(None), stamp <= bound)
            .order_by(table.c.id)
        )
        return rule.actions(self._rows(statement), when)

    def _everything(
        self, supervisors: Mapping[UserId, UserId], team_leads: Mapping[TeamId, UserId]
    ) -> RuleSnapshot:
        """Every stored record: the fallback for rules that cannot be queried."""
        loaded: dict[str, Any] = {
            RETENTION_RECORDS[kind][1]: repository.iter_all()
            for kind, repository in self._repositories.items()
        }
        return RuleSnapshot(**loaded, supervisors=supervisors, team_leads=team_leads)


_Instant = TypeVar("_Instant", bound=dt.datetime)
_SEVERITY: Final[Mapping[str, Severity]] = {str(s): s for s in Severity}


@attrs.frozen(kw_only=True)
class _OpenCase:
    """A case as the SLA escalation reads it: its columns and waiting periods, no document.

    An :class:`~crmcore.lifecycle.rules.EscalatedCase`; reading these instead of building
    each case from its document makes the rule several times faster at tens of thousands
    of open cases.
    """

    id: CaseId
    customer_id: CustomerId
    severity: Severity
    is_open: bool
    escalation_level: int
    owner: UserId | None
    team: TeamId | None
    opened_at: pendulum.DateTime
    first_response_at: pendulum.DateTime | None
    resolved_at: pendulum.DateTime | None
    closed_at: pendulum.DateTime | None
    waiting: tuple[WaitingPeriod, ...]

    @classmethod
    def of(cls, row: Sequence[Any], converter: Any) -> _OpenCase:
        """Read a row of the escalation query (its last column, the tier, is not read).

        The waiting periods are structured by the store's ``converter``, as the
        repository structures the whole case.
        """
        id, customer_id, severity, status, level, owner, team, opened, *done, waiting = row[:-1]
        return cls(
            id=id,
            customer_id=customer_id,
            severity=_SEVERITY[severity],
            is_open=status != _CLOSED_CASE,
            escalation_level=level,
            owner=owner,
            team=team,
            opened_at=opened,
            first_response_at=done[0],
            resolved_at=done[1],
            closed_at=done[2],
            waiting=tuple(structure(period, WaitingPeriod, converter) for period in waiting or ()),
        )


def _last(start: _Instant, touched: _Instant | None) -> _Instant:
    return start if touched is None or touched < start else touched
