"""Benchmark the SQL storage adapter against raw SQLAlchemy Core doing the same work.

For SQLite (a file in a temporary directory) and PostgreSQL (a temporary
schema, when a URL is given) it measures, in the same run:

- bulk save of N customers (``save_many`` in batches of 1,000, one commit)
  versus raw Core ``executemany`` inserts of the same rows (main row with
  the same JSON document, emails, phones, tags);
- get-by-id of 1,000 random customers versus ``SELECT document ... WHERE id``
  followed by the same ``structure`` call;
- find-by-email of 1,000 random addresses versus the same join, structured.

Both sides build the JSON document with :mod:`crmcore.serialization` (the
data each must store), so the ratio is the adapter's own overhead: version
checks, column-fit checks, savepoints, child-table bookkeeping.

``--large`` also streams 1,000,000 customers from SQLite with ``iter_all``
and reports the peak traced memory (tracemalloc) after 10 % and at the end.

Run::

    CRMCORE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python benchmarks/bench_storage.py --count 100000
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import SqlStore, create_engine, create_schema, drop_schema
from crmcore.adapters.sql import tables as t
from crmcore.domain import (
    Customer,
    CustomerId,
    EmailAddress,
    Person,
    PersonName,
    PhoneNumber,
    UserId,
    register_customer,
)
from crmcore.serialization import make_converter, structure

FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华"
TAGS = ("vip", "wholesale", "online", "beijing", "shanghai", "new")
AT = pendulum.datetime(2026, 1, 1)
BATCH = 1_000


def customers(count: int, seed: int = 7) -> Iterator[Customer]:
    """Yield ``count`` realistic customers, deterministically."""
    rng = random.Random(seed)
    for n in range(count):
        name = rng.choice(FAMILY) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
        customer, _ = register_customer(
            id=CustomerId(f"c-{n:08d}"),
            person=Person(name=PersonName.parse(name)),
            emails=[EmailAddress(f"user{n}@example{n % 97}.cn")],
            phones=[PhoneNumber.parse(f"+86138{n:08d}")],
            owner=UserId(f"u-{rng.randint(1, 50)}"),
            tags=rng.sample(TAGS, k=rng.randint(0, 2)),
            at=AT.add(seconds=n),
        )
        yield customer


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def crmcore_bulk(engine: Engine, data: list[Customer]) -> None:
    with SqlStore(engine).unit_of_work() as uow:
        for start in range(0, len(data), BATCH):
            uow.customers.save_many(data[start : start + BATCH])
        uow.commit()


def raw_bulk(engine: Engine, data: list[Customer]) -> None:
    converter = make_converter()
    with engine.begin() as conn:
        for start in range(0, len(data), BATCH):
            main, emails, phones, tags = [], [], [], []
            for c in data[start : start + BATCH]:
                document = converter.unstructure(c, unstructure_as=Customer)
                document["version"] = 1
                main.append(
                    {
                        "id": c.id,
                        "version": 1,
                        "kind": c.kind.value,
                        "display_name": c.display_name,
                        "tier": c.tier.value,
                        "priority": c.priority.value,
                        "lifecycle_stage": c.lifecycle_stage.value,
                        "source": c.source.value,
                        "owner": c.owner,
                        "team": c.team,
                        "country": None,
                        "merged_into": c.merged_into,
                        "created_at": c.created_at,
                        "updated_at": c.updated_at,
                        "custom": {},
                        "document": document,
                        "child_digest": None,
                    }
                )
                emails += [
                    {"customer_id": c.id, "address": e.address.address} for e in c.points.emails
                ]
                phones += [{"customer_id": c.id, "e164": p.number.e164} for p in c.points.phones]
                tags += [{"customer_id": c.id, "tag": tag.name} for tag in c.tags]
            conn.execute(t.customers.insert(), main)
            conn.execute(t.customer_emails.insert(), emails)
            conn.execute(t.customer_phones.insert(), phones)
            if tags:
                conn.execute(t.customer_tags.insert(), tags)


def crmcore_gets(engine: Engine, ids: list[str]) -> None:
    with SqlStore(engine).unit_of_work() as uow:
        for id in ids:
            uow.customers.get(CustomerId(id))


def raw_gets(engine: Engine, ids: list[str]) -> None:
    converter = make_converter()
    statement = sa.select(t.customers.c.document).where(t.customers.c.id == sa.bindparam("id"))
    with engine.connect() as conn:
        for id in ids:
            structure(conn.execute(statement, {"id": id}).scalar_one(), Customer, converter)


def crmcore_finds(engine: Engine, addresses: list[str]) -> None:
    with SqlStore(engine).unit_of_work() as uow:
        for address in addresses:
            uow.customers.find_by_email(EmailAddress(address))


def raw_finds(engine: Engine, addresses: list[str]) -> None:
    converter = make_converter()
    c, e = t.customers.c, t.customer_emails
    statement = (
        sa.select(c.document)
        .join(e, e.c.customer_id == c.id)
        .where(e.c.address == sa.bindparam("address"))
        .order_by(c.id)
    )
    with engine.connect() as conn:
        for address in addresses:
            for document in conn.execute(statement, {"address": address}).scalars():
                structure(document, Customer, converter)


def fresh(engine: Engine) -> None:
    drop_schema(engine)
    create_schema(engine)


def bench(
    name: str, engines: Callable[[], Engine], data: list[Customer], lookups: int
) -> list[tuple[Any, ...]]:
    """Measure one backend; ``engines()`` returns an engine on an empty database each call."""
    rng = random.Random(11)
    ids: list[str] = [c.id for c in rng.sample(data, lookups)]
    addresses = [c.points.emails[0].address.address for c in rng.sample(data, lookups)]
    raw_engine = engines()
    raw_save = timed(lambda: raw_bulk(raw_engine, data))
    engine = engines()
    ours_save = timed(lambda: crmcore_bulk(engine, data))
    rows: list[tuple[Any, ...]] = [(f"bulk save {len(data):,}", name, ours_save, raw_save)]
    for _ in range(2):  # warm caches and statement caches first; keep the second round
        gets = (timed(lambda: crmcore_gets(engine, ids)), timed(lambda: raw_gets(engine, ids)))
        finds = (
            timed(lambda: crmcore_finds(engine, addresses)),
            timed(lambda: raw_finds(engine, addresses)),
        )
    rows.append((f"get by id x{lookups:,}", name, *gets))
    rows.append((f"find by email x{lookups:,}", name, *finds))
    return rows


def large(path: Path, count: int) -> str:
    engine = create_engine(f"sqlite:///{path / 'large.db'}")
    create_schema(engine)
    converter = make_converter()
    template = next(customers(1))
    document = converter.unstructure(template, unstructure_as=Customer)
    row = {
        "version": 1,
        "kind": "person",
        "display_name": template.display_name,
        "tier": "potential",
        "priority": "medium",
        "lifecycle_stage": "potential",
        "source": "other",
        "owner": None,
        "team": None,
        "country": None,
        "merged_into": None,
        "created_at": AT,
        "updated_at": AT,
        "custom": {},
        "child_digest": None,
    }
    with engine.begin() as conn:
        for start in range(0, count, 50_000):
            conn.execute(
                t.customers.insert(),
                [
                    {**row, "id": f"c-{n:08d}", "document": {**document, "id": f"c-{n:08d}"}}
                    for n in range(start, min(start + 50_000, count))
                ],
            )
    started = time.perf_counter()
    with SqlStore(engine).unit_of_work() as uow:
        records = uow.customers.iter_all(page_size=1_000)
        tracemalloc.start()
        for _ in range(count // 10):
            next(records)
        _, early = tracemalloc.get_traced_memory()
        seen = count // 10 + sum(1 for _ in records)
        _, late = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    engine.dispose()
    return (
        f"iter_all over {seen:,} SQLite customers in {time.perf_counter() - started:.0f} s: "
        f"peak traced memory {early / 1e6:.1f} MB after 10 %, {late / 1e6:.1f} MB at the end"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=1_000)
    parser.add_argument("--postgres-url", default=os.environ.get("CRMCORE_TEST_POSTGRES_URL"))
    parser.add_argument("--large", type=int, nargs="?", const=1_000_000, default=0)
    args = parser.parse_args()
    data = list(customers(args.count))
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        made: list[Engine] = []

        def sqlite_engine() -> Engine:
            engine = create_engine(f"sqlite:///{Path(directory) / f'bench{len(made)}.db'}")
            create_schema(engine)
            made.append(engine)
            return engine

        rows += bench("SQLite", sqlite_engine, data, args.lookups)
        for engine in made:
            engine.dispose()
        if args.postgres_url:
            schema = f"crm_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres_url)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            try:
                engine = admin.execution_options(schema_translate_map={None: schema})

                def postgres_engine() -> Engine:
                    fresh(engine)
                    return engine

                rows += bench("PostgreSQL", postgres_engine, data, args.lookups)
            finally:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                admin.dispose()
        print(f"| {'operation':<22} | {'backend':<10} | crmcore s | raw Core s | ratio |")
        print(f"|{'-' * 24}|{'-' * 12}|-----------|------------|-------|")
        for operation, backend, ours, raw in rows:
            ratio = ours / raw
            print(f"| {operation:<22} | {backend:<10} | {ours:9.2f} | {raw:10.2f} | {ratio:5.2f} |")
        if args.large:
            print(large(Path(directory), args.large))


if __name__ == "__main__":
    main()
