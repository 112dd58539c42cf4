"""SQL repositories: one class per aggregate, sharing :class:`SqlRepository`.

Every repository works through the :class:`~crmcore.adapters.sql.session.SqlSession`
that its :class:`SqlUnitOfWork <crmcore.adapters.sql.store.SqlUnitOfWork>` hands
it (the connection and the converter); it knows nothing else of the unit of
work. Writes follow the contract of :mod:`crmcore.ports`:

- a save checks every value against its column first (nothing is sent if
  one does not fit), then runs inside a ``SAVEPOINT``, so a failed save
  leaves nothing behind and the unit of work usable;
- new records (version 0) are inserted, others updated with
  ``WHERE id = :id AND version = :expected`` — the database decides who
  wins, so concurrent writers never lose an update;
- child rows (emails, phones, tags, external ids, merge members) are
  rewritten only when their digest (``child_digest``) changed: an update
  that leaves them alone writes only the main row, in one statement.

SQLAlchemy and driver exceptions are translated at this edge
(:func:`~crmcore.adapters.sql.session.translating`) into
:class:`~crmcore.errors.StorageError` (naming the column when the database
says which), :class:`~crmcore.errors.ConcurrencyError` (deadlocks,
serialization failures) or :class:`~crmcore.errors.StaleVersionError`.

May import: ``crmcore.adapters.sql``, ``crmcore.ports``, ``crmcore.domain``,
``crmcore.serialization``, ``crmcore.errors``, ``crmcore.clock``;
SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmcore.adapters.sql import tables as t
from crmcore.adapters.sql.access import compile_access
from crmcore.adapters.sql.encryption import SEALED_KEY, FieldEncryption, open_many
from crmcore.adapters.sql.mapping import (
    ACTIVITIES,
    CASES,
    CONSENTS,
    CUSTOMERS,
    ERASURES,
    LEADS,
    MERGES,
    OPPORTUNITIES,
    ORDERS,
    SURVEY_RESPONSES,
    EntityMapping,
    check_custom,
    check_row,
)
from crmcore.adapters.sql.match_index import record_of_document
from crmcore.adapters.sql.segments import check_dialect, customer_query
from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.touches import refresh_touches
from crmcore.clock import utc
from crmcore.domain import (
    Activity,
    Case,
    Consent,
    Customer,
    CustomerId,
    EmailAddress,
    Lead,
    Opportunity,
    Order,
    PhoneNumber,
    SurveyResponse,
    UserId,
)
from crmcore.errors import (
    InvalidValueError,
    NotFoundError,
    StaleVersionError,
    StorageError,
)
from crmcore.matching import MatchRecord
from crmcore.ports import DEFAULT_PAGE_SIZE, MergeRecord, Versioned, with_version
from crmcore.privacy.access import AccessFilter
from crmcore.privacy.subject import ErasureRequest
from crmcore.segments import CustomCompare, Rule, UnsupportedRuleError, walk
from crmcore.serialization import structure

__all__ = [
    "SqlActivityRepository",
    "SqlCaseRepository",
    "SqlConsentRepository",
    "SqlCustomerRepository",
    "SqlErasureRepository",
    "SqlLeadRepository",
    "SqlMergeRepository",
    "SqlOpportunityRepository",
    "SqlOrderRepository",
    "SqlRepository",
    "SqlSurveyResponseRepository",
]

_E = TypeVar("_E", bound=Versioned)

_CHUNK = 500  # ids per IN (...) clause
_LINKS = ("customer_id", "opportunity_id")  # the customers an activity touches (directly or not)
_OWNER = ("customer_id",)  # the customer an opportunity's activities touch


class _Conflict(Exception):  # noqa: N818 - private signal, never escapes
    """A concurrent writer got there first; raised to roll back a savepoint."""


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Prepared:
    __slots__ = ("children", "entity", "row", "stored")

    def __init__(
        self,
        entity: Any,
        row: dict[str, Any],
        children: list[list[dict[str, Any]]],
        stored: Any,
    ) -> None:
        self.entity = entity
        self.row = row
        self.children = children
        self.stored = stored


class _Plan:
    """What one save does: rows to insert, rows to update, child rows to rewrite."""

    __slots__ = ("inserts", "rewrites", "updates")

    def __init__(self) -> None:
        self.inserts: list[_Prepared] = []
        self.updates: list[_Prepared] = []
        self.rewrites: list[_Prepared] = []

    @property
    def is_one_statement(self) -> bool:
        return not self.inserts and not self.rewrites and len(self.updates) == 1


def _digest(children: list[list[dict[str, Any]]]) -> str:
    # List comprehensions, not generators: this runs once per saved record.
    canonical = "\x1d".join(
        [
            "\x1e".join(sorted(["\x1f".join(map(str, r.values())) for r in rows]))
            for rows in children
        ]
    )
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def _updates(prepared: Sequence[_Prepared]) -> list[_Prepared]:
    """The saves of records already stored (version > 0): the ones to check first."""
    return [p for p in prepared if p.entity.version]


class _IndexSync(Protocol):
    """What the customer repository needs of a match index: keep it in step with saves."""

    def sync(
        self,
        conn: Connection,
        saved: Sequence[Customer],
        *,
        new: bool = False,
        records: Sequence[tuple[MatchRecord, bool]] | None = None,
    ) -> int: ...


class SqlRepository(Generic[_E]):
    """What every SQL repository shares: get, save, save_many, find, iterate, count.

    Args:
        session: The connection and converter of the unit of work that owns it.
        mapping: Where and how the aggregate is stored.
    """

    def __init__(self, session: SqlSession, mapping: EntityMapping[_E]) -> None:
        self._session = session
        self._mapping: EntityMapping[_E] = mapping
        self._table = mapping.table
        self._kind = mapping.kind
        c = mapping.table.c
        # Built once: building a statement costs about as much as running a lookup.
        self._get_statement = sa.select(c.document).where(c.id == sa.bindparam("id"))
        self._child_statements: dict[tuple[str, str], sa.Select[Any]] = {}
        # Every column of a child table reports the aggregate field it comes from.
        self._child_fields = [
            {column.name: child.field for column in child.table.columns}
            for child in mapping.children
        ]

    # -- reading -------------------------------------------------------------------

    def _load(self, document: Any) -> _E:
        return self._load_many([document])[0]

    def _load_many(self, documents: Sequence[Any]) -> list[_E]:
        cls, converter = self._mapping.cls, self._session.converter
        return [structure(d, cls, converter) for d in self._open_many(documents)]

    def _open_many(self, documents: Sequence[Any]) -> Sequence[Any]:
        """Return stored documents as the converter reads them (themselves by default).

        A repository that decrypts opens a whole batch (a page, a ``get_many``) at once.
        """
        return documents

    def _seal_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Change rows (and their ``document``) into their stored form (nothing by default).

        Called once per save with all its rows, so a repository that encrypts
        seals them with one key-store call.
        """

    def _select_documents(
        self,
        statement: sa.Select[Any],
        operation: str,
        parameters: dict[str, Any] | None = None,
    ) -> list[_E]:
        conn = self._session.connection(operation)
        with translating(operation):
            documents = conn.execute(statement, parameters).scalars().all()
        return self._load_many(documents)

    def get(self, id: str) -> _E:
        """Return the stored snapshot with ``id``.

        Raises:
            NotFoundError: If there is none.
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = f"get {self._kind}"
        conn = self._session.connection(operation)
        with translating(operation):
            document = conn.execute(self._get_statement, {"id": id}).scalar_one_or_none()
        if document is None:
            raise NotFoundError(self._kind, id)
        return self._load(document)

    def get_many(self, ids: Iterable[str]) -> list[_E]:
        """Return the stored snapshots with ``ids``, in that order, skipping ids not stored.

        One query per 500 ids (``WHERE id IN (...)``), not one per record.

        Raises:
            StorageError: If the database fails or the unit of work is not active.
        """
        wanted = list(dict.fromkeys(ids))
        operation = f"get {self._kind}"
        conn = self._session.connection(operation)
        c = self._table.c
        found: dict[str, Any] = {}
        with translating(operation):
            for chunk in _chunks(wanted):
                found.update(conn.execute(sa.select(c.id, c.document).where(c.id.in_(chunk))).all())
        return self._load_many([found[i] for i in wanted if i in found])

    def find_updated_since(self, at: dt.datetime, *, limit: int | None = None) -> list[_E]:
        """Return the records with ``updated_at >= at``, by ``(updated_at, id)``.

        Raises:
            InvalidValueError: If ``at`` is naive or ``limit`` is negative.
            StorageError: If the database fails or the unit of work is not active.
        """
        since = utc(at)
        if limit is not None and limit < 0:
            raise InvalidValueError("limit", limit, "must not be negative")
        c = self._table.c
        statement = sa.select(c.document).where(c.updated_at >= since).order_by(c.updated_at, c.id)
        if limit is not None:
            statement = statement.limit(limit)
        return self._select_documents(statement, f"find {self._kind}")

    def iter_all(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[_E]:
        """Yield every stored record by id, reading ``page_size`` rows at a time (keyset pages).

        Raises:
            InvalidValueError: If ``page_size`` is not positive.
            StorageError: If the database fails or the unit of work is not active.
        """
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise InvalidValueError("page_size", page_size, "must be a positive integer")
        self._session.connection(f"iterate {self._kind}")
        return self._pages(page_size)

    def _pages(self, page_size: int) -> Iterator[_E]:
        c = self._table.c
        last: str | None = None
        operation = f"iterate {self._kind}"
        while True:
            statement = sa.select(c.id, c.document).order_by(c.id).limit(page_size)
            if last is not None:
                statement = statement.where(c.id > last)
            conn = self._session.connection(operation)
            with translating(operation):
                rows = conn.execute(statement).all()
            yield from self._load_many([row.document for row in rows])
            if len(rows) < page_size:
                return
            last = rows[-1].id

    def count(self) -> int:
        """Return how many records are stored.

        Raises:
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = f"count {self._kind}"
        conn = self._session.connection(operation)
        with translating(operation):
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(self._table)).scalar_one()
            )

    def _find_by(self, column: sa.ColumnElement[Any], value: Any) -> list[_E]:
        c = self._table.c
        return self._select_documents(
            sa.select(c.document).where(column == value).order_by(c.id), f"find {self._kind}"
        )

    def _find_by_child(self, child: sa.Table, key: str, column: str, value: Any) -> list[_E]:
        statement = self._child_statements.get((child.name, column))
        if statement is None:
            c = self._table.c
            statement = (
                sa.select(c.document)
                .join(child, child.c[key] == c.id)
                .where(child.c[column] == sa.bindparam("value"))
                .order_by(c.id)
            )
            self._child_statements[(child.name, column)] = statement
        return self._select_documents(statement, f"find {self._kind}", {"value": value})

    # -- writing -------------------------------------------------------------------

    def _prepare(self, entity: _E, *, restore: bool = False) -> _Prepared:
        mapping, kind = self._mapping, self._kind
        version = entity.version if restore else entity.version + 1
        row = mapping.columns(entity)
        row["id"] = entity.id
        check_row(kind, self._table, row, mapping.fields)
        if "custom" in row:
            check_custom(kind, row["custom"])
        document = self._session.converter.unstructure(entity, unstructure_as=mapping.cls)
        document["version"] = version
        row["version"] = version
        row["document"] = document
        children = []
        for child, fields in zip(mapping.children, self._child_fields, strict=True):
            rows = child.rows(entity)
            for child_row in rows:
                check_row(kind, child.table, child_row, fields)
                child_row[child.key] = entity.id
            children.append(rows)
        if mapping.children:
            row["child_digest"] = _digest(children)
        return _Prepared(entity, row, children, with_version(entity, version))

    def save(self, entity: _E) -> _E:
        """Insert or update ``entity``; return the stored snapshot (version + 1).

        Raises:
            StaleVersionError: If ``entity.version`` is not the stored version.
            StorageError: If a value does not fit its column (``field`` names it),
                the database fails, or the unit of work is not active.
            ConcurrencyError: On a deadlock or serialization failure.
        """
        return self.save_many([entity])[0]

    def save_many(self, entities: Iterable[_E]) -> list[_E]:
        """Save every entity in order, all or nothing; return the stored snapshots.

        Raises:
            StaleVersionError: If any entity is stale; nothing of the call is saved.
            StorageError: As for :meth:`save`; nothing of the call is saved.
            ConcurrencyError: On a deadlock or serialization failure.
        """
        items = list(entities)
        operation = f"save {self._kind}"
        conn = self._session.connection(operation)
        if not items:
            return []
        prepared = [self._prepare(e) for e in items]
        self._seal_many([p.row for p in prepared])
        try:
            with translating(operation):
                if len({p.entity.id for p in prepared}) == len(prepared):
                    plan = self._plan(prepared, self._current(conn, _updates(prepared)))
                    if plan.is_one_statement:
                        # One UPDATE either applies or matches nothing: no savepoint needed.
                        self._execute(conn, plan)
                    else:
                        with conn.begin_nested():
                            self._execute(conn, plan)
                else:
                    with conn.begin_nested():
                        for p in prepared:  # the same id twice: one after the other
                            self._execute(conn, self._plan([p], self._current(conn, _updates([p]))))
        except _Conflict:
            self._raise_stale(conn, prepared)
        return [p.stored for p in prepared]

    def restore_many(self, entities: Iterable[_E]) -> list[_E]:
        """Insert snapshots exactly as they are, versions kept; all or nothing.

        Raises:
            InvalidValueError: If a version is below 1; nothing is stored.
            StaleVersionError: If an id is stored or given twice; nothing is stored.
            StorageError: As for :meth:`save`; nothing of the call is stored.
        """
        items = list(entities)
        operation = f"restore {self._kind}"
        conn = self._session.connection(operation)
        seen: set[str] = set()
        for entity in items:
            if entity.version < 1:
                raise InvalidValueError(
                    "version", entity.version, "a restored snapshot was stored (version 1 or more)"
                )
            if entity.id in seen:
                raise StaleVersionError(self._kind, entity.id, 0, entity.version)
            seen.add(entity.id)
        if not items:
            return []
        prepared = [self._prepare(e, restore=True) for e in items]
        self._seal_many([p.row for p in prepared])
        plan = _Plan()
        plan.inserts.extend(prepared)
        try:
            with translating(operation), conn.begin_nested():
                self._execute(conn, plan)
        except _Conflict:
            with translating(operation):
                current = self._current(conn, prepared)
            for p in prepared:
                if p.entity.id in current:
                    raise StaleVersionError(
                        self._kind, p.entity.id, 0, current[p.entity.id][0]
                    ) from None
            raise StorageError(operation, "the database refused the rows") from None
        return [p.stored for p in prepared]

    def _current(
        self, conn: Connection, prepared: Sequence[_Prepared], *, lock: bool = False
    ) -> dict[str, tuple[int, str | None]]:
        """Return id -> (stored version, stored child digest) for the stored ones."""
        c = self._table.c
        digest = c.child_digest if "child_digest" in c else sa.null()
        ids = [p.entity.id for p in prepared]
        found: dict[str, tuple[int, str | None]] = {}
        if not ids:
            return found
        for chunk in _chunks(ids):
            statement = sa.select(c.id, c.version, digest).where(c.id.in_(chunk))
            if lock:
                statement = statement.with_for_update(read=True)
            found.update({row[0]: (row[1], row[2]) for row in conn.execute(statement)})
        return found

    def _raise_stale(self, conn: Connection, prepared: Sequence[_Prepared]) -> None:
        """Find which save a concurrent writer made stale and raise for it."""
        with translating(f"save {self._kind}"):
            current = self._current(conn, prepared, lock=True)
        for p in prepared:
            expected = p.entity.version
            actual = current.get(p.entity.id, (None, None))[0]
            if actual != (expected or None):
                raise StaleVersionError(self._kind, p.entity.id, expected, actual)
        first = prepared[0].entity
        actual = current.get(first.id, (None, None))[0]
        raise StaleVersionError(self._kind, first.id, first.version, actual)

    def _plan(
        self, batch: Sequence[_Prepared], current: dict[str, tuple[int, str | None]]
    ) -> _Plan:
        plan = _Plan()
        for p in batch:
            expected = p.entity.version
            if not expected:
                plan.inserts.append(p)  # an existing id fails the primary key: _Conflict
            else:
                actual, digest = current.get(p.entity.id, (None, None))
                if actual != expected:
                    raise StaleVersionError(self._kind, p.entity.id, expected, actual)
                plan.updates.append(p)
                if self._mapping.children and digest != p.row["child_digest"]:
                    plan.rewrites.append(p)
        return plan

    def _execute(self, conn: Connection, plan: _Plan) -> None:
        table = self._table
        if plan.inserts:
            try:
                conn.execute(table.insert(), [p.row for p in plan.inserts])
            except sa.exc.IntegrityError as exc:
                raise _Conflict from exc
        if plan.updates:
            statement = (
                table.update()
                .where(table.c.id == sa.bindparam("_id"))
                .where(table.c.version == sa.bindparam("_expected"))
            )
            params = []
            for p in plan.updates:
                values = {k: v for k, v in p.row.items() if k != "id"}
                values["_id"] = p.entity.id
                values["_expected"] = p.entity.version
                params.append(values)
            result = conn.execute(statement, params)
            if result.rowcount != len(plan.updates):
                raise _Conflict
        for index, child in enumerate(self._mapping.children):
            key = child.table.c[child.key]
            for chunk in _chunks([p.entity.id for p in plan.rewrites]):
                conn.execute(child.table.delete().where(key.in_(chunk)))
            rows = [r for p in (*plan.inserts, *plan.rewrites) for r in p.children[index]]
            if rows:
                conn.execute(child.table.insert(), rows)
        self._after_write(conn, plan)

    def _after_write(self, conn: Connection, plan: _Plan) -> None:
        """Write what else the plan's rows need, in the same transaction (nothing by default)."""

    def _delete(self, entity: _E) -> None:
        operation = f"delete {self._kind}"
        conn = self._session.connection(operation)
        table = self._table
        with translating(operation), conn.begin_nested():
            result = conn.execute(
                table.delete().where(table.c.id == entity.id, table.c.version == entity.version)
            )
            if result.rowcount == 0:
                stored = conn.execute(
                    sa.select(table.c.version).where(table.c.id == entity.id)
                ).scalar_one_or_none()
                if stored is None:
                    raise NotFoundError(self._kind, entity.id)
                raise StaleVersionError(self._kind, entity.id, entity.version, stored)
            for child in self._mapping.children:
                conn.execute(child.table.delete().where(child.table.c[child.key] == entity.id))


class SqlCustomerRepository(SqlRepository[Customer]):
    """Customers in SQL; see :class:`~crmcore.ports.CustomerRepository`.

    With a ``match_index`` (the store's, by default), every save also brings
    the customers' match index rows in step, in the same transaction.

    With ``encryption`` (the store's ``encryptor``), the sensitive fields are
    stored encrypted under each customer's own key and decrypted on every
    read (:mod:`crmcore.adapters.sql.encryption`); the match index then
    holds only what the stored form shows in plain (no national id, birth
    date or postal address). A customer whose key was deleted loads with
    those fields blank.
    """

    def __init__(
        self,
        session: SqlSession,
        *,
        match_index: _IndexSync | None = None,
        encryption: FieldEncryption | None = None,
    ) -> None:
        super().__init__(session, CUSTOMERS)
        self._match_index = match_index
        self._encryption = encryption
        self._encryptor = encryption.encryptor if encryption is not None else None

    @property
    def encryption(self) -> FieldEncryption | None:
        """How sensitive fields are encrypted at rest (``None``: they are not)."""
        return self._encryption

    def _open_many(self, documents: Sequence[Any]) -> Sequence[Any]:
        if self._encryptor is None and not any(SEALED_KEY in d for d in documents):
            return documents
        return [opened.document for opened in open_many(documents, self._encryptor)]

    def _seal_many(self, rows: Sequence[dict[str, Any]]) -> None:
        encryption = self._encryption
        if encryption is None:
            return
        if encryption.custom:
            for row in rows:
                if row.get("custom"):
                    row["custom"] = encryption.seal_custom(row["custom"])
        encryption.seal_many([row["document"] for row in rows])

    def _after_write(self, conn: Connection, plan: _Plan) -> None:
        # A new customer's last touch: its creation, or an activity stored before it.
        refresh_touches(conn, customer_ids=[p.entity.id for p in plan.inserts])
        index = self._match_index
        if index is None:
            return
        if self._encryption is None:
            index.sync(conn, [p.stored for p in plan.inserts], new=True)
            index.sync(conn, [p.stored for p in plan.updates])
            return
        # Index what is stored in plain only: the sealed values stay out of the index.
        for batch, new in ((plan.inserts, True), (plan.updates, False)):
            records = [
                (record_of_document(p.row["document"]), p.entity.merged_into is None) for p in batch
            ]
            if records:
                index.sync(conn, [], new=new, records=records)

    def erased_fields(self, ids: Iterable[str]) -> dict[CustomerId, tuple[str, ...]]:
        """Return, for those of the customers ``ids`` whose key was deleted, the erased fields.

        Their encrypted fields read as blank: they were crypto-shredded.
        Customers not stored, or stored without encrypted values, are left out.

        Raises:
            StorageError: If the database or the key store fails.
        """
        operation = "read customer"
        conn = self._session.connection(operation)
        wanted = list(dict.fromkeys(ids))
        fields = self._encryption.fields if self._encryption is not None else ()
        found: dict[CustomerId, tuple[str, ...]] = {}
        c = self._table.c
        for chunk in _chunks(wanted):
            with translating(operation):
                rows = conn.execute(sa.select(c.id, c.document).where(c.id.in_(chunk))).all()
            sealed = [r for r in rows if SEALED_KEY in r.document]
            opened = open_many([r.document for r in sealed], self._encryptor)
            found.update(
                {
                    CustomerId(str(r.id)): fields
                    for r, o in zip(sealed, opened, strict=True)
                    if o.erased
                }
            )
        return dict(sorted(found.items()))

    def find_by_email(self, address: EmailAddress) -> list[Customer]:
        """Return the customers having ``address`` among their emails (index lookup)."""
        return self._find_by_child(t.customer_emails, "customer_id", "address", address.address)

    def find_by_phone(self, number: PhoneNumber) -> list[Customer]:
        """Return the customers having a phone with ``number``'s E.164 form (index lookup)."""
        return self._find_by_child(t.customer_phones, "customer_id", "e164", number.e164)

    def find_by_owner(self, owner: UserId) -> list[Customer]:
        """Return the customers owned by ``owner``."""
        return self._find_by(t.customers.c.owner, owner)

    def select(
        self,
        rule: Rule,
        *,
        at: dt.datetime,
        tz: str = "UTC",
        access: AccessFilter | None = None,
    ) -> list[CustomerId]:
        """Return the ids of the active customers in the segment, computed inside the database.

        ``access`` (an actor's access filter for customers) is ANDed into the same query.

        Raises:
            InvalidValueError: If ``at`` is naive, ``tz`` unknown or ``rule`` beyond the limits.
            UnsupportedRuleError: If the database cannot run segment rules.
            StorageError: If the database fails, naming the operation and the rule's kind
                (as :func:`~crmcore.adapters.sql.segments.segment_operation` does).
            ConcurrencyError: If the database reports a deadlock or lock timeout.
        """
        operation = f"select segment ({type(rule).__name__} rule)"
        conn = self._session.connection(operation)
        self._check_encrypted(conn.dialect.name, rule)
        statement = customer_query(rule, at=at, tz=tz).where(t.customers.c.merged_into.is_(None))
        if access is not None:
            statement = statement.where(compile_access(access))
        check_dialect(conn.dialect.name, type(rule).__name__)
        with translating(operation):
            return [CustomerId(str(r)) for r in conn.execute(statement).scalars().all()]

    def _check_encrypted(self, dialect: str, rule: Rule) -> None:
        """Refuse a rule that reads a custom field stored encrypted (the database cannot)."""
        sealed = self._encryption.custom if self._encryption is not None else frozenset()
        if not sealed:
            return
        for node in walk(rule):
            if isinstance(node, CustomCompare) and node.name in sealed:
                raise UnsupportedRuleError(
                    dialect,
                    "CustomCompare",
                    f"custom field {node.name!r} is stored encrypted, so the database cannot "
                    "compare it; evaluate the rule in memory over the loaded customers "
                    "(crmcore.segments.evaluate) instead",
                )

    def find_by_external_id(self, system: str, value: str) -> list[Customer]:
        """Return the customers known as ``value`` in ``system``."""
        x = t.customer_external_ids
        c = t.customers.c
        statement = (
            sa.select(c.document)
            .join(x, x.c.customer_id == c.id)
            .where(x.c.system == system.strip().lower(), x.c.value == value)
            .order_by(c.id)
        )
        return self._select_documents(statement, "find customer")


class SqlLeadRepository(SqlRepository[Lead]):
    """Leads in SQL; see :class:`~crmcore.ports.LeadRepository`."""

    def __init__(self, session: SqlSession) -> None:
        super().__init__(session, LEADS)

    def find_by_email(self, address: EmailAddress) -> list[Lead]:
        """Return the leads having ``address`` among their emails."""
        return self._find_by_child(t.lead_emails, "lead_id", "address", address.address)

    def find_by_phone(self, number: PhoneNumber) -> list[Lead]:
        """Return the leads having a phone with ``number``'s E.164 form."""
        return self._find_by_child(t.lead_phones, "lead_id", "e164", number.e164)

    def find_by_owner(self, owner: UserId) -> list[Lead]:
        """Return the leads owned by ``owner``."""
        return self._find_by(t.leads.c.owner, owner)

    def find_by_converted_customer(self, customer_id: CustomerId) -> list[Lead]:
        """Return the leads converted into the customer."""
        return self._find_by(t.leads.c.converted_customer_id, customer_id)

    def delete(self, lead: Lead) -> None:
        """Delete ``lead`` (must be the stored version) and its email/phone rows.

        Raises:
            NotFoundError: If no lead has its id.
            StaleVersionError: If ``lead.version`` is not the stored version.
            StorageError: If the database fails or the unit of work is not active.
        """
        self._delete(lead)


class SqlOpportunityRepository(SqlRepository[Opportunity]):
    """Opportunities in SQL; see :class:`~crmcore.ports.OpportunityRepository`."""

    def __init__(self, session: SqlSession) -> None:
        super().__init__(session, OPPORTUNITIES)

    def find_by_customer(self, customer_id: CustomerId) -> list[Opportunity]:
        """Return the customer's opportunities."""
        return self._find_by(t.opportunities.c.customer_id, customer_id)

    def find_by_owner(self, owner: UserId) -> list[Opportunity]:
        """Return the opportunities owned by ``owner``."""
        return self._find_by(t.opportunities.c.owner, owner)

    def _execute(self, conn: Connection, plan: _Plan) -> None:
        # An opportunity moved to another customer takes its activities' touches along.
        before = _stored_links(conn, t.opportunities, [p.entity.id for p in plan.updates], _OWNER)
        super()._execute(conn, plan)
        changed = [p.entity.customer_id for p in plan.inserts]
        for p in plan.updates:
            (was,) = before.get(p.entity.id, (None,))
            if was != p.entity.customer_id:
                changed.extend((was, p.entity.customer_id))
        refresh_touches(conn, customer_ids=changed)


class SqlActivityRepository(SqlRepository[Activity]):
    """Activities in SQL; see :class:`~crmcore.ports.ActivityRepository`."""

    def __init__(self, session: SqlSession) -> None:
        super().__init__(session, ACTIVITIES)

    def find_by_customer(self, customer_id: CustomerId) -> list[Activity]:
        """Return the activities linked to the customer."""
        return self._find_by(t.activities.c.customer_id, customer_id)

    def find_by_owner(self, owner: UserId) -> list[Activity]:
        """Return the activities owned by ``owner``."""
        return self._find_by(t.activities.c.owner, owner)

    def delete(self, activity: Activity) -> None:
        """Delete ``activity`` (must be the stored version).

        Raises:
            NotFoundError: If no activity has its id.
            StaleVersionError: If ``activity.version`` is not the stored version.
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "delete activity"
        conn = self._session.connection(operation)
        with translating(operation):  # the stored links, whatever the caller's copy says
            before = _stored_links(conn, t.activities, [activity.id], _LINKS)
        self._delete(activity)
        with translating(operation):
            refresh_touches(
                conn,
                customer_ids=[links[0] for links in before.values()],
                opportunity_ids=[links[1] for links in before.values()],
            )

    def _execute(self, conn: Connection, plan: _Plan) -> None:
        # The customers it touched before and after the write get their last touch again.
        written = [*plan.inserts, *plan.updates]
        before = _stored_links(conn, t.activities, [p.entity.id for p in plan.updates], _LINKS)
        super()._execute(conn, plan)
        refresh_touches(
            conn,
            customer_ids=[
                *[p.entity.customer_id for p in written],
                *[links[0] for links in before.values()],
            ],
            opportunity_ids=[
                *[p.entity.opportunity_id for p in written],
                *[links[1] for links in before.values()],
            ],
        )


def _stored_links(
    conn: Connection, table: sa.Table, ids: Sequence[str], columns: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """Return id -> the stored ``columns`` of the records ``ids`` (those stored)."""
    found: dict[str, tuple[Any, ...]] = {}
    for chunk in _chunks(ids):
        statement = sa.select(table.c.id, *(table.c[name] for name in columns)).where(
            table.c.id.in_(chunk)
        )
        found.update({row[0]: tuple(row[1:]) for row in conn.execute(statement)})
    return found


class SqlCaseRepository(SqlRepository[Case]):
    """Cases in SQL; see :class:`~crmcore.ports.CaseRepository`."""

    def __init__(self, session: SqlSession) -> None:
        super().__init__(session, CASES)

    def find_by_customer(self, customer_id: CustomerId) -> list[Case]:
        """Return the customer's cases."""
        return self._find_by(t.cases.c.customer_id, customer_id)

    def find_by_owner(self, owner: UserId) -> list[Case]:
        """Return the cases owned by ``owner``."""
        return self._find_by(t.cases.c.owner, owner)


class SqlSurveyResponseRepository(SqlRepository[SurveyResponse]):
    """Survey responses in SQL; see :class:`~crmcore.ports.SurveyResponseRepository`."""

    def __init__(self, session: SqlSession) -> None:
        super().__init__(session, SURVEY_RESPONSES)

    def find_by_customer(self, customer_id: CustomerId) -> list[SurveyResponse]:
        """Return the customer's survey responses."""
        return self._find_by(t.survey_responses.c.customer_id, customer_id)


class SqlOrderRepository(SqlRepository[Order]):
    """Orders in SQL; see :class:`~crmcore.ports.OrderRepository`."""

    def __init__(self, session: SqlSession) -> None:
        super().__init__(session, ORDERS)

    def find_by_customer(self, customer_id: CustomerId) -> list[Order]:
        """Return the customer's orders."""
        return self._find_by(t.orders.c.customer_id, customer_id)

    def find_by_external_id(self, external_id: str) -> list[Order]:
        """Return the orders with ``external_id``."""
        return self._find_by(t.orders.c.external_id, external_id)


class SqlConsentRepository(SqlRepository[Consent]):
    """Consents in SQL; see :class:`~crmcore.ports.ConsentRepository`."""

    def __init__(self, session: SqlSession) -> None:
        super().__init__(session, CONSENTS)

    def find_by_customer(self, customer_id: CustomerId) -> list[Consent]:
        """Return the customer's consents."""
        return self._find_by(t.consents.c.customer_id, customer_id)


class SqlMergeRepository(SqlRepository[MergeRecord]):
    """Merge records in SQL; see :class:`~crmcore.ports.MergeRepository`.

    With ``encryption``, the customer snapshots a record keeps (the
    originals and the result) are stored sealed as customers are, each under
    its own customer's key.
    """

    def __init__(self, session: SqlSession, *, encryption: FieldEncryption | None = None) -> None:
        super().__init__(session, MERGES)
        self._encryption = encryption
        self._encryptor = encryption.encryptor if encryption is not None else None

    def _snapshots(self, document: Any) -> list[dict[str, Any]]:
        found = [d for d in document.get("originals") or () if isinstance(d, dict)]
        if isinstance(document.get("result"), dict):
            found.append(document["result"])
        return found

    def _open_many(self, documents: Sequence[Any]) -> Sequence[Any]:
        snapshots = [s for d in documents for s in self._snapshots(d)]
        if snapshots and (self._encryptor is not None or any(SEALED_KEY in s for s in snapshots)):
            open_many(snapshots, self._encryptor)
        return documents

    def _seal_many(self, rows: Sequence[dict[str, Any]]) -> None:
        if self._encryption is not None:
            self._encryption.seal_many(
                [s for row in rows for s in self._snapshots(row["document"])]
            )

    def find_by_customer(self, customer_id: CustomerId) -> list[MergeRecord]:
        """Return the merges that involved the customer, as survivor or as merged."""
        return self._find_by_child(t.merge_members, "merge_id", "customer_id", customer_id)


class SqlErasureRepository(SqlRepository[ErasureRequest]):
    """The erasure register in SQL; see :class:`~crmcore.ports.ErasureRepository`."""

    def __init__(self, session: SqlSession) -> None:
        super().__init__(session, ERASURES)

    def find_by_subject(self, subject: CustomerId) -> list[ErasureRequest]:
        """Return the erasure requests of ``subject``."""
        return self._find_by(t.erasure_requests.c.subject, subject)
