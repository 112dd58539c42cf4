"""Customer KPIs on tiny hand-built frames: every expected value is worked out in a comment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pendulum
import polars as pl
import pytest

from crmcore.analytics.customers import (
    EnteredStage,
    NoPurchaseWithin,
    churn_rate,
    cohort_retention,
    customer_acquisition_cost,
    historical_clv,
    repeat_purchase_rate,
    retention_rate,
    stage_counts,
)
from crmcore.analytics.kpi import RATIO, Kpi, Period
from crmcore.domain import Money
from crmcore.errors import InvalidValueError, PayloadError

UTC = pl.Datetime("us", "UTC")
MARCH = Period.month(2026, 3)


def t(month: int, day: int, year: int = 2026) -> pendulum.DateTime:
    return pendulum.datetime(year, month, day)


def customers(*rows: dict[str, Any]) -> pl.DataFrame:
    defaults: dict[str, Any] = {
        "tier": "ordinary",
        "source": "website",
        "lifecycle_stage": "new",
        "merged_into": None,
        "created_at": t(1, 1),
    }
    full = [{**defaults, **row} for row in rows]
    return pl.DataFrame(
        full,
        schema={
            "id": pl.String,
            "tier": pl.String,
            "source": pl.String,
            "lifecycle_stage": pl.String,
            "merged_into": pl.String,
            "created_at": UTC,
        },
    )


def changes(*rows: tuple[str, str, str, pendulum.DateTime]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "entity": "customer",
                "entity_id": cid,
                "workflow": "customer-lifecycle",
                "from_stage": old,
                "to_stage": new,
                "at": at,
            }
            for cid, old, new, at in rows
        ],
        schema={
            "entity": pl.String,
            "entity_id": pl.String,
            "workflow": pl.String,
            "from_stage": pl.String,
            "to_stage": pl.String,
            "at": UTC,
        },
    )


def orders(*rows: tuple[str, pendulum.DateTime, str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "customer_id": cid,
                "ordered_at": at,
                "amount": Decimal(amount),
                "currency": currency,
                "status": status,
            }
            for cid, at, amount, currency, status in rows
        ],
        schema={
            "customer_id": pl.String,
            "ordered_at": UTC,
            "amount": pl.Decimal(38, 6),
            "currency": pl.String,
            "status": pl.String,
        },
    )


# a: churned on Mar 10 (lost); b: never moved, growth (kept); c: registered Mar 5 (new);
# d: churned Feb 1, won back Mar 20 (not at start, at end: counted in N);
# e: merged into b (left out); f: churned Mar 2 and won back Mar 25 (kept).
PEOPLE = customers(
    {"id": "a", "tier": "vip"},
    {"id": "b", "lifecycle_stage": "growth"},
    {"id": "c", "created_at": t(3, 5)},
    {"id": "d"},
    {"id": "e", "merged_into": "b"},
    {"id": "f", "tier": "vip"},
)
MOVES = changes(
    ("a", "potential", "new", t(1, 5)),
    ("a", "new", "churned", t(3, 10)),
    ("d", "new", "churned", t(2, 1)),
    ("d", "churned", "new", t(3, 20)),
    ("e", "new", "churned", t(2, 1)),
    ("f", "new", "churned", t(3, 2)),
    ("f", "churned", "new", t(3, 25)),
)


def test_churn_rate_counts_customers_in_the_churned_stage_at_the_end_of_those_at_the_start() -> (
    None
):
    # S = {a, b, f} (d was churned at the start, c not registered, e merged); lost = {a}.
    kpi = churn_rate(PEOPLE, period=MARCH, stage_changes=MOVES)
    assert kpi.value == pytest.approx(1 / 3)
    assert (kpi.numerator, kpi.denominator) == (1, 3)
    assert kpi.unit == RATIO
    assert kpi.period == MARCH


def test_retention_is_end_minus_new_over_start() -> None:
    # E = {b, c, d, f} = 4, N = {c, d} = 2 (acquired or won back), S = 3: (4 - 2) / 3.
    kpi = retention_rate(PEOPLE, period=MARCH, stage_changes=MOVES)
    assert kpi.value == pytest.approx(2 / 3)
    assert kpi.table is not None
    assert kpi.table.select("at_start", "at_end", "new", "kept", "lost").row(0) == (3, 4, 2, 2, 1)


def test_retention_and_churn_add_up_to_one() -> None:
    churn = churn_rate(PEOPLE, period=MARCH, stage_changes=MOVES).value
    kept = retention_rate(PEOPLE, period=MARCH, stage_changes=MOVES).value
    assert churn is not None
    assert kept is not None
    assert float(churn) + float(kept) == pytest.approx(1.0)


def test_churn_rate_breaks_down_by_a_customer_column() -> None:
    # vip: S = {a, f}, lost {a} -> 0.5; ordinary: S = {b}, lost none -> 0.0.
    kpi = churn_rate(PEOPLE, period=MARCH, stage_changes=MOVES, by="tier")
    assert kpi.table is not None
    assert kpi.table.select("tier", "at_start", "lost", "churn_rate").rows() == [
        ("ordinary", 1, 0, 0.0),
        ("vip", 2, 1, 0.5),
    ]


def test_churn_by_no_purchase_within_days_reads_paid_orders_in_the_window_before_each_instant() -> (
    None
):
    buyers = customers(
        {"id": "a"}, {"id": "b"}, {"id": "c", "created_at": t(3, 5)}, {"id": "d"}, {"id": "g"}
    )
    # Window at the start: [Jan 30, Mar 1); at the end: [Mar 2, Apr 1).
    # a: Feb 10 -> S, lost.  b: Feb 20 and Mar 15 -> kept.  c: new.  d: refunded -> nowhere.
    # g: exactly Jan 30 00:00 -> in the start window (inclusive), lost.
    bought = orders(
        ("a", t(2, 10), "10", "CNY", "paid"),
        ("b", t(2, 20), "10", "CNY", "paid"),
        ("b", t(3, 15), "10", "CNY", "paid"),
        ("c", t(3, 6), "10", "CNY", "paid"),
        ("d", t(2, 25), "10", "CNY", "refunded"),
        ("g", t(1, 30), "10", "CNY", "paid"),
    )
    rule = NoPurchaseWithin(days=30)
    churn = churn_rate(buyers, period=MARCH, lost=rule, orders=bought)
    kept = retention_rate(buyers, period=MARCH, lost=rule, orders=bought)
    assert (churn.numerator, churn.denominator) == (2, 3)
    # E = {b, c}, N = {c}: (2 - 1) / 3.
    assert kept.value == pytest.approx(1 / 3)


def test_churn_over_no_customer_at_the_start_is_undefined_not_an_error() -> None:
    kpi = churn_rate(
        customers({"id": "z", "created_at": t(3, 9)}), period=MARCH, stage_changes=MOVES
    )
    assert (kpi.value, kpi.denominator, kpi.defined) == (None, 0, False)


def test_churn_needs_the_frame_its_definition_reads() -> None:
    with pytest.raises(InvalidValueError, match="stage_changes"):
        churn_rate(PEOPLE, period=MARCH)
    with pytest.raises(InvalidValueError, match="orders"):
        churn_rate(PEOPLE, period=MARCH, lost=NoPurchaseWithin(days=5))
    with pytest.raises(InvalidValueError, match="days"):
        NoPurchaseWithin(days=0)


def test_entered_stage_can_name_another_stage() -> None:
    # Lost while in decline: nobody is in decline, so nobody is lost.
    kpi = churn_rate(PEOPLE, period=MARCH, stage_changes=MOVES, lost=EnteredStage("decline"))
    assert kpi.numerator == 0


def test_stage_counts_give_each_stage_at_the_end_of_each_month() -> None:
    # End of Jan: a new (moved Jan 5), b growth, d new, f new -> new 3, growth 1.
    # End of Feb: d churned Feb 1 -> new 2, growth 1, churned 1.
    # End of Mar: a churned, c new, d new (won back), f new -> new 3, growth 1, churned 1.
    q1 = Period(t(1, 1), t(4, 1))
    kpi = stage_counts(PEOPLE, MOVES, period=q1)
    assert kpi.table is not None
    nonzero = kpi.table.filter(pl.col("customers") > 0).select("bucket_start", "stage", "customers")
    assert [(r[0].month, r[1], r[2]) for r in nonzero.rows()] == [
        (1, "new", 3),
        (1, "growth", 1),
        (2, "new", 2),
        (2, "growth", 1),
        (2, "churned", 1),
        (3, "new", 3),
        (3, "growth", 1),
        (3, "churned", 1),
    ]
    assert kpi.value == 5
    # Every stage of the workflow is listed in every bucket, zeros included.
    assert kpi.table.height == 3 * 6


def test_stage_before_the_first_move_is_that_moves_from_stage() -> None:
    # a registered Jan 1 and moved potential -> new on Jan 5: on Jan 3 it was potential.
    kpi = stage_counts(PEOPLE, MOVES, period=Period(t(1, 1), t(1, 3)), every="day")
    assert kpi.table is not None
    jan_3 = kpi.table.filter(pl.col("bucket_start") == t(1, 2))
    assert dict(jan_3.select("stage", "customers").rows())["potential"] == 1


def test_cohort_retention_matrix_by_first_purchase_month() -> None:
    # Jan cohort {x, y}: month 0 both, month 1 (Feb) y, month 2 (Mar) x.
    # Feb cohort {z}: month 0 z, month 1 nobody. w bought first in Dec 2025: not a cohort.
    buyers = customers({"id": "x"}, {"id": "y"}, {"id": "z"}, {"id": "w"})
    bought = orders(
        ("x", t(1, 5), "1", "CNY", "paid"),
        ("x", t(1, 20), "1", "CNY", "paid"),
        ("x", t(3, 3), "1", "CNY", "paid"),
        ("y", t(1, 10), "1", "CNY", "paid"),
        ("y", t(2, 10), "1", "CNY", "paid"),
        ("z", t(2, 14), "1", "CNY", "paid"),
        ("w", t(12, 20, 2025), "1", "CNY", "paid"),
        ("w", t(1, 3), "1", "CNY", "paid"),
    )
    kpi = cohort_retention(buyers, bought, period=Period(t(1, 1), t(4, 1)))
    assert kpi.table is not None
    rows = [(c.month, k, n, a, r) for c, k, n, a, r in kpi.table.rows()]
    assert rows == [
        (1, 0, 2, 2, 1.0),
        (1, 1, 2, 1, 0.5),
        (1, 2, 2, 1, 0.5),
        (2, 0, 1, 1, 1.0),
        (2, 1, 1, 0, 0.0),
    ]
    assert kpi.value == 3


def test_cohort_retention_by_registration_puts_every_customer_in_a_cohort() -> None:
    # Registered Jan: p (bought Feb); registered Feb: q (never bought).
    people = customers({"id": "p", "created_at": t(1, 9)}, {"id": "q", "created_at": t(2, 9)})
    bought = orders(("p", t(2, 1), "1", "CNY", "paid"))
    kpi = cohort_retention(
        people, bought, period=Period(t(1, 1), t(3, 1)), acquisition="registration"
    )
    assert kpi.table is not None
    assert kpi.table.select("months_since", "cohort_size", "active").rows() == [
        (0, 1, 0),
        (1, 1, 1),
        (0, 1, 0),
    ]
    with pytest.raises(InvalidValueError, match="acquisition"):
        cohort_retention(people, bought, period=MARCH, acquisition="signup")  # type: ignore[arg-type]


def test_repeat_purchase_rate_by_tier_counts_paid_orders_in_the_period() -> None:
    # vip a: 2 paid in March -> repeat; ordinary b: 1 paid + 1 in April -> not; f: refunded only.
    bought = orders(
        ("a", t(3, 1), "1", "CNY", "paid"),
        ("a", t(3, 31), "1", "CNY", "paid"),
        ("b", t(3, 3), "1", "CNY", "paid"),
        ("b", t(4, 1), "1", "CNY", "paid"),
        ("f", t(3, 3), "1", "CNY", "refunded"),
    )
    kpi = repeat_purchase_rate(bought, period=MARCH, customers=PEOPLE, by="tier")
    assert kpi.value == 0.5
    assert kpi.table is not None
    assert kpi.table.select("tier", "buyers", "repeat_buyers").rows() == [
        ("ordinary", 1, 0),
        ("vip", 1, 1),
    ]
    with pytest.raises(InvalidValueError, match="customers"):
        repeat_purchase_rate(bought, period=MARCH, by="tier")


def test_cac_per_channel_with_unknown_source_and_unused_spend() -> None:
    people = customers(
        {"id": "a", "source": "wechat", "created_at": t(3, 2)},
        {"id": "b", "source": None, "created_at": t(3, 2)},
        {"id": "c", "source": "wechat", "created_at": t(2, 2)},
    )
    # wechat: 300 / 1 new (c registered in February); event: 100 spent, nobody -> undefined.
    kpi = customer_acquisition_cost(
        people, {"wechat": Money("300", "CNY"), "event": Money("100", "CNY")}, period=MARCH
    )
    assert kpi.table is not None
    assert kpi.table.select("source", "new_customers", "cac").rows() == [
        ("event", 0, None),
        ("unknown", 1, None),
        ("wechat", 1, Decimal("300.00")),
    ]
    # Overall: 400 spent over the 1 new customer of channels with spend.
    assert (kpi.value, kpi.currency) == (Decimal("400.00"), "CNY")


def test_cac_in_several_currencies_has_no_single_value() -> None:
    people = customers({"id": "a", "source": "wechat", "created_at": t(3, 2)})
    kpi = customer_acquisition_cost(
        people, {"wechat": Money("300", "CNY"), "event": Money("10", "USD")}, period=MARCH
    )
    assert (kpi.value, kpi.currency) == (None, None)
    with pytest.raises(InvalidValueError, match="Money"):
        customer_acquisition_cost(people, {"wechat": Decimal(3)}, period=MARCH)  # type: ignore[dict-item]


def test_historical_clv_by_cohort_per_currency_with_an_even_median() -> None:
    # Jan cohort CNY: a 100 + 50 = 150, b 30 -> mean 90, median (30 + 150) / 2 = 90.
    # Feb cohort USD: f 7. Orders on or after `at` and refunded ones do not count.
    bought = orders(
        ("a", t(1, 2), "100", "CNY", "paid"),
        ("a", t(2, 2), "50", "CNY", "paid"),
        ("a", t(2, 3), "999", "CNY", "refunded"),
        ("b", t(1, 9), "30", "CNY", "paid"),
        ("b", t(6, 1), "500", "CNY", "paid"),
        ("f", t(2, 9), "7", "USD", "paid"),
    )
    kpi = historical_clv(PEOPLE, bought, at=t(6, 1), by="cohort")
    assert kpi.table is not None
    assert [
        (c.month, cur, n, total, mean, median)
        for c, cur, n, total, mean, median in kpi.table.rows()
    ] == [
        (1, "CNY", 2, Decimal("180"), Decimal("90.00"), Decimal("90.00")),
        (2, "USD", 1, Decimal("7"), Decimal("7.00"), Decimal("7.00")),
    ]
    assert kpi.value is None  # two currencies


def test_a_frame_without_a_contract_column_is_named_in_the_error() -> None:
    with pytest.raises(PayloadError) as caught:
        churn_rate(PEOPLE.drop("created_at"), period=MARCH, stage_changes=MOVES)
    assert caught.value.subject == "customers frame"
    assert caught.value.paths == ("$.created_at",)


def test_a_naive_datetime_column_is_refused_with_its_dtype() -> None:
    naive = MOVES.with_columns(pl.col("at").dt.replace_time_zone(None))
    with pytest.raises(PayloadError, match=r"expected Datetime\(time_zone=\"UTC\"\).* @ \$\.at"):
        churn_rate(PEOPLE, period=MARCH, stage_changes=naive)


def test_a_group_column_that_does_not_exist_is_refused() -> None:
    with pytest.raises(PayloadError, match=r"\$\.region"):
        churn_rate(PEOPLE, period=MARCH, stage_changes=MOVES, by="region")


def test_a_kpi_result_is_frozen_and_says_its_definition() -> None:
    kpi = churn_rate(PEOPLE, period=MARCH, stage_changes=MOVES)
    assert isinstance(kpi, Kpi)
    assert "lost" in kpi.definition
    with pytest.raises(AttributeError):
        kpi.value = 0.0  # type: ignore[misc]


def test_a_period_must_end_after_it_starts_and_be_aware() -> None:
    with pytest.raises(InvalidValueError, match="period"):
        Period(t(3, 1), t(3, 1))
    with pytest.raises(InvalidValueError):
        Period(pendulum.naive(2026, 1, 1), t(3, 1))
    with pytest.raises(InvalidValueError, match="every"):
        MARCH.buckets("fortnight")


def test_a_period_of_days_before_an_instant_ends_at_it() -> None:
    period = Period.days_before(t(3, 31), 30)
    assert (period.start, period.end) == (t(3, 1), t(3, 31))
    assert period.contains(t(3, 1))
    assert not period.contains(t(3, 31))
