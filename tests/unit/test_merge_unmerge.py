"""Applying and undoing merges: nothing deleted, lineage kept, later edits reported."""

from __future__ import annotations

from typing import Any

import attrs
import pendulum
import pytest

from crmcore.domain import (
    Activity,
    ActivityId,
    ActivityKind,
    ContactPoints,
    CountryCode,
    Customer,
    CustomerId,
    CustomerKind,
    EmailAddress,
    MergeId,
    Organization,
    Person,
    PersonName,
    Tier,
    UserId,
    add_email,
    classify,
    log_activity,
    update_customer,
)
from crmcore.errors import InvalidValueError
from crmcore.merge import (
    ConflictKind,
    MergeResult,
    RelatedKind,
    RepointedRecord,
    SurvivorshipRule,
    apply_merge,
    plan_merge,
    unmerge,
)

T0 = pendulum.datetime(2026, 1, 1)
AT = pendulum.datetime(2026, 6, 1)
LATER = AT.add(days=3)
ADA = UserId("u-ada")


def person(id: str, *, created: int = 0, **kw: Any) -> Customer:
    kw.setdefault("person", Person(name=PersonName.parse("张伟")))
    return Customer(
        id=CustomerId(id),
        kind=CustomerKind.PERSON,
        created_at=T0.add(days=created),
        updated_at=T0.add(days=created),
        **kw,
    )


def call(id: str, customer: str) -> Activity:
    activity, _ = log_activity(
        id=ActivityId(id), kind=ActivityKind.CALL, customer_id=CustomerId(customer), at=T0
    )
    return activity


OLD = person("c-1", points=ContactPoints().with_email(EmailAddress("a@example.com")))
NEW = person(
    "c-2",
    created=2,
    points=ContactPoints().with_email(EmailAddress("b@example.com")),
    country=CountryCode("CN"),
    tags=["vip"],
)


def merge(*related: Activity) -> MergeResult:
    plan = plan_merge([OLD, NEW], related, at=AT, merge_id=MergeId("m-1"), by=ADA)
    return apply_merge(plan)


def test_merge_sets_merged_into_and_deletes_nothing() -> None:
    result = merge()

    (merged,) = result.merged
    assert merged == attrs.evolve(NEW, merged_into=CustomerId("c-1"), updated_at=AT)


def test_merge_moves_the_merged_customers_records_and_leaves_the_survivors() -> None:
    result = merge(call("a-1", "c-2"), call("a-2", "c-1"))

    assert [(r.id, r.customer_id) for r in result.related] == [("a-1", "c-1")]
    assert result.record.repointed == (
        RepointedRecord(kind=RelatedKind.ACTIVITY, record_id="a-1", from_id="c-2", to_id="c-1"),
    )


def test_the_merge_record_keeps_the_originals_the_result_and_every_decision() -> None:
    result = merge()
    record = result.record

    assert record.originals == (OLD, NEW)
    assert record.result == result.survivor
    assert record.decision("points.emails").contributors == ("c-1", "c-2")
    assert (record.merged_at, record.merged_by, record.undone_at) == (AT, ADA, None)


def test_the_merge_event_names_the_survivor_and_the_merged() -> None:
    event = merge().event

    assert (event.merge_id, event.survivor_id, event.merged_ids) == ("m-1", "c-1", ("c-2",))
    assert (event.at, event.by) == (AT, ADA)


def test_merging_a_single_customer_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="at least two customers"):
        plan_merge([OLD], at=AT, merge_id=MergeId("m-1"))


def test_merging_a_customer_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="listed twice"):
        plan_merge([OLD, OLD], at=AT, merge_id=MergeId("m-1"))


def test_merging_an_already_merged_customer_is_refused() -> None:
    gone = attrs.evolve(NEW, merged_into=CustomerId("c-9"))

    with pytest.raises(InvalidValueError, match="already merged into c-9"):
        plan_merge([OLD, gone], at=AT, merge_id=MergeId("m-1"))


def test_merging_a_person_with_an_organisation_is_refused() -> None:
    org = attrs.evolve(
        NEW,
        kind=CustomerKind.ORGANIZATION,
        person=None,
        organization=Organization(legal_name="腾达科技"),
    )

    with pytest.raises(InvalidValueError, match="person with an organization"):
        plan_merge([OLD, org], at=AT, merge_id=MergeId("m-1"))


def test_merging_before_the_last_update_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="before the last update of customer c-2"):
        plan_merge([OLD, NEW], at=T0, merge_id=MergeId("m-1"))


def test_a_related_record_of_another_customer_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="belongs to customer c-7"):
        plan_merge([OLD, NEW], [call("a-1", "c-7")], at=AT, merge_id=MergeId("m-1"))


def test_unmerge_restores_both_customers_and_moves_records_back() -> None:
    result = merge(call("a-1", "c-2"))

    undone = unmerge(
        result.record, result.survivor, result.related, at=LATER, current_merged=result.merged
    )

    assert undone.survivor == attrs.evolve(OLD, updated_at=LATER)
    assert undone.restored == (attrs.evolve(NEW, updated_at=LATER),)
    assert [(r.id, r.customer_id) for r in undone.related] == [("a-1", "c-2")]
    assert undone.conflicts == ()


def test_unmerge_marks_the_record_undone_and_emits_the_event() -> None:
    result = merge()

    undone = unmerge(result.record, result.survivor, [], at=LATER, by=ADA)

    assert (undone.record.undone_at, undone.record.undone_by) == (LATER, ADA)
    assert (undone.event.merge_id, undone.event.restored_ids) == ("m-1", ("c-2",))


def test_unmerge_carries_the_stored_versions() -> None:
    result = merge()
    stored = attrs.evolve(result.survivor, version=4)
    stored_merged = attrs.evolve(result.merged[0], version=7)

    undone = unmerge(result.record, stored, [], at=LATER, current_merged=[stored_merged])

    assert (undone.survivor.version, undone.restored[0].version) == (4, 7)


def test_an_email_added_after_the_merge_stays_on_the_survivor_and_is_reported() -> None:
    result = merge()
    edited, _ = add_email(result.survivor, EmailAddress("new@example.com"), at=AT.add(days=1))

    undone = unmerge(result.record, edited, [], at=LATER)

    emails = {str(e.address) for e in undone.survivor.points.emails}
    assert emails == {"a@example.com", "new@example.com"}
    (conflict,) = undone.conflicts
    assert (conflict.kind, conflict.customer_id, conflict.field) == (
        ConflictKind.EDITED_AFTER_MERGE,
        "c-1",
        "points.emails",
    )
    assert "added new@example.com" in conflict.detail


def test_an_email_removed_after_the_merge_stays_removed_and_is_reported() -> None:
    result = merge()
    points = result.survivor.points.without_email(EmailAddress("a@example.com"))
    edited, _ = update_customer(result.survivor, points=points, at=AT.add(days=1))

    undone = unmerge(result.record, edited, [], at=LATER)

    assert undone.survivor.points.emails == ()
    assert "removed a@example.com" in undone.conflicts[0].detail


def test_a_field_edited_after_the_merge_keeps_its_new_value_and_is_reported() -> None:
    result = merge()
    edited, _ = classify(result.survivor, tier=Tier.VIP, reason="big order", at=AT.add(days=1))

    undone = unmerge(result.record, edited, [], at=LATER)

    assert (undone.survivor.tier, undone.survivor.tier_reason) == (Tier.VIP, "big order")
    assert [c.field for c in undone.conflicts] == ["tier"]


def test_a_value_brought_in_by_the_merge_leaves_the_survivor() -> None:
    result = merge()
    assert result.survivor.country == CountryCode("CN")

    undone = unmerge(result.record, result.survivor, [], at=LATER)

    assert undone.survivor.country is None


def test_a_merged_customer_edited_after_the_merge_keeps_the_edit_and_it_is_reported() -> None:
    result = merge()
    (merged,) = result.merged
    edited = attrs.evolve(merged, country=CountryCode("US"), updated_at=AT.add(days=1))

    undone = unmerge(result.record, result.survivor, [], at=LATER, current_merged=[edited])

    assert undone.restored[0].country == CountryCode("US")
    assert [(c.customer_id, c.field) for c in undone.conflicts] == [("c-2", "country")]


def test_a_record_moved_elsewhere_since_the_merge_is_left_there_and_reported() -> None:
    result = merge(call("a-1", "c-2"))
    moved = attrs.evolve(result.related[0], customer_id=CustomerId("c-5"))

    undone = unmerge(result.record, result.survivor, [moved], at=LATER)

    assert undone.related == ()
    assert [(c.kind, c.field) for c in undone.conflicts] == [
        (ConflictKind.RELATED_MOVED, "activity:a-1")
    ]


def test_a_record_missing_since_the_merge_is_reported() -> None:
    result = merge(call("a-1", "c-2"))

    undone = unmerge(result.record, result.survivor, [], at=LATER)

    assert [(c.kind, c.field) for c in undone.conflicts] == [
        (ConflictKind.RELATED_MISSING, "activity:a-1")
    ]


def test_records_created_on_the_survivor_after_the_merge_stay_with_it() -> None:
    result = merge()

    undone = unmerge(result.record, result.survivor, [call("a-9", "c-1")], at=LATER)

    assert undone.related == ()


def test_undoing_a_merge_twice_is_refused() -> None:
    result = merge()
    undone = unmerge(result.record, result.survivor, [], at=LATER)

    with pytest.raises(InvalidValueError, match="already undone"):
        unmerge(undone.record, undone.survivor, [], at=LATER)


def test_undoing_a_merge_whose_survivor_was_merged_again_is_refused() -> None:
    result = merge()
    again = attrs.evolve(result.survivor, merged_into=CustomerId("c-8"))

    with pytest.raises(InvalidValueError, match="undo that merge first"):
        unmerge(result.record, again, [], at=LATER)


def test_undoing_with_another_survivor_is_refused() -> None:
    result = merge()

    with pytest.raises(InvalidValueError, match="kept c-1"):
        unmerge(result.record, NEW, [], at=LATER)


def test_a_merge_record_must_not_list_the_survivor_as_merged() -> None:
    record = merge().record

    with pytest.raises(InvalidValueError, match="the survivor is not merged"):
        attrs.evolve(record, merged_ids=("c-1", "c-2"))


def test_a_merge_record_needs_a_snapshot_of_every_customer() -> None:
    record = merge().record

    with pytest.raises(InvalidValueError, match="expected one snapshot of each"):
        attrs.evolve(record, originals=(OLD,))


def test_a_merge_record_cannot_be_undone_before_it_was_made() -> None:
    record = merge().record

    with pytest.raises(InvalidValueError, match="before merged_at"):
        attrs.evolve(record, undone_at=T0, updated_at=AT)


def test_the_decision_for_an_unknown_field_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="no decision"):
        merge().record.decision("nickname")


def test_a_merge_record_names_its_rules() -> None:
    assert merge().record.decision("tags").rule is SurvivorshipRule.UNION


def test_a_custom_field_removed_after_the_merge_stays_removed_and_is_reported() -> None:
    old = person("c-1", custom={"visits": 3})
    result = apply_merge(plan_merge([old, NEW], at=AT, merge_id=MergeId("m-1")))
    edited = attrs.evolve(result.survivor, custom={}, updated_at=AT.add(days=1))

    undone = unmerge(result.record, edited, [], at=LATER)

    assert "visits" not in undone.survivor.custom
    (conflict,) = undone.conflicts
    assert (conflict.field, conflict.detail) == (
        "custom.visits",
        "kept no value set after the merge (merge gave 3)",
    )
