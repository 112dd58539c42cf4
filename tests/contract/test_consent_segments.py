"""A marketing segment excludes people without valid consent, on memory and every SQL backend.

``CustomerRepository.select`` with a :class:`~crmcore.segments.HasConsent` clause reads the
consent ledger stored beside the customers, and answers as ``may_process`` does.
"""

from __future__ import annotations

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import SqlStore
from crmcore.adapters.sql.tables import metadata
from crmcore.domain import (
    ConsentChannel,
    ConsentId,
    CustomerId,
    Person,
    PersonName,
    register_customer,
)
from crmcore.ports import Store
from crmcore.privacy.consent import (
    ConsentRecord,
    ConsentWithdrawal,
    Jurisdiction,
    LedgerEntry,
    may_process,
)
from crmcore.segments import HasTag, has_consent

START = pendulum.datetime(2026, 1, 1)
AT = START.add(days=60)
CHANNELS = list(ConsentChannel)


@st.composite
def ledgers(draw: st.DrawFn) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    for n in range(draw(st.integers(0, 8))):
        subject = CustomerId(f"c-{draw(st.integers(0, 3))}")
        captured = START.add(days=draw(st.integers(0, 90)))
        until = draw(st.none() | st.integers(1, 60))
        record = ConsentRecord(
            id=ConsentId(f"k-{n}"),
            subject=subject,
            purpose=draw(st.sampled_from(["marketing", "profiling"])),
            channel=draw(st.sampled_from(CHANNELS)),
            jurisdiction=Jurisdiction.PIPL,
            captured_at=captured,
            valid_until=None if until is None else captured.add(days=until),
        )
        entries.append(record)
        gone = draw(st.none() | st.integers(0, 60))
        if gone is not None:
            entries.append(
                ConsentWithdrawal(
                    record_id=record.id, subject=subject, withdrawn_at=captured.add(days=gone)
                )
            )
    return entries


def fill(store: Store, entries: list[LedgerEntry]) -> None:
    with store.unit_of_work() as uow:
        for n in range(4):
            customer, _ = register_customer(
                id=CustomerId(f"c-{n}"),
                person=Person(name=PersonName.parse(f"Person {n}")),
                tags=["newsletter"],
                at=START,
            )
            uow.customers.save(customer)
        for entry in entries:
            uow.consent_ledger.append(entry)
        uow.commit()


def check(store: Store, entries: list[LedgerEntry], channel: ConsentChannel) -> None:
    rule = HasTag("newsletter") & has_consent("marketing", channel.value)
    with store.unit_of_work() as uow:
        selected = uow.customers.select(rule, at=AT)
    expected = [
        CustomerId(f"c-{n}")
        for n in range(4)
        if may_process(entries, CustomerId(f"c-{n}"), "marketing", channel, AT)
    ]
    assert selected == expected


_SETTINGS = settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(entries=ledgers(), channel=st.sampled_from(CHANNELS))
def test_memory_selects_who_may_be_processed(
    entries: list[LedgerEntry], channel: ConsentChannel
) -> None:
    store = MemoryStore()
    fill(store, entries)
    check(store, entries, channel)


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    return sql_engine


@_SETTINGS
@given(entries=ledgers(), channel=st.sampled_from(CHANNELS))
def test_sql_selects_who_may_be_processed(
    engine: Engine, entries: list[LedgerEntry], channel: ConsentChannel
) -> None:
    with engine.begin() as conn:  # a fresh database for each example
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    store = SqlStore(engine)
    fill(store, entries)
    check(store, entries, channel)
