"""Sensitive fields encrypted at rest in the SQL adapter: SQLite, PostgreSQL and MariaDB.

The contract (:class:`~crmcore.testing.contracts.EncryptedStoreContract`) runs on
each backend with the keys in a database of their own; the storage contract
(:class:`~crmcore.testing.contracts.StoreContract`) runs again on an encrypting
SQLite store, so every repository method is checked through the sealed form. A
full dump (``pg_dump``, ``mysqldump``, ``sqlite3 .dump``) of a database holding
a registered, merged and audited subject shows none of the encrypted values,
and after erasure none of the subject's strings at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pendulum
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.contract.conftest import empty
from tests.contract.test_subject_erasure import (
    AT,
    SUBJECT,
    Personal,
    check_erasure,
    leaked,
    populate,
    sql_dump,
)

from crmcore.adapters.crypto import AesGcmEncryptor
from crmcore.adapters.memory import MemoryKeyStore
from crmcore.adapters.sql import SqlKeyStore, SqlStore, create_engine
from crmcore.adapters.sql.tables import customers, match_records, merges, metadata
from crmcore.domain import (
    Customer,
    CustomerId,
    CustomFieldSchema,
    EmailAddress,
    Person,
    PersonName,
    register_customer,
)
from crmcore.ports import EventPublisher
from crmcore.services.subject import erase_subject, export_subject
from crmcore.testing.contracts import (
    EncryptedSetup,
    EncryptedStoreContract,
    EncryptedStoreFactory,
    StoreContract,
)


@pytest.fixture
def key_engine() -> Iterator[Engine]:
    """The keys live in a database of their own (as they should in production)."""
    engine = create_engine("sqlite://")
    yield engine
    engine.dispose()


def _raw(engine: Engine, *tables: sa.Table) -> str:
    with engine.connect() as conn:
        rows = [
            [str(v) for v in row]
            for table in tables or metadata.sorted_tables
            for row in conn.execute(sa.select(table)).all()
        ]
    return json.dumps(rows, ensure_ascii=False) + repr(rows)


def _documents(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(customers.c.id, customers.c.document)).all()
    return {str(r.id): r.document for r in rows}


def _corrupt(engine: Engine) -> Callable[[str, dict[str, Any]], None]:
    def write(customer_id: str, document: dict[str, Any]) -> None:
        with engine.begin() as conn:
            conn.execute(
                customers.update().where(customers.c.id == customer_id).values(document=document)
            )

    return write


def encrypted_factory(engine: Engine, key_engine: Engine) -> EncryptedStoreFactory:
    def fresh(schema: CustomFieldSchema | None) -> EncryptedSetup:
        empty(engine)
        keys = SqlKeyStore(key_engine, create=True)
        with key_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM subject_keys"))
        store = SqlStore(engine, encryptor=AesGcmEncryptor(keys), custom_schema=schema)
        return EncryptedSetup(
            store=store,
            keys=keys,
            raw=lambda: _raw(engine),
            raw_documents=lambda: _documents(engine),
            corrupt=_corrupt(engine),
            plain=lambda: SqlStore(engine),
        )

    return fresh


class TestSqliteEncrypted(EncryptedStoreContract):
    @pytest.fixture
    def encrypted_store_factory(
        self, sqlite_engine: Engine, key_engine: Engine
    ) -> EncryptedStoreFactory:
        return encrypted_factory(sqlite_engine, key_engine)


class TestPostgresEncrypted(EncryptedStoreContract):
    @pytest.fixture
    def encrypted_store_factory(
        self, postgres_engine: Engine, key_engine: Engine
    ) -> EncryptedStoreFactory:
        return encrypted_factory(postgres_engine, key_engine)


class TestMariaDbEncrypted(EncryptedStoreContract):
    @pytest.fixture
    def encrypted_store_factory(
        self, mysql_engine: Engine, key_engine: Engine
    ) -> EncryptedStoreFactory:
        return encrypted_factory(mysql_engine, key_engine)


class TestEncryptingSqliteStore(StoreContract):
    """The whole storage contract through an encrypting store."""

    @pytest.fixture
    def store_factory(self, sqlite_engine: Engine) -> Callable[[EventPublisher | None], SqlStore]:
        def fresh(publisher: EventPublisher | None) -> SqlStore:
            empty(sqlite_engine)
            encryptor = AesGcmEncryptor(MemoryKeyStore())
            return SqlStore(sqlite_engine, publisher=publisher, encryptor=encryptor)

        return fresh


def test_a_full_dump_shows_no_encrypted_value_and_nothing_after_erasure(
    sql_engine: Engine, key_engine: Engine
) -> None:
    keys = SqlKeyStore(key_engine, create=True)
    store = SqlStore(sql_engine, encryptor=AesGcmEncryptor(keys))
    p = Personal()
    populate(store, p)  # registered, merged with a twin, audited, with events
    dump = sql_dump(sql_engine)
    assert "bystanderia" in dump  # the dump did read the data
    assert p.email_local in dump  # emails stay searchable: stored in plain
    assert p.national_id not in dump
    # The street is also in a case's free text (not an encrypted field): not in any customer row.
    assert p.street not in _raw(sql_engine, customers, merges, match_records)
    with store.unit_of_work() as uow:
        subject = uow.customers.get(SUBJECT)
        assert subject.person is not None
        assert subject.person.national_id == p.national_id
        assert [a.address.street for a in subject.points.addresses] == [(p.street,)]
        assert p.street in json.dumps(export_subject(uow, SUBJECT, at=AT.add(days=2)))
    request = erase_subject(store, SUBJECT, at=AT.add(days=30), keys=keys, request_id="er-1")
    assert request.done
    assert keys.get(SUBJECT) is None
    check_erasure(store, sql_dump(sql_engine), p)
    assert leaked(sql_dump(sql_engine), p) == []


class _CountingSqlKeys(SqlKeyStore):
    """A SQL key store that counts the key-store calls a unit of work makes."""

    calls = 0

    def get_many(self, subjects: Iterable[str]) -> dict[str, bytes]:
        self.calls += 1
        return super().get_many(subjects)

    def get_or_create_many(self, new_keys: Mapping[str, bytes]) -> dict[str, bytes]:
        self.calls += 1
        return super().get_or_create_many(new_keys)


def _sensitive(count: int) -> list[Customer]:
    at = pendulum.datetime(2026, 3, 1)
    return [
        register_customer(
            id=CustomerId(f"c-{n:03d}"),
            person=Person(name=PersonName.parse("李娜"), national_id=f"G{n:08d}"),
            emails=[EmailAddress(f"u{n}@example.com")],
            at=at,
        )[0]
        for n in range(count)
    ]


def test_a_unit_of_work_seals_and_opens_in_batches_and_asks_once_per_subject(
    sqlite_engine: Engine, key_engine: Engine
) -> None:
    empty(sqlite_engine)
    keys = _CountingSqlKeys(key_engine, create=True)
    encryptor = AesGcmEncryptor(keys)
    store = SqlStore(sqlite_engine, encryptor=encryptor, match_index=False)
    items = _sensitive(25)
    with store.unit_of_work() as uow:
        saved = uow.customers.save_many(items)
        assert keys.calls == 1  # every customer of the save sealed with one key-store call
        uow.commit()
    assert len(keys.get_many(c.id for c in items)) == 25  # the keys were stored
    keys.calls = 0
    with store.unit_of_work() as uow:
        listed = list(uow.customers.iter_all(page_size=10))
        assert keys.calls == 3  # one call per page
        assert [c.person.national_id for c in listed if c.person] == [
            f"G{n:08d}" for n in range(25)
        ]
        uow.customers.get(items[0].id)
        uow.customers.get_many([c.id for c in items])
        uow.customers.save(saved[1])  # an update re-seals under the remembered key
        assert keys.calls == 3  # the unit of work remembers every key it read
        assert encryptor.shred(items[0].id)  # a shred in the same unit of work evicts
        erased = uow.customers.get(items[0].id)
        assert erased.person is not None
        assert erased.person.national_id == ""
        assert keys.calls == 4
    with store.unit_of_work() as uow:  # a new unit of work asks again
        assert uow.customers.get(items[2].id).person == items[2].person
        assert keys.calls == 5
