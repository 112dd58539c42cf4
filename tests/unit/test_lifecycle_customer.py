"""The customer lifecycle: stages derived from purchases and activities, and the moves to them."""

from __future__ import annotations

import attrs
import pendulum
import pytest

from crmcore.domain import (
    Activity,
    ActivityId,
    ActivityKind,
    Customer,
    CustomerId,
    LifecycleStage,
    Money,
    Order,
    OrderId,
    OrderStatus,
    Person,
    PersonName,
    log_activity,
    record_order,
    register_customer,
)
from crmcore.errors import InvalidValueError, TransitionNotAllowedError
from crmcore.lifecycle import (
    CUSTOMER_WORKFLOW,
    StagePolicy,
    apply_derived_stage,
    derive_stage,
    fire,
)

AT = pendulum.datetime(2026, 6, 1, tz="Asia/Shanghai")


def customer(stage: LifecycleStage = LifecycleStage.POTENTIAL) -> Customer:
    c, _ = register_customer(
        id=CustomerId("c-1"), person=Person(name=PersonName.parse("王芳")), at=AT.subtract(years=3)
    )
    return attrs.evolve(c, lifecycle_stage=stage)


def orders_days_ago(*days: int, status: OrderStatus = OrderStatus.PAID) -> list[Order]:
    return [
        record_order(
            id=OrderId(f"o-{i}"),
            customer_id=CustomerId("c-1"),
            amount=Money(100, "CNY"),
            ordered_at=AT.subtract(days=d),
            at=AT.subtract(years=3),
            status=status,
        )[0]
        for i, d in enumerate(days)
    ]


def activity_days_ago(days: int) -> Activity:
    activity, _ = log_activity(
        id=ActivityId("a-1"),
        kind=ActivityKind.CALL,
        customer_id=CustomerId("c-1"),
        occurred_at=AT.subtract(days=days),
        at=AT.subtract(days=days),
    )
    return activity


def test_a_customer_without_purchases_keeps_their_stage() -> None:
    assert derive_stage(customer(), [], [], at=AT).stage is LifecycleStage.POTENTIAL


def test_a_first_recent_purchase_makes_a_new_customer() -> None:
    assert derive_stage(customer(), orders_days_ago(10), [], at=AT).stage is LifecycleStage.NEW


def test_repeat_purchases_make_a_growth_customer() -> None:
    derived = derive_stage(customer(), orders_days_ago(10, 40), [], at=AT)
    assert derived.stage is LifecycleStage.GROWTH


def test_frequent_purchases_over_a_year_make_a_mature_customer() -> None:
    orders = orders_days_ago(5, 60, 120, 200, 300, 400)
    assert derive_stage(customer(), orders, [], at=AT).stage is LifecycleStage.MATURE


def test_frequent_purchases_of_a_recent_customer_are_growth_not_mature() -> None:
    orders = orders_days_ago(5, 20, 40, 60, 80)
    assert derive_stage(customer(), orders, [], at=AT).stage is LifecycleStage.GROWTH


def test_no_purchase_for_half_a_year_is_decline() -> None:
    derived = derive_stage(customer(LifecycleStage.MATURE), orders_days_ago(200), [], at=AT)
    assert (derived.stage, derived.reason) == (LifecycleStage.DECLINE, "no purchase for 200 days")


def test_no_purchase_and_no_activity_for_a_year_is_churned() -> None:
    derived = derive_stage(customer(LifecycleStage.GROWTH), orders_days_ago(400), [], at=AT)
    assert derived.stage is LifecycleStage.CHURNED


def test_recent_activity_keeps_a_lapsed_buyer_from_churning() -> None:
    derived = derive_stage(
        customer(LifecycleStage.GROWTH), orders_days_ago(400), [activity_days_ago(10)], at=AT
    )
    assert derived.stage is LifecycleStage.DECLINE


def test_refunded_orders_do_not_count() -> None:
    orders = orders_days_ago(10, status=OrderStatus.REFUNDED)
    assert derive_stage(customer(), orders, [], at=AT).stage is LifecycleStage.POTENTIAL


def test_a_growth_customer_with_one_recent_purchase_stays_in_growth() -> None:
    derived = derive_stage(customer(LifecycleStage.GROWTH), orders_days_ago(10), [], at=AT)
    assert derived.stage is LifecycleStage.GROWTH


def test_a_mature_customer_whose_purchases_thin_out_declines() -> None:
    derived = derive_stage(customer(LifecycleStage.MATURE), orders_days_ago(10), [], at=AT)
    assert derived.stage is LifecycleStage.DECLINE


def test_the_policy_thresholds_are_configurable() -> None:
    policy = StagePolicy(growth_min_orders=3, mature_min_orders=4)
    derived = derive_stage(customer(), orders_days_ago(10, 40), [], at=AT, policy=policy)
    assert derived.stage is LifecycleStage.NEW


def test_a_policy_where_churn_comes_before_decline_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="must exceed decline_after_days"):
        StagePolicy(decline_after_days=400, churn_after_days=365)


def test_applying_a_derived_stage_fires_each_move_with_the_derivation_as_reason() -> None:
    moved, events = apply_derived_stage(customer(), orders_days_ago(10, 40), [], at=AT)
    assert moved.lifecycle_stage is LifecycleStage.GROWTH
    assert [e.transition for e in events] == ["acquire", "grow"]
    assert events[0].reason == "derived: 2 purchases in 365 days, last 10 days ago"


def test_a_churned_customer_who_buys_again_is_won_back() -> None:
    _, events = apply_derived_stage(
        customer(LifecycleStage.CHURNED), orders_days_ago(3, 500), [], at=AT
    )
    assert [e.transition for e in events] == ["win_back"]


def test_applying_the_stage_a_customer_already_has_changes_nothing() -> None:
    c = customer(LifecycleStage.NEW)
    assert apply_derived_stage(c, orders_days_ago(10), [], at=AT) == (c, ())


def test_a_manual_move_needs_a_reason() -> None:
    with pytest.raises(TransitionNotAllowedError, match="a reason is required"):
        fire(CUSTOMER_WORKFLOW, customer(), "acquire", at=AT)
