"""Benchmark encryption at rest: registering and loading customers with and without it.

On SQLite files in a temporary directory, in the same run, N customers with
sensitive fields (a national id, a birth date, a postal address, a credit
rating) are

- **registered** through ``SqlStore`` in units of work of 500;
- **listed** with ``iter_all`` (every document read and, when encrypted, decrypted);
- **got** one by one with ``get`` (1,000 random ids);

once by a plain store (the baseline) and once per key store by an encrypting
store (``SqlStore(engine, encryptor=AesGcmEncryptor(keys))``): keys in memory
(``MemoryKeyStore``) and keys in another SQLite database (``SqlKeyStore``, a
key lookup per customer). Rounds alternate; the best of each case counts, and
the ratio is against the plain store of the same run.

Run::

    python benchmarks/bench_encryption.py --count 5000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import pendulum
from sqlalchemy.engine import Engine

from crmcore.adapters.crypto import AesGcmEncryptor
from crmcore.adapters.memory import MemoryKeyStore
from crmcore.adapters.sql import SqlKeyStore, SqlStore, create_engine, create_schema
from crmcore.domain import (
    CreditRating,
    Customer,
    CustomerId,
    EmailAddress,
    Person,
    PersonName,
    PostalAddress,
    register_customer,
)
from crmcore.ports import Encryptor

AT = pendulum.datetime(2026, 3, 1)
BATCH = 500


def customers(count: int) -> list[Customer]:
    found = []
    for n in range(count):
        customer, _ = register_customer(
            id=CustomerId(f"c-{n:07d}"),
            person=Person(
                name=PersonName.parse("李娜"),
                national_id=f"1101011990{n:08d}",
                birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=n % 20000),
            ),
            emails=[EmailAddress(f"user{n}@example.com")],
            at=AT,
        )
        address = PostalAddress(
            country="CN", city="北京市", street=(f"{n} Lane",), postcode="100000"
        )
        found.append(
            attrs.evolve(
                customer,
                credit_rating=CreditRating.AA,
                points=customer.points.with_address(address),
            )
        )
    return found


def run(
    folder: Path, name: str, items: list[Customer], encryptor: Callable[[], Encryptor | None]
) -> dict[str, float]:
    engine = create_engine(f"sqlite:///{folder / f'{name}.db'}")
    create_schema(engine)
    store = SqlStore(engine, encryptor=encryptor(), match_index=False)
    start = time.perf_counter()
    for at in range(0, len(items), BATCH):
        with store.unit_of_work() as uow:
            uow.customers.save_many(items[at : at + BATCH])
            uow.commit()
    registered = time.perf_counter() - start
    start = time.perf_counter()
    with store.unit_of_work() as uow:
        listed = sum(1 for _ in uow.customers.iter_all())
    iterated = time.perf_counter() - start
    if listed != len(items):
        raise SystemExit(f"{name}: listed {listed} of {len(items)} customers")
    ids = random.Random(7).sample([c.id for c in items], min(1000, len(items)))
    start = time.perf_counter()
    with store.unit_of_work() as uow:
        for id in ids:
            uow.customers.get(id)
    got = (time.perf_counter() - start) / len(ids)
    engine.dispose()
    return {"register": registered, "iterate": iterated, "get": got}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5_000, help="customers per case")
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds; the best counts")
    args = parser.parse_args()
    items = customers(args.count)
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key_engines: list[Engine] = []

        def sql_keys() -> Encryptor:
            engine = create_engine(f"sqlite:///{folder / f'keys{len(key_engines)}.db'}")
            key_engines.append(engine)
            return AesGcmEncryptor(SqlKeyStore(engine, create=True))

        cases: dict[str, Callable[[], Encryptor | None]] = {
            "plain (baseline)": lambda: None,
            "encrypted, keys in memory": lambda: AesGcmEncryptor(MemoryKeyStore()),
            "encrypted, keys in SQLite": sql_keys,
        }
        for round_ in range(args.rounds):
            for n, (case, encryptor) in enumerate(cases.items()):
                got = run(folder, f"r{round_}c{n}", items, encryptor)
                mine = best.setdefault(case, got)
                for key, value in got.items():
                    mine[key] = min(mine[key], value)
        for engine in key_engines:
            engine.dispose()
    base = best["plain (baseline)"]
    print(f"# encryption at rest, SQLite files: {args.count:,} customers, best of {args.rounds}")
    print()
    print("| case | register (s) | ratio | iter_all (s) | ratio | get (ms) | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case, got in best.items():
        print(
            f"| {case} | {got['register']:.2f} | {got['register'] / base['register']:.2f}x"
            f" | {got['iterate']:.2f} | {got['iterate'] / base['iterate']:.2f}x"
            f" | {got['get'] * 1000:.3f} | {got['get'] / base['get']:.2f}x |"
        )


if __name__ == "__main__":
    main()
