"""Benchmark encryption at rest: registering and loading customers with and without it.

On SQLite files in a temporary directory, in the same run, N customers with
sensitive fields (a national id, a birth date, a postal address, a credit
rating) are

- **registered** through ``SqlStore`` in units of work of 500;
- **listed** with ``iter_all`` (every document read and, when encrypted, decrypted);
- **got** one by one with ``get`` (1,000 random ids);

once by a plain store (the baseline) and once per key store by an encrypting
store (``SqlStore(engine, encryptor=AesGcmEncryptor(keys))``): keys in memory
(``MemoryKeyStore``) and keys in another SQLite database (``SqlKeyStore``).
The keys are looked up in batches: one key-store call per ``save_many`` (the
missing keys made in one short transaction before the data is committed),
one per page of ``iter_all``, one per ``get`` (a unit of work asks at most
once per customer). The cases run interleaved, step by step (a unit of work
of 500 registrations, a page, a ``get``), so the load of a shared machine
falls on all alike; the best of the rounds counts, and the ratio is against
the plain store of the same run.

Run::

    python benchmarks/bench_encryption.py --count 5000
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeAlias

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
from crmcore.ports import DEFAULT_PAGE_SIZE, Encryptor

AT = pendulum.datetime(2026, 3, 1)
BATCH = 500
PAGE = DEFAULT_PAGE_SIZE  # iter_all reads this many rows per query (and opens them at once)

Timings: TypeAlias = dict[str, dict[str, float]]


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


Case = Callable[[], Encryptor | None]


def run(folder: Path, round_: int, items: list[Customer], cases: dict[str, Case]) -> Timings:
    """Time one round of every case, interleaved step by step; return the seconds by case.

    Each step (a unit of work of 500 registrations, a page of ``iter_all``,
    one ``get``) runs for every case in turn, the order rotating, so a
    change of load on a shared machine falls on all cases alike.
    """
    names = list(cases)
    took: Timings = {name: {"register": 0.0, "iterate": 0.0, "get": 0.0} for name in names}
    engines: list[Engine] = []
    stores: dict[str, SqlStore] = {}
    for n, name in enumerate(names):
        engine = create_engine(f"sqlite:///{folder / f'r{round_}c{n}.db'}")
        create_schema(engine)
        engines.append(engine)
        stores[name] = SqlStore(engine, encryptor=cases[name](), match_index=False)

    def turns(step: int) -> list[str]:
        shift = step % len(names)
        return names[shift:] + names[:shift]

    for step, at in enumerate(range(0, len(items), BATCH)):
        for name in turns(step):
            start = time.perf_counter()
            with stores[name].unit_of_work() as uow:
                uow.customers.save_many(items[at : at + BATCH])
                uow.commit()
            took[name]["register"] += time.perf_counter() - start
    with contextlib.ExitStack() as stack:
        pages: dict[str, Iterator[Customer]] = {}
        for name in names:
            uow = stack.enter_context(stores[name].unit_of_work())
            pages[name] = uow.customers.iter_all(page_size=PAGE)
        for step in range(-(-len(items) // PAGE)):
            for name in turns(step):
                start = time.perf_counter()
                listed = sum(1 for _ in itertools.islice(pages[name], PAGE))
                took[name]["iterate"] += time.perf_counter() - start
                if listed != min(PAGE, len(items) - step * PAGE):
                    raise SystemExit(f"{name}: listed {listed} customers in page {step}")
    ids = random.Random(7).sample([c.id for c in items], min(1000, len(items)))
    with contextlib.ExitStack() as stack:
        uows = {name: stack.enter_context(stores[name].unit_of_work()) for name in names}
        for step, id in enumerate(ids):
            for name in turns(step):
                start = time.perf_counter()
                uows[name].customers.get(id)
                took[name]["get"] += time.perf_counter() - start
    for times in took.values():
        times["get"] /= len(ids)
    for engine in engines:
        engine.dispose()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5_000, help="customers per case")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best of each counts")
    args = parser.parse_args()
    items = customers(args.count)
    best: Timings = {}
    with tempfile.TemporaryDirectory(prefix="h15_") as tmp:
        folder = Path(tmp)
        key_engines: list[Engine] = []

        def sql_keys() -> Encryptor:
            engine = create_engine(f"sqlite:///{folder / f'keys{len(key_engines)}.db'}")
            key_engines.append(engine)
            return AesGcmEncryptor(SqlKeyStore(engine, create=True))

        cases: dict[str, Case] = {
            "plain (baseline)": lambda: None,
            "encrypted, keys in memory": lambda: AesGcmEncryptor(MemoryKeyStore()),
            "encrypted, keys in SQLite": sql_keys,
        }
        for round_ in range(args.rounds):
            for case, got in run(folder, round_, items, cases).items():
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
