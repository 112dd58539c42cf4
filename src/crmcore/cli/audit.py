"""``crmcore audit``: verify the tamper-evident audit chain, and take checkpoints of it.

``crmcore audit verify --db URL`` reads the whole chain once, in order, and
checks every entry's hash, every link and every payload still kept against
its digest (erased payloads pass); with ``--checkpoint FILE`` it also checks
the chain against checkpoints a witness kept (a recomputed history, a
truncated tail). ``crmcore audit checkpoint --db URL`` prints the chain's
head as one line of JSON, to append to such a file.

Exit codes: 0 the chain holds, 3 the chain is broken (standard error names
the first bad entry and what is wrong with it), 2 an input or database
error, 1 a usage error.

The library behind it is :mod:`crmcore.privacy.audit`.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from crmcore.adapters.sql import SqlStore
from crmcore.cli.console import Console, Progress
from crmcore.cli.io import InputError, database_url, open_store, require_database_file
from crmcore.cli.text import PlainHelpFormatter
from crmcore.errors import PayloadError
from crmcore.ports import AuditLog
from crmcore.privacy.audit import (
    GENESIS_HASH,
    AuditEntry,
    ChainBreak,
    ChainFault,
    Checkpoint,
    check_payload,
    verify,
)

__all__ = ["CHAIN_BROKEN", "add_parser", "read_checkpoints", "run_checkpoint", "run_verify"]

CHAIN_BROKEN = 3
"""The exit code of ``crmcore audit verify`` when the chain does not hold."""

_PAGE = 5000

DESCRIPTION = """\
Verify the tamper-evident audit chain, or take a checkpoint of it.

Every change and read a service audits is an entry chained to the previous
one by SHA-256, with the digest of its payload; the payloads themselves sit
beside the chain and may be erased (erasure never breaks the chain).

  crmcore audit verify --db crm.db
  crmcore audit checkpoint --db crm.db >> witness.jsonl
  crmcore audit verify --db crm.db --checkpoint witness.jsonl

verify exits 0 when the chain holds and 3 when it does not, naming the first
bad entry: modified, broken link, gap, out of order, rewritten (differs from
a checkpoint), truncated (ends before a checkpoint) or payload (a kept
payload no longer matches its digest).
"""


def add_parser(commands: Any) -> None:
    """Register ``audit`` (with ``verify`` and ``checkpoint``) on the command's sub-parsers."""
    parser = commands.add_parser(
        "audit",
        help="verify the tamper-evident audit chain, or print a checkpoint of it",
        description=DESCRIPTION,
    )
    actions = parser.add_subparsers(
        dest="audit_command",
        required=True,
        metavar="ACTION",
        help="verify or checkpoint",
    )
    check = actions.add_parser(
        "verify",
        formatter_class=PlainHelpFormatter,
        help="check every entry, link and kept payload of the chain; name the first bad one",
        description="Check every entry, link and kept payload of the audit chain;"
        " exit 0 when it holds, 3 naming the first bad entry when it does not.",
    )
    check.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    check.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        metavar="FILE",
        help="checkpoints a witness kept (JSON lines from crmcore audit checkpoint); repeatable",
    )
    check.set_defaults(run=run_verify)
    head = actions.add_parser(
        "checkpoint",
        formatter_class=PlainHelpFormatter,
        help="print the chain's head as one line of JSON, for a witness to keep",
        description="Print the audit chain's head (sequence, hash, time) as one line of JSON.",
    )
    head.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    head.set_defaults(run=run_checkpoint)


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Read checkpoints from a file of JSON lines (blank lines are skipped).

    Raises:
        InputError: If the file cannot be read or a line is not a checkpoint
            (the message names the line).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read checkpoints from {path}: {exc}") from exc
    found: list[Checkpoint] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            found.append(Checkpoint.from_json(line))
        except PayloadError as exc:
            problems = "; ".join(str(p) for p in exc.problems)
            raise InputError(f"{path} line {number}: not a checkpoint: {problems}") from exc
    return found


class _PayloadCheck:
    """Checks the payloads of the entries streaming through it, a page at a time."""

    def __init__(self, audit: AuditLog, progress: Progress) -> None:
        self._audit = audit
        self._progress = progress
        self.first_break: ChainBreak | None = None
        self.kept = 0
        self.erased = 0

    def through(self, entries: Iterable[AuditEntry]) -> Iterator[AuditEntry]:
        done = 0
        iterator = iter(entries)
        while page := list(itertools.islice(iterator, _PAGE)):
            payloads = self._audit.payloads(e.sequence for e in page)
            for entry in page:
                payload = payloads.get(entry.sequence)
                if payload is None:
                    self._found(
                        ChainBreak(
                            sequence=entry.sequence,
                            fault=ChainFault.PAYLOAD,
                            detail="its payload row is missing (erasure keeps the row)",
                        )
                    )
                else:
                    problem = check_payload(entry, payload)
                    if problem is not None:
                        self._found(problem)
                    elif payload.payload_text is None:
                        self.erased += 1
                    else:
                        self.kept += 1
            yield from page
            done += len(page)
            self._progress(done)

    def _found(self, problem: ChainBreak) -> None:
        if self.first_break is None or problem.sequence < self.first_break.sequence:
            self.first_break = problem


def _require_audit_tables(store: object, db: str) -> None:
    if not isinstance(store, SqlStore):  # open_store gave an empty memory store: no tables
        raise InputError(f"{db} has no crmcore tables: there is no audit chain to check")


def run_verify(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore audit verify``; return the exit code (0 holds, 3 broken).

    Raises:
        InputError: If the database file or a checkpoint file is missing or unreadable.
        StorageError: If the database fails.
    """
    checkpoints = [c for path in args.checkpoint or [] for c in read_checkpoints(path)]
    url = database_url(args.db)
    require_database_file(url)
    with open_store(args.db, dry_run=True) as store:
        _require_audit_tables(store, args.db)
        with store.unit_of_work() as uow:
            head = uow.audit.head()
            total = 0 if head is None else head.sequence
            with console.progress("verifying the audit chain", total) as progress:
                payloads = _PayloadCheck(uow.audit, progress)
                report = verify(
                    payloads.through(uow.audit.entries(page_size=_PAGE)), checkpoints=checkpoints
                )
    problem = report.first_break
    late = payloads.first_break
    if late is not None and (problem is None or late.sequence < problem.sequence):
        problem = late
    if problem is not None:
        good = "none" if report.head is None or report.head.sequence == 0 else report.head.sequence
        console.print(f"checked {report.checked:,} entries; the last good entry is {good}")
        console.error(f"crmcore audit: error: the audit chain is broken at {problem}")
        return CHAIN_BROKEN
    last = report.head
    where = "empty" if last is None else f"head entry {last.sequence} ({last.hash[:16]}…)"
    witnessed = f", {len(checkpoints)} checkpoints matched" if checkpoints else ""
    console.print(
        f"the audit chain holds: {report.checked:,} entries, {where}; payloads"
        f" {payloads.kept:,} kept, {payloads.erased:,} erased{witnessed}"
    )
    return 0


def run_checkpoint(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore audit checkpoint``: print the head as one JSON line; return 0.

    Raises:
        InputError: If the database file is missing or has no crmcore tables.
        StorageError: If the database fails.
    """
    url = database_url(args.db)
    require_database_file(url)
    with open_store(args.db, dry_run=True) as store:
        _require_audit_tables(store, args.db)
        with store.unit_of_work() as uow:
            head = uow.audit.head()
    checkpoint = Checkpoint(sequence=0, hash=GENESIS_HASH) if head is None else Checkpoint.of(head)
    console.out.write(checkpoint.to_json() + "\n")
    return 0
