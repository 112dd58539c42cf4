"""The issued-actions contract on memory, SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import SqlStore
from crmcore.ports import EventPublisher
from crmcore.testing.contracts import IssuedActionsContract, StoreFactory

SqlStoreFactory = Callable[[EventPublisher | None], SqlStore]


class TestMemoryIssuedActions(IssuedActionsContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        def fresh(publisher: EventPublisher | None) -> MemoryStore:
            return MemoryStore(publisher)

        return fresh


class TestSqliteIssuedActions(IssuedActionsContract):
    @pytest.fixture
    def store_factory(self, sqlite_factory: SqlStoreFactory) -> SqlStoreFactory:
        return sqlite_factory


class TestPostgresIssuedActions(IssuedActionsContract):
    @pytest.fixture
    def store_factory(self, postgres_factory: SqlStoreFactory) -> SqlStoreFactory:
        return postgres_factory


class TestMariaDbIssuedActions(IssuedActionsContract):
    @pytest.fixture
    def store_factory(self, mysql_factory: SqlStoreFactory) -> SqlStoreFactory:
        return mysql_factory
