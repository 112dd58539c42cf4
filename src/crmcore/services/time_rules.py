"""Issue the time-rule actions that are due, each once across processes and restarts.

:func:`issue_due_actions` evaluates :func:`~crmcore.lifecycle.rules.due_actions`
and records the result through ``uow.issued_actions``
(:class:`~crmcore.ports.IssuedActions`): only the actions never issued before
come back, so several workers evaluating the same rules at once deliver each
action once.

May import: ``crmcore.lifecycle``, ``crmcore.ports``, ``crmcore.errors``; pendulum.
"""

from __future__ import annotations

from collections.abc import Iterable

import pendulum

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
    snapshot: RuleSnapshot,
    *,
    at: pendulum.DateTime,
    rules: Iterable[TimeRule | CustomTimeRule] = DEFAULT_RULES,
) -> tuple[DueAction, ...]:
    """Return the actions due at ``at`` that were never issued, recording them as issued.

    The record is committed here, in ``uow`` (entered and left by this
    function): deliver the returned actions afterwards. Actions the snapshot
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

    Args:
        uow: The unit of work to record through (entered and committed here).
        snapshot: The records the rules look at.
        at: The instant to evaluate at.
        rules: The rules to apply (the built-in defaults when not given).

    Returns:
        The newly issued actions, ordered by ``due_at`` then ``id``.

    Raises:
        ConfigurationError: If an SLA policy has no target for a case's severity.
        StorageError: If the backend fails; nothing was recorded.
        ConcurrencyError: If the backend reports a deadlock; retry.
    """
    due = due_actions(snapshot, at=at, rules=rules)
    with uow:
        new = uow.issued_actions.issue(due)
        uow.commit()
    return tuple(new)
