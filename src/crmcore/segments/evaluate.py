"""In-memory evaluation of segment rules: compile once, run per customer, explain why.

:func:`compile_rule` turns a rule into one Python function for a fixed
``at`` and time zone: windows are resolved, values parsed and the tree is
flattened into a single expression, so evaluating a customer never walks
the tree. :func:`evaluate` is the one-off form; :func:`explain` walks the
tree and reports, clause by clause, whether it held and the value it saw.

Related records (orders, activities, survey answers) come from a
:class:`RelatedRecords` — :class:`SegmentContext` is the in-memory one.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``,
``crmcore.segments``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import linecache
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Protocol

import attrs
import pendulum

from crmcore.clock import parse_timestamp, utc
from crmcore.domain.activity import Activity
from crmcore.domain.consent import ConsentChannel
from crmcore.domain.custom import FieldType
from crmcore.domain.customer import Customer
from crmcore.domain.ids import CustomerId
from crmcore.domain.order import Order, OrderStatus
from crmcore.domain.survey import SurveyResponse
from crmcore.domain.values import Tag
from crmcore.errors import InvalidValueError
from crmcore.segments.pattern import compile_pattern
from crmcore.segments.rule import (
    DECIMAL_TEXT,
    FIELDS,
    SYMBOLS,
    ActivityCount,
    And,
    Compare,
    CustomCompare,
    FieldKind,
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
    Value,
    check_rule_limits,
)
from crmcore.segments.window import Span, describe_window, resolve, zone

__all__ = [
    "EMPTY_CONTEXT",
    "CompiledRule",
    "ConsentSpan",
    "Explanation",
    "RelatedRecords",
    "SegmentContext",
    "compile_rule",
    "describe",
    "evaluate",
    "explain",
]

Predicate = Callable[[Customer, "RelatedRecords"], bool]


class RelatedRecords(Protocol):
    """Where a rule finds a customer's related records.

    Implementations return every record of the customer (any order);
    evaluation filters them by status, window and ``at`` itself.
    """

    def orders_of(self, customer_id: str) -> Sequence[Order]:
        """Return the customer's orders."""
        ...

    def activities_of(self, customer_id: str) -> Sequence[Activity]:
        """Return the activities linked to the customer."""
        ...

    def surveys_of(self, customer_id: str) -> Sequence[SurveyResponse]:
        """Return the customer's survey answers."""
        ...

    def consents_of(self, customer_id: str) -> Sequence[ConsentSpan]:
        """Return the customer's consent ledger records, as validity spans."""
        ...


@attrs.frozen(kw_only=True)
class ConsentSpan:
    """One consent ledger record as a :class:`~crmcore.segments.HasConsent` clause reads it.

    Build them from the ledger with :func:`crmcore.privacy.consent.consent_spans`.

    Attributes:
        customer_id: The subject.
        purpose: What for (lower-case).
        channel: The channel it covers (``any`` covers every channel).
        valid_from: From when it holds.
        valid_until: Until when (exclusive), or ``None``.
        withdrawn_at: When it was withdrawn, or ``None``.
    """

    customer_id: str
    purpose: str
    channel: ConsentChannel = attrs.field(converter=ConsentChannel)
    valid_from: pendulum.DateTime = attrs.field(converter=utc)
    valid_until: pendulum.DateTime | None = attrs.field(
        default=None, converter=attrs.converters.optional(utc)
    )
    withdrawn_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=attrs.converters.optional(utc)
    )

    def covers(self, purpose: str, channel: ConsentChannel, at: dt.datetime) -> bool:
        """Return whether it allows ``purpose`` by ``channel`` at instant ``at``."""
        return (
            self.purpose == purpose
            and self.channel in (channel, ConsentChannel.ANY)
            and self.valid_from <= at
            and (self.valid_until is None or at < self.valid_until)
            and (self.withdrawn_at is None or at < self.withdrawn_at)
        )


def _group(records: Iterable[Any]) -> Mapping[str, tuple[Any, ...]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        if record.customer_id is not None:
            grouped[record.customer_id].append(record)
    return {key: tuple(value) for key, value in grouped.items()}


@attrs.frozen
class SegmentContext:
    """Related records in memory, grouped by customer id.

    >>> SegmentContext.of().orders_of("c-1")
    ()
    """

    orders: Mapping[str, tuple[Order, ...]] = attrs.field(factory=dict)
    activities: Mapping[str, tuple[Activity, ...]] = attrs.field(factory=dict)
    surveys: Mapping[str, tuple[SurveyResponse, ...]] = attrs.field(factory=dict)
    consents: Mapping[str, tuple[ConsentSpan, ...]] = attrs.field(factory=dict)

    @classmethod
    def of(
        cls,
        *,
        orders: Iterable[Order] = (),
        activities: Iterable[Activity] = (),
        surveys: Iterable[SurveyResponse] = (),
        consents: Iterable[ConsentSpan] = (),
    ) -> SegmentContext:
        """Group ``orders``, ``activities``, ``surveys`` and consent spans by customer.

        Activities linked to no customer are ignored.
        """
        return cls(
            orders=_group(orders),
            activities=_group(activities),
            surveys=_group(surveys),
            consents=_group(consents),
        )

    def orders_of(self, customer_id: str) -> tuple[Order, ...]:
        """Return the customer's orders."""
        return self.orders.get(customer_id, ())

    def activities_of(self, customer_id: str) -> tuple[Activity, ...]:
        """Return the customer's activities."""
        return self.activities.get(customer_id, ())

    def surveys_of(self, customer_id: str) -> tuple[SurveyResponse, ...]:
        """Return the customer's survey answers."""
        return self.surveys.get(customer_id, ())

    def consents_of(self, customer_id: str) -> tuple[ConsentSpan, ...]:
        """Return the customer's consent spans."""
        return self.consents.get(customer_id, ())


EMPTY_CONTEXT: Final = SegmentContext()
"""A context without related records."""

_PAID = OrderStatus.PAID
_COMPARE: Mapping[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


# --------------------------------------------------------------------------- leaves
# Every leaf is an ``observe(customer, records) -> value`` and a
# ``test(value) -> bool``; explain() reports the value, evaluation inlines
# what it can and calls the rest.


@attrs.frozen
class _Leaf:
    observe: Callable[[Customer, RelatedRecords], object]
    test: Callable[[Any], bool]


def _builtin(customer: Customer, field: str) -> object:
    if field == "country":
        return customer.country.code if customer.country is not None else None
    return getattr(customer, field)


def _test_value(op: Op, value: Value, kind: FieldKind | FieldType) -> Callable[[Any], bool]:
    """Return the test of a present value (never ``None``) for ``op``."""
    if op is Op.IS_EMPTY:
        return lambda v: v is None or v in ("", ())
    if op in (Op.IN, Op.NOT_IN):
        members = frozenset(_parse(v, kind) for v in _members(value))
        if op is Op.IN:
            return lambda v: v is not None and v in members
        return lambda v: v is not None and v not in members
    if op is Op.CONTAINS:
        # a substring of text, or an element of a multi-choice tuple
        return lambda v: v is not None and value in v
    if op is Op.STARTS_WITH:
        prefix = str(value)
        return lambda v: v is not None and v.startswith(prefix)
    if op is Op.MATCHES:
        search = compile_pattern(str(value)).search
        return lambda v: v is not None and search(v)
    compare = _COMPARE[op]
    target = _parse(value, kind)
    return lambda v: v is not None and compare(v, target)


def _members(value: Value) -> tuple[object, ...]:
    if not isinstance(value, tuple):
        raise InvalidValueError("value", value, "in / not_in take a list of values")
    return value


def _parse(value: object, kind: FieldKind | FieldType) -> object:
    if kind is FieldKind.DATETIME and isinstance(value, str):
        return parse_timestamp(value)
    if kind is FieldType.DECIMAL and isinstance(value, str):
        return Decimal(value)
    return value


def _custom_typed(raw: object, field_type: FieldType) -> object:
    """Return ``raw`` if it has the JSON kind of ``field_type``, else ``None``."""
    if field_type is FieldType.INTEGER:
        return raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if field_type is FieldType.BOOLEAN:
        return raw if isinstance(raw, bool) else None
    if field_type is FieldType.MULTI_CHOICE:
        return raw if isinstance(raw, tuple) else None
    if not isinstance(raw, str):
        return None
    if field_type is FieldType.DECIMAL:
        return Decimal(raw) if DECIMAL_TEXT.fullmatch(raw) else None
    return raw


def _paid_in(orders: Sequence[Order], span: Span, currency: str | None) -> list[Order]:
    return [
        o
        for o in orders
        if o.status == _PAID
        and span.contains(o.ordered_at)
        and (currency is None or o.amount.currency == currency)
    ]


def _leaf(node: Rule, at: pendulum.DateTime, tz: Any) -> _Leaf:  # noqa: PLR0912 - one per leaf
    everything = Span(None, at, end_inclusive=True)

    def clip(window: Any) -> Span:
        return everything if window is None else resolve(window, at=at, tz=tz).clipped(at)

    if isinstance(node, Compare):
        field, kind = node.field, FIELDS[node.field].kind
        return _Leaf(lambda c, _x: _builtin(c, field), _test_value(node.op, node.value, kind))
    if isinstance(node, CustomCompare):
        name, ftype, op = node.name, node.field_type, node.op
        if op is Op.IS_EMPTY:
            return _Leaf(lambda c, _x: c.custom.get(name), _test_value(op, None, ftype))
        test = _test_value(op, node.value, ftype)
        return _Leaf(lambda c, _x: _custom_typed(c.custom.get(name), ftype), test)
    if isinstance(node, HasTag):
        name = node.tag
        return _Leaf(lambda c, _x: tuple(sorted(t.name for t in c.tags)), lambda t: name in t)
    if isinstance(node, InWindow):
        field, span = node.field, resolve(node.window, at=at, tz=tz)
        return _Leaf(lambda c, _x: getattr(c, field), span.contains)
    if isinstance(node, OrderCount):
        span, compare, count = clip(node.window), _COMPARE[node.op], node.value
        return _Leaf(
            lambda c, x: len(_paid_in(x.orders_of(c.id), span, None)),
            lambda n: compare(n, count),
        )
    if isinstance(node, OrderTotal):
        span, compare, amount, cur = clip(node.window), _COMPARE[node.op], node.value, node.currency
        return _Leaf(
            lambda c, x: sum(
                (o.amount.amount for o in _paid_in(x.orders_of(c.id), span, cur)), Decimal(0)
            ),
            lambda total: compare(total, amount),
        )
    if isinstance(node, OrderAverage):
        span, compare, amount, cur = clip(node.window), _COMPARE[node.op], node.value, node.currency

        def totals(c: Customer, x: RelatedRecords) -> tuple[Decimal, int]:
            paid = _paid_in(x.orders_of(c.id), span, cur)
            return sum((o.amount.amount for o in paid), Decimal(0)), len(paid)

        # avg op v  <=>  n > 0 and total op v * n: exact, with no division.
        return _Leaf(totals, lambda t: t[1] > 0 and compare(t[0], amount * t[1]))
    if isinstance(node, LastOrder):
        window_span = resolve(node.window, at=at, tz=tz)
        return _Leaf(
            lambda c, x: max(
                (o.ordered_at for o in _paid_in(x.orders_of(c.id), everything, None)),
                default=None,
            ),
            lambda last: last is not None and window_span.contains(last),
        )
    if isinstance(node, ActivityCount):
        span, compare, count, kinds = clip(node.window), _COMPARE[node.op], node.value, node.kinds
        return _Leaf(
            lambda c, x: sum(
                1
                for a in x.activities_of(c.id)
                if span.contains(a.occurred_at) and (not kinds or a.kind in kinds)
            ),
            lambda n: compare(n, count),
        )
    if isinstance(node, LastActivity):
        window_span, kinds = resolve(node.window, at=at, tz=tz), node.kinds
        return _Leaf(
            lambda c, x: max(
                (
                    a.occurred_at
                    for a in x.activities_of(c.id)
                    if a.occurred_at <= at and (not kinds or a.kind in kinds)
                ),
                default=None,
            ),
            lambda last: last is not None and window_span.contains(last),
        )
    if isinstance(node, HasConsent):
        purpose, channel = node.purpose, node.channel
        return _Leaf(
            lambda c, x: any(s.covers(purpose, channel, at) for s in x.consents_of(c.id)),
            bool,
        )
    if isinstance(node, LatestSurveyScore):
        metric, compare, score = node.metric.value, _COMPARE[node.op], node.value

        def latest(c: Customer, x: RelatedRecords) -> int | None:
            best: tuple[dt.datetime, int] | None = None
            for s in x.surveys_of(c.id):
                value = getattr(s, metric)
                if value is not None and s.responded_at <= at:
                    key = (s.responded_at, value)
                    if best is None or key > best:
                        best = key
            return None if best is None else best[1]

        return _Leaf(latest, lambda v: v is not None and compare(v, score))
    raise InvalidValueError("rule", node, "not a leaf node")


# --------------------------------------------------------------------------- compile

_NULLABLE_ACCESS: Mapping[str, tuple[str, str]] = {
    "owner": ("c.owner", "c.owner is not None"),
    "team": ("c.team", "c.team is not None"),
    "merged_into": ("c.merged_into", "c.merged_into is not None"),
    "country": ("c.country.code", "c.country is not None"),
}
_INLINE_OPS: Mapping[Op, str] = {
    Op.EQ: "{v} == {k}",
    Op.NE: "{v} != {k}",
    Op.LT: "{v} < {k}",
    Op.LE: "{v} <= {k}",
    Op.GT: "{v} > {k}",
    Op.GE: "{v} >= {k}",
    Op.IN: "{v} in {k}",
    Op.NOT_IN: "{v} not in {k}",
    Op.CONTAINS: "{k} in {v}",
    Op.STARTS_WITH: "{v}.startswith({k})",
    Op.MATCHES: "{k}({v})",
}
_MAX_INLINE_DEPTH = 24
# A connective with more children is compiled in chunks of this many, each its own function:
# one generated function with 10,000 closure arguments takes seconds to build.
_MAX_INLINE_WIDTH = 64


class _Emitter:
    """Turn a rule into the source of one expression over ``c`` and ``x``.

    Rule values never enter the source text: each becomes a name bound in
    the function's namespace.
    """

    def __init__(self, at: pendulum.DateTime, tz: Any) -> None:
        self.at = at
        self.tz = tz
        self.namespace: dict[str, object] = {}

    def constant(self, value: object) -> str:
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def emit(self, node: Rule, depth: int = 0) -> str:
        if depth > _MAX_INLINE_DEPTH:
            return f"{self.constant(_compose(node, self.at, self.tz))}(c, x)"
        if isinstance(node, And | Or) and len(node.rules) > _MAX_INLINE_WIDTH:
            return f"{self.constant(_chunked(node, self.at, self.tz))}(c, x)"
        if isinstance(node, And):
            if not node.rules:
                return "True"
            return "(" + " and ".join(self.emit(r, depth + 1) for r in node.rules) + ")"
        if isinstance(node, Or):
            if not node.rules:
                return "False"
            return "(" + " or ".join(self.emit(r, depth + 1) for r in node.rules) + ")"
        if isinstance(node, Not):
            return f"(not {self.emit(node.rule, depth + 1)})"
        if isinstance(node, HasTag):
            return f"({self.constant(Tag(node.tag))} in c.tags)"
        if isinstance(node, Compare):
            return self.compare(node)
        leaf = _leaf(node, self.at, self.tz)
        return f"{self.constant(leaf.test)}({self.constant(leaf.observe)}(c, x))"

    def compare(self, node: Compare) -> str:
        spec = FIELDS[node.field]
        value, guard = _NULLABLE_ACCESS.get(node.field, (f"c.{node.field}", ""))
        if node.op is Op.IS_EMPTY:
            if guard:
                return f"(not ({guard}) or {value} == '')"
            return f"({value} == '')"
        if node.op in (Op.IN, Op.NOT_IN):
            constant: object = frozenset(_parse(v, spec.kind) for v in _members(node.value))
        elif node.op is Op.MATCHES:
            constant = compile_pattern(str(node.value)).search
        else:
            constant = _parse(node.value, spec.kind)
        core = _INLINE_OPS[node.op].format(v=value, k=self.constant(constant))
        return f"({guard} and {core})" if guard else f"({core})"


def _compose(node: Rule, at: pendulum.DateTime, tz: Any) -> Predicate:
    """Build a predicate from closures (used below the inline depth limit)."""
    if isinstance(node, And):
        parts = tuple(_compose(r, at, tz) for r in node.rules)
        return lambda c, x: all(p(c, x) for p in parts)
    if isinstance(node, Or):
        parts = tuple(_compose(r, at, tz) for r in node.rules)
        return lambda c, x: any(p(c, x) for p in parts)
    if isinstance(node, Not):
        inner = _compose(node.rule, at, tz)
        return lambda c, x: not inner(c, x)
    return _function(node, at, tz)


def _chunked(node: And | Or, at: pendulum.DateTime, tz: Any) -> Predicate:
    """Compile a wide connective as one generated function per chunk of its children."""
    kind = And if isinstance(node, And) else Or
    parts = tuple(
        _function(kind(node.rules[start : start + _MAX_INLINE_WIDTH]), at, tz)
        for start in range(0, len(node.rules), _MAX_INLINE_WIDTH)
    )
    if kind is And:
        return lambda c, x: all(p(c, x) for p in parts)
    return lambda c, x: any(p(c, x) for p in parts)


def _register_source(source: str) -> str:
    """Put generated ``source`` in :mod:`linecache` and return its file name.

    Tracebacks through an evaluated rule then show the generated line, as
    they do for the methods attrs generates. The name is derived from the
    source, and rule values are never part of it, so rules of the same shape
    share one entry and the cache stays small however many rules are compiled.
    """
    digest = hashlib.blake2b(source.encode(), digest_size=8).hexdigest()
    filename = f"<crmcore segment rule {digest}>"
    # mtime None: linecache.checkcache() keeps the entry (there is no file to check).
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return filename


def _function(node: Rule, at: pendulum.DateTime, tz: Any) -> Predicate:
    emitter = _Emitter(at, tz)
    body = emitter.emit(node)
    names = ", ".join(emitter.namespace)
    source = f"def _factory({names}):\n    return lambda c, x: {body}\n"
    # The source is built from fixed templates and attribute names checked
    # against FIELDS; every rule value is passed in as an argument (a closure
    # cell, the fastest lookup), never written into the source text.
    scope: dict[str, Any] = {"__builtins__": {}}
    exec(compile(source, _register_source(source), "exec"), scope)  # noqa: S102
    function: Predicate = scope["_factory"](**emitter.namespace)
    return function


@attrs.frozen
class CompiledRule:
    """A rule compiled for one ``at`` and time zone; call it with a customer.

    >>> from crmcore.segments.builder import field
    >>> rule = compile_rule(field("tier") == "vip", at=pendulum.datetime(2026, 1, 1))
    >>> rule.rule
    Compare(field='tier', op=<Op.EQ: 'eq'>, value='vip')
    """

    rule: Rule
    at: pendulum.DateTime
    tz: str
    _predicate: Predicate = attrs.field(repr=False, alias="predicate")

    def __call__(self, customer: Customer, context: RelatedRecords = EMPTY_CONTEXT) -> bool:
        """Return whether ``customer`` is in the segment."""
        return self._predicate(customer, context)

    def filter(
        self, customers: Iterable[Customer], context: RelatedRecords = EMPTY_CONTEXT
    ) -> list[Customer]:
        """Return the customers in the segment, in the order given."""
        predicate = self._predicate
        return [c for c in customers if predicate(c, context)]

    def ids(
        self, customers: Iterable[Customer], context: RelatedRecords = EMPTY_CONTEXT
    ) -> list[CustomerId]:
        """Return the ids of the customers in the segment, in the order given."""
        predicate = self._predicate
        return [c.id for c in customers if predicate(c, context)]


def compile_rule(rule: Rule, *, at: dt.datetime, tz: str = "UTC") -> CompiledRule:
    """Compile ``rule`` into one function for the instant ``at`` in time zone ``tz``.

    Args:
        rule: The segment rule.
        at: The evaluation instant (aware); windows are resolved against it and
            related records dated after it are ignored.
        tz: The IANA time zone calendar days and periods are counted in.

    Returns:
        A :class:`CompiledRule`; calling it never walks the rule tree.

    Raises:
        InvalidValueError: If ``at`` is naive, ``tz`` unknown, ``rule`` not a rule or beyond
            the limits of :func:`~crmcore.segments.rule.check_rule_limits`.
    """
    check_rule_limits(rule)
    when = utc(at)
    zone(tz)
    return CompiledRule(rule, when, tz, _function(rule, when, tz))


def evaluate(
    rule: Rule,
    customer: Customer,
    context: RelatedRecords = EMPTY_CONTEXT,
    *,
    at: dt.datetime,
    tz: str = "UTC",
) -> bool:
    """Return whether ``customer`` is in the segment ``rule`` at ``at``.

    For many customers, compile once with :func:`compile_rule`.

    Raises:
        InvalidValueError: If ``at`` is naive, ``tz`` unknown or ``rule`` beyond the limits.
    """
    return compile_rule(rule, at=at, tz=tz)(customer, context)


# --------------------------------------------------------------------------- explain


@attrs.frozen
class Explanation:
    """Why a customer is (or is not) in a segment, clause by clause.

    Attributes:
        clause: The clause in words (``"tier = vip"``).
        held: Whether it held for the customer.
        observed: The value the clause looked at (a field value, a count, a
            timestamp …); ``None`` for connectives.
        children: The explanations of the clauses below a connective.
    """

    clause: str
    held: bool
    observed: object = None
    children: tuple[Explanation, ...] = ()

    def lines(self, indent: int = 0) -> list[str]:
        """Return the explanation as indented lines, ``✓`` for held and ``✗`` for not."""
        mark = "✓" if self.held else "✗"
        seen = "" if self.children or self.observed is None else f"  [{_show(self.observed)}]"
        head = [f"{'  ' * indent}{mark} {self.clause}{seen}"]
        return head + [line for child in self.children for line in child.lines(indent + 1)]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    @property
    def held_clauses(self) -> tuple[Explanation, ...]:
        """Every leaf clause that held."""
        if not self.children:
            return (self,) if self.held else ()
        return tuple(e for child in self.children for e in child.held_clauses)


def _show(value: object) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return utc(value).isoformat()
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
        total, count = value
        return f"total {total} over {count} orders"
    if isinstance(value, Decimal):
        return str(value)
    return repr(value) if isinstance(value, str) else str(value)


def _values(value: Value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return str(value)


def describe(rule: Rule) -> str:  # noqa: PLR0912 - one case per node type
    """Return one node of ``rule`` in words (children are not included).

    >>> from crmcore.segments.builder import field, last_purchase
    >>> describe(field("tier") == "vip"), describe(last_purchase().within(days=90))
    ('tier = vip', 'last purchase within the last 90 days')
    """
    if isinstance(rule, Compare):
        tail = "" if rule.op is Op.IS_EMPTY else f" {_values(rule.value)}"
        return f"{rule.field} {SYMBOLS[rule.op]}{tail}"
    if isinstance(rule, CustomCompare):
        tail = "" if rule.op is Op.IS_EMPTY else f" {_values(rule.value)}"
        return f"custom.{rule.name} {SYMBOLS[rule.op]}{tail}"
    if isinstance(rule, HasTag):
        return f"has tag {rule.tag}"
    if isinstance(rule, HasConsent):
        return f"may process for {rule.purpose} by {rule.channel.value}"
    if isinstance(rule, InWindow):
        return f"{rule.field} {describe_window(rule.window)}"
    window = getattr(rule, "window", None)
    where = "" if window is None else f" {describe_window(window)}"
    if isinstance(rule, OrderCount):
        return f"paid orders{where} {SYMBOLS[rule.op]} {rule.value}"
    if isinstance(rule, OrderTotal):
        return f"total paid {rule.currency}{where} {SYMBOLS[rule.op]} {rule.value}"
    if isinstance(rule, OrderAverage):
        return f"average paid {rule.currency} order{where} {SYMBOLS[rule.op]} {rule.value}"
    if isinstance(rule, LastOrder):
        return f"last purchase{where}"
    kinds = ""
    if isinstance(rule, ActivityCount | LastActivity) and rule.kinds:
        kinds = " (" + ", ".join(k.value for k in rule.kinds) + ")"
    if isinstance(rule, ActivityCount):
        return f"activities{kinds}{where} {SYMBOLS[rule.op]} {rule.value}"
    if isinstance(rule, LastActivity):
        return f"last activity{kinds}{where}"
    if isinstance(rule, LatestSurveyScore):
        return f"latest {rule.metric.value.upper()} {SYMBOLS[rule.op]} {rule.value}"
    if isinstance(rule, And):
        return "all of"
    if isinstance(rule, Or):
        return "any of"
    return "not"


def explain(
    rule: Rule,
    customer: Customer,
    context: RelatedRecords = EMPTY_CONTEXT,
    *,
    at: dt.datetime,
    tz: str = "UTC",
) -> Explanation:
    """Explain, clause by clause, whether ``customer`` is in the segment ``rule``.

    Every clause is evaluated (no short-circuit), so the explanation shows
    each value even below a clause that already decided the answer.

    Args:
        rule: The segment rule.
        customer: The customer.
        context: The customer's related records.
        at: The evaluation instant.
        tz: The IANA time zone calendar days and periods are counted in.

    Returns:
        The explanation tree; its ``held`` is the answer of :func:`evaluate`.

    Raises:
        InvalidValueError: If ``at`` is naive, ``tz`` unknown or ``rule`` beyond the limits.
    """
    check_rule_limits(rule)
    when = utc(at)
    zone(tz)
    return _explain(rule, customer, context, when, tz)


def _explain(
    rule: Rule, customer: Customer, context: RelatedRecords, at: pendulum.DateTime, tz: str
) -> Explanation:
    if isinstance(rule, And | Or):
        children = tuple(_explain(r, customer, context, at, tz) for r in rule.rules)
        held = (all if isinstance(rule, And) else any)(c.held for c in children)
        return Explanation(describe(rule), held, None, children)
    if isinstance(rule, Not):
        child = _explain(rule.rule, customer, context, at, tz)
        return Explanation(describe(rule), not child.held, None, (child,))
    leaf = _leaf(rule, at, tz)
    observed = leaf.observe(customer, context)
    return Explanation(describe(rule), bool(leaf.test(observed)), observed)
