"""Segment rules compiled to Spark SQL column expressions over a customers DataFrame.

The mirror of :mod:`crmcore.adapters.frames.segments` (the polars compiler)
for Spark: :func:`compile_to_spark` turns a rule into a :class:`SparkRule`,
one boolean :class:`pyspark.sql.Column` over the customers DataFrame plus
the per-customer aggregates it needs (counts, sums, latest timestamps),
computed from the orders / activities / surveys DataFrames by ``groupBy``
and joined on before filtering. The DataFrames have the columns of
:func:`crmcore.adapters.frames.to_frame` (``spark.createDataFrame(frame.to_arrow())``).

It selects exactly the customers :func:`crmcore.segments.evaluate` selects:
every clause is two-valued (nulls become false before ``~``); text compares
by code point (Spark compares UTF-8 bytes); instants are compared as
microseconds since the epoch, whatever the session's time zone; money is
``decimal(38, 6)`` and custom decimals ``decimal(38, 12)``; casts are
``try_cast`` so that ANSI mode (Spark 4's default) never fails a query on a
custom value of the wrong type; ``matches`` runs the pattern dialect of
:mod:`crmcore.segments.pattern` rendered for Java's engine
(:attr:`~crmcore.segments.pattern.Engine.SPARK`).

May import: ``crmcore.segments``, ``crmcore.domain``, ``crmcore.errors``,
``crmcore.clock``; pyspark.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Hashable, Sequence
from decimal import Decimal
from typing import Any

import attrs
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

from crmcore.adapters.spark._errors import spark_errors
from crmcore.clock import utc
from crmcore.domain.custom import FieldType
from crmcore.domain.ids import CustomerId
from crmcore.domain.order import OrderStatus
from crmcore.errors import InvalidValueError
from crmcore.segments.pattern import Engine, render_pattern
from crmcore.segments.rule import (
    DECIMAL_TEXT,
    FIELDS,
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
from crmcore.segments.window import Span, resolve, zone

__all__ = ["SparkRule", "compile_to_spark", "select_ids"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# The rule module's decimal text, anchored at the very end (Java's ``$`` also matches before
# a final line break).
_DECIMAL_TEXT = f"^{DECIMAL_TEXT.pattern}\\z"
_MONEY = "decimal(38,6)"
_CUSTOM_DECIMAL = "decimal(38,12)"
_PAID = OrderStatus.PAID.value


def _micros(value: dt.datetime) -> int:
    v = utc(value)
    plain = dt.datetime(
        v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=dt.UTC
    )
    delta = plain - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _instant(value: dt.datetime) -> Column:
    """An instant as a timestamp literal, exact to the microsecond in any session time zone."""
    return F.timestamp_micros(F.lit(_micros(value)))


def _in_span(column: Column, span: Span) -> Column:
    test = F.lit(True)
    if span.start is not None:
        test = test & (column >= _instant(span.start))
    if span.end is not None:
        end = _instant(span.end)
        test = test & (column <= end if span.end_inclusive else column < end)
    return test


_OPERATORS: dict[Op, Callable[[Any, Any], Any]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


def _compare(left: Column, op: Op, right: Any) -> Column:
    if op not in _OPERATORS:
        raise InvalidValueError("op", op.value, "not a comparison")
    value = _OPERATORS[op](left, right)
    assert isinstance(value, Column)  # noqa: S101 - Column overloads every comparison
    return value


def _members(value: Value) -> list[Any]:
    return list(value) if isinstance(value, tuple) else [value]


def _text_test(column: Column, op: Op, value: Value) -> Column:
    if op in (Op.IN, Op.NOT_IN):
        inside = column.isin([str(v) for v in _members(value)])
        return inside if op is Op.IN else ~inside
    if op is Op.CONTAINS:
        return column.contains(F.lit(str(value)))
    if op is Op.STARTS_WITH:
        return column.startswith(F.lit(str(value)))
    if op is Op.MATCHES:
        return column.rlike(render_pattern(str(value), Engine.SPARK))
    return _compare(column, op, F.lit(value))


def _all(columns: Sequence[Column], combine: Callable[[Column, Column], Column]) -> Column:
    """Combine balanced, so 2,000 clauses make a tree 11 deep, not 2,000."""
    if len(columns) == 1:
        return columns[0]
    middle = len(columns) // 2
    return combine(_all(columns[:middle], combine), _all(columns[middle:], combine))


@attrs.frozen
class _Aggregate:
    """A per-customer value computed from a related DataFrame, joined as column ``name``."""

    name: str
    source: str
    build: Callable[[DataFrame], DataFrame]
    fill: Any = None


class _Compiler:
    def __init__(self, at: dt.datetime, tz: str) -> None:
        self.at = utc(at)
        self.tz = tz
        self.aggregates: list[_Aggregate] = []
        self.names: dict[Hashable, str] = {}

    def clip(self, window: Any) -> Span:
        if window is None:
            return Span(None, self.at, end_inclusive=True)
        return resolve(window, at=self.at, tz=self.tz).clipped(self.at)

    def aggregate(
        self,
        key: Hashable,
        source: str,
        build: Callable[[DataFrame], DataFrame],
        fill: Any = None,
    ) -> str:
        """Return the column of the aggregate ``key`` names, adding it the first time."""
        name = self.names.get(key)
        if name is None:
            name = f"__segment_{len(self.aggregates)}"
            self.names[key] = name
            self.aggregates.append(_Aggregate(name, source, build, fill))
        return name

    def compile(self, node: Rule) -> Column:
        if isinstance(node, And):
            if not node.rules:
                return F.lit(True)
            return _all([self.compile(child) for child in node.rules], operator.and_)
        if isinstance(node, Or):
            if not node.rules:
                return F.lit(False)
            return _all([self.compile(child) for child in node.rules], operator.or_)
        if isinstance(node, Not):
            return ~self.compile(node.rule)
        return F.coalesce(self.leaf(node), F.lit(False))

    def leaf(self, node: Rule) -> Column:
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, CustomCompare):
            return self.custom(node)
        if isinstance(node, HasTag):
            return F.array_contains(F.col("tags"), node.tag)
        if isinstance(node, InWindow):
            return _in_span(F.col(node.field), resolve(node.window, at=self.at, tz=self.tz))
        if isinstance(node, OrderCount | OrderTotal | OrderAverage | LastOrder):
            return self.orders(node)
        if isinstance(node, ActivityCount | LastActivity):
            return self.activities(node)
        if isinstance(node, LatestSurveyScore):
            return self.survey(node)
        if isinstance(node, HasConsent):
            return self.consent(node)
        raise InvalidValueError("rule", node, "not a segment rule node")

    def consent(self, node: HasConsent) -> Column:
        """Whether the customer holds a consent span covering the purpose and channel at ``at``.

        The spans are those of :func:`crmcore.privacy.consent.consent_spans` (the columns
        of :data:`crmcore.adapters.frames.segments.CONSENT_SPAN_SCHEMA`); a span for
        channel ``any`` covers every channel, as in memory and SQL.
        """
        at = _instant(self.at)
        channels = sorted({node.channel.value, "any"})
        valid = (
            (F.col("purpose") == F.lit(node.purpose))
            & F.col("channel").isin(channels)
            & (F.col("valid_from") <= at)
            & (F.col("valid_until").isNull() | (F.col("valid_until") > at))
            & (F.col("withdrawn_at").isNull() | (F.col("withdrawn_at") > at))
        )
        name = self.aggregate(
            ("consent", node.purpose, node.channel.value),
            "consents",
            lambda f: f.where(valid).groupBy("customer_id").agg(F.count(F.lit(1))),
            0,
        )
        return F.col(name) > 0

    def compare(self, node: Compare) -> Column:
        spec = FIELDS[node.field]
        column = F.col(node.field)
        if node.op is Op.IS_EMPTY:
            return column.isNull() | (column == "")
        if spec.kind is FieldKind.DATETIME:
            value = _instant(dt.datetime.fromisoformat(str(node.value)))
            test = _compare(column, node.op, value)
        else:
            test = _text_test(column, node.op, node.value)
        return column.isNotNull() & test if spec.nullable else test

    def custom(self, node: CustomCompare) -> Column:
        name, ftype, op = node.name, node.field_type, node.op
        source = F.col("custom")
        # The first character of the raw JSON token tells its type; the key
        # pattern cannot match inside a string (inner quotes are escaped).
        found = F.regexp_extract(source, f'[{{,]"{re.escape(name)}":(.)', 1)
        kind = F.when(found != "", found)
        text = F.get_json_object(source, f"$.{name}")
        if op is Op.IS_EMPTY:
            return (
                kind.isNull()
                | (kind == "n")
                | ((kind == '"') & (text == ""))
                | ((kind == "[") & (text == "[]"))
            )
        if ftype is FieldType.BOOLEAN:
            wanted = node.value if op is Op.EQ else not node.value
            return kind == ("t" if wanted else "f")
        if ftype is FieldType.MULTI_CHOICE:
            items = F.from_json(F.when(kind == "[", text), "array<string>")
            return (kind == "[") & F.array_contains(items, str(node.value))
        if ftype is FieldType.INTEGER:
            number = F.when(kind.isin(list("-0123456789")), text.try_cast("long"))
            if op in (Op.IN, Op.NOT_IN):
                inside = number.isin([int(v) for v in _members(node.value)])
                return number.isNotNull() & (inside if op is Op.IN else ~inside)
            return _compare(number, op, F.lit(node.value))
        if ftype is FieldType.DECIMAL:
            valid = (kind == '"') & text.rlike(_DECIMAL_TEXT)
            number = F.when(valid, text.try_cast(_CUSTOM_DECIMAL))
            return _compare(number, op, F.lit(str(Decimal(str(node.value)))).cast(_CUSTOM_DECIMAL))
        value = F.when(kind == '"', text)
        return value.isNotNull() & _text_test(value, op, node.value)

    def orders(self, node: OrderCount | OrderTotal | OrderAverage | LastOrder) -> Column:
        paid = F.col("status") == _PAID
        if isinstance(node, LastOrder):
            window = resolve(node.window, at=self.at, tz=self.tz)
            cutoff = _instant(self.at)
            name = self.aggregate(
                ("last order",),
                "orders",
                lambda f: (
                    f.where(paid & (F.col("ordered_at") <= cutoff))
                    .groupBy("customer_id")
                    .agg(F.max("ordered_at"))
                ),
            )
            return F.col(name).isNotNull() & _in_span(F.col(name), window)
        span = self.clip(node.window)
        where = paid & _in_span(F.col("ordered_at"), span)
        if isinstance(node, OrderCount):
            name = self.aggregate(
                ("order count", span),
                "orders",
                lambda f: f.where(where).groupBy("customer_id").agg(F.count(F.lit(1))),
                0,
            )
            return _compare(F.col(name), node.op, F.lit(node.value))
        where = where & (F.col("currency") == node.currency)
        target = F.lit(str(node.value)).cast(_MONEY)
        amount = F.col("amount").cast(_MONEY)
        total = self.aggregate(
            ("order total", span, node.currency),
            "orders",
            lambda f: f.where(where).groupBy("customer_id").agg(F.sum(amount)),
            Decimal(0),
        )
        if isinstance(node, OrderTotal):
            return _compare(F.col(total).cast(_MONEY), node.op, target)
        count = self.aggregate(
            ("order count", span, node.currency),
            "orders",
            lambda f: f.where(where).groupBy("customer_id").agg(F.count(F.lit(1))),
            0,
        )
        # avg op v  <=>  count > 0 and total op v * count: exact, no division.
        scaled = (F.col(count).cast("decimal(20,0)") * target).cast(_MONEY)
        return (F.col(count) > 0) & _compare(F.col(total).cast(_MONEY), node.op, scaled)

    def activities(self, node: ActivityCount | LastActivity) -> Column:
        kinds = [k.value for k in node.kinds]
        of_kind = F.col("kind").isin(kinds) if kinds else F.lit(True)
        if isinstance(node, LastActivity):
            window = resolve(node.window, at=self.at, tz=self.tz)
            cutoff = _instant(self.at)
            name = self.aggregate(
                ("last activity", tuple(kinds)),
                "activities",
                lambda f: (
                    f.where(of_kind & (F.col("occurred_at") <= cutoff))
                    .groupBy("customer_id")
                    .agg(F.max("occurred_at"))
                ),
            )
            return F.col(name).isNotNull() & _in_span(F.col(name), window)
        span = self.clip(node.window)
        where = of_kind & _in_span(F.col("occurred_at"), span)
        name = self.aggregate(
            ("activity count", tuple(kinds), span),
            "activities",
            lambda f: f.where(where).groupBy("customer_id").agg(F.count(F.lit(1))),
            0,
        )
        return _compare(F.col(name), node.op, F.lit(node.value))

    def survey(self, node: LatestSurveyScore) -> Column:
        metric = node.metric.value
        cutoff = _instant(self.at)
        name = self.aggregate(
            ("latest survey", metric),
            "surveys",
            lambda f: (
                f.where(F.col(metric).isNotNull() & (F.col("responded_at") <= cutoff))
                .groupBy("customer_id")
                # The latest answer; on a tie the highest score (as polars' sort_by().last()).
                .agg(F.max(F.struct("responded_at", metric)).getField(metric))
            ),
        )
        return _compare(F.col(name), node.op, F.lit(node.value))


@attrs.frozen
class SparkRule:
    """A rule compiled for Spark at one ``at`` and time zone.

    Attributes:
        rule: The rule.
        expression: The boolean column over the prepared customers DataFrame.
    """

    rule: Rule
    expression: Column
    _aggregates: tuple[_Aggregate, ...] = attrs.field(alias="aggregates")

    @property
    def sources(self) -> frozenset[str]:
        """Which related DataFrames the rule reads (orders, activities, surveys, consents)."""
        return frozenset(a.source for a in self._aggregates)

    def prepare(
        self,
        customers: DataFrame,
        *,
        orders: DataFrame | None = None,
        activities: DataFrame | None = None,
        surveys: DataFrame | None = None,
        consents: DataFrame | None = None,
    ) -> DataFrame:
        """Return the customers with the aggregate columns the expression reads.

        A related DataFrame not given counts as empty (counts 0, totals 0, no
        latest record).
        """
        frames = {
            "orders": orders,
            "activities": activities,
            "surveys": surveys,
            "consents": consents,
        }
        result = customers
        for agg in self._aggregates:
            frame = frames[agg.source]
            if frame is None:
                result = result.withColumn(agg.name, F.lit(agg.fill))
                continue
            per_customer = agg.build(frame)
            renamed = per_customer.toDF("__customer_id", agg.name)
            result = result.join(
                renamed, result["id"] == renamed["__customer_id"], how="left"
            ).drop("__customer_id")
            if agg.fill is not None:
                result = result.withColumn(agg.name, F.coalesce(F.col(agg.name), F.lit(agg.fill)))
        return result

    def filter(
        self,
        customers: DataFrame,
        *,
        orders: DataFrame | None = None,
        activities: DataFrame | None = None,
        surveys: DataFrame | None = None,
        consents: DataFrame | None = None,
    ) -> DataFrame:
        """Return the customers (original columns) in the segment, lazily."""
        with spark_errors():
            columns = list(customers.columns)
            prepared = self.prepare(
                customers,
                orders=orders,
                activities=activities,
                surveys=surveys,
                consents=consents,
            )
            return prepared.where(self.expression).select(*columns)


def compile_to_spark(rule: Rule, *, at: dt.datetime, tz: str = "UTC") -> SparkRule:
    """Compile ``rule`` to a Spark column expression (and the aggregates it needs).

    Args:
        rule: The segment rule.
        at: The evaluation instant; windows are resolved against it and related
            records dated after it are ignored.
        tz: The IANA time zone calendar days and periods are counted in.

    Returns:
        The compiled rule; use :meth:`SparkRule.filter` or :func:`select_ids`.

    Raises:
        InvalidValueError: If ``at`` is naive, ``tz`` unknown or ``rule`` beyond the limits
            of :func:`~crmcore.segments.rule.check_rule_limits`.
    """
    check_rule_limits(rule)
    zone(tz)
    compiler = _Compiler(at, tz)
    expression = compiler.compile(rule)
    return SparkRule(rule, expression, tuple(compiler.aggregates))


def select_ids(
    customers: DataFrame,
    rule: Rule,
    *,
    at: dt.datetime,
    tz: str = "UTC",
    orders: DataFrame | None = None,
    activities: DataFrame | None = None,
    surveys: DataFrame | None = None,
    consents: DataFrame | None = None,
) -> list[CustomerId]:
    """Return the sorted ids of the customers in the segment ``rule``.

    ``consents`` holds consent spans (see :func:`crmcore.adapters.frames.consents_frame`);
    without it, no customer has consent.

    Raises:
        InvalidValueError: If ``at`` is naive, ``tz`` unknown or ``rule`` beyond the limits.
    """
    compiled = compile_to_spark(rule, at=at, tz=tz)
    found = compiled.filter(
        customers, orders=orders, activities=activities, surveys=surveys, consents=consents
    )
    with spark_errors():
        rows = found.select("id").collect()
    return sorted(CustomerId(row["id"]) for row in rows)
