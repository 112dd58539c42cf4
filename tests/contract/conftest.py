"""Fixtures for the storage contract tests: stores on memory, SQLite, PostgreSQL, MariaDB.

PostgreSQL and MariaDB come from ``CRMCORE_TEST_POSTGRES_URL`` and
``CRMCORE_TEST_MYSQL_URL`` (SQLAlchemy URLs). Unset: their tests skip, naming
the variable. Set but unreachable: their tests fail. Each test session works
in a schema (PostgreSQL) or database (MariaDB) of its own, dropped at the
end, so parallel and repeated runs never collide.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql.tables import metadata
from crmcore.ports import EventPublisher

POSTGRES_VAR = "CRMCORE_TEST_POSTGRES_URL"
MYSQL_VAR = "CRMCORE_TEST_MYSQL_URL"

SqlStoreFactory = Callable[[EventPublisher | None], SqlStore]


def _url(variable: str) -> str:
    url = os.environ.get(variable, "").strip()
    if not url:
        pytest.skip(f"set {variable} to a SQLAlchemy URL to run these tests")
    return url


def _unreachable(variable: str, exc: Exception) -> None:
    pytest.fail(f"{variable} is set but the database is unreachable: {exc}", pytrace=False)


@contextlib.contextmanager
def _fresh_schema(prefix: str) -> Iterator[tuple[str, str]]:
    """Create a PostgreSQL schema named after ``prefix``; yield (server URL, schema); drop it."""
    url = _url(POSTGRES_VAR)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unreachable(POSTGRES_VAR, exc)
    try:
        yield url, schema
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _postgres_schema(prefix: str) -> Iterator[Engine]:
    """An engine on a fresh PostgreSQL schema with crmcore's tables, dropped afterwards."""
    with _fresh_schema(prefix) as (url, schema):
        engine = create_engine(url).execution_options(schema_translate_map={None: schema})
        try:
            create_schema(engine)
            yield engine
        finally:
            engine.dispose()


def postgres_schema_url(prefix: str) -> Iterator[str]:
    """A URL (``search_path`` set) on a fresh PostgreSQL schema with crmcore's tables.

    For code that opens its own engines from a URL (other processes, the CLI): a
    schema_translate_map cannot travel in a URL. The schema is dropped afterwards.
    """
    with _fresh_schema(prefix) as (url, schema):
        found = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        engine = create_engine(found)
        create_schema(engine)
        engine.dispose()
        yield found.render_as_string(hide_password=False)


def _mysql_database(prefix: str) -> Iterator[Engine]:
    """An engine on a fresh MariaDB/MySQL database with crmcore's tables, dropped afterwards."""
    url = sa.make_url(_url(MYSQL_VAR))
    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unreachable(MYSQL_VAR, exc)
    engine = create_engine(url.set(database=database))
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE `{database}`")
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    yield from _postgres_schema("crm_test")


@pytest.fixture(scope="session")
def mysql_engine() -> Iterator[Engine]:
    yield from _mysql_database("crm_test")


# The segment equivalence tests select from whole tables: a schema of their own,
# so rows other contract tests leave behind never count.


@pytest.fixture(scope="module")
def postgres_segments_engine() -> Iterator[Engine]:
    yield from _postgres_schema("crm_segments")


@pytest.fixture(scope="module")
def mysql_segments_engine() -> Iterator[Engine]:
    yield from _mysql_database("crm_segments")


@pytest.fixture(scope="module")
def sqlite_segments_engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


def empty(engine: Engine) -> None:
    """Delete every row of every crmcore table."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def factory_on(engine: Engine) -> SqlStoreFactory:
    """Return a factory of empty stores on ``engine``."""

    def fresh(publisher: EventPublisher | None) -> SqlStore:
        empty(engine)
        return SqlStore(engine, publisher=publisher)

    return fresh


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def sql_engine(request: pytest.FixtureRequest) -> Engine:
    """Each SQL backend in turn (skipping those without a URL)."""
    name = {"sqlite": "sqlite_engine", "postgresql": "postgres_engine", "mariadb": "mysql_engine"}
    engine: Engine = request.getfixturevalue(name[request.param])
    empty(engine)
    return engine


@pytest.fixture
def sqlite_factory(sqlite_engine: Engine) -> SqlStoreFactory:
    return factory_on(sqlite_engine)


@pytest.fixture
def postgres_factory(postgres_engine: Engine) -> SqlStoreFactory:
    return factory_on(postgres_engine)


@pytest.fixture
def mysql_factory(mysql_engine: Engine) -> SqlStoreFactory:
    return factory_on(mysql_engine)
