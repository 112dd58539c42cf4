"""Predictive CLV: the summary, BG/NBD, Pareto/NBD, Gamma-Gamma and the holdout evaluation.

The likelihoods are checked against forms computed here independently (the
original BG/NBD expression with beta functions, the Pareto/NBD likelihood as
an integral over the death time, the Gamma-Gamma likelihood as an integral
over the customer's spend rate); the fits against Fader and Hardie's
published CDNOW estimates.
"""

# ruff: noqa: N803, N806  # `T` (a customer's age) is the name Fader, Hardie and lifetimes use

from __future__ import annotations

import datetime as dt
import math
import pickle
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.integrate import quad

from crmcore.analytics import clv as clv_module
from crmcore.analytics.clv import (
    BgNbdFit,
    GammaGammaFit,
    ParetoNbdFit,
    bg_nbd_log_likelihood,
    evaluate_holdout,
    fit_bg_nbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
    gamma_gamma_log_likelihood,
    pareto_nbd_log_likelihood,
)
from crmcore.analytics.summary import SUMMARY_SCHEMA, calibration_and_holdout, clv_summary
from crmcore.errors import InvalidValueError, ModelFitError

CDNOW = Path(__file__).parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = dt.date(1997, 9, 30)
HOLDOUT_END = dt.date(1998, 6, 30)


def cdnow_orders() -> pl.DataFrame:
    """Read the CDNOW sample (one line per purchase) as an orders frame."""
    rows = [line.split() for line in CDNOW.read_text().splitlines()]
    return pl.DataFrame(
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


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    return clv_summary(cdnow_orders(), observation_end=CALIBRATION_END)


def orders_frame(*rows: tuple[str, str, str, str, dt.datetime]) -> pl.DataFrame:
    """Build an orders frame from (customer_id, amount, currency, status, ordered_at) rows."""
    return pl.DataFrame(
        {
            "id": [f"o{i}" for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "amount": [Decimal(r[1]) for r in rows],
            "currency": [r[2] for r in rows],
            "status": [r[3] for r in rows],
            "ordered_at": [r[4] for r in rows],
        },
        schema_overrides={"amount": pl.Decimal(38, 6), "ordered_at": pl.Datetime("us", "UTC")},
    )


def at(day: int, hour: int = 12, month: int = 1) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


# --- log-likelihoods against independent forms ------------------------------------------

TINY = ([0, 1, 3], [0.0, 2.5, 7.0], [4.0, 6.0, 8.0])


def bg_nbd_original_form(
    x: int, tx: float, T: float, *, r: float, alpha: float, a: float, b: float
) -> float:
    """Fader, Hardie and Lee (2005), eq. 6: the likelihood with beta functions."""

    def beta(u: float, v: float) -> float:
        return math.exp(math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v))

    gamma_part = math.exp(math.lgamma(r + x) - math.lgamma(r)) * alpha**r
    alive = beta(a, b + x) / beta(a, b) * gamma_part / (alpha + T) ** (r + x)
    dead = 0.0
    if x > 0:
        dead = beta(a + 1, b + x - 1) / beta(a, b) * gamma_part / (alpha + tx) ** (r + x)
    return math.log(alive + dead)


def test_bg_nbd_log_likelihood_matches_the_beta_function_form_on_a_tiny_dataset() -> None:
    params = {"r": 0.5, "alpha": 3.0, "a": 0.8, "b": 2.5}
    expected = sum(bg_nbd_original_form(x, tx, T, **params) for x, tx, T in zip(*TINY, strict=True))

    actual = bg_nbd_log_likelihood(*TINY, **params)

    assert actual == pytest.approx(expected, rel=1e-12)


def test_bg_nbd_log_likelihood_of_one_new_customer_is_log_one_half_at_unit_parameters() -> None:
    # x = 0, T = 1, r = alpha = a = b = 1: (alpha / (alpha + T))^r = 1/2.
    assert bg_nbd_log_likelihood([0], [0], [1], r=1, alpha=1, a=1, b=1) == pytest.approx(
        math.log(0.5)
    )


def pareto_nbd_integral_form(
    x: int, tx: float, T: float, *, r: float, alpha: float, s: float, beta: float
) -> float:
    """The Pareto/NBD likelihood as alive-at-T plus death at y in (tx, T], integrated by quad.

    L = Γ(r+x) α^r β^s / Γ(r) [(α+T)^-(r+x) (β+T)^-s + ∫ s (α+y)^-(r+x) (β+y)^-(s+1) dy],
    with (α+tx)^-(r+x) taken out of the bracket so that nothing overflows.
    """
    log_head = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)
    log_head -= (r + x) * math.log(alpha + tx)
    alive = ((alpha + tx) / (alpha + T)) ** (r + x) * (beta + T) ** -s
    died, _error = quad(
        lambda y: s * ((alpha + tx) / (alpha + y)) ** (r + x) * (beta + y) ** -(s + 1),
        tx,
        T,
        epsabs=0,
        limit=200,
    )
    return log_head + math.log(alive + died)


@pytest.mark.parametrize(
    "params",
    [
        {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7},  # alpha < beta
        {"r": 1.3, "alpha": 9.0, "s": 0.4, "beta": 2.0},  # alpha > beta
        {"r": 2.0, "alpha": 4.0, "s": 1.5, "beta": 4.0},  # alpha == beta
    ],
)
def test_pareto_nbd_log_likelihood_matches_the_integral_over_the_death_time(
    params: dict[str, float],
) -> None:
    expected = sum(
        pareto_nbd_integral_form(x, tx, T, **params) for x, tx, T in zip(*TINY, strict=True)
    )

    actual = pareto_nbd_log_likelihood(*TINY, **params)

    assert actual == pytest.approx(expected, rel=1e-9)


def test_pareto_nbd_log_likelihood_stays_finite_where_the_plain_hypergeometric_overflows() -> None:
    # x = 300 and beta >> alpha: 2F1(r+s+x, r+x; r+s+x+1; z) itself is about 1e400.
    params = {"r": 2.0, "alpha": 1.0, "s": 0.5, "beta": 3000.0}
    expected = pareto_nbd_integral_form(300, 5.0, 40.0, **params)

    actual = pareto_nbd_log_likelihood([300], [5.0], [40.0], **params)

    assert actual == pytest.approx(expected, rel=1e-9)


def gamma_gamma_integral_form(x: int, z: float, p: float, q: float, v: float) -> float:
    """The density of the mean of x gamma(p, nu) spends, integrated over nu ~ gamma(q, v)."""

    def joint(nu: float) -> float:
        # the mean of x gamma(p, nu) values is gamma(p x, nu x)
        shape, rate = p * x, nu * x
        log_mean = shape * math.log(rate) + (shape - 1) * math.log(z) - rate * z
        log_nu = q * math.log(v) + (q - 1) * math.log(nu) - v * nu
        return math.exp(log_mean - math.lgamma(shape) + log_nu - math.lgamma(q))

    value, _error = quad(joint, 0, math.inf, epsabs=0, limit=200)
    return math.log(value)


def test_gamma_gamma_log_likelihood_matches_the_integral_over_the_spend_rate() -> None:
    x, z = [1, 2, 4], [10.0, 22.35, 5.5]
    params = {"p": 6.25, "q": 3.74, "v": 15.44}
    expected = sum(gamma_gamma_integral_form(xi, zi, **params) for xi, zi in zip(x, z, strict=True))

    actual = gamma_gamma_log_likelihood([*x, 0], [*z, 0.0], **params)

    assert actual == pytest.approx(expected, rel=1e-9)


# --- CDNOW: the published estimates -----------------------------------------------------


def test_cdnow_summary_has_the_2357_customers_and_946_repeat_buyers(cdnow: pl.DataFrame) -> None:
    assert cdnow.schema == pl.Schema(SUMMARY_SCHEMA)
    assert cdnow.height == 2357
    assert cdnow.filter(pl.col("frequency") > 0).height == 946
    first = cdnow.row(0, named=True)  # bought on 1997-01-01, 01-18 and 08-02
    assert first["frequency"] == 2
    assert first["recency"] == pytest.approx(213 / 7)
    assert first["T"] == pytest.approx(272 / 7)
    assert first["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


def test_bg_nbd_reproduces_fader_hardie_lee_on_cdnow(cdnow: pl.DataFrame) -> None:
    fit = fit_bg_nbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])

    assert {k: round(v, 3) for k, v in fit.params.items()} == {
        "r": 0.243,
        "alpha": 4.414,
        "a": 0.793,
        "b": 2.426,
    }
    assert round(fit.log_likelihood, 1) == -9582.4
    assert fit.converged
    assert fit.usable
    assert fit.at_bound == ()
    assert fit.customers == 2357
    assert all(0 < se < math.inf for se in fit.standard_errors.values())


def test_bg_nbd_conditional_expectation_matches_the_published_example() -> None:
    fit = BgNbdFit(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})

    # Fader, Hardie and Lee: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in 39 weeks
    expected = fit.expected_purchases(39, [2], [30.43], [38.86])

    assert round(float(expected[0]), 3) == 1.226


def test_gamma_gamma_reproduces_fader_hardie_on_cdnow(cdnow: pl.DataFrame) -> None:
    fit = fit_gamma_gamma(cdnow["frequency"], cdnow["monetary_value"])

    # published to two decimals: p = 6.25, q = 3.74, v = 15.44
    assert {k: round(v, 2) for k, v in fit.params.items()} == {"p": 6.25, "q": 3.74, "v": 15.44}
    assert fit.customers == 946
    assert fit.usable


def test_pareto_nbd_reproduces_fader_hardie_on_cdnow(cdnow: pl.DataFrame) -> None:
    fit = fit_pareto_nbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])

    # "A Note on Deriving the Pareto/NBD Model": r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67
    assert {k: round(v, 2) for k, v in fit.params.items()} == {
        "r": 0.55,
        "alpha": 10.58,
        "s": 0.61,
        "beta": 11.67,
    }
    assert round(fit.log_likelihood, 1) == -9595.0
    assert fit.usable


def test_cdnow_holdout_has_the_1882_published_repeat_purchases_and_bg_beats_baselines() -> None:
    split = calibration_and_holdout(
        cdnow_orders(), calibration_end=CALIBRATION_END, observation_end=HOLDOUT_END
    )
    fit = fit_bg_nbd(split["frequency_cal"], split["recency_cal"], split["T_cal"])

    evaluation = evaluate_holdout(
        fit,
        split["frequency_cal"],
        split["recency_cal"],
        split["T_cal"],
        actual=split["frequency_holdout"],
        duration=split["duration_holdout"],
    )

    assert split.height == 2357
    assert split["duration_holdout"].unique().to_list() == [39.0]
    assert evaluation.actual_total == 1882
    assert evaluation.beats_baselines


def test_fits_are_deterministic_and_accept_lists_arrays_and_series(cdnow: pl.DataFrame) -> None:
    columns = [cdnow["frequency"], cdnow["recency"], cdnow["T"]]

    from_series = fit_bg_nbd(*columns)
    from_arrays = fit_bg_nbd(*(c.to_numpy() for c in columns))
    from_lists = fit_bg_nbd(*(c.to_list() for c in columns))

    assert from_series.params == from_arrays.params == from_lists.params


# --- predictions ------------------------------------------------------------------------


def test_probability_alive_is_one_without_repeat_purchases_and_matches_the_closed_form() -> None:
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    fit = BgNbdFit(params={"r": r, "alpha": alpha, "a": a, "b": b})
    x, tx, T = 2, 30.43, 38.86
    expected = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))

    alive = fit.probability_alive([0, x], [0, tx], [T, T])

    assert alive.tolist() == pytest.approx([1.0, expected])


def test_pareto_nbd_expected_purchases_of_a_new_customer_matches_the_closed_form() -> None:
    r, alpha, s, beta = 0.553, 10.578, 0.606, 11.669
    fit = ParetoNbdFit(params={"r": r, "alpha": alpha, "s": s, "beta": beta})
    expected = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + 39)) ** (s - 1))

    assert fit.expected_purchases_new_customer(39).tolist() == pytest.approx([expected])


def test_gamma_gamma_expected_spend_weights_the_customer_mean_against_the_population_mean() -> None:
    p, q, v = 6.25, 3.74, 15.44
    fit = GammaGammaFit(params={"p": p, "q": q, "v": v})
    population = p * v / (q - 1)
    weight = p * 3 / (p * 3 + q - 1)

    spend = fit.expected_spend([0, 3], [0.0, 40.0])

    assert spend.tolist() == pytest.approx([population, (1 - weight) * population + weight * 40])


def test_predicted_clv_over_one_period_is_discounted_spend_times_expected_purchases() -> None:
    bg = BgNbdFit(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    gg = GammaGammaFit(params={"p": 6.25, "q": 3.74, "v": 15.44})
    summary = ([2, 0], [30.43, 0.0], [38.86, 20.0])
    spend = gg.expected_spend([2, 0], [22.35, 0.0])
    purchases = bg.expected_purchases(4.0, *summary)

    clv = bg.predicted_clv(
        *summary, [22.35, 0.0], spend=gg, periods=1, period_length=4.0, discount_rate=0.1
    )

    assert clv.tolist() == pytest.approx((spend * purchases / 1.1).tolist())


def test_predicted_clv_grows_with_the_horizon_and_falls_with_the_discount_rate() -> None:
    bg = BgNbdFit(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    gg = GammaGammaFit(params={"p": 6.25, "q": 3.74, "v": 15.44})
    summary = ([2], [30.43], [38.86], [22.35])

    def clv(periods: int, rate: float) -> float:
        value = bg.predicted_clv(
            *summary, spend=gg, periods=periods, period_length=30 / 7, discount_rate=rate
        )
        return float(value[0])

    assert clv(6, 0.01) < clv(12, 0.01)
    assert clv(12, 0.05) < clv(12, 0.01)


def test_evaluate_holdout_computes_model_zero_and_naive_rate_errors_by_hand() -> None:
    fit = BgNbdFit(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    x, tx, T, actual = [2, 0], [30.43, 0.0], [38.86, 20.0], [1, 2]
    predicted = fit.expected_purchases(10.0, x, tx, T)
    naive = np.array([2 / 38.86 * 10, 0.0])

    evaluation = evaluate_holdout(fit, x, tx, T, actual=actual, duration=10.0)

    assert evaluation.customers == 2
    assert evaluation.actual_total == 3
    assert evaluation.predicted_total == pytest.approx(predicted.sum())
    assert evaluation.zero_mae == 1.5
    assert evaluation.zero_rmse == pytest.approx(math.sqrt((1 + 4) / 2))
    assert evaluation.naive_mae == pytest.approx(np.mean(np.abs(naive - actual)))
    assert evaluation.model_rmse == pytest.approx(np.sqrt(np.mean((predicted - actual) ** 2)))


# --- flagged fits -----------------------------------------------------------------------


def test_a_fit_with_no_repeat_purchases_is_at_a_bound_and_raises_model_fit_error() -> None:
    frequency, recency, T = [0] * 50, [0.0] * 50, [float(10 + i) for i in range(50)]

    with pytest.raises(ModelFitError, match=r"BG/NBD fit failed: .* at a bound") as caught:
        fit_bg_nbd(frequency, recency, T)

    flagged = fit_bg_nbd(frequency, recency, T, strict=False)
    assert flagged.at_bound
    assert not flagged.usable
    assert isinstance(caught.value.fit, BgNbdFit)
    assert caught.value.fit.at_bound == flagged.at_bound


def test_model_fit_error_pickles_with_its_fields() -> None:
    error = ModelFitError("Gamma-Gamma", "q at a bound")

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  # our own bytes, just made

    assert (copy.model, copy.reason, copy.fit, str(copy)) == (
        "Gamma-Gamma",
        "q at a bound",
        None,
        "Gamma-Gamma fit failed: q at a bound",
    )


# --- invalid input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "field", "reason"),
    [
        ([1, -1], [1.0, 0.0], [2.0, 2.0], "frequency[1]", "must not be negative"),
        ([1, 1.5], [1.0, 1.0], [2.0, 2.0], "frequency[1]", "whole number"),
        ([1, 1], [1.0, float("nan")], [2.0, 2.0], "recency[1]", "finite"),
        ([1, 1], [1.0, 3.0], [2.0, 2.0], "recency[1]", "must not exceed T"),
        ([1, 0], [1.0, 0.5], [2.0, 2.0], "recency[1]", "must be 0 when frequency is 0"),
        ([0, 0], [0.0, 0.0], [2.0, -1.0], "recency[1]", "must not exceed T"),
        ([0, 0], [0.0, 0.0], [2.0, math.inf], "T[1]", "finite"),
        ([1, 1], [1.0, 1.0], [2.0], "T", "frequency has 2"),
        ([], [], [], "frequency", "no customers"),
        (["a"], [0.0], [1.0], "frequency", "not numbers"),
        ([[1]], [[0.0]], [[1.0]], "frequency", "one-dimensional"),
    ],
)
def test_invalid_summary_arrays_name_the_array_and_the_index(
    frequency: list[object], recency: list[object], T: list[object], field: str, reason: str
) -> None:
    for fit in (fit_bg_nbd, fit_pareto_nbd):
        with pytest.raises(InvalidValueError, match=reason) as caught:
            fit(frequency, recency, T)  # type: ignore[arg-type]  # bad input on purpose
        assert caught.value.field == field


def test_a_null_in_a_polars_series_is_reported_at_its_index() -> None:
    with pytest.raises(InvalidValueError) as caught:
        fit_bg_nbd(pl.Series([1, None, 2]), [1.0, 0.0, 1.0], [2.0, 2.0, 2.0])

    assert caught.value.field == "frequency[1]"


def test_gamma_gamma_needs_positive_spend_from_repeat_customers_and_at_least_one() -> None:
    with pytest.raises(InvalidValueError) as caught:
        fit_gamma_gamma([1, 2], [10.0, 0.0])
    assert caught.value.field == "monetary_value[1]"

    with pytest.raises(InvalidValueError, match="no repeat customers"):
        fit_gamma_gamma([0, 0], [0.0, 0.0])

    with pytest.raises(InvalidValueError) as caught:
        fit_gamma_gamma([1, 2], [10.0, -3.0])
    assert caught.value.field == "monetary_value[1]"


def test_a_fit_built_by_hand_needs_exactly_the_models_positive_parameters() -> None:
    with pytest.raises(InvalidValueError, match=r"needs \['r', 'alpha', 'a', 'b'\]"):
        BgNbdFit(params={"r": 1.0, "alpha": 1.0, "a": 1.0})
    with pytest.raises(InvalidValueError, match="must be positive"):
        GammaGammaFit(params={"p": 1.0, "q": -1.0, "v": 1.0})


def test_expected_spend_is_refused_when_the_population_mean_is_infinite() -> None:
    fit = GammaGammaFit(params={"p": 2.0, "q": 0.9, "v": 10.0})

    with pytest.raises(InvalidValueError, match="q <= 1"):
        fit.expected_spend([1], [10.0])


def test_predicted_clv_checks_its_arguments() -> None:
    bg = BgNbdFit(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    gg = GammaGammaFit(params={"p": 6.25, "q": 3.74, "v": 15.44})

    with pytest.raises(InvalidValueError) as caught:
        bg.predicted_clv(
            [1], [1.0], [2.0], [5.0], spend=gg, periods=0, period_length=1.0, discount_rate=0.0
        )
    assert caught.value.field == "periods"
    with pytest.raises(InvalidValueError) as caught:
        bg.predicted_clv(
            [1], [1.0], [2.0], [5.0], spend=gg, periods=1, period_length=-1.0, discount_rate=0.0
        )
    assert caught.value.field == "period_length"


# --- the summary ------------------------------------------------------------------------


def test_summary_combines_same_day_orders_and_skips_refunds_cancellations_and_later_orders() -> (
    None
):
    orders = orders_frame(
        ("c1", "10", "CNY", "paid", at(1, 9)),
        ("c1", "4", "CNY", "paid", at(8, 9)),
        ("c1", "6", "CNY", "paid", at(8, 18)),  # same day: one purchase of 10
        ("c1", "99", "CNY", "refunded", at(10)),
        ("c1", "20", "CNY", "paid", at(15)),
        ("c1", "50", "CNY", "paid", at(30)),  # after the observation
        ("c2", "7", "CNY", "cancelled", at(2)),  # never bought: no row
        ("c3", "3.5", "CNY", "paid", at(22)),
    )

    summary = clv_summary(orders, observation_end=dt.date(2026, 1, 29), time_unit="D")

    assert summary.rows() == [("c1", 2, 14.0, 28.0, 15.0), ("c3", 0, 0.0, 7.0, 0.0)]


def test_summary_in_weeks_divides_days_by_seven() -> None:
    orders = orders_frame(("c1", "10", "CNY", "paid", at(1)), ("c1", "5", "CNY", "paid", at(11)))

    summary = clv_summary(orders, observation_end=dt.date(2026, 1, 15))

    assert summary.rows() == [("c1", 1, 10 / 7, 2.0, 5.0)]


def test_summary_counts_calendar_days_in_the_time_zone_given() -> None:
    # 23:30 and 00:30 UTC are one Shanghai day (07:30 and 08:30), two UTC days
    orders = orders_frame(
        ("c1", "10", "CNY", "paid", dt.datetime(2026, 1, 1, 23, 30, tzinfo=dt.UTC)),
        ("c1", "5", "CNY", "paid", dt.datetime(2026, 1, 2, 0, 30, tzinfo=dt.UTC)),
    )
    end = dt.date(2026, 1, 10)

    assert clv_summary(orders, observation_end=end)["frequency"].to_list() == [1]
    assert clv_summary(orders, observation_end=end, tz="Asia/Shanghai")["frequency"].to_list() == [
        0
    ]


def test_summary_refuses_mixed_currencies_unless_one_is_chosen() -> None:
    orders = orders_frame(
        ("c1", "10", "CNY", "paid", at(1)),
        ("c1", "5", "USD", "paid", at(3)),
        ("c2", "8", "CNY", "paid", at(4)),
    )
    end = dt.date(2026, 1, 10)

    with pytest.raises(InvalidValueError, match="several currencies") as caught:
        clv_summary(orders, observation_end=end)
    assert caught.value.value == ["CNY", "USD"]

    chosen = clv_summary(orders, observation_end=end, currency="CNY")
    assert chosen["customer_id"].to_list() == ["c1", "c2"]
    assert chosen["frequency"].to_list() == [0, 0]
    assert chosen["T"].to_list() == pytest.approx([9 / 7, 6 / 7])


def test_summary_ignores_the_currency_of_refunded_orders() -> None:
    orders = orders_frame(("c1", "10", "CNY", "paid", at(1)), ("c1", "5", "USD", "refunded", at(3)))

    assert clv_summary(orders, observation_end=dt.date(2026, 1, 10)).height == 1


def test_summary_names_the_row_of_a_negative_or_null_value() -> None:
    orders = orders_frame(("c1", "10", "CNY", "paid", at(1)), ("c2", "-5", "CNY", "paid", at(3)))
    with pytest.raises(InvalidValueError, match="must not be negative") as caught:
        clv_summary(orders, observation_end=dt.date(2026, 1, 10))
    assert caught.value.field == "orders[1].amount"

    nulls = orders_frame(("c1", "10", "CNY", "paid", at(1))).vstack(
        pl.DataFrame(
            {
                "id": ["o9"],
                "customer_id": [None],
                "amount": [Decimal(1)],
                "currency": ["CNY"],
                "status": ["paid"],
                "ordered_at": [at(2)],
            },
            schema=orders.schema,
        )
    )
    with pytest.raises(InvalidValueError) as caught:
        clv_summary(nulls, observation_end=dt.date(2026, 1, 10))
    assert caught.value.field == "orders[1].customer_id"


def test_summary_checks_the_frame_and_its_arguments() -> None:
    orders = orders_frame(("c1", "10", "CNY", "paid", at(1)))
    end = dt.date(2026, 1, 10)

    with pytest.raises(InvalidValueError, match=r"missing column.*status"):
        clv_summary(orders.drop("status"), observation_end=end)
    with pytest.raises(InvalidValueError, match="aware Datetime"):
        clv_summary(
            orders.with_columns(pl.col("ordered_at").dt.replace_time_zone(None)),
            observation_end=end,
        )
    with pytest.raises(InvalidValueError, match="Decimal"):
        clv_summary(orders.with_columns(pl.col("amount").cast(pl.String)), observation_end=end)
    with pytest.raises(InvalidValueError) as caught:
        clv_summary(orders, observation_end=at(10))  # a datetime
    assert caught.value.field == "observation_end"
    with pytest.raises(InvalidValueError) as caught:
        clv_summary(orders, observation_end=end, time_unit="M")  # type: ignore[arg-type]
    assert caught.value.field == "time_unit"
    with pytest.raises(InvalidValueError) as caught:
        clv_summary(orders, observation_end=end, tz="Mars/Olympus")
    assert caught.value.field == "tz"


def test_summary_of_no_purchases_is_an_empty_frame_with_the_schema() -> None:
    orders = orders_frame(("c1", "10", "CNY", "refunded", at(1)))

    summary = clv_summary(orders, observation_end=dt.date(2026, 1, 10))

    assert summary.height == 0
    assert summary.schema == pl.Schema(SUMMARY_SCHEMA)


def test_calibration_and_holdout_splits_each_calibration_customers_purchases() -> None:
    orders = orders_frame(
        ("c1", "10", "CNY", "paid", at(1)),
        ("c1", "4", "CNY", "paid", at(8)),
        ("c1", "6", "CNY", "paid", at(20)),
        ("c1", "8", "CNY", "paid", at(25)),
        ("c2", "3", "CNY", "paid", at(3)),
        ("c3", "9", "CNY", "paid", at(20)),  # first bought in the holdout: not a cohort member
    )

    split = calibration_and_holdout(
        orders,
        calibration_end=dt.date(2026, 1, 14),
        observation_end=dt.date(2026, 1, 28),
        time_unit="D",
    )

    assert split.rows() == [
        ("c1", 1, 7.0, 13.0, 4.0, 2, 7.0, 14.0),
        ("c2", 0, 0.0, 11.0, 0.0, 0, 0.0, 14.0),
    ]
    same = clv_summary(
        orders,
        calibration_end=dt.date(2026, 1, 14),
        observation_end=dt.date(2026, 1, 28),
        time_unit="D",
    )
    assert same.equals(split)


def test_calibration_must_end_before_the_observation() -> None:
    orders = orders_frame(("c1", "10", "CNY", "paid", at(1)))

    with pytest.raises(InvalidValueError, match="after calibration_end"):
        calibration_and_holdout(
            orders, calibration_end=dt.date(2026, 1, 14), observation_end=dt.date(2026, 1, 14)
        )


def test_a_fit_that_spends_its_evaluation_budget_stops_flagged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # eight customers leave the Pareto/NBD likelihood nearly flat towards r, alpha → ∞;
    # a small budget stands in for the real one so the test is quick
    monkeypatch.setattr(clv_module, "_MAX_EVALUATIONS", 5)
    toy = ([0, 1, 2, 0, 3, 1, 0, 5], [0, 5, 20, 0, 30, 2, 0, 35], [40, 38, 39, 30, 40, 20, 10, 39])

    fit = fit_pareto_nbd(*toy, strict=False)

    assert not fit.converged
    assert "stopped after 5 likelihood evaluations" in fit.message
    assert all(math.isfinite(v) for v in fit.params.values())
    with pytest.raises(ModelFitError, match="stopped after 5"):
        fit_pareto_nbd(*toy)
