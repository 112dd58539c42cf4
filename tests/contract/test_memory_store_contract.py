"""The storage contract on the in-memory reference adapter."""

from __future__ import annotations

import pytest

from crmcore.adapters.memory import MemoryStore
from crmcore.ports import EventPublisher
from crmcore.testing.contracts import StoreContract, StoreFactory


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        def fresh(publisher: EventPublisher | None) -> MemoryStore:
            return MemoryStore(publisher)

        return fresh
