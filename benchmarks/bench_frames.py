"""Benchmark loading the customers frame from SQLite against baselines in the same run.

For N customers (1,000,000 by default) in an SQLite file it measures:

- ``read_frame(engine, "customers")`` — crmcore's loader: one query, typed in
  polars, plus the tags query and the contact points decoded from JSON;
- ``polars.read_database`` of the very same SQL text (the main query), with
  no typing afterwards: the least a polars load of these columns costs; and of
  the table's own columns only (no JSON paths), to show what those cost;
- ``to_frame(list(iter_all()))`` — building every ``Customer`` from its
  document and flattening it again (the only way before ``read_frame``);
  measured on at most ``--records`` customers (all by default) and scaled.

It checks that ``read_frame`` equals ``to_frame`` on the first 1,000 customers,
then prints the seconds and the ratio of each to ``polars.read_database``
(1.00 = as fast; 2.00 = twice as long).

Run::

    python benchmarks/bench_frames.py --customers 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal
from sqlalchemy.engine import Engine

from bench_storage import customers, raw_bulk
from crmcore.adapters.frames import to_frame
from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql import tables as t
from crmcore.adapters.sql.frames import frame_query, read_frame

SEED = 20_000
_RENAMED = ("id", "document")
PLAIN = (
    "SELECT id, kind, display_name, tier, priority, lifecycle_stage, source, owner, team, "
    "country, merged_into, created_at, updated_at, custom FROM customers"
)
"""The table's own columns only: what a load costs without the few values read from JSON."""


def timed(work: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="how many customers")
    parser.add_argument(
        "--records",
        type=int,
        default=50_000,
        help="build at most this many Customer objects for the to_frame line (scaled to N)",
    )
    args = parser.parse_args()
    count: int = args.customers
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'frames.db'}")
        create_schema(engine)
        load, _ = timed(lambda: _fill(engine, count))
        print(f"{count:,} customers written to an SQLite file in {load:.1f} s")

        statement, _ = frame_query("sqlite", "customers")
        sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            baseline, raw = timed(lambda: pl.read_database(sql, conn, infer_schema_length=None))
            plain, _ = timed(lambda: pl.read_database(PLAIN, conn, infer_schema_length=None))
        ours, frame = timed(lambda: read_frame(engine, "customers"))
        if not (isinstance(frame, pl.DataFrame) and isinstance(raw, pl.DataFrame)):
            raise TypeError(frame)
        if not frame.height == raw.height == count:
            raise ValueError((frame.height, raw.height, count))

        limit = min(count, args.records or count)
        building, built = timed(lambda: _to_frame(engine, limit))
        if not isinstance(built, pl.DataFrame):
            raise TypeError(built)
        assert_frame_equal(frame.head(1000), built.head(1000))
        building_scaled = building * count / limit
        engine.dispose()

    rows = [
        ("polars.read_database (same query)", baseline),
        ("polars.read_database (columns, no JSON)", plain),
        ('read_frame(engine, "customers")', ours),
        (f"to_frame(list(iter_all())){' (scaled)' if limit < count else ''}", building_scaled),
    ]
    print(f"\n| {'load the customers frame':<38} | {'seconds':>8} | {'rows/s':>10} | ratio |")
    print(f"|{'-' * 40}|{'-' * 10}|{'-' * 12}|-------|")
    for name, seconds in rows:
        ratio = seconds / baseline
        print(f"| {name:<38} | {seconds:8.2f} | {count / seconds:10,.0f} | {ratio:5.2f} |")


def _fill(engine: Engine, count: int) -> None:
    """Store ``SEED`` real customers, then copies of them under new ids (fast, in SQL)."""
    raw_bulk(engine, list(customers(min(count, SEED))))
    copies = (count - 1) // SEED
    with engine.begin() as conn:  # the SQL text holds only column names and integers
        for k in range(1, copies + 1):
            limit = min(SEED, count - k * SEED)
            columns = ", ".join(c.name for c in t.customers.columns if c.name not in _RENAMED)
            conn.exec_driver_sql(
                f"INSERT INTO customers (id, document, {columns}) "  # noqa: S608 - names, ints
                f"SELECT id || '-{k}', json_set(document, '$.id', id || '-{k}'), {columns} "
                f"FROM customers WHERE id NOT LIKE '%-%-%' ORDER BY id LIMIT {limit}"
            )
            conn.exec_driver_sql(
                f"INSERT INTO customer_tags (customer_id, tag) "  # noqa: S608 - ints only
                f"SELECT customer_id || '-{k}', tag FROM customer_tags "
                f"WHERE customer_id IN (SELECT id FROM customers WHERE id NOT LIKE '%-%-%' "
                f"ORDER BY id LIMIT {limit})"
            )


def _to_frame(engine: Engine, limit: int) -> pl.DataFrame:
    with SqlStore(engine).unit_of_work() as uow:
        records = []
        for customer in uow.customers.iter_all(page_size=10_000):
            records.append(customer)
            if len(records) == limit:
                break
    return to_frame(records, documents=False)


if __name__ == "__main__":
    main()
