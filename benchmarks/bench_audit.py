"""Benchmark the audit chain: what an audited write costs, and how fast a chain verifies.

On an SQLite file in a temporary directory, in the same run:

- **write**: saving N new customers through the SQL store, plain versus the
  same saves each with an audit entry (``crmcore.services.auditing.record``,
  the registration payload) in the same unit of work — once with one unit
  of work per customer (a commit each, what a service does) and once in
  batches of 1,000 per unit of work (the worst case for the ratio: no
  commit cost to hide behind). Target: audited ≤ 1.5 × plain.
- **verify**: :func:`crmcore.privacy.audit.verify` over the chain read back
  with ``uow.audit.entries()``, and over entries already in memory (the
  hashing alone). Target: ≥ 100,000 entries/s.
- **baseline**: the plain SHA-256 chain of the issue in stdlib ``sqlite3``
  (canonical JSON of each row plus the previous hash, ``hashlib``, one
  table, no payload side table, no locking): appends and verifies measured
  here, so crmcore's figures read as ratios to it.

Run::

    python benchmarks/bench_audit.py --count 20000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pendulum

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
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
from crmcore.privacy.audit import AuditAction, verify
from crmcore.services import auditing

FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华"
AT = pendulum.datetime(2026, 1, 1)
BATCH = 1_000


def customers(count: int, start: int = 0, seed: int = 7) -> Iterator[Customer]:
    """Yield ``count`` realistic customers, deterministically."""
    rng = random.Random(seed + start)
    for n in range(start, start + count):
        name = rng.choice(FAMILY) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
        customer, _ = register_customer(
            id=CustomerId(f"c-{n:08d}"),
            person=Person(name=PersonName.parse(name)),
            emails=[EmailAddress(f"user{n}@example{n % 97}.cn")],
            phones=[PhoneNumber.parse(f"+86138{n:08d}")],
            owner=UserId(f"u-{rng.randint(1, 50)}"),
            at=AT.add(seconds=n),
        )
        yield customer


def payload(customer: Customer) -> dict[str, object]:
    """The payload an audited registration keeps."""
    return {
        "display_name": customer.display_name,
        "kind": customer.kind.value,
        "owner": customer.owner,
        "emails": [e.address.address for e in customer.points.emails],
        "phones": [p.number.e164 for p in customer.points.phones],
    }


def fresh_store(directory: Path, name: str) -> SqlStore:
    engine = create_engine(f"sqlite:///{directory / name}")
    create_schema(engine)
    return SqlStore(engine)


def write(store: SqlStore, items: list[Customer], *, audited: bool, per_unit: int) -> float:
    """Save ``items`` (``per_unit`` per unit of work); return the seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(items), per_unit):
        with store.unit_of_work() as uow:
            for customer in items[start : start + per_unit]:
                uow.customers.save(customer)
                if audited:
                    auditing.record(
                        uow,
                        actor="u-li",
                        action=AuditAction.CREATE,
                        record=customer,
                        at=customer.created_at,
                        payload=payload(customer),
                    )
            uow.commit()
    return time.perf_counter() - started


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def baseline(directory: Path, count: int) -> tuple[float, float]:
    """The issue's plain chain in stdlib sqlite3: (append rows/s, verify rows/s)."""
    conn = sqlite3.connect(directory / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE chain (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, hash TEXT NOT NULL)"
    )
    rows = [
        {
            "at": AT.add(seconds=n).isoformat(),
            "actor": "u-li",
            "action": "create",
            "record_type": "customer",
            "record_id": f"c-{n:08d}",
            "payload": {"display_name": "王伟", "phones": [f"+86138{n:08d}"]},
        }
        for n in range(count)
    ]
    started = time.perf_counter()
    conn.execute("BEGIN")
    previous = "0" * 64
    for n, row in enumerate(rows, start=1):
        body = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        previous = hashlib.sha256((previous + body).encode()).hexdigest()
        conn.execute("INSERT INTO chain VALUES (?, ?, ?)", (n, body, previous))
    conn.execute("COMMIT")
    appended = time.perf_counter() - started
    started = time.perf_counter()
    previous = "0" * 64
    for _, body, stored in conn.execute("SELECT seq, body, hash FROM chain ORDER BY seq"):
        previous = hashlib.sha256((previous + body).encode()).hexdigest()
        if previous != stored:
            raise SystemExit("the baseline chain does not verify")
    verified = time.perf_counter() - started
    conn.close()
    return count / appended, count / verified


def append_only(store: SqlStore, count: int) -> float:
    """Append ``count`` audit entries alone, 1,000 per unit of work; return the seconds taken."""
    items = list(customers(count, start=10_000_000))
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        with store.unit_of_work() as uow:
            for customer in items[start : start + BATCH]:
                auditing.record(
                    uow,
                    actor="u-li",
                    action=AuditAction.CREATE,
                    record=customer,
                    at=customer.created_at,
                    payload=payload(customer),
                )
            uow.commit()
    return time.perf_counter() - started


def best_pair(
    directory: Path, items: list[Customer], *, per_unit: int, rounds: int
) -> tuple[float, float]:
    """Plain and audited writes, alternated ``rounds`` times on fresh files: the best of each.

    Alternating keeps a busy machine's slow spells from landing on one side only.
    """
    plain: list[float] = []
    audited: list[float] = []
    for n in range(rounds):
        plain.append(
            write(
                fresh_store(directory, f"p{per_unit}-{n}.db"),
                items,
                audited=False,
                per_unit=per_unit,
            )
        )
        audited.append(
            write(
                fresh_store(directory, f"a{per_unit}-{n}.db"),
                items,
                audited=True,
                per_unit=per_unit,
            )
        )
    return min(plain), min(audited)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="customers in the batched run")
    parser.add_argument(
        "--per-commit",
        type=int,
        default=1_000,
        help="customers in the one-commit-each run (each commits, so keep it small)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds; the best counts")
    args = parser.parse_args()
    batched = list(customers(args.count))
    single = list(customers(args.per_commit, start=args.count))
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        plain_batch, audited_batch = best_pair(
            directory, batched, per_unit=BATCH, rounds=args.rounds
        )
        plain_single, audited_single = best_pair(directory, single, per_unit=1, rounds=args.rounds)
        audited_store = fresh_store(directory, "audited.db")
        append_seconds = append_only(audited_store, args.count)
        with audited_store.unit_of_work() as uow:
            read_seconds, entries = timed(lambda: list(uow.audit.entries(page_size=5000)))
            stored_seconds, report = timed(lambda: verify(uow.audit.entries(page_size=5000)))
        chain = entries if isinstance(entries, list) else []
        memory_seconds, memory_report = timed(lambda: verify(chain))
        if not (getattr(report, "holds", False) and getattr(memory_report, "holds", False)):
            raise SystemExit("the audited chain does not verify")
        base_append, base_verify = baseline(directory, args.count)
        audited_store.engine.dispose()

    n = args.count
    print(
        f"# audit chain, SQLite file: {n:,} customers batched, {args.per_commit:,} one commit"
        f" each, best of {args.rounds} alternated rounds"
    )
    print()
    print("| measure | crmcore | reference | ratio | target |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| write, {BATCH:,} per unit of work (s) | {audited_batch:.2f} audited |"
        f" {plain_batch:.2f} plain | {audited_batch / plain_batch:.2f} | ≤ 1.5 |"
    )
    print(
        f"| write, one commit each (s) | {audited_single:.2f} audited |"
        f" {plain_single:.2f} plain | {audited_single / plain_single:.2f} | ≤ 1.5 |"
    )
    print(
        f"| audit appends alone, entries/s | {n / append_seconds:,.0f} |"
        f" {base_append:,.0f} baseline | {n / append_seconds / base_append:.2f} | |"
    )
    print(
        f"| verify from SQLite, entries/s | {n / stored_seconds:,.0f} |"
        f" {base_verify:,.0f} baseline | {n / stored_seconds / base_verify:.2f} | ≥ 100,000/s |"
    )
    print(
        f"| verify in memory, entries/s | {n / memory_seconds:,.0f} |"
        f" {base_verify:,.0f} baseline | {n / memory_seconds / base_verify:.2f} | |"
    )
    print(f"| read entries from SQLite, entries/s | {n / read_seconds:,.0f} | | | |")


if __name__ == "__main__":
    main()
