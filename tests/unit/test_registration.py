from __future__ import annotations

import pendulum
import pytest

from crmcore.adapters.memory import MemoryStore
from crmcore.domain import (
    Customer,
    CustomerId,
    EmailAddress,
    Person,
    PersonName,
    PhoneNumber,
    register_customer,
)
from crmcore.errors import DuplicateError
from crmcore.matching import DuplicatePolicy, MatchIndex, MatchRecord
from crmcore.services.registration import register_customers

AT = pendulum.datetime(2026, 11, 1)
POLICY = DuplicatePolicy(alert_at=0.5, block_at=0.95)


def person(cid: str, name: str, phone: str, email: str) -> Customer:
    customer, _ = register_customer(
        id=CustomerId(cid),
        person=Person(name=PersonName.parse(name)),
        phones=[PhoneNumber.parse(phone, region="CN")],
        emails=[EmailAddress(email)],
        at=AT,
    )
    return customer


def count(store: MemoryStore) -> int:
    with store.unit_of_work() as uow:
        return uow.customers.count()


def test_a_new_customer_is_stored_and_indexed() -> None:
    store, index = MemoryStore(), MatchIndex()
    (result,) = register_customers(
        store.unit_of_work(),
        [person("c1", "张伟", "13800138000", "zw@example.com")],
        index=index,
        policy=POLICY,
    )
    assert (result.stored, result.customer.version, count(store)) == (True, 1, 1)
    query = MatchRecord.from_customer(
        person("c9", "Zhang Wei", "+86 138 0013 8000", "zw@example.com")
    )
    assert [pair.right for pair in index.candidates(query)] == ["c1"]


def test_the_same_person_in_pinyin_is_blocked_as_a_duplicate() -> None:
    store, index = MemoryStore(), MatchIndex()
    register_customers(
        store.unit_of_work(),
        [person("c1", "张伟", "13800138000", "zw@example.com")],
        index=index,
        policy=POLICY,
    )
    (result,) = register_customers(
        store.unit_of_work(),
        [person("c2", "Zhang Wei", "+86 138 0013 8000", "zw@example.com")],
        index=index,
        policy=POLICY,
    )
    assert (result.stored, [m.right for m in result.check.matches], count(store)) == (
        False,
        ["c1"],
        1,
    )


def test_two_rows_of_one_batch_are_checked_against_each_other() -> None:
    store, index = MemoryStore(), MatchIndex()
    results = register_customers(
        store.unit_of_work(),
        [
            person("c1", "李娜", "13912345678", "lina@example.com"),
            person("c2", "Li Na", "139 1234 5678", "lina@example.com"),
        ],
        index=index,
        policy=POLICY,
    )
    assert [r.stored for r in results] == [True, False]


def test_blocking_can_raise_and_then_nothing_is_saved() -> None:
    store, index = MemoryStore(), MatchIndex()
    with pytest.raises(DuplicateError):
        register_customers(
            store.unit_of_work(),
            [
                person("c1", "李娜", "13912345678", "lina@example.com"),
                person("c2", "Li Na", "139 1234 5678", "lina@example.com"),
            ],
            index=index,
            policy=POLICY,
            raise_on_block=True,
        )
    assert count(store) == 0


def test_different_people_are_allowed() -> None:
    store, index = MemoryStore(), MatchIndex()
    results = register_customers(
        store.unit_of_work(),
        [
            person("c1", "李娜", "13912345678", "lina@example.com"),
            person("c2", "王芳", "13687654321", "wangfang@example.com"),
        ],
        index=index,
        policy=POLICY,
    )
    assert [(r.stored, r.alerted) for r in results] == [(True, False), (True, False)]
