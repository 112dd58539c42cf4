"""The merge and unmerge services, on the in-memory store: one unit of work each."""

from __future__ import annotations

import attrs
import pendulum
import pytest

from crmcore.adapters.memory import MemoryEventPublisher, MemoryStore
from crmcore.clock import FixedClock
from crmcore.domain import (
    ActivityId,
    ActivityKind,
    ConsentChannel,
    ConsentId,
    Customer,
    CustomerId,
    EmailAddress,
    MergeId,
    Money,
    OrderId,
    Organization,
    Person,
    PersonName,
    UserId,
    add_email,
    grant_consent,
    log_activity,
    record_order,
    register_customer,
)
from crmcore.errors import InvalidValueError, NotFoundError
from crmcore.merge import ConflictKind
from crmcore.services.merge import (
    SkippedCluster,
    merge_clusters,
    merge_customers,
    unmerge_customers,
)

T0 = pendulum.datetime(2026, 1, 1)
ADA = UserId("u-ada")
C1, C2 = CustomerId("c-1"), CustomerId("c-2")


def customer(id: CustomerId, email: str, days: int) -> Customer:
    created, _ = register_customer(
        id=id,
        person=Person(name=PersonName.parse("张伟")),
        emails=[EmailAddress(email)],
        at=T0.add(days=days),
    )
    return created


def seeded() -> tuple[MemoryStore, MemoryEventPublisher, FixedClock]:
    publisher = MemoryEventPublisher()
    store = MemoryStore(publisher)
    with store.unit_of_work() as uow:
        uow.customers.save(customer(C1, "zw@example.com", 0))
        uow.customers.save(customer(C2, "zhang.wei@qq.com", 1))
        uow.activities.save(
            log_activity(id=ActivityId("a-1"), kind=ActivityKind.CALL, customer_id=C2, at=T0)[0]
        )
        uow.orders.save(
            record_order(
                id=OrderId("r-1"),
                customer_id=C2,
                amount=Money("99.00", "CNY"),
                ordered_at=T0,
                at=T0,
            )[0]
        )
        uow.consents.save(
            grant_consent(
                id=ConsentId("g-1"),
                customer_id=C2,
                purpose="marketing",
                channel=ConsentChannel.EMAIL,
                source="web",
                at=T0,
            )[0]
        )
        uow.commit()
    return store, publisher, FixedClock(T0.add(days=30))


def test_merging_saves_survivor_merged_records_and_lineage_in_one_unit_of_work() -> None:
    store, publisher, clock = seeded()

    result = merge_customers(
        store.unit_of_work(), [C2, C1], clock=clock, by=ADA, merge_id=MergeId("m-1")
    )

    with store.unit_of_work() as uow:
        survivor, merged = uow.customers.get(C1), uow.customers.get(C2)
        assert {str(e.address) for e in survivor.points.emails} == {
            "zw@example.com",
            "zhang.wei@qq.com",
        }
        assert merged.merged_into == C1
        assert [a.id for a in uow.activities.find_by_customer(C1)] == ["a-1"]
        assert [o.id for o in uow.orders.find_by_customer(C1)] == ["r-1"]
        assert [g.id for g in uow.consents.find_by_customer(C1)] == ["g-1"]
        assert uow.merges.get(MergeId("m-1")) == result.record
    assert result.survivor.version == 2
    assert [type(e).__name__ for e in publisher.published] == ["CustomersMerged"]


def test_unmerging_restores_customers_and_records_through_the_store() -> None:
    store, publisher, clock = seeded()
    merge_customers(store.unit_of_work(), [C1, C2], clock=clock, merge_id=MergeId("m-1"))
    with store.unit_of_work() as uow:
        before = uow.customers.get(C2)
    clock.advance(days=1)

    result = unmerge_customers(store.unit_of_work(), MergeId("m-1"), clock=clock, by=ADA)

    with store.unit_of_work() as uow:
        assert [str(e.address) for e in uow.customers.get(C1).points.emails] == ["zw@example.com"]
        restored = uow.customers.get(C2)
        assert restored.merged_into is None
        assert attrs.evolve(restored, version=before.version, updated_at=before.updated_at) == (
            attrs.evolve(before, merged_into=None)
        )
        assert [a.id for a in uow.activities.find_by_customer(C2)] == ["a-1"]
        assert [g.id for g in uow.consents.find_by_customer(C2)] == ["g-1"]
        assert uow.merges.get(MergeId("m-1")).undone_by == ADA
    assert result.conflicts == ()
    assert [type(e).__name__ for e in publisher.published] == [
        "CustomersMerged",
        "CustomersUnmerged",
    ]


def test_unmerging_keeps_an_email_added_after_the_merge_and_reports_it() -> None:
    store, _, clock = seeded()
    merge_customers(store.unit_of_work(), [C1, C2], clock=clock, merge_id=MergeId("m-1"))
    with store.unit_of_work() as uow:
        edited, _ = add_email(
            uow.customers.get(C1), EmailAddress("new@example.com"), at=clock.advance(hours=1)
        )
        uow.customers.save(edited)
        uow.commit()

    result = unmerge_customers(store.unit_of_work(), MergeId("m-1"), clock=clock)

    assert [c.field for c in result.conflicts] == ["points.emails"]
    with store.unit_of_work() as uow:
        emails = {str(e.address) for e in uow.customers.get(C1).points.emails}
    assert emails == {"zw@example.com", "new@example.com"}


def test_a_record_deleted_since_the_merge_is_reported_by_the_unmerge() -> None:
    store, _, clock = seeded()
    merge_customers(store.unit_of_work(), [C1, C2], clock=clock, merge_id=MergeId("m-1"))
    with store.unit_of_work() as uow:
        uow.activities.delete(uow.activities.get(ActivityId("a-1")))
        uow.commit()

    result = unmerge_customers(store.unit_of_work(), MergeId("m-1"), clock=clock)

    assert [(c.kind, c.field) for c in result.conflicts] == [
        (ConflictKind.RELATED_MISSING, "activity:a-1")
    ]


def test_a_failed_merge_saves_nothing() -> None:
    store, publisher, clock = seeded()

    with pytest.raises(NotFoundError):
        merge_customers(store.unit_of_work(), [C1, CustomerId("c-404")], clock=clock)

    with store.unit_of_work() as uow:
        assert uow.customers.get(C2).merged_into is None
        assert uow.merges.count() == 0
    assert publisher.published == []


def test_undoing_a_merge_twice_is_refused_and_changes_nothing() -> None:
    store, _, clock = seeded()
    merge_customers(store.unit_of_work(), [C1, C2], clock=clock, merge_id=MergeId("m-1"))
    unmerge_customers(store.unit_of_work(), MergeId("m-1"), clock=clock)

    with pytest.raises(InvalidValueError, match="already undone"):
        unmerge_customers(store.unit_of_work(), MergeId("m-1"), clock=clock)


# -- merge_clusters -------------------------------------------------------------------------

C3, C4, ACME = CustomerId("c-3"), CustomerId("c-4"), CustomerId("o-1")


def with_clusters() -> tuple[MemoryStore, MemoryEventPublisher, FixedClock]:
    """C1 ~ C2 and C3 ~ C4 (people), and C4 ~ ACME (a person and an organisation)."""
    store, publisher, clock = seeded()
    acme, _ = register_customer(id=ACME, organization=Organization(legal_name="Acme"), at=T0)
    with store.unit_of_work() as uow:
        uow.customers.save_many(
            [customer(C3, "li.na@example.com", 2), customer(C4, "lina@qq.com", 3), acme]
        )
        uow.commit()
    return store, publisher, clock


def active_ids(store: MemoryStore) -> list[CustomerId]:
    with store.unit_of_work() as uow:
        return [c.id for c in uow.customers.iter_all() if c.is_active]


def test_merging_clusters_merges_each_cluster_and_publishes_one_event_per_merge() -> None:
    store, publisher, clock = with_clusters()

    report = merge_clusters(store, [[C1, C2], [C3, C4]], clock=clock, by=ADA)

    assert [(m.survivor.id, [c.id for c in m.merged]) for m in report.merges] == [
        (C1, [C2]),
        (C3, [C4]),
    ]
    assert report.records_merged == 2
    assert active_ids(store) == [C1, C3, ACME]
    with store.unit_of_work() as uow:
        assert [o.id for o in uow.orders.find_by_customer(C1)] == ["r-1"]
        assert uow.merges.count() == 2
    assert [(type(e).__name__, e.by) for e in publisher.published] == [
        ("CustomersMerged", ADA),
        ("CustomersMerged", ADA),
    ]


def test_a_cluster_that_cannot_be_merged_is_skipped_with_the_reason_and_the_rest_merged() -> None:
    store, publisher, clock = with_clusters()

    report = merge_clusters(store, [[C4, ACME], [C1, C2]], clock=clock)

    assert [m.survivor.id for m in report.merges] == [C1]
    assert report.skipped == (
        SkippedCluster(
            ids=(C4, ACME),
            reason="invalid customers ['c-4', 'o-1']: cannot merge a person with an organization",
        ),
    )
    assert active_ids(store) == [C1, C3, C4, ACME]
    assert len(publisher.published) == 1


def test_merging_the_same_clusters_again_changes_nothing() -> None:
    store, publisher, clock = with_clusters()
    merge_clusters(store, [[C1, C2], [C3, C4]], clock=clock)
    with store.unit_of_work() as uow:
        before = list(uow.customers.iter_all())
    published = len(publisher.published)

    again = merge_clusters(store, [[C2, C1], [C3, C4]], clock=clock.advance(days=1))

    assert (again.merges, again.skipped) == ((), ())
    assert again.already_merged == ((C2, C1), (C3, C4))
    with store.unit_of_work() as uow:
        assert list(uow.customers.iter_all()) == before
        assert uow.merges.count() == 2
    assert len(publisher.published) == published


def test_a_cluster_partly_merged_elsewhere_is_skipped_not_half_merged() -> None:
    store, _, clock = with_clusters()
    merge_clusters(store, [[C1, C2]], clock=clock)

    report = merge_clusters(store, [[C2, C3]], clock=clock)

    assert report.skipped == (
        SkippedCluster(ids=(C2, C3), reason="invalid customers 'c-2': already merged into c-1"),
    )
    assert active_ids(store) == [C1, C3, C4, ACME]


def test_clusters_of_fewer_than_two_customers_are_ignored() -> None:
    store, publisher, clock = with_clusters()

    report = merge_clusters(store, [[C1], [C2, C2], []], clock=clock)

    assert (report.merges, report.already_merged, report.skipped) == ((), (), ())
    assert publisher.published == []


def test_a_missing_customer_stops_the_run_and_keeps_the_clusters_merged_before_it() -> None:
    store, _, clock = with_clusters()

    with pytest.raises(NotFoundError):
        merge_clusters(store, [[C1, C2], [C3, CustomerId("c-404")]], clock=clock)

    assert active_ids(store) == [C1, C3, C4, ACME]
