"""The reclassification service, on the in-memory store: stages and tiers in one unit of work."""

from __future__ import annotations

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.adapters.memory import MemoryEventPublisher, MemoryStore
from crmcore.clock import FixedClock
from crmcore.domain import (
    Customer,
    CustomerId,
    LifecycleStage,
    Money,
    Order,
    OrderId,
    Person,
    PersonName,
    Tier,
    UserId,
    record_order,
    register_customer,
)
from crmcore.errors import InvalidValueError, NotFoundError
from crmcore.lifecycle import derive_stage
from crmcore.segments import TierPolicy, TierRule, purchases
from crmcore.services.reclassification import reclassify_customers

T0 = pendulum.datetime(2025, 1, 1)
NOW = pendulum.datetime(2026, 6, 1)
ADA = UserId("u-ada")
BUYER, PROSPECT, LAPSED, MERGED = (CustomerId(f"c-{n}") for n in range(1, 5))
TIERS = TierPolicy(
    (
        TierRule(Tier.VIP, purchases(currency="CNY").total() >= 50_000, "spent ≥ ¥50,000"),
        TierRule(Tier.POTENTIAL, purchases().count() == 0, "no purchase yet"),
    ),
    default=Tier.ORDINARY,
    default_reason="buying, below VIP",
)


def customer(id: CustomerId, *, merged_into: CustomerId | None = None) -> Customer:
    created, _ = register_customer(id=id, person=Person(name=PersonName.parse("张伟")), at=T0)
    return attrs.evolve(created, merged_into=merged_into)


def order(n: int, owner: CustomerId, days_ago: int, amount: int = 20_000) -> Order:
    return record_order(
        id=OrderId(f"o-{owner}-{n}"),
        customer_id=owner,
        amount=Money(amount, "CNY"),
        ordered_at=NOW.subtract(days=days_ago),
        at=T0,
    )[0]


def seeded(
    ages: dict[CustomerId, list[int]] | None = None,
) -> tuple[MemoryStore, MemoryEventPublisher]:
    """Buyer: three recent ¥20,000 orders; prospect: none; lapsed: one 200 days ago."""
    ages = ages if ages is not None else {BUYER: [10, 40, 70], LAPSED: [200]}
    publisher = MemoryEventPublisher()
    store = MemoryStore(publisher)
    with store.unit_of_work() as uow:
        uow.customers.save_many(
            [
                customer(BUYER),
                customer(PROSPECT),
                customer(LAPSED),
                customer(MERGED, merged_into=BUYER),
            ]
        )
        uow.orders.save_many(
            [
                order(n, owner, days)
                for owner, days_ago in ages.items()
                for n, days in enumerate(days_ago)
            ]
        )
        uow.commit()
    return store, publisher


def stored(store: MemoryStore) -> dict[CustomerId, Customer]:
    with store.unit_of_work() as uow:
        return {c.id: c for c in uow.customers.iter_all()}


def test_each_active_customer_moves_to_its_derived_stage_and_policy_tier() -> None:
    store, _ = seeded()

    report = reclassify_customers(store.unit_of_work(), clock=FixedClock(NOW), tiers=TIERS)

    actual = {c.id: (c.lifecycle_stage, c.tier) for c in stored(store).values() if c.is_active}
    assert actual == {
        BUYER: (LifecycleStage.GROWTH, Tier.VIP),
        PROSPECT: (LifecycleStage.POTENTIAL, Tier.POTENTIAL),
        LAPSED: (LifecycleStage.DECLINE, Tier.ORDINARY),
    }
    assert [c.id for c in report.customers] == [BUYER, PROSPECT, LAPSED]


def test_the_changed_customers_are_saved_with_their_new_versions_and_the_rest_untouched() -> None:
    store, _ = seeded()

    report = reclassify_customers(store.unit_of_work(), clock=FixedClock(NOW), tiers=TIERS)

    versions = {c.id: c.version for c in stored(store).values()}
    assert [c.id for c in report.changed] == [BUYER, LAPSED]
    assert {c.id: c.version for c in report.customers} == {
        BUYER: versions[BUYER],
        PROSPECT: versions[PROSPECT],
        LAPSED: versions[LAPSED],
    }
    assert (versions[BUYER], versions[PROSPECT], versions[LAPSED]) == (2, 1, 2)


def test_every_stage_move_and_tier_change_is_published_once_with_who_and_why() -> None:
    store, publisher = seeded()

    report = reclassify_customers(store.unit_of_work(), clock=FixedClock(NOW), by=ADA, tiers=TIERS)

    assert list(publisher.published) == list(report.events)
    assert report.tier_changes == 2
    assert report.stage_moves == len(report.events) - report.tier_changes >= 2
    assert {e.by for e in report.events} == {ADA}
    classified = [r.classified for r in report.results if r.classified is not None]
    assert [(e.customer_id, e.tier, e.reason, e.automatic) for e in classified] == [
        (BUYER, "vip", "spent ≥ ¥50,000", True),
        (LAPSED, "ordinary", "buying, below VIP", True),
    ]
    assert report.results[2].moves[-1].reason == "derived: no purchase for 200 days"


def test_a_second_run_at_the_same_time_changes_nothing() -> None:
    store, publisher = seeded()
    reclassify_customers(store.unit_of_work(), clock=FixedClock(NOW), tiers=TIERS)
    before, published = stored(store), len(publisher.published)

    again = reclassify_customers(store.unit_of_work(), clock=FixedClock(NOW), tiers=TIERS)

    assert (again.changed, again.events) == ((), ())
    assert stored(store) == before
    assert len(publisher.published) == published


def test_merged_customers_are_left_alone() -> None:
    store, _ = seeded()

    report = reclassify_customers(
        store.unit_of_work(), clock=FixedClock(NOW), tiers=TIERS, ids=[MERGED, BUYER]
    )

    assert [c.id for c in report.customers] == [BUYER]
    assert stored(store)[MERGED].version == 1


def test_only_the_customers_asked_for_are_reclassified_in_the_order_given() -> None:
    store, _ = seeded()

    report = reclassify_customers(
        store.unit_of_work(), clock=FixedClock(NOW), tiers=TIERS, ids=[LAPSED, PROSPECT]
    )

    assert [c.id for c in report.customers] == [LAPSED, PROSPECT]
    assert stored(store)[BUYER].version == 1


def test_without_a_tier_policy_only_stages_change() -> None:
    store, _ = seeded()

    report = reclassify_customers(store.unit_of_work(), clock=FixedClock(NOW))

    assert report.tier_changes == 0
    assert {c.tier for c in stored(store).values()} == {Tier.POTENTIAL}
    assert stored(store)[BUYER].lifecycle_stage is LifecycleStage.GROWTH


def test_a_failed_run_saves_and_publishes_nothing() -> None:
    store, publisher = seeded({BUYER: [600], LAPSED: [200]})
    before = stored(store)

    with pytest.raises(InvalidValueError, match="last update"):
        reclassify_customers(store.unit_of_work(), clock=FixedClock(T0.subtract(days=1)))
    with pytest.raises(NotFoundError):
        reclassify_customers(
            store.unit_of_work(), clock=FixedClock(NOW), ids=[BUYER, CustomerId("c-404")]
        )

    assert stored(store) == before
    assert publisher.published == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 800), max_size=7), st.integers(0, 400))
def test_reclassifying_is_idempotent_and_agrees_with_derive_stage(
    ages: list[int], later: int
) -> None:
    store, publisher = seeded({BUYER: ages})
    at = NOW.add(days=later)
    with store.unit_of_work() as uow:
        orders = uow.orders.find_by_customer(BUYER)

    first = reclassify_customers(store.unit_of_work(), clock=FixedClock(at), tiers=TIERS)
    published, after_first = len(publisher.published), stored(store)
    second = reclassify_customers(store.unit_of_work(), clock=FixedClock(at), tiers=TIERS)

    expected = derive_stage(customer(BUYER), orders, [], at=at).stage
    assert after_first[BUYER].lifecycle_stage is expected
    assert (second.changed, second.events) == ((), ())
    assert stored(store) == after_first
    assert len(publisher.published) == published == len(first.events)
