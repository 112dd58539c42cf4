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

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from crmcore.adapters.sql.tables import metadata
from crmcore.errors import ConfigurationError, StorageError
from crmcore.segments.pattern import compile_pattern

__all__ = [
    "configure_engine",
    "create_engine",
    "create_schema",
    "drop_schema",
    "register_sqlite_functions",
]

_SUPPORTED = "sqlite:///FILE, postgresql+psycopg://… or mysql+pymysql://…"
_DRIVER_URLS = {
    # backend as written in a URL -> the scheme with the driver the ``sql`` extra installs
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_PASSWORD = re.compile(r"(?P<head>://[^:/@]*:)[^@]*(?P<tail>@)")


def _redacted(url: str) -> str:
    """Return ``url`` as text with its password, if any, replaced by ``***``."""
    return _PASSWORD.sub(r"\g<head>***\g<tail>", url)


def _parse_url(url: str | sa.URL) -> sa.URL:
    """Parse ``url``, translating SQLAlchemy's complaints.

    Raises:
        ConfigurationError: If ``url`` is not a database URL.
    """
    try:
        return sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        shown = _redacted(str(url)) if isinstance(url, str) else repr(url)
        raise ConfigurationError(
            f"invalid database URL {shown!r}: expected scheme://user:password@host:port/database,"
            f" e.g. {_SUPPORTED}"
        ) from exc


def _scheme_hint(parsed: sa.URL) -> str:
    """Name the URL scheme to use instead of ``parsed``'s, for the drivers crmcore installs."""
    backend = parsed.drivername.split("+", 1)[0]
    better = _DRIVER_URLS.get(backend)
    return f"use {better}://… instead" if better else f"use {_SUPPORTED}"


def _engine_error(parsed: sa.URL, exc: Exception) -> ConfigurationError:
    """Translate a failure of :func:`sqlalchemy.create_engine` into what the user should do."""
    shown = parsed.render_as_string(hide_password=True)
    scheme = parsed.drivername
    if isinstance(exc, sa.exc.NoSuchModuleError):
        return ConfigurationError(
            f"unknown database URL scheme {scheme!r} in {shown}: {_scheme_hint(parsed)}"
        )
    if isinstance(exc, ImportError):
        backend = scheme.split("+", 1)[0]
        if backend not in (*_DRIVER_URLS, "sqlite"):
            return ConfigurationError(
                f"unsupported database {backend!r} in {shown}: use {_SUPPORTED}"
            )
        module = exc.name or str(exc)
        return ConfigurationError(
            f"the database URL {shown} needs the Python driver {module!r}, which is not"
            f" installed; {_scheme_hint(parsed)} (installed with crmcore[sql])"
        )
    return ConfigurationError(f"cannot create an engine for {shown}: {exc}")


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
    register_sqlite_functions(dbapi_connection)


def _crmcore_regexp(pattern: str | None, value: str | None) -> int | None:
    if pattern is None or value is None:
        return None
    return int(compile_pattern(pattern).search(value))


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Register crmcore's SQL functions on a raw :mod:`sqlite3` connection.

    ``crmcore_regexp(pattern, text)`` — the segment rules' regular-expression
    dialect (:mod:`crmcore.segments.pattern`) in linear time, where SQLite's
    usual ``REGEXP`` would hand the pattern to Python's backtracking ``re``;
    ``crmcore_sum_micros(x)`` — order totals in millionths without the
    "integer overflow" of ``sum()`` past 2**63.
    :func:`configure_engine` registers it on every new connection; call this
    for a connection made some other way.

    >>> import sqlite3
    >>> connection = sqlite3.connect(":memory:")
    >>> register_sqlite_functions(connection)
    >>> connection.execute("SELECT crmcore_regexp('^Sm.th$', 'Smith')").fetchone()
    (1,)
    """
    dbapi_connection.create_function("crmcore_regexp", 2, _crmcore_regexp, deterministic=True)
    dbapi_connection.create_aggregate("crmcore_sum_micros", 1, _SumMicros)


class _SumMicros:
    """``crmcore_sum_micros(x)``: SQLite's ``sum()`` of whole millionths without overflow.

    Exact while the sum fits 64 bits (as ``sum()``), a float past them (where
    ``sum()`` fails with "integer overflow").
    """

    def __init__(self) -> None:
        self.total = 0
        self.seen = False

    def step(self, value: float | int | None) -> None:
        if value is not None:
            self.total += int(value)
            self.seen = True

    def finalize(self) -> int | float | None:
        if not self.seen:
            return None
        return self.total if -(2**63) <= self.total < 2**63 else float(self.total)


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
        ConfigurationError: If the URL does not parse, names an unsupported
            backend, or a driver that is not installed (``mysql://`` needs
            mysqlclient; the ``sql`` extra installs PyMySQL, for
            ``mysql+pymysql://``). The message never shows the password.
    """
    parsed = _parse_url(url)
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
    except (sa.exc.ArgumentError, ImportError) as exc:  # NoSuchModuleError is an ArgumentError
        raise _engine_error(parsed, exc) from exc
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
