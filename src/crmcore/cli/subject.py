"""``crmcore subject``: a data subject's requests — export everything, or erase it.

``crmcore subject export --db URL --customer ID`` writes one JSON document
to standard output: the customer (and every customer merged with it) and
every record, consent, merge, event and audit entry about them
(:func:`crmcore.services.subject.export_subject`). The export is audited.

``crmcore subject erase --db URL --customer ID`` pseudonymises the
subject's personal data everywhere it lives, keeping ids and amounts
(:func:`crmcore.services.subject.erase_subject`). It resumes an erasure
that was interrupted, and does nothing for a subject already erased
(``--again`` erases data recorded since). It prints the erasure request:
one line per step with how many records changed.

``crmcore subject replay --db URL --log FILE`` erases again, after a restore
from an older backup, every subject of an erasure log that ``erase --log``
wrote (:func:`crmcore.services.subject.replay_erasures`).

Exit codes: 0 done, 2 an input or database error (an unknown customer), 1 a usage error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from crmcore.adapters.sql import SqlStore
from crmcore.cli.console import Console
from crmcore.cli.io import (
    InputError,
    add_key_db_argument,
    database_url,
    key_store_of,
    open_store,
    require_database_file,
)
from crmcore.clock import SystemClock
from crmcore.domain import CustomerId
from crmcore.errors import InvalidValueError
from crmcore.privacy.subject import ErasureRequest
from crmcore.services.subject import erase_subject, export_subject, replay_erasures

__all__ = ["add_parser", "read_log", "run_erase", "run_export", "run_replay"]

DESCRIPTION = """\
Answer a data subject's request (PIPL, GDPR): export everything stored about
a customer as JSON, or erase their personal data everywhere it lives.

  crmcore subject export --db crm.db --customer c-000001 > c-000001.json
  crmcore subject erase --db crm.db --customer c-000001 --by u-dpo --log erasures.jsonl
  crmcore subject replay --db restored.db --log erasures.jsonl

Keep the erasure log (it holds no personal data) apart from your backups: after
restoring a backup taken before some erasures, replay it to erase them again.

Erasure pseudonymises in place: ids, amounts, stages and times stay, so
reports keep their totals; the audit chain still verifies afterwards.
"""


def add_parser(commands: Any) -> None:
    """Register ``subject`` (with ``export`` and ``erase``) on the command's sub-parsers."""
    parser = commands.add_parser(
        "subject",
        help="export everything about a customer as JSON, or erase their personal data",
        description=DESCRIPTION,
    )
    actions = parser.add_subparsers(
        dest="subject_command", required=True, metavar="ACTION", help="export, erase or replay"
    )
    export = actions.add_parser(
        "export",
        help="write everything stored about the customer as one JSON document",
        description="Write everything stored about the customer as one JSON document"
        " to standard output.",
    )
    erase = actions.add_parser(
        "erase",
        help="pseudonymise the customer's personal data everywhere it lives",
        description="Pseudonymise the customer's personal data everywhere it lives;"
        " resume an interrupted erasure.",
    )
    for sub in (export, erase):
        sub.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
        add_key_db_argument(sub)
        sub.add_argument("--customer", required=True, metavar="ID", help="the customer's id")
        sub.add_argument("--by", metavar="USER", help="who asks (recorded in the audit chain)")
    export.add_argument("--indent", type=int, default=2, help="JSON indentation (default: 2)")
    erase.add_argument("--again", action="store_true", help="erase again a customer erased before")
    erase.add_argument(
        "--log", type=Path, metavar="FILE", help="append the erasure request to this JSON-lines log"
    )
    replay = actions.add_parser(
        "replay",
        help="erase again every subject of an erasure log (after restoring a backup)",
        description="Run again every erasure of a log written by erase --log that the"
        " database does not hold as finished (after restoring an older backup).",
    )
    replay.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    add_key_db_argument(replay)
    replay.add_argument("--log", type=Path, required=True, metavar="FILE", help="the erasure log")
    replay.add_argument("--by", metavar="USER", help="who replays (recorded in the audit chain)")
    export.set_defaults(run=run_export)
    erase.set_defaults(run=run_erase)
    replay.set_defaults(run=run_replay)


def _store(store: object, db: str) -> SqlStore:
    if not isinstance(store, SqlStore):  # open_store gave an empty memory store: no tables
        raise InputError(f"{db} has no crmcore tables: there is no customer to find")
    return store


def run_export(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore subject export``; return the exit code.

    Raises:
        InputError: If the database file is missing or has no crmcore tables.
        NotFoundError: If no customer has the id.
        StorageError: If the database fails.
    """
    url = database_url(args.db)
    require_database_file(url)
    with open_store(args.db, dry_run=True, key_db=args.key_db) as opened:
        store = _store(opened, args.db)
        with store.unit_of_work() as uow:
            document = export_subject(
                uow, CustomerId(args.customer), at=SystemClock().now(), actor=args.by, audit=True
            )
            uow.commit()
    indent = args.indent if args.indent > 0 else None
    console.out.write(json.dumps(document, ensure_ascii=False, indent=indent) + "\n")
    return 0


def run_erase(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore subject erase``; return the exit code.

    Raises:
        InputError: If the database file is missing or has no crmcore tables.
        NotFoundError: If no customer has the id.
        StorageError: If the database fails.
    """
    url = database_url(args.db)
    require_database_file(url)
    with open_store(args.db, dry_run=True, key_db=args.key_db) as opened:
        store = _store(opened, args.db)
        request = erase_subject(
            store,
            CustomerId(args.customer),
            at=SystemClock().now(),
            by=args.by,
            again=args.again,
            keys=key_store_of(store),
        )
    console.print(
        f"erasure {request.id} of {request.subject}: customers {', '.join(request.customers)}"
    )
    for step in request.steps:
        console.print(f"  {step.name:<17} {step.changed:>6} changed")
    state = "done" if request.done else f"stopped before {request.next_step}"
    console.print(f"erasure {state}")
    if args.log is not None:
        try:
            with args.log.open("a", encoding="utf-8") as log:
                log.write(request.to_json() + "\n")
        except OSError as exc:
            raise InputError(f"cannot append to the erasure log {args.log}: {exc}") from exc
        console.print(f"logged in {args.log}")
    return 0


def read_log(path: Path) -> list[ErasureRequest]:
    """Read an erasure log (JSON lines; blank lines skipped).

    Raises:
        InputError: If the file cannot be read or a line is not an erasure request.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the erasure log {path}: {exc}") from exc
    requests: list[ErasureRequest] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            requests.append(ErasureRequest.from_json(line))
        except InvalidValueError as exc:
            raise InputError(f"{path} line {number}: {exc}") from exc
    return requests


def run_replay(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore subject replay``; return the exit code.

    Raises:
        InputError: If the database or log file is missing or unreadable.
        StorageError: If the database fails.
    """
    requests = read_log(args.log)
    url = database_url(args.db)
    require_database_file(url)
    with open_store(args.db, dry_run=True, key_db=args.key_db) as opened:
        store = _store(opened, args.db)
        with store.unit_of_work() as uow:
            before = {r.id: r.done for r in uow.erasures.iter_all()}
        done = replay_erasures(
            store, requests, at=SystemClock().now(), by=args.by, keys=key_store_of(store)
        )
    again = [r for r in done if not before.get(r.id, False)]
    console.print(f"{len(requests)} erasures in the log; {len(again)} run again")
    for request in again:
        console.print(f"  {request.id} of {request.subject}: {'done' if request.done else 'open'}")
    return 0
