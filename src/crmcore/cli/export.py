"""``crmcore export``: write stored records as JSON lines (every field) or CSV (flat columns).

The library behind it is :mod:`crmcore.adapters.transfer`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

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
from crmcore.cli.io import database_url, open_store, require_database_file
from crmcore.domain import Customer

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
"""


def add_parser(commands: Any) -> None:
    """Register ``export`` on the command's sub-parsers."""
    parser = commands.add_parser(
        "export",
        help="write stored records as JSON lines (every field) or CSV (flat columns)",
        description=DESCRIPTION,
    )
    parser.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
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


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore export``; return the exit code.

    Raises:
        ConfigurationError: If a kind is unknown, or CSV is asked for several
            kinds or one it has no columns for.
        StorageError: If the database fails.
    """
    kinds = export_kinds(args.kind or [RecordKind.CUSTOMERS.value], args.format)
    url = database_url(args.db)
    require_database_file(url)
    # Reading only: a database without crmcore's tables has nothing to export (and gets none).
    with open_store(args.db, dry_run=True) as store:
        total = count_records(store, kinds)
        description = "exporting " + ", ".join(kind.value for kind in kinds)
        with console.progress(description, total) as progress, _output(args.out, console) as out:
            counts = export_records(store, kinds, out, format=args.format, progress=progress)
    if args.out is not None:
        done = ", ".join(f"{n} {kind.value}" for kind, n in counts.items() if n)
        console.print(f"exported {done or 'nothing'} to {args.out}")
    return 0
