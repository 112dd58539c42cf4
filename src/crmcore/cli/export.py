"""``crmcore export``: write every stored customer as CSV or JSON lines."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.cli.console import Console
from crmcore.cli.io import database_url
from crmcore.domain import Customer
from crmcore.serialization import dumps

__all__ = ["CSV_COLUMNS", "add_parser", "csv_row", "run"]

CSV_COLUMNS = (
    "id",
    "kind",
    "name",
    "company",
    "email",
    "phone",
    "country",
    "tier",
    "lifecycle_stage",
    "owner",
    "tags",
    "merged_into",
    "created_at",
    "updated_at",
)


def add_parser(commands: Any) -> None:
    """Register ``export`` on the command's sub-parsers."""
    parser = commands.add_parser("export", help="write stored customers as CSV or JSON lines")
    parser.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    parser.add_argument("--out", type=Path, help="output file (default: standard output)")
    parser.set_defaults(run=run)


def csv_row(customer: Customer) -> dict[str, str]:
    """Return the flat CSV form of a customer."""
    person, org = customer.person, customer.organization
    return {
        "id": customer.id,
        "kind": customer.kind.value,
        "name": person.name.full if person is not None else "",
        "company": org.legal_name if org is not None else (person.employer if person else ""),
        "email": str(customer.points.primary_email or ""),
        "phone": str(customer.points.primary_phone or ""),
        "country": str(customer.country or ""),
        "tier": customer.tier.value,
        "lifecycle_stage": customer.lifecycle_stage.value,
        "owner": customer.owner or "",
        "tags": ";".join(sorted(t.name for t in customer.tags)),
        "merged_into": customer.merged_into or "",
        "created_at": customer.created_at.isoformat(),
        "updated_at": customer.updated_at.isoformat(),
    }


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        yield handle


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore export``; return the exit code."""
    engine = create_engine(database_url(args.db))
    count = 0
    try:
        create_schema(engine)
        with SqlStore(engine).unit_of_work() as uow, _output(args.out) as out:
            if args.format == "jsonl":
                for customer in uow.customers.iter_all():
                    out.write(dumps(customer) + "\n")
                    count += 1
            else:
                writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
                writer.writeheader()
                for customer in uow.customers.iter_all():
                    writer.writerow(csv_row(customer))
                    count += 1
    finally:
        engine.dispose()
    if args.out is not None:
        console.print(f"exported {count} customers to {args.out}")
    return 0
