"""The table of mergeable fields (可合并字段): one :class:`MergeField` per field path.

Survivorship, plans and unmerge read every field through this table: how to
read its value from a customer (``get``), how to write a merged value back
(``put``), what kind of value it is (which decides the rules it accepts),
when it is empty, and for collections how their items are keyed and which
container holds them. Nothing else in :mod:`crmcore.merge` splits a path or
picks a container by name.

Field paths: ``person.<field>`` or ``organization.<field>`` (by kind),
``country``, ``tier`` (with its reason), ``priority``, ``credit_rating``,
``source``, ``owner`` (with the team), ``lifecycle_stage``,
``points.emails``, ``points.phones``, ``points.addresses``, ``tags``,
``external_ids``, ``contacts``, ``custom.<name>`` and ``preferences.<name>``.

>>> merge_field("tier").kind, merge_field("tags").kind, merge_field("custom.visits").kind
(<MergeFieldKind.SCALAR: 'scalar'>, <MergeFieldKind.SET: 'set'>, <MergeFieldKind.CUSTOM: 'custom'>)

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.merge``; attrs.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

import attrs

from crmcore.domain.contact import AddressContact, EmailContact, PhoneContact
from crmcore.domain.custom import CustomFields, CustomValue
from crmcore.domain.customer import (
    CreditRating,
    Customer,
    CustomerKind,
    ExternalId,
    Priority,
    Tier,
)
from crmcore.domain.party import Contact, Organization, Person
from crmcore.domain.values import Tag
from crmcore.errors import ConfigurationError
from crmcore.merge.rule import SurvivorshipRule

__all__ = [
    "ABSENT",
    "ALLOWED_BY_KIND",
    "COMMON_FIELDS",
    "ORGANIZATION_FIELDS",
    "PERSON_FIELDS",
    "MergeField",
    "MergeFieldKind",
    "blank",
    "field_kind",
    "field_paths",
    "merge_field",
    "value_of",
    "with_values",
]


class _Absent(enum.Enum):
    ABSENT = "absent"

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent.ABSENT
"""The value of a custom field or preference a customer does not have."""


class MergeFieldKind(enum.StrEnum):
    """What sort of value a field path holds, which decides the rules it accepts."""

    SCALAR = "scalar"
    POINTS = "points"
    SET = "set"
    KEYED = "keyed"
    CUSTOM = "custom"


_PICKING: Final = frozenset(
    {
        SurvivorshipRule.MOST_RECENT,
        SurvivorshipRule.OLDEST,
        SurvivorshipRule.MOST_COMPLETE,
        SurvivorshipRule.SOURCE_PRIORITY,
        SurvivorshipRule.SURVIVOR,
    }
)
ALLOWED_BY_KIND: Final[Mapping[MergeFieldKind, frozenset[SurvivorshipRule]]] = {
    MergeFieldKind.SCALAR: _PICKING,
    MergeFieldKind.POINTS: _PICKING
    | {SurvivorshipRule.UNION, SurvivorshipRule.KEEP_BOTH_AS_SECONDARY},
    MergeFieldKind.SET: _PICKING | {SurvivorshipRule.UNION},
    MergeFieldKind.KEYED: _PICKING | {SurvivorshipRule.UNION},
    MergeFieldKind.CUSTOM: _PICKING | {SurvivorshipRule.UNION, SurvivorshipRule.SUM},
}
"""The rules every field of a kind accepts."""


class _Changes:
    """New values for one customer, gathered so that it is rebuilt once."""

    __slots__ = ("custom", "nested", "preferences", "top")

    def __init__(self, customer: Customer) -> None:
        self.top: dict[str, Any] = {}
        self.nested: dict[str, dict[str, Any]] = {"person": {}, "organization": {}, "points": {}}
        self.custom: dict[str, CustomValue] = customer.custom.to_dict()
        self.preferences: dict[str, CustomValue] = customer.preferences.to_dict()


Getter = Callable[[Customer], object]
Putter = Callable[[_Changes, object], None]


def blank(value: object) -> bool:
    """Return whether ``value`` is empty: absent, ``None``, ``""``, an empty collection, no pair."""
    if value is ABSENT or value is None or value == "":
        return True
    if isinstance(value, tuple | frozenset) and not value:
        return True
    return value == (None, None)


def _no_items(_value: object) -> dict[object, object]:
    return {}


def _item_label(_key: object, item: object) -> str:
    return str(item)


@attrs.frozen
class MergeField:
    """One mergeable field: how to read, write, judge and combine its value.

    Attributes:
        path: The field path (``"person.name"``, ``"tags"``, ``"custom.visits"``).
        kind: What sort of value it holds.
        default: The rule used when the policy names none (``None``: the
            policy's ``custom_default``).
        extra: Rules it accepts beyond those of its kind (``HIGHEST`` for tiers).
        get: Reads the value from a customer (``tier`` and ``owner`` are pairs,
            a missing custom field is :data:`ABSENT`).
        put: Writes a value into pending changes (see :func:`with_values`).
        is_empty: Whether a value counts as empty (empty values never win).
        items: For collections: the items of a value by key, in order.
        container: For collections: builds a value from items (``tuple`` or ``frozenset``).
        ranks: For ``HIGHEST``: the rank of each value (higher is better).
        describe: For keyed collections: how an item is named in a decision's note.
    """

    path: str
    kind: MergeFieldKind
    default: SurvivorshipRule | None
    get: Getter = attrs.field(repr=False)
    put: Putter = attrs.field(repr=False)
    extra: frozenset[SurvivorshipRule] = frozenset()
    is_empty: Callable[[object], bool] = attrs.field(default=blank, repr=False)
    items: Callable[[object], dict[object, object]] = attrs.field(default=_no_items, repr=False)
    container: Callable[[Iterable[Any]], object] = attrs.field(default=tuple, repr=False)
    ranks: Mapping[object, int] = attrs.field(factory=dict, repr=False)
    describe: Callable[[object, object], str] = attrs.field(default=_item_label, repr=False)

    @property
    def allowed(self) -> frozenset[SurvivorshipRule]:
        """Every rule this field accepts."""
        return ALLOWED_BY_KIND[self.kind] | self.extra

    @property
    def is_collection(self) -> bool:
        """Whether the value is a collection merged item by item."""
        return self.kind in (MergeFieldKind.POINTS, MergeFieldKind.SET, MergeFieldKind.KEYED)


# -- getters and putters --------------------------------------------------------------------


def _attribute(name: str) -> Getter:
    return lambda c: getattr(c, name)


def _profile_attribute(profile: str, name: str) -> Getter:
    return lambda c: getattr(getattr(c, profile), name, None)


def _pair(first: str, second: str) -> Getter:
    return lambda c: (getattr(c, first), getattr(c, second))


def _put_top(name: str) -> Putter:
    def put(changes: _Changes, value: object) -> None:
        changes.top[name] = value

    return put


def _put_nested(part: str, name: str) -> Putter:
    def put(changes: _Changes, value: object) -> None:
        changes.nested[part][name] = value

    return put


def _put_pair(first: str, second: str) -> Putter:
    def put(changes: _Changes, value: object) -> None:
        one, two = cast(tuple[object, object], value)
        changes.top[first] = one
        changes.top[second] = two

    return put


def _get_custom(name: str) -> Getter:
    return lambda c: c.custom.get(name, ABSENT)


def _get_preference(name: str) -> Getter:
    return lambda c: c.preferences.get(name, ABSENT)


def _put_extra(table: str, name: str) -> Putter:
    def put(changes: _Changes, value: object) -> None:
        values: dict[str, CustomValue] = getattr(changes, table)
        if value is ABSENT:
            values.pop(name, None)
        else:
            values[name] = cast(CustomValue, value)

    return put


# -- collection items -----------------------------------------------------------------------

_Point = EmailContact | PhoneContact | AddressContact


def _points_by_value(value: object) -> dict[object, object]:
    return {p.value: p for p in cast(tuple[_Point, ...], value)}


def _tags(value: object) -> dict[object, object]:
    return {t: t for t in cast(frozenset[Tag], value)}


def _external_ids_by_system(value: object) -> dict[object, object]:
    return {e.system: e for e in sorted(cast(frozenset[ExternalId], value))}


def _contacts_by_id(value: object) -> dict[object, object]:
    return {c.id: c for c in cast(tuple[Contact, ...], value)}


def _contact_label(key: object, _item: object) -> str:
    return f"contact {key}"


# -- the table ------------------------------------------------------------------------------

_MOST_COMPLETE_BY_DEFAULT: Final = frozenset({"name", "legal_name"})


def _profile(prefix: str, cls: type[Person] | type[Organization]) -> dict[str, MergeField]:
    """Every field of a profile, the name most complete and the rest most recent."""
    return {
        f"{prefix}.{f.name}": MergeField(
            path=f"{prefix}.{f.name}",
            kind=MergeFieldKind.SCALAR,
            default=(
                SurvivorshipRule.MOST_COMPLETE
                if f.name in _MOST_COMPLETE_BY_DEFAULT
                else SurvivorshipRule.MOST_RECENT
            ),
            get=_profile_attribute(prefix, f.name),
            put=_put_nested(prefix, f.name),
        )
        for f in attrs.fields(cls)
    }


def _scalar(
    path: str,
    default: SurvivorshipRule,
    extra: frozenset[SurvivorshipRule] = frozenset(),
    ranks: Mapping[object, int] | None = None,
) -> MergeField:
    return MergeField(
        path=path,
        kind=MergeFieldKind.SCALAR,
        default=default,
        extra=extra,
        get=_attribute(path),
        put=_put_top(path),
        ranks=ranks or {},
    )


def _points(name: str) -> MergeField:
    return MergeField(
        path=f"points.{name}",
        kind=MergeFieldKind.POINTS,
        default=SurvivorshipRule.UNION,
        get=lambda c: getattr(c.points, name),
        put=_put_nested("points", name),
        items=_points_by_value,
        container=tuple,
    )


_HIGHEST: Final = frozenset({SurvivorshipRule.HIGHEST})

PERSON_FIELDS: Final[Mapping[str, MergeField]] = _profile("person", Person)
"""The profile fields of a person, by path."""
ORGANIZATION_FIELDS: Final[Mapping[str, MergeField]] = _profile("organization", Organization)
"""The profile fields of an organization, by path."""
COMMON_FIELDS: Final[Mapping[str, MergeField]] = {
    f.path: f
    for f in (
        _scalar("country", SurvivorshipRule.MOST_RECENT),
        attrs.evolve(
            _scalar(
                "tier",
                SurvivorshipRule.HIGHEST,
                _HIGHEST,
                {Tier.POTENTIAL: 0, Tier.ORDINARY: 1, Tier.STRATEGIC: 2, Tier.VIP: 3},
            ),
            get=_pair("tier", "tier_reason"),
            put=_put_pair("tier", "tier_reason"),
        ),
        _scalar(
            "priority",
            SurvivorshipRule.HIGHEST,
            _HIGHEST,
            {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2},
        ),
        _scalar(
            "credit_rating",
            SurvivorshipRule.MOST_RECENT,
            _HIGHEST,
            {r: -i for i, r in enumerate(CreditRating)},
        ),
        _scalar("source", SurvivorshipRule.OLDEST),
        attrs.evolve(
            _scalar("owner", SurvivorshipRule.SURVIVOR),
            get=_pair("owner", "team"),
            put=_put_pair("owner", "team"),
        ),
        _scalar(
            "lifecycle_stage",
            SurvivorshipRule.FURTHEST_STAGE,
            frozenset({SurvivorshipRule.FURTHEST_STAGE}),
        ),
        _points("emails"),
        _points("phones"),
        _points("addresses"),
        MergeField(
            path="tags",
            kind=MergeFieldKind.SET,
            default=SurvivorshipRule.UNION,
            get=_attribute("tags"),
            put=_put_top("tags"),
            items=_tags,
            container=frozenset,
        ),
        MergeField(
            path="external_ids",
            kind=MergeFieldKind.KEYED,
            default=SurvivorshipRule.UNION,
            get=_attribute("external_ids"),
            put=_put_top("external_ids"),
            items=_external_ids_by_system,
            container=frozenset,
        ),
        MergeField(
            path="contacts",
            kind=MergeFieldKind.KEYED,
            default=SurvivorshipRule.UNION,
            get=_attribute("contacts"),
            put=_put_top("contacts"),
            items=_contacts_by_id,
            container=tuple,
            describe=_contact_label,
        ),
    )
}
"""The fields every customer has, by path, in the order a merge decides them."""

_FIXED: Final[Mapping[str, MergeField]] = {
    **PERSON_FIELDS,
    **ORGANIZATION_FIELDS,
    **COMMON_FIELDS,
}
_CUSTOM_PATH: Final = re.compile(r"(custom|preferences)\.([a-z][a-z0-9_]{0,62})")


@functools.lru_cache(maxsize=4096)
def _custom_field(path: str) -> MergeField | None:
    match = _CUSTOM_PATH.fullmatch(path)
    if match is None:
        return None
    table, name = match.groups()
    return MergeField(
        path=path,
        kind=MergeFieldKind.CUSTOM,
        default=None,
        get=_get_custom(name) if table == "custom" else _get_preference(name),
        put=_put_extra(table, name),
    )


def merge_field(path: str) -> MergeField:
    """Return the row of the table for ``path``.

    Args:
        path: A field path (see the module docstring).

    Returns:
        Its :class:`MergeField`.

    Raises:
        ConfigurationError: If ``path`` names no mergeable field.
    """
    found = _FIXED.get(path) or _custom_field(path)
    if found is None:
        raise ConfigurationError(
            f"unknown merge field {path!r}; use one of {sorted(_FIXED)}, custom.<name> "
            "or preferences.<name>"
        )
    return found


def field_kind(path: str) -> MergeFieldKind:
    """Return the kind of value at ``path``.

    Raises:
        ConfigurationError: If ``path`` names no mergeable field.
    """
    return merge_field(path).kind


def field_paths(customers: Iterable[Customer]) -> tuple[str, ...]:
    """Return every field path a merge of ``customers`` decides, in a stable order.

    Args:
        customers: Customers of one kind.

    Returns:
        The profile paths of their kind, the common paths, then every custom
        field and preference any of them has, sorted by name.
    """
    people = list(customers)
    kind = people[0].kind if people else CustomerKind.PERSON
    profile = PERSON_FIELDS if kind is CustomerKind.PERSON else ORGANIZATION_FIELDS
    custom = sorted({f"custom.{k}" for c in people for k in c.custom})
    prefs = sorted({f"preferences.{k}" for c in people for k in c.preferences})
    return (*profile, *COMMON_FIELDS, *custom, *prefs)


def value_of(customer: Customer, path: str) -> object:
    """Return the value of ``customer`` at ``path``.

    ``tier`` is the pair ``(tier, tier_reason)`` and ``owner`` the pair
    ``(owner, team)``; a missing custom field is :data:`ABSENT`.

    Raises:
        ConfigurationError: If ``path`` names no mergeable field.
    """
    return merge_field(path).get(customer)


def with_values(customer: Customer, values: Mapping[str, object]) -> Customer:
    """Return ``customer`` with the value at each path of ``values`` replaced.

    ``updated_at`` and ``version`` are left alone; the caller touches the snapshot.

    Args:
        customer: The snapshot to change.
        values: New values by field path, as :func:`value_of` returns them.

    Returns:
        The changed snapshot.

    Raises:
        InvalidValueError: If the values break an invariant of the customer.
        ConfigurationError: If a path names no mergeable field.
    """
    changes = _Changes(customer)
    for path, value in values.items():
        merge_field(path).put(changes, value)
    top = changes.top
    for name, nested in changes.nested.items():
        current = getattr(customer, name)
        if nested and current is not None:
            top[name] = attrs.evolve(current, **nested)
    return attrs.evolve(
        customer,
        custom=CustomFields(changes.custom),
        preferences=CustomFields(changes.preferences),
        **top,
    )
