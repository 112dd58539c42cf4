"""Properties of the CLV models' predictions and of the purchase summary."""

# ruff: noqa: N806  # `T` (a customer's age) is the name Fader, Hardie and lifetimes use

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from crmcore.analytics.clv import BgNbdFit, GammaGammaFit, ParetoNbdFit
from crmcore.analytics.summary import calibration_and_holdout, clv_summary

positive = st.floats(min_value=0.01, max_value=50.0, allow_nan=False)
shape = st.floats(min_value=0.05, max_value=20.0, allow_nan=False)


@st.composite
def customers(draw: st.DrawFn) -> tuple[list[int], list[float], list[float]]:
    """Valid (frequency, recency, T) columns of up to 20 customers (weeks)."""
    n = draw(st.integers(min_value=1, max_value=20))
    frequency, recency, ages = [], [], []
    for _ in range(n):
        # as clv_summary makes them: x repeat purchase days take at least x days (x / 7 weeks)
        x = draw(st.integers(min_value=0, max_value=100))
        T = draw(st.floats(min_value=x / 7, max_value=200.0, allow_nan=False))
        tx = 0.0 if x == 0 else draw(st.floats(min_value=x / 7, max_value=T, allow_nan=False))
        frequency.append(x)
        recency.append(tx)
        ages.append(T)
    return frequency, recency, ages


@st.composite
def transaction_models(draw: st.DrawFn) -> BgNbdFit | ParetoNbdFit:
    if draw(st.booleans()):
        return BgNbdFit(
            params={"r": draw(shape), "alpha": draw(positive), "a": draw(shape), "b": draw(shape)}
        )
    return ParetoNbdFit(
        params={"r": draw(shape), "alpha": draw(positive), "s": draw(shape), "beta": draw(positive)}
    )


@given(transaction_models(), customers())
def test_probability_alive_is_between_zero_and_one(
    model: BgNbdFit | ParetoNbdFit, summary: tuple[list[int], list[float], list[float]]
) -> None:
    alive = model.probability_alive(*summary)

    assert np.all((alive >= 0) & (alive <= 1))


@given(
    transaction_models(),
    customers(),
    st.floats(min_value=0.0, max_value=100.0),
    st.floats(min_value=0.0, max_value=100.0),
)
def test_expected_purchases_are_non_negative_and_grow_with_the_horizon(
    model: BgNbdFit | ParetoNbdFit,
    summary: tuple[list[int], list[float], list[float]],
    t: float,
    more: float,
) -> None:
    sooner = model.expected_purchases(t, *summary)
    later = model.expected_purchases(t + more, *summary)

    assert np.all(np.isfinite(sooner))
    assert np.all(sooner >= 0)
    assert np.all(later >= sooner * (1 - 1e-9) - 1e-12)


@given(transaction_models(), st.floats(min_value=0.0, max_value=100.0), positive)
def test_a_new_customers_expected_purchases_grow_from_zero(
    model: BgNbdFit | ParetoNbdFit, t: float, more: float
) -> None:
    values = model.expected_purchases_new_customer([0.0, t, t + more])

    assert values[0] == 0
    assert 0 <= values[1] <= values[2] * (1 + 1e-9) + 1e-12


@given(
    shape,
    st.floats(min_value=1.01, max_value=20.0),
    positive,
    st.lists(st.tuples(st.integers(0, 50), positive), min_size=1, max_size=20),
)
def test_expected_spend_lies_between_the_customer_mean_and_the_population_mean(
    p: float, q: float, v: float, history: list[tuple[int, float]]
) -> None:
    fit = GammaGammaFit(params={"p": p, "q": q, "v": v})
    frequency = [x for x, _ in history]
    spend = [z for _, z in history]
    population = p * v / (q - 1)

    expected = fit.expected_spend(frequency, spend)

    for x, z, e in zip(frequency, spend, expected, strict=True):
        mean = z if x > 0 else population
        assert min(mean, population) * (1 - 1e-9) <= e <= max(mean, population) * (1 + 1e-9)


START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
orders = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3", "c4"]),
        st.integers(min_value=0, max_value=100_000).map(lambda c: Decimal(c) / 100),
        st.sampled_from(["paid", "paid", "paid", "refunded", "cancelled"]),
        st.integers(min_value=0, max_value=60 * 24 * 3600).map(
            lambda s: START + dt.timedelta(seconds=s)
        ),
    ),
    max_size=40,
)


def frame(rows: list[tuple[str, Decimal, str, dt.datetime]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "amount": [r[1] for r in rows],
            "currency": ["CNY"] * len(rows),
            "status": [r[2] for r in rows],
            "ordered_at": [r[3] for r in rows],
        },
        schema={
            "customer_id": pl.String,
            "amount": pl.Decimal(38, 6),
            "currency": pl.String,
            "status": pl.String,
            "ordered_at": pl.Datetime("us", "UTC"),
        },
    )


@given(orders, st.integers(min_value=0, max_value=70))
def test_summary_invariants(
    rows: list[tuple[str, Decimal, str, dt.datetime]], end_offset: int
) -> None:
    end = START.date() + dt.timedelta(days=end_offset)
    counted = [r for r in rows if r[2] == "paid" and r[3].date() <= end]

    summary = clv_summary(frame(rows), observation_end=end, time_unit="D")

    assert sorted(summary["customer_id"]) == sorted({r[0] for r in counted})
    for row in summary.iter_rows(named=True):
        mine = [r for r in counted if r[0] == row["customer_id"]]
        days = sorted({r[3].date() for r in mine})
        assert row["frequency"] == len(days) - 1 <= len(mine) - 1
        assert 0 <= row["recency"] <= row["T"]
        assert row["T"] == (end - days[0]).days
        assert row["recency"] == (days[-1] - days[0]).days
        assert row["monetary_value"] >= 0
        if row["frequency"] == 0:
            assert row["recency"] == 0
            assert row["monetary_value"] == 0
        else:
            repeat = sum(r[1] for r in mine if r[3].date() != days[0])
            assert abs(row["monetary_value"] - float(repeat) / row["frequency"]) < 1e-9


@given(orders, st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=30))
def test_calibration_and_holdout_counts_every_purchase_day_once(
    rows: list[tuple[str, Decimal, str, dt.datetime]], cut: int, rest: int
) -> None:
    calibration_end = START.date() + dt.timedelta(days=cut)
    end = calibration_end + dt.timedelta(days=rest)
    paid = [r for r in rows if r[2] == "paid" and r[3].date() <= end]

    split = calibration_and_holdout(
        frame(rows), calibration_end=calibration_end, observation_end=end
    )

    cohort = {r[0] for r in paid if r[3].date() <= calibration_end}
    assert set(split["customer_id"]) == cohort
    days = {(r[0], r[3].date()) for r in paid if r[0] in cohort}
    assert (split["frequency_cal"] + 1 + split["frequency_holdout"]).sum() == len(days)
    assert split["duration_holdout"].to_list() == [rest / 7] * split.height
