"""Issue the time-rule actions that are due, each once across processes and restarts.

:func:`issue_due_actions` is the one entry point a host calls (from a cron job or a
worker): it evaluates the rules — by the store's queries (``uow.time_rules``,
:class:`~crmcore.ports.TimeRuleQueries`), or over a
:class:`~crmcore.lifecycle.rules.RuleSnapshot` the host gives — and records the
result through ``uow.issued_actions`` (:class:`~crmcore.ports.IssuedActions`): only
the actions never issued before come back, so several workers evaluating the same
rules at once deliver each action once.

May import: ``crmcore.lifecycle``, ``crmcore.ports``, ``crmcore.domain``, ``crmcore.errors``;
pendulum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pendulum

from crmcore.domain import TeamId, UserId
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.rules import (
    DEFAULT_RULES,
    CustomTimeRule,
    DueAction,
    RuleSnapshot,
    TimeRule,
    due_actions,
)
from crmcore.ports import UnitOfWork

__all__ = ["issue_due_actions"]


def issue_due_actions(
    uow: UnitOfWork,
    snapshot: RuleSnapshot | None = None,
    *,
    at: pendulum.DateTime,
    rules: Iterable[TimeRule | CustomTimeRule] = DEFAULT_RULES,
    supervisors: Mapping[UserId, UserId] | None = None,
    team_leads: Mapping[TeamId, UserId] | None = None,
) -> tuple[DueAction, ...]:
    """Return the actions due at ``at`` that were never issued, recording them as issued.

    Without a ``snapshot`` the store answers the rules itself
    (``uow.time_rules.due``): on SQL every built-in rule and every retention
    rule is a query over indexed columns and only the due records are read,
    in batches; a custom rule of the host's is given every stored record
    (it cannot be queried). With a ``snapshot``,
    :func:`~crmcore.lifecycle.rules.due_actions` evaluates the rules over it.

    The evaluation and the record happen in ``uow`` (entered and committed
    here): deliver the returned actions afterwards. Actions the snapshot
    already lists in ``issued`` are skipped as :func:`due_actions` skips them.

    Example:
        >>> import pendulum
        >>> from crmcore.adapters.memory import MemoryStore
        >>> from crmcore.domain import LeadId, PersonName, UserId, capture_lead
        >>> from crmcore.lifecycle.rules import LeadIdle, RuleSnapshot
        >>> lead, _ = capture_lead(id=LeadId("l-1"), name=PersonName.parse("李娜"),
        ...     owner=UserId("u-1"), at=pendulum.datetime(2026, 3, 1))
        >>> store, at = MemoryStore(), pendulum.datetime(2026, 3, 20)
        >>> rules = [LeadIdle(days=14)]
        >>> first = issue_due_actions(store.unit_of_work(), RuleSnapshot(leads=[lead]),
        ...     at=at, rules=rules)
        >>> [(a.rule, a.subject_id) for a in first]
        [('lead_idle', 'l-1')]
        >>> issue_due_actions(store.unit_of_work(), RuleSnapshot(leads=[lead]), at=at, rules=rules)
        ()
        >>> with store.unit_of_work() as uow:   # stored: the store answers the rules
        ...     _ = uow.leads.save(lead)
        ...     uow.commit()
        >>> issue_due_actions(store.unit_of_work(), at=at, rules=rules)   # issued above
        ()

    Args:
        uow: The unit of work to evaluate and record in (entered and committed here).
        snapshot: The records the rules look at; ``None``: the stored records.
        at: The instant to evaluate at.
        rules: The rules to apply (the built-in defaults when not given).
        supervisors: Host data without a snapshot: each user's supervisor.
        team_leads: Host data without a snapshot: each team's lead.

    Returns:
        The newly issued actions, ordered by ``due_at`` then ``id``.

    Raises:
        InvalidValueError: If both a snapshot and host data are given (the
            snapshot carries its own), or a rule is not a time rule.
        ConfigurationError: If an SLA policy has no target for a case's severity.
        StorageError: If the backend fails; nothing was recorded.
        ConcurrencyError: If the backend reports a deadlock; retry.
    """
    if snapshot is not None and (supervisors is not None or team_leads is not None):
        raise InvalidValueError(
            "supervisors", "given with a snapshot", "put host data in the snapshot"
        )
    with uow:
        if snapshot is None:
            due = uow.time_rules.due(rules, at=at, supervisors=supervisors, team_leads=team_leads)
        else:
            due = due_actions(snapshot, at=at, rules=rules)
        new = uow.issued_actions.issue(due)
        uow.commit()
    return tuple(new)
