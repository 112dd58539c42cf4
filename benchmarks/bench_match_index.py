"""Benchmark the persistent SQL match index against the in-memory MatchIndex, in the same run.

For each ``--backend`` (``sqlite``: a file; ``postgresql`` / ``mysql``: a
schema or database of the server named by ``--postgres-url`` /
``--mysql-url``, default ``CRMCORE_TEST_POSTGRES_URL`` / ``CRMCORE_TEST_MYSQL_URL``
with the database ``bench_matchindex``) it:

1. stores N realistic customers without the index (``save_many`` in batches
   of 1,000) — skipped with ``--keep`` when a previous run left them there —
   then empties the index tables and times :func:`backfill_match_index`
   over every customer (the rate; the target is 1M in 2 minutes); with
   ``--bulk`` (PostgreSQL) it empties them again and times a bulk backfill
   (``bulk=True``: one locked transaction), printing page-by-page ÷ bulk;
2. builds a :class:`~crmcore.matching.MatchIndex` of the same customers (the
   baseline, read back from the stored documents) and times
   ``candidates()`` for Q queries (near-duplicates of stored customers: the
   name transliterated with the phone or the email) on both, reporting p50 /
   p99 and checking that both give identical answers (after building the
   in-memory index the bench freezes the garbage collector's view of it,
   ``gc.freeze()``: its passes over a million records would otherwise land
   in whichever query allocates next, on both sides). The queries are timed
   in blocks of ``BLOCK``, each index in turn, so both meet the same load.
   On PostgreSQL the index's tables are first read into the page cache
   (``pg_prewarm``, see :func:`warm`): reading every customer back for the
   in-memory reference evicts them, where a serving host keeps them hot;
3. registers R new customers one unit of work each, with the index rows and
   without (a store with ``match_index=False``), alternating in rounds so
   both see the same load, and reports the ratio (target ≤ 1.5×). The
   registered customers are deleted again afterwards.

Run (the 1M figures in ``docs/match-index.md``)::

    CRMCORE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python benchmarks/bench_match_index.py --count 1000000 --backend postgresql --keep --bulk
    # again, on the index that run left (no backfill): candidates() and registration only
    python benchmarks/bench_match_index.py --count 1000000 --backend postgresql --keep --reuse-index
    python benchmarks/bench_match_index.py --count 1000000 --backend sqlite \\
        --sqlite-file /tmp/bench_match_1m.db --keep
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pendulum
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import (
    MatchIndexSettings,
    SqlStore,
    backfill_match_index,
    create_engine,
    create_schema,
)
from crmcore.adapters.sql.match_index import record_of_document
from crmcore.adapters.sql.tables import (
    customer_emails,
    customer_external_ids,
    customer_phones,
    customer_tags,
    customers,
    match_counts,
    match_keys,
    match_records,
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
BLOCK = 100  # queries timed on one index before the other takes its turn
DATABASE = "bench_matchindex"


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


def queries(stored: list[MatchRecord], count: int, seed: int = 11) -> list[MatchRecord]:
    """Near-duplicates of stored customers: the name in pinyin with the phone, or the email."""
    rng = random.Random(seed)
    out = []
    for k in range(count):
        record = rng.choice(stored)
        name = transliterate(f"{record.family_name}{record.given_name}", family_first=True)
        if k % 2:
            out.append(MatchRecord(id=f"q{k}", full_name=name, phones=record.phones))
        else:
            out.append(MatchRecord(id=f"q{k}", full_name=name, emails=record.emails))
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def load(engine: Engine, count: int, keep: bool) -> float:
    """Store ``count`` customers without index rows (unless a kept run did); return seconds."""
    create_schema(engine)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar_one()
    if keep and stored == count:
        return 0.0
    wipe(engine)
    plain = SqlStore(engine, match_index=False)
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        batch = list(people(first, min(BATCH, count - first)))
        with plain.unit_of_work() as uow:
            uow.customers.save_many(batch)
            uow.commit()
        if first and first % 100_000 == 0:
            print(f"  stored {first:,} customers", flush=True)
    return time.perf_counter() - started


CHILDREN = (customer_emails, customer_phones, customer_tags, customer_external_ids)


def wipe(engine: Engine, ids: list[str] | None = None) -> None:
    """Delete the index rows and the customers (``ids``: only these customers)."""
    with engine.begin() as conn:
        if ids is None:
            for table in (match_keys, match_records, match_counts):
                conn.execute(table.delete())
        for start in range(0, len(ids) if ids is not None else 1, 1_000):
            for table in (*CHILDREN, customers):
                column = table.c.id if table is customers else table.c.customer_id
                where = [] if ids is None else [column.in_(ids[start : start + 1_000])]
                conn.execute(table.delete().where(*where))


def stored_records(engine: Engine) -> list[MatchRecord]:
    """The match records of every stored customer, read back as the backfill reads them."""
    out: list[MatchRecord] = []
    c = customers.c
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=5_000).execute(
            sa.select(c.document).order_by(c.id)
        )
        out.extend(record_of_document(row[0]) for row in result)
    return out


def run(label: str, engine: Engine, args: argparse.Namespace) -> None:
    count = args.count
    load_time = load(engine, count, args.keep)
    if args.load_only:
        print(f"{label}: {count:,} customers stored in {load_time:.1f} s")
        return
    backfill: float | None = None
    bulk = None
    if args.reuse_index and indexed(engine) == count:
        print(f"{label}: the index of {count:,} customers is kept from an earlier run")
    else:
        backfill = time_backfill(engine, count, args.workers, bulk=False)
        if args.bulk and engine.dialect.name == "postgresql":
            bulk = time_backfill(engine, count, args.workers, bulk=True)

    records = stored_records(engine)
    settings = MatchIndexSettings()
    memory = settings.reference()
    started = time.perf_counter()
    memory.add_many(records)
    build = time.perf_counter() - started
    # A host using the SQL index holds no million in-memory records: keep the collector's
    # passes over them (which land in whichever query allocates next) out of both timings.

    store = SqlStore(engine)
    asked = queries(records, args.queries)
    del records
    gc.collect()
    gc.freeze()
    warm(engine)
    s50, s99, m50, m99, differ = time_candidates(store, memory, asked)
    gc.unfreeze()
    del memory
    gc.collect()
    plain = SqlStore(engine, match_index=False)
    with_index, without = register(store, plain, args.registrations)
    report(
        label,
        count,
        load=load_time,
        timings=(s50, s99, m50, m99, differ),
        builds=(backfill, build),
        registrations=(with_index, without),
    )
    if bulk is not None and backfill is not None:
        print(
            f"{'bulk backfill, one locked transaction (s)':<44}{bulk:>14.1f}"
            f"{'':>14}{backfill / bulk:>9.2f}  (ratio: page by page / bulk)"
        )


INDEX_RELATIONS = (
    "match_records",
    "match_records_pkey",
    "ix_match_records_customer_id",
    "match_keys_pkey",
    "match_counts",
    "match_counts_pkey",
)


def warm(engine: Engine) -> None:
    """PostgreSQL: read the index's tables and b-trees once, as a serving host has them cached.

    Reading every stored customer back for the in-memory reference (2 GB at a
    million) pushes the index out of the operating system's page cache just
    before the timing; a host answering ``candidates()`` keeps those pages hot.
    Uses the ``pg_prewarm`` extension (PostgreSQL's contrib, created here if
    the role may); without it the index is timed as the read left it.
    """
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            pages = conn.exec_driver_sql(
                "SELECT sum(pg_prewarm(r, 'read')) FROM unnest(%s::regclass[]) AS r",
                (list(INDEX_RELATIONS),),
            ).scalar_one()
        print(f"  read the index into the page cache first (pg_prewarm: {pages:,} pages)")
    except sa.exc.DBAPIError as error:
        print(f"  the index is not read ahead (no pg_prewarm: {error.orig})")


def indexed(engine: Engine) -> int:
    """How many customers the match index holds (its records)."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(match_records)).scalar_one())


def empty_index(engine: Engine) -> None:
    """Empty the index tables: TRUNCATE where there is one, so no dead rows slow the next run."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for table in (match_keys, match_records, match_counts):
                conn.execute(table.delete())
        else:
            for table in (match_keys, match_records, match_counts):
                conn.exec_driver_sql(
                    f"TRUNCATE TABLE {conn.dialect.identifier_preparer.quote(table.name)}"
                )


def time_backfill(engine: Engine, count: int, workers: int | None, *, bulk: bool) -> float:
    """Empty the index, then time one backfill of every customer; return seconds."""
    empty_index(engine)
    started = time.perf_counter()
    written = backfill_match_index(engine, workers=workers, bulk=bulk)
    seconds = time.perf_counter() - started
    if written != count:
        raise SystemExit(f"the backfill indexed {written} customers of {count}")
    return seconds


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
        # In blocks of queries, each index in turn: both meet the same load, and neither
        # runs with the other's data in the processor's caches (a host runs one of them).
        for start in range(0, len(asked), BLOCK):
            block = asked[start : start + BLOCK]
            expected = []
            for query in block:
                t0 = time.perf_counter()
                expected.append(memory.candidates(query))
                memory_times.append((time.perf_counter() - t0) * 1000)
            for query, wanted in zip(block, expected, strict=True):
                t0 = time.perf_counter()
                found = index.candidates(query)
                sql_times.append((time.perf_counter() - t0) * 1000)
                differ += found != wanted
    m50, m99 = percentiles(memory_times)
    s50, s99 = percentiles(sql_times)
    return s50, s99, m50, m99, differ


def register(store: SqlStore, plain: SqlStore, registrations: int) -> tuple[float, float]:
    """Save new customers one unit of work each, with and without index rows, interleaved.

    Returns:
        Milliseconds per customer with the index rows and without them.
    """
    rounds = 10
    per_round = max(1, registrations // rounds)
    times: dict[bool, float] = {True: 0.0, False: 0.0}
    made: list[str] = []
    start = 50_000_000
    for number in range(rounds * 2):
        indexed = number % 2 == 0
        fresh = list(people(start, per_round, seed=99))
        start += per_round
        chosen = store if indexed else plain
        t0 = time.perf_counter()
        for customer in fresh:
            with chosen.unit_of_work() as uow:
                uow.customers.save(customer)
                uow.commit()
        times[indexed] += time.perf_counter() - t0
        made.extend(c.id for c in fresh)
    with store.unit_of_work() as uow:
        if uow.match_index is not None:
            uow.match_index.remove(made)
        uow.commit()
    wipe(store.engine, made)
    done = per_round * rounds
    return times[True] / done * 1000, times[False] / done * 1000


def report(
    label: str,
    count: int,
    *,
    load: float,
    timings: tuple[float, float, float, float, int],
    builds: tuple[float | None, float],
    registrations: tuple[float, float],
) -> None:
    s50, s99, m50, m99, differ = timings
    backfill, build = builds
    with_index, without = registrations
    stored = f"stored in {load:.1f} s" if load else "kept from an earlier run"
    print(f"\n{label}: {count:,} customers ({stored})")
    print(f"{'measure':<44}{'SQL index':>14}{'in memory':>14}{'ratio':>9}")
    print(f"{'candidates() p50 (ms)':<44}{s50:>14.2f}{m50:>14.2f}{s50 / m50:>9.2f}")
    print(f"{'candidates() p99 (ms)':<44}{s99:>14.2f}{m99:>14.2f}{s99 / m99:>9.2f}")
    print(f"{'queries whose answers differ':<44}{differ:>14}{'':>14}")
    if backfill is not None:
        print(
            f"{'index build (customers/s)':<44}{count / backfill:>14,.0f}"
            f"{count / build:>14,.0f}{(count / backfill) / (count / build):>9.2f}"
        )
        print(f"{'backfill of all customers (s)':<44}{backfill:>14.1f}")
    print(
        f"{'register one customer per unit of work (ms)':<44}{with_index:>14.2f}"
        f"{without:>14.2f}{with_index / without:>9.2f}  (right: without index rows)"
    )


def server_engine(url: str, backend: str, database: str = DATABASE) -> Engine:
    """An engine on the scratch database ``database`` of the server at ``url``."""
    base = sa.make_url(url)
    admin = create_engine(base)
    with admin.connect() as raw:
        if backend == "postgresql":
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).first()
            if exists is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        else:
            raw.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            raw.commit()
    admin.dispose()
    return create_engine(base.set(database=database))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="stored customers")
    parser.add_argument("--queries", type=int, default=2_000, help="candidates() calls timed")
    parser.add_argument("--registrations", type=int, default=500, help="single registrations")
    parser.add_argument(
        "--backend",
        action="append",
        choices=["sqlite", "postgresql", "mysql"],
        help="backends to measure (repeatable; default: sqlite and postgresql)",
    )
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) stored customers")
    parser.add_argument(
        "--bulk",
        action="store_true",
        help="PostgreSQL: also time a bulk backfill (bulk=True) after the page-by-page one",
    )
    parser.add_argument("--load-only", action="store_true", help="only store the customers")
    parser.add_argument(
        "--reuse-index",
        action="store_true",
        help="with --keep: skip the backfills when the index already holds every customer",
    )
    parser.add_argument("--sqlite-file", type=Path, help="the SQLite file (default: temporary)")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CRMCORE_TEST_POSTGRES_URL", "").strip()
    )
    parser.add_argument("--mysql-url", default=os.environ.get("CRMCORE_TEST_MYSQL_URL", "").strip())
    parser.add_argument(
        "--database", default=DATABASE, help=f"scratch database on a server (default: {DATABASE})"
    )
    parser.add_argument(
        "--workers", type=int, help="backfill worker processes (default: the backfill's own)"
    )
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "postgresql"]
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                path = args.sqlite_file or Path(directory) / "bench.db"
                engine = create_engine(f"sqlite:///{path}")
                run("SQLite", engine, args)
                engine.dispose()
            continue
        url = args.postgres_url if backend == "postgresql" else args.mysql_url
        if not url:
            flag = "--postgres-url" if backend == "postgresql" else "--mysql-url"
            raise SystemExit(f"--backend {backend} needs {flag} or its test variable")
        engine = server_engine(url, backend, args.database)
        try:
            run("PostgreSQL" if backend == "postgresql" else "MariaDB", engine, args)
        finally:
            if not args.keep:
                wipe(engine)
            engine.dispose()


if __name__ == "__main__":
    main()
