"""Benchmark FollowUpOverdue answered by queries against loading every record, in the same run.

For SQLite (a file in a temporary directory) and PostgreSQL (a temporary schema,
when ``CRMCORE_TEST_POSTGRES_URL`` is set) it stores N owned customers, one
activity each for 95% of them within the last three days (so 5% are overdue),
then times:

- the baseline: every customer, opportunity and activity loaded (``iter_all``)
  into a ``RuleSnapshot`` and :func:`~crmcore.lifecycle.rules.due_actions`;
- ``uow.time_rules.overdue_follow_ups``: queries over indexed columns, loading
  only the overdue customers;

checks that both give the same actions, and prints the times and the ratio.

Run::

    CRMCORE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python benchmarks/bench_time_rules.py --count 20000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pendulum
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.domain import (
    ActivityId,
    ActivityKind,
    CustomerId,
    Organization,
    UserId,
    log_activity,
    register_customer,
)
from crmcore.lifecycle.rules import FollowUpOverdue, RuleSnapshot, due_actions

_BASE = pendulum.datetime(2026, 1, 1)
_AT = pendulum.datetime(2026, 3, 1)


def _engines() -> Iterator[tuple[str, Engine]]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        create_schema(engine)
        yield "sqlite", engine
        engine.dispose()
    url = os.environ.get("CRMCORE_TEST_POSTGRES_URL", "").strip()
    if url:
        admin = create_engine(url)
        schema = f"bench_rules_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        engine = admin.execution_options(schema_translate_map={None: schema})
        try:
            create_schema(engine)
            yield "postgresql", engine
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()


def _fill(store: SqlStore, count: int) -> None:
    for start in range(0, count, 1000):
        customers, activities = [], []
        for n in range(start, min(start + 1000, count)):
            customers.append(
                register_customer(
                    id=CustomerId(f"c-{n:08d}"),
                    organization=Organization(legal_name=f"公司{n}"),
                    owner=UserId(f"u-{n % 50}"),
                    at=_BASE,
                )[0]
            )
            if n % 20:
                activities.append(
                    log_activity(
                        id=ActivityId(f"a-{n:08d}"),
                        kind=ActivityKind.CALL,
                        at=_AT.subtract(hours=1 + n % 60),
                        customer_id=CustomerId(f"c-{n:08d}"),
                    )[0]
                )
        with store.unit_of_work() as uow:
            uow.customers.save_many(customers)
            uow.activities.save_many(activities)
            uow.commit()


def main() -> None:
    """Print one row per backend: baseline seconds, query seconds, ratio, actions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    rule = FollowUpOverdue(days=3, opportunities=False)
    print(
        f"{'backend':<12}{'customers':>10}{'load all s':>12}{'query s':>10}{'ratio':>8}{'due':>7}"
    )
    for name, engine in _engines():
        store = SqlStore(engine, match_index=False)
        _fill(store, args.count)
        started = time.perf_counter()
        with store.unit_of_work() as uow:
            snapshot = RuleSnapshot(
                customers=list(uow.customers.iter_all()),
                opportunities=list(uow.opportunities.iter_all()),
                activities=list(uow.activities.iter_all()),
            )
        baseline = due_actions(snapshot, at=_AT, rules=[rule])
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        with store.unit_of_work() as uow:
            found = uow.time_rules.overdue_follow_ups(rule, at=_AT)
        queried = time.perf_counter() - started
        if found != baseline:
            raise SystemExit(f"{name}: the query and due_actions disagree")
        print(
            f"{name:<12}{args.count:>10}{loaded:>12.3f}{queried:>10.3f}"
            f"{loaded / queried:>8.1f}{len(found):>7}"
        )


if __name__ == "__main__":
    main()
