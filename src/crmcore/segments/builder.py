"""A builder that makes rules read like the segment they describe.

>>> from crmcore.segments.builder import field, last_purchase, purchases
>>> vip = (field("tier") == "vip") & last_purchase().within(days=90)
>>> type(vip).__name__, len(vip.rules)
('And', 2)
>>> rule = purchases(currency="CNY").total() >= "10000"
>>> rule
OrderTotal(op=<Op.GE: 'ge'>, value=Decimal('10000'), currency='CNY', window=None)

Every method returns a plain rule node; combine nodes with ``&``, ``|``
and ``~``.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.segments``; attrs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs

from crmcore.domain.activity import ActivityKind
from crmcore.domain.custom import CustomFieldSchema, FieldType
from crmcore.errors import InvalidValueError
from crmcore.segments.rule import (
    ActivityCount,
    And,
    Compare,
    CustomCompare,
    HasConsent,
    HasTag,
    InWindow,
    LastActivity,
    LastOrder,
    LatestSurveyScore,
    Not,
    Op,
    Or,
    OrderAverage,
    OrderCount,
    OrderTotal,
    Rule,
    SurveyMetric,
)
from crmcore.segments.window import (
    After,
    Before,
    Between,
    CalendarPeriod,
    NotWithin,
    PeriodUnit,
    Window,
    Within,
)

__all__ = [
    "CustomRef",
    "FieldRef",
    "activities",
    "all_of",
    "any_of",
    "custom",
    "field",
    "has_consent",
    "has_tag",
    "last_activity",
    "last_purchase",
    "latest_survey",
    "not_",
    "purchases",
]


class _Windowed:
    """``within``, ``this``, ``before`` … on anything that takes a window."""

    __slots__ = ()

    def in_window(self, window: Window) -> Rule:
        """Return the rule for ``window``."""
        raise NotImplementedError

    def within(self, *, days: int) -> Rule:
        """Within the last ``days`` days (up to and including ``at``)."""
        return self.in_window(Within(days))

    def not_within(self, *, days: int) -> Rule:
        """More than ``days`` days before ``at``."""
        return self.in_window(NotWithin(days))

    def this(self, unit: PeriodUnit | str) -> Rule:
        """In the current calendar ``unit`` (day, week, month, quarter, year)."""
        return self.in_window(CalendarPeriod(PeriodUnit(unit), 0))

    def previous(self, unit: PeriodUnit | str, count: int = 1) -> Rule:
        """In the calendar ``unit`` ``count`` units before the current one."""
        return self.in_window(CalendarPeriod(PeriodUnit(unit), -count))

    def before(self, date: dt.date | str) -> Rule:
        """Strictly before the start of ``date``."""
        return self.in_window(Before(date))

    def after(self, date: dt.date | str) -> Rule:
        """From the start of the day after ``date``."""
        return self.in_window(After(date))

    def between(self, start: dt.date | str, end: dt.date | str) -> Rule:
        """From the start of ``start`` to the end of ``end``."""
        return self.in_window(Between(start, end))


class _Comparable:
    """Comparison operators that build rule nodes."""

    __slots__ = ()

    def _make(self, op: Op, value: Any) -> Rule:
        raise NotImplementedError

    def __eq__(self, value: object) -> Rule:  # type: ignore[override]  # builds a rule, like SQLAlchemy
        return self._make(Op.EQ, value)

    def __ne__(self, value: object) -> Rule:  # type: ignore[override]  # builds a rule, like SQLAlchemy
        return self._make(Op.NE, value)

    def __lt__(self, value: Any) -> Rule:
        return self._make(Op.LT, value)

    def __le__(self, value: Any) -> Rule:
        return self._make(Op.LE, value)

    def __gt__(self, value: Any) -> Rule:
        return self._make(Op.GT, value)

    def __ge__(self, value: Any) -> Rule:
        return self._make(Op.GE, value)

    __hash__ = None  # type: ignore[assignment]  # == builds rules, so refs are not hashable


class _Textual(_Comparable):
    __slots__ = ()

    def is_in(self, *values: Any) -> Rule:
        """One of ``values``."""
        return self._make(Op.IN, values)

    def not_in(self, *values: Any) -> Rule:
        """Present and none of ``values``."""
        return self._make(Op.NOT_IN, values)

    def contains(self, text: str) -> Rule:
        """Contains ``text`` (or, for a multi-choice field, has the choice ``text``)."""
        return self._make(Op.CONTAINS, text)

    def starts_with(self, prefix: str) -> Rule:
        """Starts with ``prefix``."""
        return self._make(Op.STARTS_WITH, prefix)

    def matches(self, pattern: str) -> Rule:
        """Contains a match of ``pattern`` (the portable subset of :func:`check_pattern`)."""
        return self._make(Op.MATCHES, pattern)

    def is_empty(self) -> Rule:
        """Missing, empty text or an empty list."""
        return self._make(Op.IS_EMPTY, None)


@attrs.frozen(eq=False)
class FieldRef(_Textual, _Windowed):
    """A built-in customer field in a rule: ``field("tier") == "vip"``."""

    name: str

    def _make(self, op: Op, value: Any) -> Rule:
        return Compare(self.name, op, value)

    def in_window(self, window: Window) -> Rule:
        """The timestamp field falls in ``window``."""
        return InWindow(self.name, window)


@attrs.frozen(eq=False)
class CustomRef(_Textual):
    """A host-defined custom field in a rule, typed by the host's schema."""

    name: str
    field_type: FieldType

    def _make(self, op: Op, value: Any) -> Rule:
        return CustomCompare(self.name, self.field_type, op, value)


def field(name: str) -> FieldRef:
    """Refer to a built-in customer field (see :data:`crmcore.segments.FIELDS`).

    >>> field("owner").is_in("u-li", "u-wang")
    Compare(field='owner', op=<Op.IN: 'in'>, value=('u-li', 'u-wang'))
    """
    return FieldRef(name)


def custom(
    name: str,
    field_type: FieldType | str | None = None,
    *,
    schema: CustomFieldSchema | None = None,
) -> CustomRef:
    """Refer to a custom field, typed by ``field_type`` or by the host's ``schema``.

    Raises:
        InvalidValueError: If neither is given, or the schema has no such field.

    >>> from crmcore.domain import CustomFieldSchema, FieldDef
    >>> schema = CustomFieldSchema((FieldDef(name="budget", type="decimal"),))
    >>> rule = custom("budget", schema=schema) > "5000"
    >>> rule.field_type, rule.value
    (<FieldType.DECIMAL: 'decimal'>, '5000')
    """
    if schema is not None:
        definition = schema.field(name)
        if field_type is not None and FieldType(field_type) is not definition.type:
            raise InvalidValueError(
                "custom field", name, f"the schema says {definition.type}, not {field_type}"
            )
        return CustomRef(name, definition.type)
    if field_type is None:
        raise InvalidValueError("custom field", name, "give its field_type or the schema")
    return CustomRef(name, FieldType(field_type))


def has_tag(tag: str) -> HasTag:
    """The customer carries ``tag``."""
    return HasTag(tag)


def has_consent(purpose: str, channel: str = "any") -> HasConsent:
    """The customer may be processed for ``purpose`` by ``channel`` at the evaluation instant.

    >>> (has_tag("vip") & has_consent("marketing", "email")).rules[1]
    HasConsent(purpose='marketing', channel=<ConsentChannel.EMAIL: 'email'>)
    """
    return HasConsent(purpose, channel)


@attrs.frozen(eq=False)
class _Number(_Comparable):
    """An aggregate number compared with a value."""

    build: Any

    def _make(self, op: Op, value: Any) -> Rule:
        result: Rule = self.build(op, value)
        return result


@attrs.frozen
class _LastOrderRef(_Windowed):
    def in_window(self, window: Window) -> Rule:
        return LastOrder(window)


def last_purchase() -> _LastOrderRef:
    """The latest paid order: ``last_purchase().within(days=90)``."""
    return _LastOrderRef()


@attrs.frozen
class _Purchases:
    window: Window | None
    currency: str | None

    def count(self) -> _Number:
        """The number of paid orders: ``purchases().count() >= 3``."""
        return _Number(lambda op, v: OrderCount(op, v, self.window))

    def total(self) -> _Number:
        """The sum of paid orders in the currency: ``purchases(currency="CNY").total() > 1000``."""
        currency = self._currency()
        return _Number(lambda op, v: OrderTotal(op, _decimal(v), currency, self.window))

    def average(self) -> _Number:
        """The average paid order in the currency."""
        currency = self._currency()
        return _Number(lambda op, v: OrderAverage(op, _decimal(v), currency, self.window))

    def _currency(self) -> str:
        if self.currency is None:
            raise InvalidValueError("currency", None, "money aggregates need a currency")
        return self.currency


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool | float):
        raise InvalidValueError("amount", value, "amounts are strings, integers or Decimal")
    return Decimal(str(value))


def purchases(*, window: Window | None = None, currency: str | None = None) -> _Purchases:
    """Paid orders, optionally within ``window`` and (for money) in ``currency``."""
    return _Purchases(window, currency)


@attrs.frozen
class _Activities:
    kinds: tuple[ActivityKind, ...]
    window: Window | None

    def count(self) -> _Number:
        """The number of activities: ``activities("call", window=Within(30)).count() >= 2``."""
        return _Number(lambda op, v: ActivityCount(op, v, self.window, self.kinds))


def activities(*kinds: ActivityKind | str, window: Window | None = None) -> _Activities:
    """Activities of ``kinds`` (all kinds when none given), optionally within ``window``."""
    return _Activities(tuple(ActivityKind(k) for k in kinds), window)


@attrs.frozen
class _LastActivityRef(_Windowed):
    kinds: tuple[ActivityKind, ...]

    def in_window(self, window: Window) -> Rule:
        return LastActivity(window, self.kinds)


def last_activity(*kinds: ActivityKind | str) -> _LastActivityRef:
    """The latest activity of ``kinds`` (any kind when none given).

    >>> last_activity().not_within(days=3)
    LastActivity(window=NotWithin(days=3), kinds=())
    """
    return _LastActivityRef(tuple(ActivityKind(k) for k in kinds))


@attrs.frozen
class _LatestSurvey:
    @property
    def nps(self) -> _Number:
        """NPS (0-10) of the latest answer with one: ``latest_survey().nps <= 6``."""
        return _Number(lambda op, v: LatestSurveyScore(SurveyMetric.NPS, op, v))

    @property
    def csat(self) -> _Number:
        """CSAT (1-5) of the latest answer with one."""
        return _Number(lambda op, v: LatestSurveyScore(SurveyMetric.CSAT, op, v))

    @property
    def ces(self) -> _Number:
        """CES (1-7) of the latest answer with one."""
        return _Number(lambda op, v: LatestSurveyScore(SurveyMetric.CES, op, v))


def latest_survey() -> _LatestSurvey:
    """The customer's latest survey answer."""
    return _LatestSurvey()


def all_of(*rules: Rule | Iterable[Rule]) -> And:
    """Every rule holds."""
    return And(_flatten(rules))


def any_of(*rules: Rule | Iterable[Rule]) -> Or:
    """At least one rule holds."""
    return Or(_flatten(rules))


def not_(rule: Rule) -> Not:
    """The rule does not hold."""
    return Not(rule)


def _flatten(rules: tuple[Rule | Iterable[Rule], ...]) -> tuple[Rule, ...]:
    out: list[Rule] = []
    for item in rules:
        if isinstance(item, Iterable):
            out.extend(item)
        else:
            out.append(item)
    return tuple(out)
