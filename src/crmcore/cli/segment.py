"""``crmcore segment``: select the customers a segment rule (JSON) matches, inside the database.

The rule is the JSON form of a :data:`crmcore.segments.Rule` (see
docs/segments.md), read through :mod:`crmcore.serialization`: a rule that
does not parse exits with code 2 and every problem with its ``$.path``. It
runs as one SQL query (:func:`crmcore.adapters.sql.segments.select_customer_ids`)
at ``--at`` (default: now) with calendar days counted in ``--tz``, over the
customers that existed then (created at or before ``--at``). Merged
customers are left out unless ``--include-merged``.

May import: services, adapters and everything below them.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, cast

import pendulum

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql.segments import select_customer_ids
from crmcore.cli.console import Console
from crmcore.cli.export import CSV_COLUMNS, csv_row
from crmcore.cli.io import (
    InputError,
    add_key_db_argument,
    database_url,
    open_encryptor,
    require_database_file,
)
from crmcore.clock import SystemClock, parse_timestamp, utc
from crmcore.domain import CustomerId
from crmcore.errors import InvalidValueError, PayloadError
from crmcore.segments import Rule, field
from crmcore.serialization import loads

__all__ = ["add_parser", "existed_at", "load_rule", "parse_at", "run"]


def add_parser(commands: Any) -> None:
    """Register ``segment`` on the command's sub-parsers."""
    parser = commands.add_parser(
        "segment",
        help="list the customers a segment rule (JSON) selects",
        description=(__doc__ or "").splitlines()[0],
    )
    parser.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    add_key_db_argument(parser)
    parser.add_argument("--rule", required=True, type=Path, help="the rule, as a JSON file")
    parser.add_argument(
        "--at",
        help="evaluation instant, ISO 8601 with an offset (or without one when --tz is given);"
        " default: now",
    )
    parser.add_argument(
        "--tz", help="IANA time zone days and periods are counted in (default: UTC)"
    )
    parser.add_argument(
        "--format",
        choices=["ids", "csv"],
        default="ids",
        help="ids: one customer id per line (default); csv: the columns of crmcore export",
    )
    parser.add_argument("--out", type=Path, help="output file (default: standard output)")
    parser.add_argument(
        "--include-merged", action="store_true", help="also select customers merged into others"
    )
    parser.set_defaults(run=run)


def load_rule(path: Path) -> Rule:
    """Read a segment rule from a JSON file.

    Raises:
        InputError: If the file cannot be read.
        PayloadError: If it is not JSON or not a valid rule (every problem, with its path).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"cannot read rule file {path}: {reason}") from exc
    try:
        return cast(Rule, loads(text, Rule))  # type: ignore[arg-type]  # a Union alias
    except PayloadError as exc:
        raise PayloadError(f"segment rule {path}", exc.problems) from exc


def parse_at(raw: str | None, tz: str | None) -> pendulum.DateTime:
    """Return the evaluation instant: ``raw`` (ISO 8601), or now.

    A timestamp without an offset (or a bare date) is read in ``tz`` when
    one is given, and rejected otherwise — never silently taken as UTC.

    Raises:
        InvalidValueError: If ``raw`` is not ISO 8601, or has no offset and no ``tz``.
    """
    if raw is None:
        return SystemClock().now()
    try:
        return parse_timestamp(raw)
    except InvalidValueError:
        if tz is None:
            raise
    try:
        parsed = pendulum.parse(raw, tz=tz, strict=True)
    except ValueError as exc:  # pendulum's ParserError
        raise InvalidValueError("timestamp", raw, "not an ISO 8601 date or timestamp") from exc
    if not isinstance(parsed, pendulum.DateTime):
        raise InvalidValueError("timestamp", raw, "not an ISO 8601 date or timestamp")
    return utc(parsed)


def existed_at(rule: Rule, at: pendulum.DateTime) -> Rule:
    """Return ``rule`` restricted to the customers that existed at ``at`` (created at or before).

    A plain rule clause, so every backend (in memory, SQL, polars) selects
    the same customers; a segment evaluated in the past does not list
    customers created since.

    >>> existed_at(field("owner") == "u-li", utc(pendulum.datetime(2026, 3, 1))).rules[0]
    Compare(field='created_at', op=<Op.LE: 'le'>, value='2026-03-01T00:00:00+00:00')

    Args:
        rule: The segment rule.
        at: The evaluation instant (aware).

    Returns:
        ``created_at <= at`` and ``rule``.

    Raises:
        InvalidValueError: If ``at`` is not an aware timestamp.
    """
    return (field("created_at") <= at) & rule


@contextmanager
def _output(path: Path | None, default: TextIO) -> Iterator[TextIO]:
    if path is None:
        yield default
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        yield handle


def _zone(tz: str | None) -> str:
    if tz is None:
        return "UTC"
    try:
        pendulum.timezone(tz)
    except ValueError as exc:  # pendulum's InvalidTimezone
        raise InvalidValueError("tz", tz, "not an IANA time zone (e.g. Asia/Shanghai)") from exc
    return tz


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore segment``; return the exit code.

    Raises:
        InputError: If the rule file cannot be read.
        PayloadError: If the rule is not valid.
        InvalidValueError: If ``--at`` or ``--tz`` is not valid.
        StorageError: If the database cannot be read.
    """
    rule = load_rule(args.rule)
    tz = _zone(args.tz)
    at = parse_at(args.at, args.tz)
    rule = existed_at(rule, at)
    if not args.include_merged:
        rule = field("merged_into").is_empty() & rule
    url = database_url(args.db)
    require_database_file(url)
    engine = create_engine(url)
    try:
        create_schema(engine)
        with engine.connect() as connection:
            ids = select_customer_ids(connection, rule, at=at, tz=tz)
        with _output(args.out, console.out) as stream:
            if args.format == "ids":
                stream.writelines(f"{i}\n" for i in ids)
            else:
                with open_encryptor(args.key_db, db=args.db, create=False) as encryptor:
                    _write_csv(SqlStore(engine, encryptor=encryptor), ids, stream)
    finally:
        engine.dispose()
    if args.out is not None:
        console.print(f"{len(ids)} customers selected; written to {args.out}")
    return 0


def _write_csv(store: SqlStore, ids: list[CustomerId], stream: TextIO) -> None:
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    with store.unit_of_work() as uow:
        for customer_id in ids:
            writer.writerow(csv_row(uow.customers.get(customer_id)))
