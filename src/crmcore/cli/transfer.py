"""``crmcore import`` of a crmcore export: records stored as they are, every bad line reported.

``crmcore import`` hands a file here when :func:`is_crmcore_export` says it is
a JSON-lines export (its first line is the export header, or a record in the
export envelope): such records are complete snapshots, so they skip the
cleaning and duplicate detection that contact files go through.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from crmcore.adapters.transfer import (
    RecordKind,
    TransferReport,
    import_records,
    is_header,
)
from crmcore.cli.console import Console
from crmcore.cli.io import InputError, open_store
from crmcore.errors import ConfigurationError

__all__ = ["is_crmcore_export", "run_records_import", "write_issues"]

_FIRST_LINE_LIMIT = 1 << 24  # a record line can be long (a merge holds several customers)
_KINDS = frozenset(kind.value for kind in RecordKind)


def is_crmcore_export(path: Path) -> bool:
    r"""Whether ``path`` is a JSON-lines export of crmcore, judged by its first non-blank line.

    True when that line is the export header (``{"crmcore": "export", ...}``) or
    a record in the export envelope (``{"kind": "customers", "record": {...}}``).
    A file that cannot be read is not one (the caller reports it).

    >>> import tempfile
    >>> scratch = tempfile.TemporaryDirectory()
    >>> folder = Path(scratch.name)
    >>> (folder / "dump.jsonl").write_text('\n{"crmcore":"export","format":1}\n', "utf-8")
    33
    >>> (folder / "contacts.csv").write_text("name,email\n", "utf-8")
    11
    >>> is_crmcore_export(folder / "dump.jsonl"), is_crmcore_export(folder / "contacts.csv")
    (True, False)
    >>> scratch.cleanup()

    Args:
        path: The file given to ``crmcore import``.

    Returns:
        True for a crmcore export.
    """
    try:
        with path.open("rb") as handle:
            for raw in handle:
                line = raw.strip()
                if line:
                    break
            else:
                return False
            if len(line) > _FIRST_LINE_LIMIT:
                return False
            data = json.loads(line.decode("utf-8-sig"))
    except (OSError, ValueError):
        return False
    if is_header(data):
        return True
    return (
        isinstance(data, dict)
        and set(data) == {"kind", "record"}
        and data["kind"] in _KINDS
        and isinstance(data["record"], dict)
    )


def _record_lines(path: Path) -> int:
    """Count the record lines of an export (not blank, not a header), for the progress bar."""
    count = 0
    with path.open("rb") as handle:
        for raw in handle:
            line = raw.strip()
            if line and not line.startswith(b'{"crmcore"'):
                count += 1
    return count


def _refuse_cleaning_options(args: argparse.Namespace) -> None:
    """Options for contact files make no sense on complete records: say so instead of ignoring."""
    given = [
        option
        for option, name in (("--mapping", "mapping"), ("--region", "region"))
        if getattr(args, name, None) is not None
    ]
    if given:
        raise ConfigurationError(
            f"{' and '.join(given)} apply to contact files, not to a crmcore export:"
            " its records are stored as exported"
        )
    encoding = getattr(args, "encoding", None)
    if encoding is not None and encoding.lower().replace("_", "-") not in {"utf-8", "utf8"}:
        raise ConfigurationError(f"a crmcore export is UTF-8, not {encoding}")


def run_records_import(path: Path, args: argparse.Namespace, console: Console) -> int:
    """Import a crmcore export into ``args.db``; return the exit code.

    Uses ``args.db``, and when present ``args.dry_run``, ``args.sample``
    (the first N records), ``args.batch_size`` and ``args.report`` (default:
    ``<file>.report.csv`` beside the file; ``.json`` writes JSON).

    Args:
        path: The export file.
        args: The parsed ``crmcore import`` arguments.
        console: Where the summary and the progress bar go.

    Returns:
        0: every line was handled (bad ones are in the report).

    Raises:
        ConfigurationError: If an option for contact files is given, or
            ``--sample`` is below 1.
        InputError: If the file cannot be read.
        PayloadError: If the file was written in a newer export format.
        StorageError: If the database fails.
    """
    _refuse_cleaning_options(args)
    sample: int | None = getattr(args, "sample", None)
    if sample is not None and sample < 1:
        raise ConfigurationError("--sample must be at least 1")
    dry_run = bool(getattr(args, "dry_run", False))
    batch_size = int(getattr(args, "batch_size", None) or 1000)
    try:
        total = _record_lines(path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if sample is not None:
        total = min(total, sample)
    try:
        with (
            open_store(args.db, dry_run=dry_run) as store,
            path.open("rb") as lines,
            console.progress(f"importing {path.name}", total) as bar,
        ):
            report = import_records(
                store,
                lines,
                batch_size=batch_size,
                progress=bar,
                dry_run=dry_run,
                limit=sample,
            )
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    report_path: Path = getattr(args, "report", None) or path.with_name(path.stem + ".report.csv")
    write_issues(report, report_path)
    _summary(console, report, report_path)
    return 0


def write_issues(report: TransferReport, path: Path) -> None:
    """Write one line per problem (line, kind, id, path, problem) as CSV, or JSON for ``.json``.

    Args:
        report: What the import did.
        path: The report file; replaced if it exists.

    Raises:
        InputError: If the file cannot be written.
    """
    columns = ("line", "kind", "id", "path", "problem")
    rows = [
        (issue.line, issue.kind.value if issue.kind else "", issue.id or "", p.path, p.message)
        for issue in report.issues
        for p in issue.problems
    ]
    try:
        if path.suffix.lower() == ".json":
            records = [dict(zip(columns, row, strict=True)) for row in rows]
            path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
            return
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(rows)
    except OSError as exc:
        raise InputError(f"cannot write report {path}: {exc.strerror or exc}") from exc


def _summary(console: Console, report: TransferReport, path: Path) -> None:
    verb = "would store" if report.dry_run else "stored"
    console.table(
        "import of a crmcore export" + (" (dry run: nothing written)" if report.dry_run else ""),
        ["records", verb, "already stored", "conflicts", "rejected"],
        [
            [
                report.lines,
                report.stored,
                report.already,
                report.conflicts,
                report.rejected,
            ]
        ],
    )
    if report.stored_by_kind:
        console.table(
            f"{verb} by kind",
            ["kind", "records"],
            [[kind.value, count] for kind, count in report.stored_by_kind.items()],
        )
    if report.issues:
        console.table(
            "problems",
            ["line", "kind", "id", "problem"],
            [
                [
                    issue.line,
                    issue.kind.value if issue.kind else "",
                    issue.id or "",
                    "; ".join(str(p) for p in issue.problems),
                ]
                for issue in report.issues[:50]
            ],
        )
    lines = sum(len(issue.problems) for issue in report.issues)
    console.print(f"report: {path} ({lines} lines)")
