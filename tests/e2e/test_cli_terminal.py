"""The real ``crmcore`` process on a pseudo-terminal, piped, with ``NO_COLOR`` and ``TERM=dumb``.

Each run starts ``python -m crmcore`` with standard input, output and error on
the slave side of a pty of 100 x 30 characters (or on pipes), reads the master
until the process closes it, and checks the exit code, the words the user
reads and that no traceback reached the screen. One demo database is shared by
the module; the commands after it work on small files written here.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import select
import struct
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pseudo-terminal"
)

COLUMNS, LINES = 100, 30
TIMEOUT = 120.0
MODES = ["terminal", "no-color", "dumb", "piped"]
# The variables that change how rich and the command decide what a terminal can do.
TERMINAL_VARIABLES = (
    "TERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "COLORTERM",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "COLUMNS",
    "LINES",
    "JUPYTER_COLUMNS",
    "JUPYTER_LINES",
)
SGR = re.compile(r"\x1b\[([0-9;]*)m")
COLOR_PARAMS = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}
HIDE_CURSOR = "\x1b[?25l"  # rich's live display (the progress bar) starts

CONTACTS = [
    ("姓名", "手机", "邮箱", "负责人", "标签"),
    ("张伟", "13800138000", "zhang.wei@example.cn", "u-li", "vip"),
    ("李娜", "13912345678", "li.na@example.cn", "u-wang", "上海"),
    ("张伟", "138 0013 8000", "Zhang.Wei@Example.CN", "u-li", ""),
    ("John Smith", "+1 415 555 2671", "john@example.com", "u-smith", "vip"),
]


class Run(NamedTuple):
    code: int
    output: str  # standard output and standard error as the user saw them


def environment(mode: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TERMINAL_VARIABLES}
    env.update(TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES))
    env["PYTHONIOENCODING"] = "utf-8"
    if mode == "no-color":
        env["NO_COLOR"] = "1"
    elif mode == "dumb":
        env["TERM"] = "dumb"
    return env


def on_terminal(args: list[str], env: Mapping[str, str], cwd: Path) -> Run:
    import fcntl  # noqa: PLC0415 - POSIX only, like this module
    import termios  # noqa: PLC0415

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    try:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-m", "crmcore", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    try:
        output = b"".join(read_until_closed(master))
        code = process.wait(timeout=TIMEOUT)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    return Run(code, output.decode("utf-8", errors="replace").replace("\r\n", "\n"))


def read_until_closed(master: int) -> Iterator[bytes]:
    """Read the pty master until every writer closed the slave (EIO on Linux, EOF elsewhere)."""
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


def piped(args: list[str], env: Mapping[str, str], cwd: Path) -> Run:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "crmcore", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        timeout=TIMEOUT,
        check=False,
    )
    return Run(done.returncode, done.stdout.decode("utf-8", errors="replace"))


def crmcore(mode: str, cwd: Path, *args: str) -> Run:
    env = environment(mode)
    return (piped if mode == "piped" else on_terminal)(list(args), env, cwd)


def colour_codes(text: str) -> list[str]:
    return [
        code.group(0)
        for code in SGR.finditer(text)
        if COLOR_PARAMS & {int(p) for p in code.group(1).split(";") if p}
    ]


def assert_readable(run: Run, mode: str, *words: str) -> None:
    """Exit 0, no traceback, the words present, and only the escape codes the mode allows."""
    assert (run.code, "Traceback" in run.output) == (0, False), run.output
    assert [w for w in words if w not in run.output] == [], run.output
    if mode in ("dumb", "piped"):
        assert "\x1b" not in run.output
    if mode == "no-color":
        assert colour_codes(run.output) == []


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("terminal")
    with (path / "contacts.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(CONTACTS)
    (path / "vip.json").write_text(json.dumps({"type": "HasTag", "tag": "vip"}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def demo(folder: Path) -> tuple[Run, str]:
    db = str(folder / "demo.sqlite")
    return crmcore("terminal", folder, "demo", "--size", "150", "--seed", "3", "--db", db), db


def test_the_demo_runs_on_a_terminal_with_its_progress_bar(demo: tuple[Run, str]) -> None:
    run, _ = demo
    assert_readable(run, "terminal", "crmcore demo", "done in", "crmcore export --db")
    assert HIDE_CURSOR in run.output  # the progress bar was drawn: no crash before the 1st sample


def test_the_demo_runs_on_a_dumb_terminal_without_escape_codes(folder: Path) -> None:
    db = str(folder / "dumb-demo.sqlite")
    run = crmcore("dumb", folder, "demo", "--size", "150", "--seed", "3", "--db", db)
    assert_readable(run, "dumb", "crmcore demo", "done in")


@pytest.mark.parametrize("mode", MODES)
def test_import_of_a_small_csv_stores_the_customers(folder: Path, mode: str) -> None:
    db = str(folder / f"import-{mode}.sqlite")
    run = crmcore(mode, folder, "import", "contacts.csv", "--db", db, "--region", "CN")
    assert_readable(run, mode, "stored", "report:")
    assert (HIDE_CURSOR in run.output) == (mode in ("terminal", "no-color"))


@pytest.mark.parametrize("mode", MODES)
def test_dedupe_of_a_small_csv_finds_the_duplicate(folder: Path, mode: str) -> None:
    out = folder / f"clusters-{mode}.csv"
    run = crmcore(mode, folder, "dedupe", "contacts.csv", "--out", str(out), "--region", "CN")
    assert_readable(run, mode, "4 records, 3 clusters, 1 duplicates")
    assert out.read_text(encoding="utf-8").splitlines()[0] == "id,cluster_id"


@pytest.mark.parametrize("mode", MODES)
def test_segment_lists_the_customers_of_a_rule(
    folder: Path, demo: tuple[Run, str], mode: str
) -> None:
    _, db = demo
    run = crmcore(mode, folder, "segment", "--db", db, "--rule", "vip.json", "--format", "csv")
    assert_readable(run, mode, "id,kind,name")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_export_writes_every_customer(
    folder: Path, demo: tuple[Run, str], mode: str, kind: str
) -> None:
    _, db = demo
    out = folder / f"export-{mode}.{kind}"
    run = crmcore(mode, folder, "export", "--db", db, "--format", kind, "--out", str(out))
    assert_readable(run, mode, "exported")
    lines = out.read_text(encoding="utf-8").splitlines()
    if kind == "jsonl":
        assert all(isinstance(json.loads(line), dict) for line in lines)
    else:
        assert lines[0].startswith("id,")
    assert len(lines) > 1


@pytest.mark.parametrize("mode", ["terminal", "piped"])
def test_help_and_version_work_on_a_terminal_and_piped(folder: Path, mode: str) -> None:
    assert_readable(crmcore(mode, folder, "--help"), mode, "usage: crmcore", "segment")
    assert_readable(crmcore(mode, folder, "--version"), mode, "crmcore ")


@pytest.mark.parametrize("mode", ["terminal", "piped"])
def test_an_input_error_is_one_line_without_a_traceback(folder: Path, mode: str) -> None:
    run = crmcore(mode, folder, "segment", "--db", "missing.sqlite", "--rule", "vip.json")
    assert (run.code, "Traceback" in run.output) == (2, False)
    missing = (folder / "missing.sqlite").resolve()
    assert run.output.strip() == f"crmcore segment: error: no such database file: {missing}"
