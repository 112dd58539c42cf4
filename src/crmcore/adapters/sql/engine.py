"""Engines and schema: make an engine crmcore can use, create and drop its tables.

:func:`create_engine` wraps :func:`sqlalchemy.create_engine` with what each
backend needs (SQLite: real transactions and savepoints, a shared
connection for ``sqlite://`` in memory); :func:`configure_engine` applies
the same to an engine the host made. :func:`create_schema` /
:func:`drop_schema` are for the embedded case; hosts with migrations add
:data:`crmcore.adapters.sql.tables.metadata` to Alembic instead.

May import: ``crmcore.adapters.sql.tables``, ``crmcore.errors``; SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from crmcore.adapters.sql.tables import metadata
from crmcore.errors import ConfigurationError, StorageError

__all__ = ["configure_engine", "create_engine", "create_schema", "drop_schema"]


def _sqlite_begin(conn: Connection) -> None:
    # pysqlite's legacy transaction handling defers BEGIN and breaks SAVEPOINT;
    # take over (SQLAlchemy's documented recipe for "serializable isolation /
    # savepoints / transactional DDL" on pysqlite).
    driver = conn.connection.driver_connection
    if driver is not None and getattr(driver, "isolation_level", None) is not None:
        driver.isolation_level = None
    conn.exec_driver_sql("BEGIN")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def configure_engine(engine: Engine) -> Engine:
    """Prepare ``engine`` for crmcore (idempotent) and return it.

    On SQLite this makes pysqlite emit ``BEGIN`` itself, so transactions and
    savepoints behave as on the other backends. Other backends need nothing.

    Args:
        engine: Any SQLAlchemy engine for SQLite, PostgreSQL or MySQL/MariaDB.

    Returns:
        The same engine.

    Raises:
        ConfigurationError: If the backend is not one crmcore supports.
    """
    name = engine.dialect.name
    if name not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise ConfigurationError(
            f"unsupported database {name!r}; use SQLite, PostgreSQL or MySQL/MariaDB"
        )
    if name == "sqlite" and not event.contains(engine, "begin", _sqlite_begin):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def create_engine(url: str | sa.URL, **options: Any) -> Engine:
    """Return an engine for ``url``, configured for crmcore.

    ``sqlite://`` (in memory) gets one shared connection (``StaticPool``)
    usable from any thread — but by one unit of work at a time: use a file
    database for concurrent units of work. A file database is switched to
    write-ahead logging (``PRAGMA journal_mode=WAL``) so readers never block
    the writer. Other options go to :func:`sqlalchemy.create_engine`.

    Args:
        url: A SQLAlchemy URL: ``sqlite:///crm.db``, ``sqlite://``,
            ``postgresql+psycopg://...``, ``mysql+pymysql://...``.
        **options: Passed on to :func:`sqlalchemy.create_engine`.

    Returns:
        The configured engine (dispose of it when done).

    Raises:
        ConfigurationError: If the URL is invalid or names an unsupported backend.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"invalid database URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        connect_args = dict(options.pop("connect_args", {}))
        if parsed.database in (None, "", ":memory:"):
            connect_args.setdefault("check_same_thread", False)
            options.setdefault("poolclass", StaticPool)
        else:
            connect_args.setdefault("timeout", 30)
        options["connect_args"] = connect_args
    try:
        engine = sa.create_engine(parsed, **options)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigurationError(f"cannot create an engine for {parsed!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        event.listen(engine, "connect", _sqlite_wal)
    return configure_engine(engine)


def create_schema(engine: Engine) -> None:
    """Create every crmcore table and index that does not exist yet.

    Raises:
        StorageError: If the database refuses.
    """
    configure_engine(engine)
    try:
        metadata.create_all(engine)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError("create schema", str(exc).splitlines()[0]) from exc


def drop_schema(engine: Engine) -> None:
    """Drop every crmcore table (and its data).

    Raises:
        StorageError: If the database refuses.
    """
    configure_engine(engine)
    try:
        metadata.drop_all(engine)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError("drop schema", str(exc).splitlines()[0]) from exc
