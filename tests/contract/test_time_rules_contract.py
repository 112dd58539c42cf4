"""The time-rules contract (rules answered by the store) on memory, SQLite, PostgreSQL, MariaDB."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import SqlStore
from crmcore.ports import EventPublisher
from crmcore.testing.contracts import StoreFactory, TimeRulesContract

SqlStoreFactory = Callable[[EventPublisher | None], SqlStore]


class TestMemoryTimeRules(TimeRulesContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        def fresh(publisher: EventPublisher | None) -> MemoryStore:
            return MemoryStore(publisher)

        return fresh


class TestSqliteTimeRules(TimeRulesContract):
    @pytest.fixture
    def store_factory(self, sqlite_factory: SqlStoreFactory) -> SqlStoreFactory:
        return sqlite_factory


class TestPostgresTimeRules(TimeRulesContract):
    @pytest.fixture
    def store_factory(self, postgres_factory: SqlStoreFactory) -> SqlStoreFactory:
        return postgres_factory


class TestMariaDbTimeRules(TimeRulesContract):
    @pytest.fixture
    def store_factory(self, mysql_factory: SqlStoreFactory) -> SqlStoreFactory:
        return mysql_factory
