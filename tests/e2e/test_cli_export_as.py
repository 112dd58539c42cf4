"""``crmcore export --as USER``: only what that user may export, masked, on a terminal and piped.

The real ``python -m crmcore`` process runs on a pseudo-terminal of 100 x 30
characters or on pipes; the database is written here with three reps' and
an unassigned customer carrying phones, emails and national ids.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
import select
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pendulum
import pytest

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.cli import main
from crmcore.cli.console import Console
from crmcore.domain import (
    CustomerId,
    EmailAddress,
    Person,
    PersonName,
    PhoneNumber,
    TeamId,
    UserId,
    register_customer,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pseudo-terminal"
)

TIMEOUT = 120.0
MODES = ["terminal", "piped"]
NATIONAL_ID = "110101199003074514"
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ROW = re.compile(r"(id,kind,|c\d+,person,).*")  # a CSV line, maybe after a progress display


class Run(NamedTuple):
    code: int
    output: str


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="30", PYTHONIOENCODING="utf-8")
    return env


def _read(master: int) -> Iterator[bytes]:
    while True:
        ready, _, _ = select.select([master], [], [], TIMEOUT)
        if not ready:
            pytest.fail(f"no output for {TIMEOUT} s: the command hangs")
        try:
            chunk = os.read(master, 1 << 16)
        except OSError as exc:
            if exc.errno == errno.EIO:
                return
            raise
        if not chunk:
            return
        yield chunk


def crmcore(mode: str, cwd: Path, *args: str) -> Run:
    command = [sys.executable, "-m", "crmcore", *args]
    if mode == "piped":
        done = subprocess.run(  # noqa: S603 - this interpreter, our own module
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_environment(),
            cwd=cwd,
            timeout=TIMEOUT,
            check=False,
        )
        return Run(done.returncode, done.stdout.decode("utf-8", errors="replace"))
    import fcntl  # noqa: PLC0415 - POSIX only, like this module
    import termios  # noqa: PLC0415

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    try:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=_environment(),
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    try:
        output = b"".join(_read(master))
        code = process.wait(timeout=TIMEOUT)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    return Run(code, output.decode("utf-8", errors="replace").replace("\r\n", "\n"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export-as")
    engine = create_engine(f"sqlite:///{path / 'crm.sqlite'}")
    create_schema(engine)
    at = pendulum.datetime(2026, 3, 1)
    owners = [("c1", "u-li", "east"), ("c2", "u-wang", "east"), ("c3", "u-zhao", "west")]
    with SqlStore(engine).unit_of_work() as uow:
        for i, (id, owner, team) in enumerate([*owners, ("c4", None, None)]):
            customer, _ = register_customer(
                id=CustomerId(id),
                person=Person(name=PersonName.parse("李娜"), national_id=NATIONAL_ID),
                emails=[EmailAddress(f"li.na{i}@example.com")],
                phones=[PhoneNumber(f"+861380013800{i}")],
                owner=UserId(owner) if owner else None,
                team=TeamId(team) if team else None,
                at=at,
            )
            uow.customers.save(customer)
        uow.commit()
    engine.dispose()
    return path


@pytest.mark.parametrize("mode", MODES)
def test_a_rep_exports_only_own_customers_masked(folder: Path, mode: str) -> None:
    out = folder / f"rep-{mode}.jsonl"
    run = crmcore(
        mode, folder, "export", "--db", "crm.sqlite", "--format", "jsonl", "--out", str(out),
        "--as", "u-li", "--role", "rep",
    )  # fmt: skip
    assert (run.code, "Traceback" in run.output) == (0, False), run.output
    assert f"exported 1 customers to {out}" in run.output
    lines = out.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines[1:]]
    assert [r["record"]["id"] if "record" in r else r.get("id") for r in records] == ["c1"]
    assert NATIONAL_ID not in lines[1]
    assert "+86138****8000" in lines[1]
    assert "l***@example.com" in lines[1]


@pytest.mark.parametrize("mode", MODES)
def test_a_manager_exports_the_team_unmasked_as_csv_to_standard_output(
    folder: Path, mode: str
) -> None:
    run = crmcore(
        mode, folder, "export", "--db", "crm.sqlite", "--as", "u-chen", "--role", "manager",
        "--team", "east",
    )  # fmt: skip
    assert (run.code, "Traceback" in run.output) == (0, False), run.output
    # On a terminal the progress display shares the screen: keep the CSV lines only.
    found = (ROW.search(line) for line in ESCAPE.sub("", run.output).splitlines())
    rows = list(csv.DictReader([m.group(0) for m in found if m]))
    assert [r["id"] for r in rows] == ["c1", "c2"]
    assert rows[0]["phone"] == "+8613800138000"


def test_a_policy_file_decides_what_is_exported(folder: Path) -> None:
    policy = {
        "roles": {"auditor": {"grants": {"export": {"customer": ["unassigned"]}}}},
    }
    (folder / "policy.json").write_text(json.dumps(policy), encoding="utf-8")
    run = crmcore(
        "piped", folder, "export", "--db", "crm.sqlite", "--as", "u-audit", "--role", "auditor",
        "--policy", "policy.json",
    )  # fmt: skip
    assert run.code == 0, run.output
    assert [line.split(",")[0] for line in run.output.splitlines()[1:]] == ["c4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "u-li"], "--as needs the user's role: add --role ROLE"),
        (["--role", "rep"], "--role, --team and --policy need --as USER"),
        (["--as", "u-li", "--role", "intern"], "invalid role 'intern': not defined by the policy"),
        (
            ["--as", "u-li", "--role", "rep", "--kind", "merges", "--format", "jsonl"],
            "access policies do not cover merges",
        ),
        (
            ["--as", "u-li", "--role", "rep", "--policy", "broken.json"],
            "invalid policy file broken.json (1 problem):",
        ),
    ],
)
def test_an_incomplete_as_is_one_line_without_a_traceback(
    folder: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In process: the command's own error handling, without a process start per case.
    (folder / "broken.json").write_text("{roles: 1", encoding="utf-8")
    monkeypatch.chdir(folder)
    out, err = io.StringIO(), io.StringIO()
    code = main(["export", "--db", "crm.sqlite", *args], console=Console(out, err))
    assert (code, out.getvalue()) == (2, "")
    assert err.getvalue().startswith("crmcore export: error: "), err.getvalue()
    assert message in err.getvalue()


def test_a_broken_policy_file_is_one_line_on_a_terminal(folder: Path) -> None:
    (folder / "broken.json").write_text("{roles: 1", encoding="utf-8")
    run = crmcore(
        "terminal", folder, "export", "--db", "crm.sqlite", "--as", "u-li", "--role", "rep",
        "--policy", "broken.json",
    )  # fmt: skip
    assert (run.code, "Traceback" in run.output) == (2, False), run.output
    assert "crmcore export: error: invalid policy file broken.json" in run.output
