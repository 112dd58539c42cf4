"""``crmcore demo`` end to end on a small SQLite sample: every section, and a second run."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest

from crmcore.adapters.sql import SqlStore, create_engine
from crmcore.cli import main
from crmcore.cli.console import Console

SECTIONS = (
    "1. import",
    "2. duplicate detection and merge",
    "unmerge_customers",
    "3. related records",
    "lifecycle stages derived",
    "4. segments",
    "RFM segments",
    "5. due actions",
    "6. privacy",
    "masked:",
    "***@",
    "erased one customer",
    "audit chain holds after the erasure",
    "crmcore export --db",
)

FirstRun = tuple[Path, int, str, str]  # the database, exit code, stdout, stderr


def run_demo(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["demo", *args], console=Console(out, err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    db = tmp_path_factory.mktemp("demo") / "crm.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "200")  # rich wraps table titles to the terminal width
        return (db, *run_demo("--db", str(db), "--size", "150", "--seed", "3"))


def test_the_demo_exits_0_and_reports_every_section(first_run: FirstRun) -> None:
    _, code, out, err = first_run
    assert (code, err) == (0, "")
    missing = [s for s in SECTIONS if s not in out]
    assert missing == []


def test_the_demo_reports_the_broken_rows_it_injected(
    first_run: FirstRun,
) -> None:
    _, _, out, _ = first_run
    assert "rejected rows" in out
    assert "dropped values" in out  # a bad phone, email or date costs the value only
    assert "1990-02-30" in out


def test_the_demo_leaves_a_database_to_explore(first_run: FirstRun) -> None:
    db, _, _, _ = first_run
    engine = create_engine(f"sqlite:///{db}")
    try:
        with SqlStore(engine).unit_of_work() as uow:
            counts = (uow.customers.count(), uow.orders.count(), uow.merges.count())
    finally:
        engine.dispose()
    assert all(n > 0 for n in counts)
    assert (db.parent / "demo-contacts.csv").is_file()


def test_a_second_run_on_the_same_database_works(first_run: FirstRun) -> None:
    db, _, _, _ = first_run
    code, out, err = run_demo("--db", str(db), "--size", "150", "--seed", "3")
    assert (code, err) == (0, "")
    assert "related records: already stored" in out
    assert "5. due actions" in out


def test_without_db_the_demo_builds_its_database_in_a_new_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code, out, _ = run_demo("--size", "20")
    [folder] = tmp_path.glob("crmcore-demo-*")
    assert code == 0
    assert (folder / "crm.sqlite").is_file()
    assert f"database: sqlite:///{folder / 'crm.sqlite'}" in out


def test_a_size_below_10_is_an_input_error(tmp_path: Path) -> None:
    code, _, err = run_demo("--db", str(tmp_path / "crm.sqlite"), "--size", "3")
    assert code == 2
    assert "--size" in err


def test_the_demo_refuses_a_database_with_customers_it_did_not_create(tmp_path: Path) -> None:
    source = tmp_path / "mine.csv"
    source.write_text("姓名,手机\n张伟,13800138000\n", encoding="utf-8")
    db = str(tmp_path / "crm.sqlite")
    quiet = Console(io.StringIO(), io.StringIO())
    assert main(["import", str(source), "--db", db, "--region", "CN"], console=quiet) == 0
    code, out, err = run_demo("--db", db, "--size", "20")
    assert (code, out) == (2, "")
    assert "did not create" in err
