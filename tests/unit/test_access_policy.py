from __future__ import annotations

import datetime as dt
import json
from typing import Any

import attrs
import pendulum
import polars as pl
import pytest
import sqlalchemy as sa

from crmcore.adapters.frames import to_frame
from crmcore.adapters.frames.access import filter_allowed, filter_visible
from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql.access import access_where, compile_access
from crmcore.domain import (
    Activity,
    ActivityKind,
    Customer,
    CustomerId,
    EmailAddress,
    Gender,
    Organization,
    Person,
    PersonName,
    PhoneNumber,
    PostalAddress,
    TeamId,
    UserId,
    register_customer,
)
from crmcore.domain.customer import CreditRating
from crmcore.errors import InvalidValueError, PayloadError, PermissionDeniedError
from crmcore.privacy._mask import mask_email, mask_phone, mask_text
from crmcore.privacy.access import (
    DEFAULT_POLICY,
    AccessFilter,
    AccessPolicy,
    Action,
    Actor,
    RecordType,
    Role,
    Scope,
    SecuredRepository,
    TeamTree,
    access_filter,
    allows,
    grants,
    mask,
    require,
    visible,
)
from crmcore.serialization import dumps, loads

AT = pendulum.datetime(2026, 3, 1)

TREE = TeamTree(parents={"east-1": "east", "east-2": "east", "east-2a": "east-2", "west-1": "west"})
POLICY = AccessPolicy(roles=DEFAULT_POLICY.roles, teams=TREE)


def org(id: str, owner: str | None = None, team: str | None = None) -> Customer:
    c, _ = register_customer(
        id=CustomerId(id),
        organization=Organization(legal_name="Acme"),
        owner=UserId(owner) if owner else None,
        team=TeamId(team) if team else None,
        at=AT,
    )
    return c


def person(id: str = "c1", owner: str | None = "u1") -> Customer:
    c, _ = register_customer(
        id=CustomerId(id),
        person=Person(
            name=PersonName.parse("李娜"),
            gender=Gender.FEMALE,
            birth_date="1990-03-07",
            national_id="110101199003074514",
        ),
        emails=[EmailAddress("li.na@example.com")],
        phones=[PhoneNumber("+8613800138000")],
        addresses=[
            PostalAddress(
                country="CN",
                province="广东省",
                city="深圳市",
                district="南山区",
                street=("科技园路1号",),
                postcode="518057",
            )
        ],
        owner=UserId(owner) if owner else None,
        at=AT,
    )
    return attrs.evolve(c, credit_rating=CreditRating.AA)


# --------------------------------------------------------------------------- policy as data


def test_a_manager_reaches_the_teams_below_theirs() -> None:
    manager = Actor(user="m1", roles="manager", teams="east")
    found = access_filter(POLICY, manager, Action.VIEW, RecordType.CUSTOMER)
    assert sorted(found.teams) == ["east", "east-1", "east-2", "east-2a"]
    assert found.owners == {"m1"}
    assert found.unassigned


def test_team_scope_is_only_the_actors_own_teams() -> None:
    policy = AccessPolicy(
        roles=[Role(name="lead", grants=grants("view", "customer", "team"))], teams=TREE
    )
    found = access_filter(policy, Actor(user="l1", roles="lead", teams="east"), "view", "customer")
    assert found == AccessFilter(record_type=RecordType.CUSTOMER, teams=frozenset({TeamId("east")}))


def test_an_admin_reaches_everything_and_a_role_without_grants_nothing() -> None:
    policy = AccessPolicy(roles=[*DEFAULT_POLICY.roles, Role(name="guest")])
    assert access_filter(policy, Actor(user="a", roles="admin"), "delete", "order").everything
    assert access_filter(policy, Actor(user="g", roles="guest"), "view", "customer").is_empty


def test_several_roles_grant_the_union_of_their_scopes() -> None:
    actor = Actor(user="u1", roles={"rep", "manager"}, teams="west")
    found = access_filter(POLICY, actor, "merge", "customer")  # rep: no merge; manager: team tree
    assert (sorted(found.owners), sorted(found.teams)) == (["u1"], ["west", "west-1"])


def test_from_dict_reports_every_problem_with_its_path() -> None:
    data = {
        "roles": {
            "rep": {
                "grants": {
                    "view": {"customer": ["own", "everywhere"], "widget": ["all"]},
                    "fly": {},
                    "edit": {"order": "own"},
                },
                "mask_sensitive": "yes",
            },
            "nobody": {},
            "bad": [],
        },
        "teams": {"a": "b", "b": "a", "c": "c", "d": 7},
        "extra": 1,
    }
    with pytest.raises(PayloadError) as caught:
        AccessPolicy.from_dict(data)
    assert set(caught.value.paths) == {
        "$.extra",
        "$.roles.rep.grants.view.customer[1]",
        "$.roles.rep.grants.view.widget",
        "$.roles.rep.grants.fly",
        "$.roles.rep.grants.edit.order",
        "$.roles.rep.mask_sensitive",
        "$.roles.nobody.grants",
        "$.roles.bad",
        "$.teams.a",
        "$.teams.b",
        "$.teams.c",
        "$.teams.d",
    }
    assert "unknown Scope 'everywhere'" in str(caught.value)


def test_from_dict_rejects_a_document_that_is_not_an_object() -> None:
    with pytest.raises(PayloadError, match=r"expected an object, got list @ \$"):
        AccessPolicy.from_dict([])


def test_the_default_policy_round_trips_through_json() -> None:
    text = json.dumps(POLICY.to_dict())
    assert AccessPolicy.from_dict(json.loads(text)) == POLICY


def test_a_team_hierarchy_may_not_loop() -> None:
    with pytest.raises(InvalidValueError, match="loops"):
        TeamTree(parents={"a": "b", "b": "c", "c": "a"})


def test_role_names_are_unique_and_actors_need_a_known_role() -> None:
    with pytest.raises(InvalidValueError, match="unique"):
        AccessPolicy(roles=[Role(name="rep"), Role(name="rep")])
    with pytest.raises(InvalidValueError, match="at least one role"):
        Actor(user="u1", roles=())
    with pytest.raises(InvalidValueError, match="not defined by the policy"):
        allows(POLICY, Actor(user="u1", roles="intern"), "view", org("c1"))


def test_a_scope_that_cannot_apply_to_a_type_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="activity records have no team"):
        grants("view", "activity", "team_tree")


# --------------------------------------------------------------------------- decisions


def test_a_rep_sees_own_unassigned_and_shared_customers_only() -> None:
    rep = Actor(user="u1", roles="rep", teams="east", shared={"customer": ["c4"]})
    records = [org("c1", "u1", "east"), org("c2", "u2", "east"), org("c3"), org("c4", "u9")]
    assert [allows(POLICY, rep, "view", r).scope for r in records] == [
        Scope.OWN,
        None,
        Scope.UNASSIGNED,
        Scope.SHARED,
    ]
    assert [bool(allows(POLICY, rep, "edit", r)) for r in records] == [True, False, False, True]


def test_visible_refuses_records_of_mixed_types() -> None:
    call = Activity(
        id="a1",
        kind=ActivityKind.CALL,
        customer_id=CustomerId("c1"),
        owner=UserId("u1"),
        occurred_at=AT,
        created_at=AT,
        updated_at=AT,
    )
    rep = Actor(user="u1", roles="rep")
    assert [r.id for r in visible(POLICY, rep, [org("c1", "u1"), org("c2"), org("c3", "u2")])] == [
        "c1",
        "c2",
    ]
    with pytest.raises(InvalidValueError, match="mixed record types: expected Customer"):
        visible(POLICY, rep, [org("c1", "u1"), call])
    assert visible(POLICY, rep, iter([])) == []


def test_a_denial_names_the_actor_the_action_and_the_record() -> None:
    rep = Actor(user="u1", roles="rep", teams="east")
    with pytest.raises(PermissionDeniedError) as caught:
        require(POLICY, rep, "delete", org("c2", "u2", "east"))
    assert str(caught.value) == (
        "'u1' may not delete customer 'c2': no role of the actor (rep) grants delete customer"
    )
    assert (caught.value.actor, caught.value.action, caught.value.target) == (
        "u1",
        "delete customer",
        "c2",
    )


def test_activities_have_no_team_so_a_manager_reaches_only_own_and_shared_ones() -> None:
    manager = Actor(user="m1", roles="manager", teams="east")
    call = Activity(
        id="a1",
        kind=ActivityKind.CALL,
        customer_id=CustomerId("c1"),
        owner=UserId("u2"),
        occurred_at=AT,
        created_at=AT,
        updated_at=AT,
    )
    assert not allows(POLICY, manager, "view", call)
    assert allows(POLICY, manager, "view", attrs.evolve(call, owner=UserId("m1")))


# --------------------------------------------------------------------------- masking


def test_phones_keep_their_first_digits_and_last_four() -> None:
    assert str(mask_phone(PhoneNumber("+8613800138000"))) == "+86138****8000"
    assert str(mask_phone(PhoneNumber("+14155552671", "12"))) == "+141****2671"
    assert str(mask_phone(PhoneNumber("+3524567"))) == "+3****67"


def test_emails_keep_the_first_character_and_the_domain() -> None:
    assert str(mask_email(EmailAddress("li.na@example.com"))) == "l***@example.com"
    assert str(mask_email(EmailAddress("x@例子.中国"))) == "x***@例子.中国"
    assert (mask_text("A1234567"), mask_text("")) == ("********", "")


def test_a_rep_sees_a_customer_with_every_sensitive_value_masked() -> None:
    rep = Actor(user="u1", roles="rep")
    seen = mask(person(), rep, POLICY)
    assert seen.person is not None
    assert (seen.person.name, seen.person.gender, seen.person.birth_date) == (
        PersonName.parse("李娜"),
        None,
        None,
    )
    assert seen.person.national_id == "********"
    assert seen.credit_rating is None
    address = seen.points.addresses[0].address
    assert (address.country.code, address.province, address.street, address.postcode) == (
        "CN",
        "***",
        ("***",),
        "***",
    )
    assert seen.points.emails[0].primary


def test_a_masked_snapshot_serialises_but_never_reads_back_as_a_record() -> None:
    seen = mask(person(), Actor(user="u1", roles="rep"), POLICY)
    text = dumps(seen)
    assert "110101199003074514" not in text
    assert "+8613800138000" not in text
    with pytest.raises(PayloadError):
        loads(text, Customer)


def test_a_manager_sees_the_customer_unmasked() -> None:
    record = person()
    assert mask(record, Actor(user="m1", roles="manager"), POLICY) is record


# --------------------------------------------------------------------------- secured writes


def _store(*records: Customer) -> MemoryStore:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        uow.customers.save_many(records)
        uow.commit()
    return store


def test_a_rep_saving_a_masked_copy_keeps_the_stored_sensitive_values() -> None:
    store = _store(person())
    rep = Actor(user="u1", roles="rep")
    with store.unit_of_work() as uow:
        secured = SecuredRepository(uow.customers, policy=POLICY, actor=rep, record_type="customer")
        seen = secured.get("c1")
        saved = secured.save(attrs.evolve(seen, tier_reason="called back"))
        uow.commit()
    assert str(saved.points.primary_phone) == "+86138****8000"
    with store.unit_of_work() as uow:
        real = uow.customers.get("c1")
    assert real.tier_reason == "called back"
    assert real.points == person().points
    assert real.person == person().person


def test_a_rep_may_not_change_a_sensitive_value_they_see_masked() -> None:
    store = _store(person())
    rep = Actor(user="u1", roles="rep")
    with store.unit_of_work() as uow:
        secured = SecuredRepository(uow.customers, policy=POLICY, actor=rep, record_type="customer")
        seen = secured.get("c1")
        more = attrs.evolve(seen, points=seen.points.with_phone(PhoneNumber("+8613900139000")))
        with pytest.raises(
            PermissionDeniedError, match=r"\$\.points\.phones is sensitive and masked"
        ):
            secured.save(more)
    with store.unit_of_work() as uow:
        assert uow.customers.get("c1").points == person().points


def test_a_rep_may_rename_their_customer_without_seeing_the_rest_of_the_person() -> None:
    # A masked national id does not pass Person's converter: this person has none.
    record = person()
    assert record.person is not None
    record = attrs.evolve(record, person=attrs.evolve(record.person, national_id=""))
    store = _store(record)
    rep = Actor(user="u1", roles="rep")
    with store.unit_of_work() as uow:
        secured = SecuredRepository(uow.customers, policy=POLICY, actor=rep, record_type="customer")
        seen = secured.get("c1")
        assert seen.person is not None
        renamed = attrs.evolve(
            seen, person=attrs.evolve(seen.person, name=PersonName.parse("李丽"))
        )
        secured.save(renamed)
        uow.commit()
    with store.unit_of_work() as uow:
        real = uow.customers.get("c1")
    assert real.person is not None
    assert (real.display_name, real.person.birth_date) == ("李丽", dt.date(1990, 3, 7))
    assert real.points == record.points


def test_a_rep_creates_own_customers_but_not_other_peoples() -> None:
    store = _store()
    rep = Actor(user="u1", roles="rep")
    with store.unit_of_work() as uow:
        secured = SecuredRepository(uow.customers, policy=POLICY, actor=rep, record_type="customer")
        secured.save(person("c1", owner="u1"))
        with pytest.raises(PermissionDeniedError, match="'u1' may not edit customer 'c2'"):
            secured.save(person("c2", owner="u2"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert [c.id for c in uow.customers.iter_all()] == ["c1"]
        assert uow.customers.get("c1").person == person().person


def test_a_secured_get_refuses_a_record_outside_scope() -> None:
    store = _store(org("c2", "u2"))
    with store.unit_of_work() as uow:
        secured = SecuredRepository(
            uow.customers,
            policy=POLICY,
            actor=Actor(user="u1", roles="rep"),
            record_type="customer",
        )
        with pytest.raises(PermissionDeniedError, match="may not view customer 'c2'"):
            secured.get("c2")


# --------------------------------------------------------------------------- SQL and polars


def _sql(expr: Any) -> str:
    return str(expr.compile(compile_kwargs={"literal_binds": True}))


def test_the_sql_filter_of_each_scope() -> None:
    rep = Actor(user="u1", roles="rep", shared={"customer": ["c9"]})
    assert _sql(access_where(POLICY, rep, "customer")) == (
        "customers.owner = 'u1' OR customers.owner IS NULL OR customers.id = 'c9'"
    )
    manager = Actor(user="m1", roles="manager", teams="east-2")
    assert _sql(access_where(POLICY, manager, "customer", action="edit")) == (
        "customers.owner = 'm1' OR customers.team IN ('east-2', 'east-2a') "
        "OR customers.owner IS NULL"
    )
    assert _sql(access_where(POLICY, Actor(user="a", roles="admin"), "order")) == "true"
    assert _sql(access_where(POLICY, rep, "order")) == "false"


def test_the_sql_filter_ignores_a_team_on_records_without_one() -> None:
    found = AccessFilter(record_type=RecordType.ACTIVITY, teams=frozenset({TeamId("east")}))
    assert isinstance(compile_access(found), sa.sql.elements.False_)


def test_polars_needs_the_columns_the_filter_reads() -> None:
    found = access_filter(POLICY, Actor(user="u1", roles="rep"), "view", "customer")
    with pytest.raises(InvalidValueError, match=r"customer needs \['owner', 'team'\]"):
        filter_allowed(pl.DataFrame({"id": ["c1"]}), found)


def test_polars_masks_the_documents_of_a_rep() -> None:
    frame = to_frame([person("c1", "u1"), person("c2", "u2")])
    seen = filter_visible(frame, POLICY, Actor(user="u1", roles="rep"))
    assert seen["id"].to_list() == ["c1"]
    document = seen["document"][0]
    assert "********" in document
    assert "110101199003074514" not in document
    manager = filter_visible(frame, POLICY, Actor(user="m1", roles="admin"))
    assert "110101199003074514" in manager["document"][0]
