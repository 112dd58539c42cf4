"""``crmcore db upgrade``, ``current`` and ``backfill-match-index`` as a user runs them.

In process for the outcomes and errors; the real ``python -m crmcore``
process on a pseudo-terminal for the main path (upgrade an old database,
see its revision, index its customers), with no traceback on the screen.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest
from sqlalchemy.engine import Engine
from tests.contract.conftest import postgres_schema_url
from tests.contract.test_migrations import _copy as copy_rows
from tests.e2e.cli_process import on_terminal

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql.migrations import head, upgrade
from crmcore.cli import main
from crmcore.cli.console import Console
from crmcore.domain import CustomerId, Person, PersonName, PhoneNumber, register_customer
from crmcore.matching import MatchRecord


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), console=Console(out=out, err=err))
    return code, out.getvalue(), err.getvalue()


def store_customers(engine: Engine, count: int) -> None:
    """Save ``count`` customers named 张伟 (``c-0``, ``c-1`` …) without index rows."""
    with SqlStore(engine, match_index=False).unit_of_work() as uow:
        for n in range(count):
            customer, _ = register_customer(
                id=CustomerId(f"c-{n}"),
                person=Person(name=PersonName.parse("张伟")),
                phones=[PhoneNumber.parse(f"+86 138 0013 800{n}")],
                at=pendulum.datetime(2026, 1, 5),
            )
            uow.customers.save(customer)
        uow.commit()


def assert_indexed(url: str) -> None:
    """The store at ``url`` finds ``c-1`` for Zhang Wei with its phone: the index is there."""
    engine = create_engine(url)
    with SqlStore(engine).unit_of_work() as uow:
        assert uow.match_index is not None
        found = uow.match_index.candidates(
            MatchRecord(id="new", full_name="Zhang Wei", phones=["+86 138 0013 8001"])
        )
        assert [p.right for p in found][:1] == ["c-1"]
    engine.dispose()


def old_database(path: Path, customers: int = 3) -> Path:
    """A database at the layout before the match index, with customers and no index rows.

    The customers are saved by today's code into a database of today's layout and their
    rows copied into the old one (the columns it has), as an older release left them.
    """
    source = create_engine("sqlite://")
    create_schema(source)
    store_customers(source, customers)
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine, "crmcore_0005")
    copy_rows(source, engine, ["customers", "customer_phones"])
    source.dispose()
    engine.dispose()
    return path


def test_upgrade_current_and_backfill_in_process(tmp_path: Path) -> None:
    db = str(old_database(tmp_path / "crm.db"))
    assert run("db", "current", "--db", db) == (
        0,
        f"crmcore_0005 (behind {head()}: run crmcore db upgrade)\n",
        "",
    )
    assert run("db", "upgrade", "--db", db) == (0, f"upgraded crmcore_0005 to {head()}\n", "")
    assert run("db", "upgrade", "--db", db) == (0, f"already at {head()}: nothing to do\n", "")
    assert run("db", "current", "--db", db) == (0, f"{head()} (head)\n", "")
    code, out, err = run("db", "backfill-match-index", "--db", db, "--batch", "2")
    assert (code, err) == (0, "")
    assert out.endswith("indexed 3 of 3 customers (the others were up to date)\n")
    assert_indexed(f"sqlite:///{db}")


def test_a_database_made_by_create_schema_is_stamped(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'made.db'}")
    create_schema(engine)
    engine.dispose()
    db = str(tmp_path / "made.db")
    code, out, _ = run("db", "current", "--db", db)
    assert (code, out) == (
        0,
        f"not stamped; the tables have the layout of {head()}:"
        " crmcore db upgrade stamps and upgrades them\n",
    )
    assert run("db", "upgrade", "--db", db) == (
        0,
        f"found crmcore's tables at {head()} (no version table): stamped\n"
        f"already at {head()}: nothing to do\n",
        "",
    )


def test_errors_are_one_line_each(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.db")
    assert run("db", "current", "--db", missing) == (
        2,
        "",
        f"crmcore db: error: no such database file: {missing}\n",
    )
    code, _, err = run("db", "upgrade", "--db", str(tmp_path / "x.db"), "--to", "crmcore_9")
    assert code == 2
    assert err.startswith("crmcore db: error: unknown crmcore revision 'crmcore_9'; known: ")
    code, _, err = run("db", "upgrade", "--db", "nosuch://x")
    assert (code, err.startswith("crmcore db: error: unknown database URL scheme")) == (2, True)
    code, _, err = run("db", "backfill-match-index", "--db", missing)
    assert (code, err) == (2, f"crmcore db: error: no such database file: {missing}\n")
    made = str(old_database(tmp_path / "made.db", customers=1))
    code, _, err = run("db", "backfill-match-index", "--db", made, "--batch", "0")
    assert (code, err) == (2, "crmcore db: error: backfill batch must be positive, got 0\n")
    code, _, err = run("db", "backfill-match-index", "--db", made, "--bulk")
    assert (code, err) == (
        2,
        "crmcore db: error: a bulk backfill needs PostgreSQL, not sqlite: run it without bulk\n",
    )
    code, _, err = run("db")
    assert code == 1


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pty")
def test_on_a_terminal(tmp_path: Path) -> None:
    old_database(tmp_path / "crm.db")
    code, output = on_terminal(
        ["db", "upgrade", "--db", "crm.db"],
        tmp_path,
    )
    assert (code, "Traceback" not in output) == (0, True), output
    assert f"upgraded crmcore_0005 to {head()}" in output
    code, output = on_terminal(["db", "backfill-match-index", "--db", "crm.db"], tmp_path)
    assert (code, "Traceback" not in output) == (0, True), output
    assert "indexed 3 of 3 customers" in output


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL on a fresh PostgreSQL schema with three customers and no index rows."""
    for url in postgres_schema_url("crm_cli"):
        engine = create_engine(url)
        store_customers(engine, 3)
        engine.dispose()
        yield url


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pty")
def test_a_bulk_backfill_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    code, output = on_terminal(
        ["db", "backfill-match-index", "--bulk", "--db", postgres_url], tmp_path
    )
    assert (code, "Traceback" not in output) == (0, True), output
    assert "indexed 3 of 3 customers" in output
    assert_indexed(postgres_url)
    code, out, err = run("db", "backfill-match-index", "--bulk", "--db", postgres_url)
    assert (code, out) == (2, "")
    assert err.startswith("crmcore db: error: a bulk backfill fills an empty match index")
    assert run("db", "backfill-match-index", "--db", postgres_url)[:2] == (
        0,
        "indexed 0 of 3 customers (the others were up to date)\n",
    )
