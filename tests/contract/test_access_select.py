"""``CustomerRepository.select(rule, access=...)``: a segment narrowed to what one actor may reach.

Memory evaluates the policy's predicate; SQL ANDs the compiled filter into the segment
query. Both give the ids of the in-memory ``allows`` check, on every backend.
"""

from __future__ import annotations

import pendulum
import pytest
from sqlalchemy.engine import Engine

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import SqlStore
from crmcore.adapters.sql.tables import metadata
from crmcore.domain import Customer, Organization, Tag, TeamId, UserId
from crmcore.ports import Store
from crmcore.privacy.access import DEFAULT_POLICY, Actor, access_filter, allows
from crmcore.segments import HasTag

AT = pendulum.datetime(2026, 6, 1, tz="UTC")


def _customer(n: int, owner: str | None, team: str | None, tags: set[str]) -> Customer:
    return Customer(
        id=f"c{n}",
        kind="organization",
        organization=Organization(legal_name=f"Acme {n}"),
        owner=UserId(owner) if owner else None,
        team=TeamId(team) if team else None,
        tags=tags,
        created_at=AT,
        updated_at=AT,
    )


CUSTOMERS = [
    _customer(1, "u-1", "t-1", {"vip"}),
    _customer(2, "u-2", "t-1", {"vip"}),
    _customer(3, None, None, {"vip"}),
    _customer(4, "u-1", "t-2", set()),
    _customer(5, "u-3", "t-2", {"vip"}),
]
ACTORS = [
    Actor(user="u-1", roles="rep", teams="t-1"),
    Actor(user="u-2", roles="rep", teams="t-1", shared={"customer": ["c5"]}),
    Actor(user="u-9", roles="manager", teams="t-1"),
    Actor(user="u-0", roles="admin"),
]


ENGINES = {"sqlite": "sqlite_engine", "postgresql": "postgres_engine", "mariadb": "mysql_engine"}


@pytest.fixture(params=["memory", *ENGINES])
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "memory":
        return MemoryStore()
    engine: Engine = request.getfixturevalue(ENGINES[request.param])
    with engine.begin() as conn:  # other tests of the session share this engine
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return SqlStore(engine)


@pytest.mark.parametrize("actor", ACTORS, ids=lambda a: f"{a.user}")
def test_select_returns_only_the_segment_members_the_actor_may_view(
    store: Store, actor: Actor
) -> None:
    with store.unit_of_work() as uow:
        for customer in CUSTOMERS:
            uow.customers.save(customer)
        uow.commit()
    access = access_filter(DEFAULT_POLICY, actor, "view", "customer")
    expected = sorted(
        c.id for c in CUSTOMERS if Tag("vip") in c.tags and allows(DEFAULT_POLICY, actor, "view", c)
    )
    with store.unit_of_work() as uow:
        assert uow.customers.select(HasTag("vip"), at=AT, access=access) == expected
        assert uow.customers.select(HasTag("vip"), at=AT) == ["c1", "c2", "c3", "c5"]
