"""Survivorship (取值规则): which value of which duplicate the merged customer keeps.

:class:`SurvivorshipPolicy` is the data a host tunes: a rule per field path,
the rule for custom fields and preferences, how the survivor is chosen, the
ranking of source channels and of lifecycle stages. The functions below
choose the survivor (:func:`choose_survivor`), decide each field
(:func:`decide`) and compute the decided value (:func:`decided_value`);
:mod:`crmcore.merge.plan` puts them together.

Field paths and how each is read, written and combined are the table of
:mod:`crmcore.merge.fields`.

Every choice is deterministic: ties fall to the most recently updated
customer, then to the survivor, then to the smallest id.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.merge``; attrs.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import attrs

from crmcore.domain.classification import INTERNAL
from crmcore.domain.contact import AddressContact, EmailContact, PhoneContact
from crmcore.domain.custom import CustomValue
from crmcore.domain.customer import Customer, LifecycleStage, SourceChannel
from crmcore.domain.ids import CustomerId
from crmcore.domain.party import Contact
from crmcore.errors import ConfigurationError, InvalidValueError
from crmcore.merge.fields import (
    ABSENT,
    ALLOWED_BY_KIND,
    MergeField,
    MergeFieldKind,
    blank,
    field_paths,
    merge_field,
    value_of,
)
from crmcore.merge.record import FieldDecision
from crmcore.merge.rule import SurvivorRule, SurvivorshipRule

__all__ = [
    "FieldRule",
    "SurvivorshipPolicy",
    "choose_survivor",
    "decide",
    "decided_value",
]


@attrs.frozen
class FieldRule:
    """The rule for one field path, as a host writes it in a policy."""

    field: str = attrs.field(metadata=INTERNAL)
    rule: SurvivorshipRule = attrs.field(converter=SurvivorshipRule, metadata=INTERNAL)


def _field_rules(
    value: Mapping[str, SurvivorshipRule | str] | Iterable[FieldRule],
) -> tuple[FieldRule, ...]:
    items = (
        [FieldRule(k, SurvivorshipRule(v)) for k, v in value.items()]
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
            allowed = merge_field(item.field).allowed
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


def _custom_default(value: SurvivorshipRule | str) -> SurvivorshipRule:
    rule = SurvivorshipRule(value)
    if rule not in ALLOWED_BY_KIND[MergeFieldKind.CUSTOM]:
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
    (<SurvivorshipRule.SUM: 'sum'>, <SurvivorshipRule.HIGHEST: 'highest'>)
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
    custom_default: SurvivorshipRule = attrs.field(
        default=SurvivorshipRule.MOST_RECENT, converter=_custom_default, metadata=INTERNAL
    )
    source_priority: tuple[SourceChannel, ...] = attrs.field(
        default=(), converter=_sources, metadata=INTERNAL
    )
    stage_order: tuple[LifecycleStage, ...] = attrs.field(
        default=tuple(LifecycleStage), converter=_stages, metadata=INTERNAL
    )

    def rule_for(self, path: str) -> SurvivorshipRule:
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
        default = merge_field(path).default
        return self.custom_default if default is None else default


def _completeness(value: object) -> tuple[int, int]:
    """Return (filled-in parts, text length) of a value."""
    if blank(value):
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
    rule: SurvivorshipRule, field: MergeField, policy: SurvivorshipPolicy
) -> Callable[[Customer], tuple[Any, ...]]:
    """Return a sort key: the best candidate for ``rule`` sorts first."""
    get = field.get
    if rule is SurvivorshipRule.OLDEST:
        return lambda c: (_micros(c.created_at),)
    if rule is SurvivorshipRule.MOST_COMPLETE:
        return lambda c: tuple(-x for x in _completeness(get(c)))
    if rule is SurvivorshipRule.SOURCE_PRIORITY:
        order = policy.source_priority
        return lambda c: (order.index(c.source) if c.source in order else len(order),)
    if rule is SurvivorshipRule.FURTHEST_STAGE:
        stages = policy.stage_order
        return lambda c: (-stages.index(c.lifecycle_stage) if c.lifecycle_stage in stages else 1,)
    if rule is SurvivorshipRule.HIGHEST:
        ranks = field.ranks

        def highest(c: Customer) -> tuple[int]:
            value = get(c)
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


def _clash_note(field: MergeField, ordered: Sequence[Customer]) -> str:
    """Describe the values a keyed union could not keep on the survivor."""
    kept: dict[object, tuple[CustomerId, object]] = {}
    lost: list[str] = []
    for customer in ordered:
        for key, item in field.items(field.get(customer)).items():
            if key not in kept:
                kept[key] = (customer.id, item)
            elif kept[key][1] != item:
                lost.append(f"{field.describe(key, item)} of {customer.id} (kept {kept[key][0]}'s)")
    if not lost:
        return ""
    return "stays on the merged record only: " + ", ".join(lost)


def _check_combinable(path: str, rule: SurvivorshipRule, values: Sequence[object]) -> None:
    present = [v for v in values if v is not ABSENT]
    if rule is SurvivorshipRule.SUM:
        bad = [v for v in present if isinstance(v, bool) or not isinstance(v, int)]
        if bad:
            raise InvalidValueError(path, bad, "the sum rule needs integer values")
    if rule is SurvivorshipRule.UNION:
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
    field = merge_field(path)
    rule = policy.rule_for(path)
    ordered = sorted(customers, key=lambda c: c.id)
    candidates = [c for c in ordered if not field.is_empty(field.get(c))]
    contributors = tuple(c.id for c in candidates)
    survivor = next(c for c in ordered if c.id == survivor_id)
    kind = field.kind
    if rule is SurvivorshipRule.SURVIVOR:
        return FieldDecision(
            field=path, rule=rule, source_id=survivor_id, contributors=contributors
        )
    if not candidates:
        return FieldDecision(field=path, rule=rule)
    if rule in (SurvivorshipRule.UNION, SurvivorshipRule.SUM) and kind in (
        MergeFieldKind.SET,
        MergeFieldKind.CUSTOM,
    ):
        if kind is MergeFieldKind.CUSTOM:
            _check_combinable(path, rule, [field.get(c) for c in candidates])
        return FieldDecision(field=path, rule=rule, contributors=contributors)
    if rule is SurvivorshipRule.UNION and kind is MergeFieldKind.KEYED:
        lead = survivor if survivor in candidates else candidates[0]
        rest = [c for c in candidates if c is not lead]
        return FieldDecision(
            field=path,
            rule=rule,
            source_id=lead.id,
            contributors=contributors,
            note=_clash_note(field, [lead, *rest]),
        )
    if rule is SurvivorshipRule.KEEP_BOTH_AS_SECONDARY and survivor in candidates:
        lead = survivor
    elif rule in (SurvivorshipRule.UNION, SurvivorshipRule.KEEP_BOTH_AS_SECONDARY):
        lead = _best(
            candidates, _rank_key(SurvivorshipRule.MOST_RECENT, field, policy), survivor_id
        )
    else:
        lead = _best(candidates, _rank_key(rule, field, policy), survivor_id)
    return FieldDecision(field=path, rule=rule, source_id=lead.id, contributors=contributors)


# -- computing the decided value ---------------------------------------------------------------

_Point = EmailContact | PhoneContact | AddressContact


def _union_points(field: MergeField, values: Sequence[object]) -> object:
    """Keep every point once (the first holder's kind); the first collection's primary leads."""
    kept: dict[object, _Point] = {}
    primary: object = None
    for value in values:
        for key, item in field.items(value).items():
            point = cast(_Point, item)
            kept.setdefault(key, point)
            if primary is None and point.primary:
                primary = key
    return field.container(
        p if p.primary == (k == primary) else attrs.evolve(p, primary=k == primary)
        for k, p in kept.items()
    )


def _one_primary(items: Iterable[object]) -> list[object]:
    """Keep the first primary contact primary; later ones become secondary."""
    result: list[object] = []
    seen_primary = False
    for item in items:
        kept = item
        if isinstance(item, Contact):
            if item.primary and seen_primary:
                kept = attrs.evolve(item, primary=False)
            seen_primary = seen_primary or item.primary
        result.append(kept)
    return result


def _union_keyed(field: MergeField, values: Sequence[object]) -> object:
    """Keep every item once by key, the first holder's; at most one primary contact."""
    kept: dict[object, object] = {}
    for value in values:
        for key, item in field.items(value).items():
            kept.setdefault(key, item)
    return field.container(_one_primary(kept.values()))


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
    field = merge_field(path)
    combining = rule in (
        SurvivorshipRule.UNION,
        SurvivorshipRule.KEEP_BOTH_AS_SECONDARY,
        SurvivorshipRule.SUM,
    )
    if not combining or not decision.contributors:
        return field.get(customers[decision.source_id or survivor_id])
    lead = [decision.source_id] if decision.source_id is not None else []
    order = list(dict.fromkeys([*lead, *sorted(decision.contributors)]))
    values = [field.get(customers[c]) for c in order]
    kind = field.kind
    if kind is MergeFieldKind.POINTS:
        return _union_points(field, values)
    if kind is MergeFieldKind.KEYED:
        return _union_keyed(field, values)
    if kind is MergeFieldKind.SET:
        return field.container(item for value in values for item in field.items(value))
    present = [v for v in values if v is not ABSENT]
    if rule is SurvivorshipRule.SUM:
        return sum(v for v in present if isinstance(v, int))
    union: set[str] = set()
    for v in present:
        union.update(cast(tuple[str, ...], v))  # multi-choice values, checked by decide
    result: CustomValue = tuple(sorted(union))
    return result
