"""Hypothesis strategies for every public crmcore type.

Every strategy produces valid values only (the types are always valid);
use them in host tests and property tests::

    from hypothesis import given
    from crmcore.testing import strategies as cst

    @given(cst.customers())
    def test_round_trip(customer): ...

May import: anything public in crmcore; hypothesis.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
import pendulum
from hypothesis import strategies as st

from crmcore.clock import utc
from crmcore.domain import (
    Activity,
    ActivityKind,
    AddressContact,
    Case,
    CaseChannel,
    CaseKind,
    CaseStatus,
    CompanySize,
    Consent,
    ConsentChannel,
    Contact,
    ContactId,
    ContactKind,
    ContactPoints,
    CountryCode,
    CreditRating,
    Customer,
    CustomerId,
    CustomerKind,
    CustomFields,
    DomainEvent,
    EmailAddress,
    EmailContact,
    ExternalId,
    FieldDef,
    FieldType,
    Gender,
    Lead,
    LeadStatus,
    LifecycleStage,
    Money,
    Opportunity,
    OpportunityStage,
    Order,
    OrderStatus,
    Organization,
    Person,
    PersonName,
    PhoneContact,
    PhoneNumber,
    PostalAddress,
    Priority,
    Severity,
    SourceChannel,
    SurveyResponse,
    Tag,
    Tier,
    UserId,
    event_types,
)
from crmcore.domain.classification import Classification
from crmcore.domain.values import CURRENCY_MINOR_UNITS
from crmcore.errors import InvalidValueError
from crmcore.merge import FieldDecision, MergeRecord, RelatedKind, RepointedRecord, SurvivorshipRule

__all__ = [
    "activities",
    "amounts",
    "cases",
    "consents",
    "contact_points",
    "country_codes",
    "custom_fields",
    "customer_ids",
    "customers",
    "email_addresses",
    "events",
    "field_defs",
    "leads",
    "merge_records",
    "money",
    "opportunities",
    "orders",
    "organizations",
    "person_names",
    "persons",
    "phone_numbers",
    "postal_addresses",
    "survey_responses",
    "tags",
    "timestamps",
    "user_ids",
]

_EPOCH = pendulum.datetime(2000, 1, 1)
_LARGEST_AMOUNT = Decimal("99999999999999.999999")  # NUMERIC(20, 6), the amount column


def timestamps(
    min_value: pendulum.DateTime = _EPOCH, max_value: pendulum.DateTime | None = None
) -> st.SearchStrategy[pendulum.DateTime]:
    """Aware UTC timestamps with whole-microsecond precision, 2000–2040 by default.

    Bounds may be anywhere in the supported range (:data:`crmcore.clock.EARLIEST` to
    :data:`crmcore.clock.LATEST`); every timestamp drawn lies within them.

    Raises:
        InvalidValueError: If a bound is naive or outside the supported range, or
            ``max_value`` is before ``min_value``.
    """
    lower = utc(min_value)
    upper = utc(max_value or pendulum.datetime(2040, 1, 1))
    if upper < lower:
        raise InvalidValueError("timestamp", max_value, f"before min_value {lower.isoformat()}")
    span = dt.datetime.__sub__(upper, lower) // dt.timedelta(microseconds=1)  # not an Interval
    return st.integers(0, span).map(
        lambda us: utc(dt.datetime.__add__(lower, dt.timedelta(microseconds=us)))
    )  # the stdlib addition: pendulum's own overflows on spans of thousands of years


def _ids(prefix: str) -> st.SearchStrategy[str]:
    return st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12).map(
        lambda s: f"{prefix}{s}"
    )


def customer_ids() -> st.SearchStrategy[CustomerId]:
    """Customer ids."""
    return _ids("c-").map(CustomerId)


def user_ids() -> st.SearchStrategy[UserId]:
    """User (salesperson, agent) ids."""
    return st.sampled_from(["u-ana", "u-bo", "u-chen", "u-dai", "u-eve"]).map(UserId)


_CJK_FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_CJK_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华"
_LATIN_GIVEN = ["John", "Mary", "Wei", "Anna", "José", "Zoë", "Li", "Sam", "Ann-Marie"]
_LATIN_FAMILY = ["Smith", "Müller", "Zhang", "O'Brien", "García", "Wang", "Nakamura"]


def person_names() -> st.SearchStrategy[PersonName]:
    """CJK and Latin-script person names."""
    cjk = st.builds(
        PersonName,
        family=st.sampled_from([*_CJK_FAMILY, "欧阳", "司马"]),
        given=st.text(_CJK_GIVEN, min_size=1, max_size=2),
    )
    latin = st.builds(
        PersonName, family=st.sampled_from(_LATIN_FAMILY), given=st.sampled_from(_LATIN_GIVEN)
    )
    return st.one_of(cjk, latin)


def email_addresses() -> st.SearchStrategy[EmailAddress]:
    """Valid, realistic email addresses."""
    local = st.from_regex(r"[a-z][a-z0-9]{0,10}([._+-][a-z0-9]{1,8})?", fullmatch=True)
    domain = st.sampled_from(
        ["example.com", "qq.com", "163.com", "Example.ORG", "mail.example.cn", "gmail.com"]
    )
    return st.builds(lambda lp, d: EmailAddress(f"{lp}@{d}"), local, domain)


# (region, national prefix, digits that follow): every combination is a valid number.
_PHONE_SAMPLES = (
    ("CN", "138", 8),
    ("CN", "159", 8),
    ("CN", "186", 8),
    ("CN", "10", 8),
    ("CN", "755", 8),
    ("US", "415555", 4),
    ("US", "212555", 4),
    ("GB", "20794", 5),
    ("DE", "30", 8),
    ("DE", "151", 8),
    ("DE", "89", 8),
    ("JP", "80", 8),
)


def phone_numbers() -> st.SearchStrategy[PhoneNumber]:
    """Valid phone numbers from CN, US, GB, DE and JP, some with extensions."""

    def build(sample: tuple[str, str, int], n: int, ext: str | None) -> PhoneNumber | None:
        region, prefix, digits = sample
        try:
            number = PhoneNumber.parse(prefix + str(n % 10**digits).zfill(digits), region=region)
        except InvalidValueError:  # a reserved block (Beijing 010 1xxx xxxx): draw again
            return None
        return PhoneNumber(number.e164, ext)

    built = st.builds(
        build,
        st.sampled_from(_PHONE_SAMPLES),
        st.integers(0, 10**8 - 1),
        st.one_of(st.none(), st.from_regex(r"[0-9]{1,5}", fullmatch=True)),
    )
    return built.filter(lambda phone: phone is not None).map(_drawn)


def _drawn(phone: PhoneNumber | None) -> PhoneNumber:
    assert phone is not None  # noqa: S101 - filtered out just before
    return phone


def country_codes() -> st.SearchStrategy[CountryCode]:
    """A handful of common ISO 3166-1 codes."""
    return st.sampled_from(["CN", "US", "GB", "DE", "JP", "FR", "SG", "HK"]).map(CountryCode)


def tags() -> st.SearchStrategy[Tag]:
    """Customer tags in English and Chinese."""
    return st.sampled_from(
        ["vip", "高价值", "wholesale", "新客", "churn-risk", "b2b", "key account"]
    ).map(Tag)


def amounts(
    min_value: Decimal | int = -_LARGEST_AMOUNT, max_value: Decimal | int = _LARGEST_AMOUNT
) -> st.SearchStrategy[Decimal]:
    """Decimals that are valid `Money` amounts: at most 14 integer digits and 6 places.

    Raises:
        InvalidValueError: If a bound is not itself a valid amount.
    """
    low, high = Money(min_value, "XAF").amount, Money(max_value, "XAF").amount
    return st.decimals(low, high, allow_nan=False, allow_infinity=False, places=6)


def money(currencies: tuple[str, ...] = ("CNY", "USD", "EUR", "JPY")) -> st.SearchStrategy[Money]:
    """Non-negative amounts with the currency's minor units, up to 10**9 minor units.

    Always far inside the range every backend stores (14 integer digits, 6 places), so
    sums of a few of them are in range too.
    """

    def build(currency: str, cents: int) -> Money:
        return Money(Decimal(cents).scaleb(-CURRENCY_MINOR_UNITS[currency]), currency)

    return st.builds(build, st.sampled_from(currencies), st.integers(0, 10**9))


def postal_addresses() -> st.SearchStrategy[PostalAddress]:
    """Chinese and US addresses."""
    cn = st.builds(
        PostalAddress,
        country=st.just(CountryCode("CN")),
        province=st.sampled_from(["广东省", "浙江省", "北京市"]),
        city=st.sampled_from(["深圳市", "杭州市", "北京市"]),
        district=st.sampled_from(["南山区", "西湖区", "朝阳区", ""]),
        street=st.lists(st.sampled_from(["科技园路1号", "文三路90号", "3栋501"]), max_size=2).map(
            tuple
        ),
        postcode=st.from_regex(r"[0-9]{6}", fullmatch=True),
    )
    us = st.builds(
        PostalAddress,
        country=st.just(CountryCode("US")),
        province=st.sampled_from(["CA", "NY"]),
        city=st.sampled_from(["San Francisco", "New York"]),
        street=st.lists(st.sampled_from(["1 Market St", "Suite 200"]), max_size=2).map(tuple),
        postcode=st.from_regex(r"[0-9]{5}", fullmatch=True),
    )
    return st.one_of(cn, us)


def contact_points() -> st.SearchStrategy[ContactPoints]:
    """Up to three emails, phones and addresses, unique, one primary each."""
    kinds = st.sampled_from(list(ContactKind))

    def build(
        emails: list[EmailAddress],
        phones: list[PhoneNumber],
        addresses: list[PostalAddress],
        ks: list[ContactKind],
        primary: int,
    ) -> ContactPoints:
        def pick(i: int) -> ContactKind:
            return ks[i % len(ks)]

        return ContactPoints(
            emails=[
                EmailContact(address=e, kind=pick(i), primary=i == primary % max(len(emails), 1))
                for i, e in enumerate(emails)
            ],
            phones=[PhoneContact(number=p, kind=pick(i)) for i, p in enumerate(phones)],
            addresses=[AddressContact(address=a, kind=pick(i)) for i, a in enumerate(addresses)],
        )

    return st.builds(
        build,
        st.lists(email_addresses(), max_size=3, unique=True),
        st.lists(phone_numbers(), max_size=3, unique=True),
        st.lists(postal_addresses(), max_size=2, unique=True),
        st.lists(kinds, min_size=1, max_size=3),
        st.integers(0, 2),
    )


def persons() -> st.SearchStrategy[Person]:
    """Person profiles."""
    return st.builds(
        Person,
        name=person_names(),
        gender=st.none() | st.sampled_from(list(Gender)),
        birth_date=st.none() | st.dates(dt.date(1930, 1, 1), dt.date(2010, 12, 31)),
        occupation=st.sampled_from(["", "engineer", "教师", "doctor"]),
        employer=st.sampled_from(["", "Acme Inc.", "腾达科技有限公司"]),
        national_id=st.sampled_from(["", "11010519491231002X", "A1234567"]),
    )


def organizations() -> st.SearchStrategy[Organization]:
    """Organisation profiles."""
    return st.builds(
        Organization,
        legal_name=st.sampled_from(
            ["深圳市腾达科技有限公司", "Acme Inc.", "Müller GmbH", "杭州云帆集团", "Globex LLC"]
        ),
        industry=st.sampled_from(["", "manufacturing", "零售", "software"]),
        size=st.none() | st.sampled_from(list(CompanySize)),
        registration_number=st.sampled_from(["", "91440300MA5F"]),
        website=st.sampled_from(["", "https://example.com"]),
    )


def custom_fields() -> st.SearchStrategy[CustomFields]:
    """Canonical custom field values of every JSON-native kind."""
    names = st.sampled_from(["wechat_id", "budget", "vip_since", "region", "score", "flags"])
    values = st.one_of(
        st.text(max_size=20),
        st.integers(-(10**9), 10**9),
        st.booleans(),
        st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=3).map(
            lambda v: tuple(sorted(v))
        ),
    )
    return st.dictionaries(names, values, max_size=4).map(CustomFields)


def field_defs() -> st.SearchStrategy[FieldDef]:
    """Custom field definitions of every type."""
    plain = st.builds(
        FieldDef,
        name=st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
        type=st.sampled_from(
            [t for t in FieldType if t not in (FieldType.CHOICE, FieldType.MULTI_CHOICE)]
        ),
        required=st.booleans(),
        classification=st.sampled_from(list(Classification)),
    )
    choice = st.builds(
        FieldDef,
        name=st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
        type=st.sampled_from([FieldType.CHOICE, FieldType.MULTI_CHOICE]),
        required=st.booleans(),
        classification=st.sampled_from(list(Classification)),
        allowed_values=st.lists(
            st.sampled_from(["north", "south", "east", "west"]), min_size=1, unique=True
        ).map(tuple),
    )
    return st.one_of(plain, choice)


def _created_updated() -> st.SearchStrategy[tuple[pendulum.DateTime, pendulum.DateTime]]:
    return st.tuples(timestamps(), st.integers(0, 10**12)).map(
        lambda p: (p[0], p[0].add(microseconds=p[1]))
    )


def customers() -> st.SearchStrategy[Customer]:
    """Valid customers: people and organisations with everything a CRM keeps."""

    def build(
        kind: CustomerKind, person: Person, org: Organization, times: Any, **kw: Any
    ) -> Customer:
        created, updated = times
        return Customer(
            kind=kind,
            person=person if kind is CustomerKind.PERSON else None,
            organization=org if kind is CustomerKind.ORGANIZATION else None,
            created_at=created,
            updated_at=updated,
            **kw,
        )

    contacts = st.lists(
        st.builds(
            Contact,
            id=_ids("p-").map(ContactId),
            name=person_names(),
            title=st.sampled_from(["", "CFO", "采购经理"]),
            points=contact_points(),
        ),
        max_size=2,
        unique_by=lambda c: c.id,
    )
    return st.builds(
        build,
        kind=st.sampled_from(list(CustomerKind)),
        person=persons(),
        org=organizations(),
        times=_created_updated(),
        id=customer_ids(),
        version=st.integers(0, 50),
        points=contact_points(),
        contacts=contacts,
        country=st.none() | country_codes(),
        tier=st.sampled_from(list(Tier)),
        tier_reason=st.sampled_from(["", "annual spend over 1M"]),
        priority=st.sampled_from(list(Priority)),
        credit_rating=st.none() | st.sampled_from(list(CreditRating)),
        source=st.sampled_from(list(SourceChannel)),
        lifecycle_stage=st.sampled_from(list(LifecycleStage)),
        owner=st.none() | user_ids(),
        tags=st.frozensets(tags(), max_size=3),
        custom=custom_fields(),
        external_ids=st.lists(
            st.builds(ExternalId, st.sampled_from(["erp", "shop", "old_crm"]), _ids("x")),
            max_size=3,
            unique_by=lambda e: e.system,
        ).map(frozenset),
        merged_into=st.none() | customer_ids(),
    )


def leads() -> st.SearchStrategy[Lead]:
    """Valid leads."""
    return st.builds(
        lambda times, **kw: Lead(created_at=times[0], updated_at=times[1], **kw),
        times=_created_updated(),
        id=_ids("l-"),
        version=st.integers(0, 20),
        name=person_names(),
        company=st.sampled_from(["", "Acme Inc.", "腾达科技"]),
        points=contact_points(),
        source=st.sampled_from(list(SourceChannel)),
        status=st.sampled_from(list(LeadStatus)),
        owner=st.none() | user_ids(),
        score=st.integers(0, 100),
    )


def opportunities() -> st.SearchStrategy[Opportunity]:
    """Valid opportunities."""
    return st.builds(
        lambda times, **kw: Opportunity(created_at=times[0], updated_at=times[1], **kw),
        times=_created_updated(),
        id=_ids("o-"),
        version=st.integers(0, 20),
        customer_id=customer_ids(),
        title=st.sampled_from(["ERP rollout", "年度采购", "Renewal 2027"]),
        amount=money(),
        stage=st.sampled_from(list(OpportunityStage)),
        expected_close=st.none() | st.dates(dt.date(2020, 1, 1), dt.date(2035, 1, 1)),
        owner=st.none() | user_ids(),
        lost_reason=st.sampled_from(["", "price"]),
        closed_at=st.none() | timestamps(),
    )


def activities() -> st.SearchStrategy[Activity]:
    """Valid activities, each linked to a customer."""
    return st.builds(
        lambda times, **kw: Activity(created_at=times[0], updated_at=times[1], **kw),
        times=_created_updated(),
        id=_ids("a-"),
        version=st.integers(0, 20),
        kind=st.sampled_from(list(ActivityKind)),
        subject=st.sampled_from(["", "follow-up call", "上门拜访"]),
        customer_id=customer_ids(),
        owner=st.none() | user_ids(),
        occurred_at=timestamps(),
        due_at=st.none() | timestamps(),
        completed_at=st.none() | timestamps(),
        outcome=st.sampled_from(["", "interested", "no answer"]),
        next_step=st.sampled_from(["", "send proposal"]),
    )


def cases() -> st.SearchStrategy[Case]:
    """Valid cases, with response/resolution timestamps after opening."""

    def build(times: Any, delays: list[int | None], **kw: Any) -> Case:
        created, updated = times
        first, resolved, closed = (None if d is None else created.add(seconds=d) for d in delays)
        return Case(
            opened_at=created,
            first_response_at=first,
            resolved_at=resolved,
            closed_at=closed,
            created_at=created,
            updated_at=updated,
            **kw,
        )

    return st.builds(
        build,
        times=_created_updated(),
        delays=st.lists(st.none() | st.integers(0, 10**7), min_size=3, max_size=3),
        id=_ids("k-"),
        version=st.integers(0, 20),
        customer_id=customer_ids(),
        kind=st.sampled_from(list(CaseKind)),
        subject=st.sampled_from(["设备故障", "late delivery", "billing question"]),
        category=st.sampled_from(["", "delivery", "quality"]),
        severity=st.sampled_from(list(Severity)),
        channel=st.sampled_from(list(CaseChannel)),
        status=st.sampled_from(list(CaseStatus)),
        escalation_level=st.integers(0, 3),
        owner=st.none() | user_ids(),
    )


def survey_responses() -> st.SearchStrategy[SurveyResponse]:
    """Valid survey responses with at least one score."""
    return st.builds(
        lambda times, scores, **kw: SurveyResponse(
            created_at=times[0], updated_at=times[1], responded_at=times[0], **scores, **kw
        ),
        times=_created_updated(),
        scores=st.fixed_dictionaries(
            {},
            optional={
                "csat": st.integers(1, 5),
                "nps": st.integers(0, 10),
                "ces": st.integers(1, 7),
            },
        ).filter(bool),
        id=_ids("s-"),
        version=st.integers(0, 20),
        customer_id=customer_ids(),
        comment=st.sampled_from(["", "很满意", "slow response"]),
    )


def orders() -> st.SearchStrategy[Order]:
    """Valid orders."""
    return st.builds(
        lambda times, **kw: Order(created_at=times[0], updated_at=times[1], **kw),
        times=_created_updated(),
        id=_ids("r-"),
        version=st.integers(0, 20),
        customer_id=customer_ids(),
        amount=money(),
        status=st.sampled_from(list(OrderStatus)),
        ordered_at=timestamps(),
        external_id=st.sampled_from(["", "SO-1001"]),
    )


def consents() -> st.SearchStrategy[Consent]:
    """Valid consent records, some withdrawn."""

    def build(times: Any, withdrawn_after: int | None, **kw: Any) -> Consent:
        created, updated = times
        withdrawn = None if withdrawn_after is None else created.add(seconds=withdrawn_after)
        return Consent(
            granted_at=created,
            withdrawn_at=withdrawn,
            created_at=created,
            updated_at=updated,
            **kw,
        )

    return st.builds(
        build,
        times=_created_updated(),
        withdrawn_after=st.none() | st.integers(0, 10**8),
        id=_ids("g-"),
        version=st.integers(0, 20),
        customer_id=customer_ids(),
        purpose=st.sampled_from(["marketing", "profiling", "service"]),
        channel=st.sampled_from(list(ConsentChannel)),
        source=st.sampled_from(["", "web form", "门店"]),
    )


def events() -> st.SearchStrategy[DomainEvent]:
    """Every kind of domain event, with plausible field values."""
    overrides: dict[str, st.SearchStrategy[Any]] = {
        "at": timestamps(),
        "by": st.none() | user_ids(),
        "amount": money(),
        "csat": st.none() | st.integers(1, 5),
        "nps": st.none() | st.integers(0, 10),
        "ces": st.none() | st.integers(1, 7),
    }
    text = st.sampled_from(["", "vip", "price", "customer", "c-1"])
    builders: list[st.SearchStrategy[DomainEvent]] = []
    for cls in event_types():
        attrs.resolve_types(cls)  # the string annotations, so ids and tuples can be drawn
        kwargs: dict[str, st.SearchStrategy[Any]] = {}
        for field in attrs.fields(cls):
            if field.name == "id":
                continue
            if field.name in overrides:
                kwargs[field.name] = overrides[field.name]
            elif field.type in ("str", str):
                kwargs[field.name] = text
        builders.append(st.builds(cls, **kwargs))
    return st.one_of(builders)


def merge_records() -> st.SearchStrategy[MergeRecord]:
    """Valid merge records: 2-4 customers, decisions, re-pointed records, some undone."""

    def build(
        *,
        people: list[Customer],
        decisions: list[tuple[str, SurvivorshipRule, int]],
        moved: list[tuple[RelatedKind, int, int]],
        merge_id: str,
        delays: tuple[int, int | None],
        by: UserId | None,
    ) -> MergeRecord:
        snapshots = [attrs.evolve(c, merged_into=None) for c in people]
        survivor, merged = snapshots[0], sorted(c.id for c in snapshots[1:])
        merged_at = max(c.updated_at for c in snapshots).add(seconds=delays[0])
        undone_at = None if delays[1] is None else merged_at.add(seconds=delays[1])
        ids = [c.id for c in snapshots]
        return MergeRecord(
            id=merge_id,
            survivor_id=survivor.id,
            merged_ids=merged,
            originals=snapshots,
            result=attrs.evolve(survivor, updated_at=merged_at),
            decisions=[
                FieldDecision(field=f, rule=r, source_id=ids[i % len(ids)], contributors=ids)
                for f, r, i in decisions
            ],
            repointed=[
                RepointedRecord(
                    kind=kind,
                    record_id=f"{kind.value}-{n}",
                    from_id=merged[i % len(merged)],
                    to_id=survivor.id,
                )
                for kind, n, i in moved
            ],
            merged_at=merged_at,
            merged_by=by,
            undone_at=undone_at,
            undone_by=None if undone_at is None else by,
            created_at=merged_at,
            updated_at=undone_at or merged_at,
        )

    fields = st.sampled_from(["person.name", "tier", "points.emails", "tags", "custom.visits"])
    return st.builds(
        build,
        people=st.lists(customers(), min_size=2, max_size=4, unique_by=lambda c: c.id),
        decisions=st.lists(
            st.tuples(fields, st.sampled_from(list(SurvivorshipRule)), st.integers(0, 3)),
            max_size=5,
            unique_by=lambda d: d[0],
        ),
        moved=st.lists(
            st.tuples(st.sampled_from(list(RelatedKind)), st.integers(0, 99), st.integers(0, 3)),
            max_size=6,
            unique_by=lambda m: (m[0], m[1]),
        ),
        merge_id=_ids("m-"),
        delays=st.tuples(st.integers(0, 10**6), st.none() | st.integers(0, 10**6)),
        by=st.none() | user_ids(),
    )
