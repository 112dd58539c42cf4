"""The issued-actions contract on memory, SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pendulum
import pytest
from sqlalchemy.engine import Engine

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import SqlStore
from crmcore.domain import Lead, LeadId, UserId, capture_lead
from crmcore.errors import ConcurrencyError
from crmcore.lifecycle.rules import DueAction, LeadIdle, RuleSnapshot, due_actions
from crmcore.ports import EventPublisher
from crmcore.services.time_rules import issue_due_actions
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


def _leads(count: int) -> list[Lead]:
    at = pendulum.datetime(2026, 3, 1)
    return [
        capture_lead(
            id=LeadId(f"l-{n}"), company=f"公司{n}", owner=UserId("u-1"), at=at.add(hours=n)
        )[0]
        for n in range(count)
    ]


def test_workers_running_issue_due_actions_at_once_deliver_each_action_once(
    sql_engine: Engine,
) -> None:
    snapshot = RuleSnapshot(leads=_leads(12))
    at, rules = pendulum.datetime(2026, 4, 1), [LeadIdle(days=14)]
    expected = due_actions(snapshot, at=at, rules=rules)
    assert len(expected) == 12
    store = SqlStore(sql_engine)
    barrier = threading.Barrier(3)
    delivered: list[DueAction] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait(timeout=30)
        for _attempt in range(20):
            try:
                new = issue_due_actions(store.unit_of_work(), snapshot, at=at, rules=rules)
            except ConcurrencyError:  # SQLite: another writer; retry the unit of work
                time.sleep(0.01)
                continue
            with lock:
                delivered.extend(new)
            return

    with ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(worker) for _ in range(3)]:
            future.result(timeout=60)
    assert sorted(delivered, key=lambda a: a.id) == sorted(expected, key=lambda a: a.id)
    assert issue_due_actions(store.unit_of_work(), snapshot, at=at, rules=rules) == ()
