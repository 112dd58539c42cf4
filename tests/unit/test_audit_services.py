"""Services that audit: registration and merge append entries in their own unit of work."""

from __future__ import annotations

import pendulum

from crmcore.adapters.memory import MemoryStore
from crmcore.clock import FixedClock
from crmcore.domain import (
    Customer,
    CustomerId,
    EmailAddress,
    Person,
    PersonName,
    PhoneNumber,
    UserId,
    register_customer,
)
from crmcore.matching import DuplicatePolicy, MatchIndex
from crmcore.privacy.audit import AuditEntry, verify
from crmcore.services.merge import merge_customers, unmerge_customers
from crmcore.services.registration import register_customers

AT = pendulum.datetime(2026, 11, 1)
POLICY = DuplicatePolicy(alert_at=0.5, block_at=0.95)


def person(cid: str, name: str, phone: str) -> Customer:
    customer, _ = register_customer(
        id=CustomerId(cid),
        person=Person(name=PersonName.parse(name)),
        phones=[PhoneNumber.parse(phone, region="CN")],
        emails=[EmailAddress(f"{cid}@example.com")],
        at=AT,
    )
    return customer


def chain(store: MemoryStore) -> list[AuditEntry]:
    with store.unit_of_work() as uow:
        entries = list(uow.audit.entries())
        assert verify(entries).holds
        return entries


def test_registration_audits_nothing_unless_asked() -> None:
    store = MemoryStore()
    register_customers(
        store.unit_of_work(),
        [person("c1", "张伟", "13800138000")],
        index=MatchIndex(),
        policy=POLICY,
    )
    assert chain(store) == []


def test_an_audited_registration_records_who_created_whom_with_the_personal_data() -> None:
    store = MemoryStore()
    register_customers(
        store.unit_of_work(),
        [person("c1", "张伟", "13800138000"), person("c2", "李娜", "13912345678")],
        index=MatchIndex(),
        policy=POLICY,
        by=UserId("u-li"),
        audit=True,
    )
    entries = chain(store)
    assert [
        (e.sequence, e.actor, str(e.action), e.record_id, e.subject, e.at) for e in entries
    ] == [
        (1, "u-li", "create", "c1", "c1", AT),
        (2, "u-li", "create", "c2", "c2", AT),
    ]
    with store.unit_of_work() as uow:
        payload = uow.audit.payloads([1])[1].payload
    assert payload == {
        "display_name": "张伟",
        "kind": "person",
        "owner": None,
        "emails": ["c1@example.com"],
        "phones": ["+8613800138000"],
    }


def test_an_audited_merge_and_unmerge_record_the_ids_involved() -> None:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        uow.customers.save_many(
            [person("c1", "张伟", "13800138000"), person("c2", "张伟", "13800138000")]
        )
        uow.commit()
    clock = FixedClock(pendulum.datetime(2026, 12, 1))
    merged = merge_customers(
        store.unit_of_work(),
        [CustomerId("c1"), CustomerId("c2")],
        clock=clock,
        by=UserId("u-wang"),
        audit=True,
    )
    unmerge_customers(store.unit_of_work(), merged.record.id, clock=clock, audit=True)
    entries = chain(store)
    assert [(str(e.action), e.record_type, e.record_id, e.subject, e.actor) for e in entries] == [
        ("merge", "merge", merged.record.id, "c1", "u-wang"),
        ("unmerge", "merge", merged.record.id, "c1", "system"),
    ]
    with store.unit_of_work() as uow:
        payload = uow.audit.payloads([1])[1].payload
    assert payload == {"survivor_id": "c1", "merged_ids": ["c2"], "repointed": 0}
