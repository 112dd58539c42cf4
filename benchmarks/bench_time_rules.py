"""Benchmark time rules answered by queries against loading every record, in the same run.

For SQLite (a file in a temporary directory) and PostgreSQL (a scratch database
``bench_timerules`` (``--database``) that this script creates on the server of
``CRMCORE_TEST_POSTGRES_URL``, or ``--url``, and drops at the end) it stores N owned
customers, one activity each for 95% of them within the last 60 hours (so 5% are
"not followed up for 3 days"), N/20 leads (half of them idle) and N/20 cases (70%
open, opened over the last ten days, the others closed), written in bulk with
SQLAlchemy Core ``executemany`` (rows cloned from one stored record of each kind,
indexes built after loading), then times:

- the baseline: every customer, opportunity and activity loaded (``iter_all``) into
  a ``RuleSnapshot`` and :func:`~crmcore.lifecycle.rules.due_actions` for
  ``FollowUpOverdue(days=3)``;
- ``uow.time_rules.overdue_follow_ups``: one range of ``ix_customers_touched_at``
  (each customer's last touch, ``customers.touched_at``, which the bulk load writes as
  the repositories would: the customer's activity if it has one, else its creation), no
  document read;

checks that both give the same actions and prints the times and their ratio. Past
``--baseline-count`` customers (default 50,000) loading everything is not run: the
baseline is measured on a store of ``--baseline-count`` customers in the same run
(where the query is timed too) and scaled linearly, and the row says ``est``.

It then times each rule kind through ``uow.time_rules.due`` on the big store, best of
3 in wall-clock seconds and in CPU seconds of this process (the rest is the database,
or waiting for a CPU on a shared machine): follow-ups, idle leads, SLA escalation
(China weekday calendar), surveys after close, and a retention rule (cases closed over
2 days ago).

Run::

    CRMCORE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python benchmarks/bench_time_rules.py --count 1000000 --backend postgresql
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql.tables import activities, cases, customers, leads
from crmcore.domain import (
    ActivityId,
    ActivityKind,
    CaseId,
    CaseKind,
    CaseStatus,
    CustomerId,
    LeadId,
    LeadStatus,
    Organization,
    Severity,
    UserId,
    capture_lead,
    log_activity,
    open_case,
    register_customer,
)
from crmcore.lifecycle.business_calendar import china_mainland
from crmcore.lifecycle.rules import (
    FollowUpOverdue,
    LeadIdle,
    RuleSnapshot,
    SlaEscalation,
    SurveyAfterClose,
    due_actions,
)
from crmcore.privacy.retention import RetentionRule

_BASE = pendulum.datetime(2026, 1, 1)
_AT = pendulum.datetime(2026, 3, 2, 3)  # a Monday, 11:00 in Shanghai
_DATABASE = "bench_timerules"
_ROWS_PER_STATEMENT = 5000
_TABLES = (customers, activities, leads, cases)


def _templates() -> dict[str, dict[str, Any]]:
    """One stored row of each kind, read back from a scratch SQLite store."""
    engine = create_engine("sqlite://")
    create_schema(engine)
    store = SqlStore(engine, match_index=False)
    customer, _ = register_customer(
        id=CustomerId("c"),
        organization=Organization(legal_name="腾达科技"),
        owner=UserId("u-0"),
        at=_BASE,
    )
    call, _ = log_activity(
        id=ActivityId("a"), kind=ActivityKind.CALL, at=_AT, customer_id=CustomerId("c")
    )
    lead, _ = capture_lead(id=LeadId("l"), company="腾达", owner=UserId("u-0"), at=_BASE)
    case, _ = open_case(
        id=CaseId("k"),
        customer_id=CustomerId("c"),
        kind=CaseKind.COMPLAINT,
        subject="投诉",
        owner=UserId("u-0"),
        at=_BASE,
    )
    with store.unit_of_work() as uow:
        uow.customers.save(customer)
        uow.activities.save(call)
        uow.leads.save(lead)
        uow.cases.save(case)
        uow.commit()
    with engine.connect() as conn:
        rows = {
            table.name: dict(conn.execute(sa.select(table)).mappings().one()) for table in _TABLES
        }
    engine.dispose()
    return rows


def _clone(template: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a stored row with top-level fields changed in the columns and the document."""
    row = dict(template)
    document = copy.deepcopy(template["document"])
    for key, value in changes.items():
        row[key] = value
        document[key] = value.isoformat() if isinstance(value, dt.datetime) else value
    row["document"] = document
    return row


def _insert(engine: Engine, table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for row in rows:
            batch.append(row)
            if len(batch) == _ROWS_PER_STATEMENT:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)


def _fill(engine: Engine, count: int) -> float:
    """Store the data set in bulk; return the seconds it took."""
    started = time.perf_counter()
    template = _templates()
    with engine.begin() as conn:
        for table in _TABLES:
            for index in table.indexes:
                index.drop(conn)

    def customer_rows() -> Iterator[dict[str, Any]]:
        for n in range(count):
            row = _clone(
                template["customers"], id=f"c-{n:08d}", owner=f"u-{n % 50}", created_at=_BASE
            )
            # The last touch the repositories would have kept: the activity below, if any.
            row["touched_at"] = _AT.subtract(hours=1 + n % 60) if n % 20 else _BASE
            yield row

    def activity_rows() -> Iterator[dict[str, Any]]:
        for n in range(count):
            if n % 20:
                when = _AT.subtract(hours=1 + n % 60)
                yield _clone(
                    template["activities"],
                    id=f"a-{n:08d}",
                    customer_id=f"c-{n:08d}",
                    occurred_at=when,
                    created_at=when,
                    updated_at=when,
                )

    def lead_rows() -> Iterator[dict[str, Any]]:
        for n in range(count // 20):
            touched = _AT.subtract(days=1 + n % 28)  # half idle for 14 days
            yield _clone(
                template["leads"],
                id=f"l-{n:08d}",
                owner=f"u-{n % 50}",
                status=str(LeadStatus.CONTACTED),
                updated_at=touched,
            )

    severities = list(Severity)

    def case_rows() -> Iterator[dict[str, Any]]:
        for n in range(count // 20):
            opened = _AT.subtract(minutes=7 * (n % 2000) + 1)  # over the last ten days
            closed = n % 10 >= 7
            yield _clone(
                template["cases"],
                id=f"k-{n:08d}",
                customer_id=f"c-{n:08d}",
                severity=str(severities[n % len(severities)]),
                status=str(CaseStatus.CLOSED if closed else CaseStatus.IN_PROGRESS),
                opened_at=opened,
                created_at=opened,
                updated_at=opened,
                first_response_at=opened.add(hours=2) if closed else None,
                resolved_at=opened.add(hours=3) if closed else None,
                closed_at=opened.add(hours=3) if closed else None,
            )

    _insert(engine, customers, customer_rows())
    _insert(engine, activities, activity_rows())
    _insert(engine, leads, lead_rows())
    _insert(engine, cases, case_rows())
    with engine.begin() as conn:
        for table in _TABLES:
            for index in table.indexes:
                index.create(conn)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def _sqlite(count: int) -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / f'bench-{count}.db'}")
        create_schema(engine)
        yield engine
        engine.dispose()


def _postgresql(url: str, keep: bool, database: str) -> Iterator[Engine]:
    server = sa.make_url(url)
    admin = create_engine(server).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database}")
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    engine = create_engine(server.set(database=database))
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database}")
        admin.dispose()


def _engines(
    backend: str, url: str, count: int, database: str, keep: bool = False
) -> Iterator[Engine]:
    if backend == "sqlite":
        yield from _sqlite(count)
    else:
        yield from _postgresql(url, keep, database)


def _load_all(store: SqlStore, rule: FollowUpOverdue) -> tuple[float, int, tuple[Any, ...]]:
    started = time.perf_counter()
    with store.unit_of_work() as uow:
        snapshot = RuleSnapshot(
            customers=list(uow.customers.iter_all()),
            opportunities=list(uow.opportunities.iter_all()),
            activities=list(uow.activities.iter_all()),
        )
    found = due_actions(snapshot, at=_AT, rules=[rule])
    return time.perf_counter() - started, len(found), found


def _timed(store: SqlStore, rules: list[Any]) -> tuple[float, int, tuple[Any, ...]]:
    started = time.perf_counter()
    with store.unit_of_work() as uow:
        found = uow.time_rules.due(rules, at=_AT)
    return time.perf_counter() - started, len(found), found


def _split(store: SqlStore, rule: FollowUpOverdue, runs: int = 3) -> None:
    """Print where the follow-up call's time goes: the query alone, the whole call, its CPU.

    Best of ``runs`` each (the machine may be shared): the query of the due customers
    with its rows read back (what the SQL store runs), then the whole call, in wall-clock
    seconds and in CPU seconds of this process (reading rows, building the actions).
    """
    c = customers.c
    cutoff = _AT.subtract(days=rule.days)
    statement = sa.select(c.id, c.owner, c.touched_at).where(
        c.touched_at <= cutoff, c.owner.is_not(None), c.merged_into.is_(None)
    )
    alone, whole, cpu = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        with store.engine.connect() as conn:
            conn.execute(statement).all()
        alone.append(time.perf_counter() - started)
        started, ticks = time.perf_counter(), time.process_time()
        _timed(store, [rule])
        whole.append(time.perf_counter() - started)
        cpu.append(time.process_time() - ticks)
    print(
        f"  follow-up, best of {runs}: query alone {min(alone):.3f} s, whole call "
        f"{min(whole):.3f} s ({min(cpu):.3f} s CPU in this process)"
    )


def _measure(  # noqa: PLR0917 - the command line's settings, passed through
    backend: str, url: str, count: int, baseline_count: int, keep: bool, database: str
) -> None:
    rule = FollowUpOverdue(days=3, opportunities=False)
    loaded: float | None = None
    note = ""
    if count > baseline_count:
        for engine in _engines(backend, url, baseline_count, f"{database}_small"):
            _fill(engine, baseline_count)
            store = SqlStore(engine, match_index=False)
            small, _due, expected = _load_all(store, rule)
            small_query, _n, found = _timed(store, [rule])
            if found != expected:
                raise SystemExit(f"{backend}: the query and due_actions disagree")
            print(
                f"{backend:<12}{baseline_count:>10}{small:>14.3f}{small_query:>10.3f}"
                f"{small / small_query:>8.1f}{len(found):>8}"
            )
            loaded = small * count / baseline_count
            note = "est"
    for engine in _engines(backend, url, count, database, keep):
        filled = _fill(engine, count)
        store = SqlStore(engine, match_index=False)
        if loaded is None:
            loaded, _due, expected = _load_all(store, rule)
            queried, due, found = _timed(store, [rule])
            if found != expected:
                raise SystemExit(f"{backend}: the query and due_actions disagree")
        else:
            queried, due, _found = _timed(store, [rule])
        shown = f"{note} {loaded:.3f}" if note else f"{loaded:.3f}"
        ratio = loaded / queried
        print(f"{backend:<12}{count:>10}{shown:>14}{queried:>10.3f}{ratio:>8.1f}{due:>8}")
        print(f"  (bulk load of the data set: {filled:.1f} s)")
        _split(store, rule)
        calendar = china_mainland()
        per_rule: list[tuple[str, list[Any]]] = [
            ("follow-up 3 days (again)", [rule]),
            ("lead idle 14 days", [LeadIdle(days=14)]),
            ("SLA escalation (cn calendar)", [SlaEscalation(calendar=calendar)]),
            ("survey after close", [SurveyAfterClose()]),
            (
                "retention: cases closed > 2 d",
                [
                    RetentionRule(
                        record_type="case",
                        time_field="closed_at",
                        period=dt.timedelta(days=2),
                        action="archive",
                    )
                ],
            ),
        ]
        print(f"  {'rule, best of 3':<32}{'wall':>11}{'CPU':>11}{'due':>9}")
        for name, rules in per_rule:
            walls, cpus = [], []
            for _ in range(3):
                ticks = time.process_time()
                seconds, n, _ = _timed(store, rules)
                walls.append(seconds)
                cpus.append(time.process_time() - ticks)
            print(f"  {name:<32}{min(walls):>9.3f} s{min(cpus):>9.3f} s{n:>9}")


def main() -> None:
    """Print one row per backend and store size, then the per-rule times."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument(
        "--baseline-count",
        type=int,
        default=50_000,
        help="above this many customers the load-all baseline is measured at this size "
        "and scaled linearly",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the PostgreSQL database for inspection"
    )
    parser.add_argument("--url", default=os.environ.get("CRMCORE_TEST_POSTGRES_URL", ""))
    parser.add_argument(
        "--database",
        default=_DATABASE,
        help="the scratch PostgreSQL database (created, and dropped unless --keep; "
        "the baseline's is this name + _small)",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    if "postgresql" in backends and not args.url.strip():
        if args.backend == "postgresql":
            raise SystemExit("set CRMCORE_TEST_POSTGRES_URL or pass --url")
        backends.remove("postgresql")
    print(
        f"{'backend':<12}{'customers':>10}{'load all s':>14}{'query s':>10}{'ratio':>8}{'due':>8}"
    )
    for backend in backends:
        _measure(
            backend,
            args.url.strip(),
            args.count,
            args.baseline_count,
            args.keep,
            args.database,
        )


if __name__ == "__main__":
    main()
