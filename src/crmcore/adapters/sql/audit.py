"""The audit chain in SQL: ``audit_entries``, ``audit_payloads`` and the head row ``audit_chain``.

:class:`SqlAuditLog` implements :class:`~crmcore.ports.AuditLog` on the
unit of work's connection, so an entry commits with the change it records.
The first append of a transaction locks the chain's row in ``audit_chain``
(``SELECT … FOR UPDATE`` on PostgreSQL and MariaDB; SQLite has a single
writer, and a writer whose snapshot another commit made stale fails with
:class:`~crmcore.errors.ConcurrencyError`), then reads the last entry with
a locking read (the latest committed one, whatever the isolation level's
snapshot); later appends of the transaction follow the entries it wrote.
Two units of work never fork the chain, and the primary key on
``sequence`` refuses a fork even if a host's isolation level let one
through (:class:`~crmcore.errors.ConcurrencyError`: retry).

>>> import pendulum
>>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
>>> from crmcore.privacy.audit import AuditDraft, verify
>>> engine = create_engine("sqlite://")
>>> create_schema(engine)
>>> store = SqlStore(engine)
>>> with store.unit_of_work() as uow:
...     for n in range(3):
...         _ = uow.audit.append(AuditDraft.of(at=pendulum.datetime(2026, 3, 1), actor="u-li",
...                              action="read", record_type="customer", record_id=f"c-{n}"))
...     uow.commit()
>>> with store.unit_of_work() as uow:
...     verify(uow.audit.entries()).checked
3
>>> engine.dispose()

May import: ``crmcore.adapters.sql``, ``crmcore.privacy``, ``crmcore.errors``,
``crmcore.clock``; SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.tables import audit_chain, audit_entries, audit_payloads
from crmcore.clock import utc
from crmcore.errors import ConcurrencyError, InvalidValueError
from crmcore.privacy.audit import (
    GENESIS_HASH,
    AuditDraft,
    AuditEntry,
    AuditPayload,
    Checkpoint,
    link,
)

__all__ = ["CHAIN", "SqlAuditLog"]

CHAIN = "main"
"""The name of the chain's head row in ``audit_chain``."""

DEFAULT_PAGE_SIZE = 1000
_CHUNK = 500

_e = audit_entries.c
_ENTRY_COLUMNS = (
    _e.sequence,
    _e.at,
    _e.actor,
    _e.action,
    _e.record_type,
    _e.record_id,
    _e.subject,
    _e.payload_digest,
    _e.previous_hash,
    _e.hash,
)
_LOCK = sa.select(audit_chain.c.chain).where(audit_chain.c.chain == CHAIN).with_for_update()
_LAST = (
    sa.select(_e.sequence, _e.hash)
    .order_by(_e.sequence.desc())
    .limit(1)
    .with_for_update(read=True)  # a locking read sees the latest commit, not an old snapshot
)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry.from_row(
        sequence=row[0],
        at=row[1],
        actor=row[2],
        action=row[3],
        record_type=row[4],
        record_id=row[5],
        subject=row[6],
        payload_digest=row[7],
        previous_hash=row[8],
        hash=row[9],
    )


def _check_range(after: int, until: int | None, page_size: int) -> None:
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InvalidValueError("after", after, "a non-negative integer (a sequence)")
    if until is not None and (
        isinstance(until, bool) or not isinstance(until, int) or until < after
    ):
        raise InvalidValueError("until", until, f"an integer not below after ({after})")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidValueError("page_size", page_size, "must be a positive integer")


class SqlAuditLog:
    """The audit chain in SQL; see :class:`~crmcore.ports.AuditLog`.

    Args:
        session: The connection and converter of the unit of work that owns it.
    """

    def __init__(self, session: SqlSession) -> None:
        self._session = session
        # The head this transaction holds the lock of, and the transaction it holds it in.
        self._held: tuple[object, Checkpoint] | None = None

    def _locked_head(self, conn: Connection) -> Checkpoint:
        """Lock the chain (creating its row the first time) and return its head."""
        transaction = conn.get_transaction()
        if self._held is not None and self._held[0] is transaction:
            return self._held[1]
        if conn.execute(_LOCK).one_or_none() is None:
            try:
                with conn.begin_nested():
                    conn.execute(audit_chain.insert().values(chain=CHAIN))
            except sa.exc.IntegrityError:
                pass  # another unit of work created it first: lock theirs
            conn.execute(_LOCK).one()
        last = conn.execute(_LAST).one_or_none()
        if last is None:
            return Checkpoint(sequence=0, hash=GENESIS_HASH)
        return Checkpoint(sequence=int(last[0]), hash=last[1])

    def append(self, draft: AuditDraft) -> AuditEntry:
        """Append ``draft`` after the chain's head (locked); return the stored entry.

        Raises:
            ConcurrencyError: On a deadlock, or (SQLite) if another unit of work
                committed an append since this one first read.
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "append audit entry"
        conn = self._session.connection(operation)
        with translating(operation):
            head = self._locked_head(conn)
            entry = link(head, draft)
            self._insert_entry(conn, entry)
            conn.execute(
                audit_payloads.insert(),
                {
                    "sequence": entry.sequence,
                    "subject": draft.subject,
                    "payload": draft.payload_text,
                    "salt": draft.salt,
                    "erased_at": None,
                },
            )
        self._held = (conn.get_transaction(), Checkpoint(sequence=entry.sequence, hash=entry.hash))
        return entry

    @staticmethod
    def _insert_entry(conn: Connection, entry: AuditEntry) -> None:
        try:
            conn.execute(
                audit_entries.insert(),
                {
                    "sequence": entry.sequence,
                    "at": entry.at_text,
                    "actor": entry.actor,
                    "action": entry.action,
                    "record_type": entry.record_type,
                    "record_id": entry.record_id,
                    "subject": entry.subject,
                    "payload_digest": entry.payload_digest,
                    "previous_hash": entry.previous_hash,
                    "hash": entry.hash,
                },
            )
        except sa.exc.IntegrityError as exc:  # the lock was bypassed: never fork, retry
            raise ConcurrencyError(
                f"append audit entry failed: entry {entry.sequence} was written concurrently;"
                " retry the unit of work"
            ) from exc

    def head(self) -> AuditEntry | None:
        """Return the last entry, or ``None`` when the chain is empty.

        Raises:
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "read audit chain"
        conn = self._session.connection(operation)
        statement = sa.select(*_ENTRY_COLUMNS).order_by(_e.sequence.desc()).limit(1)
        with translating(operation):
            row = conn.execute(statement).one_or_none()
        return None if row is None else _entry(row)

    def entries(
        self, *, after: int = 0, until: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[AuditEntry]:
        """Yield the entries with ``after < sequence <= until`` by sequence (keyset pages).

        Raises:
            InvalidValueError: If a bound or ``page_size`` is invalid.
            StorageError: If the database fails or the unit of work is not active.
        """
        _check_range(after, until, page_size)
        self._session.connection("read audit chain")
        return self._pages(after, until, page_size)

    def _pages(self, after: int, until: int | None, page_size: int) -> Iterator[AuditEntry]:
        operation = "read audit chain"
        last = after
        statement = sa.select(*_ENTRY_COLUMNS).order_by(_e.sequence).limit(page_size)
        if until is not None:
            statement = statement.where(_e.sequence <= until)
        page = statement.where(_e.sequence > sa.bindparam("last"))
        while True:
            conn = self._session.connection(operation)
            with translating(operation):
                rows = conn.execute(page, {"last": last}).all()
            for row in rows:
                yield _entry(row)
            if len(rows) < page_size:
                return
            last = rows[-1][0]

    def find_by_subject(self, subject: str) -> list[AuditEntry]:
        """Return the entries about ``subject``, by sequence.

        Raises:
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "read audit chain"
        conn = self._session.connection(operation)
        statement = sa.select(*_ENTRY_COLUMNS).where(_e.subject == subject).order_by(_e.sequence)
        with translating(operation):
            rows = conn.execute(statement).all()
        return [_entry(r) for r in rows]

    def payloads(self, sequences: Iterable[int]) -> dict[int, AuditPayload]:
        """Return the payloads of these entries (those that exist).

        Raises:
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "read audit payloads"
        conn = self._session.connection(operation)
        wanted = sorted({int(n) for n in sequences})
        p = audit_payloads.c
        found: dict[int, AuditPayload] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            statement = sa.select(p.sequence, p.subject, p.payload, p.salt, p.erased_at).where(
                p.sequence.in_(chunk)
            )
            with translating(operation):
                rows = conn.execute(statement).all()
            for row in rows:
                found[int(row[0])] = AuditPayload(
                    sequence=int(row[0]),
                    subject=row[1],
                    payload_text=row[2],
                    salt=row[3],
                    erased_at=row[4],
                )
        return found

    def erase_payloads(self, subject: str, *, at: dt.datetime) -> int:
        """Erase the payloads about ``subject`` (text and salt); return how many.

        Raises:
            InvalidValueError: If ``at`` is naive.
            StorageError: If the database fails or the unit of work is not active.
        """
        when = utc(at)
        operation = "erase audit payloads"
        conn = self._session.connection(operation)
        p = audit_payloads.c
        statement = (
            audit_payloads.update()
            .where(p.subject == subject, p.payload.is_not(None))
            .values(payload=None, salt=None, erased_at=when)
        )
        with translating(operation):
            return int(conn.execute(statement).rowcount)
