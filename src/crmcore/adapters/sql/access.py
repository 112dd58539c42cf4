"""Access policies compiled to SQL: the records an actor may reach, chosen by the database.

:func:`compile_access` turns the :class:`~crmcore.privacy.access.AccessFilter`
that a policy resolves to for one actor, action and record type into one
SQLAlchemy boolean expression over that type's table: ``owner = :me``,
``team IN (...)`` (the team hierarchy is already expanded to a list of ids),
``owner IS NULL`` for unassigned records and ``id IN (...)`` for explicit
shares, joined by ``OR``. Each term is a plain comparison on an indexed column
(``owner`` and ``team`` are indexed on the tables that carry them), so
PostgreSQL, MariaDB and SQLite answer with index scans instead of testing
every row; no share rows are stored for own or team access.

The expression is meant for a ``WHERE`` clause: a term on a ``NULL`` owner or
team is ``NULL`` there, which ``WHERE`` treats as false, exactly as the
in-memory predicate (:func:`crmcore.privacy.access.allows`) does.

:func:`select_visible` reads the records an actor may view, masked for them;
:func:`select_allowed` reads them unmasked, for
:class:`~crmcore.privacy.access.SecuredRepository`'s ``query`` hook.

May import: ``crmcore.adapters.sql``, ``crmcore.privacy``, ``crmcore.domain``,
``crmcore.serialization``, ``crmcore.errors``; SQLAlchemy.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, ColumnElement

from crmcore.adapters.sql.encryption import open_many
from crmcore.adapters.sql.segments import SUPPORTED_DIALECTS
from crmcore.adapters.sql.session import translating
from crmcore.adapters.sql.tables import (
    activities,
    cases,
    consents,
    customers,
    leads,
    opportunities,
    orders,
    survey_responses,
)
from crmcore.domain import (
    Activity,
    Case,
    Consent,
    Customer,
    Lead,
    Opportunity,
    Order,
    SurveyResponse,
)
from crmcore.errors import ConfigurationError
from crmcore.ports import Encryptor
from crmcore.privacy.access import (
    AccessFilter,
    AccessPolicy,
    Action,
    Actor,
    RecordType,
    access_filter,
    mask,
)
from crmcore.serialization import make_converter, structure

__all__ = [
    "TABLES",
    "access_where",
    "compile_access",
    "count_visible",
    "select_allowed",
    "select_allowed_ids",
    "select_visible",
    "visible_query",
]

TABLES: Mapping[RecordType, sa.Table] = {
    RecordType.CUSTOMER: customers,
    RecordType.LEAD: leads,
    RecordType.OPPORTUNITY: opportunities,
    RecordType.ACTIVITY: activities,
    RecordType.CASE: cases,
    RecordType.ORDER: orders,
    RecordType.SURVEY_RESPONSE: survey_responses,
    RecordType.CONSENT: consents,
}
"""The table holding each record type."""

_CLASSES: Mapping[RecordType, type[Any]] = {
    RecordType.CUSTOMER: Customer,
    RecordType.LEAD: Lead,
    RecordType.OPPORTUNITY: Opportunity,
    RecordType.ACTIVITY: Activity,
    RecordType.CASE: Case,
    RecordType.ORDER: Order,
    RecordType.SURVEY_RESPONSE: SurveyResponse,
    RecordType.CONSENT: Consent,
}


def _equal(column: sa.ColumnElement[Any], value: str) -> ColumnElement[bool]:
    # The constructs themselves: going through the column's operators costs twice as much.
    bound = sa.bindparam(column.key, value, type_=column.type, unique=True)
    return BinaryExpression(column, bound, operators.eq)


def _is_in(column: sa.ColumnElement[Any], values: frozenset[str]) -> ColumnElement[bool]:
    items = sorted(values)
    if len(items) == 1:
        return _equal(column, items[0])
    bound = sa.bindparam(column.key, items, type_=column.type, unique=True, expanding=True)
    return BinaryExpression(column, bound, operators.in_op)


_CACHE = 4096
"""How many compiled filters (and their statements) are kept, least recently used out."""


@functools.lru_cache(maxsize=_CACHE)
def _compiled(found: AccessFilter) -> ColumnElement[bool]:
    table = TABLES[found.record_type]
    c = table.c
    if found.everything:
        return sa.true()
    terms: list[ColumnElement[bool]] = []
    kind = found.record_type
    if kind.has_owner and found.owners:
        terms.append(_is_in(c.owner, frozenset(found.owners)))
    if kind.has_team and found.teams:
        terms.append(_is_in(c.team, frozenset(found.teams)))
    if kind.has_owner and found.unassigned:
        terms.append(c.owner.is_(None))
    if found.ids:
        terms.append(_is_in(c.id, found.ids))
    if not terms:
        return sa.false()
    return terms[0] if len(terms) == 1 else sa.or_(*terms)


def compile_access(found: AccessFilter) -> ColumnElement[bool]:
    """Compile a resolved access filter to a ``WHERE`` expression over its record type's table.

    Compiled filters are cached (an :class:`~crmcore.privacy.access.AccessFilter` is a
    value): an actor's next request reuses the expression and its statements.

    >>> from crmcore.privacy.access import DEFAULT_POLICY, Actor, access_filter
    >>> rep = Actor(user="u1", roles="rep", shared={"customer": ["c7", "c9"]})
    >>> print(compile_access(access_filter(DEFAULT_POLICY, rep, "view", "customer")))
    customers.owner = :owner_1 OR customers.owner IS NULL OR customers.id IN (__[POSTCOMPILE_id_1])
    """
    return _compiled(found)


@functools.lru_cache(maxsize=_CACHE)
def _count_statement(found: AccessFilter) -> sa.Select[Any]:
    table = TABLES[found.record_type]
    return sa.select(sa.func.count()).select_from(table).where(_compiled(found))


@functools.lru_cache(maxsize=_CACHE)
def _document_statement(found: AccessFilter) -> sa.Select[Any]:
    table = TABLES[found.record_type]
    return sa.select(table.c.id, table.c.document).where(_compiled(found))


def access_where(
    policy: AccessPolicy,
    actor: Actor,
    record_type: RecordType | str,
    *,
    action: Action | str = Action.VIEW,
) -> ColumnElement[bool]:
    """Return the ``WHERE`` expression of what ``actor`` may ``action`` among ``record_type``.

    Raises:
        InvalidValueError: If the action or record type is unknown, or the actor
            has a role the policy does not define.
    """
    return compile_access(access_filter(policy, actor, action, record_type))


def visible_query(
    policy: AccessPolicy,
    actor: Actor,
    record_type: RecordType | str,
    *,
    action: Action | str = Action.VIEW,
) -> sa.Select[tuple[Any]]:
    """Return ``SELECT document FROM <table> WHERE <access> ORDER BY id`` (the database's order).

    Raises:
        InvalidValueError: As for :func:`access_where`.
    """
    found = access_filter(policy, actor, action, record_type)
    table = TABLES[found.record_type]
    return sa.select(table.c.document).where(compile_access(found)).order_by(table.c.id)


def _check_dialect(connection: Connection) -> None:
    name = connection.dialect.name
    if name not in SUPPORTED_DIALECTS:
        raise ConfigurationError(
            f"access filters run on {sorted(SUPPORTED_DIALECTS)} only, not on {name!r}"
        )


def _operation(found: AccessFilter, what: str) -> str:
    return f"{what} {found.record_type} records allowed by the access policy"


def select_allowed_ids(connection: Connection, found: AccessFilter) -> list[str]:
    """Return the ids of the stored records ``found`` matches, sorted by code point.

    Raises:
        ConfigurationError: If the connection's database is not one crmcore supports.
        StorageError: If the database fails.
    """
    _check_dialect(connection)
    table = TABLES[found.record_type]
    statement = sa.select(table.c.id).where(compile_access(found))
    with translating(_operation(found, "select")):
        return sorted(str(i) for i in connection.execute(statement).scalars())


def select_allowed(
    connection: Connection,
    found: AccessFilter,
    *,
    converter: Any = None,
    encryptor: Encryptor | None = None,
) -> list[Any]:
    """Return the stored records ``found`` matches, by id (code point order), unmasked.

    Args:
        connection: An open connection to a database holding crmcore's tables.
        found: The resolved filter (:func:`~crmcore.privacy.access.access_filter`).
        converter: The store's converter (default: a new
            :func:`~crmcore.serialization.make_converter`).
        encryptor: The store's encryptor, when customers are stored with
            encrypted fields (``SqlStore(engine, encryptor=...)``).

    Raises:
        ConfigurationError: If the connection's database is not one crmcore supports,
            or a customer is stored encrypted and ``encryptor`` is ``None``.
        DecryptionError: If an encrypted value was tampered with.
        StorageError: If the database fails.
        PayloadError: If a stored document is not a valid record.
    """
    _check_dialect(connection)
    statement = _document_statement(found)
    with translating(_operation(found, "select")):
        rows = sorted(connection.execute(statement).all(), key=lambda row: str(row.id))
    conv = converter if converter is not None else make_converter()
    cls = _CLASSES[found.record_type]
    if found.record_type is RecordType.CUSTOMER:
        opened = open_many([r.document for r in rows], encryptor)
        return [structure(o.document, cls, conv) for o in opened]
    return [structure(row.document, cls, conv) for row in rows]


def select_visible(
    connection: Connection,
    policy: AccessPolicy,
    actor: Actor,
    record_type: RecordType | str,
    *,
    action: Action | str = Action.VIEW,
    converter: Any = None,
    encryptor: Encryptor | None = None,
) -> list[Any]:
    """Return the records ``actor`` may ``action`` (default: view), by id, masked for the actor.

    ``encryptor``: the store's, when customers are stored with encrypted fields.

    >>> import pendulum
    >>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
    >>> from crmcore.domain import Organization, register_customer
    >>> from crmcore.privacy.access import DEFAULT_POLICY
    >>> engine = create_engine("sqlite://")
    >>> create_schema(engine)
    >>> with SqlStore(engine).unit_of_work() as uow:
    ...     for i, owner in enumerate(["u1", "u2", None]):
    ...         c, _ = register_customer(id=f"c{i}", organization=Organization(legal_name="Acme"),
    ...                                  owner=owner, at=pendulum.datetime(2026, 1, 1))
    ...         _ = uow.customers.save(c)
    ...     uow.commit()
    >>> with engine.connect() as conn:
    ...     [c.id for c in select_visible(conn, DEFAULT_POLICY, Actor(user="u1", roles="rep"),
    ...                                   "customer")]
    ['c0', 'c2']
    >>> engine.dispose()

    Raises:
        InvalidValueError: As for :func:`access_where`.
        ConfigurationError: If the connection's database is not one crmcore supports.
        StorageError: If the database fails.
    """
    found = access_filter(policy, actor, action, record_type)
    records = select_allowed(connection, found, converter=converter, encryptor=encryptor)
    return [mask(r, actor, policy) for r in records]


def count_visible(
    connection: Connection,
    policy: AccessPolicy,
    actor: Actor,
    record_type: RecordType | str,
    *,
    action: Action | str = Action.VIEW,
) -> int:
    """Return how many records ``actor`` may ``action`` (default: view).

    Raises:
        InvalidValueError: As for :func:`access_where`.
        ConfigurationError: If the connection's database is not one crmcore supports.
        StorageError: If the database fails.
    """
    found = access_filter(policy, actor, action, record_type)
    _check_dialect(connection)
    statement = _count_statement(found)
    with translating(_operation(found, "count")):
        return int(connection.execute(statement).scalar_one())
