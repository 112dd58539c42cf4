"""Benchmark segment rules: compiled in memory, as polars expressions, pushed down to PostgreSQL.

Run: ``python benchmarks/bench_segments.py [--n 1000000] [--repeat 3] [--postgres URL]``

On ``n`` synthetic customers (seeded), best of ``repeat``:

* memory: a 5-clause attribute rule compiled once with ``compile_rule`` and run
  over every customer (target ≥ 1M customers/s), and the same rule with one
  clause replaced by an aggregate (``last_purchase().within(days=90)``) over
  one order per customer on average;
* polars: the same 5-clause rule as a polars expression over the customers
  frame (target ≥ 20M rows/s);
* PostgreSQL (``--postgres``, default ``$CRMCORE_TEST_POSTGRES_URL``): ``n``
  customers generated server side in a scratch schema, a selective rule pushed
  down; prints the time and the ``EXPLAIN`` plan (an index scan is expected).

Prints a table with throughput and the ratio to the target.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
import uuid
from collections.abc import Callable

import pendulum
import polars as pl

from crmcore.adapters.frames import compile_to_polars, to_frame
from crmcore.adapters.sql import create_engine, create_schema
from crmcore.adapters.sql.segments import customer_query
from crmcore.domain import (
    CountryCode,
    Customer,
    CustomerKind,
    LifecycleStage,
    Money,
    Order,
    Organization,
    Tier,
    UserId,
)
from crmcore.segments import HasTag, Rule, SegmentContext, compile_rule, field, last_purchase

AT = pendulum.datetime(2026, 3, 15, 10, 30)
OWNERS = [f"u-{i}" for i in range(50)]


def five_clauses() -> Rule:
    return (
        field("tier").is_in("vip", "strategic")
        & (field("lifecycle_stage") != "churned")
        & (field("country") == "CN")
        & field("created_at").within(days=365)
        & HasTag("b2b")
    )


def with_aggregate() -> Rule:
    return (
        field("tier").is_in("vip", "strategic")
        & (field("lifecycle_stage") != "churned")
        & (field("country") == "CN")
        & last_purchase().within(days=90)
        & HasTag("b2b")
    )


def customers(n: int) -> list[Customer]:
    rng = random.Random(6)
    org = Organization(legal_name="Acme Ltd")
    countries = [CountryCode(c) for c in ("CN", "US", "DE")]
    tiers = list(Tier)
    stages = list(LifecycleStage)
    tag_sets = [frozenset(), frozenset({"b2b"}), frozenset({"vip", "b2b"}), frozenset({"new"})]
    out = []
    for i in range(n):
        created = AT.subtract(days=rng.randrange(730))
        out.append(
            Customer(
                id=f"c{i:07d}",
                kind=CustomerKind.ORGANIZATION,
                organization=org,
                tier=rng.choice(tiers),
                lifecycle_stage=rng.choice(stages),
                country=rng.choice(countries),
                owner=UserId(rng.choice(OWNERS)),
                tags=rng.choice(tag_sets),
                created_at=created,
                updated_at=created,
            )
        )
    return out


def orders(people: list[Customer]) -> list[Order]:
    rng = random.Random(7)
    out = []
    for i, c in enumerate(people):
        if rng.random() < 0.5:
            continue
        for j in range(2):
            t = AT.subtract(days=rng.randrange(400))
            out.append(
                Order(
                    id=f"o{i}-{j}",
                    customer_id=c.id,
                    amount=Money(rng.randrange(1, 5000), "CNY"),
                    ordered_at=t,
                    created_at=t,
                    updated_at=t,
                )
            )
    return out


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def postgres(url: str, n: int) -> tuple[float, list[str]]:
    """Generate ``n`` customers server side, push a selective rule down; return time and plan."""
    schema = f"bench_segments_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = admin.execution_options(schema_translate_map={None: schema})
    try:
        create_schema(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'SET search_path TO "{schema}"')
            conn.exec_driver_sql(
                """INSERT INTO customers (id, version, kind, display_name, tier,
                priority, lifecycle_stage, source, owner, team, country, merged_into, created_at,
                updated_at, custom, document)
                SELECT 'c' || lpad(i::text, 7, '0'), 1, 'organization', 'Acme ' || i,
                  (ARRAY['vip','strategic','ordinary','potential'])[1 + mod(i, 4)], 'medium',
                  (ARRAY['potential','new','growth','mature','decline','churned'])[1 + mod(i, 6)],
                  'website', 'u-' || mod(i, 5000), NULL,
                  (ARRAY['CN','US','DE'])[1 + mod(i, 3)], NULL,
                  now() - mod(i, 730) * interval '1 day', now(), '{}'::json, '{}'::json
                FROM generate_series(1, %(n)s) AS i""",
                {"n": n},
            )
            conn.exec_driver_sql("ANALYZE customers")
        rule = (field("owner") == "u-42") & (field("tier") == "vip") & ~HasTag("churn-risk")
        query = customer_query(rule, at=AT)
        with engine.connect() as conn:
            conn.exec_driver_sql(f'SET search_path TO "{schema}"')
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            plan = [
                r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}".replace("%", "%%")).all()
            ]
            elapsed = best(3, lambda: conn.execute(query).all())
        return elapsed, plan
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("CRMCORE_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    n = args.n

    print(f"building {n:,} customers …", flush=True)
    people = customers(n)
    context = SegmentContext.of(orders=orders(people))
    rule = five_clauses()
    compiled = compile_rule(rule, at=AT, tz="Asia/Shanghai")
    aggregate = compile_rule(with_aggregate(), at=AT, tz="Asia/Shanghai")
    selected = len(compiled.ids(people))
    rows: list[tuple[str, float, float, float]] = []

    t = best(args.repeat, lambda: compiled.ids(people))
    rows.append(("memory, 5 attribute clauses", t, n / t, 1_000_000))
    t = best(args.repeat, lambda: aggregate.ids(people, context))
    rows.append(("memory, 4 clauses + last purchase", t, n / t, 1_000_000))

    frame = to_frame(people, documents=False).with_columns(
        pl.col(c).cast(pl.Categorical) for c in ("tier", "lifecycle_stage", "country")
    )
    frame_rule = compile_to_polars(rule, at=AT, tz="Asia/Shanghai")
    polars_selected = frame.filter(frame_rule.expression).height
    t = best(args.repeat, lambda: frame.filter(frame_rule.expression))
    rows.append(("polars, 5 attribute clauses", t, n / t, 20_000_000))

    plan: list[str] = []
    if args.postgres:
        t, plan = postgres(args.postgres, n)
        rows.append(("PostgreSQL pushdown, selective rule", t, n / t, 0))

    print(f"\n{n:,} customers; {selected:,} selected in memory, {polars_selected:,} by polars\n")
    print(f"{'backend':40} {'seconds':>9} {'rows/s':>14} {'target':>12} {'ratio':>7}")
    for name, seconds, rate, target in rows:
        ratio = f"{rate / target:6.1f}x" if target else "     -"
        target_text = f"{target:,.0f}" if target else "index"
        print(f"{name:40} {seconds:9.3f} {rate:14,.0f} {target_text:>12} {ratio:>7}")
    if plan:
        print("\nEXPLAIN (PostgreSQL) of owner = 'u-42' AND tier = 'vip' AND NOT tag churn-risk:")
        for line in plan:
            print("  " + line)


if __name__ == "__main__":
    main()
