"""Merge properties: nothing lost, order does not matter, unmerge restores everything.

Each case is built from one string of bytes (``st.binary``): 2-4 duplicate
customers of one kind drawing on small pools of emails, phones, addresses,
tags, custom fields and external ids (so duplicates share values), and 0-2
related records of every kind per case. One draw per case keeps 1,000 cases
per property fast; hypothesis still shrinks the bytes to a minimal failure.
"""

from __future__ import annotations

import random

import attrs
import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.domain import (
    ActivityId,
    ActivityKind,
    AddressContact,
    CaseId,
    CaseKind,
    ConsentChannel,
    ConsentId,
    ContactKind,
    ContactPoints,
    Customer,
    CustomerId,
    CustomerKind,
    CustomFields,
    CustomValue,
    EmailAddress,
    EmailContact,
    ExternalId,
    Gender,
    LifecycleStage,
    MergeId,
    Money,
    OpportunityId,
    OrderId,
    Organization,
    Person,
    PersonName,
    PhoneContact,
    PhoneNumber,
    PostalAddress,
    Priority,
    SourceChannel,
    SurveyResponseId,
    Tag,
    Tier,
    UserId,
    grant_consent,
    log_activity,
    open_case,
    open_opportunity,
    record_order,
    record_survey_response,
)
from crmcore.merge import (
    MergeRecord,
    MergeResult,
    RelatedRecord,
    apply_merge,
    plan_merge,
    related_kind,
    unmerge,
)
from crmcore.serialization import structure, unstructure
from crmcore.testing import strategies as cst

_START = pendulum.datetime(2025, 1, 1)
_EMAILS = [EmailAddress(f"{n}@example.com") for n in ("li.na", "zhang.wei", "wei", "ann")]
_PHONES = [PhoneNumber.parse(f"1380013800{i}", region="CN") for i in range(4)]
_ADDRESSES = [
    PostalAddress(country="CN", city="深圳市", street=("科技园路1号",), postcode="518057"),
    PostalAddress(country="CN", city="杭州市", postcode="310000"),
    PostalAddress(country="US", city="New York", street=("1 Market St",), postcode="10001"),
]
_TAGS = [Tag(t) for t in ("vip", "高价值", "b2b", "churn-risk")]
_NAMES = [PersonName.parse(n) for n in ("张伟", "Zhang Wei", "Wei Zhang", "李娜")]
_COMPANIES = ["深圳市腾达科技有限公司", "腾达科技", "Acme Inc."]
_CUSTOM: list[dict[str, CustomValue]] = [
    {},
    {"visits": 3},
    {"visits": 5, "wechat_id": "zw88"},
    {"flags": ("a", "b")},
]
_USERS = [None, UserId("u-ana"), UserId("u-bo")]
_CALL, _COMPLAINT = ActivityKind.CALL, CaseKind.COMPLAINT
_CASE_SIZE = 128


class _Bytes:
    """Reads small choices from the drawn bytes, cycling when they run out."""

    def __init__(self, data: bytes) -> None:
        self.data = data or b"\0"
        self.at = 0

    def pick(self, n: int) -> int:
        value = self.data[self.at % len(self.data)]
        self.at += 1
        return value % n

    def mask(self, n: int) -> list[int]:
        bits = self.pick(256)
        return [i for i in range(n) if bits >> i & 1]


def _customer(b: _Bytes, id: str, kind: CustomerKind) -> Customer:
    created = _START.add(days=b.pick(4))
    kinds = list(ContactKind)
    points = ContactPoints(
        emails=[EmailContact(address=_EMAILS[i], kind=kinds[b.pick(4)]) for i in b.mask(4)],
        phones=[PhoneContact(number=_PHONES[i], kind=kinds[b.pick(4)]) for i in b.mask(4)],
        addresses=[AddressContact(address=_ADDRESSES[i]) for i in b.mask(3)],
    )
    if points.emails and b.pick(2):
        points = points.with_email(points.emails[-1].address, primary=True)
    person = Person(
        name=_NAMES[b.pick(4)],
        gender=[None, Gender.FEMALE, Gender.MALE][b.pick(3)],
        birth_date=[None, "1990-01-02", "1988-02-29"][b.pick(3)],
    )
    org = Organization(legal_name=_COMPANIES[b.pick(3)], industry=["", "零售"][b.pick(2)])
    systems = [ExternalId(s, str(b.pick(2))) for s in ("erp", "shop") if b.pick(2)]
    return Customer(
        id=CustomerId(id),
        version=b.pick(3),
        kind=kind,
        person=person if kind is CustomerKind.PERSON else None,
        organization=org if kind is CustomerKind.ORGANIZATION else None,
        points=points,
        tier=list(Tier)[b.pick(4)],
        priority=list(Priority)[b.pick(3)],
        source=list(SourceChannel)[b.pick(4)],
        lifecycle_stage=list(LifecycleStage)[b.pick(6)],
        owner=_USERS[b.pick(3)],
        tags=[_TAGS[i] for i in b.mask(4)],
        custom=CustomFields(_CUSTOM[b.pick(4)]),
        preferences=CustomFields(_CUSTOM[b.pick(4)]),
        external_ids=systems,
        created_at=created,
        updated_at=created.add(hours=b.pick(48)),
    )


def _related(b: _Bytes, ids: list[CustomerId]) -> list[RelatedRecord]:
    records: list[RelatedRecord] = []
    for n in range(b.pick(3)):
        at = _START.add(days=b.pick(5))
        owner = ids[b.pick(len(ids))]
        cny = Money("100.00", "CNY")
        records += [
            log_activity(id=ActivityId(f"a-{n}"), kind=_CALL, customer_id=owner, at=at)[0],
            open_opportunity(
                id=OpportunityId(f"o-{n}"), title="续约", amount=cny, customer_id=owner, at=at
            )[0],
            open_case(id=CaseId(f"k-{n}"), kind=_COMPLAINT, subject="x", customer_id=owner, at=at)[
                0
            ],
            record_order(id=OrderId(f"r-{n}"), amount=cny, ordered_at=at, customer_id=owner, at=at)[
                0
            ],
            record_survey_response(id=SurveyResponseId(f"s-{n}"), nps=9, customer_id=owner, at=at)[
                0
            ],
            grant_consent(
                id=ConsentId(f"g-{n}"),
                purpose="marketing",
                channel=ConsentChannel.EMAIL,
                source="web",
                customer_id=owner,
                at=at,
            )[0],
        ]
    return [r for r in records if b.pick(4)]


def _case(data: bytes) -> tuple[list[Customer], list[RelatedRecord], pendulum.DateTime]:
    b = _Bytes(data)
    kind = list(CustomerKind)[b.pick(2)]
    ids = ["c-1", "c-2", "c-3", "c-4", "c-5"]
    chosen = sorted(ids, key=lambda _: b.pick(256))[: 2 + b.pick(3)]
    customers = [_customer(b, i, kind) for i in chosen]
    related = _related(b, [c.id for c in customers])
    latest = max([c.updated_at for c in customers] + [r.updated_at for r in related])
    return customers, related, latest.add(seconds=b.pick(256))


_cases = st.binary(min_size=_CASE_SIZE, max_size=_CASE_SIZE).map(_case)
Case = tuple[list[Customer], list[RelatedRecord], pendulum.DateTime]


def _merge(
    customers: list[Customer], related: list[RelatedRecord], at: pendulum.DateTime
) -> MergeResult:
    return apply_merge(plan_merge(customers, related, at=at, merge_id=MergeId("m-1")))


def _key(record: RelatedRecord) -> tuple[str, str]:
    return (related_kind(record).value, record.id)


@settings(max_examples=1000)
@given(_cases)
def test_merge_keeps_every_email_phone_address_and_tag_of_every_customer(case: Case) -> None:
    customers, related, at = case

    survivor = _merge(customers, related, at).survivor

    points = survivor.points

    assert {e.address for e in points.emails} == {
        e.address for c in customers for e in c.points.emails
    }
    assert {p.number for p in points.phones} == {
        p.number for c in customers for p in c.points.phones
    }
    assert {a.address for a in points.addresses} == {
        a.address for c in customers for a in c.points.addresses
    }
    assert survivor.tags == frozenset().union(*(c.tags for c in customers))


@settings(max_examples=1000)
@given(_cases)
def test_merge_moves_every_related_record_and_consent_to_the_survivor(case: Case) -> None:
    customers, related, at = case

    result = _merge(customers, related, at)

    survivor_id = result.survivor.id
    moved = {_key(r) for r in result.related}
    stayed = {_key(r) for r in related if r.customer_id == survivor_id}
    assert moved | stayed == {_key(r) for r in related}
    assert moved.isdisjoint(stayed)
    assert all(r.customer_id == survivor_id for r in result.related)
    assert sorted(c.id for c in result.merged) == sorted({c.id for c in customers} - {survivor_id})
    assert all(c.merged_into == survivor_id for c in result.merged)


@settings(max_examples=1000)
@given(_cases, st.integers(0, 2**32))
def test_merge_is_deterministic_whatever_the_input_order(case: Case, seed: int) -> None:
    customers, related, at = case
    shuffled_customers, shuffled_related = list(customers), list(related)
    random.Random(seed).shuffle(shuffled_customers)
    random.Random(seed).shuffle(shuffled_related)

    assert _merge(shuffled_customers, shuffled_related, at) == _merge(customers, related, at)


@settings(max_examples=1000)
@given(_cases, st.integers(0, 10**6))
def test_unmerge_restores_the_originals_and_their_related_records_exactly(
    case: Case, later: int
) -> None:
    customers, related, at = case
    merged = _merge(customers, related, at)

    undone = unmerge(
        merged.record,
        merged.survivor,
        merged.related,
        at=at.add(seconds=later),
        current_merged=merged.merged,
    )

    before = {c.id: c for c in customers}
    restored = {
        c.id: attrs.evolve(c, updated_at=before[c.id].updated_at)
        for c in (undone.survivor, *undone.restored)
    }
    assert restored == before
    related_before = {_key(r): r for r in related}
    related_after = {
        _key(r): attrs.evolve(r, updated_at=related_before[_key(r)].updated_at)
        for r in undone.related
    }
    assert related_after == {
        k: r for k, r in related_before.items() if r.customer_id != merged.survivor.id
    }
    assert undone.conflicts == ()


@given(_cases)
def test_merge_record_round_trips_through_serialization(case: Case) -> None:
    record = _merge(*case).record

    assert structure(unstructure(record), MergeRecord) == record


@settings(max_examples=10)  # customers() is slow to generate; the case above covers more.
@given(cst.merge_records())
def test_generated_merge_records_round_trip_through_serialization(record: MergeRecord) -> None:
    assert structure(unstructure(record), MergeRecord) == record
