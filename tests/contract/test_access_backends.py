"""Access policies in the databases: SQLite, PostgreSQL and MariaDB select what memory allows.

Hypothesis draws policies, team hierarchies, actors and records (owners, teams
and ids that differ only in case, so a case-insensitive comparison would
show); the compiled ``WHERE`` clause must select exactly the ids the in-memory
decision allows, for every action. Each example's rows are inserted in a
transaction rolled back afterwards, in the schema / database of the segment
tests' module-scoped engines. Reads through the store come back masked; writes
outside scope change nothing; PostgreSQL answers a rep's count with the
owner / team indexes.

PostgreSQL and MariaDB come from ``CRMCORE_TEST_POSTGRES_URL`` and
``CRMCORE_TEST_MYSQL_URL``: unset, their tests skip naming the variable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pendulum
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from crmcore.adapters.sql import SqlStore
from crmcore.adapters.sql import mapping as m
from crmcore.adapters.sql.access import (
    TABLES,
    access_where,
    count_visible,
    select_allowed,
    select_allowed_ids,
    select_visible,
)
from crmcore.domain import (
    Activity,
    ActivityKind,
    Customer,
    CustomerId,
    CustomerKind,
    EmailAddress,
    Money,
    Order,
    Organization,
    Person,
    PersonName,
    PhoneNumber,
    TeamId,
    UserId,
    register_customer,
)
from crmcore.errors import PermissionDeniedError
from crmcore.privacy.access import (
    DEFAULT_POLICY,
    AccessPolicy,
    Action,
    Actor,
    Grant,
    RecordType,
    Role,
    Scope,
    SecuredRepository,
    TeamTree,
    access_filter,
    allows,
)

AT = pendulum.datetime(2026, 3, 1)
USERS = ("u1", "U1", "u2", "u3")
TEAMS = ("t1", "T1", "t2", "t3", "t4")
IDS = tuple(f"{p}{i}" for p in ("c", "C") for i in range(6))
ROLE_NAMES = ("rep", "manager", "admin")
TYPES = (RecordType.CUSTOMER, RecordType.ACTIVITY, RecordType.ORDER)


def _valid(kind: RecordType, scope: Scope) -> bool:
    if scope in (Scope.OWN, Scope.UNASSIGNED):
        return kind.has_owner
    if scope in (Scope.TEAM, Scope.TEAM_TREE):
        return kind.has_team
    return True


GRANTS = [
    Grant(action, kind, scope)
    for action in Action
    for kind in TYPES
    for scope in Scope
    if _valid(kind, scope) and scope is not Scope.ALL
]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AccessPolicy, Actor]:
    parents: dict[str, str] = {}
    for i, team in enumerate(TEAMS[1:], start=1):
        parent = draw(st.none() | st.sampled_from(TEAMS[:i]))
        if parent is not None:
            parents[team] = parent
    names = draw(st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=2, unique=True))
    roles = [
        Role(name=n, grants=draw(st.frozensets(st.sampled_from(GRANTS), max_size=20)))
        for n in names
    ]
    policy = AccessPolicy(roles=roles, teams=TeamTree(parents=parents))
    actor = Actor(
        user=draw(st.sampled_from(USERS)),
        roles=draw(st.sets(st.sampled_from(names), min_size=1)),
        teams=draw(st.sets(st.sampled_from(TEAMS), max_size=2)),
        shared={kind.value: draw(st.sets(st.sampled_from(IDS), max_size=3)) for kind in TYPES},
    )
    return policy, actor


owners = st.none() | st.sampled_from([UserId(u) for u in USERS])
teams = st.none() | st.sampled_from([TeamId(t) for t in TEAMS])


def customer(id: str, owner: UserId | None, team: TeamId | None) -> Customer:
    return Customer(
        id=id,
        version=1,
        kind=CustomerKind.ORGANIZATION,
        organization=Organization(legal_name=f"Org {id}"),
        owner=owner,
        team=team,
        created_at=AT,
        updated_at=AT,
    )


def activity(id: str, owner: UserId | None) -> Activity:
    return Activity(
        id=id,
        version=1,
        kind=ActivityKind.CALL,
        customer_id=CustomerId("c0"),
        owner=owner,
        occurred_at=AT,
        created_at=AT,
        updated_at=AT,
    )


def order(id: str) -> Order:
    return Order(
        id=id,
        version=1,
        customer_id=CustomerId("c0"),
        amount=Money("10", "CNY"),
        ordered_at=AT,
        created_at=AT,
        updated_at=AT,
    )


Batch = tuple[list[Customer], list[Activity], list[Order]]


def _each(ids: list[str], build: Callable[[str], st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return st.tuples(*[build(i) for i in ids]).map(list)


_id_lists = st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS))

batches: st.SearchStrategy[Batch] = st.tuples(
    _id_lists.flatmap(
        lambda ids: _each(ids, lambda i: st.builds(customer, st.just(i), owners, teams))
    ),
    _id_lists.flatmap(lambda ids: _each(ids, lambda i: st.builds(activity, st.just(i), owners))),
    _id_lists.map(lambda ids: [order(i) for i in ids]),
)

_MAPPINGS: dict[RecordType, m.EntityMapping[Any]] = {
    RecordType.CUSTOMER: m.CUSTOMERS,
    RecordType.ACTIVITY: m.ACTIVITIES,
    RecordType.ORDER: m.ORDERS,
}


def _rows(mapping: m.EntityMapping[Any], records: list[Any]) -> list[dict[str, Any]]:
    rows = [{"id": r.id, "version": 1, **mapping.columns(r), "document": {}} for r in records]
    for column in mapping.table.columns:  # bookkeeping columns the filter never reads
        if column.nullable or column.name in rows[0]:
            continue
        for row in rows:
            row[column.name] = 0 if column.type.python_type is int else ""
    return rows


def _check(engine: Engine, scenario: tuple[AccessPolicy, Actor], batch: Batch) -> None:
    policy, actor = scenario
    groups: list[list[Any]] = list(batch)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            for kind, records in zip(TYPES, groups, strict=True):
                if records:
                    conn.execute(_MAPPINGS[kind].table.insert(), _rows(_MAPPINGS[kind], records))
            for kind, records in zip(TYPES, groups, strict=True):
                for action in Action:
                    expected = sorted(r.id for r in records if allows(policy, actor, action, r))
                    found = access_filter(policy, actor, action, kind)
                    got = sorted(select_allowed_ids(conn, found))
                    assert got == expected, (kind, action, json.dumps(policy.to_dict()))
        finally:
            transaction.rollback()


def _at_most(examples: int) -> int:
    return min(settings().max_examples, examples)


_DB = settings(
    max_examples=_at_most(40),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@_DB
@given(scenario=scenarios(), batch=batches)
def test_sqlite_selects_what_memory_allows(
    sqlite_segments_engine: Engine, scenario: tuple[AccessPolicy, Actor], batch: Batch
) -> None:
    _check(sqlite_segments_engine, scenario, batch)


@_DB
@given(scenario=scenarios(), batch=batches)
def test_postgresql_selects_what_memory_allows(
    postgres_segments_engine: Engine, scenario: tuple[AccessPolicy, Actor], batch: Batch
) -> None:
    _check(postgres_segments_engine, scenario, batch)


@_DB
@given(scenario=scenarios(), batch=batches)
def test_mariadb_selects_what_memory_allows(
    mysql_segments_engine: Engine, scenario: tuple[AccessPolicy, Actor], batch: Batch
) -> None:
    _check(mysql_segments_engine, scenario, batch)


# --------------------------------------------------------------------------- through the store


def _person(id: str, owner: str | None, team: str | None) -> Customer:
    c, _ = register_customer(
        id=CustomerId(id),
        person=Person(name=PersonName.parse("李娜"), national_id="110101199003074514"),
        emails=[EmailAddress(f"li.na.{id.lower()}@example.com")],
        phones=[PhoneNumber("+8613800138000")],
        owner=UserId(owner) if owner else None,
        team=TeamId(team) if team else None,
        at=AT,
    )
    return c


@pytest.fixture
def stored(sql_engine: Engine) -> SqlStore:
    store = SqlStore(sql_engine)
    with store.unit_of_work() as uow:
        uow.customers.save_many(
            [
                _person("c1", "u1", "east"),
                _person("c2", "u2", "east-1"),
                _person("c3", "u2", "west"),
                _person("c4", None, None),
                _person("C1", "U1", "east"),
            ]
        )
        uow.commit()
    return store


REP = Actor(user="u1", roles="rep", teams="east", shared={"customer": ["c3"]})
MANAGER = Actor(user="m1", roles="manager", teams="east")
POLICY = AccessPolicy(roles=DEFAULT_POLICY.roles, teams=TeamTree(parents={"east-1": "east"}))


def test_a_rep_reads_own_unassigned_and_shared_customers_masked(stored: SqlStore) -> None:
    with stored.engine.connect() as conn:
        seen = select_visible(conn, POLICY, REP, "customer")
        assert count_visible(conn, POLICY, REP, "customer") == 3
    assert [c.id for c in seen] == ["c1", "c3", "c4"]
    assert {str(c.points.primary_phone) for c in seen} == {"+86138****8000"}
    assert {c.person.national_id for c in seen if c.person} == {"********"}
    assert [str(c.points.primary_email) for c in seen] == [
        "l***@example.com",
        "l***@example.com",
        "l***@example.com",
    ]


def test_a_manager_reads_the_team_tree_unmasked(stored: SqlStore) -> None:
    with stored.engine.connect() as conn:
        seen = select_visible(conn, POLICY, MANAGER, "customer")
    assert [c.id for c in seen] == ["C1", "c1", "c2", "c4"]
    assert str(seen[0].points.primary_phone) == "+8613800138000"


def test_a_write_outside_scope_is_denied_and_changes_nothing(stored: SqlStore) -> None:
    with stored.engine.connect() as conn:

        def query(found: Any) -> list[Any]:
            return select_allowed(conn, found, converter=stored.converter)

        with stored.unit_of_work() as uow:
            secured = SecuredRepository(
                uow.customers, policy=POLICY, actor=REP, record_type="customer", query=query
            )
            assert [c.id for c in secured.visible()] == ["c1", "c3", "c4"]
            theirs = uow.customers.get("c2")
            with pytest.raises(PermissionDeniedError, match=r"'u1' may not edit customer 'c2'"):
                secured.save(attrs.evolve(theirs, owner=UserId("u1")))
            unassigned = secured.get("c4")  # a rep views unassigned customers, edits none
            with pytest.raises(PermissionDeniedError, match=r"scope own, shared"):
                secured.save(attrs.evolve(unassigned, tier_reason="mine now"))
            shared = secured.save(attrs.evolve(secured.get("c3"), tier_reason="shared with me"))
            mine = secured.get("c1")
            saved = secured.save(attrs.evolve(mine, tier_reason="called back"))
            uow.commit()
        assert saved.tier_reason == "called back"
        assert shared.tier_reason == "shared with me"
    with stored.unit_of_work() as uow:
        assert uow.customers.get("c2").owner == "u2"
        assert uow.customers.get("c4").tier_reason == ""
        real = uow.customers.get("c1")
    assert str(real.points.primary_phone) == "+8613800138000"  # the masked copy did not leak in
    assert real.person is not None
    assert real.person.national_id == "110101199003074514"


# --------------------------------------------------------------------------- the plan


def _plan_nodes(plan: Any) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _plan_nodes(child)


def test_postgresql_counts_a_reps_customers_with_the_owner_and_team_indexes(
    postgres_segments_engine: Engine,
) -> None:
    rows = [
        {
            "id": f"c{i:06d}",
            "version": 1,
            "kind": "organization",
            "display_name": f"Org {i}",
            "tier": "ordinary",
            "priority": "medium",
            "lifecycle_stage": "new",
            "source": "other",
            "owner": f"u{i % 200}",
            "team": f"t{i % 100}",
            "created_at": AT,
            "updated_at": AT,
            "custom": {},
            "document": {},
        }
        for i in range(10_000)
    ]
    rep = Actor(user="u7", roles="rep", teams="t7", shared={"customer": ["c000001"]})
    lead = Actor(user="m1", roles="manager", teams="t3")
    policy = AccessPolicy(roles=DEFAULT_POLICY.roles, teams=TeamTree(parents={"t4": "t3"}))
    customers = TABLES[RecordType.CUSTOMER]
    with postgres_segments_engine.connect() as conn:
        transaction = conn.begin()
        try:
            conn.execute(customers.insert(), rows)
            schema = postgres_segments_engine.get_execution_options()["schema_translate_map"][None]
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            conn.exec_driver_sql("ANALYZE customers")
            for actor, index in ((rep, "ix_customers_owner"), (lead, "ix_customers_team")):
                where = access_where(policy, actor, "customer")
                statement = sa.select(sa.func.count()).select_from(customers).where(where)
                compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
                plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}").scalar_one()
                nodes = list(_plan_nodes(plan[0]["Plan"]))
                used = {n.get("Index Name") for n in nodes} - {None}
                assert index in used, json.dumps(plan)
                assert "Seq Scan" not in {n["Node Type"] for n in nodes}, json.dumps(plan)
                assert conn.execute(statement).scalar_one() == count_visible(
                    conn, policy, actor, "customer"
                )
        finally:
            transaction.rollback()
