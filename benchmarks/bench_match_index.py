"""Benchmark the persistent SQL match index against the in-memory MatchIndex, in the same run.

For SQLite (a file in a temporary directory) and PostgreSQL (a temporary
schema, when ``CRMCORE_TEST_POSTGRES_URL`` is set) it:

1. stores N realistic customers without the index (``save_many`` in batches
   of 1,000), then times :func:`backfill_match_index` over them (the rate);
2. builds a :class:`~crmcore.matching.MatchIndex` of the same customers (the
   baseline) and times ``candidates()`` for Q queries (near-duplicates of
   stored customers: the name transliterated or the phone alone) on both,
   reporting p50 / p99 and checking that both give identical answers;
3. registers R new customers one unit of work each, with the index rows and
   without (a store with ``match_index=False``), and reports the ratio.

Run::

    CRMCORE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python benchmarks/bench_match_index.py --count 100000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pendulum
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import (
    MatchIndexSettings,
    SqlStore,
    backfill_match_index,
    create_engine,
    create_schema,
)
from crmcore.domain import (
    Customer,
    CustomerId,
    EmailAddress,
    Person,
    PersonName,
    PhoneNumber,
    register_customer,
)
from crmcore.matching import MatchIndex, MatchRecord
from crmcore.matching.key import transliterate

FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华"
AT = pendulum.datetime(2026, 1, 1)
BATCH = 1_000


def people(start: int, count: int, seed: int = 7) -> Iterator[Customer]:
    """Yield customers ``start`` .. ``start + count - 1``, deterministically."""
    rng = random.Random(seed + start)
    for n in range(start, start + count):
        name = rng.choice(FAMILY) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
        customer, _ = register_customer(
            id=CustomerId(f"c-{n:08d}"),
            person=Person(name=PersonName.parse(name)),
            emails=[EmailAddress(f"user{n}@example{n % 97}.cn")],
            phones=[PhoneNumber.parse(f"+86138{n:08d}")],
            at=AT.add(seconds=n),
        )
        yield customer


def queries(stored: list[Customer], count: int, seed: int = 11) -> list[MatchRecord]:
    """Near-duplicates of stored customers: the name in pinyin with the phone, or the email."""
    rng = random.Random(seed)
    out = []
    for k in range(count):
        record = MatchRecord.from_customer(rng.choice(stored))
        name = transliterate(f"{record.family_name}{record.given_name}", family_first=True)
        if k % 2:
            out.append(MatchRecord(id=f"q{k}", full_name=name, phones=record.phones))
        else:
            out.append(MatchRecord(id=f"q{k}", full_name=name, emails=record.emails))
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run(label: str, engine: Engine, count: int, probes: int, registrations: int) -> None:
    create_schema(engine)
    plain = SqlStore(engine, match_index=False)
    stored: list[Customer] = []
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        batch = list(people(first, min(BATCH, count - first)))
        with plain.unit_of_work() as uow:
            stored.extend(uow.customers.save_many(batch))
            uow.commit()
    load = time.perf_counter() - started

    started = time.perf_counter()
    written = backfill_match_index(engine, batch=2000)
    backfill = time.perf_counter() - started
    if written != count:
        raise SystemExit(f"the backfill indexed {written} customers of {count}")

    settings = MatchIndexSettings()
    memory = settings.reference()
    started = time.perf_counter()
    memory.add_many(MatchRecord.from_customer(c) for c in stored)
    build = time.perf_counter() - started

    store = SqlStore(engine)
    s50, s99, m50, m99, differ = time_candidates(store, memory, queries(stored, probes))
    without = register(plain, 50_000_000, registrations)
    with_index = register(store, 60_000_000, registrations)
    report(
        label,
        count,
        load=load,
        timings=(s50, s99, m50, m99, differ),
        builds=(backfill, build),
        registrations=(with_index, without),
    )


def time_candidates(
    store: SqlStore, memory: MatchIndex, asked: list[MatchRecord]
) -> tuple[float, float, float, float, int]:
    """Time candidates() on both indexes; return SQL p50, p99, memory p50, p99, differences."""
    memory_times, sql_times, differ = [], [], 0
    with store.unit_of_work() as uow:
        index = uow.match_index
        if index is None:
            raise SystemExit("the store keeps no match index")
        for query in asked[:50]:  # warm up caches and the connection
            index.candidates(query)
            memory.candidates(query)
        for query in asked:
            t0 = time.perf_counter()
            expected = memory.candidates(query)
            t1 = time.perf_counter()
            found = index.candidates(query)
            t2 = time.perf_counter()
            memory_times.append((t1 - t0) * 1000)
            sql_times.append((t2 - t1) * 1000)
            differ += found != expected
    m50, m99 = percentiles(memory_times)
    s50, s99 = percentiles(sql_times)
    return s50, s99, m50, m99, differ


def register(store: SqlStore, start: int, registrations: int) -> float:
    """Save ``registrations`` new customers, one unit of work each; return ms per customer."""
    fresh = list(people(start, registrations, seed=99))
    t0 = time.perf_counter()
    for customer in fresh:
        with store.unit_of_work() as uow:
            uow.customers.save(customer)
            uow.commit()
    return (time.perf_counter() - t0) / registrations * 1000


def report(
    label: str,
    count: int,
    *,
    load: float,
    timings: tuple[float, float, float, float, int],
    builds: tuple[float, float],
    registrations: tuple[float, float],
) -> None:
    s50, s99, m50, m99, differ = timings
    backfill, build = builds
    with_index, without = registrations
    print(f"\n{label}: {count:,} customers (stored without the index in {load:.1f} s)")
    print(f"{'measure':<44}{'SQL index':>14}{'in memory':>14}{'ratio':>9}")
    print(f"{'candidates() p50 (ms)':<44}{s50:>14.2f}{m50:>14.2f}{s50 / m50:>9.2f}")
    print(f"{'candidates() p99 (ms)':<44}{s99:>14.2f}{m99:>14.2f}{s99 / m99:>9.2f}")
    print(f"{'queries whose answers differ':<44}{differ:>14}{'':>14}")
    print(
        f"{'index build (customers/s)':<44}{count / backfill:>14,.0f}"
        f"{count / build:>14,.0f}{(count / backfill) / (count / build):>9.2f}"
    )
    print(f"{'backfill of all customers (s)':<44}{backfill:>14.1f}")
    print(
        f"{'register one customer per unit of work (ms)':<44}{with_index:>14.2f}"
        f"{without:>14.2f}{with_index / without:>9.2f}  (right: without index rows)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="stored customers")
    parser.add_argument("--queries", type=int, default=2_000, help="candidates() calls timed")
    parser.add_argument("--registrations", type=int, default=500, help="single registrations")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as directory:
            engine = create_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
            run("SQLite", engine, args.count, args.queries, args.registrations)
            engine.dispose()
    url = os.environ.get("CRMCORE_TEST_POSTGRES_URL", "").strip()
    if url:
        schema = f"bench_match_{uuid.uuid4().hex[:10]}"
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
        try:
            run("PostgreSQL", engine, args.count, args.queries, args.registrations)
        finally:
            engine.dispose()
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()


if __name__ == "__main__":
    main()
