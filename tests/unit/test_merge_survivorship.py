"""Survivorship rules: each rule picks or combines the values it promises."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest

from crmcore.domain import (
    ContactId,
    ContactKind,
    ContactPoints,
    CountryCode,
    Customer,
    CustomerId,
    CustomerKind,
    EmailAddress,
    EmailContact,
    ExternalId,
    LifecycleStage,
    MergeId,
    Organization,
    Person,
    PersonName,
    PhoneContact,
    PhoneNumber,
    PostalAddress,
    Priority,
    SourceChannel,
    Tier,
    UserId,
)
from crmcore.domain.party import Contact
from crmcore.errors import ConfigurationError, InvalidValueError
from crmcore.merge import (
    MergePlan,
    SurvivorRule,
    SurvivorshipPolicy,
    SurvivorshipRule,
    apply_merge,
    choose,
    plan_merge,
)

T0 = pendulum.datetime(2026, 1, 1)
AT = pendulum.datetime(2026, 6, 1)


def person(id: str, *, created: int = 0, updated: int = 0, **kw: Any) -> Customer:
    """A person customer created ``created`` days and updated ``updated`` days after T0."""
    kw.setdefault("person", Person(name=PersonName.parse("张伟")))
    return Customer(
        id=CustomerId(id),
        kind=CustomerKind.PERSON,
        created_at=T0.add(days=created),
        updated_at=T0.add(days=max(created, updated)),
        **kw,
    )


def emails(*addresses: str, primary: int = 0) -> ContactPoints:
    return ContactPoints(
        emails=[
            EmailContact(address=EmailAddress(a), primary=i == primary)
            for i, a in enumerate(addresses)
        ]
    )


def plan(*customers: Customer, policy: SurvivorshipPolicy | None = None) -> MergePlan:
    return plan_merge(customers, policy=policy, at=AT, merge_id=MergeId("m-1"))


def merged(*customers: Customer, policy: SurvivorshipPolicy | None = None) -> Customer:
    return apply_merge(plan(*customers, policy=policy)).survivor


def test_the_oldest_customer_survives_by_default() -> None:
    old, new = person("c-2", created=0), person("c-1", created=5)

    assert plan(new, old).survivor_id == "c-2"


def test_the_most_recently_updated_customer_survives_when_the_policy_says_so() -> None:
    old, new = person("c-1", created=0), person("c-2", created=1, updated=9)
    policy = SurvivorshipPolicy(survivor=SurvivorRule.MOST_RECENT)

    assert plan(old, new, policy=policy).survivor_id == "c-2"


def test_the_most_complete_customer_survives_when_the_policy_says_so() -> None:
    bare = person("c-1")
    full = person("c-2", created=3, points=emails("a@example.com"), country=CountryCode("CN"))
    policy = SurvivorshipPolicy(survivor=SurvivorRule.MOST_COMPLETE)

    assert plan(bare, full, policy=policy).survivor_id == "c-2"


def test_the_best_source_survives_when_the_policy_ranks_sources() -> None:
    web = person("c-1", source=SourceChannel.WEBSITE)
    erp = person("c-2", created=3, source=SourceChannel.IMPORT)
    policy = SurvivorshipPolicy(
        survivor=SurvivorRule.SOURCE_PRIORITY, source_priority=[SourceChannel.IMPORT]
    )

    assert plan(web, erp, policy=policy).survivor_id == "c-2"


def test_survivor_ties_fall_to_the_smallest_id() -> None:
    assert plan(person("c-9"), person("c-3")).survivor_id == "c-3"


def test_an_explicit_survivor_overrides_the_policy() -> None:
    result = plan_merge(
        [person("c-1"), person("c-2", created=1)],
        at=AT,
        merge_id=MergeId("m-1"),
        survivor_id=CustomerId("c-2"),
    )

    assert result.survivor_id == "c-2"


def test_most_recent_takes_the_value_of_the_latest_update() -> None:
    old = person("c-1", country=CountryCode("CN"))
    new = person("c-2", created=1, updated=9, country=CountryCode("US"))

    decision = plan(old, new).decision("country")

    assert (decision.rule, decision.source_id) == (SurvivorshipRule.MOST_RECENT, "c-2")
    assert merged(old, new).country == CountryCode("US")


def test_an_empty_value_never_wins_over_a_filled_one() -> None:
    old = person("c-1", country=CountryCode("CN"))
    new = person("c-2", created=1, updated=9)

    assert merged(old, new).country == CountryCode("CN")


def test_oldest_takes_the_first_touch_source_channel() -> None:
    first = person("c-2", source=SourceChannel.REFERRAL)
    later = person("c-1", created=4, updated=9, source=SourceChannel.WEBSITE)

    assert merged(first, later).source is SourceChannel.REFERRAL


def test_most_complete_takes_the_fullest_name() -> None:
    short = person("c-1", updated=9, person=Person(name=PersonName(given="Wei")))
    full = person("c-2", person=Person(name=PersonName(family="Zhang", given="Wei")))

    survivor = merged(short, full)

    assert survivor.person is not None
    assert survivor.person.name == PersonName(family="Zhang", given="Wei")


def test_source_priority_takes_the_value_of_the_best_ranked_channel() -> None:
    erp = person("c-1", source=SourceChannel.IMPORT, country=CountryCode("DE"))
    web = person("c-2", updated=9, source=SourceChannel.WEBSITE, country=CountryCode("US"))
    policy = SurvivorshipPolicy(
        rules={"country": SurvivorshipRule.SOURCE_PRIORITY},
        source_priority=[SourceChannel.IMPORT, SourceChannel.WEBSITE],
    )

    assert merged(erp, web, policy=policy).country == CountryCode("DE")


def test_furthest_stage_takes_the_stage_furthest_along_the_lifecycle() -> None:
    new = person("c-1", updated=9, lifecycle_stage=LifecycleStage.NEW)
    mature = person("c-2", lifecycle_stage=LifecycleStage.MATURE)

    assert merged(new, mature).lifecycle_stage is LifecycleStage.MATURE


def test_the_host_can_reorder_the_lifecycle_for_furthest_stage() -> None:
    churned = person("c-1", lifecycle_stage=LifecycleStage.CHURNED)
    mature = person("c-2", lifecycle_stage=LifecycleStage.MATURE)
    order = [LifecycleStage.POTENTIAL, LifecycleStage.CHURNED, LifecycleStage.MATURE]
    policy = SurvivorshipPolicy(stage_order=order)

    assert merged(churned, mature, policy=policy).lifecycle_stage is LifecycleStage.MATURE


def test_highest_takes_the_best_tier_with_its_reason() -> None:
    vip = person("c-1", tier=Tier.VIP, tier_reason="annual spend over 1M")
    ordinary = person("c-2", updated=9, tier=Tier.ORDINARY, priority=Priority.HIGH)

    survivor = merged(vip, ordinary)

    assert (survivor.tier, survivor.tier_reason) == (Tier.VIP, "annual spend over 1M")
    assert survivor.priority is Priority.HIGH


def test_survivor_rule_keeps_the_survivors_owner_even_when_empty() -> None:
    mine = person("c-1")
    theirs = person("c-2", created=1, owner=UserId("u-bo"))

    assert merged(mine, theirs).owner is None


def test_union_keeps_every_email_once_with_the_most_recent_primary() -> None:
    old = person("c-1", points=emails("a@example.com", "b@example.com"))
    new = person("c-2", updated=9, points=emails("b@example.com", "c@example.com", primary=1))

    points = merged(old, new).points

    assert [str(e.address) for e in points.emails] == [
        "b@example.com",
        "c@example.com",
        "a@example.com",
    ]
    assert str(points.primary_email) == "c@example.com"


def test_keep_both_as_secondary_keeps_the_survivors_primary() -> None:
    old = person("c-1", points=emails("a@example.com"))
    new = person("c-2", updated=9, points=emails("c@example.com"))
    policy = SurvivorshipPolicy(rules={"points.emails": SurvivorshipRule.KEEP_BOTH_AS_SECONDARY})

    points = merged(old, new, policy=policy).points

    assert str(points.primary_email) == "a@example.com"
    assert {str(e.address) for e in points.emails} == {"a@example.com", "c@example.com"}


def test_union_keeps_each_phone_with_the_kind_its_first_holder_gave_it() -> None:
    number = PhoneNumber.parse("13800138000", region="CN")
    home = ContactPoints(phones=[PhoneContact(number=number, kind=ContactKind.HOME)])
    work = ContactPoints(phones=[PhoneContact(number=number, kind=ContactKind.WORK)])

    phones = merged(person("c-1", points=home), person("c-2", updated=9, points=work)).points.phones

    assert [(p.number, p.kind, p.primary) for p in phones] == [(number, ContactKind.WORK, True)]


def test_addresses_are_kept_whole_never_assembled_from_parts() -> None:
    a = PostalAddress(
        country=CountryCode("CN"), city="深圳市", street=("科技园路1号",), postcode="518057"
    )
    b = PostalAddress(country=CountryCode("CN"), city="深圳市", postcode="518000")
    old = person("c-1", points=ContactPoints().with_address(a))
    new = person("c-2", updated=9, points=ContactPoints().with_address(b))

    addresses = [x.address for x in merged(old, new).points.addresses]

    assert sorted(addresses, key=str) == sorted([a, b], key=str)


def test_union_keeps_every_tag() -> None:
    survivor = merged(person("c-1", tags=["vip"]), person("c-2", tags=["b2b", "vip"]))

    assert {t.name for t in survivor.tags} == {"vip", "b2b"}


def test_external_ids_are_unioned_and_a_clash_keeps_the_survivors_and_says_so() -> None:
    old = person("c-1", external_ids=[ExternalId("erp", "1"), ExternalId("shop", "s9")])
    new = person("c-2", created=1, external_ids=[ExternalId("erp", "2")])

    p = plan(old, new)
    survivor = apply_merge(p).survivor

    assert survivor.external_ids == {ExternalId("erp", "1"), ExternalId("shop", "s9")}
    assert "erp:2 of c-2" in p.decision("external_ids").note


def test_contacts_of_organisations_are_unioned_with_one_primary() -> None:
    def org(id: str, *contacts: Contact, created: int = 0) -> Customer:
        return Customer(
            id=CustomerId(id),
            kind=CustomerKind.ORGANIZATION,
            organization=Organization(legal_name="腾达科技"),
            contacts=contacts,
            created_at=T0.add(days=created),
            updated_at=T0.add(days=created),
        )

    wang = Contact(id=ContactId("p-1"), name=PersonName.parse("王芳"), primary=True)
    li = Contact(id=ContactId("p-2"), name=PersonName.parse("李娜"), primary=True)

    contacts = merged(org("c-1", wang), org("c-2", li, created=1)).contacts

    assert [(c.id, c.primary) for c in contacts] == [("p-1", True), ("p-2", False)]


def test_sum_adds_up_integer_counters() -> None:
    policy = SurvivorshipPolicy(rules={"custom.visits": SurvivorshipRule.SUM})

    survivor = merged(
        person("c-1", custom={"visits": 3}), person("c-2", custom={"visits": 4}), policy=policy
    )

    assert survivor.custom["visits"] == 7


def test_sum_refuses_values_that_are_not_integers() -> None:
    policy = SurvivorshipPolicy(rules={"custom.visits": SurvivorshipRule.SUM})

    with pytest.raises(InvalidValueError, match="sum rule needs integer values"):
        plan(person("c-1", custom={"visits": "3"}), person("c-2"), policy=policy)


def test_union_of_a_multi_choice_custom_field_keeps_every_choice_sorted() -> None:
    policy = SurvivorshipPolicy(custom_default=SurvivorshipRule.UNION)

    survivor = merged(
        person("c-1", custom={"flags": ("b",)}),
        person("c-2", custom={"flags": ("a", "b")}),
        policy=policy,
    )

    assert survivor.custom["flags"] == ("a", "b")


def test_custom_fields_take_the_most_recent_value_by_default() -> None:
    survivor = merged(
        person("c-1", custom={"wechat_id": "old", "only_old": 1}),
        person("c-2", updated=9, custom={"wechat_id": "new"}),
    )

    assert survivor.custom.to_dict() == {"only_old": 1, "wechat_id": "new"}


def test_preferences_are_decided_field_by_field_too() -> None:
    survivor = merged(
        person("c-1", preferences={"channel": "sms"}),
        person("c-2", updated=9, preferences={"language": "zh"}),
    )

    assert survivor.preferences.to_dict() == {"channel": "sms", "language": "zh"}


def test_a_person_picks_can_be_overridden_by_hand_on_the_plan() -> None:
    old = person("c-1", country=CountryCode("CN"))
    new = person("c-2", updated=9, country=CountryCode("US"))

    chosen = choose(plan(old, new), "country", CustomerId("c-1"))

    assert chosen.decision("country").rule is SurvivorshipRule.MANUAL
    assert apply_merge(chosen).survivor.country == CountryCode("CN")


def test_choosing_a_customer_outside_the_plan_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="not part of this merge"):
        choose(plan(person("c-1"), person("c-2")), "country", CustomerId("c-9"))


def test_a_rule_that_does_not_apply_to_a_field_fails_when_the_policy_is_built() -> None:
    with pytest.raises(ConfigurationError, match="tags: rule 'sum' does not apply"):
        SurvivorshipPolicy(rules={"tags": "sum"})


def test_an_unknown_field_fails_when_the_policy_is_built() -> None:
    with pytest.raises(ConfigurationError, match="unknown merge field 'nickname'"):
        SurvivorshipPolicy(rules={"nickname": "most_recent"})


def test_furthest_stage_only_applies_to_the_lifecycle_stage() -> None:
    with pytest.raises(ConfigurationError, match="country: rule 'furthest_stage'"):
        SurvivorshipPolicy(rules={"country": "furthest_stage"})


def test_every_customer_field_is_decided_or_deliberately_left_to_the_survivor() -> None:
    import attrs  # noqa: PLC0415 - only this test inspects the class

    someone = person("c-1", custom={"visits": 1}, preferences={"language": "zh"})
    decided = {d.field.split(".")[0] for d in plan(someone, person("c-2")).decisions}
    not_merged = {"id", "version", "kind", "merged_into", "created_at", "updated_at"}
    paired = {"tier_reason", "team"}  # decided with tier and owner
    organisation_only = {"organization"}

    fields = {f.name for f in attrs.fields(Customer)}

    assert decided == fields - not_merged - paired - organisation_only


def test_a_policy_round_trips_through_json_so_a_frontend_can_store_it() -> None:
    from crmcore.serialization import loads, structure, unstructure  # noqa: PLC0415

    policy = SurvivorshipPolicy(
        rules={"custom.visits": SurvivorshipRule.SUM}, source_priority=[SourceChannel.IMPORT]
    )
    text = '{"rules": [{"field": "custom.visits", "rule": "sum"}], "source_priority": ["import"]}'

    assert structure(unstructure(policy), SurvivorshipPolicy) == policy
    assert loads(text, SurvivorshipPolicy) == policy
