"""``crmcore import``: clean, dedupe and load a CSV, Excel or JSON-lines file into a database.

The manuals' migration advice as one command: normalise phones (E.164) and
dates (YYYY-MM-DD), flag missing fields, dedupe within the file and against
what is stored, trial-migrate a sample (--sample 100) or rehearse
(--dry-run: nothing is written, not even an empty database), and write a
report with one line per rejected, dropped, changed or missing value: row,
line, field, value, kind, reason. An invalid value is dropped and the
customer kept (--on-invalid drop-value, the default) or costs its row
(--on-invalid reject-row); rejected rows go to a quarantine file in the
input's own columns plus a reason column, to fix and re-import. After the
load, the completeness of every field of what was stored is printed.
Idempotent and resumable.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from crmcore.cli.console import Console
from crmcore.cli.io import (
    InputError,
    add_key_db_argument,
    count_rows,
    import_rows,
    open_store,
    open_table,
)
from crmcore.cli.transfer import is_crmcore_export, run_records_import
from crmcore.clock import SystemClock
from crmcore.errors import ConfigurationError
from crmcore.services.cleaning import CleanRow, ColumnMapping, IssueKind
from crmcore.services.importing import ImportReport, OnDuplicate, OnInvalid, import_customers

__all__ = ["REPORT_COLUMNS", "add_parser", "read_mapping", "run", "write_report"]

REPORT_COLUMNS = ("row", "line", "field", "value", "kind", "reason")
"""The columns of the import report, in order."""


def add_parser(commands: Any) -> None:
    """Register ``import`` on the command's sub-parsers."""
    parser = commands.add_parser(
        "import",
        help="clean, dedupe and load customers from CSV, Excel or JSON lines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "file",
        type=Path,
        help="a .csv/.tsv/.txt (comma, semicolon or tab; UTF-8, UTF-16 or GB18030), "
        ".xlsx or .jsonl file, or a crmcore export",
    )
    parser.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    add_key_db_argument(parser)
    parser.add_argument(
        "--mapping",
        metavar="JSON",
        help='which column feeds which field, as JSON ({"phone": "Mobile No."}) or a JSON '
        "file; fields not named are still detected",
    )
    parser.add_argument("--region", help="default phone region for national numbers, e.g. CN")
    parser.add_argument(
        "--dry-run", action="store_true", help="write nothing (no database either); report only"
    )
    parser.add_argument("--sample", type=int, metavar="N", help="import only the first N rows")
    parser.add_argument(
        "--on-duplicate",
        choices=[p.value for p in OnDuplicate],
        default=OnDuplicate.SKIP.value,
        help="a row describing a customer already in the file or the database: skip it "
        "(default), merge its contact points and tags into the first, or keep it as a "
        "customer of its own",
    )
    parser.add_argument(
        "--on-invalid",
        choices=[p.value for p in OnInvalid],
        default=OnInvalid.DROP_VALUE.value,
        help="an invalid value (phone 12345, date 1990-02-30): drop the value and keep the "
        "customer (default, reported as 'dropped'), or reject the whole row",
    )
    parser.add_argument(
        "--report", type=Path, help="report file, .csv or .json (default: FILE.report.csv)"
    )
    parser.add_argument(
        "--quarantine",
        type=Path,
        help="where rejected rows go, in the input's own columns plus a reason column "
        "(default: FILE.rejected.csv, or .jsonl for JSON lines)",
    )
    parser.add_argument(
        "--encoding", help="file encoding (default: detect UTF-8, UTF-16 with BOM, GB18030)"
    )
    parser.add_argument(
        "--delimiter",
        help="cell delimiter of a CSV file: a character, or comma, semicolon, tab, pipe "
        "(default: detected)",
    )
    parser.add_argument("--batch-size", type=int, default=10_000, help=argparse.SUPPRESS)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes cleaning rows in parallel (default: 0, in this process, "
        "which is faster on SQLite: shipping cleaned rows back costs more than cleaning them)",
    )
    parser.set_defaults(run=run)


def read_mapping(value: str | None, headers: Sequence[str]) -> ColumnMapping:
    """Return the column mapping: detected, or given as JSON text or a JSON file.

    >>> dict(read_mapping('{"phone": "Mobile"}', ["Name", "Mobile"]).columns)
    {'name': 'Name', 'phone': 'Mobile'}

    Raises:
        InputError: If the mapping cannot be read or is not a JSON object of strings.
        ConfigurationError: If it names an unknown field or a column not in the file.
    """
    if value is None:
        return ColumnMapping.detect(headers)
    text = value.strip()
    where = "--mapping"
    if not text.startswith("{"):
        try:
            text = Path(value).read_text("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InputError(f"cannot read mapping file {value}: {reason}") from exc
        where = f"mapping file {value}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputError(f'{where} must be a JSON object such as {{"phone": "Mobile"}}')
    return ColumnMapping.from_json(data, headers)


def _default_quarantine(path: Path) -> Path:
    suffix = ".jsonl" if path.suffix.lower() in {".jsonl", ".ndjson", ".json"} else ".csv"
    return path.with_name(path.stem + ".rejected" + suffix)


class _Quarantine:
    """Writes rejected rows, as read, to a file to fix and re-import (opened on the first one)."""

    def __init__(self, path: Path, headers: Sequence[str]) -> None:
        self.path = path
        self.headers = list(headers)
        self.reason = "reason" if "reason" not in self.headers else "crmcore_reason"
        self.rows = 0
        self._handle: TextIO | None = None
        self._writer: Any = None

    def add(self, row: CleanRow) -> None:
        reasons = [f"{i.field}: {i.reason}" for i in row.issues if i.kind is IssueKind.REJECTED]
        source = row.source or {}
        if self._handle is None:
            as_csv = self.path.suffix.lower() != ".jsonl"
            # A BOM lets Excel open Chinese text in a CSV; JSON lines carry none.
            self._handle = self.path.open(
                "w", encoding="utf-8-sig" if as_csv else "utf-8", newline=""
            )
            if as_csv:
                self._writer = csv.writer(self._handle)
                self._writer.writerow([*self.headers, self.reason])
        values = [source.get(h) or "" for h in self.headers]
        if self._writer is not None:
            self._writer.writerow([*values, "; ".join(reasons)])
        else:
            record = dict(zip(self.headers, values, strict=True)) | {
                self.reason: "; ".join(reasons)
            }
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.rows += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore import``; return the exit code.

    Raises:
        InputError: If the file or the mapping cannot be read.
        ConfigurationError: If the options are inconsistent or no name column is found.
        StorageError: If the database fails (batches committed before stay stored).
    """
    path: Path = args.file
    if is_crmcore_export(path):  # complete records: stored as they are, no cleaning
        return run_records_import(path, args, console)
    if args.sample is not None and args.sample < 1:
        raise ConfigurationError("--sample must be at least 1")
    table = open_table(path, args.encoding, args.delimiter)
    for issue in table.issues:  # repeated headers renamed, extra sheets …: said, never silent
        console.error(f"crmcore import: warning: {path.name}, line {issue.line}: {issue.message}")
    rows = import_rows(table)
    try:
        report, quarantine = _load(args, console, list(table.headers), rows)
    finally:
        rows.close()  # the generator holds the file open
    report_path = args.report or path.with_name(path.stem + ".report.csv")
    write_report(report, report_path)
    _summary(console, report, report_path, quarantine)
    return 0


def _load(
    args: argparse.Namespace,
    console: Console,
    headers: list[str],
    rows: Iterable[dict[str, str | None]],
) -> tuple[ImportReport, _Quarantine]:
    path: Path = args.file
    mapping = read_mapping(args.mapping, headers)
    console.table(
        "columns",
        ["field", "column"],
        [
            *mapping.columns.items(),
            *((f, c) for f, more in mapping.extra.items() for c in more),
            *(("(ignored)", c) for c in mapping.ignored),
        ],
    )
    quarantine = _Quarantine(args.quarantine or _default_quarantine(path), headers)
    total = count_rows(path)
    if args.sample is not None and total is not None:
        total = min(total, args.sample)
    try:
        with (
            open_store(args.db, dry_run=args.dry_run, key_db=args.key_db) as store,
            console.progress(f"importing {path.name}", total) as progress,
        ):
            report = import_customers(
                store,
                rows,
                mapping,
                source=path.name,
                clock=SystemClock(),
                region=args.region,
                on_duplicate=OnDuplicate(args.on_duplicate),
                on_invalid=OnInvalid(args.on_invalid),
                on_reject=quarantine.add,
                dry_run=args.dry_run,
                limit=args.sample,
                batch_size=args.batch_size,
                workers=max(args.workers, 0),
                progress=progress,
            )
    finally:
        quarantine.close()
    return report, quarantine


def write_report(report: ImportReport, path: Path) -> None:
    """Write one line per issue (row, line, field, value, kind, reason) as CSV or JSON.

    ``line`` is the line of the file where the row starts, when the reader knows it.
    """
    columns = REPORT_COLUMNS
    lines = [
        (i.row, "" if i.line is None else i.line, i.field, i.value, i.kind.value, i.reason)
        for i in report.issues
    ]
    if path.suffix.lower() == ".json":
        records = [dict(zip(columns, line, strict=True)) for line in lines]
        path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)  # rows as tuples: a DictWriter costs a dict per line
        writer.writerow(columns)
        writer.writerows(lines)


def _summary(
    console: Console,
    report: ImportReport,
    path: Path,
    quarantine: _Quarantine,
) -> None:
    verb = "would store" if report.dry_run else "stored"
    console.table(
        "import" + (" (dry run: nothing written)" if report.dry_run else ""),
        [
            "rows",
            verb,
            "merged",
            "already imported",
            "duplicates",
            "rejected",
            "values dropped",
            "changed",
        ],
        [
            [
                report.rows,
                report.stored,
                report.merged,
                report.already_imported,
                report.duplicates,
                report.rejected,
                report.dropped,
                report.changed,
            ]
        ],
    )
    if report.dry_run or report.rows <= 200:
        shown = [
            i
            for i in report.issues
            if i.kind.value in {"rejected", "dropped", "duplicate", "missing"}
        ]
        if shown:
            console.table(
                "problems",
                ["row", "line", "field", "value", "kind", "reason"],
                [
                    [i.row, "" if i.line is None else i.line, i.field, i.value, i.kind.value,
                     i.reason]
                    for i in shown[:50]
                ],
            )  # fmt: skip
    if report.stored:
        console.table(
            "completeness of the customers " + verb,
            ["field", "filled", "share"],
            [
                [field, report.filled.get(field, 0), f"{share:.0%}"]
                for field, share in report.completeness().items()
            ],
        )
    if report.suggested_region is not None:
        console.print(
            f"hint: {report.phones_without_country_code} phone numbers have no country code "
            f"and were not imported; most read as {report.suggested_region} numbers: "
            f"run again with --region {report.suggested_region}"
        )
    elif report.phones_without_country_code:
        console.print(
            f"hint: {report.phones_without_country_code} phone numbers have no country code: "
            "give --region (e.g. --region CN) to read national numbers"
        )
    console.print(f"report: {path} ({len(report.issues)} lines)")
    if quarantine.rows:
        console.print(
            f"quarantine: {quarantine.path} ({quarantine.rows} rejected rows to fix and re-import)"
        )
