"""The customer account (客户): the aggregate around a person or an organisation.

It groups a party, its contact points, contacts, classification, ownership,
tags and custom fields.

Operations are pure: each takes a snapshot and returns ``(new, event)``;
the version is bumped by the repository when the snapshot is saved.

May import: ``crmcore.errors``, ``crmcore.clock``, the rest of
``crmcore.domain``; attrs, pendulum.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Final

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL, PUBLIC, SENSITIVE
from crmcore.domain.contact import ContactKind, ContactPoints
from crmcore.domain.custom import CustomFields, CustomFieldSchema
from crmcore.domain.entity import not_before, require_id, require_version, touch
from crmcore.domain.events import (
    CustomerClassified,
    CustomerRegistered,
    CustomerTagged,
    CustomerUpdated,
    OwnerAssigned,
)
from crmcore.domain.ids import CustomerId, TeamId, UserId
from crmcore.domain.party import Contact, Organization, Person
from crmcore.domain.slots import compile_builder
from crmcore.domain.values import (
    CountryCode,
    EmailAddress,
    PersonName,
    PhoneNumber,
    PostalAddress,
    Tag,
    clean_text,
)
from crmcore.errors import InvalidValueError

__all__ = [
    "UNSET",
    "CreditRating",
    "Customer",
    "CustomerKind",
    "ExternalId",
    "LifecycleStage",
    "Priority",
    "SourceChannel",
    "Tier",
    "Unset",
    "add_address",
    "add_email",
    "add_phone",
    "assemble_customer",
    "assign_owner",
    "classify",
    "register_customer",
    "set_custom_fields",
    "tag",
    "untag",
    "update_customer",
]


class CustomerKind(enum.StrEnum):
    """Whether the account is a person (个人客户) or an organisation (企业客户)."""

    PERSON = "person"
    ORGANIZATION = "organization"


class Tier(enum.StrEnum):
    """Value tier (客户分级): VIP / strategic, ordinary, potential."""

    VIP = "vip"
    STRATEGIC = "strategic"
    ORDINARY = "ordinary"
    POTENTIAL = "potential"


class Priority(enum.StrEnum):
    """Service priority (优先级)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class CreditRating(enum.StrEnum):
    """Credit rating (信用评级), AAA best."""

    AAA = "AAA"
    AA = "AA"
    A = "A"
    BBB = "BBB"
    BB = "BB"
    B = "B"
    C = "C"


class SourceChannel(enum.StrEnum):
    """Where the customer came from (客户来源)."""

    WEBSITE = "website"
    REFERRAL = "referral"
    EVENT = "event"
    ADVERTISING = "advertising"
    SOCIAL = "social"
    WECHAT = "wechat"
    COLD_CALL = "cold_call"
    PARTNER = "partner"
    WALK_IN = "walk_in"
    IMPORT = "import"
    OTHER = "other"


class LifecycleStage(enum.StrEnum):
    """Customer lifecycle stage (生命周期)."""

    POTENTIAL = "potential"  # 潜在
    NEW = "new"  # 获取/新客户
    GROWTH = "growth"  # 成长期
    MATURE = "mature"  # 成熟期
    DECLINE = "decline"  # 衰退期
    CHURNED = "churned"  # 流失


def _external_system(value: str) -> str:
    text = clean_text(value).lower()
    if not text:
        raise InvalidValueError("external_id.system", value, "required")
    return text


def _external_value(value: str) -> str:
    text = clean_text(value)
    if not text:
        raise InvalidValueError("external_id.value", value, "required")
    return text


@attrs.frozen(order=True)
class ExternalId:
    """An id of the same customer in another system (ERP, e-shop, old CRM)."""

    system: str = attrs.field(converter=_external_system)
    value: str = attrs.field(converter=_external_value)

    def __str__(self) -> str:
        return f"{self.system}:{self.value}"


def _tags(value: Iterable[Tag | str]) -> frozenset[Tag]:
    return frozenset(t if isinstance(t, Tag) else Tag(t) for t in value)


def _external_ids(value: Iterable[ExternalId]) -> frozenset[ExternalId]:
    items = frozenset(value)
    systems = [e.system for e in items]
    twice = sorted({s for s in systems if systems.count(s) > 1})
    if twice:
        raise InvalidValueError("external_ids", twice, "one id per system")
    return items


def _custom(value: CustomFields | Mapping[str, object]) -> CustomFields:
    return value if isinstance(value, CustomFields) else CustomFields(value)


def _contacts(value: Iterable[Contact]) -> tuple[Contact, ...]:
    items = tuple(value)
    ids = [c.id for c in items]
    if len(set(ids)) != len(ids):
        raise InvalidValueError("contacts", ids, "contact ids must be unique")
    return items


def _check_party(instance: Customer, _: attrs.Attribute[object], __: object) -> None:
    if instance.kind is CustomerKind.PERSON:
        if instance.person is None or instance.organization is not None:
            raise InvalidValueError(
                "customer",
                instance.id,
                "a person customer has a person profile and no organization",
            )
    elif instance.organization is None or instance.person is not None:
        raise InvalidValueError(
            "customer",
            instance.id,
            "an organization customer has an organization profile and no person",
        )


@attrs.frozen(kw_only=True)
class Customer:
    """A customer account: a person or an organisation and everything the CRM knows of it.

    Snapshots are immutable; change them with the operations of this module.
    ``version`` is 0 until first saved, then bumped by every save.

    >>> from crmcore.domain.values import PersonName
    >>> at = pendulum.datetime(2026, 3, 1, tz="Asia/Shanghai")
    >>> c, event = register_customer(
    ...     id=CustomerId("c1"), person=Person(name=PersonName.parse("李娜")),
    ...     emails=[EmailAddress("li.na@example.com")], at=at, by=UserId("u7"))
    >>> c.display_name, str(c.points.primary_email), c.tier.value, c.lifecycle_stage.value
    ('李娜', 'li.na@example.com', 'potential', 'potential')
    >>> type(event).__name__, event.at.isoformat()
    ('CustomerRegistered', '2026-02-28T16:00:00+00:00')
    """

    id: CustomerId = attrs.field(converter=require_id, metadata=INTERNAL)
    version: int = attrs.field(default=0, converter=require_version, metadata=INTERNAL)
    kind: CustomerKind = attrs.field(converter=CustomerKind, metadata=PUBLIC)
    person: Person | None = attrs.field(default=None, metadata=SENSITIVE)
    organization: Organization | None = attrs.field(default=None, metadata=PUBLIC)
    points: ContactPoints = attrs.field(factory=ContactPoints, metadata=SENSITIVE)
    contacts: tuple[Contact, ...] = attrs.field(default=(), converter=_contacts, metadata=SENSITIVE)
    country: CountryCode | None = attrs.field(default=None, metadata=PUBLIC)
    tier: Tier = attrs.field(default=Tier.POTENTIAL, metadata=INTERNAL)
    tier_reason: str = attrs.field(default="", metadata=INTERNAL)
    priority: Priority = attrs.field(default=Priority.MEDIUM, metadata=INTERNAL)
    credit_rating: CreditRating | None = attrs.field(default=None, metadata=SENSITIVE)
    source: SourceChannel = attrs.field(default=SourceChannel.OTHER, metadata=INTERNAL)
    lifecycle_stage: LifecycleStage = attrs.field(
        default=LifecycleStage.POTENTIAL, metadata=INTERNAL
    )
    owner: UserId | None = attrs.field(default=None, metadata=INTERNAL)
    team: TeamId | None = attrs.field(default=None, metadata=INTERNAL)
    tags: frozenset[Tag] = attrs.field(default=frozenset(), converter=_tags, metadata=INTERNAL)
    preferences: CustomFields = attrs.field(
        factory=CustomFields, converter=_custom, metadata=INTERNAL
    )
    custom: CustomFields = attrs.field(factory=CustomFields, converter=_custom, metadata=INTERNAL)
    external_ids: frozenset[ExternalId] = attrs.field(
        default=frozenset(), converter=_external_ids, metadata=INTERNAL
    )
    merged_into: CustomerId | None = attrs.field(default=None, metadata=INTERNAL)
    created_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    updated_at: pendulum.DateTime = attrs.field(
        converter=utc, validator=[not_before("created_at"), _check_party], metadata=INTERNAL
    )

    @property
    def display_name(self) -> str:
        """The name to show: the person's full name or the organisation's legal name."""
        if self.person is not None:
            return self.person.name.full
        if self.organization is not None:
            return self.organization.legal_name
        return self.id  # pragma: no cover - excluded by the invariant

    @property
    def is_active(self) -> bool:
        """Whether the customer has not been merged into another one."""
        return self.merged_into is None

    def external_id(self, system: str) -> str | None:
        """Return this customer's id in ``system``, if known."""
        wanted = _external_system(system)
        return next((e.value for e in self.external_ids if e.system == wanted), None)


class Unset(enum.Enum):
    """Marker for "leave this field as it is" in update operations."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET


def register_customer(
    *,
    id: CustomerId,
    at: pendulum.DateTime,
    by: UserId | None = None,
    person: Person | None = None,
    organization: Organization | None = None,
    emails: Iterable[EmailAddress] = (),
    phones: Iterable[PhoneNumber] = (),
    addresses: Iterable[PostalAddress] = (),
    country: CountryCode | None = None,
    source: SourceChannel = SourceChannel.OTHER,
    owner: UserId | None = None,
    team: TeamId | None = None,
    tags: Iterable[Tag | str] = (),
    custom: CustomFields | None = None,
    external_ids: Iterable[ExternalId] = (),
) -> tuple[Customer, CustomerRegistered]:
    """Create a customer account; the first email/phone/address given is primary.

    Exactly one of ``person`` and ``organization`` is required.

    Raises:
        InvalidValueError: If the party is missing or a value is invalid.
    """
    if (person is None) == (organization is None):
        raise InvalidValueError("customer", id, "give exactly one of person or organization")
    kind = CustomerKind.PERSON if person is not None else CustomerKind.ORGANIZATION
    points = ContactPoints()
    for email in emails:
        points = points.with_email(email)
    for phone in phones:
        points = points.with_phone(phone, kind=ContactKind.MOBILE)
    for address in addresses:
        points = points.with_address(address)
    when = utc(at)
    customer = Customer(
        id=id,
        kind=kind,
        person=person,
        organization=organization,
        points=points,
        country=country,
        source=source,
        owner=owner,
        team=team,
        tags=_tags(tags),
        custom=custom if custom is not None else CustomFields(),
        external_ids=frozenset(external_ids),
        created_at=when,
        updated_at=when,
    )
    event = CustomerRegistered(
        customer_id=customer.id,
        kind=kind.value,
        display_name=customer.display_name,
        owner=owner,
        at=when,
        by=by,
    )
    return customer, event


def _field_defaults() -> dict[str, object]:
    """Return every defaulted field's value as ``Customer(...)`` stores it (converted).

    Read off a customer built the validating way, so the values are exactly
    the constructor's. Sharing them is safe: every default is immutable (an
    empty ``ContactPoints``, ``CustomFields``, tuple...).
    """
    at = pendulum.datetime(2000, 1, 1)
    template = Customer(
        id=CustomerId("template"),
        kind=CustomerKind.PERSON,
        person=Person(name=PersonName(given="template")),
        created_at=at,
        updated_at=at,
    )
    return {
        f.name: getattr(template, f.name)
        for f in attrs.fields(Customer)
        if f.default is not attrs.NOTHING
    }


_DEFAULTS: Final = _field_defaults()
_FIELDS: Final = tuple(f.name for f in attrs.fields(Customer))
_build: Final = compile_builder(Customer, ", ".join(_FIELDS), {name: name for name in _FIELDS})


def assemble_customer(
    *,
    id: CustomerId,
    at: pendulum.DateTime,
    person: Person | None = None,
    organization: Organization | None = None,
    points: ContactPoints | None = None,
    country: CountryCode | None = None,
    source: SourceChannel = SourceChannel.OTHER,
    owner: UserId | None = None,
    tags: frozenset[Tag] = frozenset(),
    external_ids: frozenset[ExternalId] = frozenset(),
) -> Customer:
    """Build a new customer (version 0, created and updated ``at``) from valid parts, quickly.

    Bulk imports build one customer per row. ``Customer(...)`` re-runs every
    field's converter and validator, most of which only re-check what the
    parts' own types guarantee (a ``ContactPoints`` is always valid, a
    ``CountryCode`` always a code) or what this function fixes (version 0,
    no contacts, default classification, ``created_at == updated_at``).
    Here the customer's own invariants are still checked — a non-empty id,
    exactly one of person or organization (which sets ``kind``), tags that
    are :class:`Tag`, one external id per system, an aware ``at`` — but the
    fixed fields are set without re-checking. The result equals
    ``Customer(...)`` with the same values, and an input ``Customer(...)``
    rejects is rejected here too (``tests/property/test_import_properties.py``).

    Raises:
        InvalidValueError: If the id is empty, not exactly one of person and
            organization is given, a part is not of its value type, a tag is
            invalid, two external ids share a system, or ``at`` is naive.
    """
    if person is not None and organization is None:
        kind = CustomerKind.PERSON
    elif organization is not None and person is None:
        kind = CustomerKind.ORGANIZATION
    else:
        raise InvalidValueError(
            "customer", id, "a customer has a person profile or an organization profile"
        )
    if (
        (person is not None and not isinstance(person, Person))
        or (organization is not None and not isinstance(organization, Organization))
        or (points is not None and not isinstance(points, ContactPoints))
        or (country is not None and not isinstance(country, CountryCode))
        or not isinstance(source, SourceChannel)
        or (owner is not None and not isinstance(owner, str))
    ):
        raise InvalidValueError(
            "customer", id, "parts must be crmcore value objects (use Customer(...) for raw values)"
        )
    when = utc(at)
    values = dict(_DEFAULTS)
    values["id"] = require_id(id)
    values["kind"] = kind
    values["person"] = person
    values["organization"] = organization
    if points is not None:
        values["points"] = points
    values["country"] = country
    values["source"] = source
    values["owner"] = owner
    values["tags"] = _tags(tags)
    values["external_ids"] = _external_ids(external_ids)
    values["created_at"] = values["updated_at"] = when
    built: Customer = _build(**values)  # every slot set once, before anyone sees it
    return built


def update_customer(
    customer: Customer,
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    person: Person | Unset = UNSET,
    organization: Organization | Unset = UNSET,
    points: ContactPoints | Unset = UNSET,
    contacts: tuple[Contact, ...] | Unset = UNSET,
    country: CountryCode | Unset | None = UNSET,
    source: SourceChannel | Unset = UNSET,
    credit_rating: CreditRating | Unset | None = UNSET,
    preferences: CustomFields | Unset = UNSET,
    external_ids: frozenset[ExternalId] | Unset = UNSET,
) -> tuple[Customer, CustomerUpdated]:
    """Change profile fields; only the fields given (not ``UNSET``) change.

    The event names the fields whose value actually changed.

    Raises:
        InvalidValueError: If a new value is invalid or ``at`` is before the last update.
    """
    given = {
        "person": person,
        "organization": organization,
        "points": points,
        "contacts": contacts,
        "country": country,
        "source": source,
        "credit_rating": credit_rating,
        "preferences": preferences,
        "external_ids": external_ids,
    }
    changes = {
        name: value
        for name, value in given.items()
        if value is not UNSET and value != getattr(customer, name)
    }
    new = touch(customer, at, **changes)
    return new, CustomerUpdated(
        customer_id=customer.id, fields=tuple(sorted(changes)), at=new.updated_at, by=by
    )


def add_email(
    customer: Customer,
    address: EmailAddress,
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    kind: ContactKind = ContactKind.WORK,
    primary: bool = False,
) -> tuple[Customer, CustomerUpdated]:
    """Add an email (or re-type an existing one); ``primary`` makes it the primary one."""
    return update_customer(
        customer,
        points=customer.points.with_email(address, kind=kind, primary=primary),
        at=at,
        by=by,
    )


def add_phone(
    customer: Customer,
    number: PhoneNumber,
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    kind: ContactKind = ContactKind.MOBILE,
    primary: bool = False,
) -> tuple[Customer, CustomerUpdated]:
    """Add a phone (or re-type an existing one); ``primary`` makes it the primary one."""
    return update_customer(
        customer,
        points=customer.points.with_phone(number, kind=kind, primary=primary),
        at=at,
        by=by,
    )


def add_address(
    customer: Customer,
    address: PostalAddress,
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    kind: ContactKind = ContactKind.WORK,
    primary: bool = False,
) -> tuple[Customer, CustomerUpdated]:
    """Add a postal address; ``primary`` makes it the primary one."""
    return update_customer(
        customer,
        points=customer.points.with_address(address, kind=kind, primary=primary),
        at=at,
        by=by,
    )


def tag(
    customer: Customer, *tags: Tag | str, at: pendulum.DateTime, by: UserId | None = None
) -> tuple[Customer, CustomerTagged]:
    """Add tags (客户标签); tags already present are ignored."""
    wanted = _tags(tags)
    added = wanted - customer.tags
    new = touch(customer, at, tags=customer.tags | wanted) if added else customer
    return new, CustomerTagged(
        customer_id=customer.id,
        added=tuple(sorted(t.name for t in added)),
        at=utc(at),
        by=by,
    )


def untag(
    customer: Customer, *tags: Tag | str, at: pendulum.DateTime, by: UserId | None = None
) -> tuple[Customer, CustomerTagged]:
    """Remove tags; tags not present are ignored."""
    unwanted = _tags(tags)
    removed = customer.tags & unwanted
    new = touch(customer, at, tags=customer.tags - unwanted) if removed else customer
    return new, CustomerTagged(
        customer_id=customer.id,
        removed=tuple(sorted(t.name for t in removed)),
        at=utc(at),
        by=by,
    )


def classify(
    customer: Customer,
    *,
    reason: str,
    at: pendulum.DateTime,
    by: UserId | None = None,
    tier: Tier | None = None,
    priority: Priority | None = None,
    automatic: bool = False,
) -> tuple[Customer, CustomerClassified]:
    """Set the value tier and/or priority, keeping the reason (by hand or by a rule).

    Raises:
        InvalidValueError: If neither tier nor priority is given, or the reason is empty.
    """
    if tier is None and priority is None:
        raise InvalidValueError("classification", None, "give a tier, a priority or both")
    why = clean_text(reason)
    if not why:
        raise InvalidValueError("reason", reason, "a reason is required")
    new = touch(
        customer,
        at,
        tier=tier if tier is not None else customer.tier,
        priority=priority if priority is not None else customer.priority,
        tier_reason=why,
    )
    return new, CustomerClassified(
        customer_id=customer.id,
        tier=new.tier.value,
        priority=new.priority.value,
        previous_tier=customer.tier.value,
        previous_priority=customer.priority.value,
        reason=why,
        automatic=automatic,
        at=new.updated_at,
        by=by,
    )


def assign_owner(
    customer: Customer,
    owner: UserId | None,
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    team: TeamId | Unset | None = UNSET,
) -> tuple[Customer, OwnerAssigned]:
    """Give the customer a new owner (负责人), and optionally a new team."""
    new_team = customer.team if team is UNSET else team
    new = touch(customer, at, owner=owner, team=new_team)
    return new, OwnerAssigned(
        customer_id=customer.id,
        owner=owner,
        team=new_team,
        previous_owner=customer.owner,
        previous_team=customer.team,
        at=new.updated_at,
        by=by,
    )


def set_custom_fields(
    customer: Customer,
    values: Mapping[str, object],
    schema: CustomFieldSchema,
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
) -> tuple[Customer, CustomerUpdated]:
    """Patch custom fields (``None`` removes one) and validate the result against ``schema``.

    Raises:
        PayloadError: With every problem, if the patched values do not fit the schema.
    """
    merged: dict[str, object] = {**customer.custom.to_dict(), **values}
    patched = {k: v for k, v in merged.items() if v is not None}
    checked = schema.validate(patched)
    new = touch(customer, at, custom=checked)
    changed = sorted(
        k for k in set(customer.custom) | set(checked) if customer.custom.get(k) != checked.get(k)
    )
    return new, CustomerUpdated(
        customer_id=customer.id,
        fields=tuple(f"custom.{k}" for k in changed),
        at=new.updated_at,
        by=by,
    )
