"""Survivorship (取值规则): which value of which duplicate the merged customer keeps.

:class:`SurvivorshipPolicy` is the data a host tunes: a rule per field path,
the rule for custom fields and preferences, how the survivor is chosen, the
ranking of source channels and of lifecycle stages. The functions below
read field values by path, decide each field (:func:`decide`) and compute
the decided value (:func:`decided_value`); :mod:`crmcore.merge.plan` puts
them together.

Field paths: ``person.<field>`` or ``organization.<field>`` (by kind),
``country``, ``tier`` (with its reason), ``priority``, ``credit_rating``,
``source``, ``owner`` (with the team), ``lifecycle_stage``,
``points.emails``, ``points.phones``, ``points.addresses`` (an address is
always kept whole, never assembled from parts of several), ``tags``,
``external_ids``, ``contacts``, ``custom.<name>`` and ``preferences.<name>``.

Every choice is deterministic: ties fall to the most recently updated
customer, then to the survivor, then to the smallest id.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.merge``; attrs.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from crmcore.domain.classification import INTERNAL
from crmcore.domain.contact import AddressContact, EmailContact, PhoneContact
from crmcore.domain.custom import CustomFields, CustomValue
from crmcore.domain.customer import (
    CreditRating,
    Customer,
    CustomerKind,
    LifecycleStage,
    Priority,
    SourceChannel,
    Tier,
)
from crmcore.domain.ids import CustomerId
from crmcore.domain.party import Contact, Organization, Person
from crmcore.domain.values import Tag
from crmcore.errors import ConfigurationError, InvalidValueError
from crmcore.merge.record import FieldDecision
from crmcore.merge.rule import Rule, SurvivorRule

__all__ = [
    "ABSENT",
    "FieldKind",
    "FieldRule",
    "SurvivorshipPolicy",
    "choose_survivor",
    "decide",
    "decided_value",
    "field_kind",
    "field_paths",
    "value_of",
    "with_values",
]


class _Absent(enum.Enum):
    ABSENT = "absent"

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent.ABSENT
"""The value of a custom field or preference a customer does not have."""


class FieldKind(enum.StrEnum):
    """What sort of value a field path holds, which decides the rules it accepts."""

    SCALAR = "scalar"
    POINTS = "points"
    SET = "set"
    KEYED = "keyed"
    CUSTOM = "custom"


_PICKING: Final = frozenset(
    {Rule.MOST_RECENT, Rule.OLDEST, Rule.MOST_COMPLETE, Rule.SOURCE_PRIORITY, Rule.SURVIVOR}
)
_ALLOWED: Final[Mapping[FieldKind, frozenset[Rule]]] = {
    FieldKind.SCALAR: _PICKING,
    FieldKind.POINTS: _PICKING | {Rule.UNION, Rule.KEEP_BOTH_AS_SECONDARY},
    FieldKind.SET: _PICKING | {Rule.UNION},
    FieldKind.KEYED: _PICKING | {Rule.UNION},
    FieldKind.CUSTOM: _PICKING | {Rule.UNION, Rule.SUM},
}


@attrs.frozen
class _Spec:
    kind: FieldKind
    default: Rule
    extra: frozenset[Rule] = frozenset()


_S = FieldKind.SCALAR
_MOST_COMPLETE_BY_DEFAULT: Final = frozenset({"name", "legal_name"})


def _profile(prefix: str, cls: type[Person] | type[Organization]) -> dict[str, _Spec]:
    """Every field of a profile, the name most complete and the rest most recent."""
    return {
        f"{prefix}.{f.name}": _Spec(
            _S, Rule.MOST_COMPLETE if f.name in _MOST_COMPLETE_BY_DEFAULT else Rule.MOST_RECENT
        )
        for f in attrs.fields(cls)
    }


_PERSON: Final = _profile("person", Person)
_ORGANIZATION: Final = _profile("organization", Organization)
_COMMON: Final = {
    "country": _Spec(_S, Rule.MOST_RECENT),
    "tier": _Spec(_S, Rule.HIGHEST, frozenset({Rule.HIGHEST})),
    "priority": _Spec(_S, Rule.HIGHEST, frozenset({Rule.HIGHEST})),
    "credit_rating": _Spec(_S, Rule.MOST_RECENT, frozenset({Rule.HIGHEST})),
    "source": _Spec(_S, Rule.OLDEST),
    "owner": _Spec(_S, Rule.SURVIVOR),
    "lifecycle_stage": _Spec(_S, Rule.FURTHEST_STAGE, frozenset({Rule.FURTHEST_STAGE})),
    "points.emails": _Spec(FieldKind.POINTS, Rule.UNION),
    "points.phones": _Spec(FieldKind.POINTS, Rule.UNION),
    "points.addresses": _Spec(FieldKind.POINTS, Rule.UNION),
    "tags": _Spec(FieldKind.SET, Rule.UNION),
    "external_ids": _Spec(FieldKind.KEYED, Rule.UNION),
    "contacts": _Spec(FieldKind.KEYED, Rule.UNION),
}
_SPECS: Final = {**_PERSON, **_ORGANIZATION, **_COMMON}
_CUSTOM_PATH: Final = re.compile(r"(custom|preferences)\.[a-z][a-z0-9_]{0,62}")

_RANKS: Final[Mapping[str, Mapping[object, int]]] = {
    "tier": {Tier.POTENTIAL: 0, Tier.ORDINARY: 1, Tier.STRATEGIC: 2, Tier.VIP: 3},
    "priority": {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2},
    "credit_rating": {r: -i for i, r in enumerate(CreditRating)},
}


def field_kind(path: str) -> FieldKind:
    """Return the kind of value at ``path``.

    Args:
        path: A field path (see the module docstring).

    Returns:
        Its kind.

    Raises:
        ConfigurationError: If ``path`` names no mergeable field.
    """
    spec = _SPECS.get(path)
    if spec is not None:
        return spec.kind
    if _CUSTOM_PATH.fullmatch(path):
        return FieldKind.CUSTOM
    raise ConfigurationError(
        f"unknown merge field {path!r}; use one of {sorted(_SPECS)}, custom.<name> "
        "or preferences.<name>"
    )


def _allowed(path: str) -> frozenset[Rule]:
    spec = _SPECS.get(path)
    if spec is not None:
        return _ALLOWED[spec.kind] | spec.extra
    return _ALLOWED[field_kind(path)]


@attrs.frozen
class FieldRule:
    """The rule for one field path, as a host writes it in a policy."""

    field: str = attrs.field(metadata=INTERNAL)
    rule: Rule = attrs.field(converter=Rule, metadata=INTERNAL)


def _field_rules(
    value: Mapping[str, Rule | str] | Iterable[FieldRule],
) -> tuple[FieldRule, ...]:
    items = (
        [FieldRule(k, Rule(v)) for k, v in value.items()]
        if isinstance(value, Mapping)
        else list(value)
    )
    problems: list[str] = []
    seen: set[str] = set()
    for item in items:
        if item.field in seen:
            problems.append(f"{item.field}: listed twice")
        seen.add(item.field)
        try:
            allowed = _allowed(item.field)
        except ConfigurationError as exc:
            problems.append(str(exc))
            continue
        if item.rule not in allowed:
            problems.append(
                f"{item.field}: rule {item.rule.value!r} does not apply; "
                f"use one of {sorted(r.value for r in allowed)}"
            )
    if problems:
        raise ConfigurationError("invalid survivorship policy: " + "; ".join(problems))
    return tuple(sorted(items, key=lambda r: r.field))


def _custom_default(value: Rule | str) -> Rule:
    rule = Rule(value)
    if rule not in _ALLOWED[FieldKind.CUSTOM]:
        raise ConfigurationError(
            f"invalid survivorship policy: custom_default {rule.value!r} does not apply to "
            "every custom field"
        )
    return rule


def _sources(value: Iterable[SourceChannel | str]) -> tuple[SourceChannel, ...]:
    items = tuple(SourceChannel(v) for v in value)
    if len(set(items)) != len(items):
        raise ConfigurationError(
            "invalid survivorship policy: source_priority lists a channel twice"
        )
    return items


def _stages(value: Iterable[LifecycleStage | str]) -> tuple[LifecycleStage, ...]:
    items = tuple(LifecycleStage(v) for v in value)
    if len(set(items)) != len(items):
        raise ConfigurationError("invalid survivorship policy: stage_order lists a stage twice")
    return items


@attrs.frozen(kw_only=True)
class SurvivorshipPolicy:
    """How duplicates are merged: the survivor choice and a rule per field.

    Fields not named in ``rules`` use the library's defaults: the most
    complete name, the most recent of other profile fields, the highest
    tier and priority, the furthest lifecycle stage, the oldest source
    channel, the survivor's owner, the union of contact points, tags,
    external ids and contacts, and ``custom_default`` for custom fields and
    preferences. A wrong policy fails when it is built.

    >>> policy = SurvivorshipPolicy(rules={"custom.visits": "sum", "person.name": "most_recent"})
    >>> policy.rule_for("custom.visits"), policy.rule_for("tier")
    (<Rule.SUM: 'sum'>, <Rule.HIGHEST: 'highest'>)
    >>> SurvivorshipPolicy(rules={"tags": "sum"})
    Traceback (most recent call last):
    ...
    crmcore.errors.ConfigurationError: invalid survivorship policy: tags: rule 'sum' does not ...

    Attributes:
        survivor: How the survivor is chosen (default: the oldest record).
        rules: A rule per field path, overriding the defaults.
        custom_default: The rule for custom fields and preferences not in ``rules``.
        source_priority: Source channels, best first, for ``SOURCE_PRIORITY``;
            unlisted channels rank last.
        stage_order: Lifecycle stages from first to furthest, for ``FURTHEST_STAGE``.
    """

    survivor: SurvivorRule = attrs.field(
        default=SurvivorRule.OLDEST, converter=SurvivorRule, metadata=INTERNAL
    )
    rules: tuple[FieldRule, ...] = attrs.field(
        default=(), converter=_field_rules, metadata=INTERNAL
    )
    custom_default: Rule = attrs.field(
        default=Rule.MOST_RECENT, converter=_custom_default, metadata=INTERNAL
    )
    source_priority: tuple[SourceChannel, ...] = attrs.field(
        default=(), converter=_sources, metadata=INTERNAL
    )
    stage_order: tuple[LifecycleStage, ...] = attrs.field(
        default=tuple(LifecycleStage), converter=_stages, metadata=INTERNAL
    )

    def rule_for(self, path: str) -> Rule:
        """Return the rule that decides ``path``.

        Args:
            path: A field path.

        Returns:
            The host's rule if it named one, else the default.

        Raises:
            ConfigurationError: If ``path`` names no mergeable field.
        """
        for item in self.rules:
            if item.field == path:
                return item.rule
        spec = _SPECS.get(path)
        if spec is not None:
            return spec.default
        field_kind(path)
        return self.custom_default


# -- reading and writing values by path ---------------------------------------------------


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
    profile = _PERSON if kind is CustomerKind.PERSON else _ORGANIZATION
    custom = sorted({f"custom.{k}" for c in people for k in c.custom})
    prefs = sorted({f"preferences.{k}" for c in people for k in c.preferences})
    return (*profile, *_COMMON, *custom, *prefs)


def value_of(customer: Customer, path: str) -> object:
    """Return the value of ``customer`` at ``path``.

    ``tier`` is the pair ``(tier, tier_reason)`` and ``owner`` the pair
    ``(owner, team)``; a missing custom field is :data:`ABSENT`.

    Args:
        customer: Any customer.
        path: A field path.

    Returns:
        The value.
    """
    head, _, tail = path.partition(".")
    if head == "person":
        return getattr(customer.person, tail, None)
    if head == "organization":
        return getattr(customer.organization, tail, None)
    if head == "points":
        return getattr(customer.points, tail)
    if head == "custom":
        return customer.custom.get(tail, ABSENT)
    if head == "preferences":
        return customer.preferences.get(tail, ABSENT)
    if path == "tier":
        return (customer.tier, customer.tier_reason)
    if path == "owner":
        return (customer.owner, customer.team)
    return getattr(customer, path)


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
    """
    nested: dict[str, dict[str, Any]] = {"person": {}, "organization": {}, "points": {}}
    top: dict[str, Any] = {}
    extra = {"custom": customer.custom.to_dict(), "preferences": customer.preferences.to_dict()}
    for path, value in values.items():
        head, _, tail = path.partition(".")
        if head in extra:
            if value is ABSENT:
                extra[head].pop(tail, None)
            else:
                extra[head][tail] = value  # type: ignore[assignment]  # values come from customers
        elif head in nested:
            nested[head][tail] = value
        elif path in _PAIRS:
            top.update(zip(_PAIRS[path], value, strict=True))  # type: ignore[call-overload]  # pairs
        else:
            top[path] = value
    for name, changes in nested.items():
        current = getattr(customer, name)
        if changes and current is not None:
            top[name] = attrs.evolve(current, **changes)
    return attrs.evolve(
        customer,
        custom=CustomFields(extra["custom"]),
        preferences=CustomFields(extra["preferences"]),
        **top,
    )


_PAIRS: Final = {"tier": ("tier", "tier_reason"), "owner": ("owner", "team")}


def _is_empty(value: object) -> bool:
    if value is ABSENT or value is None or value == "":
        return True
    if isinstance(value, tuple | frozenset) and not value:
        return True
    return value == (None, None)


def _completeness(value: object) -> tuple[int, int]:
    """Return (filled-in parts, text length) of a value."""
    if _is_empty(value):
        return (0, 0)
    if isinstance(value, str):
        return (1, len(value))
    if isinstance(value, tuple | list | frozenset):
        parts = [_completeness(v) for v in value]
        return (sum(p[0] for p in parts), sum(p[1] for p in parts))
    cls = type(value)
    if attrs.has(cls):
        parts = [_completeness(getattr(value, f.name)) for f in attrs.fields(cls)]
        return (sum(p[0] for p in parts), sum(p[1] for p in parts))
    if isinstance(value, bool | int | dt.date | enum.Enum):
        return (1, len(str(value)))
    return (1, 0)  # pragma: no cover - every field value is one of the above


# -- deciding -------------------------------------------------------------------------------


def _micros(at: dt.datetime) -> int:
    """Return a UTC timestamp as exact microseconds (pendulum arithmetic is slow)."""
    seconds = (at.toordinal() * 24 + at.hour) * 3600 + at.minute * 60 + at.second
    return seconds * 1_000_000 + at.microsecond


def _tie(customer: Customer, survivor_id: CustomerId) -> tuple[bool, str]:
    return (customer.id != survivor_id, customer.id)


def _newest_first(customer: Customer) -> int:
    return -_micros(customer.updated_at)


def _rank_key(
    rule: Rule, path: str, policy: SurvivorshipPolicy
) -> Callable[[Customer], tuple[Any, ...]]:
    """Return a sort key: the best candidate for ``rule`` sorts first."""
    if rule is Rule.OLDEST:
        return lambda c: (_micros(c.created_at),)
    if rule is Rule.MOST_COMPLETE:
        return lambda c: tuple(-x for x in _completeness(value_of(c, path)))
    if rule is Rule.SOURCE_PRIORITY:
        order = policy.source_priority
        return lambda c: (order.index(c.source) if c.source in order else len(order),)
    if rule is Rule.FURTHEST_STAGE:
        stages = policy.stage_order
        return lambda c: (-stages.index(c.lifecycle_stage) if c.lifecycle_stage in stages else 1,)
    if rule is Rule.HIGHEST:
        ranks = _RANKS[path]

        def highest(c: Customer) -> tuple[int]:
            value = value_of(c, path)
            key = value[0] if isinstance(value, tuple) else value
            return (-ranks.get(key, -99),)

        return highest
    return lambda _c: ()


def _best(
    candidates: Sequence[Customer],
    key: Callable[[Customer], tuple[Any, ...]],
    survivor_id: CustomerId,
) -> Customer:
    return min(candidates, key=lambda c: (*key(c), _newest_first(c), _tie(c, survivor_id)))


def choose_survivor(customers: Sequence[Customer], policy: SurvivorshipPolicy) -> Customer:
    """Return the customer that keeps its id, by ``policy.survivor``; ties to the smallest id.

    Args:
        customers: The duplicates (at least one).
        policy: The policy naming the survivor rule.

    Returns:
        The survivor.
    """
    rule = policy.survivor
    if rule is SurvivorRule.OLDEST:
        return min(customers, key=lambda c: (c.created_at, c.id))
    if rule is SurvivorRule.MOST_RECENT:
        return min(customers, key=lambda c: (_newest_first(c), c.id))
    if rule is SurvivorRule.MOST_COMPLETE:
        return min(
            customers,
            key=lambda c: (
                *(-x for x in _completeness([value_of(c, p) for p in field_paths([c])])),
                c.created_at,
                c.id,
            ),
        )
    order = policy.source_priority
    return min(
        customers,
        key=lambda c: (
            order.index(c.source) if c.source in order else len(order),
            c.created_at,
            c.id,
        ),
    )


def _keyed(path: str, value: object) -> dict[object, object]:
    if path == "external_ids" and isinstance(value, frozenset):
        return {e.system: e for e in sorted(value)}
    if path == "contacts" and isinstance(value, tuple):
        return {c.id: c for c in value}
    return {}  # pragma: no cover - only the two keyed paths reach here


def _clash_note(path: str, ordered: Sequence[Customer]) -> str:
    """Describe the values a keyed union could not keep on the survivor."""
    kept: dict[object, tuple[CustomerId, object]] = {}
    lost: list[str] = []
    for customer in ordered:
        for key, item in _keyed(path, value_of(customer, path)).items():
            if key not in kept:
                kept[key] = (customer.id, item)
            elif kept[key][1] != item:
                shown = str(item) if path == "external_ids" else f"contact {key}"
                lost.append(f"{shown} of {customer.id} (kept {kept[key][0]}'s)")
    if not lost:
        return ""
    return "stays on the merged record only: " + ", ".join(lost)


def _check_combinable(path: str, rule: Rule, values: Sequence[object]) -> None:
    present = [v for v in values if v is not ABSENT]
    if rule is Rule.SUM:
        bad = [v for v in present if isinstance(v, bool) or not isinstance(v, int)]
        if bad:
            raise InvalidValueError(path, bad, "the sum rule needs integer values")
    if rule is Rule.UNION:
        bad = [v for v in present if not isinstance(v, tuple)]
        if bad:
            raise InvalidValueError(path, bad, "the union rule needs multi-choice (list) values")


def decide(
    path: str,
    customers: Sequence[Customer],
    *,
    survivor_id: CustomerId,
    policy: SurvivorshipPolicy,
) -> FieldDecision:
    """Decide where the merged value of ``path`` comes from.

    Args:
        path: The field path.
        customers: Every customer of the merge, survivor included.
        survivor_id: The survivor's id.
        policy: The survivorship policy.

    Returns:
        The decision: the rule, the source customer and the contributors.

    Raises:
        InvalidValueError: If a ``SUM`` field holds a non-integer or a ``UNION``
            custom field a non-list value.
        ConfigurationError: If ``path`` names no mergeable field.
    """
    rule = policy.rule_for(path)
    ordered = sorted(customers, key=lambda c: c.id)
    candidates = [c for c in ordered if not _is_empty(value_of(c, path))]
    contributors = tuple(c.id for c in candidates)
    survivor = next(c for c in ordered if c.id == survivor_id)
    kind = field_kind(path)
    if rule is Rule.SURVIVOR:
        return FieldDecision(
            field=path, rule=rule, source_id=survivor_id, contributors=contributors
        )
    if not candidates:
        return FieldDecision(field=path, rule=rule)
    if rule in (Rule.UNION, Rule.SUM) and kind in (FieldKind.SET, FieldKind.CUSTOM):
        if kind is FieldKind.CUSTOM:
            _check_combinable(path, rule, [value_of(c, path) for c in candidates])
        return FieldDecision(field=path, rule=rule, contributors=contributors)
    if rule is Rule.UNION and kind is FieldKind.KEYED:
        lead = survivor if survivor in candidates else candidates[0]
        rest = [c for c in candidates if c is not lead]
        return FieldDecision(
            field=path,
            rule=rule,
            source_id=lead.id,
            contributors=contributors,
            note=_clash_note(path, [lead, *rest]),
        )
    if rule is Rule.KEEP_BOTH_AS_SECONDARY and survivor in candidates:
        lead = survivor
    elif rule in (Rule.UNION, Rule.KEEP_BOTH_AS_SECONDARY):
        lead = _best(candidates, _rank_key(Rule.MOST_RECENT, path, policy), survivor_id)
    else:
        lead = _best(candidates, _rank_key(rule, path, policy), survivor_id)
    return FieldDecision(field=path, rule=rule, source_id=lead.id, contributors=contributors)


# -- computing the decided value ---------------------------------------------------------------

_Point = EmailContact | PhoneContact | AddressContact


def _union_points(values: Sequence[object]) -> tuple[_Point, ...]:
    """Keep every point once (the first holder's kind); the first collection's primary leads."""
    kept: dict[object, _Point] = {}
    primary: object = None
    for value in values:
        points: tuple[_Point, ...] = value  # type: ignore[assignment]  # a points collection
        for point in points:
            kept.setdefault(point.value, point)
            if primary is None and point.primary:
                primary = point.value
    return tuple(
        p if p.primary == (v == primary) else attrs.evolve(p, primary=v == primary)
        for v, p in kept.items()
    )


def _union_keyed(path: str, values: Sequence[object]) -> object:
    kept: dict[object, object] = {}
    for value in values:
        for key, item in _keyed(path, value).items():
            kept.setdefault(key, item)
    if path == "external_ids":
        return frozenset(kept.values())
    contacts: list[Contact] = []
    seen_primary = False
    for item in kept.values():
        contact: Contact = item  # type: ignore[assignment]  # contacts by id
        if contact.primary and seen_primary:
            contact = attrs.evolve(contact, primary=False)
        seen_primary = seen_primary or contact.primary
        contacts.append(contact)
    return tuple(contacts)


def decided_value(
    decision: FieldDecision,
    customers: Mapping[CustomerId, Customer],
    *,
    survivor_id: CustomerId,
) -> object:
    """Return the merged value of ``decision.field``.

    Picking rules return the source's value (the survivor's when there was
    no source); combining rules combine the contributors' values, the
    source's first, then the survivor's, then the others by id.

    Args:
        decision: The decision (from :func:`decide` or chosen by hand).
        customers: Every customer of the merge by id.
        survivor_id: The survivor, whose (empty) value is kept when no customer
            had one.

    Returns:
        The value, as :func:`value_of` returns it.
    """
    path, rule = decision.field, decision.rule
    combining = rule in (Rule.UNION, Rule.KEEP_BOTH_AS_SECONDARY, Rule.SUM)
    if not combining or not decision.contributors:
        return value_of(customers[decision.source_id or survivor_id], path)
    lead = [decision.source_id] if decision.source_id is not None else []
    order = list(dict.fromkeys([*lead, *sorted(decision.contributors)]))
    values = [value_of(customers[c], path) for c in order]
    kind = field_kind(path)
    if kind is FieldKind.POINTS:
        return _union_points(values)
    if kind is FieldKind.KEYED:
        return _union_keyed(path, values)
    if kind is FieldKind.SET:
        tags: frozenset[Tag] = frozenset().union(*values)  # type: ignore[arg-type]  # tag sets
        return tags
    present = [v for v in values if v is not ABSENT]
    if rule is Rule.SUM:
        return sum(v for v in present if isinstance(v, int))
    union: set[str] = set()
    for v in present:
        union.update(v)  # type: ignore[arg-type]  # checked by decide
    result: CustomValue = tuple(sorted(union))
    return result
