"""The SQL store and its unit of work, with the event outbox.

:class:`SqlStore` opens :class:`SqlUnitOfWork` objects on an engine. A unit
of work holds one connection and one transaction; its repositories write
through it. On :meth:`SqlUnitOfWork.commit` the collected events are
inserted into ``event_outbox`` and ``event_history`` *in the same
transaction*, so a committed change always has its events recorded (and
readable through :attr:`SqlUnitOfWork.history`). After the commit they are published
(when the store has a publisher) and marked delivered; if publishing fails
or the process dies first, :func:`relay_outbox` delivers them later — at
least once.

May import: ``crmcore.adapters.sql``, ``crmcore.ports``, ``crmcore.domain``,
``crmcore.serialization``, ``crmcore.errors``, ``crmcore.clock``;
SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crmcore.adapters.sql.audit import SqlAuditLog
from crmcore.adapters.sql.consent_ledger import SqlConsentLedger
from crmcore.adapters.sql.encryption import FieldEncryption, sensitive_custom_fields
from crmcore.adapters.sql.engine import configure_engine
from crmcore.adapters.sql.history import SqlEventHistory, history_rows
from crmcore.adapters.sql.issued import SqlIssuedActions
from crmcore.adapters.sql.match_index import MatchIndexSettings, SqlMatchIndex
from crmcore.adapters.sql.repository import (
    SqlActivityRepository,
    SqlCaseRepository,
    SqlConsentRepository,
    SqlCustomerRepository,
    SqlErasureRepository,
    SqlLeadRepository,
    SqlMergeRepository,
    SqlOpportunityRepository,
    SqlOrderRepository,
    SqlSurveyResponseRepository,
)
from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.tables import event_history, event_outbox
from crmcore.adapters.sql.time_rules import SqlTimeRules
from crmcore.clock import Clock, SystemClock
from crmcore.domain import CustomFieldSchema, DomainEvent
from crmcore.errors import CrmError, StorageError
from crmcore.ports import Encryptor, EventPublisher
from crmcore.serialization import make_converter, structure_event

__all__ = ["SqlStore", "SqlUnitOfWork", "relay_outbox"]


class SqlStore:
    """A :class:`~crmcore.ports.Store` on a SQLAlchemy engine (SQLite, PostgreSQL, MariaDB).

    The tables must exist (:func:`~crmcore.adapters.sql.create_schema` or the
    host's migrations). The engine is configured for crmcore
    (:func:`~crmcore.adapters.sql.configure_engine`); the store never
    disposes of it — the host owns the engine.

    Args:
        engine: The engine to use.
        publisher: Where events go after each commit. ``None`` leaves them in
            the outbox for :func:`relay_outbox`.
        clock: Where outbox timestamps come from (default: the system clock).
        match_index: The persistent match index's settings (``True``: the
            defaults; ``False``: no index is kept, ``uow.match_index`` is
            ``None``). Every process of a host must use the same settings.
        encryptor: Store the customers' sensitive fields encrypted under each
            customer's own key (:mod:`crmcore.adapters.sql.encryption`): the
            person's gender, birth date and national id, the credit rating,
            postal addresses, contact persons' contact points and the custom
            fields ``custom_schema`` classifies as sensitive. They are
            decrypted on every read; a customer whose key was deleted loads
            with them blank. Every process of a host must use the same one.
        custom_schema: The host's custom field schema, whose sensitive fields
            are encrypted too (only with ``encryptor``).

    Raises:
        ConfigurationError: If the engine's database is not supported, or
            ``encryptor`` is not an :class:`~crmcore.ports.Encryptor`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        publisher: EventPublisher | None = None,
        clock: Clock | None = None,
        match_index: MatchIndexSettings | bool = True,
        encryptor: Encryptor | None = None,
        custom_schema: CustomFieldSchema | None = None,
    ) -> None:
        self.engine = configure_engine(engine)
        self.encryption: FieldEncryption | None = (
            FieldEncryption(encryptor, sensitive_custom_fields(custom_schema))
            if encryptor is not None
            else None
        )
        self.match_index_settings: MatchIndexSettings | None = (
            match_index
            if isinstance(match_index, MatchIndexSettings)
            else (MatchIndexSettings() if match_index else None)
        )
        self.publisher = publisher
        self.clock: Clock = clock if clock is not None else SystemClock()
        # A cattrs JSON converter; typed loosely: adapters do not import cattrs.
        self.converter: Any = make_converter()

    def unit_of_work(self) -> SqlUnitOfWork:
        """Return a new unit of work (enter it with ``with``)."""
        return SqlUnitOfWork(self)


def _outbox_row(event: DomainEvent, converter: Any, recorded_at: dt.datetime) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "event_type": type(event).__name__,
        "payload": converter.unstructure(event, unstructure_as=DomainEvent),
        "recorded_at": recorded_at,
        "delivered_at": None,
    }


class SqlUnitOfWork:
    """One connection and transaction over every SQL repository.

    See :class:`~crmcore.ports.UnitOfWork` for the contract. Its repositories
    get a :class:`~crmcore.adapters.sql.session.SqlSession` (the connection
    and the converter), never the unit of work itself. The transaction
    begins with the first statement (SQLAlchemy's autobegin) and ends with
    :meth:`commit`, :meth:`rollback` or the end of the ``with`` block.
    """

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._converter = store.converter
        self._conn: Connection | None = None
        self._events: list[DomainEvent] = []
        # What the repositories see of this unit of work: nothing else.
        session = SqlSession(connection=self._connection, converter=store.converter)
        settings = store.match_index_settings
        self.match_index = SqlMatchIndex(session, settings) if settings is not None else None
        # Keys are cached for this unit of work only: one key-store call per subject at most.
        encryption = store.encryption.scoped() if store.encryption is not None else None
        self._encryption = encryption
        self.customers = SqlCustomerRepository(
            session, match_index=self.match_index, encryption=encryption
        )
        self.leads = SqlLeadRepository(session)
        self.opportunities = SqlOpportunityRepository(session)
        self.activities = SqlActivityRepository(session)
        self.cases = SqlCaseRepository(session)
        self.survey_responses = SqlSurveyResponseRepository(session)
        self.orders = SqlOrderRepository(session)
        self.consents = SqlConsentRepository(session)
        self.merges = SqlMergeRepository(session, encryption=encryption)
        self.audit = SqlAuditLog(session)
        self.consent_ledger = SqlConsentLedger(session)
        self.history = SqlEventHistory(session)
        self.erasures = SqlErasureRepository(session)
        self.issued_actions = SqlIssuedActions(session, store.clock)
        self.time_rules = SqlTimeRules(
            session,
            customers=self.customers,
            opportunities=self.opportunities,
            leads=self.leads,
            activities=self.activities,
            cases=self.cases,
            survey_responses=self.survey_responses,
            orders=self.orders,
        )

    def __enter__(self) -> SqlUnitOfWork:
        """Take a connection; the transaction begins with the first statement.

        Raises:
            StorageError: If the database cannot be reached, or the unit of
                work is already active.
        """
        if self._conn is not None:
            raise StorageError("begin unit of work", "this unit of work is already active")
        with translating("begin unit of work"):
            self._conn = self._store.engine.connect()
        self._events = []
        if self._encryption is not None:
            self._encryption.forget()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and release the connection."""
        conn = self._conn
        self._conn, self._events = None, []
        if self._encryption is not None:
            self._encryption.forget()
        if conn is None:
            return
        try:
            if conn.in_transaction():
                with translating("roll back"):
                    conn.rollback()
        finally:
            conn.close()

    def _connection(self, operation: str) -> Connection:
        if self._conn is None:
            raise StorageError(operation, "the unit of work is not active; use it in a with block")
        return self._conn

    def collect(self, *events: DomainEvent) -> None:
        """Keep ``events`` for the outbox and publishing at the next commit.

        Raises:
            StorageError: Outside the ``with`` block.
        """
        self._connection("collect events")
        self._events.extend(events)

    def commit(self) -> None:
        """Write the collected events to the outbox and the history, commit, then publish them.

        The data, the outbox rows and the history rows are committed together. Publishing
        happens after the commit; if the publisher raises, the exception
        propagates but the data stays committed and the events stay in the
        outbox for :func:`relay_outbox`.

        Raises:
            ConcurrencyError: On a deadlock or serialization failure; nothing
                was committed.
            StorageError: If the database fails, an event id is already
                recorded or an event's value does not fit its column (``field``
                names it); nothing was committed.
        """
        conn = self._connection("commit")
        events, self._events = self._events, []
        store = self._store
        try:
            with translating("commit"):
                if events:
                    # One instant for the whole commit: the events are recorded together.
                    recorded_at = store.clock.now()
                    history = history_rows(events, self._converter, recorded_at)
                    rows = [_outbox_row(e, self._converter, recorded_at) for e in events]
                    conn.execute(event_outbox.insert(), rows)
                    conn.execute(event_history.insert(), history)
                conn.commit()
        except CrmError:
            with translating("roll back"):
                conn.rollback()
            raise
        if events and store.publisher is not None:
            store.publisher.publish(tuple(events))
            with translating("mark events delivered"):
                conn.execute(
                    event_outbox.update()
                    .where(event_outbox.c.event_id.in_([e.id for e in events]))
                    .values(delivered_at=store.clock.now())
                )
                conn.commit()

    def rollback(self) -> None:
        """Discard every change and collected event since the last commit.

        Raises:
            StorageError: Outside the ``with`` block or if the database fails.
        """
        conn = self._connection("roll back")
        self._events = []
        with translating("roll back"):
            conn.rollback()


def relay_outbox(
    engine: Engine,
    publisher: EventPublisher,
    *,
    batch: int = 100,
    clock: Clock | None = None,
) -> int:
    """Publish every undelivered event in the outbox, oldest first; return how many.

    Hosts call this periodically (and at start-up): it delivers the events
    of commits whose publishing failed or never happened (a crash between
    commit and publish, or a store without publisher). Each batch is
    published with one ``publisher.publish`` call and marked delivered in
    the same transaction that locked it (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL and MariaDB, so several relays can run at once). Delivery is
    at least once: if the process dies after publishing and before marking,
    the batch is published again.

    Args:
        engine: The engine of the store.
        publisher: Where the events go.
        batch: How many events per transaction and ``publish`` call.
        clock: Where ``delivered_at`` comes from (default: the system clock).

    Returns:
        How many events were delivered.

    Raises:
        StorageError: If the database fails (delivered batches stay delivered).
        PayloadError: If a stored event cannot be read back.

    Whatever ``publisher.publish`` raises propagates; that batch stays undelivered.
    """
    if batch < 1:
        raise StorageError("relay outbox", f"batch must be positive, got {batch}", field="batch")
    configure_engine(engine)
    now = (clock if clock is not None else SystemClock()).now
    converter = make_converter()
    delivered = 0
    box = event_outbox.c
    while True:
        with translating("relay outbox"), engine.begin() as conn:
            statement = (
                sa.select(box.seq, box.payload)
                .where(box.delivered_at.is_(None))
                .order_by(box.seq)
                .limit(batch)
            )
            if engine.dialect.name != "sqlite":
                statement = statement.with_for_update(skip_locked=True)
            rows = conn.execute(statement).all()
            if not rows:
                return delivered
            events: Sequence[DomainEvent] = [structure_event(r.payload, converter) for r in rows]
            publisher.publish(events)
            conn.execute(
                event_outbox.update()
                .where(box.seq.in_([r.seq for r in rows]))
                .values(delivered_at=now())
            )
        delivered += len(rows)
        if len(rows) < batch:
            return delivered
