"""``crmcore dedupe``: find duplicate customers in a CSV, JSON-lines or .xlsx file.

Reads a table with recognisable headers (``first_name``, ``last_name``,
``name``, ``email``, ``phone``, ``company``, ``city``, ``postcode``,
``country``, ``birth_date``/``dob``, or Chinese ones: 姓名, 手机, 邮箱, 公司,
城市; unknown columns are ignored) — a CSV whose delimiter (comma,
semicolon, tab, pipe) and encoding (UTF-8, UTF-16, GB18030) are detected, a
JSON-lines file or a spreadsheet — runs :func:`crmcore.matching.dedupe`
and writes ``id,cluster_id`` for every readable row. Progress goes to
stderr (with rich when it is installed); so do renamed duplicate headers
and the rows left out because they cannot be read (more cells than
headers, a cell too long), with their lines.

May import: services, adapters and everything below them; rich if installed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from crmcore.adapters.tabular import SourceRecord, Table, TableError, read_table
from crmcore.errors import ConfigurationError, CrmError
from crmcore.matching import (
    DEFAULT_THRESHOLD,
    DedupeResult,
    KeyOptions,
    MatchSettings,
    StartMethod,
    build_features_from_rows,
    dedupe,
    recognise_columns,
)

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_parser", "run"]

_EXIT_INPUT = 2
_SHOWN_SKIPPED = 5


class _InputError(Exception):
    """The input file cannot be read as a table of contacts."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dedupe`` on the ``crmcore`` command's subparsers.

    Args:
        subparsers: The object ``add_subparsers()`` returned.
    """
    parser = subparsers.add_parser(
        "dedupe",
        help="find duplicate customers in a CSV, JSON-lines or .xlsx file",
        description=(__doc__ or "").splitlines()[0],
    )
    parser.add_argument(
        "input", type=Path, help="CSV (any delimiter), JSON-lines or .xlsx file with a header row"
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write id,cluster_id")
    parser.add_argument("--id-column", help="the column holding record ids (default: detected)")
    parser.add_argument(
        "--region", help="ISO country for phone numbers without one (e.g. CN)", default=None
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"match probability for a duplicate (default {DEFAULT_THRESHOLD})",
    )
    parser.add_argument("--explain", type=Path, help="also write the matched pairs, explained")
    parser.add_argument(
        "--encoding", help="file encoding (default: detect UTF-8 / UTF-16 / GB18030)"
    )
    parser.add_argument(
        "--delimiter", help="cell delimiter, or tab, comma, semicolon, pipe (default: detected)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


class _Progress:
    """Stage progress on stderr: rich when installed, plain lines otherwise."""

    def __init__(self, stream: TextIO, quiet: bool, console: Console | None) -> None:
        self.stream = stream
        self.quiet = quiet
        self.console = console
        self.last = 0.0
        self.stage = ""
        self.started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        now = time.perf_counter()
        if stage == self.stage and now - self.last < 1.0 and done != total:
            return
        self.stage, self.last = stage, now
        amount = f"{done:,}/{total:,}" if total else f"{done:,}"
        line = f"[{now - self.started:6.1f}s] {stage}: {amount}"
        if self.console is not None:
            self.console.print(line, style="cyan", highlight=False)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()


def _console(stream: TextIO) -> Console | None:
    try:
        from rich.console import Console  # noqa: PLC0415 - optional extra, imported on use
    except ImportError:
        return None
    return Console(file=stream)


def _read(
    path: Path, id_column: str | None, encoding: str | None, delimiter: str | None
) -> tuple[Table, dict[str, list[int]]]:
    """Open a table and recognise its columns (so a bad file fails before any work).

    Raises:
        _InputError: If the file cannot be read or has no recognisable column.
        ConfigurationError: If the encoding or delimiter given is not usable.
        MissingExtraError: If the file is a spreadsheet and the ``xlsx`` extra is missing.
    """
    try:
        table = read_table(path, encoding=encoding, delimiter=delimiter)
    except TableError as exc:
        raise _InputError(_reason(exc)) from None
    header = list(table.headers)
    columns = {
        field: [int(p) for p in places] for field, places in recognise_columns(header).items()
    }
    if id_column is not None:
        if id_column not in header:
            raise _InputError(f"{path} has no column {id_column!r}; columns: {header}")
        columns["id"] = [header.index(id_column)]
    if not set(columns) - {"id", "source", "country"}:
        raise _InputError(
            f"{path}: no recognisable columns (name, email, phone, company …) in {header}"
        )
    return table, columns


def _reason(exc: TableError) -> str:
    if exc.reason == "no such file" or exc.reason.startswith("cannot read"):
        return f"cannot read {exc.path}: {exc.reason.removeprefix('cannot read: ')}"
    return str(exc)


def _rows(
    table: Table, id_place: int, skipped: list[SourceRecord]
) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(id, cells)`` for every readable row; rows with a problem go to ``skipped``.

    Raises:
        _InputError: If an id repeats, or the file can no longer be read.
    """
    seen: set[str] = set()
    try:
        for record in table.records():
            if record.problem is not None:
                skipped.append(record)
                continue
            cells = record.cells
            record_id = cells[id_place].strip() if id_place >= 0 else ""
            record_id = record_id or str(record.number)
            if record_id in seen:
                raise _InputError(f"{table.path}:{record.line}: duplicate id {record_id!r}")
            seen.add(record_id)
            yield record_id, cells
    except TableError as exc:
        raise _InputError(_reason(exc)) from None


def _warn(stream: TextIO, table: Table, skipped: Sequence[SourceRecord]) -> None:
    """Write what was renamed and which rows were left out (with their lines) to ``stream``."""
    for issue in table.issues:
        stream.write(f"crmcore dedupe: warning: {table.path}: {issue}\n")
    if not skipped:
        return
    noun = "row" if len(skipped) == 1 else "rows"
    stream.write(f"crmcore dedupe: warning: {len(skipped):,} {noun} left out (unreadable):\n")
    for record in skipped[:_SHOWN_SKIPPED]:
        stream.write(f"  line {record.line}: {record.problem}\n")
    if len(skipped) > _SHOWN_SKIPPED:
        stream.write(f"  … and {len(skipped) - _SHOWN_SKIPPED:,} more\n")


def run(
    args: argparse.Namespace, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``crmcore dedupe`` with parsed arguments.

    Args:
        args: The parsed arguments.
        stdout: Where the summary goes (default ``sys.stdout``).
        stderr: Where progress and errors go (default ``sys.stderr``).

    Returns:
        The exit code: 0 done, 2 unreadable input or bad options.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    progress = _Progress(err, args.quiet, None if args.quiet else _console(err))
    try:
        settings = MatchSettings(threshold=args.threshold, keys=KeyOptions(region=args.region))
        table, columns = _read(args.input, args.id_column, args.encoding, args.delimiter)
        ids: list[str] = []
        skipped: list[SourceRecord] = []

        def read() -> Iterator[tuple[str, list[str]]]:
            for record_id, row in _rows(table, columns.get("id", [-1])[0], skipped):
                ids.append(record_id)
                yield record_id, row

        # This command runs no other threads: on Linux, workers may fork
        # (instant start). macOS's system libraries are not fork-safe.
        start_method: StartMethod = "fork" if sys.platform.startswith("linux") else "spawn"
        # The table goes straight into dedupe, which drops it once sorted by id.
        result = dedupe(
            build_features_from_rows(
                read(),
                columns,
                settings.keys,
                progress=lambda done: progress("keys", done, 0),
                start_method=start_method,
            ),
            settings,
            progress=progress,
            start_method=start_method,
        )
    except _InputError as exc:
        err.write(f"crmcore dedupe: error: {exc}\n")
        return _EXIT_INPUT
    except (ConfigurationError, CrmError) as exc:
        err.write(f"crmcore dedupe: error: {exc}\n")
        return _EXIT_INPUT
    _warn(err, table, skipped)
    cluster_of = result.cluster_of()
    try:
        with args.out.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["id", "cluster_id"])
            writer.writerows(zip(ids, map(cluster_of.__getitem__, ids), strict=True))
        if args.explain is not None:
            _write_explanations(args.explain, result)
    except OSError as exc:
        err.write(f"crmcore dedupe: error: cannot write output: {exc.strerror or exc}\n")
        return _EXIT_INPUT
    clusters = len(set(result.cluster_ids))
    duplicates = len(ids) - clusters
    summary = (
        f"{len(ids):,} records, {clusters:,} clusters, {duplicates:,} duplicates → {args.out}\n"
    )
    out.write(summary)
    return 0


def _write_explanations(path: Path, result: DedupeResult) -> None:
    names = [p.name for p in result.model.parameters]
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(
            ["left_id", "right_id", "match_probability", "match_weight", "rule"]
            + [f"{n}_level" for n in names]
            + [f"{n}_weight" for n in names]
        )
        for pair in result.pairs():
            writer.writerow(
                [pair.left, pair.right, f"{pair.probability:.6f}", f"{pair.weight:.3f}",
                 pair.rule or ""]
                + [c.label for c in pair.contributions]
                + [f"{c.weight:.3f}" for c in pair.contributions]
            )  # fmt: skip
