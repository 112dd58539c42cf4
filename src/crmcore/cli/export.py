"""``crmcore export``: write stored records as JSON lines (every field) or CSV (flat columns).

The library behind it is :mod:`crmcore.adapters.transfer`; ``--as USER`` exports
only what an actor may export under an access policy (:mod:`crmcore.privacy.access`),
masked as they see it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO, cast

from crmcore.adapters.sql import SqlStore
from crmcore.adapters.sql.access import count_visible
from crmcore.adapters.transfer import (
    CSV_KINDS,
    CUSTOMER_COLUMNS,
    RecordKind,
    count_records,
    export_kinds,
    export_records,
)
from crmcore.adapters.transfer import csv_row as _csv_row
from crmcore.cli.console import Console
from crmcore.cli.io import add_key_db_argument, database_url, open_store, require_database_file
from crmcore.domain import Customer
from crmcore.errors import ConfigurationError, PayloadError, Problem
from crmcore.ports import DEFAULT_PAGE_SIZE, Store, UnitOfWork
from crmcore.privacy.access import (
    DEFAULT_POLICY,
    AccessPolicy,
    Action,
    Actor,
    RecordType,
    access_filter,
    mask,
    masks_sensitive,
)

__all__ = ["CSV_COLUMNS", "add_parser", "csv_row", "run"]

CSV_COLUMNS = CUSTOMER_COLUMNS
"""The CSV columns of a customer (``crmcore segment --format csv`` writes them too)."""

DESCRIPTION = f"""\
Write stored records to a file or to standard output.

JSON lines (--format jsonl) is the lossless format: a header line, then one
record per line with every field, several kinds in one file. crmcore import
reads it back; export, import into an empty database and export again give
the same file.

CSV (--format csv) is a flat view of one kind per file, for spreadsheets:
{", ".join(kind.value for kind in CSV_KINDS)}. It leaves nested data out by design.

Kinds: {", ".join(kind.value for kind in RecordKind)}, or all.
Contact persons are exported inside their customers.

--as USER --role ROLE [--team TEAM] [--policy FILE] exports only the records
that user may export under the access policy (default: the built-in rep,
manager and admin roles), with sensitive fields masked for roles that see them
masked. Such an export is for reading: masked values do not import back, and
merges are not covered by access policies.
"""


def add_parser(commands: Any) -> None:
    """Register ``export`` on the command's sub-parsers."""
    parser = commands.add_parser(
        "export",
        help="write stored records as JSON lines (every field) or CSV (flat columns)",
        description=DESCRIPTION,
    )
    parser.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    add_key_db_argument(parser)
    parser.add_argument(
        "--kind",
        action="append",
        metavar="KIND",
        help="what to export: a kind, a comma-separated list, or all; repeatable"
        " (default: customers)",
    )
    parser.add_argument(
        "--format",
        choices=["csv", "jsonl"],
        default="csv",
        help="csv: flat columns, one kind; jsonl: every field, any kinds (default: csv)",
    )
    parser.add_argument("--out", type=Path, help="output file (default: standard output)")
    parser.add_argument(
        "--as",
        dest="actor",
        metavar="USER",
        help="export only what USER may export, masked as they see it (needs --role)",
    )
    parser.add_argument(
        "--role", action="append", metavar="ROLE", help="a role of --as in the policy; repeatable"
    )
    parser.add_argument(
        "--team", action="append", metavar="TEAM", help="a team of --as; repeatable"
    )
    parser.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="the access policy as JSON (default: the built-in rep, manager and admin roles)",
    )
    parser.set_defaults(run=run)


def csv_row(customer: Customer) -> dict[str, str]:
    """Return the flat CSV form of a customer, keyed by :data:`CSV_COLUMNS`.

    >>> import pendulum
    >>> from crmcore.domain import CustomerId, Person, PersonName, register_customer
    >>> li_na, _ = register_customer(id=CustomerId("c-1"), at=pendulum.datetime(2026, 3, 1),
    ...                              person=Person(name=PersonName.parse("李娜")))
    >>> row = csv_row(li_na)
    >>> row["name"], row["city"], row["created_at"]
    ('李娜', '', '2026-03-01T00:00:00+00:00')

    Args:
        customer: The customer.

    Returns:
        The cells by column name.
    """
    return _csv_row(RecordKind.CUSTOMERS, customer)


@contextmanager
def _output(path: Path | None, console: Console) -> Iterator[TextIO]:
    if path is None:
        yield console.out
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        yield handle


_RECORD_TYPES = {
    RecordKind.CUSTOMERS: RecordType.CUSTOMER,
    RecordKind.LEADS: RecordType.LEAD,
    RecordKind.OPPORTUNITIES: RecordType.OPPORTUNITY,
    RecordKind.ACTIVITIES: RecordType.ACTIVITY,
    RecordKind.CASES: RecordType.CASE,
    RecordKind.ORDERS: RecordType.ORDER,
    RecordKind.SURVEY_RESPONSES: RecordType.SURVEY_RESPONSE,
    RecordKind.CONSENTS: RecordType.CONSENT,
}


def _read_policy(path: Path) -> AccessPolicy:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = Problem("$", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        raise PayloadError(f"policy file {path}", [problem]) from None
    return AccessPolicy.from_dict(data)


def _scope(
    args: argparse.Namespace, kinds: tuple[RecordKind, ...]
) -> tuple[AccessPolicy, Actor] | None:
    """Return the policy and the actor of ``--as``, or ``None`` for a full export."""
    if args.actor is None:
        if args.role or args.team or args.policy:
            raise ConfigurationError("--role, --team and --policy need --as USER")
        return None
    if not args.role:
        raise ConfigurationError("--as needs the user's role: add --role ROLE")
    uncovered = [kind.value for kind in kinds if kind not in _RECORD_TYPES]
    if uncovered:
        raise ConfigurationError(
            f"access policies do not cover {', '.join(uncovered)}: export the other kinds with --as"
        )
    policy = DEFAULT_POLICY if args.policy is None else _read_policy(args.policy)
    actor = Actor(user=args.actor, roles=args.role, teams=args.team or ())
    masks_sensitive(policy, actor)  # an unknown role is refused before anything is read
    return policy, actor


class _ScopedRepository:
    """A repository as one actor may export it: their records only, masked."""

    def __init__(self, inner: Any, record_type: RecordType, policy: AccessPolicy, actor: Actor):
        self._inner = inner
        self._test: Callable[[Any], bool] = access_filter(
            policy, actor, Action.EXPORT, record_type
        ).predicate()
        self._policy, self._actor = policy, actor

    def iter_all(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[Any]:
        for record in self._inner.iter_all(page_size=page_size):
            if self._test(record):
                yield mask(record, self._actor, self._policy)


class _ScopedUnitOfWork:
    def __init__(self, inner: UnitOfWork, policy: AccessPolicy, actor: Actor) -> None:
        self._inner, self._policy, self._actor = inner, policy, actor

    def __enter__(self) -> _ScopedUnitOfWork:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def __getattr__(self, name: str) -> _ScopedRepository:
        try:
            kind = RecordKind(name)
        except ValueError:
            raise AttributeError(name) from None
        return _ScopedRepository(
            kind.repository(self._inner), _RECORD_TYPES[kind], self._policy, self._actor
        )


class _ScopedStore:
    def __init__(self, inner: Store, policy: AccessPolicy, actor: Actor) -> None:
        self._inner, self._policy, self._actor = inner, policy, actor

    def unit_of_work(self) -> _ScopedUnitOfWork:
        return _ScopedUnitOfWork(self._inner.unit_of_work(), self._policy, self._actor)


def _count(store: Store, kinds: tuple[RecordKind, ...], policy: AccessPolicy, actor: Actor) -> int:
    if isinstance(store, SqlStore):
        with store.engine.connect() as conn:
            return sum(
                count_visible(conn, policy, actor, _RECORD_TYPES[k], action=Action.EXPORT)
                for k in kinds
            )
    scoped = _ScopedStore(store, policy, actor)
    with scoped.unit_of_work() as uow:
        return sum(sum(1 for _ in getattr(uow, k.value).iter_all()) for k in kinds)


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore export``; return the exit code.

    Raises:
        ConfigurationError: If a kind is unknown, or CSV is asked for several
            kinds or one it has no columns for; or ``--as`` is incomplete or asks
            for merges.
        InvalidValueError: If a role of ``--as`` is not in the policy.
        PayloadError: If the ``--policy`` file is not a valid policy.
        StorageError: If the database fails.
    """
    kinds = export_kinds(args.kind or [RecordKind.CUSTOMERS.value], args.format)
    scope = _scope(args, kinds)
    url = database_url(args.db)
    require_database_file(url)
    # Reading only: a database without crmcore's tables has nothing to export (and gets none).
    with open_store(args.db, dry_run=True, key_db=args.key_db) as store:
        if scope is None:
            source, total = store, count_records(store, kinds)
        else:
            # The scoped store reads like a store: export_records needs nothing else of it.
            source = cast(Store, _ScopedStore(store, *scope))
            total = _count(store, kinds, *scope)
        description = "exporting " + ", ".join(kind.value for kind in kinds)
        with console.progress(description, total) as progress, _output(args.out, console) as out:
            counts = export_records(source, kinds, out, format=args.format, progress=progress)
    if args.out is not None:
        done = ", ".join(f"{n} {kind.value}" for kind, n in counts.items() if n)
        console.print(f"exported {done or 'nothing'} to {args.out}")
    return 0
