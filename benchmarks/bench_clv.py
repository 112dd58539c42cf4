"""Benchmark predictive CLV: the purchase summary and the BG/NBD fit.

Run: ``python benchmarks/bench_clv.py [--customers 1000000] [--fit-customers 100000]``

* summary: ``--customers`` customers with 10 orders each on average (seeded synthetic
  orders frame, Decimal amounts, 6 % refunded or cancelled), summarised by
  ``crmcore.analytics.summary.clv_summary`` against a hand-written polars summary and a
  numpy summary of the same frame. The orders are written once to a Parquet file; each
  case runs in its own process that reads them (as an analyst loads them), so its peak
  resident memory (the kernel's high-water mark, reset after loading; it sees polars'
  allocations where tracemalloc does not) is its own. The table shows that peak, which
  includes the orders frame itself, and what the case added to the process that already
  held the orders. Targets: ≤ 5 s, ≤ 1.5 GB at 10M orders.
* fit: BG/NBD on the CDNOW sample (2,357 customers) and on ``--fit-customers`` customers
  simulated from the CDNOW estimates, by ``fit_bg_nbd`` against a naive fit (a Python
  loop over customers for the log-likelihood, L-BFGS-B with numeric gradients) and
  lifetimes' ``BetaGeoFitter`` when it is importable ('n/a' otherwise). Targets:
  ≤ 0.2 s on CDNOW, ≤ 0.5 s at 100k customers.

Prints two tables with ratios against the baselines measured in the same run.
"""

# ruff: noqa: N803, N806  # `T` (a customer's age) is the name Fader, Hardie and lifetimes use

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.optimize import minimize

from crmcore.analytics.clv import fit_bg_nbd
from crmcore.analytics.summary import clv_summary

END = dt.date(2025, 12, 31)
CDNOW = Path(__file__).parents[1] / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"
Array = npt.NDArray[np.float64]


def synthetic_orders(customers: int, per_customer: int = 10, seed: int = 14) -> pl.DataFrame:
    """Return a seeded orders frame of the frame contract (without ``id``)."""
    rng = np.random.default_rng(seed)
    n = customers * per_customer
    start = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
    raw = pl.DataFrame(
        {
            "customer": rng.integers(0, customers, n),
            "cents": rng.integers(100, 50_000, n),
            "status": rng.choice(3, n, p=[0.94, 0.03, 0.03]),
            "at": start + rng.integers(0, 730 * 86_400 * 10**6, n),
        }
    )
    return (
        raw.lazy()
        .select(
            pl.format("c{}", pl.col("customer")).alias("customer_id"),
            (pl.col("cents").cast(pl.Decimal(38, 6)) / 100).alias("amount"),
            pl.lit("CNY").alias("currency"),
            pl.col("status").replace_strict(
                {0: "paid", 1: "refunded", 2: "cancelled"}, return_dtype=pl.String
            ),
            pl.col("at").cast(pl.Datetime("us", "UTC")).alias("ordered_at"),
        )
        .collect()
    )


def polars_by_hand(orders: pl.DataFrame) -> pl.DataFrame:
    """The summary as an analyst writes it in polars (floats, no checks)."""
    day = pl.col("ordered_at").dt.date()
    daily = (
        orders.lazy()
        .filter((pl.col("status") == "paid") & (day <= END))
        .group_by("customer_id", day.alias("day"))
        .agg(pl.col("amount").cast(pl.Float64).sum())
    )
    return (
        daily.sort("day")
        .group_by("customer_id")
        .agg(
            frequency=pl.len() - 1,
            recency=(pl.col("day").max() - pl.col("day").min()).dt.total_days() / 7,
            T=(pl.lit(END) - pl.col("day").min()).dt.total_days() / 7,
            monetary_value=pl.col("amount").slice(1).mean().fill_null(0.0),
        )
        .collect()
    )


def numpy_by_hand(orders: pl.DataFrame) -> dict[str, Array]:
    """The summary in numpy: factorise, sort by (customer, day), reduce by segments."""
    paid = orders["status"].to_numpy() == "paid"
    codes = orders["customer_id"].cast(pl.Categorical).to_physical().to_numpy()[paid]
    micros = orders["ordered_at"].cast(pl.Int64).to_numpy()[paid]
    days = micros // (86_400 * 10**6)
    amounts = orders["amount"].cast(pl.Float64).to_numpy()[paid]
    end = (END - dt.date(1970, 1, 1)).days
    keep = days <= end
    codes, days, amounts = codes[keep], days[keep], amounts[keep]
    order = np.lexsort((days, codes))
    codes, days, amounts = codes[order], days[order], amounts[order]
    new_day = np.ones(codes.size, dtype=bool)
    new_day[1:] = (codes[1:] != codes[:-1]) | (days[1:] != days[:-1])
    starts = np.flatnonzero(new_day)
    day_codes, day_days = codes[starts], days[starts]
    day_amounts = np.add.reduceat(amounts, starts)
    first = np.ones(day_codes.size, dtype=bool)
    first[1:] = day_codes[1:] != day_codes[:-1]
    heads = np.flatnonzero(first)
    count = np.diff(np.append(heads, day_codes.size))
    totals = np.add.reduceat(day_amounts, heads)
    lasts = np.append(heads[1:], day_codes.size) - 1
    frequency = (count - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, (totals - day_amounts[heads]) / frequency, 0.0)
    return {
        "frequency": frequency,
        "recency": (day_days[lasts] - day_days[heads]) / 7.0,
        "T": (end - day_days[heads]) / 7.0,
        "monetary_value": monetary,
    }


SUMMARIES: dict[str, Callable[[pl.DataFrame], object]] = {
    "crmcore clv_summary": lambda orders: clv_summary(orders, observation_end=END),
    "hand-written polars": polars_by_hand,
    "numpy": numpy_by_hand,
}


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e3
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def run_case(name: str, customers: int, parquet: str | None = None) -> None:
    """Child process: load the orders, run one summary, print JSON.

    The orders are read from the Parquet file the parent wrote, as an analyst loads
    them: building them here would leave the generator's freed memory in the
    process and count it against the summary.
    """
    orders = pl.read_parquet(parquet) if parquet else synthetic_orders(customers)
    gc.collect()
    before = _rss_mb()
    reset = _reset_peak()
    started = time.perf_counter()
    result = SUMMARIES[name](orders)
    seconds = time.perf_counter() - started
    rows = result.height if isinstance(result, pl.DataFrame) else len(result["frequency"])  # type: ignore[index]
    # the peak while the summary ran (building the orders peaks higher, and is not its cost)
    peak = _peak_mb() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(json.dumps({"seconds": seconds, "peak": peak, "before": before, "rows": rows}))


def summary_table(customers: int) -> None:
    print(f"\nSummary: {customers * 10:,} orders of {customers:,} customers (one process each)")
    heads = ("time s", "peak RSS MB", "added MB", "rows", "x crmcore")
    print(
        f"{'case':<22} "
        + " ".join(f"{h:>{w}}" for h, w in zip(heads, (8, 12, 9, 10, 10), strict=True))
    )
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        parquet = str(Path(folder) / "orders.parquet")
        synthetic_orders(customers).write_parquet(parquet)
        for name in SUMMARIES:
            command = [sys.executable, __file__, "--case", name, "--customers", str(customers)]
            out = subprocess.run(  # noqa: S603 - this script, with our own arguments
                [*command, "--parquet", parquet],
                check=True,
                capture_output=True,
                text=True,
            )
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    ours = results["crmcore clv_summary"]["seconds"]
    for name, r in results.items():
        print(
            f"{name:<22} {r['seconds']:>8.2f} {r['peak']:>12,.0f} {r['peak'] - r['before']:>9,.0f}"
            f" {r['rows']:>10,} {r['seconds'] / ours:>10.2f}"
        )


def cdnow_summary() -> tuple[Array, Array, Array]:
    rows = [line.split() for line in CDNOW.read_text().splitlines()]
    orders = pl.DataFrame(
        {
            "customer_id": [r[1] for r in rows],
            "amount": [Decimal(r[4]) for r in rows],
            "currency": ["USD"] * len(rows),
            "status": ["paid"] * len(rows),
            "ordered_at": [
                dt.datetime.strptime(r[2], "%Y%m%d").replace(tzinfo=dt.UTC) for r in rows
            ],
        },
        schema_overrides={"amount": pl.Decimal(38, 6), "ordered_at": pl.Datetime("us", "UTC")},
    )
    s = clv_summary(orders, observation_end=dt.date(1997, 9, 30))
    return (
        s["frequency"].to_numpy().astype(np.float64),
        s["recency"].to_numpy(),
        s["T"].to_numpy(),
    )


def simulated_summary(customers: int, seed: int = 39) -> tuple[Array, Array, Array]:
    """Customers drawn from BG/NBD at the CDNOW estimates, ages 1..39 weeks, days / 7."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    rate = rng.gamma(r, 1 / alpha, customers)
    drop = rng.beta(a, b, customers)
    T = rng.integers(7, 274, customers) / 7.0
    x = np.zeros(customers)
    last = np.zeros(customers)
    now = np.zeros(customers)
    active = np.ones(customers, dtype=bool)
    while active.any():
        now[active] += rng.exponential(1 / np.maximum(rate[active], 1e-12))
        buys = active & (now <= T)
        x[buys] += 1
        last[buys] = now[buys]
        active = buys & (rng.random(customers) >= drop)
    tx = np.minimum(np.round(last * 7) / 7, T)
    return x, np.where(x > 0, tx, 0.0), T


def naive_fit(x: Array, tx: Array, T: Array) -> dict[str, float]:
    """BG/NBD the slow way: a Python loop per customer, numeric gradients."""
    rows = list(zip(x.tolist(), tx.tolist(), T.tolist(), strict=True))

    def nll(point: Array) -> float:
        r, alpha, a, b = (math.exp(v) for v in point)
        total = 0.0
        for xi, txi, Ti in rows:
            a1 = math.lgamma(r + xi) - math.lgamma(r) + r * math.log(alpha)
            a2 = math.lgamma(a + b) + math.lgamma(b + xi) - math.lgamma(b) - math.lgamma(a + b + xi)
            a3 = -(r + xi) * math.log(alpha + Ti)
            if xi > 0:
                a4 = math.log(a) - math.log(b + xi - 1) - (r + xi) * math.log(alpha + txi)
                high = max(a3, a4)
                total += a1 + a2 + high + math.log(math.exp(a3 - high) + math.exp(a4 - high))
            else:
                total += a1 + a2 + a3
        return -total

    result = minimize(nll, np.zeros(4), method="L-BFGS-B")
    return dict(zip(("r", "alpha", "a", "b"), np.exp(result.x).tolist(), strict=True))


def lifetimes_fit(x: Array, tx: Array, T: Array) -> dict[str, float] | None:
    try:
        from lifetimes import (  # type: ignore[import-not-found]  # noqa: PLC0415 - optional baseline
            BetaGeoFitter,
        )
    except ImportError:
        return None
    fitter = BetaGeoFitter().fit(x, tx, T)
    return {k: float(v) for k, v in fitter.params_.items()}


def best_of(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def fit_table(fit_customers: int, repeat: int, naive: bool) -> None:
    print("\nBG/NBD fit (best of repeats; naive and lifetimes once)")
    heads = ("customers", "crmcore s", "naive s", "lifetimes s", "naive x")
    print(
        f"{'data':<18} "
        + " ".join(f"{h:>{w}}" for h, w in zip(heads, (9, 10, 9, 12, 8), strict=True))
        + "  r, alpha, a, b"
    )
    for label, (x, tx, T) in (
        ("CDNOW", cdnow_summary()),
        ("simulated", simulated_summary(fit_customers)),
    ):
        data = (x, tx, T)
        ours, fit = best_of(repeat, partial(fit_bg_nbd, *data))
        naive_s = math.nan
        if naive:
            naive_s, _ = best_of(1, partial(naive_fit, *data))
        life_s, life = best_of(1, partial(lifetimes_fit, *data))
        life_text = "n/a" if life is None else f"{life_s:.3f}"
        params = ", ".join(f"{v:.3f}" for v in fit.params.values())  # type: ignore[attr-defined]
        print(
            f"{label:<18} {x.size:>9,} {ours:>10.3f} {naive_s:>9.2f} {life_text:>12}"
            f" {naive_s / ours:>8.1f}  {params}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--fit-customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-naive", action="store_true", help="skip the slow naive fit")
    parser.add_argument("--skip-summary", action="store_true")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--parquet", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.customers, args.parquet)
        return
    if not args.skip_summary:
        summary_table(args.customers)
    fit_table(args.fit_customers, args.repeat, not args.no_naive)


if __name__ == "__main__":
    main()
