"""``crmcore subject export`` and ``erase`` as a user runs them: on a pty and piped.

A small SQLite database is written through the library; the real
``python -m crmcore`` process exports the subject (JSON on standard output,
parsed back when piped), erases it, and the export afterwards holds none of
its personal strings; an unknown customer is one line on standard error, exit 2.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pendulum
import pytest
from tests.e2e.cli_process import Run, on_terminal, piped

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.cli import main
from crmcore.cli.console import Console
from crmcore.domain import CustomerId, EmailAddress, Person, PersonName, register_customer

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pseudo-terminal"
)

MODES = ["terminal", "piped"]


def crmcore(mode: str, cwd: Path, *args: str) -> Run:
    run = (piped if mode == "piped" else on_terminal)(list(args), cwd)
    assert "Traceback" not in run.output, run.output
    if mode == "piped":
        assert "\x1b" not in run.output
    return run


def subject_database(path: Path) -> Path:
    engine = create_engine(f"sqlite:///{path}")
    create_schema(engine)
    at = pendulum.datetime(2026, 3, 1)
    li, registered = register_customer(
        id=CustomerId("c-1"),
        at=at,
        person=Person(name=PersonName.parse("司马琼英"), national_id="11010519491231002X"),
        emails=[EmailAddress("qiongying@example.org")],
    )
    other, other_registered = register_customer(
        id=CustomerId("c-2"), at=at, person=Person(name=PersonName.parse("Keep Me"))
    )
    with SqlStore(engine).unit_of_work() as uow:
        uow.customers.save_many([li, other])
        uow.collect(registered, other_registered)
        uow.commit()
    engine.dispose()
    return path


PERSONAL = ["琼英", "qiongying", "11010519491231002X"]


@pytest.mark.parametrize("mode", MODES)
def test_export_then_erase_then_export(tmp_path: Path, mode: str) -> None:
    db = str(subject_database(tmp_path / "crm.db"))
    run = crmcore(mode, tmp_path, "subject", "export", "--db", db, "--customer", "c-1")
    assert run.code == 0, run.output
    assert all(word in run.output for word in PERSONAL), run.output
    run = crmcore(
        mode, tmp_path, "subject", "erase", "--db", db, "--customer", "c-1", "--by", "u-dpo"
    )
    assert run.code == 0, run.output
    assert "erasure done" in run.output
    assert "customer" in run.output
    if mode == "terminal":
        return  # the rest is the same bytes on a pipe
    document = json.loads(
        crmcore(mode, tmp_path, "subject", "export", "--db", db, "--customer", "c-1").output
    )
    assert document["subject"] == "c-1"
    assert document["customers"] == ["c-1"]
    assert [w for w in PERSONAL if w in json.dumps(document, ensure_ascii=False)] == []
    assert [e["steps"][-1]["name"] for e in document["erasures"]] == ["keys"]


@pytest.mark.parametrize("mode", ["piped"])
def test_an_unknown_customer_is_one_line_without_a_traceback(tmp_path: Path, mode: str) -> None:
    db = str(subject_database(tmp_path / "crm.db"))
    run = crmcore(mode, tmp_path, "subject", "erase", "--db", db, "--customer", "nobody")
    assert run.code == 2, run.output
    assert "crmcore subject: error:" in run.output
    assert "nobody" in run.output


def run_main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), console=Console(out, err))
    return code, out.getvalue(), err.getvalue()


def test_an_erasure_log_replays_on_a_restored_backup(tmp_path: Path) -> None:
    live = subject_database(tmp_path / "live.db")
    backup = tmp_path / "backup.db"
    shutil.copy(live, backup)  # taken before the erasure
    log = tmp_path / "erasures.jsonl"
    code, out, err = run_main(
        "subject", "erase", "--db", str(live), "--customer", "c-1", "--log", str(log)
    )
    assert (code, err) == (0, "")
    assert f"logged in {log}" in out
    assert [w for w in PERSONAL if w in log.read_text(encoding="utf-8")] == []
    code, out, err = run_main("subject", "replay", "--db", str(backup), "--log", str(log))
    assert (code, err) == (0, "")
    assert "1 erasures in the log; 1 run again" in out
    code, out, _ = run_main("subject", "export", "--db", str(backup), "--customer", "c-1")
    assert code == 0
    assert [w for w in PERSONAL if w in out] == []
    code, out, _ = run_main("subject", "replay", "--db", str(backup), "--log", str(log))
    assert "1 erasures in the log; 0 run again" in out
    log.write_text("not json\n", encoding="utf-8")
    code, _, err = run_main("subject", "replay", "--db", str(backup), "--log", str(log))
    assert code == 2
    assert "line 1" in err
