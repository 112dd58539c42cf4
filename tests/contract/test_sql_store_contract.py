"""The storage contract on the SQL adapter: SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crmcore.adapters.sql import SqlStore
from crmcore.ports import EventPublisher
from crmcore.testing.contracts import StoreContract

SqlStoreFactory = Callable[[EventPublisher | None], SqlStore]


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store_factory(self, sqlite_factory: SqlStoreFactory) -> SqlStoreFactory:
        return sqlite_factory


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store_factory(self, postgres_factory: SqlStoreFactory) -> SqlStoreFactory:
        return postgres_factory


class TestMariaDbStore(StoreContract):
    @pytest.fixture
    def store_factory(self, mysql_factory: SqlStoreFactory) -> SqlStoreFactory:
        return mysql_factory
