"""The id factories shipped with the memory adapter."""

from __future__ import annotations

from crmcore.adapters.memory import SequentialIdFactory, UuidIdFactory
from crmcore.ports import IdFactory


def test_sequential_ids_count_up_from_the_start() -> None:
    ids = SequentialIdFactory("lead", start=9)
    assert [ids.new_id(), ids.new_id()] == ["lead-000009", "lead-000010"]


def test_uuid_ids_are_never_repeated() -> None:
    ids = UuidIdFactory()
    assert len({ids.new_id() for _ in range(100)}) == 100


def test_both_factories_satisfy_the_port() -> None:
    assert isinstance(SequentialIdFactory(), IdFactory)
    assert isinstance(UuidIdFactory(), IdFactory)
