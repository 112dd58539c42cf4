"""The erasure register, history redaction and key store contracts on every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine

from crmcore.adapters.memory import MemoryKeyStore, MemoryStore
from crmcore.adapters.sql import SqlKeyStore, SqlStore
from crmcore.adapters.sql.tables import subject_keys
from crmcore.ports import EventPublisher
from crmcore.testing.contracts import (
    KeyStoreContract,
    KeyStoreFactory,
    StoreFactory,
    SubjectStorageContract,
)

SqlStoreFactory = Callable[[EventPublisher | None], SqlStore]


class TestMemorySubjectStorage(SubjectStorageContract, KeyStoreContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        def fresh(publisher: EventPublisher | None) -> MemoryStore:
            return MemoryStore(publisher)

        return fresh

    @pytest.fixture
    def key_store_factory(self) -> KeyStoreFactory:
        return MemoryKeyStore


def _keys_on(engine: Engine) -> KeyStoreFactory:
    def fresh() -> SqlKeyStore:
        with engine.begin() as conn:
            conn.execute(subject_keys.delete())
        return SqlKeyStore(engine)

    return fresh


class TestSqliteSubjectStorage(SubjectStorageContract, KeyStoreContract):
    @pytest.fixture
    def store_factory(self, sqlite_factory: SqlStoreFactory) -> SqlStoreFactory:
        return sqlite_factory

    @pytest.fixture
    def key_store_factory(self, sqlite_engine: Engine) -> KeyStoreFactory:
        return _keys_on(sqlite_engine)


class TestPostgresSubjectStorage(SubjectStorageContract, KeyStoreContract):
    @pytest.fixture
    def store_factory(self, postgres_factory: SqlStoreFactory) -> SqlStoreFactory:
        return postgres_factory

    @pytest.fixture
    def key_store_factory(self, postgres_engine: Engine) -> KeyStoreFactory:
        return _keys_on(postgres_engine)


class TestMariaDbSubjectStorage(SubjectStorageContract, KeyStoreContract):
    @pytest.fixture
    def store_factory(self, mysql_factory: SqlStoreFactory) -> SqlStoreFactory:
        return mysql_factory

    @pytest.fixture
    def key_store_factory(self, mysql_engine: Engine) -> KeyStoreFactory:
        return _keys_on(mysql_engine)
