"""``crmcore import``: clean, dedupe and load a CSV or JSON-lines file into a database.

The manuals' migration advice as one command: normalise phones (E.164) and
dates (YYYY-MM-DD), flag missing fields, dedupe within the file and against
what is stored, trial-migrate a sample (``--sample 100``) or rehearse
(``--dry-run``), and write a report with one line per rejected or changed
value: row, field, value, kind, reason. Idempotent and resumable.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.cli.console import Console
from crmcore.cli.io import InputError, count_rows, database_url, read_rows
from crmcore.clock import SystemClock
from crmcore.errors import ConfigurationError
from crmcore.services.cleaning import ColumnMapping
from crmcore.services.importing import ImportReport, OnDuplicate, import_customers

__all__ = ["add_parser", "run", "write_report"]


def add_parser(commands: Any) -> None:
    """Register ``import`` on the command's sub-parsers."""
    parser = commands.add_parser(
        "import",
        help="clean, dedupe and load customers from CSV or JSON lines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="a .csv or .jsonl file")
    parser.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    parser.add_argument(
        "--mapping", type=Path, help='JSON {"field": "Column"} overriding detection'
    )
    parser.add_argument("--region", help="default phone region for national numbers, e.g. CN")
    parser.add_argument("--dry-run", action="store_true", help="write nothing; print the report")
    parser.add_argument("--sample", type=int, metavar="N", help="import only the first N rows")
    parser.add_argument(
        "--on-duplicate", choices=[p.value for p in OnDuplicate], default=OnDuplicate.SKIP.value
    )
    parser.add_argument("--report", type=Path, help="report file (.csv or .json)")
    parser.add_argument("--encoding", help="file encoding (default: detect UTF-8 / GB18030)")
    parser.add_argument("--batch-size", type=int, default=10_000, help=argparse.SUPPRESS)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes cleaning rows in parallel (default: 0, in this process, "
        "which is faster on SQLite: shipping cleaned rows back costs more than cleaning them)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore import``; return the exit code."""
    path: Path = args.file
    headers, rows = read_rows(path, encoding=args.encoding)
    if args.mapping is not None:
        try:
            mapping = ColumnMapping.from_json(json.loads(args.mapping.read_text("utf-8")), headers)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read mapping {args.mapping}: {exc}") from exc
    else:
        mapping = ColumnMapping.detect(headers)
    if args.sample is not None and args.sample < 1:
        raise ConfigurationError("--sample must be at least 1")
    engine = create_engine(database_url(args.db))
    try:
        create_schema(engine)
        total = count_rows(path)
        if args.sample is not None and total is not None:
            total = min(total, args.sample)
        with console.progress(f"importing {path.name}", total) as progress:
            report = import_customers(
                SqlStore(engine),
                rows,
                mapping,
                source=path.name,
                clock=SystemClock(),
                region=args.region,
                on_duplicate=OnDuplicate(args.on_duplicate),
                dry_run=args.dry_run,
                limit=args.sample,
                batch_size=args.batch_size,
                workers=max(args.workers, 0),
                progress=progress,
            )
    finally:
        engine.dispose()
    report_path = args.report or path.with_name(path.stem + ".report.csv")
    write_report(report, report_path)
    _summary(console, report, mapping, report_path)
    return 0


def write_report(report: ImportReport, path: Path) -> None:
    """Write one line per issue (row, field, value, kind, reason) as CSV or JSON."""
    columns = ("row", "field", "value", "kind", "reason")
    lines = [(i.row, i.field, i.value, i.kind.value, i.reason) for i in report.issues]
    if path.suffix.lower() == ".json":
        records = [dict(zip(columns, line, strict=True)) for line in lines]
        path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)  # rows as tuples: a DictWriter costs a dict per line
        writer.writerow(columns)
        writer.writerows(lines)


def _summary(console: Console, report: ImportReport, mapping: ColumnMapping, path: Path) -> None:
    verb = "would store" if report.dry_run else "stored"
    console.table(
        "columns",
        ["field", "column"],
        [*mapping.columns.items(), *(("(ignored)", c) for c in mapping.ignored)],
    )
    console.table(
        "import" + (" (dry run: nothing written)" if report.dry_run else ""),
        ["rows", verb, "merged", "already imported", "duplicates", "rejected", "changed"],
        [
            [
                report.rows,
                report.stored,
                report.merged,
                report.already_imported,
                report.duplicates,
                report.rejected,
                report.changed,
            ]
        ],
    )
    if report.dry_run or report.rows <= 200:
        shown = [i for i in report.issues if i.kind.value in {"rejected", "duplicate", "missing"}]
        if shown:
            console.table(
                "problems",
                ["row", "field", "value", "kind", "reason"],
                [[i.row, i.field, i.value, i.kind.value, i.reason] for i in shown[:50]],
            )
    console.print(f"report: {path} ({len(report.issues)} lines)")
