"""Run the ``crmcore`` command as a user does: in a child process, piped or on a pseudo-terminal.

Shared by the end-to-end CLI tests. ``piped`` merges standard error into the output (what a
user sees scroll by); ``on_terminal`` gives the child a 100 × 30 pty, so rich draws what it
draws on a real terminal. Both fail the test, instead of hanging, when the command is silent
for :data:`TIMEOUT` seconds.
"""

from __future__ import annotations

import errno
import os
import select
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

TIMEOUT = 120.0


class Run(NamedTuple):
    """A finished command: its exit code and everything it wrote."""

    code: int
    output: str


def environment() -> dict[str, str]:
    """The child's environment: a colour terminal of 100 × 30, UTF-8, no colour overrides."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="30", PYTHONIOENCODING="utf-8")
    return env


def read_until_closed(master: int) -> Iterator[bytes]:
    """Yield what the child writes to the pty until it closes it."""
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


def on_terminal(args: list[str], cwd: Path) -> Run:
    """Run ``crmcore ARGS`` with a pseudo-terminal as its standard streams (POSIX only)."""
    import fcntl  # noqa: PLC0415 - POSIX only
    import termios  # noqa: PLC0415

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    try:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-m", "crmcore", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment(),
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


def piped(args: list[str], cwd: Path) -> Run:
    """Run ``crmcore ARGS`` with pipes, standard error merged into the output."""
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "crmcore", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment(),
        cwd=cwd,
        timeout=TIMEOUT,
        check=False,
    )
    return Run(done.returncode, done.stdout.decode("utf-8", errors="replace"))
