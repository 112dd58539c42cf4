"""``--key-db``: the command line on a store that encrypts sensitive fields at rest.

A real ``python -m crmcore`` process, on a pty and piped: ``import --key-db`` seals
each customer's birth date and postal address under a key of its own in another
database (the data file holds none of them), ``export --key-db`` reads them back,
``export`` without the keys is one line naming ``--key-db``, and ``subject erase
--key-db`` deletes the customer's key (crypto-shredding).
"""

from __future__ import annotations

import csv
import io
import sqlite3
import sys
from pathlib import Path

import pytest
from tests.e2e.cli_process import Run, on_terminal, piped

from crmcore.adapters.sql import SqlKeyStore, create_engine
from crmcore.cli import main
from crmcore.cli.console import Console

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pseudo-terminal"
)

STREET = "科技园南路"


def crmcore(mode: str, cwd: Path, *args: str) -> Run:
    run = (piped if mode == "piped" else on_terminal)(list(args), cwd)
    assert "Traceback" not in run.output, run.output
    return run


def write_csv(path: Path) -> None:
    rows = [["客户编号", "姓名", "手机", "邮箱", "生日", "城市", "地址"]]
    rows += [
        [f"K{n}", f"客户{n}", f"+86 139{n:08d}", f"user{n}@example.com", "1990/1/2", "深圳", STREET]
        for n in range(5)
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def exported(run: Run) -> list[dict[str, str]]:
    text = run.output[run.output.index("id,kind,") :]  # on a pty, after the progress bar
    return [row for row in csv.DictReader(text.splitlines()) if row["id"].startswith("imp-")]


@pytest.mark.parametrize("mode", ["terminal", "piped"])
def test_import_and_export_with_the_key_database(tmp_path: Path, mode: str) -> None:
    write_csv(tmp_path / "customers.csv")
    run = crmcore(
        mode, tmp_path, "import", "customers.csv", "--db", "crm.db", "--key-db", "keys.db"
    )
    assert run.code == 0, run.output
    data = (tmp_path / "crm.db").read_bytes()
    assert STREET.encode() not in data
    assert "深圳".encode() not in data  # the city is part of the sealed address
    assert b"user3@example.com" in data  # emails stay searchable
    run = crmcore(mode, tmp_path, "export", "--db", "crm.db", "--key-db", "keys.db")
    assert run.code == 0, run.output
    rows = exported(run)
    assert len(rows) == 5
    assert {row["city"] for row in rows} == {"深圳"}


def run_main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), console=Console(out, err))
    return code, out.getvalue(), err.getvalue()


def test_erasure_shreds_the_key_and_missing_or_wrong_keys_are_one_clear_line(
    tmp_path: Path,
) -> None:
    write_csv(tmp_path / "customers.csv")
    db, keys = str(tmp_path / "crm.db"), str(tmp_path / "keys.db")
    code, _, err = run_main("import", str(tmp_path / "customers.csv"), "--db", db, "--key-db", keys)
    assert (code, err) == (0, "")
    code, out, err = run_main("export", "--db", db, "--key-db", keys)
    customer, *others = [row["id"] for row in csv.DictReader(out.splitlines())]
    code, out, err = run_main(
        "subject", "erase", "--db", db, "--key-db", keys, "--customer", customer
    )
    assert (code, err) == (0, ""), err
    engine = create_engine(f"sqlite:///{keys}")
    try:
        store = SqlKeyStore(engine)
        assert store.get(customer) is None  # crypto-shredded
        assert all(store.get(other) is not None for other in others)
    finally:
        engine.dispose()
    code, _, err = run_main("export", "--db", db)
    assert code == 2
    assert "stored with encrypted fields" in err
    assert "--key-db" in err
    code, _, err = run_main("export", "--db", db, "--key-db", db)
    assert code == 2
    assert "another database" in err
    code, _, err = run_main("export", "--db", db, "--key-db", str(tmp_path / "nokeys.db"))
    assert code == 2
    assert "nokeys.db" in err
    assert not (tmp_path / "nokeys.db").exists()  # reading creates no key database
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    code, _, err = run_main("export", "--db", db, "--key-db", str(other))
    assert code == 2
    assert "no key table" in err
