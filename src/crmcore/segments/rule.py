"""The segment rule AST: small frozen nodes that a frontend can store as JSON.

A rule is a tree of :data:`Rule` nodes: field comparisons (:class:`Compare`
on built-in customer fields, :class:`CustomCompare` on host-defined custom
fields), tags (:class:`HasTag`), time windows on timestamps
(:class:`InWindow`), aggregates over related records (:class:`OrderCount`,
:class:`OrderTotal`, :class:`OrderAverage`, :class:`LastOrder`,
:class:`ActivityCount`, :class:`LastActivity`, :class:`LatestSurveyScore`)
and the connectives :class:`And`, :class:`Or`, :class:`Not`.

Every node validates itself when built, so a rule that exists is a rule
every backend (memory, SQL, polars) can run with the same answer.

Semantics shared by every backend:

- **Missing values.** A comparison on a missing value (no owner, a custom
  field that is absent or holds a value of another type) is false — for
  ``ne`` and ``not_in`` too. Only ``is_empty`` is true for a missing value.
  ``Not`` is plain boolean negation, so ``~(field("owner") == "u1")``
  includes customers without an owner while ``field("owner") != "u1"`` does
  not.
- **Text** compares by Unicode code point and case-sensitively; ``contains``
  and ``starts_with`` are literal; ``matches`` searches with a portable
  regular-expression subset (see :func:`check_pattern`).
- **Related records** count "as of ``at``": orders, activities and survey
  answers dated after ``at`` are ignored. Only paid orders count as
  purchases; money aggregates only look at orders in the rule's currency.
- **Windows** are resolved against ``at`` in the evaluation time zone (see
  :mod:`crmcore.segments.window`).
- **Limits.** Values are checked against what every database holds when
  a node is built: counts and scores from 0 to :data:`MAX_COUNT`, amounts
  below 10**14 with at most 6 decimals (``NUMERIC(20, 6)``), custom integers
  within ±:data:`MAX_CUSTOM_INTEGER`, custom decimals below 10**26 with at
  most 12 decimals, and text without NUL or lone surrogates. A whole rule
  has at most :data:`MAX_RULE_DEPTH` levels and :data:`MAX_RULE_NODES`
  nodes (:func:`check_rule_limits`, run by every backend's entry point).

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final, TypeAlias, Union, cast, get_args

import attrs

from crmcore.clock import parse_timestamp, utc
from crmcore.domain.activity import ActivityKind
from crmcore.domain.consent import ConsentChannel
from crmcore.domain.custom import FieldType
from crmcore.domain.customer import CustomerKind, LifecycleStage, Priority, SourceChannel, Tier
from crmcore.domain.entity import require_text
from crmcore.domain.values import Tag
from crmcore.errors import CrmError, InvalidValueError
from crmcore.segments.pattern import check_pattern as pattern_check
from crmcore.segments.window import WINDOW_TYPES, Window

__all__ = [
    "FIELDS",
    "MAX_AMOUNT",
    "MAX_COUNT",
    "MAX_CUSTOM_DECIMAL",
    "MAX_CUSTOM_INTEGER",
    "MAX_RULE_DEPTH",
    "MAX_RULE_NODES",
    "ActivityCount",
    "And",
    "Compare",
    "CustomCompare",
    "FieldKind",
    "FieldSpec",
    "HasConsent",
    "HasTag",
    "InWindow",
    "LastActivity",
    "LastOrder",
    "LatestSurveyScore",
    "Not",
    "Op",
    "Or",
    "OrderAverage",
    "OrderCount",
    "OrderTotal",
    "Rule",
    "Scalar",
    "SurveyMetric",
    "UnsupportedRuleError",
    "Value",
    "check_pattern",
    "check_rule_limits",
    "check_text",
    "walk",
]

Scalar: TypeAlias = str | int | bool
"""A JSON-native scalar rule value."""
Value: TypeAlias = Scalar | tuple[Scalar, ...] | None
"""The value of a comparison: a scalar, a tuple of scalars (``in``) or ``None`` (``is_empty``)."""

MAX_COUNT: Final = 2**31 - 1
"""The largest count or score a rule compares with (a 32-bit ``INTEGER`` everywhere)."""
MAX_AMOUNT: Final = Decimal(10) ** 14
"""Amounts lie strictly within ±10**14 with at most 6 decimals: ``NUMERIC(20, 6)``."""
MAX_CUSTOM_INTEGER: Final = 2**53 - 1
"""Custom integer values lie within ±(2**53 - 1): exact in JSON, SQLite, PostgreSQL, MariaDB."""
MAX_CUSTOM_DECIMAL: Final = Decimal(10) ** 26
"""Custom decimal values lie strictly within ±10**26 with at most 12 decimals."""
MAX_RULE_DEPTH: Final = 32
"""The most levels a rule tree may have (a leaf alone is 1; SQLite's parser stack is small)."""
MAX_RULE_NODES: Final = 1000
"""The most nodes a rule tree may have, connectives included.

Memory and polars run far wider rules in bounded memory, but SQL compilation costs about
a millisecond per condition (a 10,000-condition rule took 25-100 s on SQLite), so every
backend refuses more than this before any work.
"""


class UnsupportedRuleError(CrmError, ValueError):
    """A backend cannot run a rule node (raised when the rule is compiled, never later).

    Attributes:
        backend: The backend that was asked (``"sqlite"``, ``"polars"`` ...).
        node: The node type it cannot compile.
        reason: Why.
    """

    def __init__(self, backend: str, node: str, reason: str) -> None:
        self.backend = backend
        self.node = node
        self.reason = reason
        super().__init__(f"{backend} cannot compile {node}: {reason}")

    def __reduce__(self) -> tuple[type[UnsupportedRuleError], tuple[str, str, str]]:
        return (type(self), (self.backend, self.node, self.reason))


class Op(enum.StrEnum):
    """A comparison operator."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    MATCHES = "matches"
    IS_EMPTY = "is_empty"


ORDERING = frozenset({Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE})
"""The operators every ordered value supports."""
SYMBOLS: Mapping[Op, str] = {
    Op.EQ: "=",
    Op.NE: "≠",
    Op.LT: "<",
    Op.LE: "≤",
    Op.GT: ">",
    Op.GE: "≥",
    Op.IN: "in",
    Op.NOT_IN: "not in",
    Op.CONTAINS: "contains",
    Op.STARTS_WITH: "starts with",
    Op.MATCHES: "matches",
    Op.IS_EMPTY: "is empty",
}
"""How each operator reads in an explanation."""


class FieldKind(enum.StrEnum):
    """What kind of value a built-in customer field holds."""

    ENUM = "enum"
    TEXT = "text"
    DATETIME = "datetime"


@attrs.frozen
class FieldSpec:
    """A built-in customer field a rule can compare."""

    name: str
    kind: FieldKind
    nullable: bool = False
    choices: tuple[str, ...] = ()

    @property
    def ops(self) -> frozenset[Op]:
        """The operators this field supports."""
        if self.kind is FieldKind.ENUM:
            base = {Op.EQ, Op.NE, Op.IN, Op.NOT_IN}
        elif self.kind is FieldKind.DATETIME:
            base = set(ORDERING)
        else:
            base = set(Op) - {Op.IS_EMPTY}
        if self.nullable or self.kind is FieldKind.TEXT:
            base.add(Op.IS_EMPTY)
        return frozenset(base)


def _enum_spec(name: str, cls: type[enum.StrEnum]) -> FieldSpec:
    return FieldSpec(name, FieldKind.ENUM, choices=tuple(m.value for m in cls))


FIELDS: Mapping[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("id", FieldKind.TEXT),
        _enum_spec("kind", CustomerKind),
        FieldSpec("display_name", FieldKind.TEXT),
        _enum_spec("tier", Tier),
        _enum_spec("priority", Priority),
        _enum_spec("lifecycle_stage", LifecycleStage),
        _enum_spec("source", SourceChannel),
        FieldSpec("owner", FieldKind.TEXT, nullable=True),
        FieldSpec("team", FieldKind.TEXT, nullable=True),
        FieldSpec("country", FieldKind.TEXT, nullable=True),
        FieldSpec("merged_into", FieldKind.TEXT, nullable=True),
        FieldSpec("created_at", FieldKind.DATETIME),
        FieldSpec("updated_at", FieldKind.DATETIME),
    )
}
"""Every built-in customer field a rule can use, by name."""

CUSTOM_OPS: Mapping[FieldType, frozenset[Op]] = {
    FieldType.TEXT: frozenset(Op),
    FieldType.CHOICE: frozenset(Op),
    FieldType.DATE: ORDERING | {Op.IN, Op.NOT_IN, Op.IS_EMPTY},
    FieldType.DATETIME: ORDERING | {Op.IS_EMPTY},
    FieldType.INTEGER: ORDERING | {Op.IN, Op.NOT_IN, Op.IS_EMPTY},
    FieldType.DECIMAL: ORDERING | {Op.IS_EMPTY},
    FieldType.BOOLEAN: frozenset({Op.EQ, Op.NE, Op.IS_EMPTY}),
    FieldType.MULTI_CHOICE: frozenset({Op.CONTAINS, Op.IS_EMPTY}),
}
"""The operators each custom field type supports."""

DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
"""The canonical text of a decimal custom field value."""
_CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def check_pattern(pattern: str) -> str:
    r"""Return ``pattern`` if it is in the regular-expression dialect of segment rules.

    The dialect, its limits and its meaning on every backend are those of
    :mod:`crmcore.segments.pattern`.

    Args:
        pattern: The regular expression.

    Returns:
        The pattern, unchanged.

    Raises:
        InvalidValueError: If it is empty, too long or outside the dialect.

    >>> check_pattern("^13[0-9]{9}$")
    '^13[0-9]{9}$'
    >>> check_pattern(r"\d+")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid pattern '\\d+': at 1: ...
    """
    return pattern_check(pattern)


_UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")


def check_text(value: str, where: str) -> str:
    r"""Return ``value`` if every database can bind it: no NUL and no lone surrogate.

    PostgreSQL refuses NUL in text and no database driver encodes a lone
    surrogate (``"\ud800"``) as UTF-8.

    Args:
        value: The text.
        where: What the text is, for the message (``"owner value"``).

    Returns:
        The text, unchanged.

    Raises:
        InvalidValueError: If it contains NUL or a lone surrogate.

    >>> check_text("张伟", "display_name value")
    '张伟'
    >>> check_text("a\x00b", "owner value")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid owner value 'a\x00b': contains NUL; ...
    """
    found = _UNSTORABLE.search(value)
    if found is not None:
        what = (
            "NUL" if found.group() == "\x00" else f"the lone surrogate U+{ord(found.group()):04X}"
        )
        raise InvalidValueError(where, value, f"contains {what}; no database can store it")
    return value


class _Connectives:
    """``&``, ``|`` and ``~`` on every rule node."""

    __slots__ = ()

    def __and__(self, other: Rule) -> And:
        return And((*_flat(self, And), *_flat(other, And)))

    def __or__(self, other: Rule) -> Or:
        return Or((*_flat(self, Or), *_flat(other, Or)))

    def __invert__(self) -> Not:
        return Not(self)  # type: ignore[arg-type]  # every subclass is a Rule member


def _flat(node: object, cls: type[And] | type[Or]) -> tuple[Rule, ...]:
    if not isinstance(node, RULE_TYPES):
        raise InvalidValueError("rule", node, "expected a segment rule node")
    if isinstance(node, cls):
        return node.rules
    return (cast(Rule, node),)


# --------------------------------------------------------------------------- values


def _scalar(value: object, where: str) -> Scalar:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool | int | str):
        return value
    raise InvalidValueError(where, value, "expected a string, integer or boolean")


def _canonical_timestamp(value: object, where: str) -> str:
    if isinstance(value, dt.datetime):
        return utc(value).isoformat()
    if isinstance(value, str):
        return parse_timestamp(value).isoformat()
    raise InvalidValueError(where, value, "expected an ISO 8601 timestamp with offset")


def _canonical_date(value: object, where: str) -> str:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise InvalidValueError(where, value, "no such date") from exc
    raise InvalidValueError(where, value, "expected a date YYYY-MM-DD")


def _canonical_decimal(value: object, where: str) -> str:
    if isinstance(value, bool | float):
        raise InvalidValueError(where, value, "decimals are strings or integers, never floats")
    text = str(value).strip() if isinstance(value, int | str | Decimal) else None
    if text is None:
        raise InvalidValueError(where, value, "expected a decimal number")
    try:
        number = Decimal(text)
    except ArithmeticError as exc:
        raise InvalidValueError(where, value, "expected a decimal number") from exc
    if not number.is_finite():
        raise InvalidValueError(where, value, "must be finite")
    decimals = -cast(int, number.normalize().as_tuple().exponent)  # an int: the number is finite
    if abs(number) >= MAX_CUSTOM_DECIMAL or decimals > 12:  # NUMERIC(38, 12)
        raise InvalidValueError(where, value, "must lie within ±10**26 with at most 12 decimals")
    canonical = format(number.normalize(), "f")
    return "0" if canonical in ("-0", "0") else canonical


def _one(
    kind: FieldKind | FieldType, value: object, where: str, choices: tuple[str, ...]
) -> Scalar:
    """Return one comparison value in canonical form for a field of ``kind``."""
    if kind in (FieldKind.DATETIME, FieldType.DATETIME):
        return _canonical_timestamp(value, where)
    if kind is FieldType.DATE:
        return _canonical_date(value, where)
    if kind is FieldType.DECIMAL:
        return _canonical_decimal(value, where)
    scalar = _scalar(value, where)
    if kind is FieldType.BOOLEAN:
        if not isinstance(scalar, bool):
            raise InvalidValueError(where, value, "expected true or false")
        return scalar
    if kind is FieldType.INTEGER:
        if isinstance(scalar, bool) or not isinstance(scalar, int):
            raise InvalidValueError(where, value, "expected an integer")
        if abs(scalar) > MAX_CUSTOM_INTEGER:
            raise InvalidValueError(
                where, value, f"must lie within ±{MAX_CUSTOM_INTEGER} (2**53 - 1)"
            )
        return scalar
    if not isinstance(scalar, str):
        raise InvalidValueError(where, value, "expected a string")
    if kind is FieldKind.ENUM and scalar not in choices:
        raise InvalidValueError(where, value, f"not one of {list(choices)}")
    return check_text(scalar, where)


def _canonical_value(
    op: Op, value: object, kind: FieldKind | FieldType, where: str, choices: tuple[str, ...] = ()
) -> Value:
    if op is Op.IS_EMPTY:
        if value is not None:
            raise InvalidValueError(where, value, "is_empty takes no value")
        return None
    if op in (Op.IN, Op.NOT_IN):
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise InvalidValueError(where, value, f"{op} takes a list of values")
        items = tuple(dict.fromkeys(_one(kind, v, where, choices) for v in value))
        if not items:
            raise InvalidValueError(where, value, f"{op} needs at least one value")
        return items
    if op is Op.MATCHES:
        if not isinstance(value, str):
            raise InvalidValueError(where, value, "matches takes a pattern string")
        return check_pattern(value)
    if op in (Op.CONTAINS, Op.STARTS_WITH):
        if not isinstance(value, str):
            raise InvalidValueError(where, value, f"{op} takes a string")
        return check_text(value, where)
    return _one(kind, value, where, choices)


def _compare_value(value: object, instance: attrs.AttrsInstance) -> Value:
    """Canonicalise a comparison's value by its field and operator.

    Runs as an attrs converter taking the instance (for ``__init__``,
    ``evolve`` and cattrs alike), after ``field`` and ``op`` are set and
    before validators run: an operator the field does not support is left
    to the ``op`` validator to report.
    """
    self_ = cast(Compare, instance)
    spec = FIELDS[self_.field]
    if self_.op not in spec.ops:
        return cast(Value, value)
    return _canonical_value(self_.op, value, spec.kind, f"{self_.field} value", spec.choices)


def _custom_value(value: object, instance: attrs.AttrsInstance) -> Value:
    """Canonicalise a custom comparison's value by its type and operator; see Compare."""
    self_ = cast(CustomCompare, instance)
    if self_.op not in CUSTOM_OPS[self_.field_type]:
        return cast(Value, value)
    return _canonical_value(self_.op, value, self_.field_type, f"custom field {self_.name} value")


def _known_field(value: str) -> str:
    if not isinstance(value, str) or value not in FIELDS:
        raise InvalidValueError("field", value, f"not one of {sorted(FIELDS)}")
    return value


def _field_op(instance: Compare, _: attrs.Attribute[Op], value: Op) -> None:
    spec = FIELDS.get(instance.field)
    if spec is not None and value not in spec.ops:
        raise InvalidValueError(
            "op", value.value, f"{instance.field} supports {sorted(o.value for o in spec.ops)}"
        )


def _custom_name(value: str) -> str:
    if not isinstance(value, str) or not _CUSTOM_NAME.fullmatch(value):
        raise InvalidValueError(
            "custom field name", value, "use 1-63 lower-case letters, digits or _"
        )
    return value


def _custom_op(instance: CustomCompare, _: attrs.Attribute[Op], value: Op) -> None:
    allowed = CUSTOM_OPS[instance.field_type]
    if value not in allowed:
        raise InvalidValueError(
            "op",
            value.value,
            f"a {instance.field_type} custom field supports {sorted(o.value for o in allowed)}",
        )


def _numeric_op(_instance: object, _: attrs.Attribute[Op], value: Op) -> None:
    if value not in ORDERING:
        raise InvalidValueError("op", value.value, "aggregates compare with eq ne lt le gt ge")


def _count(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InvalidValueError(
            "count", value, f"an integer from 0 to {MAX_COUNT} (2**31 - 1) is required"
        )
    return value


def _score(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InvalidValueError(
            "survey score", value, f"an integer from 0 to {MAX_COUNT} (2**31 - 1) is required"
        )
    return value


def _amount(value: Decimal | int | str) -> Decimal:
    if isinstance(value, bool | float):
        raise InvalidValueError("amount", value, "amounts are strings, integers or Decimal")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (ArithmeticError, ValueError) as exc:
        raise InvalidValueError("amount", value, "not a decimal number") from exc
    if not number.is_finite() or number.as_tuple().exponent < -6:  # type: ignore[operator]  # finite
        raise InvalidValueError("amount", value, "a finite amount with at most 6 decimals")
    if abs(number) >= MAX_AMOUNT:
        raise InvalidValueError(
            "amount", value, "at most 14 integer digits (below 10**14, as NUMERIC(20, 6) holds)"
        )
    return number


def _currency(value: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
        raise InvalidValueError("currency", value, "an ISO 4217 code is required")
    return value.upper()


def _tag(value: str | Tag) -> str:
    return value.name if isinstance(value, Tag) else Tag(value).name


def _kinds(value: Iterable[ActivityKind | str]) -> tuple[ActivityKind, ...]:
    if isinstance(value, str):
        value = (value,)
    return tuple(sorted({ActivityKind(v) for v in value}))


def _rules(value: Iterable[Rule]) -> tuple[Rule, ...]:
    items = tuple(value)
    for item in items:
        if not isinstance(item, RULE_TYPES):
            raise InvalidValueError("rule", item, "expected a segment rule node")
    return items


def _rule(value: Rule) -> Rule:
    if not isinstance(value, RULE_TYPES):
        raise InvalidValueError("rule", value, "expected a segment rule node")
    return cast(Rule, value)


def _window(value: Window) -> Window:
    if not isinstance(value, WINDOW_TYPES):
        raise InvalidValueError("window", value, "expected a time window")
    return cast(Window, value)


def _optional_window(value: Window | None) -> Window | None:
    return None if value is None else _window(value)


# --------------------------------------------------------------------------- nodes


@attrs.frozen
class Compare(_Connectives):
    """A built-in customer field compared with a value: ``tier = vip``, ``owner in (…)``.

    See :data:`FIELDS` for the fields and the operators each supports.
    Timestamps are given as aware datetimes or ISO 8601 strings with an
    offset and kept as canonical UTC ISO strings.

    >>> Compare("tier", Op.EQ, "vip")
    Compare(field='tier', op=<Op.EQ: 'eq'>, value='vip')
    >>> Compare("tier", Op.EQ, "gold")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid tier value 'gold': not one of [...]
    """

    field: str = attrs.field(converter=_known_field)
    op: Op = attrs.field(converter=Op, validator=_field_op)
    # The canonical form depends on the field and operator: the converter takes the instance.
    value: Value = attrs.field(
        default=None,
        converter=attrs.Converter(_compare_value, takes_self=True),  # type: ignore[misc]  # mypy's attrs plugin
    )


@attrs.frozen
class CustomCompare(_Connectives):
    """A host-defined custom field compared with a value, typed by the host's schema.

    The field type decides how values compare: numbers numerically, text,
    dates and timestamps as canonical text, multi-choice by membership
    (``contains``). A value of another type than ``field_type`` counts as
    missing.

    >>> CustomCompare("budget", FieldType.DECIMAL, Op.GT, "1000.50").value
    '1000.5'
    """

    name: str = attrs.field(converter=_custom_name)
    field_type: FieldType = attrs.field(converter=FieldType)
    op: Op = attrs.field(converter=Op, validator=_custom_op)
    # The canonical form depends on the type and operator; see Compare.
    value: Value = attrs.field(
        default=None,
        converter=attrs.Converter(_custom_value, takes_self=True),  # type: ignore[misc]  # mypy's attrs plugin
    )


def _datetime_field(_instance: InWindow, _: attrs.Attribute[str], value: str) -> None:
    spec = FIELDS.get(value)
    if spec is None or spec.kind is not FieldKind.DATETIME:
        datetimes = sorted(n for n, s in FIELDS.items() if s.kind is FieldKind.DATETIME)
        raise InvalidValueError("field", value, f"windows apply to {datetimes}")


@attrs.frozen
class InWindow(_Connectives):
    """A built-in timestamp field falls in a time window: ``created_at`` within 30 days."""

    field: str = attrs.field(validator=_datetime_field)
    window: Window = attrs.field(converter=_window)


@attrs.frozen
class HasTag(_Connectives):
    """The customer carries a tag (compared in canonical, case-folded form).

    >>> HasTag(" VIP ")
    HasTag(tag='vip')
    """

    tag: str = attrs.field(converter=_tag)


def _consent_purpose(value: str) -> str:
    text = require_text("purpose", value, max_length=100).lower()
    if not text:
        raise InvalidValueError("purpose", value, "required (e.g. marketing, profiling)")
    return check_text(text, "purpose")


@attrs.frozen
class HasConsent(_Connectives):
    """The customer may be processed for ``purpose`` by ``channel`` at the evaluation instant.

    True when the consent ledger holds a record for the purpose whose channel
    is ``channel`` or ``any``, valid at ``at`` (``valid_from <= at``, before
    ``valid_until``, not withdrawn at or before ``at``): exactly when
    :func:`crmcore.privacy.consent.may_process` allows ordinary (not
    sensitive) processing. A marketing segment adds it so people without
    valid consent never receive a campaign.

    >>> HasConsent("Marketing", "sms")
    HasConsent(purpose='marketing', channel=<ConsentChannel.SMS: 'sms'>)
    """

    purpose: str = attrs.field(converter=_consent_purpose)
    channel: ConsentChannel = attrs.field(default=ConsentChannel.ANY, converter=ConsentChannel)


@attrs.frozen
class OrderCount(_Connectives):
    """The number of paid orders (optionally within a window) compared with a count."""

    op: Op = attrs.field(converter=Op, validator=_numeric_op)
    value: int = attrs.field(converter=_count)
    window: Window | None = attrs.field(default=None, converter=_optional_window)


@attrs.frozen
class OrderTotal(_Connectives):
    """The sum of paid orders in ``currency`` (0 when none) compared with an amount."""

    op: Op = attrs.field(converter=Op, validator=_numeric_op)
    value: Decimal = attrs.field(converter=_amount)
    currency: str = attrs.field(converter=_currency)
    window: Window | None = attrs.field(default=None, converter=_optional_window)


@attrs.frozen
class OrderAverage(_Connectives):
    """The average paid order in ``currency`` compared with an amount; false without orders."""

    op: Op = attrs.field(converter=Op, validator=_numeric_op)
    value: Decimal = attrs.field(converter=_amount)
    currency: str = attrs.field(converter=_currency)
    window: Window | None = attrs.field(default=None, converter=_optional_window)


@attrs.frozen
class LastOrder(_Connectives):
    """The latest paid order (at or before ``at``) falls in a window; false without orders."""

    window: Window = attrs.field(converter=_window)


@attrs.frozen
class ActivityCount(_Connectives):
    """The number of activities of some kinds (all when empty) in a window compared with a count."""

    op: Op = attrs.field(converter=Op, validator=_numeric_op)
    value: int = attrs.field(converter=_count)
    window: Window | None = attrs.field(default=None, converter=_optional_window)
    kinds: tuple[ActivityKind, ...] = attrs.field(default=(), converter=_kinds)


@attrs.frozen
class LastActivity(_Connectives):
    """The latest activity of some kinds (all when empty) falls in a window; false without any."""

    window: Window = attrs.field(converter=_window)
    kinds: tuple[ActivityKind, ...] = attrs.field(default=(), converter=_kinds)


class SurveyMetric(enum.StrEnum):
    """A survey score: NPS 0-10, CSAT 1-5, CES 1-7."""

    NPS = "nps"
    CSAT = "csat"
    CES = "ces"


@attrs.frozen
class LatestSurveyScore(_Connectives):
    """The score of the latest survey answer that has ``metric`` compared with a value.

    "Latest" is the answer with the greatest ``responded_at`` at or before
    ``at``; among answers at the same instant, the highest score. False when
    the customer never answered.
    """

    metric: SurveyMetric = attrs.field(converter=SurveyMetric)
    op: Op = attrs.field(converter=Op, validator=_numeric_op)
    value: int = attrs.field(converter=_score)


@attrs.frozen
class And(_Connectives):
    """Every child rule holds (true when there are none)."""

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)


@attrs.frozen
class Or(_Connectives):
    """At least one child rule holds (false when there are none)."""

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)


@attrs.frozen
class Not(_Connectives):
    """The child rule does not hold."""

    rule: Rule = attrs.field(converter=_rule)


Rule: TypeAlias = Union[  # noqa: UP007 - a runtime alias; cattrs reads its members.
    Compare,
    CustomCompare,
    InWindow,
    HasTag,
    HasConsent,
    OrderCount,
    OrderTotal,
    OrderAverage,
    LastOrder,
    ActivityCount,
    LastActivity,
    LatestSurveyScore,
    And,
    Or,
    Not,
]
"""A segment rule: any node of this module."""

RULE_TYPES: tuple[type[Any], ...] = get_args(Rule)
"""Every node class of :data:`Rule`, for ``isinstance`` checks (read from the union)."""


def walk(rule: Rule) -> Iterable[Rule]:
    """Yield ``rule`` and every node below it, parents first.

    >>> [type(n).__name__ for n in walk(HasTag("a") & ~HasTag("b"))]
    ['And', 'HasTag', 'Not', 'HasTag']
    """
    yield rule
    if isinstance(rule, And | Or):
        for child in rule.rules:
            yield from walk(child)
    elif isinstance(rule, Not):
        yield from walk(rule.rule)


def check_rule_limits(rule: Rule) -> Rule:
    """Return ``rule`` if it is within the depth and size limits every backend can run.

    The limits are :data:`MAX_RULE_DEPTH` levels and :data:`MAX_RULE_NODES` nodes.

    Every backend's entry point calls it (``compile_rule``, ``evaluate``,
    ``explain``, ``compile_to_sql``, ``select_customer_ids``,
    ``compile_to_polars``); it walks the tree without recursion and stops at
    the first limit exceeded, so even a hostile tree is checked cheaply.

    Args:
        rule: The segment rule.

    Returns:
        The rule, unchanged.

    Raises:
        InvalidValueError: If the rule is deeper or larger than the limits, or
            holds something that is not a rule node.

    >>> check_rule_limits(HasTag("a") & ~HasTag("b")) == HasTag("a") & ~HasTag("b")
    True
    >>> deep = HasTag("a")
    >>> for _ in range(40):
    ...     deep = Not(deep)
    >>> check_rule_limits(deep)
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid rule depth '33+ levels': at most 32 levels ...
    """
    nodes = 0
    stack: list[tuple[object, int]] = [(rule, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_RULE_NODES:
            raise InvalidValueError(
                "rule size",
                f"{nodes}+ nodes",
                f"at most {MAX_RULE_NODES} nodes (connectives included) per rule",
            )
        if depth > MAX_RULE_DEPTH:
            raise InvalidValueError(
                "rule depth",
                f"{depth}+ levels",
                f"at most {MAX_RULE_DEPTH} levels of nesting per rule",
            )
        if isinstance(node, And | Or):
            stack.extend((child, depth + 1) for child in node.rules)
        elif isinstance(node, Not):
            stack.append((node.rule, depth + 1))
        elif not isinstance(node, RULE_TYPES):
            raise InvalidValueError("rule", node, "expected a segment rule node")
    return rule
