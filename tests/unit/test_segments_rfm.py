"""RFM scores and segments, rule-derived value tiers and churn risk."""

from __future__ import annotations

import pendulum
import pytest

from crmcore.domain import Customer, CustomerId, Money, Order, OrderId, Organization, Tier
from crmcore.errors import InvalidValueError
from crmcore.segments import (
    FixedBins,
    Quantiles,
    RfmSegment,
    SegmentContext,
    TierPolicy,
    TierRule,
    churn_risk,
    field,
    purchases,
    rfm_scores,
    rfm_segment,
)

AT = pendulum.datetime(2026, 6, 30)


def order(i: int, cid: str, days_ago: int, amount: str = "100", currency: str = "CNY") -> Order:
    t = AT.subtract(days=days_ago)
    return Order(
        id=OrderId(f"o{i}"),
        customer_id=CustomerId(cid),
        amount=Money(amount, currency),
        ordered_at=t,
        created_at=t,
        updated_at=t,
    )


def test_fixed_bins_score_recency_frequency_and_monetary() -> None:
    bins = FixedBins(
        recency_days=(30, 90, 180, 365), frequency=(2, 3, 5, 10), monetary=(100, 500, 1000, 5000)
    )
    orders = [order(1, "a", 10, "600"), order(2, "a", 40, "600"), order(3, "b", 400, "50")]
    scores = rfm_scores(orders, at=AT, currency="CNY", method=bins)
    assert (scores[CustomerId("a")].code, scores[CustomerId("b")].code) == ("524", "111")


def test_quantiles_give_equal_values_equal_scores() -> None:
    orders = [order(i, c, 10) for i, c in enumerate("abcd")]
    scores = rfm_scores(orders, at=AT, currency="CNY", method=Quantiles(5))
    assert {s.code for s in scores.values()} == {"111"}


def test_orders_in_other_currencies_are_not_scored() -> None:
    assert rfm_scores([order(1, "a", 1, currency="USD")], at=AT, currency="CNY") == {}


def test_rfm_segments_follow_the_recency_frequency_grid() -> None:
    assert rfm_segment(5, 1) is RfmSegment.NEW_CUSTOMERS
    assert rfm_segment(2, 4) is RfmSegment.AT_RISK
    assert rfm_segment(1, 1) is RfmSegment.LOST


def test_rfm_segments_map_other_scales_onto_five() -> None:
    assert rfm_segment(3, 3, scores=3) is RfmSegment.CHAMPIONS


def test_a_score_out_of_range_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="a score from 1 to 5"):
        rfm_segment(6, 1)


def test_fixed_bins_need_ascending_thresholds() -> None:
    with pytest.raises(InvalidValueError, match="strictly ascending"):
        FixedBins(recency_days=(90, 30), frequency=(1, 2), monetary=(1, 2))


def test_the_first_matching_tier_rule_wins_and_keeps_its_reason() -> None:
    policy = TierPolicy(
        (
            TierRule(Tier.VIP, purchases(currency="CNY").total() >= 1000, "spent ≥ ¥1000"),
            TierRule(Tier.STRATEGIC, field("country") == "CN", "domestic"),
        )
    )
    c = Customer(
        id="a",
        kind="organization",
        organization=Organization(legal_name="Acme"),
        created_at=AT,
        updated_at=AT,
    )
    context = SegmentContext.of(orders=[order(1, "a", 1, "1200")])
    decision = policy.decide(c, context, at=AT)
    assert (decision.tier, decision.reason) == (Tier.VIP, "spent ≥ ¥1000")
    assert policy.decide(c, at=AT).tier is Tier.ORDINARY


def test_churn_risk_compares_silence_with_the_customers_own_rhythm() -> None:
    weekly = [order(i, "w", 28 + 7 * i) for i in range(4)]
    monthly = [order(10 + i, "m", 28 + 30 * i) for i in range(4)]
    risk = churn_risk(weekly + monthly, at=AT)
    assert (risk[CustomerId("w")].at_risk, risk[CustomerId("m")].at_risk) == (True, False)


def test_churn_risk_needs_enough_purchases_for_a_rhythm() -> None:
    risk = churn_risk([order(1, "a", 300)], at=AT)[CustomerId("a")]
    assert (risk.at_risk, risk.typical_gap_days) == (False, None)
