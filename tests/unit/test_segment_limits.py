"""Segment rules at the edges: every rule that validates runs on every backend, or is refused.

Found by fuzzing (issue 13): windows at the calendar's ends, amounts and counts
at the databases' limits, text no database can bind, database failures while
selecting, and rules too deep or too large for SQLite's parser.

PostgreSQL and MariaDB come from ``CRMCORE_TEST_POSTGRES_URL`` and
``CRMCORE_TEST_MYSQL_URL``: unset, their cases skip naming the variable; set
but unreachable, they fail. Each runs in a schema / database of its own.
"""

from __future__ import annotations

import io
import os
import sqlite3
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crmcore.adapters.frames import compile_to_polars, select_ids, to_frame
from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql.segments import select_customer_ids
from crmcore.adapters.sql.tables import customer_tags
from crmcore.cli import main
from crmcore.cli.console import Console
from crmcore.domain import Customer, CustomFields, FieldType, Money, Order, Organization
from crmcore.errors import InvalidValueError, StorageError
from crmcore.segments import (
    MAX_COUNT,
    MAX_CUSTOM_INTEGER,
    MAX_RULE_DEPTH,
    MAX_RULE_NODES,
    ActivityCount,
    After,
    And,
    Before,
    Between,
    CalendarPeriod,
    Compare,
    CustomCompare,
    HasTag,
    InWindow,
    LastOrder,
    LatestSurveyScore,
    Not,
    NotWithin,
    Op,
    Or,
    OrderAverage,
    OrderCount,
    OrderTotal,
    Rule,
    SegmentContext,
    Within,
    check_rule_limits,
    compile_rule,
    explain,
)
from crmcore.serialization import dumps

AT = pendulum.datetime(2026, 3, 15, 10, 30)
LAST_DAY = pendulum.datetime(9999, 12, 31, 20)  # already 10000-01-01 in Asia/Shanghai
ZONES = ("UTC", "Asia/Shanghai", "America/New_York")
LARGEST_AMOUNT = "99999999999999.999999"  # 14 integer digits, 6 decimals: NUMERIC(20, 6)

# --------------------------------------------------------------------------- data


def _customer(customer_id: str, *, tags: set[str], custom: dict[str, Any]) -> Customer:
    created = pendulum.datetime(2025, 6, 1)
    return Customer(
        id=customer_id,
        kind="organization",
        organization=Organization(legal_name=f"Acme {customer_id}"),
        tags=tags,
        custom=CustomFields(custom),
        created_at=created,
        updated_at=created,
    )


CUSTOMERS = [
    _customer("c1", tags={"vip"}, custom={"score": 5, "budget": "12.5", "note": "north"}),
    _customer("c2", tags=set(), custom={}),
]
ORDERS = [
    Order(
        id="o1",
        customer_id="c1",
        amount=Money("1000", "CNY"),
        ordered_at=pendulum.datetime(2026, 2, 1),
        created_at=pendulum.datetime(2026, 2, 1),
        updated_at=pendulum.datetime(2026, 2, 1),
    )
]
CONTEXT = SegmentContext.of(orders=ORDERS)

Select = Callable[..., list[str]]
"""``select(rule, tz="UTC", at=AT)`` -> the sorted ids one backend selects."""

# --------------------------------------------------------------------------- databases
# The pattern of tests/contract/conftest.py: a schema / database of one's own.

POSTGRES_VAR = "CRMCORE_TEST_POSTGRES_URL"
MYSQL_VAR = "CRMCORE_TEST_MYSQL_URL"


def _url(variable: str) -> str:
    url = os.environ.get(variable, "").strip()
    if not url:
        pytest.skip(f"set {variable} to a SQLAlchemy URL to run these tests")
    return url


def _unreachable(variable: str, exc: Exception) -> None:
    pytest.fail(f"{variable} is set but the database is unreachable: {exc}", pytrace=False)


def _postgres_schema() -> Iterator[Engine]:
    url = _url(POSTGRES_VAR)
    schema = f"crm_limits_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unreachable(POSTGRES_VAR, exc)
    engine = admin.execution_options(schema_translate_map={None: schema})
    try:
        create_schema(engine)
        yield engine
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _mysql_database() -> Iterator[Engine]:
    url = sa.make_url(_url(MYSQL_VAR))
    database = f"crm_limits_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unreachable(MYSQL_VAR, exc)
    engine = create_engine(url.set(database=database))
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE `{database}`")
        admin.dispose()


def _sqlite_database(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


def _engine(name: str, tmp_path: Path) -> Generator[Engine, None, None]:
    if name == "postgresql":
        yield from _postgres_schema()
    elif name == "mariadb":
        yield from _mysql_database()
    else:
        yield from _sqlite_database(tmp_path)


def _fill(engine: Engine) -> None:
    store = SqlStore(engine)
    with store.unit_of_work() as uow:
        for customer in CUSTOMERS:
            uow.customers.save(customer)
        for order in ORDERS:
            uow.orders.save(order)
        uow.commit()


SQL_BACKENDS = ("sqlite", "postgresql", "mariadb")
BACKENDS = ("memory", "polars", *SQL_BACKENDS)


@pytest.fixture(scope="module", params=BACKENDS)
def select(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Select]:
    """How one backend selects ids: memory, polars, SQLite, PostgreSQL or MariaDB."""
    name: str = request.param
    if name == "memory":

        def in_memory(rule: Rule, tz: str = "UTC", at: pendulum.DateTime = AT) -> list[str]:
            return sorted(compile_rule(rule, at=at, tz=tz).ids(CUSTOMERS, CONTEXT))

        yield in_memory
        return
    if name == "polars":

        def in_polars(rule: Rule, tz: str = "UTC", at: pendulum.DateTime = AT) -> list[str]:
            frames = {"orders": to_frame(ORDERS)}
            return list(select_ids(to_frame(CUSTOMERS), rule, at=at, tz=tz, **frames))

        yield in_polars
        return
    engines = _engine(name, tmp_path_factory.mktemp("limits"))
    engine = next(engines)
    _fill(engine)

    def in_database(rule: Rule, tz: str = "UTC", at: pendulum.DateTime = AT) -> list[str]:
        with engine.connect() as conn:
            return list(select_customer_ids(conn, rule, at=at, tz=tz))

    yield in_database
    engines.close()


@pytest.fixture(params=SQL_BACKENDS)
def broken_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database whose tag table was dropped after the store was set up."""
    engines = _engine(request.param, tmp_path)
    engine = next(engines)
    with engine.begin() as conn:
        customer_tags.drop(conn)  # what every HasTag rule reads
    yield engine
    engines.close()


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (LastOrder(Between("2026-01-01", "9999-12-31")), ["c1"]),
        (LastOrder(After("9999-12-31")), []),
        (LastOrder(Before("1000-01-01")), []),
        (LastOrder(Before("0001-01-01")), []),
        (LastOrder(Between("0001-01-01", "9999-12-31")), ["c1"]),
        (InWindow("created_at", After("9999-12-30")), []),
        (InWindow("created_at", Between("1000-01-01", "9999-12-31")), ["c1", "c2"]),
        (OrderCount(Op.GE, 1, After("9999-12-31")), []),
        (OrderCount(Op.GE, 1, Before("9999-12-31")), ["c1"]),
        (LastOrder(CalendarPeriod("year", 1000)), []),
        (LastOrder(CalendarPeriod("day", -1000)), []),
    ],
)
def test_windows_at_the_calendar_ends_select_like_any_other(
    select: Select, rule: Rule, tz: str, expected: list[str]
) -> None:
    assert select(rule, tz) == expected


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (InWindow("created_at", CalendarPeriod("day", 0)), []),
        (InWindow("created_at", CalendarPeriod("year", 1)), []),
        (InWindow("created_at", Within(36_600)), []),
        (InWindow("created_at", NotWithin(36_600)), ["c1", "c2"]),
        (LastOrder(NotWithin(3)), ["c1"]),
        (LastOrder(CalendarPeriod("week", 0)), []),
    ],
)
def test_windows_evaluated_on_the_last_supported_day_select_like_any_other(
    select: Select, rule: Rule, tz: str, expected: list[str]
) -> None:
    assert select(rule, tz, LAST_DAY) == expected


# --------------------------------------------------------------------------- numbers

BIG = [
    (OrderTotal(Op.LE, LARGEST_AMOUNT, "CNY"), ["c1", "c2"]),
    (OrderTotal(Op.GE, LARGEST_AMOUNT, "CNY"), []),
    (OrderTotal(Op.GT, f"-{LARGEST_AMOUNT}", "CNY"), ["c1", "c2"]),
    (OrderAverage(Op.LT, LARGEST_AMOUNT, "CNY"), ["c1"]),
    (OrderAverage(Op.EQ, LARGEST_AMOUNT, "CNY"), []),
    (OrderTotal(Op.EQ, "1000.000000", "CNY"), ["c1"]),
    (OrderCount(Op.LE, MAX_COUNT), ["c1", "c2"]),
    (OrderCount(Op.GE, MAX_COUNT), []),
    (ActivityCount(Op.LT, MAX_COUNT), ["c1", "c2"]),
    (LatestSurveyScore("nps", Op.GE, MAX_COUNT), []),
    (CustomCompare("score", FieldType.INTEGER, Op.LT, MAX_CUSTOM_INTEGER), ["c1"]),
    (CustomCompare("score", FieldType.INTEGER, Op.GT, -MAX_CUSTOM_INTEGER), ["c1"]),
    (CustomCompare("budget", FieldType.DECIMAL, Op.LT, "9" * 26), ["c1"]),
    (CustomCompare("budget", FieldType.DECIMAL, Op.GT, "0.000000000001"), ["c1"]),
]


@pytest.mark.parametrize(("rule", "expected"), BIG, ids=[str(i) for i in range(len(BIG))])
def test_numbers_at_the_limits_compare_on_every_backend(
    select: Select, rule: Rule, expected: list[str]
) -> None:
    assert select(rule) == expected


@pytest.mark.parametrize(
    ("build", "field", "why"),
    [
        (lambda: OrderCount(Op.EQ, 2**63), "count", "2**31 - 1"),
        (lambda: OrderCount(Op.EQ, MAX_COUNT + 1), "count", "2**31 - 1"),
        (lambda: ActivityCount(Op.EQ, -1), "count", "from 0"),
        (lambda: LatestSurveyScore("nps", Op.EQ, 2**31), "survey score", "2**31 - 1"),
        (lambda: OrderTotal(Op.LE, "100000000000000", "CNY"), "amount", "14 integer digits"),
        (lambda: OrderAverage(Op.LE, "1.0000001", "CNY"), "amount", "6 decimals"),
        (
            lambda: CustomCompare("score", FieldType.INTEGER, Op.EQ, 2**53),
            "custom field score value",
            "2**53 - 1",
        ),
        (
            lambda: CustomCompare("score", FieldType.INTEGER, Op.IN, [1, -(2**63)]),
            "custom field score value",
            "2**53 - 1",
        ),
        (
            lambda: CustomCompare("budget", FieldType.DECIMAL, Op.LT, "1" + "0" * 26),
            "custom field budget value",
            "10**26",
        ),
        (
            lambda: CustomCompare("budget", FieldType.DECIMAL, Op.LT, "0.0000000000001"),
            "custom field budget value",
            "12 decimals",
        ),
    ],
)
def test_numbers_beyond_the_limits_are_refused_naming_the_field(
    build: Callable[[], Rule], field: str, why: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        build()
    assert (caught.value.field, why in caught.value.reason) == (field, True)


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "ok\udfff"])
@pytest.mark.parametrize(
    "build",
    [
        lambda v: Compare("owner", Op.EQ, v),
        lambda v: Compare("display_name", Op.CONTAINS, v),
        lambda v: Compare("id", Op.STARTS_WITH, v),
        lambda v: Compare("team", Op.IN, ["t-1", v]),
        lambda v: Compare("display_name", Op.MATCHES, v),
        lambda v: CustomCompare("note", FieldType.TEXT, Op.NE, v),
        lambda v: CustomCompare("note", FieldType.CHOICE, Op.NOT_IN, [v]),
        lambda v: CustomCompare("flags", FieldType.MULTI_CHOICE, Op.CONTAINS, v),
        HasTag,
    ],
    ids=["eq", "contains", "starts_with", "in", "matches", "custom", "choice", "multi", "tag"],
)
def test_text_no_database_can_bind_is_refused_when_the_rule_is_built(
    build: Callable[[str], Rule], bad: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        build(bad)
    assert caught.value.value == bad or bad in str(caught.value.value)


@pytest.mark.parametrize(
    "rule",
    [
        Compare("owner", Op.EQ, "张伟\U0001f600"),
        CustomCompare("note", FieldType.TEXT, Op.CONTAINS, "nor\u200bth"),
    ],
)
def test_text_outside_the_basic_plane_still_runs_on_every_backend(
    select: Select, rule: Rule
) -> None:
    assert select(rule) == []


# --------------------------------------------------------------------------- database failures


def test_a_database_failure_while_selecting_is_a_storage_error_naming_the_operation(
    broken_engine: Engine,
) -> None:
    with broken_engine.connect() as conn, pytest.raises(StorageError) as caught:
        select_customer_ids(conn, HasTag("vip") | HasTag("new"), at=AT)
    assert caught.value.operation == "select segment (Or rule)"


def test_a_database_failure_in_the_repository_select_names_the_rule(
    broken_engine: Engine,
) -> None:
    store = SqlStore(broken_engine)
    with store.unit_of_work() as uow, pytest.raises(StorageError) as caught:
        uow.customers.select(HasTag("vip"), at=AT)
    assert caught.value.operation == "select segment (HasTag rule)"


def test_the_segment_command_exits_2_with_a_message_when_the_database_fails(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crm.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    create_schema(engine)
    _fill(engine)
    engine.dispose()
    with sqlite3.connect(path) as raw:  # a custom column the database cannot read as JSON
        raw.execute("UPDATE customers SET custom = '{not json' WHERE id = 'c1'")
    rule = tmp_path / "rule.json"
    rule.write_text(dumps(CustomCompare("note", FieldType.TEXT, Op.EQ, "north")), "utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["segment", "--rule", str(rule), "--db", f"sqlite:///{path}", "--at", AT.isoformat()],
        console=Console(out, err),
    )
    assert (code, err.getvalue()) == (
        2,
        "crmcore segment: error: select segment (And rule) failed: malformed JSON\n",
    )


# --------------------------------------------------------------------------- rule size


def _nested(depth: int) -> Rule:
    """A rule ``depth`` levels deep alternating And, Or and Not over aggregates."""
    rule: Rule = OrderCount(Op.GE, 1)
    for level in range(depth - 1):
        kind = level % 3
        if kind == 0:
            rule = And((rule, HasTag("vip")))
        elif kind == 1:
            rule = Or((rule, LastOrder(Within(90))))
        else:
            rule = Not(rule)
    return rule


def _depth(rule: Rule) -> int:
    if isinstance(rule, And | Or):
        return 1 + max((_depth(r) for r in rule.rules), default=0)
    if isinstance(rule, Not):
        return 1 + _depth(rule.rule)
    return 1


def _same_kind(depth: int, kind: type[And] | type[Or]) -> Rule:
    rule: Rule = HasTag("vip")
    for _ in range(depth - 1):
        rule = kind((HasTag("nobody"), rule))
    return rule


def test_a_rule_at_the_depth_limit_runs_on_every_backend(select: Select) -> None:
    rule = And((HasTag("vip"), _same_kind(MAX_RULE_DEPTH - 1, Or)))
    alternating = _nested(MAX_RULE_DEPTH)
    assert (_depth(alternating), select(rule)) == (MAX_RULE_DEPTH, ["c1"])
    assert select(alternating) == compile_rule(alternating, at=AT).ids(CUSTOMERS, CONTEXT)


def test_a_rule_at_the_node_limit_runs_on_every_backend(select: Select) -> None:
    wide = Or(tuple(OrderCount(Op.EQ, n) for n in range(1, MAX_RULE_NODES)))
    assert select(wide) == ["c1"]


def test_a_rule_deeper_than_the_limit_is_refused_by_every_backend(select: Select) -> None:
    with pytest.raises(InvalidValueError) as caught:
        select(_same_kind(MAX_RULE_DEPTH + 1, And))
    assert caught.value.reason == f"at most {MAX_RULE_DEPTH} levels of nesting per rule"


def test_a_rule_with_more_nodes_than_the_limit_is_refused_by_every_backend(
    select: Select,
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        select(Or(tuple(HasTag(f"t{n}") for n in range(MAX_RULE_NODES))))
    assert caught.value.reason == f"at most {MAX_RULE_NODES} nodes (connectives included) per rule"


def test_every_entry_point_checks_the_limits_before_any_work() -> None:
    deep = _same_kind(MAX_RULE_DEPTH + 1, Or)
    refused = []
    for entry in (
        lambda: explain(deep, CUSTOMERS[0], CONTEXT, at=AT),
        lambda: compile_to_polars(deep, at=AT),
        lambda: check_rule_limits(deep),
    ):
        with pytest.raises(InvalidValueError) as caught:
            entry()
        refused.append(caught.value.field)
    assert refused == ["rule depth"] * 3


def test_a_hostile_deep_rule_is_refused_without_recursion() -> None:
    rule: Rule = HasTag("x")
    for _ in range(100_000):
        rule = Not(rule)
    with pytest.raises(InvalidValueError) as caught:
        check_rule_limits(rule)
    assert caught.value.value == f"{MAX_RULE_DEPTH + 1}+ levels"


# --------------------------------------------------------------------------- sums past 64 bits

LARGEST = Money("99999999999999.999999", "CNY")  # 10**20 millionths, past 2**63


@pytest.mark.parametrize("backend", ["memory", "polars", *SQL_BACKENDS])
def test_order_sums_past_64_bits_run_on_every_backend(backend: str, tmp_path: Path) -> None:
    # SQLite's sum() failed with "integer overflow" for two such orders.
    day = pendulum.datetime(2026, 2, 1)
    big = [
        Order(
            id=f"b{n}",
            customer_id="c2",
            amount=LARGEST,
            ordered_at=day,
            created_at=day,
            updated_at=day,
        )
        for n in range(3)
    ]
    rules: list[Rule] = [
        OrderTotal(Op.GE, LARGEST.amount, currency="CNY"),
        OrderTotal(Op.LT, 2000, currency="CNY"),
        OrderAverage(Op.GE, LARGEST.amount, currency="CNY"),
        OrderAverage(Op.LT, 2000, currency="CNY"),
    ]
    if backend == "memory":
        context = SegmentContext.of(orders=[*ORDERS, *big])
        found = [sorted(compile_rule(r, at=AT).ids(CUSTOMERS, context)) for r in rules]
    elif backend == "polars":
        every = to_frame([*ORDERS, *big])
        found = [list(select_ids(to_frame(CUSTOMERS), r, at=AT, orders=every)) for r in rules]
    else:
        engines = _engine(backend, tmp_path)
        engine = next(engines)
        _fill(engine)
        with SqlStore(engine).unit_of_work() as uow:
            for order in big:
                uow.orders.save(order)
            uow.commit()
        with engine.connect() as conn:
            found = [list(select_customer_ids(conn, r, at=AT)) for r in rules]
        engines.close()
    assert found == [["c2"], ["c1"], ["c2"], ["c1"]]
