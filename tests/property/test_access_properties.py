"""Access policies: one answer in memory and in polars; nobody sees or changes outside scope.

Hypothesis draws policies (random grants per role, masking on or off), team
hierarchies, actors (roles, teams, shares) and records whose owners, teams and
ids differ only in case; the per-record decision (:func:`allows`), the
resolved in-memory predicate (:func:`visible`) and the polars filter must pick
the same records, writes through :class:`SecuredRepository` must change only
what the actor may edit, and masked snapshots must hold none of the original
sensitive strings.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.adapters.frames import to_frame
from crmcore.adapters.frames.access import filter_allowed
from crmcore.adapters.memory import MemoryStore
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
    PhoneNumber,
    PostalAddress,
    TeamId,
    UserId,
)
from crmcore.domain.classification import Classification
from crmcore.errors import PermissionDeniedError
from crmcore.privacy.access import (
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
    mask,
    masks_sensitive,
    visible,
)
from crmcore.serialization import dumps
from crmcore.testing.strategies import customers as full_customers

AT = pendulum.datetime(2026, 3, 1)
USERS = ("u1", "U1", "u2", "u3")
TEAMS = ("t1", "T1", "t2", "t3", "t4")
IDS = tuple(f"{p}{i}" for p in ("c", "C") for i in range(6))
ROLE_NAMES = ("rep", "manager", "admin", "auditor")
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
    if _valid(kind, scope)
]


@st.composite
def team_trees(draw: st.DrawFn) -> TeamTree:
    parents: dict[str, str] = {}
    for i, team in enumerate(TEAMS[1:], start=1):
        parent = draw(st.none() | st.sampled_from(TEAMS[:i]))
        if parent is not None:
            parents[team] = parent
    return TeamTree(parents=parents)


@st.composite
def policies(draw: st.DrawFn) -> AccessPolicy:
    names = draw(st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=3, unique=True))
    roles = [
        Role(
            name=name,
            # Scopes other than ALL are drawn more often: ALL hides every other difference.
            grants=draw(
                st.frozensets(
                    st.sampled_from([g for g in GRANTS if g.scope is not Scope.ALL]), max_size=14
                )
                | st.frozensets(st.sampled_from(GRANTS), max_size=6)
            ),
            mask_sensitive=draw(st.booleans()),
        )
        for name in names
    ]
    return AccessPolicy(roles=roles, teams=draw(team_trees()))


@st.composite
def actors(draw: st.DrawFn, policy: AccessPolicy) -> Actor:
    return Actor(
        user=draw(st.sampled_from(USERS)),
        roles=draw(st.sets(st.sampled_from(policy.role_names), min_size=1)),
        teams=draw(st.sets(st.sampled_from(TEAMS), max_size=2)),
        shared={kind.value: draw(st.sets(st.sampled_from(IDS), max_size=3)) for kind in TYPES},
    )


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
        customer_id="c0",
        amount=Money("10", "CNY"),
        ordered_at=AT,
        created_at=AT,
        updated_at=AT,
    )


owners = st.none() | st.sampled_from([UserId(u) for u in USERS])
teams = st.none() | st.sampled_from([TeamId(t) for t in TEAMS])


def customer_lists() -> st.SearchStrategy[list[Customer]]:
    return st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)).flatmap(
        lambda ids: st.tuples(*[st.builds(customer, st.just(i), owners, teams) for i in ids]).map(
            list
        )
    )


def activity_lists() -> st.SearchStrategy[list[Activity]]:
    return st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)).flatmap(
        lambda ids: st.tuples(*[st.builds(activity, st.just(i), owners) for i in ids]).map(list)
    )


def order_lists() -> st.SearchStrategy[list[Order]]:
    return st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)).map(
        lambda ids: [order(i) for i in ids]
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AccessPolicy, Actor]:
    policy = draw(policies())
    return policy, draw(actors(policy))


def _at_most(examples: int) -> int:
    return min(settings().max_examples, examples)


# Example counts keep this module within its time budget on a loaded machine.
_SETTINGS = settings(max_examples=_at_most(75), suppress_health_check=[HealthCheck.too_slow])
_HEAVY = settings(max_examples=_at_most(40), suppress_health_check=[HealthCheck.too_slow])


def _ids(records: list[Any]) -> list[str]:
    return [r.id for r in records]


@_SETTINGS
@given(scenarios(), customer_lists())
def test_memory_and_polars_select_the_customers_allows_allows(
    scenario: tuple[AccessPolicy, Actor], records: list[Customer]
) -> None:
    policy, actor = scenario
    frame = to_frame(records, record_type=Customer, documents=False)
    for action in Action:
        decisions = [allows(policy, actor, action, r) for r in records]
        expected = [r.id for r, d in zip(records, decisions, strict=True) if d]
        assert _ids(visible(policy, actor, records, action=action)) == expected, action
        found = access_filter(policy, actor, action, RecordType.CUSTOMER)
        assert filter_allowed(frame, found)["id"].to_list() == expected, action
        granted = set().union(
            *(policy.role(n).scopes(action, RecordType.CUSTOMER) for n in actor.roles)
        )
        for record, decision in zip(records, decisions, strict=True):
            if decision:
                assert decision.scope in granted
            else:
                assert decision.scope is None
                assert Scope.ALL not in granted
                assert not (Scope.OWN in granted and record.owner == actor.user)


@_SETTINGS
@given(scenarios(), st.one_of(activity_lists(), order_lists()))
def test_records_without_a_team_or_an_owner_are_filtered_like_allows(
    scenario: tuple[AccessPolicy, Actor], records: list[Any]
) -> None:
    policy, actor = scenario
    for action in Action:
        expected = [r.id for r in records if allows(policy, actor, action, r).allowed]
        assert _ids(visible(policy, actor, records, action=action)) == expected, action


@_SETTINGS
@given(policies())
def test_a_policy_survives_a_json_round_trip(policy: AccessPolicy) -> None:
    assert AccessPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy


@_HEAVY
@given(scenarios(), customer_lists(), st.data())
def test_an_actor_never_changes_a_record_outside_its_scope(
    scenario: tuple[AccessPolicy, Actor], records: list[Customer], data: st.DataObject
) -> None:
    policy, actor = scenario
    store = MemoryStore()
    with store.unit_of_work() as uow:
        stored = uow.customers.restore_many(records)
        uow.commit()
    new_owner = data.draw(owners, label="new owner")
    with store.unit_of_work() as uow:
        secured = SecuredRepository(
            uow.customers, policy=policy, actor=actor, record_type=RecordType.CUSTOMER
        )
        seen = {c.id for c in secured.visible()}
        assert seen == {c.id for c in records if allows(policy, actor, Action.VIEW, c)}
        for record in stored:
            changed = attrs.evolve(record, owner=new_owner)
            may = allows(policy, actor, Action.EDIT, record) and allows(
                policy, actor, Action.EDIT, changed
            )
            if may:
                assert secured.save(changed).owner == new_owner
            else:
                with pytest.raises(PermissionDeniedError):
                    secured.save(changed)
                assert uow.customers.get(record.id) == record


def _strings(value: Any, level: Classification, sensitive: set[str], other: set[str]) -> None:
    """Collect the leaf strings of a record, split by their classification."""
    if isinstance(value, (EmailAddress, PhoneNumber)):
        (sensitive if level is Classification.SENSITIVE else other).add(str(value))
    elif isinstance(value, PostalAddress):
        parts = {value.province, value.city, value.district, value.postcode, *value.street}
        (sensitive if level is Classification.SENSITIVE else other).update(parts - {""})
        other.add(value.country.code)
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            inner = Classification(field.metadata.get("crmcore.classification", level))
            _strings(getattr(value, field.name), inner, sensitive, other)
    elif isinstance(value, (tuple, frozenset)):
        for item in value:
            _strings(item, level, sensitive, other)
    elif value is not None and not isinstance(value, bool):
        text = value.value if hasattr(value, "value") else str(value)
        if isinstance(text, str) and text:
            (sensitive if level is Classification.SENSITIVE else other).add(text)


def _json_strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_json_strings(v) for v in value.values()), set(value))
    if isinstance(value, list):
        return set().union(set(), *(_json_strings(v) for v in value))
    return {value} if isinstance(value, str) else set()


@_HEAVY
@given(full_customers())
def test_a_masked_customer_holds_none_of_its_sensitive_strings(record: Customer) -> None:
    policy = AccessPolicy(roles=[Role(name="rep", mask_sensitive=True)])
    rep = Actor(user="u1", roles="rep")
    masked = mask(record, rep, policy)
    assert type(masked) is Customer
    sensitive: set[str] = set()
    other: set[str] = set()
    _strings(record, Classification.INTERNAL, sensitive, other)
    secret = sensitive - other
    text = dumps(masked)
    leaves = _json_strings(json.loads(text))
    assert not secret & leaves
    assert not [s for s in secret if len(s) >= 8 and s in text]
    assert (masked.id, masked.owner, masked.display_name) == (
        record.id,
        record.owner,
        record.display_name,
    )
    assert masked.credit_rating is None
    if masked.person is not None:
        assert masked.person.birth_date is None
        assert masked.person.gender is None


@_HEAVY
@given(full_customers(), st.booleans())
def test_masking_follows_the_role(record: Customer, masked_role: bool) -> None:
    policy = AccessPolicy(
        roles=[Role(name="rep", mask_sensitive=True), Role(name="boss", mask_sensitive=False)]
    )
    actor = Actor(user="u1", roles={"rep"} if masked_role else {"rep", "boss"})
    assert masks_sensitive(policy, actor) is masked_role
    seen = mask(record, actor, policy)
    if not masked_role:
        assert seen is record
        return
    assert all("***@" in str(e.address) for e in seen.points.emails)
    assert all("****" in str(p.number) for p in seen.points.phones)
    assert [e.kind for e in seen.points.emails] == [e.kind for e in record.points.emails]
    assert [c.name for c in seen.contacts] == [c.name for c in record.contacts]
