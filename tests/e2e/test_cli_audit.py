"""``crmcore audit verify`` and ``checkpoint`` as a user runs them: on a pty and piped.

Each test writes a small SQLite database with an audit chain through the
library, tampers with it as an attacker with database access would, and
runs the real ``python -m crmcore`` process (on a pseudo-terminal and on
pipes for the two main outcomes, piped for the others, to keep it quick):
exit 0 when the chain holds, 3 naming the first bad entry, 2 for a
database that cannot be read, and never a traceback.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pendulum
import pytest
from tests.e2e.cli_process import Run, on_terminal, piped

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.privacy.audit import AuditDraft

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pseudo-terminal"
)

MODES = ["terminal", "piped"]
ENTRIES = 12


def crmcore(mode: str, cwd: Path, *args: str) -> Run:
    run = (piped if mode == "piped" else on_terminal)(list(args), cwd)
    assert "Traceback" not in run.output, run.output
    if mode == "piped":
        assert "\x1b" not in run.output
    return run


def chain_database(path: Path) -> Path:
    engine = create_engine(f"sqlite:///{path}")
    create_schema(engine)
    with SqlStore(engine).unit_of_work() as uow:
        for n in range(ENTRIES):
            uow.audit.append(
                AuditDraft.of(
                    at=pendulum.datetime(2026, 3, 1).add(minutes=n),
                    actor="u-li",
                    action="update",
                    record_type="customer",
                    record_id=f"c-{n % 3}",
                    subject=f"c-{n % 3}",
                    payload={"name": "李娜", "phone": "+8613800138000"},
                )
            )
        uow.audit.erase_payloads("c-1", at=pendulum.datetime(2026, 4, 1))
        uow.commit()
    engine.dispose()
    return path


def tamper(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.mark.parametrize("mode", MODES)
def test_an_intact_chain_holds(tmp_path: Path, mode: str) -> None:
    db = chain_database(tmp_path / "crm.db")
    run = crmcore(mode, tmp_path, "audit", "verify", "--db", str(db))
    assert run.code == 0, run.output
    assert "the audit chain holds: 12 entries, head entry 12" in run.output
    assert "payloads 8 kept, 4 erased" in run.output


@pytest.mark.parametrize("mode", MODES)
def test_a_changed_entry_is_named_with_exit_3(tmp_path: Path, mode: str) -> None:
    db = chain_database(tmp_path / "crm.db")
    tamper(db, "UPDATE audit_entries SET actor = 'u-wang' WHERE sequence = 7")
    run = crmcore(mode, tmp_path, "audit", "verify", "--db", str(db))
    assert run.code == 3, run.output
    assert "checked 7 entries; the last good entry is 6" in run.output
    assert "crmcore audit: error: the audit chain is broken at entry 7: modified" in run.output


def test_a_deleted_entry_is_a_gap(tmp_path: Path) -> None:
    mode = "piped"
    db = chain_database(tmp_path / "crm.db")
    tamper(db, "DELETE FROM audit_entries WHERE sequence = 4")
    run = crmcore(mode, tmp_path, "audit", "verify", "--db", str(db))
    assert run.code == 3, run.output
    assert "entry 4: gap: expected entry 4, found entry 5" in run.output


def test_a_changed_payload_is_named(tmp_path: Path) -> None:
    mode = "piped"
    db = chain_database(tmp_path / "crm.db")
    tamper(db, """UPDATE audit_payloads SET payload = '{"name":"王伟"}' WHERE sequence = 3""")
    run = crmcore(mode, tmp_path, "audit", "verify", "--db", str(db))
    assert run.code == 3, run.output
    assert "entry 3: payload: its payload does not match the digest in the chain" in run.output


def test_a_cut_tail_is_found_against_the_witnessed_checkpoint(tmp_path: Path) -> None:
    mode = "piped"
    db = chain_database(tmp_path / "crm.db")
    taken = crmcore(mode, tmp_path, "audit", "checkpoint", "--db", str(db))
    assert taken.code == 0, taken.output
    witness = tmp_path / "witness.jsonl"
    witness.write_text(taken.output.strip() + "\n", encoding="utf-8")
    assert '"sequence":12' in taken.output
    tamper(db, "DELETE FROM audit_entries WHERE sequence > 10")
    run = crmcore(mode, tmp_path, "audit", "verify", "--db", str(db), "--checkpoint", str(witness))
    assert run.code == 3, run.output
    assert "entry 12: truncated: the chain ends at entry 10" in run.output


def test_a_missing_database_is_an_input_error(tmp_path: Path) -> None:
    mode = "piped"
    run = crmcore(mode, tmp_path, "audit", "verify", "--db", str(tmp_path / "none.db"))
    assert run.code == 2, run.output
    assert "crmcore audit: error: no such database file" in run.output


def test_a_bad_checkpoint_file_names_its_line(tmp_path: Path) -> None:
    db = chain_database(tmp_path / "crm.db")
    witness = tmp_path / "witness.jsonl"
    witness.write_text('\n{"sequence": 1}\n', encoding="utf-8")
    run = crmcore(
        "piped", tmp_path, "audit", "verify", "--db", str(db), "--checkpoint", str(witness)
    )
    assert run.code == 2, run.output
    assert "witness.jsonl line 2: not a checkpoint: required @ $.hash" in run.output
