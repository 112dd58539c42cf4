"""Segment rules compiled to SQL over the storage tables, for pushdown into the database.

:func:`compile_to_sql` turns a rule into one SQLAlchemy boolean expression
over :data:`~crmcore.adapters.sql.tables.customers`; aggregates over orders,
activities and survey answers become correlated ``EXISTS`` / scalar
subqueries that use the ``(customer_id, <timestamp>)`` indexes. The same
expression renders for SQLite, PostgreSQL and MySQL/MariaDB and selects
exactly the customers :func:`crmcore.segments.evaluate` selects:

- every clause is two-valued (a comparison on a missing value is false,
  never ``NULL``), so ``NOT`` means what it means in Python;
- text compares by code point and case-sensitively on every backend
  (``COLLATE "C"`` for ordering on PostgreSQL, a binary no-pad collation
  on MariaDB next to the plain, index-friendly comparison);
- money aggregates are summed in integer millionths, so sums and averages
  are exact everywhere (amounts are stored with 6 decimals); a rule amount
  whose millionths do not fit 64 bits is bound as a ``NUMERIC`` (a float on
  SQLite, whose sums are 64-bit integers anyway);
- nested ``And`` / ``Or`` of the same kind are flattened and wide ones are
  rendered as balanced parenthesised groups, so a rule within
  :func:`~crmcore.segments.rule.check_rule_limits` stays within SQLite's
  parser stack and expression depth;
- custom fields are read from the ``custom`` JSON column with a type check,
  so a value of another type counts as missing, as in memory.

Any other dialect raises :class:`~crmcore.segments.UnsupportedRuleError`
when the rule is compiled; a database failure while selecting raises
:class:`~crmcore.errors.StorageError` naming the operation.

May import: ``crmcore.segments``, ``crmcore.domain``, ``crmcore.errors``,
``crmcore.clock``, ``crmcore.adapters.sql``; SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from crmcore.adapters.sql.engine import register_sqlite_functions
from crmcore.adapters.sql.session import translating
from crmcore.adapters.sql.tables import (
    activities,
    consent_ledger,
    customer_tags,
    customers,
    orders,
)
from crmcore.adapters.sql.tables import survey_responses as surveys
from crmcore.clock import utc
from crmcore.domain.consent import ConsentChannel
from crmcore.domain.custom import FieldType
from crmcore.domain.ids import CustomerId
from crmcore.domain.order import OrderStatus
from crmcore.errors import InvalidValueError
from crmcore.segments.pattern import Engine, render_pattern
from crmcore.segments.rule import (
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
    UnsupportedRuleError,
    Value,
    check_rule_limits,
)
from crmcore.segments.window import Span, resolve, zone

__all__ = [
    "SUPPORTED_DIALECTS",
    "check_dialect",
    "compile_to_sql",
    "customer_query",
    "segment_operation",
    "select_customer_ids",
]

SUPPORTED_DIALECTS = frozenset({"sqlite", "postgresql", "mysql", "mariadb"})
"""The dialects every rule compiles for."""

_MICROS = 1_000_000
_INT64 = 2**63
_GROUP = 8
"""Children per parenthesised group when a wide ``And`` / ``Or`` is rendered."""
_DECIMAL_PATTERN = "^-?[0-9]+([.][0-9]+)?$"
_SYMBOL = {Op.EQ: "=", Op.NE: "<>", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">="}


def check_dialect(name: str, what: str) -> None:
    """Refuse to compile segment rules for a database they were not written for.

    Args:
        name: The SQLAlchemy dialect name (``connection.dialect.name``).
        what: What was to be compiled (a rule class name), for the message.

    Raises:
        UnsupportedRuleError: If ``name`` is not in :data:`SUPPORTED_DIALECTS`.
    """
    if name not in SUPPORTED_DIALECTS:
        raise UnsupportedRuleError(
            name, what, f"segment rules compile for {sorted(SUPPORTED_DIALECTS)} only"
        )


def _is_mysql(dialect: Dialect) -> bool:
    return dialect.name in ("mysql", "mariadb")


def _binary_collation(dialect: Dialect) -> str:
    # Exact, case- and accent-sensitive, trailing spaces significant.
    return "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"


# --------------------------------------------------------------------------- constructs
# Small SQL constructs rendered per dialect. They opt out of the statement
# cache (their SQL depends on attributes that are not bound parameters).


class _TextTest(ColumnElement[bool]):
    """An exact text comparison: ``left <op> right`` by code point."""

    type = sa.Boolean()
    inherit_cache = False

    def __init__(self, left: ColumnElement[Any], op: Op, right: Sequence[Any]) -> None:
        self.left = left
        self.operator_ = op
        self.right = [sa.bindparam(None, v, type_=sa.String()) for v in right]


@compiles(_TextTest)
def _render_text_test(element: _TextTest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_text_test_sql(element, compiler, **kw)})"


def _text_test_sql(element: _TextTest, compiler: SQLCompiler, **kw: Any) -> str:
    dialect = compiler.dialect
    check_dialect(dialect.name, f"text {element.operator_.value}")
    left = compiler.process(element.left, **kw)
    rights = [compiler.process(r, **kw) for r in element.right]
    right = rights[0] if rights else ""
    op = element.operator_
    mysql = _is_mysql(dialect)
    exact = f"{left} COLLATE {_binary_collation(dialect)}" if mysql else left
    ordered = f'{left} COLLATE "C"' if dialect.name == "postgresql" else exact
    if op in (Op.IN, Op.NOT_IN):
        members = ", ".join(rights)
        if op is Op.IN:
            plain = f"{left} IN ({members})"
            return f"({plain} AND {exact} IN ({members}))" if mysql else plain
        return f"{exact} NOT IN ({members})"
    if op is Op.EQ:
        plain = f"{left} = {right}"
        return f"({plain} AND {exact} = {right})" if mysql else plain
    if op in _SYMBOL:
        return f"{ordered} {_SYMBOL[op]} {right}"
    if op in (Op.CONTAINS, Op.STARTS_WITH):
        if dialect.name == "postgresql":
            position = f"strpos({left}, {right})"
        else:
            position = f"instr({exact}, {right})"
        return f"{position} > 0" if op is Op.CONTAINS else f"{position} = 1"
    if op is Op.MATCHES:
        # The dialect of crmcore.segments.pattern, written for this engine; SQLite runs
        # crmcore's own linear-time matcher (registered on connect by configure_engine).
        if dialect.name == "sqlite":
            pattern = _pattern_param(element, compiler, Engine.PYTHON, **kw)
            return f"crmcore_regexp({pattern}, {left})"
        if dialect.name == "postgresql":
            pattern = _pattern_param(element, compiler, Engine.POSTGRESQL, **kw)
            return f"{ordered} ~ {pattern}"
        pattern = _pattern_param(element, compiler, Engine.MARIADB, **kw)
        return f"{exact} REGEXP {pattern}"
    raise UnsupportedRuleError(dialect.name, f"text {op.value}", "no such text operator")


def _pattern_param(element: _TextTest, compiler: SQLCompiler, engine: Engine, **kw: Any) -> str:
    """Bind the rule's pattern as written for ``engine`` (SQLite binds the dialect's own)."""
    pattern = str(element.right[0].value)
    if engine is not Engine.PYTHON:
        pattern = render_pattern(pattern, engine)
    return str(compiler.process(sa.bindparam(None, pattern, type_=sa.String()), **kw))


class _JsonValue(ColumnElement[Any]):
    """A custom field of the ``custom`` JSON column, ``NULL`` unless it has the expected JSON kind.

    ``kind`` is one of ``text``, ``integer``, ``decimal``.
    """

    inherit_cache = False

    def __init__(self, column: ColumnElement[Any], name: str, kind: str) -> None:
        self.column = column
        self.name = name
        self.kind = kind
        self.type: TypeEngine[Any] = sa.String() if kind == "text" else sa.Numeric()


def _json_parts(dialect: Dialect, column: str, name: str) -> tuple[str, str, str]:
    """Return SQL for (the JSON type of the value, its raw JSON, its unquoted text)."""
    if dialect.name == "sqlite":
        path = f"'$.{name}'"
        return (
            f"json_type({column}, {path})",
            f"json_extract({column}, {path})",
            f"json_extract({column}, {path})",
        )
    if dialect.name == "postgresql":
        return (
            f"json_typeof({column} -> '{name}')",
            f"({column} -> '{name}')",
            f"({column} ->> '{name}')",
        )
    raw = f"JSON_EXTRACT({column}, '$.{name}')"
    return f"JSON_TYPE({raw})", raw, f"JSON_UNQUOTE({raw})"


_JSON_KINDS = {
    "sqlite": {"text": "'text'", "integer": "'integer'", "array": "'array'", "null": "'null'"},
    "postgresql": {"text": "'string'", "integer": "'number'", "array": "'array'", "null": "'null'"},
    "mysql": {"text": "'STRING'", "integer": "'INTEGER'", "array": "'ARRAY'", "null": "'NULL'"},
}


def _kinds(dialect: Dialect) -> dict[str, str]:
    return _JSON_KINDS["mysql" if _is_mysql(dialect) else dialect.name]


@compiles(_JsonValue)
def _render_json_value(element: _JsonValue, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_json_value_sql(element, compiler, **kw)})"


def _json_value_sql(element: _JsonValue, compiler: SQLCompiler, **kw: Any) -> str:
    dialect = compiler.dialect
    check_dialect(dialect.name, "custom field")
    column = compiler.process(element.column, **kw)
    jtype, raw, text = _json_parts(dialect, column, element.name)
    kinds = _kinds(dialect)
    if element.kind == "text":
        return f"CASE WHEN {jtype} = {kinds['text']} THEN {text} END"
    if element.kind == "integer":
        if dialect.name == "postgresql":
            value = f"CAST({text} AS NUMERIC)"
        elif _is_mysql(dialect):
            value = f"CAST({raw} AS SIGNED)"
        else:
            value = raw
        return f"CASE WHEN {jtype} = {kinds['integer']} THEN {value} END"
    if dialect.name == "postgresql":
        check, value = f"{text} ~ '{_DECIMAL_PATTERN}'", f"CAST({text} AS NUMERIC)"
    elif _is_mysql(dialect):
        check, value = f"{text} REGEXP '{_DECIMAL_PATTERN}'", f"CAST({text} AS DECIMAL(65, 30))"
    else:
        check, value = f"{text} REGEXP '{_DECIMAL_PATTERN}'", f"CAST({text} AS REAL)"
    return f"CASE WHEN {jtype} = {kinds['text']} AND {check} THEN {value} END"


class _JsonTest(ColumnElement[bool]):
    """A two-valued test on a custom field: ``is_empty``, boolean ``is`` or array ``has``."""

    type = sa.Boolean()
    inherit_cache = False

    def __init__(
        self, column: ColumnElement[Any], name: str, test: str, value: object = None
    ) -> None:
        self.column = column
        self.name = name
        self.test = test
        self.value = None if value is None else sa.bindparam(None, value, type_=sa.String())
        self.flag = value if isinstance(value, bool) else None


@compiles(_JsonTest)
def _render_json_test(element: _JsonTest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_json_test_sql(element, compiler, **kw)})"


def _json_test_sql(element: _JsonTest, compiler: SQLCompiler, **kw: Any) -> str:
    dialect = compiler.dialect
    check_dialect(dialect.name, "custom field")
    column = compiler.process(element.column, **kw)
    jtype, raw, text = _json_parts(dialect, column, element.name)
    kinds = _kinds(dialect)
    mysql = _is_mysql(dialect)
    if element.test == "empty":
        if dialect.name == "sqlite":
            length = f"json_array_length({column}, '$.{element.name}')"
        elif dialect.name == "postgresql":
            length = f"json_array_length({raw})"
        else:
            length = f"JSON_LENGTH({raw})"
        empty_text = (
            f"{text} COLLATE {_binary_collation(dialect)} = ''" if mysql else f"{text} = ''"
        )
        return (
            f"({raw} IS NULL OR {jtype} = {kinds['null']}"
            f" OR ({jtype} = {kinds['text']} AND {empty_text})"
            f" OR ({jtype} = {kinds['array']} AND {length} = 0))"
        )
    if element.test == "is":
        word = "true" if element.flag else "false"
        if dialect.name == "sqlite":
            return f"{jtype} = '{word}'"
        if dialect.name == "postgresql":
            return f"({jtype} = 'boolean' AND {text} = '{word}')"
        return f"({jtype} = 'BOOLEAN' AND {raw} = '{word}')"
    value = compiler.process(element.value, **kw) if element.value is not None else "NULL"
    # The field name is checked against [a-z][a-z0-9_]*; the value is a bound parameter.
    if dialect.name == "sqlite":
        return (
            f"({jtype} = 'array' AND EXISTS (SELECT 1 FROM json_each({column}, '$.{element.name}')"  # noqa: S608 - see above
            f" AS e WHERE e.type = 'text' AND e.value = {value}))"
        )
    if dialect.name == "postgresql":
        return (
            f"({jtype} = 'array' AND EXISTS (SELECT 1 FROM json_array_elements({raw}) AS e(v)"  # noqa: S608 - see above
            f" WHERE json_typeof(e.v) = 'string' AND (e.v #>> '{{}}') = {value}))"
        )
    return f"({jtype} = 'ARRAY' AND JSON_CONTAINS({raw}, JSON_QUOTE({value})))"


class _SqlNumber(sa.types.TypeDecorator[Decimal]):
    """A decimal bind parameter: exact where the database has decimals, a float on SQLite."""

    impl = sa.Numeric(38, 12)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Bind floats on SQLite (its decimals are doubles), decimals elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Float())
        return dialect.type_descriptor(sa.Numeric(38, 12))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Return the value as the database binds it."""
        if value is None or dialect.name != "sqlite":
            return value
        return float(value)


class _Micros(sa.types.TypeDecorator[int]):
    """An amount in millionths: an exact integer, ``NUMERIC(38, 0)`` where 64 bits may not hold it.

    On SQLite (64-bit integers only) a value beyond 64 bits is bound as a
    float: every SQLite sum of millionths is a 64-bit integer, so the
    comparison still decides the same way.
    """

    impl = sa.Numeric(38, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Bind integers on SQLite, exact decimals elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Integer())
        return dialect.type_descriptor(sa.Numeric(38, 0))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        """Return the value as the database binds it."""
        if value is None:
            return None
        if dialect.name == "sqlite":
            return value if -_INT64 <= value < _INT64 else float(value)
        return Decimal(value)


# --------------------------------------------------------------------------- compiler


def _micros(amount: Decimal) -> ColumnElement[Any]:
    return sa.bindparam(None, int(amount * _MICROS), type_=_Micros())


def _flat(node: And | Or) -> list[Rule]:
    """Return the children of ``node`` with nested nodes of the same kind spliced in, in order."""
    kind = type(node)
    flat: list[Rule] = []
    stack: list[Rule] = list(reversed(node.rules))
    while stack:
        child = stack.pop()
        if type(child) is kind:
            stack.extend(reversed(child.rules))
        else:
            flat.append(child)
    return flat


class _Parens(ColumnElement[bool]):
    """A boolean clause in parentheses that SQLAlchemy will not flatten into its parent."""

    type = sa.Boolean()
    inherit_cache = False

    def __init__(self, clause: ColumnElement[bool]) -> None:
        self.clause = clause


@compiles(_Parens)
def _render_parens(element: _Parens, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clause, **kw)})"


def _balanced(
    join: Callable[..., ColumnElement[bool]], clauses: list[ColumnElement[bool]]
) -> ColumnElement[bool]:
    """Join ``clauses`` with ``join`` as a shallow tree of parenthesised groups.

    ``a OR b OR ... (1,000 times)`` parses into a tree 1,000 deep, past SQLite's
    expression depth; groups of :data:`_GROUP` keep it logarithmic.
    """
    while len(clauses) > _GROUP:
        clauses = [_Parens(join(*clauses[i : i + _GROUP])) for i in range(0, len(clauses), _GROUP)]
    return join(*clauses)


def _span_filter(column: ColumnElement[Any], span: Span) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if span.start is not None:
        clauses.append(column >= span.start)
    if span.end is not None:
        clauses.append(column <= span.end if span.end_inclusive else column < span.end)
    return clauses


class _Compiler:
    def __init__(self, at: dt.datetime, tz: str) -> None:
        self.at = utc(at)
        self.tz = tz
        self.everything = Span(None, self.at, end_inclusive=True)

    def clip(self, window: Any) -> Span:
        if window is None:
            return self.everything
        return resolve(window, at=self.at, tz=self.tz).clipped(self.at)

    def compile(self, node: Rule) -> ColumnElement[bool]:
        if isinstance(node, And):
            return _balanced(sa.and_, [sa.true(), *(self.compile(r) for r in _flat(node))])
        if isinstance(node, Or):
            return _balanced(sa.or_, [sa.false(), *(self.compile(r) for r in _flat(node))])
        if isinstance(node, Not):
            return sa.not_(self.compile(node.rule))
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, CustomCompare):
            return self.custom(node)
        if isinstance(node, HasTag):
            tags = customer_tags.c
            return sa.exists().where(
                tags.customer_id == customers.c.id, _TextTest(tags.tag, Op.EQ, [node.tag])
            )
        if isinstance(node, InWindow):
            span = resolve(node.window, at=self.at, tz=self.tz)
            return sa.and_(sa.true(), *_span_filter(customers.c[node.field], span))
        if isinstance(node, HasConsent):
            return self.consent(node)
        return self.aggregate(node)

    def consent(self, node: HasConsent) -> ColumnElement[bool]:
        """A valid ledger record for the purpose and channel (or ``any``), not withdrawn at ``at``.

        Uses the ledger's ``(subject, seq)`` index; withdrawals are found by record id.
        """
        record = consent_ledger.alias("consent_record")
        withdrawal = consent_ledger.alias("consent_withdrawal")
        channels = sorted({node.channel.value, ConsentChannel.ANY.value})
        withdrawn = sa.exists().where(
            withdrawal.c.kind == "withdrawal",
            withdrawal.c.record_id == record.c.record_id,
            withdrawal.c.withdrawn_at <= self.at,
        )
        return sa.exists().where(
            record.c.subject == customers.c.id,
            record.c.kind == "record",
            record.c.purpose == node.purpose,
            record.c.channel.in_(channels),
            record.c.valid_from <= self.at,
            sa.or_(record.c.valid_until.is_(None), record.c.valid_until > self.at),
            sa.not_(withdrawn),
        )

    def compare(self, node: Compare) -> ColumnElement[bool]:
        spec = FIELDS[node.field]
        column: ColumnElement[Any] = customers.c[node.field]
        if node.op is Op.IS_EMPTY:
            empty = _TextTest(column, Op.EQ, [""])
            return sa.or_(column.is_(None), empty) if spec.nullable else empty
        if spec.kind is FieldKind.ENUM:
            test = _plain(column, node.op, node.value)
        elif spec.kind is FieldKind.DATETIME:
            test = _plain(column, node.op, utc(dt.datetime.fromisoformat(str(node.value))))
        else:
            test = _TextTest(column, node.op, _values(node.value))
        return sa.and_(column.is_not(None), test) if spec.nullable else test

    def custom(self, node: CustomCompare) -> ColumnElement[bool]:
        column = customers.c.custom
        name, ftype, op = node.name, node.field_type, node.op
        if op is Op.IS_EMPTY:
            return _JsonTest(column, name, "empty")
        test: ColumnElement[bool]
        if ftype is FieldType.BOOLEAN:
            test = _JsonTest(column, name, "is", node.value if op is Op.EQ else not node.value)
        elif ftype is FieldType.MULTI_CHOICE:
            test = _JsonTest(column, name, "has", node.value)
        elif ftype is FieldType.INTEGER:
            test = _plain(_JsonValue(column, name, "integer"), op, node.value)
        elif ftype is FieldType.DECIMAL:
            number = sa.bindparam(None, Decimal(str(node.value)), type_=_SqlNumber())
            test = _number_test(_JsonValue(column, name, "decimal"), op, number)
        else:
            test = _TextTest(_JsonValue(column, name, "text"), op, _values(node.value))
        return sa.func.coalesce(test, sa.false())

    def aggregate(self, node: Rule) -> ColumnElement[bool]:
        if isinstance(node, OrderCount):
            count = self.orders(node.window, None, sa.func.count())
            return _number_test(count, node.op, node.value)
        if isinstance(node, OrderTotal):
            total = self.orders(node.window, node.currency, sa.func.coalesce(_sum_micros(), 0))
            return _number_test(total, node.op, _micros(node.value))
        if isinstance(node, OrderAverage):
            # avg op v  <=>  count > 0 and sum op v * count: exact, no division.
            n = sa.func.count()
            holds = sa.and_(n > 0, _number_test(_sum_micros(), node.op, _micros(node.value) * n))
            flag = sa.case((holds, 1), else_=0)
            return self.orders(node.window, node.currency, flag) == 1
        if isinstance(node, LastOrder):
            paid = [
                orders.c.customer_id == customers.c.id,
                orders.c.status == OrderStatus.PAID.value,
            ]
            return self.last(orders.c.ordered_at, paid, node.window)
        if isinstance(node, ActivityCount):
            span = self.clip(node.window)
            count = (
                sa.select(sa.func.count())
                .select_from(activities)
                .where(
                    *self.activity_filter(node.kinds), *_span_filter(activities.c.occurred_at, span)
                )
                .scalar_subquery()
            )
            return _number_test(count, node.op, node.value)
        if isinstance(node, LastActivity):
            return self.last(
                activities.c.occurred_at, self.activity_filter(node.kinds), node.window
            )
        if isinstance(node, LatestSurveyScore):
            score = surveys.c[node.metric.value]
            latest = (
                sa.select(score)
                .where(
                    surveys.c.customer_id == customers.c.id,
                    score.is_not(None),
                    surveys.c.responded_at <= self.at,
                )
                .order_by(surveys.c.responded_at.desc(), score.desc())
                .limit(1)
                .scalar_subquery()
            )
            return sa.func.coalesce(_number_test(latest, node.op, node.value), sa.false())
        raise InvalidValueError("rule", node, "not a segment rule node")

    def activity_filter(self, kinds: Sequence[Any]) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [activities.c.customer_id == customers.c.id]
        if kinds:
            clauses.append(activities.c.kind.in_([k.value for k in kinds]))
        return clauses

    def orders(
        self, window: Any, currency: str | None, value: ColumnElement[Any]
    ) -> ColumnElement[Any]:
        where = [
            orders.c.customer_id == customers.c.id,
            orders.c.status == OrderStatus.PAID.value,
            *_span_filter(orders.c.ordered_at, self.clip(window)),
        ]
        if currency is not None:
            where.append(orders.c.currency == currency)
        return sa.select(value).select_from(orders).where(*where).scalar_subquery()

    def last(
        self, column: ColumnElement[Any], where: list[ColumnElement[bool]], window: Any
    ) -> ColumnElement[bool]:
        """The latest record at or before ``at`` lies in ``window``.

        Written as "one in the window and none after it (up to ``at``)", so
        both halves are index range scans.
        """
        span = resolve(window, at=self.at, tz=self.tz)
        table = column.table
        inside = (
            sa.exists()
            .select_from(table)
            .where(*where, *_span_filter(column, span.clipped(self.at)))
        )
        if span.end is None or span.end > self.at or (span.end == self.at and span.end_inclusive):
            return inside
        after = column > span.end if span.end_inclusive else column >= span.end
        later = sa.exists().select_from(table).where(*where, after, column <= self.at)
        return sa.and_(inside, sa.not_(later))


def _values(value: Value) -> list[Any]:
    if isinstance(value, tuple):
        return list(value)
    return [value]


def _plain(column: ColumnElement[Any], op: Op, value: Any) -> ColumnElement[bool]:
    if op is Op.IN:
        return column.in_(list(value))
    if op is Op.NOT_IN:
        return column.not_in(list(value))
    return _number_test(column, op, value)


_OPERATORS: dict[Op, Callable[[Any, Any], Any]] = {
    Op.EQ: lambda a, b: a == b,
    Op.NE: lambda a, b: a != b,
    Op.LT: lambda a, b: a < b,
    Op.LE: lambda a, b: a <= b,
    Op.GT: lambda a, b: a > b,
    Op.GE: lambda a, b: a >= b,
}


def _number_test(left: Any, op: Op, right: Any) -> ColumnElement[bool]:
    if op not in _OPERATORS:
        raise InvalidValueError("op", op.value, "not a comparison")
    result: ColumnElement[bool] = _OPERATORS[op](left, right)
    return result


class _SumMicros(ColumnElement[Any]):
    """The sum of the order amounts in millionths, without overflow on any backend.

    NUMERIC(20, 6) amounts reach 10**20 millionths, past 64 bits: PostgreSQL and
    MariaDB sum ``NUMERIC(38, 0)``; SQLite, whose ``sum()`` fails with "integer
    overflow" past 2**63, uses ``crmcore_sum_micros`` (registered with
    ``crmcore_regexp``), exact up to 2**63 and a float beyond.
    """

    type = sa.Numeric(38, 0)
    inherit_cache = False


@compiles(_SumMicros)
def _render_sum_micros(_element: _SumMicros, compiler: SQLCompiler, **kw: Any) -> str:
    micros = sa.func.round(orders.c.amount * sa.literal_column(str(_MICROS)))
    if compiler.dialect.name == "sqlite":
        return f"crmcore_sum_micros({compiler.process(micros, **kw)})"
    return str(compiler.process(sa.func.sum(sa.cast(micros, sa.Numeric(38, 0))), **kw))


def _sum_micros() -> ColumnElement[Any]:
    return _SumMicros()


def compile_to_sql(
    rule: Rule, *, at: dt.datetime, tz: str = "UTC", dialect: str | None = None
) -> ColumnElement[bool]:
    """Compile ``rule`` to a boolean SQLAlchemy expression over the ``customers`` table.

    Args:
        rule: The segment rule.
        at: The evaluation instant; windows are resolved against it and related
            records dated after it are ignored.
        tz: The IANA time zone calendar days and periods are counted in.
        dialect: The SQLAlchemy dialect name it will run on, to fail now rather
            than when the statement is compiled.

    Returns:
        An expression to put in ``select(customers.c.id).where(...)``.

    Raises:
        UnsupportedRuleError: If ``dialect`` is given and cannot run segment rules.
        InvalidValueError: If ``at`` is naive, ``tz`` unknown or ``rule`` beyond the limits
            of :func:`~crmcore.segments.rule.check_rule_limits`.

    >>> import pendulum
    >>> from crmcore.segments import field
    >>> expr = compile_to_sql(field("tier") == "vip", at=pendulum.datetime(2026, 1, 1))
    >>> str(expr)
    'customers.tier = :tier_1'
    """
    check_rule_limits(rule)
    if dialect is not None:
        check_dialect(dialect, type(rule).__name__)
    zone(tz)
    return _Compiler(at, tz).compile(rule)


def customer_query(rule: Rule, *, at: dt.datetime, tz: str = "UTC") -> sa.Select[tuple[str]]:
    """Return ``SELECT customers.id WHERE <rule> ORDER BY id`` for ``rule``.

    Raises:
        InvalidValueError: If ``at`` is naive, ``tz`` unknown or ``rule`` beyond the limits.
    """
    where = compile_to_sql(rule, at=at, tz=tz)
    return sa.select(customers.c.id).where(where).order_by(customers.c.id)


def select_customer_ids(
    connection: Connection, rule: Rule, *, at: dt.datetime, tz: str = "UTC"
) -> list[CustomerId]:
    """Run ``rule`` inside the database and return the ids of the matching customers, sorted.

    Args:
        connection: An open SQLAlchemy connection to a database holding the storage tables.
        rule: The segment rule.
        at: The evaluation instant.
        tz: The IANA time zone calendar days and periods are counted in.

    Returns:
        The matching customer ids, in ascending order.

    Raises:
        UnsupportedRuleError: If the connection's dialect cannot run segment rules.
        InvalidValueError: If ``at`` is naive, ``tz`` unknown or ``rule`` beyond the limits.
        StorageError: If the database fails (missing tables, a value or pattern it
            rejects, a lost connection ...), naming the operation and the rule's kind.
        ConcurrencyError: If the database reports a deadlock or lock timeout.
    """
    check_dialect(connection.dialect.name, type(rule).__name__)
    query = customer_query(rule, at=at, tz=tz)
    with translating(segment_operation(rule)):
        if connection.dialect.name == "sqlite":  # a connection made without configure_engine
            register_sqlite_functions(connection.connection.driver_connection)
        rows = connection.execute(query).scalars().all()
    return [CustomerId(str(r)) for r in rows]


def segment_operation(rule: Rule) -> str:
    """Return what selecting ``rule`` is called in a :class:`~crmcore.errors.StorageError`.

    >>> from crmcore.segments import HasTag
    >>> segment_operation(HasTag("vip") & HasTag("new"))
    'select segment (And rule)'
    """
    return f"select segment ({type(rule).__name__} rule)"
