"""The event history in SQL: appended at commit, read back by aggregate, type and time.

:class:`SqlEventHistory` reads the ``event_history`` table through the
:class:`~crmcore.adapters.sql.session.SqlSession` of its unit of work, like
a repository. :func:`history_rows` builds the rows the unit of work inserts
at commit, in the same transaction as the changes (and the outbox rows), so
a committed change always has its events in the history and a rolled-back
one never. Rows are checked against their columns first: a value that does
not fit raises :class:`~crmcore.errors.StorageError` naming the event's
field, and nothing is committed.

May import: ``crmcore.adapters.sql``, ``crmcore.ports``, ``crmcore.domain``,
``crmcore.serialization``, ``crmcore.errors``; SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from crmcore.adapters.sql.mapping import check_row
from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.tables import event_history, event_outbox
from crmcore.domain import DomainEvent
from crmcore.errors import InvalidValueError
from crmcore.ports import EVENT_AGGREGATES, HistoryQuery, event_aggregate
from crmcore.serialization import structure_event

__all__ = ["SqlEventHistory", "history_rows"]

_H = event_history.c


def history_rows(
    events: Sequence[DomainEvent], converter: Any, recorded_at: dt.datetime
) -> list[dict[str, Any]]:
    """Return the ``event_history`` rows of ``events``, checked against their columns.

    Args:
        events: The events a unit of work commits, in the order collected.
        converter: The store's cattrs JSON converter.
        recorded_at: The commit's instant.

    Raises:
        StorageError: If a value does not fit its column (``field`` names the
            event's field: ``customer_id``, ``entity``, ``by`` …).
        InvalidValueError: If an event is not a crmcore domain event.
    """
    rows = []
    for event in events:
        aggregate, aggregate_id = event_aggregate(event)
        kind, id_field = EVENT_AGGREGATES[type(event).__name__]
        row = {
            "event_id": event.id,
            "type": type(event).__name__,
            "aggregate": aggregate,
            "aggregate_id": aggregate_id,
            "at": event.at,
            "actor": event.by,
            "payload": converter.unstructure(event, unstructure_as=DomainEvent),
            "recorded_at": recorded_at,
        }
        fields = {
            "event_id": "id",
            "aggregate": "entity" if kind is None else "aggregate",
            "aggregate_id": id_field,
            "actor": "by",
        }
        check_row("event", event_history, row, fields)
        rows.append(row)
    return rows


def _where(statement: sa.Select[Any], query: HistoryQuery) -> sa.Select[Any]:
    if query.aggregate is not None:
        statement = statement.where(_H.aggregate == query.aggregate)
    if query.aggregate_id is not None:
        statement = statement.where(_H.aggregate_id == query.aggregate_id)
    if query.types is not None:
        statement = statement.where(_H.type.in_(sorted(query.types)))
    if query.since is not None:
        statement = statement.where(_H.at >= query.since)
    if query.until is not None:
        statement = statement.where(_H.at < query.until)
    return statement


class SqlEventHistory:
    """The event history of a SQL store; see :class:`~crmcore.ports.EventHistory`.

    Args:
        session: The connection and converter of the unit of work that owns it.

    >>> import pendulum
    >>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
    >>> from crmcore.domain import LeadCaptured
    >>> engine = create_engine("sqlite://")
    >>> create_schema(engine)
    >>> captured = LeadCaptured(lead_id="l1", source="website", at=pendulum.datetime(2026, 3, 1))
    >>> with SqlStore(engine).unit_of_work() as uow:
    ...     uow.collect(captured)
    ...     uow.commit()
    ...     uow.history.events(aggregate="lead") == [captured], uow.history.count()
    (True, 1)
    >>> engine.dispose()
    """

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def events(
        self,
        *,
        aggregate: str | None = None,
        aggregate_id: str | None = None,
        types: Iterable[type[DomainEvent] | str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[DomainEvent]:
        """Return the committed events passing the filters, by ``at`` then commit order.

        Raises:
            InvalidValueError: If a type is unknown, ``since``/``until`` naive or
                ``limit`` negative.
            StorageError: If the database fails or the unit of work is not active.
            PayloadError: If a stored event cannot be read back.
        """
        query = HistoryQuery.of(
            aggregate=aggregate,
            aggregate_id=aggregate_id,
            types=types,
            since=since,
            until=until,
            limit=limit,
        )
        statement = _where(sa.select(_H.payload), query).order_by(_H.at, _H.seq)
        if query.limit is not None:
            statement = statement.limit(query.limit)
        conn = self._session.connection("read history")
        with translating("read history"):
            payloads = conn.execute(statement).scalars().all()
        converter = self._session.converter
        return [structure_event(p, converter) for p in payloads]

    def count(
        self,
        *,
        aggregate: str | None = None,
        aggregate_id: str | None = None,
        types: Iterable[type[DomainEvent] | str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> int:
        """Return how many committed events pass the filters.

        Raises:
            InvalidValueError: As for :meth:`events`.
            StorageError: If the database fails or the unit of work is not active.
        """
        query = HistoryQuery.of(
            aggregate=aggregate, aggregate_id=aggregate_id, types=types, since=since, until=until
        )
        statement = _where(sa.select(sa.func.count()).select_from(event_history), query)
        conn = self._session.connection("count history")
        with translating("count history"):
            return int(conn.execute(statement).scalar_one())

    def redact(self, events: Sequence[DomainEvent]) -> int:
        """Replace stored events (history and outbox) by these versions with the same ids.

        Raises:
            InvalidValueError: If an event changes the type, record or time of the stored one.
            StorageError: If the database fails or the unit of work is not active.
        """
        if not events:
            return 0
        conn = self._session.connection("redact history")
        converter = self._session.converter
        by_id = {e.id: e for e in events}
        replaced = 0
        ids = sorted(by_id)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            statement = sa.select(_H.event_id, _H.payload).where(_H.event_id.in_(chunk))
            with translating("redact history"):
                stored = conn.execute(statement).all()
            for event_id, payload in stored:
                event = by_id[event_id]
                current = structure_event(payload, converter)
                if (
                    type(current) is not type(event)
                    or event_aggregate(current) != event_aggregate(event)
                    or current.at != event.at
                ):
                    raise InvalidValueError(
                        "event", event_id, "a redaction must keep the event's type, record and time"
                    )
                new = converter.unstructure(event, unstructure_as=DomainEvent)
                with translating("redact history"):
                    conn.execute(
                        event_history.update()
                        .where(_H.event_id == event_id)
                        .values(payload=new, actor=event.by)
                    )
                    conn.execute(
                        event_outbox.update()
                        .where(event_outbox.c.event_id == event_id)
                        .values(payload=new)
                    )
                replaced += 1
        return replaced
