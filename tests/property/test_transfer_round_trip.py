"""Every aggregate survives JSON lines: export → import into an empty store → export is identical.

Runs on the in-memory store, SQLite (a file), and PostgreSQL and MariaDB
when ``CRMCORE_TEST_POSTGRES_URL`` / ``CRMCORE_TEST_MYSQL_URL`` are set
(skipped, naming the variable, when unset; failing when set and unreachable).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql.tables import metadata
from crmcore.adapters.transfer import (
    ALL,
    RecordKind,
    export_lines,
    import_records,
    parse_line,
)
from crmcore.ports import Store, with_version
from crmcore.testing import strategies as cst

POSTGRES_VAR = "CRMCORE_TEST_POSTGRES_URL"
MYSQL_VAR = "CRMCORE_TEST_MYSQL_URL"

STRATEGIES: dict[RecordKind, st.SearchStrategy[Any]] = {
    RecordKind.CUSTOMERS: cst.customers(),
    RecordKind.LEADS: cst.leads(),
    RecordKind.OPPORTUNITIES: cst.opportunities(),
    RecordKind.ACTIVITIES: cst.activities(),
    RecordKind.CASES: cst.cases(),
    RecordKind.ORDERS: cst.orders(),
    RecordKind.SURVEY_RESPONSES: cst.survey_responses(),
    RecordKind.CONSENTS: cst.consents(),
    RecordKind.MERGES: cst.merge_records(),
}

Records = dict[RecordKind, list[Any]]


def new_records() -> st.SearchStrategy[Records]:
    """Up to three new records (version 0) of every kind, unique ids within a kind."""
    return st.fixed_dictionaries(
        {
            kind: st.lists(
                strategy.map(lambda record: with_version(record, 0)),
                max_size=3,
                unique_by=lambda record: record.id,
            )
            for kind, strategy in STRATEGIES.items()
        }
    )


def save(store: Store, records: Records) -> Records:
    """Save every record, every other one twice (version 2); return the snapshots, by id."""
    with store.unit_of_work() as uow:
        stored = {kind: kind.repository(uow).save_many(items) for kind, items in records.items()}
        stored = {
            kind: kind.repository(uow).save_many(items[::2]) + items[1::2]
            for kind, items in stored.items()
        }
        uow.commit()
    return {kind: sorted(items, key=lambda r: r.id) for kind, items in stored.items()}


def _url(variable: str) -> str:
    url = os.environ.get(variable, "").strip()
    if not url:
        pytest.skip(f"set {variable} to a SQLAlchemy URL to run these tests")
    return url


def _unreachable(variable: str, exc: Exception) -> None:
    pytest.fail(f"{variable} is set but the database is unreachable: {exc}", pytrace=False)


def _postgres() -> Iterator[Engine]:
    admin = create_engine(_url(POSTGRES_VAR))
    schema = f"crm_transfer_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unreachable(POSTGRES_VAR, exc)
    try:
        engine = admin.execution_options(schema_translate_map={None: schema})
        create_schema(engine)
        yield engine
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _mysql() -> Iterator[Engine]:
    url = sa.make_url(_url(MYSQL_VAR))
    database = f"crm_transfer_{uuid.uuid4().hex[:12]}"
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


def _sqlite(folder: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{folder / 'transfer.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="module", params=["memory", "sqlite", "postgresql", "mariadb"])
def empty_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], Store]]:
    """A factory of empty stores on one backend (each call empties the same database)."""
    if request.param == "memory":
        yield MemoryStore
        return
    engines = {
        "sqlite": lambda: _sqlite(tmp_path_factory.mktemp("transfer")),
        "postgresql": _postgres,
        "mariadb": _mysql,
    }
    for engine in engines[request.param]():

        def fresh(engine: Engine = engine) -> Store:
            _empty(engine)
            return SqlStore(engine)

        yield fresh


def _database_examples() -> int:
    profile = settings.default
    return max(10, (profile.max_examples if profile is not None else 100) // 4)


DATABASE_EXAMPLES = _database_examples()


def read_back(lines: list[str]) -> list[Any]:
    """The records of an export's lines, through the converter."""
    parsed = [parse_line(line) for line in lines]
    return [p.record for p in parsed if p is not None]


# Each example builds and empties real databases: a quarter of the profile's examples
# (50 in CI) on each of the four backends.
@settings(max_examples=DATABASE_EXAMPLES)
@given(records=new_records())
def test_export_import_export_is_identical_and_importing_again_stores_nothing(
    empty_store: Callable[[], Store], records: Records
) -> None:
    source = empty_store()
    stored = save(source, records)
    first = list(export_lines(source, "all"))
    assert read_back(first) == [record for kind in ALL for record in stored[kind]]

    target = empty_store()
    report = import_records(target, first, batch_size=7)
    second = list(export_lines(target, "all"))
    again = import_records(target, second, batch_size=5)

    count = sum(len(items) for items in records.values())
    assert (report.lines, report.stored, report.issues) == (count, count, ())
    assert second == first
    assert (again.stored, again.already, again.issues) == (0, count, ())
    assert list(export_lines(target, "all")) == first


# Each example builds and empties real databases: a quarter of the profile's examples
# (50 in CI) on each of the four backends.
@settings(max_examples=DATABASE_EXAMPLES)
@given(records=new_records())
def test_an_export_of_the_reference_store_imports_into_sql_and_exports_the_same(
    empty_store: Callable[[], Store], records: Records
) -> None:
    reference = MemoryStore()
    save(reference, records)
    lines = list(export_lines(reference, "all"))

    target = empty_store()
    import_records(target, lines)

    assert list(export_lines(target, "all")) == lines
