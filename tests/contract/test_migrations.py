"""crmcore's Alembic migrations on SQLite, PostgreSQL and MariaDB.

The oldest layout is created, filled with records written by today's adapter
(and an audit chain whose head row still carries ``sequence`` and ``hash``),
then upgraded: every record and the chain must read back unchanged, the
migrated schema must equal ``create_schema``'s (Alembic's autogenerate
comparison finds nothing), and the storage contract must hold on it.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql.migrations import (
    VERSION_TABLE,
    alembic_config,
    current,
    detect_revision,
    head,
    include_object,
    revisions,
    stamp,
    upgrade,
)
from crmcore.adapters.sql.tables import audit_chain, customers, metadata
from crmcore.domain import (
    CustomerId,
    EmailAddress,
    Person,
    PersonName,
    PhoneNumber,
    UserId,
    register_customer,
)
from crmcore.errors import ConfigurationError, StorageError
from crmcore.matching import MatchRecord
from crmcore.ports import EventPublisher
from crmcore.privacy.audit import AuditDraft, verify
from crmcore.sample.crm import generate_crm
from crmcore.testing.contracts import StoreContract

POSTGRES_VAR = "CRMCORE_TEST_POSTGRES_URL"
MYSQL_VAR = "CRMCORE_TEST_MYSQL_URL"
AT = pendulum.datetime(2026, 6, 1, 9, tz="Asia/Shanghai")
NAMES = ["王芳", "李娜", "张伟", "John Smith", "Ana María López", "刘洋", "陈静", "Mary Jones"]


def _url(variable: str) -> str:
    url = os.environ.get(variable, "").strip()
    if not url:
        pytest.skip(f"set {variable} to a SQLAlchemy URL to run these tests")
    return url


def _blank_postgres() -> Iterator[Engine]:
    """An engine whose default schema is a fresh, empty PostgreSQL schema."""
    url = _url(POSTGRES_VAR)
    schema = f"crm_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _blank_mysql() -> Iterator[Engine]:
    """An engine on a fresh, empty MariaDB/MySQL database."""
    url = sa.make_url(_url(MYSQL_VAR))
    database = f"crm_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    engine = create_engine(url.set(database=database))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE `{database}`")
        admin.dispose()


def _blank_sqlite(directory: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{directory / f'{uuid.uuid4().hex}.db'}")
    yield engine
    engine.dispose()


def _blank(backend: str, directory: Path) -> Iterator[Engine]:
    if backend == "postgresql":
        return _blank_postgres()
    if backend == "mariadb":
        return _blank_mysql()
    return _blank_sqlite(directory)


BACKENDS = ["sqlite", "postgresql", "mariadb"]


@pytest.fixture(params=BACKENDS)
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on each backend in turn."""
    yield from _blank(request.param, tmp_path)


def _people(count: int) -> list[Any]:
    people = []
    for n in range(count):
        name = NAMES[n % len(NAMES)]
        customer, _ = register_customer(
            id=CustomerId(f"c-{n:03d}"),
            person=Person(name=PersonName.parse(name)),
            emails=[EmailAddress(f"user{n}@example.com")],
            phones=[PhoneNumber.parse(f"+86 138 0013 {n:04d}")],
            tags=["vip"] if n % 3 == 0 else [],
            owner=UserId(f"u-{n % 4}"),
            at=AT.subtract(years=2, days=n),
        )
        people.append(customer)
    return people


def _source() -> tuple[Engine, dict[str, Any]]:
    """A scratch SQLite database holding records and an audit chain written by today's adapter."""
    engine = create_engine("sqlite://")
    create_schema(engine)
    people = _people(40)
    crm = generate_crm(people, at=AT, seed=3)
    store = SqlStore(engine)
    with store.unit_of_work() as uow:
        expected = {
            "customers": {c.id: c for c in uow.customers.save_many(people)},
            "orders": {o.id: o for o in uow.orders.save_many(crm.orders)},
            "cases": {c.id: c for c in uow.cases.save_many(crm.cases)},
            "leads": {lead.id: lead for lead in uow.leads.save_many(crm.leads)},
        }
        uow.activities.save_many(crm.activities)
        uow.opportunities.save_many(crm.opportunities)
        for n in range(5):
            uow.audit.append(
                AuditDraft.of(
                    at=AT.add(minutes=n),
                    actor="u-1",
                    action="read",
                    record_type="customer",
                    record_id=f"c-{n:03d}",
                    subject=f"c-{n:03d}",
                    payload={"fields": ["name"]},
                )
            )
        uow.commit()
    return engine, expected


def _copy(source: Engine, target: Engine, tables: list[str]) -> None:
    """Copy the rows of ``tables`` from ``source`` to ``target`` (the columns both have)."""
    old = sa.MetaData()
    old.reflect(target, only=tables)
    with source.connect() as read, target.begin() as write:
        for name in tables:
            present = {c.name for c in old.tables[name].columns}
            columns = [c for c in metadata.tables[name].columns if c.name in present]
            rows = [dict(r._mapping) for r in read.execute(sa.select(*columns))]
            if rows:
                write.execute(metadata.tables[name].insert(), rows)


FIRST_TABLES = [
    "customers",
    "customer_emails",
    "customer_phones",
    "customer_tags",
    "customer_external_ids",
    "leads",
    "lead_emails",
    "lead_phones",
    "opportunities",
    "activities",
    "cases",
    "orders",
    "event_outbox",
]


def test_upgrading_the_oldest_layout_keeps_every_record(blank: Engine) -> None:
    source, expected = _source()
    upgrade(blank, "crmcore_0001")
    assert current(blank) == "crmcore_0001"
    _copy(source, blank, FIRST_TABLES)
    upgrade(blank, "crmcore_0003")  # audit tables, with the chain head's sequence and hash
    _copy(source, blank, ["audit_entries", "audit_payloads"])
    with blank.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO audit_chain (chain, sequence, hash) VALUES ('main', :s, :h)"),
            {"s": 5, "h": _last_hash(source)},
        )
    result = upgrade(blank)
    assert (result.before, result.after, result.adopted) == ("crmcore_0003", head(), False)
    source.dispose()
    store = SqlStore(blank)
    with store.unit_of_work() as uow:
        for customer_id, customer in expected["customers"].items():
            assert uow.customers.get(customer_id) == customer
        for order_id, order in expected["orders"].items():
            assert uow.orders.get(order_id) == order
        for case_id, case in expected["cases"].items():
            assert uow.cases.get(case_id) == case
        for lead_id, lead in expected["leads"].items():
            assert uow.leads.get(lead_id) == lead
        assert verify(uow.audit.entries()).first_break is None
        entry = uow.audit.append(
            AuditDraft.of(
                at=AT.add(hours=1),
                actor="u-2",
                action="read",
                record_type="customer",
                record_id="c-001",
            )
        )
        uow.commit()
    assert entry.sequence == 6
    with blank.connect() as conn:
        assert conn.execute(sa.select(audit_chain.c.chain)).scalars().all() == ["main"]
    _assert_touches_backfilled(blank, expected)
    _assert_same_as_create_schema(blank)


def _assert_touches_backfilled(engine: Engine, expected: dict[str, Any]) -> None:
    """crmcore_0010 filled ``customers.touched_at``: each customer's last touch."""
    with SqlStore(engine).unit_of_work() as uow:
        deals: dict[str, str] = {o.id: o.customer_id for o in uow.opportunities.iter_all()}
        touches: dict[str, list[dt.datetime]] = {
            id: [c.created_at] for id, c in expected["customers"].items()
        }
        for activity in uow.activities.iter_all():
            for owner in (activity.customer_id, deals.get(activity.opportunity_id or "")):
                if owner in touches:
                    touches[owner].append(activity.occurred_at)
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(customers.c.id, customers.c.touched_at)).all())
    assert stored == {id: max(times) for id, times in touches.items()}
    assert any(len(times) > 1 for times in touches.values())  # activities did count


def _last_hash(source: Engine) -> str:
    with source.connect() as conn:
        value = conn.execute(
            sa.text("SELECT hash FROM audit_entries ORDER BY sequence DESC LIMIT 1")
        ).scalar_one()
    return str(value)


def _assert_same_as_create_schema(engine: Engine) -> None:
    """Alembic's autogenerate comparison of the database with ``metadata`` finds nothing."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "version_table": VERSION_TABLE,
            },
        )
        assert compare_metadata(context, metadata) == []
        assert VERSION_TABLE in sa.inspect(conn).get_table_names()


# MariaDB commits every DDL statement and is the slowest to alter: the upgrade test above
# covers it (including the comparison with create_schema's schema); the full downgrade
# round trip and the recognition of every layout run on SQLite and PostgreSQL.
@pytest.fixture(params=["sqlite", "postgresql"])
def blank_light(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from _blank(request.param, tmp_path)


def test_create_schema_and_the_migrations_give_the_same_schema(blank_light: Engine) -> None:
    blank = blank_light
    upgrade(blank)
    _assert_same_as_create_schema(blank)
    with blank.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(sa.inspect(blank).get_table_names()) <= {VERSION_TABLE}
    create_schema(blank)
    _assert_same_as_create_schema_tables_only(blank)


def _assert_same_as_create_schema_tables_only(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        assert compare_metadata(context, metadata) == []


SAME_LAYOUT = {("sqlite", "crmcore_0010"): "crmcore_0011"}
"""(backend, revision) -> the newest revision with the same tables there."""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_layout_is_recognised_stamped_and_upgraded(backend: str, tmp_path: Path) -> None:
    for revision in revisions():
        for engine in _blank(backend, tmp_path):
            upgrade(engine, revision)
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP TABLE {VERSION_TABLE}")
            assert current(engine) is None
            # crmcore_0011 changes PostgreSQL only: elsewhere crmcore_0010's tables are its layout
            recognised = SAME_LAYOUT.get((backend, revision), revision)
            assert detect_revision(engine) == recognised
            result = upgrade(engine)
            assert (result.before, result.after, result.adopted) == (recognised, head(), True)
            _assert_same_as_create_schema(engine)


def test_a_database_made_by_create_schema_is_adopted_without_changes(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'made.db'}")
    create_schema(engine)
    assert current(engine) is None
    assert detect_revision(engine) == head()
    result = upgrade(engine)
    assert (result.before, result.after, result.adopted) == (head(), head(), True)
    assert upgrade(engine).adopted is False  # stamped now
    engine.dispose()


def test_stamp_and_unknown_revisions(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    create_schema(engine)
    stamp(engine, head())
    assert current(engine) == head()
    with pytest.raises(ConfigurationError, match="unknown crmcore revision 'crmcore_9999'"):
        upgrade(engine, "crmcore_9999")
    with pytest.raises(ConfigurationError, match="unknown crmcore revision"):
        stamp(engine, "nope")
    engine.dispose()


def test_a_failing_step_is_a_storage_error_and_rolls_back_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    upgrade(engine, "crmcore_0004")
    with engine.begin() as conn:  # something in the way of the next step
        conn.exec_driver_sql("CREATE INDEX ix_cases_team ON cases (kind)")
    with pytest.raises(StorageError, match="ix_cases_team already exists"):
        upgrade(engine)
    assert current(engine) == "crmcore_0004"
    engine.dispose()


HOST_ENV = """
from alembic import context
import sqlalchemy as sa

from crmcore.adapters.sql.migrations import include_object, upgrade

host_metadata = sa.MetaData()
config = context.config
engine = config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection, target_metadata=host_metadata, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()
    upgrade(connection)  # crmcore's tables, in crmcore's own version table
"""

HOST_REVISION = """
from alembic import op
import sqlalchemy as sa

revision = "host_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("invoices", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("invoices")
"""


def test_a_host_alembic_environment_runs_crmcore_beside_its_own(tmp_path: Path) -> None:
    from alembic.config import Config  # noqa: PLC0415

    scripts = tmp_path / "host_migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(HOST_ENV, encoding="utf-8")
    (scripts / "versions" / "host_0001.py").write_text(HOST_REVISION, encoding="utf-8")
    engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.attributes["engine"] = engine
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == (
            "host_0001"
        )
        tables = set(sa.inspect(conn).get_table_names())
    assert current(engine) == head()
    assert {"invoices", "customers", VERSION_TABLE, "alembic_version"} <= tables
    # The host's autogenerate, told to leave crmcore's tables alone, sees only its own.
    host = sa.MetaData()
    sa.Table("invoices", host, sa.Column("id", sa.Integer, primary_key=True))
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "target_metadata": host}
        )
        assert compare_metadata(context, host) == []
    engine.dispose()


# -- the storage contract on a database upgraded from the oldest layout -----------------------

Factory = Callable[[EventPublisher | None], SqlStore]


def _migrated(backend: str, directory: Path) -> Iterator[Engine]:
    for engine in _blank(backend, directory):
        upgrade(engine, revisions()[0])
        upgrade(engine)
        yield engine


def _factory(engine: Engine) -> Factory:
    def fresh(publisher: EventPublisher | None) -> SqlStore:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        return SqlStore(engine, publisher=publisher)

    return fresh


@pytest.fixture(scope="module")
def migrated_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("migrated")


class _MigratedContract(StoreContract):
    """The contract's operations on a migrated schema.

    Without its two property sweeps over every aggregate and event type: the migrated
    schema is proven identical to create_schema's, on which
    tests/contract/test_sql_store_contract.py runs them (the suite's time budget).
    """

    state_machine_examples = 5
    backend = "sqlite"
    test_every_aggregate_round_trips_exactly = None  # type: ignore[assignment]  # not collected
    test_every_event_type_round_trips_through_the_history = None  # type: ignore[assignment]

    @pytest.fixture(scope="class")
    @classmethod
    def migrated_engine(cls, migrated_directory: Path) -> Iterator[Engine]:
        yield from _migrated(cls.backend, migrated_directory)

    @pytest.fixture
    def store_factory(self, migrated_engine: Engine) -> Factory:
        return _factory(migrated_engine)


class TestSqliteMigratedStore(_MigratedContract):
    backend = "sqlite"


class TestPostgresMigratedStore(_MigratedContract):
    backend = "postgresql"


class TestMariaDbMigratedStore(_MigratedContract):
    backend = "mariadb"


def test_the_key_collation_upgrade_keeps_the_match_index_on_postgresql() -> None:
    """crmcore_0011 re-collates a filled index: same rows, same candidates, keys now "C"."""
    for engine in _blank_postgres():
        upgrade(engine, "crmcore_0010")
        people = _people(24)
        store = SqlStore(engine)
        with store.unit_of_work() as uow:
            uow.customers.save_many(people)
            uow.commit()
        probe = MatchRecord.from_customer(people[5])
        with store.unit_of_work() as uow:
            assert uow.match_index is not None
            before = uow.match_index.candidates(probe, min_probability=0.0)

        def snapshot(engine: Engine = engine) -> tuple[Any, Any, Any]:
            with engine.connect() as conn:
                keys = conn.execute(sa.text("SELECT * FROM match_keys ORDER BY 1, 2")).all()
                counts = conn.execute(sa.text("SELECT * FROM match_counts ORDER BY 1")).all()
                collations = conn.execute(
                    sa.text(
                        "SELECT table_name, column_name, collation_name FROM"
                        " information_schema.columns WHERE table_schema = current_schema()"
                        " AND column_name IN ('key_hash', 'name') AND table_name LIKE 'match_%'"
                        " ORDER BY 1"
                    )
                ).all()
            return keys, counts, collations

        keys, counts, collations = snapshot()
        assert keys
        assert counts
        assert [c[2] for c in collations] == [None, None]  # the database's default
        assert upgrade(engine).after == "crmcore_0011"
        keys_after, counts_after, collations_after = snapshot()
        assert (keys_after, counts_after) == (keys, counts)
        assert [tuple(c) for c in collations_after] == [
            ("match_counts", "name", "C"),
            ("match_keys", "key_hash", "C"),
        ]
        with store.unit_of_work() as uow:
            assert uow.match_index is not None
            assert uow.match_index.candidates(probe, min_probability=0.0) == before
        assert before  # the namesakes sharing people[5]'s name were found
