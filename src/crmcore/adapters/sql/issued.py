"""The register of issued time-rule actions in SQL: one table, ``issued_actions``.

:class:`SqlIssuedActions` implements :class:`~crmcore.ports.IssuedActions` on
the unit of work's connection. Each action is one row keyed by the SHA-256 of
its id; the insert skips a row whose key exists (``ON CONFLICT DO NOTHING`` on
PostgreSQL and SQLite, ``INSERT IGNORE`` on MariaDB/MySQL), so a concurrent
duplicate is swallowed, and the rows actually inserted are the new actions.

>>> import pendulum
>>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
>>> from crmcore.lifecycle.rules import ActionKind, DueAction
>>> engine = create_engine("sqlite://")
>>> create_schema(engine)
>>> action = DueAction(id="lead-idle:lead:l-1:2026-03-01T00:00:00+00:00",
...     kind=ActionKind.RECYCLE_LEAD, rule="lead_idle", subject="lead", subject_id="l-1",
...     recipient=None, customer_id=None, due_at=pendulum.datetime(2026, 3, 15), reason="idle")
>>> store = SqlStore(engine)
>>> with store.unit_of_work() as uow:
...     [a.subject_id for a in uow.issued_actions.issue([action, action])]
...     uow.commit()
['l-1']
>>> with store.unit_of_work() as uow:
...     uow.issued_actions.issue([action])
[]
>>> engine.dispose()

May import: ``crmcore.adapters.sql``, ``crmcore.lifecycle``, ``crmcore.clock``,
``crmcore.errors``; SQLAlchemy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.tables import ID_LENGTH, issued_actions
from crmcore.clock import Clock, SystemClock
from crmcore.errors import InvalidValueError, StorageError
from crmcore.lifecycle.rules import DueAction

__all__ = ["SqlIssuedActions", "action_key"]

_OPERATION = "issue actions"
_ENUM_LENGTH = 32


def action_key(action_id: str) -> str:
    """Return the key an action id is stored under: the hex SHA-256 of its UTF-8 bytes.

    >>> len(action_key("follow-up:customer:c-1:2026-03-01T00:00:00+00:00"))
    64
    """
    return hashlib.sha256(action_id.encode("utf-8", "surrogatepass")).hexdigest()


def _check(action: object) -> DueAction:
    if not isinstance(action, DueAction):
        raise InvalidValueError("actions", action, "a DueAction")
    for field, value, limit in (
        ("kind", str(action.kind), _ENUM_LENGTH),
        ("rule", action.rule, ID_LENGTH),
        ("subject", action.subject, ID_LENGTH),
        ("subject_id", action.subject_id, ID_LENGTH),
    ):
        if len(value) > limit:
            raise StorageError(
                _OPERATION, f"{field} of action {action.id!r} is longer than {limit}", field=field
            )
    return action


class SqlIssuedActions:
    """Issued actions in SQL; see :class:`~crmcore.ports.IssuedActions`.

    Args:
        session: The unit of work's connection.
        clock: Where ``issued_at`` comes from.
    """

    def __init__(self, session: SqlSession, clock: Clock | None = None) -> None:
        self._session = session
        self._clock = clock or SystemClock()

    def _insert(self, dialect: str, row: dict[str, Any]) -> sa.Executable:
        # RETURNING where the database has it: some drivers report no rowcount for it
        if dialect == "postgresql":
            return (
                postgresql.insert(issued_actions)
                .values(row)
                .on_conflict_do_nothing()
                .returning(issued_actions.c.key)
            )
        if dialect == "sqlite":
            return (
                sqlite.insert(issued_actions)
                .values(row)
                .on_conflict_do_nothing()
                .returning(issued_actions.c.key)
            )
        return sa.insert(issued_actions).values(row).prefix_with("IGNORE")

    def issue(self, actions: Iterable[DueAction]) -> list[DueAction]:
        """Record ``actions``; return those not issued before (first occurrences, in order).

        Raises:
            InvalidValueError: If an item is not a ``DueAction``.
            StorageError: If a field is too long for its column (naming it), the
                backend fails, or the unit of work is not active; nothing is recorded.
            ConcurrencyError: If the backend reports a deadlock or lock timeout
                (retry the unit of work).
        """
        if isinstance(actions, DueAction | str | bytes):
            raise InvalidValueError("actions", actions, "an iterable of DueAction")
        checked: dict[str, DueAction] = {}
        for item in actions:
            action = _check(item)
            checked.setdefault(action.id, action)
        conn = self._session.connection(_OPERATION)
        if not checked:
            return []
        issued_at = self._clock.now()
        dialect = conn.dialect.name
        new: list[DueAction] = []
        with translating(_OPERATION), conn.begin_nested():
            for action in checked.values():
                row = {
                    "key": action_key(action.id),
                    "action_id": action.id,
                    "kind": str(action.kind),
                    "rule": action.rule,
                    "subject": action.subject,
                    "subject_id": action.subject_id,
                    "due_at": action.due_at,
                    "issued_at": issued_at,
                }
                result = conn.execute(self._insert(dialect, row))
                inserted = (
                    result.first() is not None if result.returns_rows else result.rowcount == 1
                )
                if inserted:
                    new.append(action)
        return new
