"""Benchmark the analytics KPIs on generated frames; three of them against hand-written polars.

Run: ``python benchmarks/bench_kpis.py [--customers 20000] [--orders 200000] [--repeat 3]``
or ``python benchmarks/bench_kpis.py --db sqlite:///demo.sqlite`` (a ``crmcore demo`` database)

Builds seeded frames with the columns of the frame contract: ``customers``
customers (and a quarter as many opportunities, cases and survey answers), their
lifecycle, opportunity and case stage changes, and ``orders`` orders. Then, best of
``repeat``:

* every KPI of ``crmcore.analytics`` once — customer, sales, service and data
  quality (the duplicate rate from given clusters; ``--dedupe`` also runs
  ``crmcore.matching`` over the customers) — and their total, against the issue's
  budget of 2 s for the whole set on the demo database (2,000 contacts; run with
  ``--customers 2000 --orders 20000`` for that size);
* with ``--db URL`` the frames are read from a crmcore database instead
  (``read_frame`` and the event history's stage changes), and the KPIs are timed on
  them, with the time to read the frames;
* repeat-purchase rate, win rate and backlog, each against the same figure written
  by hand in polars in the same run (``ratio`` = crmcore ÷ hand-written; the
  hand-written versions skip the column checks and the result object).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pendulum
import polars as pl

from crmcore.analytics.customers import (
    NoPurchaseWithin,
    churn_rate,
    cohort_retention,
    customer_acquisition_cost,
    historical_clv,
    repeat_purchase_rate,
    retention_rate,
    stage_counts,
)
from crmcore.analytics.kpi import Period
from crmcore.analytics.quality import completeness, duplicate_rate, freshness, validity
from crmcore.analytics.sales import (
    sales_forecast,
    sales_velocity,
    stage_durations,
    stage_funnel,
    weighted_pipeline,
    win_rate,
)
from crmcore.analytics.service import (
    backlog,
    customer_effort_score,
    customer_satisfaction,
    first_response_time,
    net_promoter_score,
    reopen_rate,
    resolution_time,
    sla_attainment,
)
from crmcore.domain import Money
from crmcore.lifecycle import CUSTOMER_WORKFLOW, OPPORTUNITY_WORKFLOW, china_mainland

UTC = pl.Datetime("us", "UTC")
AT = pendulum.datetime(2026, 6, 1)
START = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
SPAN_US = int((AT - pendulum.instance(START)).total_seconds()) * 1_000_000
QUARTER = Period(pendulum.datetime(2026, 1, 1), pendulum.datetime(2026, 4, 1))
YEAR = Period(pendulum.datetime(2025, 6, 1), AT)


def instants(rng: np.random.Generator, n: int) -> pl.Series:
    micros = rng.integers(0, SPAN_US, n) + int(START.timestamp()) * 1_000_000
    return pl.Series(micros).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def later(rng: np.random.Generator, base: pl.Series, max_hours: int) -> pl.Series:
    delta = pl.Series(rng.integers(0, max_hours * 3_600_000_000, base.len())).cast(
        pl.Duration("us")
    )
    return base + delta


def frames(n: int, n_orders: int, seed: int = 7) -> dict[str, pl.DataFrame]:
    """Return seeded frames with the contract's columns."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i:07d}" for i in range(n)]
    stages = [str(s.name) for s in CUSTOMER_WORKFLOW.states]
    created = instants(rng, n)
    customers = pl.DataFrame(
        {
            "id": ids,
            "kind": rng.choice(["person", "organization"], n),
            "display_name": [f"客户{i}" for i in range(n)],
            "tier": rng.choice(["vip", "strategic", "ordinary", "potential"], n),
            "lifecycle_stage": rng.choice(stages, n),
            "source": rng.choice(["wechat", "website", "event", "referral"], n),
            "owner": rng.choice([f"u{i}" for i in range(20)], n),
            "team": rng.choice(["east", "west"], n),
            "country": rng.choice(["CN", "CN", "CN", "US"], n),
            "merged_into": pl.Series([None] * n, dtype=pl.String),
            "created_at": created,
            "updated_at": later(rng, created, 24 * 200),
            "primary_email": [f"c{i}@example.com" if i % 7 else "broken@" for i in range(n)],
            "primary_phone": [f"+86138{i:08d}" for i in range(n)],
            "company": pl.Series([None] * n, dtype=pl.String),
            "city": rng.choice(["上海", "北京", "深圳"], n),
        }
    )
    orders = pl.DataFrame(
        {
            "id": [f"o{i}" for i in range(n_orders)],
            "customer_id": rng.choice(ids, n_orders),
            "amount": pl.Series(
                [Decimal(int(a)) for a in rng.integers(10, 5_000, n_orders)],
                dtype=pl.Decimal(38, 6),
            ),
            "currency": "CNY",
            "status": rng.choice(["paid"] * 9 + ["refunded"], n_orders),
            "ordered_at": instants(rng, n_orders),
        }
    )
    moved = rng.choice(ids, n)
    lifecycle = pl.DataFrame(
        {
            "entity": "customer",
            "entity_id": moved,
            "workflow": "customer-lifecycle",
            "from_stage": rng.choice(stages, n),
            "to_stage": rng.choice(stages, n),
            "at": instants(rng, n),
        }
    )
    m = max(n // 4, 1)
    opp_ids = [f"p{i}" for i in range(m)]
    opp_stages = [str(s.name) for s in OPPORTUNITY_WORKFLOW.states]
    opp_created = instants(rng, m)
    opportunities = pl.DataFrame(
        {
            "id": opp_ids,
            "customer_id": rng.choice(ids, m),
            "stage": rng.choice(opp_stages, m),
            "amount": pl.Series(
                [Decimal(int(a)) for a in rng.integers(1_000, 90_000, m)], dtype=pl.Decimal(38, 6)
            ),
            "currency": "CNY",
            "owner": rng.choice([f"u{i}" for i in range(20)], m),
            "created_at": opp_created,
            "closed_at": later(rng, opp_created, 24 * 90),
            "expected_close": later(rng, opp_created, 24 * 120).dt.date(),
        }
    )
    steps = rng.integers(1, 6, m)
    sales_moves = pl.DataFrame(
        {
            "entity": "opportunity",
            "entity_id": np.repeat(opp_ids, steps),
            "workflow": "opportunity",
            "from_stage": rng.choice(opp_stages, int(steps.sum())),
            "to_stage": rng.choice(opp_stages, int(steps.sum())),
            "at": later(rng, opp_created.gather(np.repeat(np.arange(m), steps)), 24 * 60),
        }
    )
    opened = instants(rng, m)
    cases = pl.DataFrame(
        {
            "id": [f"k{i}" for i in range(m)],
            "customer_id": rng.choice(ids, m),
            "severity": rng.choice(["critical", "high", "medium", "low"], m),
            "channel": rng.choice(["phone", "email", "web"], m),
            "opened_at": opened,
            "first_response_at": later(rng, opened, 24 * 3),
            "resolved_at": later(rng, opened, 24 * 20),
            "closed_at": pl.Series([None] * m, dtype=UTC),
        }
    )
    case_moves = pl.DataFrame(
        {
            "entity": "case",
            "entity_id": cases["id"],
            "workflow": "case",
            "from_stage": "in_progress",
            "to_stage": rng.choice(["waiting_on_customer", "resolved"], m),
            "at": later(rng, opened, 24 * 5),
        }
    )
    responses = pl.DataFrame(
        {
            "id": [f"r{i}" for i in range(m)],
            "customer_id": rng.choice(ids, m),
            "nps": pl.Series(rng.integers(0, 11, m), dtype=pl.Int64),
            "csat": pl.Series(rng.integers(1, 6, m), dtype=pl.Int64),
            "ces": pl.Series(rng.integers(1, 8, m), dtype=pl.Int64),
            "responded_at": instants(rng, m),
        }
    )
    return {
        "customers": customers,
        "orders": orders,
        "stage_changes": pl.concat([lifecycle, sales_moves, case_moves]),
        "opportunities": opportunities,
        "cases": cases,
        "responses": responses,
    }


def database_frames(url: str) -> tuple[dict[str, pl.DataFrame], float]:
    """Return the frames of a crmcore database, and the seconds it took to read them."""
    from crmcore.adapters.frames import stage_changes_frame  # noqa: PLC0415 - only with --db
    from crmcore.adapters.sql import SqlStore, create_engine  # noqa: PLC0415 - only with --db
    from crmcore.adapters.sql.frames import read_frame  # noqa: PLC0415 - only with --db

    start = time.perf_counter()
    engine = create_engine(url)
    names = {
        "customers": "customers",
        "orders": "orders",
        "opportunities": "opportunities",
        "cases": "cases",
        "responses": "survey_responses",
    }
    out = {key: read_frame(engine, table) for key, table in names.items()}
    with SqlStore(engine).unit_of_work() as uow:
        out["stage_changes"] = stage_changes_frame(uow.history.events(types=["StageChanged"]))
    return out, time.perf_counter() - start


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def every_kpi(
    data: dict[str, pl.DataFrame], *, dedupe: bool, at: pendulum.DateTime = AT
) -> list[tuple[str, float]]:
    """Run every KPI once over the year and the quarter before ``at``; return (name, seconds)."""
    end = at.start_of("month")
    year, quarter = Period(end.subtract(years=1), end), Period(end.subtract(months=3), end)
    customers, orders, changes = data["customers"], data["orders"], data["stage_changes"]
    opportunities, cases, responses = data["opportunities"], data["cases"], data["responses"]
    calendar = china_mainland()
    clusters = {"c0000000": "c0000000", "c0000001": "c0000000"}
    spend = {"wechat": Money("50000", "CNY"), "event": Money("20000", "CNY")}
    runs: list[tuple[str, Callable[[], object]]] = [
        ("stage counts (monthly, 1 year)", lambda: stage_counts(customers, changes, period=year)),
        (
            "churn rate (churned stage)",
            lambda: churn_rate(customers, period=quarter, stage_changes=changes),
        ),
        (
            "churn rate (no purchase in 90 d)",
            lambda: churn_rate(
                customers, period=quarter, lost=NoPurchaseWithin(days=90), orders=orders
            ),
        ),
        (
            "retention rate by tier",
            lambda: retention_rate(customers, period=quarter, stage_changes=changes, by="tier"),
        ),
        ("cohort retention (1 year)", lambda: cohort_retention(customers, orders, period=year)),
        ("repeat-purchase rate", lambda: repeat_purchase_rate(orders, period=quarter)),
        ("CAC per channel", lambda: customer_acquisition_cost(customers, spend, period=quarter)),
        ("historical CLV by tier", lambda: historical_clv(customers, orders, at=at)),
        ("opportunity funnel", lambda: stage_funnel(changes, period=year)),
        ("time in stage", lambda: stage_durations(changes, period=year)),
        ("win rate by owner", lambda: win_rate(opportunities, period=year, by="owner")),
        ("sales velocity", lambda: sales_velocity(opportunities, period=year)),
        ("weighted pipeline", lambda: weighted_pipeline(opportunities, at=at)),
        ("forecast by category", lambda: sales_forecast(opportunities, period=quarter)),
        (
            "first response (CN calendar)",
            lambda: first_response_time(
                cases, period=year, calendar=calendar, stage_changes=changes
            ),
        ),
        (
            "resolution time (CN calendar)",
            lambda: resolution_time(cases, period=year, calendar=calendar, stage_changes=changes),
        ),
        (
            "SLA attainment (CN calendar)",
            lambda: sla_attainment(cases, period=year, calendar=calendar, stage_changes=changes),
        ),
        ("backlog (monthly)", lambda: backlog(cases, period=year)),
        ("reopen rate", lambda: reopen_rate(changes, period=year)),
        ("NPS", lambda: net_promoter_score(responses, period=year)),
        ("CSAT", lambda: customer_satisfaction(responses, period=year)),
        ("CES", lambda: customer_effort_score(responses, period=year)),
        ("completeness", lambda: completeness(customers)),
        ("validity", lambda: validity(customers)),
        ("duplicate rate (given clusters)", lambda: duplicate_rate(customers, clusters=clusters)),
        ("freshness", lambda: freshness(customers, at=at)),
    ]
    if dedupe:
        runs.append(("duplicate rate (crmcore.matching)", lambda: duplicate_rate(customers)))
    out = []
    for name, run in runs:
        start = time.perf_counter()
        run()
        out.append((name, time.perf_counter() - start))
    return out


def hand_repeat(orders: pl.DataFrame) -> float:
    start, end = QUARTER.start, QUARTER.end
    per = (
        orders.filter(
            (pl.col("status") == "paid")
            & (pl.col("ordered_at") >= start)
            & (pl.col("ordered_at") < end)
        )
        .group_by("customer_id")
        .len()
    )
    return float((per["len"] >= 2).sum() / per.height)


def hand_win_rate(opportunities: pl.DataFrame) -> pl.DataFrame:
    return (
        opportunities.filter(
            (pl.col("closed_at") >= YEAR.start)
            & (pl.col("closed_at") < YEAR.end)
            & pl.col("stage").is_in(["won", "after_sales", "lost"])
        )
        .group_by("owner")
        .agg(pl.col("stage").is_in(["won", "after_sales"]).mean().alias("win_rate"))
    )


def hand_backlog(cases: pl.DataFrame) -> pl.DataFrame:
    ends = pl.DataFrame({"end": [instant.end for instant in YEAR.buckets("month")]}).with_columns(
        pl.col("end").dt.cast_time_unit("us")
    )
    return (
        cases.join(ends, how="cross")
        .filter(
            (pl.col("opened_at") < pl.col("end"))
            & (pl.col("resolved_at").is_null() | (pl.col("resolved_at") >= pl.col("end")))
            & (pl.col("closed_at").is_null() | (pl.col("closed_at") >= pl.col("end")))
        )
        .group_by("end")
        .len()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dedupe", action="store_true", help="also run crmcore.matching")
    parser.add_argument("--db", default="", help="read the frames from this crmcore database")
    args = parser.parse_args()
    if args.db:
        data, seconds = database_frames(args.db)
        sizes = ", ".join(f"{len(frame):,} {name}" for name, frame in data.items())
        print(f"read {sizes} from {args.db} in {seconds:.3f} s", flush=True)
    else:
        print(f"building {args.customers:,} customers and {args.orders:,} orders …", flush=True)
        data = frames(args.customers, args.orders)
    at = AT
    if args.db:
        latest = data["customers"]["updated_at"].max()
        at = pendulum.instance(latest).add(days=1) if isinstance(latest, dt.datetime) else AT
    every_kpi(data, dedupe=False, at=at)  # warm up (imports, calendar caches)

    runs = [every_kpi(data, dedupe=args.dedupe, at=at) for _ in range(args.repeat)]
    fastest = {name: min(r[i][1] for r in runs) for i, (name, _) in enumerate(runs[0])}
    totals = [sum(t for _, t in r) for r in runs]
    print(f"\n{'KPI':40} {'seconds':>9}")
    for name, seconds in fastest.items():
        print(f"{name:40} {seconds:9.3f}")
    print(f"{'every KPI above (best total)':40} {min(totals):9.3f}   budget 2.000 s")

    orders, opportunities, cases = data["orders"], data["opportunities"], data["cases"]
    pairs: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "repeat-purchase rate",
            lambda: repeat_purchase_rate(orders, period=QUARTER),
            lambda: hand_repeat(orders),
        ),
        (
            "win rate by owner",
            lambda: win_rate(opportunities, period=YEAR, by="owner"),
            lambda: hand_win_rate(opportunities),
        ),
        ("backlog (monthly)", lambda: backlog(cases, period=YEAR), lambda: hand_backlog(cases)),
    ]
    print(f"\n{'KPI vs hand-written polars':40} {'crmcore':>9} {'by hand':>9} {'ratio':>7}")
    for name, ours, theirs in pairs:
        a, b = best(args.repeat, ours), best(args.repeat, theirs)
        print(f"{name:40} {a:9.4f} {b:9.4f} {a / b:6.2f}x")


if __name__ == "__main__":
    main()
