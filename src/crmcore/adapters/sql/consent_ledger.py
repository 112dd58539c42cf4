"""The consent ledger in SQL: one append-only table, ``consent_ledger``.

:class:`SqlConsentLedger` implements :class:`~crmcore.ports.ConsentLedger`
on the unit of work's connection. It refuses what
:func:`~crmcore.privacy.consent.check_append` refuses, and the table's
unique (kind, record_id) makes that hold between concurrent units of work
too: one record per id, one withdrawal per record.

>>> import pendulum
>>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
>>> from crmcore.domain import ConsentChannel, CustomerId
>>> from crmcore.privacy.consent import ConsentRecord, Jurisdiction
>>> engine = create_engine("sqlite://")
>>> create_schema(engine)
>>> with SqlStore(engine).unit_of_work() as uow:
...     uow.consent_ledger.append(ConsentRecord(id="k-1", subject=CustomerId("c-1"),
...         purpose="marketing", channel=ConsentChannel.SMS, jurisdiction=Jurisdiction.PIPL,
...         captured_at=pendulum.datetime(2026, 3, 1)))
...     [s.record.id for s in uow.consent_ledger.latest(CustomerId("c-1"))]
['k-1']
>>> engine.dispose()

May import: ``crmcore.adapters.sql``, ``crmcore.domain``, ``crmcore.privacy``,
``crmcore.errors``; SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.tables import consent_ledger
from crmcore.domain import CustomerId
from crmcore.errors import InvalidValueError
from crmcore.privacy.consent import (
    ConsentRecord,
    ConsentState,
    ConsentWithdrawal,
    LedgerEntry,
    check_append,
    consent_states,
)

__all__ = ["SqlConsentLedger"]

_RECORD = "record"
_WITHDRAWAL = "withdrawal"
_c = consent_ledger.c
_COLUMNS = [column for column in consent_ledger.c if column.name != "seq"]


def _row(entry: LedgerEntry) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys((c.name for c in _COLUMNS), None)
    row["subject"] = entry.subject
    row["recorded_by"] = entry.recorded_by
    if isinstance(entry, ConsentWithdrawal):
        row.update(
            kind=_WITHDRAWAL,
            record_id=entry.record_id,
            withdrawn_at=entry.withdrawn_at,
            reason=entry.reason,
        )
        return row
    row.update(
        kind=_RECORD,
        record_id=entry.id,
        purpose=entry.purpose,
        channel=entry.channel.value,
        legal_basis=entry.legal_basis.value,
        jurisdiction=entry.jurisdiction.value,
        captured_at=entry.captured_at,
        captured_from=entry.captured_from,
        valid_from=entry.valid_from,
        valid_until=entry.valid_until,
        sensitive=entry.sensitive,
        provision_recipient=entry.provision_recipient,
        publication=entry.publication,
        cross_border_recipient=entry.cross_border_recipient,
        guardian=entry.guardian,
    )
    return row


def _entry(row: Any) -> LedgerEntry:
    if row.kind == _WITHDRAWAL:
        return ConsentWithdrawal(
            record_id=row.record_id,
            subject=row.subject,
            withdrawn_at=row.withdrawn_at,
            recorded_by=row.recorded_by,
            reason=row.reason or "",
        )
    return ConsentRecord(
        id=row.record_id,
        subject=row.subject,
        purpose=row.purpose,
        channel=row.channel,
        legal_basis=row.legal_basis,
        jurisdiction=row.jurisdiction,
        captured_at=row.captured_at,
        captured_from=row.captured_from or "",
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        sensitive=bool(row.sensitive),
        provision_recipient=row.provision_recipient,
        publication=bool(row.publication),
        cross_border_recipient=row.cross_border_recipient,
        guardian=row.guardian,
        recorded_by=row.recorded_by,
    )


class SqlConsentLedger:
    """The consent ledger in SQL; see :class:`~crmcore.ports.ConsentLedger`.

    Args:
        session: The connection and converter of the unit of work that owns it.
    """

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def append(self, entry: LedgerEntry) -> None:
        """Append a consent record or a withdrawal.

        Raises:
            InvalidValueError: If :func:`~crmcore.privacy.consent.check_append`
                refuses it, or a concurrent unit of work stored the same record
                id or withdrawal first.
            NotFoundError: If the record withdrawn does not exist.
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "append to the consent ledger"
        conn = self._session.connection(operation)
        if not isinstance(entry, ConsentRecord | ConsentWithdrawal):
            raise InvalidValueError("entry", entry, "a ConsentRecord or ConsentWithdrawal")
        if isinstance(entry, ConsentRecord):
            exists = sa.select(_c.seq).where(_c.kind == _RECORD, _c.record_id == entry.id)
            with translating(operation):
                taken = conn.execute(exists.limit(1)).first() is not None
            if taken:
                raise InvalidValueError("consent record", entry.id, "already in the ledger")
        check_append(self.latest(entry.subject), entry)
        try:
            with translating(operation), conn.begin_nested():
                try:
                    conn.execute(consent_ledger.insert(), _row(entry))
                except sa.exc.IntegrityError as exc:
                    raise _Taken from exc
        except _Taken:
            what = entry.id if isinstance(entry, ConsentRecord) else entry.record_id
            reason = (
                "already in the ledger"
                if isinstance(entry, ConsentRecord)
                else "already withdrawn (by a concurrent unit of work)"
            )
            raise InvalidValueError("consent record", what, reason) from None

    def entries_for(self, subject: CustomerId) -> list[LedgerEntry]:
        """Return the subject's entries in append order.

        Raises:
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "read the consent ledger"
        conn = self._session.connection(operation)
        statement = sa.select(*_COLUMNS).where(_c.subject == subject).order_by(_c.seq)
        with translating(operation):
            rows = conn.execute(statement).all()
        return [_entry(r) for r in rows]

    def latest(self, subject: CustomerId) -> list[ConsentState]:
        """Return the subject's records with their withdrawals, by (captured_at, id).

        Raises:
            StorageError: If the database fails or the unit of work is not active.
        """
        return consent_states(self.entries_for(subject))


class _Taken(Exception):  # noqa: N818 - private signal, never escapes
    """The unique (kind, record_id) refused the row: raised to roll back the savepoint."""
