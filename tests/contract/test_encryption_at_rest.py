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
from collections.abc import Callable, Iterator
from typing import Any

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
from crmcore.domain import CustomFieldSchema
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
