"""Benchmark access policies: filter building, SQLite pushdown, in-memory and polars filtering.

Run: ``python benchmarks/bench_access.py [--customers 1000000] [--repeat 5] [--db PATH]``

Issue 15's setting: ``customers`` customers owned by 100 reps in 10 teams (1 % of
them unassigned), SQLite with the indexed ``owner`` and ``team`` columns. Best of
``repeat``:

* building the ``WHERE`` clause of a rep (own + unassigned + 3 shares) and of a
  manager (a team and its sub-teams) from the default policy (target < 0.5 ms);
* counting a rep's customers in SQLite with the policy's filter (built anew for each
  count), against the hand-written ``WHERE owner = :me`` (target ≤ 1.2×): once for a
  policy granting only ``own`` (the same question) and once for the default rep;
* :func:`crmcore.privacy.access.visible` over every customer in memory (target < 1 s),
  against a hand-written ``[c for c in customers if c.owner == me]``; and per-record
  :func:`~crmcore.privacy.access.allows` (with its reason) for comparison;
* the polars filter over the customers frame against ``pl.col("owner") == me``.

Rows are inserted with one fast ``executemany`` of minimal customer rows (no
documents: counting reads only the indexed columns).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import polars as pl
import sqlalchemy as sa

from crmcore.adapters.frames import to_frame
from crmcore.adapters.frames.access import compile_access as polars_access
from crmcore.adapters.sql import create_engine, create_schema
from crmcore.adapters.sql.access import access_where, count_visible
from crmcore.adapters.sql.tables import customers as table
from crmcore.domain import Customer, CustomerKind, Organization, TeamId, UserId
from crmcore.privacy.access import (
    DEFAULT_POLICY,
    AccessPolicy,
    Actor,
    Role,
    TeamTree,
    access_filter,
    allows,
    grants,
    visible,
)

REPS = 100
TEAMS = 10
ME = "u42"
TREE = TeamTree(parents={"t5": "t4", "t6": "t4"})
POLICY = AccessPolicy(roles=DEFAULT_POLICY.roles, teams=TREE)
OWN_ONLY = AccessPolicy(roles=[Role(name="rep", grants=grants("view", "customer", "own"))])
REP = Actor(user=ME, roles="rep", teams="t4", shared={"customer": ["c0000001", "c0000002", "c3"]})
MANAGER = Actor(user="m4", roles="manager", teams="t4")


def owner_of(i: int) -> tuple[str | None, str | None]:
    if i % 100 == 99:
        return None, None
    rep = i % REPS
    return f"u{rep}", f"t{rep // (REPS // TEAMS)}"


def best(repeat: int, run: Callable[[], object], loops: int = 1) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        for _ in range(loops):
            run()
        times.append((time.perf_counter() - start) / loops)
    return min(times)


def fill(engine: sa.Engine, n: int) -> None:
    columns = (
        "id, version, kind, display_name, tier, priority, lifecycle_stage, source, owner, team,"
        " created_at, updated_at, custom, document"
    )
    statement = f"INSERT INTO customers ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"  # noqa: S608 - constant text
    stamp = "2026-03-01 00:00:00.000000"
    with engine.begin() as conn:
        chunk: list[tuple[Any, ...]] = []
        for i in range(n):
            owner, team = owner_of(i)
            chunk.append(
                (
                    f"c{i:07d}",
                    1,
                    "organization",
                    "Acme",
                    "ordinary",
                    "medium",
                    "new",
                    "other",
                    owner,
                    team,
                    stamp,
                    stamp,
                    "{}",
                    "{}",
                )
            )
            if len(chunk) == 100_000:
                conn.exec_driver_sql(statement, chunk)
                chunk = []
        if chunk:
            conn.exec_driver_sql(statement, chunk)
        conn.exec_driver_sql("ANALYZE")


def records(n: int) -> list[Customer]:
    org = Organization(legal_name="Acme")
    stamp = pendulum.datetime(2026, 3, 1)
    out = []
    for i in range(n):
        owner, team = owner_of(i)
        out.append(
            Customer(
                id=f"c{i:07d}",
                kind=CustomerKind.ORGANIZATION,
                organization=org,
                owner=UserId(owner) if owner else None,
                team=TeamId(team) if team else None,
                created_at=stamp,
                updated_at=stamp,
            )
        )
    return out


def main() -> None:  # noqa: PLR0915 - a benchmark script reads top to bottom
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", default="", help="SQLite file (default: a temporary one)")
    args = parser.parse_args()
    n, repeat = args.customers, args.repeat
    rows: list[tuple[str, float, str, float | None, str]] = []

    # -- building the filter: cold (a new actor each time, nothing cached) and warm
    loops = 2000
    fresh = iter(
        Actor(user=f"u{i}", roles="rep", teams="t4", shared={"customer": [f"c{i:07d}"]})
        for i in range(loops * repeat)
    )
    managers = iter(
        Actor(user=f"m{i}", roles="manager", teams=f"t{i % TEAMS}") for i in range(loops * repeat)
    )
    build_hand = best(
        repeat, lambda: sa.select(sa.func.count()).where(table.c.owner == ME), loops=loops
    )
    build_rep = best(repeat, lambda: access_where(POLICY, next(fresh), "customer"), loops=loops)
    build_mgr = best(repeat, lambda: access_where(POLICY, next(managers), "customer"), loops=loops)
    build_warm = best(repeat, lambda: access_where(POLICY, REP, "customer"), loops=loops)
    rows.append(("build, hand-written owner == :me (baseline)", build_hand * 1e3, "ms", None, "-"))
    rows.append(("build, rep (own, unassigned, share)", build_rep * 1e3, "ms", 0.5, "< 0.5 ms"))
    rows.append(("build, manager (team tree)", build_mgr * 1e3, "ms", 0.5, "< 0.5 ms"))
    rows.append(("build, rep again (cached)", build_warm * 1e3, "ms", 0.5, "< 0.5 ms"))

    # -- SQLite
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(args.db or Path(scratch) / "access.db")
        engine = create_engine(f"sqlite:///{path}")
        create_schema(engine)
        print(f"inserting {n:,} customers into {path} …", flush=True)
        started = time.perf_counter()
        fill(engine, n)
        print(f"  {time.perf_counter() - started:.1f} s", flush=True)
        hand = sa.text("SELECT count(*) FROM customers WHERE owner = :me")
        with engine.connect() as conn:
            expected = conn.execute(hand, {"me": ME}).scalar_one()

            def count_by_hand() -> int:
                return int(conn.execute(hand, {"me": ME}).scalar_one())

            def own_only() -> int:
                return count_visible(conn, OWN_ONLY, REP, "customer")

            def default() -> int:
                return count_visible(conn, POLICY, REP, "customer")

            def cold() -> int:
                return count_visible(conn, POLICY, next(fresh), "customer")

            if own_only() != expected:
                raise SystemExit(f"own-only policy counted {own_only()}, expected {expected}")
            fresh = iter(
                Actor(user=ME, roles="rep", shared={"customer": [f"x{i}"]})
                for i in range(200 * repeat)
            )
            t_hand = best(repeat, count_by_hand, 200)
            t_own = best(repeat, own_only, 200)
            t_default = best(repeat, default, 200)
            t_cold = best(repeat, cold, 200)
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN "
                + str(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(access_where(POLICY, REP, "customer"))
                    .compile(conn, compile_kwargs={"literal_binds": True})
                )
            ).all()
        engine.dispose()
    rows.append(("SQLite count, WHERE owner = :me (baseline)", t_hand * 1e3, "ms", None, "-"))
    rows.append(("SQLite count, policy own", t_own * 1e3, "ms", t_hand * 1.2e3, "≤ 1.2×"))
    rows.append(("SQLite count, default rep policy", t_default * 1e3, "ms", None, "info"))
    rows.append(("SQLite count, default rep, built cold", t_cold * 1e3, "ms", None, "info"))

    # -- memory
    print(f"building {n:,} customers in memory …", flush=True)
    people = records(n)
    found = access_filter(OWN_ONLY, REP, "view", "customer")
    t_by_hand = best(repeat, lambda: [c for c in people if c.owner == ME])
    t_visible = best(repeat, lambda: visible(POLICY, REP, people))
    sample = people[: min(n, 100_000)]
    t_allows = best(1, lambda: [allows(POLICY, REP, "view", c) for c in sample]) * n / len(sample)
    rows.append(("memory, hand-written owner == me (baseline)", t_by_hand, "s", None, "-"))
    rows.append(("memory, visible() default rep", t_visible, "s", 1.0, "< 1 s"))
    rows.append(("memory, allows() per record, extrapolated", t_allows, "s", None, "info"))

    # -- polars
    frame = to_frame(people, documents=False)
    t_pl_hand = best(repeat, lambda: frame.filter(pl.col("owner") == ME))
    expression = polars_access(access_filter(POLICY, REP, "view", "customer"))
    t_pl = best(repeat, lambda: frame.filter(expression))
    t_pl_own = best(repeat, lambda: frame.filter(polars_access(found)))
    rows.append(("polars, owner == me (baseline)", t_pl_hand * 1e3, "ms", None, "-"))
    rows.append(("polars, policy own", t_pl_own * 1e3, "ms", None, "info"))
    rows.append(("polars, default rep policy", t_pl * 1e3, "ms", None, "info"))

    baselines = {
        "build": build_hand * 1e3,
        "SQLite count": t_hand * 1e3,
        "memory": t_by_hand,
        "polars": t_pl_hand * 1e3,
    }
    print(f"\n{n:,} customers, {REPS} reps in {TEAMS} teams; rep {ME} owns {expected:,}\n")
    print(f"{'measure':46} {'time':>10} {'unit':>4} {'vs baseline':>12} {'target':>10} {'ok':>4}")
    for name, value, unit, limit, target in rows:
        base = baselines.get(name.split(",")[0])
        ratio = f"{value / base:11.2f}x" if base else "           -"
        ok = "-" if limit is None else ("yes" if value <= limit else "NO")
        print(f"{name:46} {value:10.3f} {unit:>4} {ratio:>12} {target:>10} {ok:>4}")
    print("\nSQLite EXPLAIN QUERY PLAN of the default rep's count:")
    for row in plan:
        print("  " + str(row[-1]))


if __name__ == "__main__":
    main()
