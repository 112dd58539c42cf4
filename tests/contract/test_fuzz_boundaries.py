"""Fuzz every boundary: only crmcore errors escape, and whatever is accepted runs everywhere.

Entry points, each with at least 2,000 cases under ``HYPOTHESIS_PROFILE=ci``:

- ``structure`` for every payload type, on valid payloads mutated at a random path
  (a value replaced by any JSON, a key dropped or added) and on arbitrary JSON;
- every value parser, on arbitrary text;
- segment rule JSON, mutated the same way: what ``structure`` accepts runs on memory,
  polars, SQLite, PostgreSQL and MariaDB (those two when their URL is set) and every
  backend selects the same customers;
- CSV import, on arbitrary bytes: the reader and the import service.

Then one call of each on a 1 MB input stays under 200 MB of Python allocations
(``benchmarks/bench_hostile.py`` times those calls: speed is never asserted in a test).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from crmcore import domain
from crmcore.adapters.frames import select_ids, to_frame
from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import SqlStore
from crmcore.adapters.sql.segments import select_customer_ids
from crmcore.adapters.sql.tables import metadata
from crmcore.adapters.tabular import read_table
from crmcore.cli.io import import_rows
from crmcore.clock import FixedClock, parse_timestamp
from crmcore.errors import CrmError
from crmcore.merge import MergeRecord
from crmcore.segments import (
    ActivityCount,
    After,
    Between,
    Compare,
    CustomCompare,
    HasTag,
    LastOrder,
    LatestSurveyScore,
    Not,
    Op,
    OrderAverage,
    OrderTotal,
    SegmentContext,
    Within,
    compile_rule,
)
from crmcore.segments.pattern import check_pattern
from crmcore.segments.rule import Rule
from crmcore.serialization import dumps, loads, make_converter, structure, unstructure
from crmcore.services.cleaning import ColumnMapping
from crmcore.services.importing import import_customers
from crmcore.testing import strategies as cst

make_converter()  # resolves the event classes' annotations, which cst.events() needs

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
FUZZ = settings(
    max_examples=2_000 if CI else 100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
AT = pendulum.datetime(2026, 6, 1, tz="UTC")
RULE = cast(type[Any], Rule)  # a Union alias is not a type[T] to mypy

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

PAYLOADS: list[tuple[st.SearchStrategy[Any], Any]] = [
    (cst.customers(), domain.Customer),
    (cst.leads(), domain.Lead),
    (cst.opportunities(), domain.Opportunity),
    (cst.activities(), domain.Activity),
    (cst.cases(), domain.Case),
    (cst.survey_responses(), domain.SurveyResponse),
    (cst.orders(), domain.Order),
    (cst.consents(), domain.Consent),
    (cst.events(), domain.DomainEvent),
    (cst.merge_records(), MergeRecord),
    (cst.money(), domain.Money),
    (cst.person_names(), domain.PersonName),
    (cst.postal_addresses(), domain.PostalAddress),
    (cst.contact_points(), domain.ContactPoints),
    (cst.custom_fields(), domain.CustomFields),
]


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*prefix, index))


def _mutate(draw: st.DrawFn, data: Any) -> Any:
    """Replace the value at a random path, drop a key, or add one."""
    paths = list(_paths(data))
    path = draw(st.sampled_from(paths))
    how = draw(st.sampled_from(("replace", "replace", "drop", "add")))
    if not path:
        return draw(json_values) if how == "replace" else data
    parent: Any = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "drop" and isinstance(parent, dict):
        del parent[last]
    elif how == "add" and isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(json_values)
    else:
        parent[last] = draw(json_values)
    return data


@st.composite
def mutated_payloads(draw: st.DrawFn) -> tuple[Any, Any]:
    strategy, cls = draw(st.sampled_from(PAYLOADS))
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values), cls
    data = json.loads(dumps(draw(strategy)))
    for _ in range(draw(st.integers(1, 3))):
        data = _mutate(draw, data)
    return data, cls


@FUZZ
@given(mutated_payloads())
def test_structure_lets_only_crmcore_errors_escape(case: tuple[Any, Any]) -> None:
    data, cls = case
    with contextlib.suppress(CrmError):
        structure(data, cls)


PARSERS: list[Callable[[str], object]] = [
    domain.EmailAddress.parse,
    lambda t: domain.PhoneNumber.parse(t, region="CN"),
    domain.PhoneNumber.parse,
    domain.PersonName.parse,
    lambda t: domain.Money(t, "CNY"),
    lambda t: domain.Money("1", t),
    domain.Tag,
    domain.CountryCode,
    parse_timestamp,
    check_pattern,
]

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["1e1000000", "-0", "NaN", "Infinity", "\ud800", "\x00", "0001-01-01T00:00:00+14:00"]
    ),
    st.text(alphabet="0123456789+-.eE :TZ()", max_size=40),
)


@FUZZ
@given(st.integers(0, len(PARSERS) - 1), hostile_text)
def test_value_parsers_raise_only_crmcore_errors(which: int, text: str) -> None:
    with contextlib.suppress(CrmError):
        PARSERS[which](text)


# --------------------------------------------------------------------------- segment rules

DAY = pendulum.datetime(2026, 3, 1, tz="UTC")


def _customer(n: int, **extra: Any) -> domain.Customer:
    customer, _ = domain.register_customer(
        id=domain.CustomerId(f"c{n}"),
        person=domain.Person(name=domain.PersonName(family="Smith", given=f"Ann{n}")),
        at=DAY,
        custom=domain.CustomFields({"region": f"north{n}"}),
        **extra,
    )
    return customer


CUSTOMERS = [
    _customer(1, tags=["vip"], owner="u-1"),
    _customer(2, tags=["new", "高价值"], owner="u-2"),
    _customer(3),
]
ORDERS = [
    domain.Order(
        id=f"o{n}",
        customer_id=f"c{1 + n % 2}",
        amount=domain.Money(str(10**n), "CNY"),
        ordered_at=DAY.add(days=n),
        created_at=DAY,
        updated_at=DAY,
    )
    for n in range(4)
]
SEEDS: list[Rule] = [
    HasTag("vip") & ~HasTag("new"),
    Compare("display_name", Op.MATCHES, "^S.ith") | Compare("owner", Op.IN, ("u-1", "u-9")),
    OrderTotal(Op.GE, "100", currency="CNY", window=Within(days=365)),
    OrderAverage(Op.LT, "50.5", currency="CNY") & ActivityCount(Op.GE, 0),
    LastOrder(Between("2026-01-01", "9999-12-31")) | LastOrder(After("2026-03-02")),
    CustomCompare("region", domain.FieldType.TEXT, Op.STARTS_WITH, "no"),
    Not(LatestSurveyScore("nps", Op.LE, 6)),
    Compare("created_at", Op.GE, "2026-01-01T00:00:00+08:00"),
]


@pytest.fixture(scope="module")
def databases(request: pytest.FixtureRequest, sqlite_segments_engine: Engine) -> dict[str, Engine]:
    """SQLite always; PostgreSQL and MariaDB when their URL is set (and then they must work)."""
    engines = {"sqlite": sqlite_segments_engine}
    if os.environ.get("CRMCORE_TEST_POSTGRES_URL", "").strip():
        engines["postgresql"] = request.getfixturevalue("postgres_segments_engine")
    if os.environ.get("CRMCORE_TEST_MYSQL_URL", "").strip():
        engines["mariadb"] = request.getfixturevalue("mysql_segments_engine")
    for engine in engines.values():
        with engine.begin() as conn:  # another module may have left rows behind
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        store = SqlStore(engine)
        with store.unit_of_work() as uow:
            for customer in CUSTOMERS:
                uow.customers.save(customer)
            for order in ORDERS:
                uow.orders.save(order)
            uow.commit()
    return engines


@st.composite
def mutated_rules(draw: st.DrawFn) -> Any:
    data = json.loads(dumps(draw(st.sampled_from(SEEDS))))
    for _ in range(draw(st.integers(1, 2))):
        data = _mutate(draw, data)
    return data


@FUZZ
@given(data=mutated_rules())
def test_rule_json_that_structures_runs_alike_on_every_backend(
    databases: dict[str, Engine], data: Any
) -> None:
    try:
        rule: Rule = structure(data, RULE)
    except CrmError:
        return
    try:
        expected = sorted(
            compile_rule(rule, at=AT).ids(CUSTOMERS, SegmentContext.of(orders=ORDERS))
        )
    except CrmError:
        expected = None  # refused in memory: every backend must refuse it too
    answers: dict[str, list[str] | None] = {}
    try:
        answers["polars"] = list(
            select_ids(to_frame(CUSTOMERS), rule, at=AT, orders=to_frame(ORDERS))
        )
    except CrmError:
        answers["polars"] = None
    for name, engine in databases.items():
        with engine.connect() as conn:
            try:
                answers[name] = list(select_customer_ids(conn, rule, at=AT))
            except CrmError:
                answers[name] = None
    assert answers == dict.fromkeys(answers, expected), unstructure(rule)


# --------------------------------------------------------------------------- CSV import


@FUZZ
@given(
    st.binary(max_size=300)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_csv_import_of_any_bytes_raises_only_crmcore_errors(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.csv"
        path.write_bytes(content)
        with contextlib.suppress(CrmError):
            table = read_table(path)
            import_customers(
                MemoryStore(),
                import_rows(table),
                ColumnMapping.detect(list(table.headers)),
                source="fuzz.csv",
                clock=FixedClock(AT),
                region="CN",
            )


# --------------------------------------------------------------------------- 1 MB inputs

MEGABYTE = 1_000_000


def _megabyte_cases(tmp: Path) -> list[tuple[str, Callable[[], object]]]:
    wide_tags = json.dumps({"tags": "v" * MEGABYTE})
    csv_file = tmp / "big.csv"  # one row whose note is a 1 MB cell
    csv_file.write_text("name,phone,note\n张伟,13800138000," + "x" * MEGABYTE + "\n", "utf-8")
    return [
        ("Customer with a 1 MB string for tags", lambda: loads(wide_tags, domain.Customer)),
        ("1 MB email", lambda: domain.EmailAddress.parse("a" * MEGABYTE + "@example.com")),
        ("1 MB phone", lambda: domain.PhoneNumber.parse("1" * MEGABYTE, region="CN")),
        ("1 MB name", lambda: domain.PersonName.parse("张" * MEGABYTE)),
        ("1 MB amount", lambda: domain.Money("9" * MEGABYTE, "CNY")),
        ("1 MB timestamp", lambda: parse_timestamp("2" * MEGABYTE)),
        ("1 MB pattern", lambda: check_pattern("a" * MEGABYTE)),
        ("1 MB of nested rule JSON", lambda: loads('{"type":"Not","rule":' * 50_000, RULE)),
        ("1 MB of JSON list", lambda: loads(json.dumps(list(range(MEGABYTE // 8))), RULE)),
        (
            "CSV import of a 1 MB cell",
            lambda: import_customers(
                MemoryStore(),
                import_rows(table := read_table(csv_file)),
                ColumnMapping.detect(list(table.headers)),
                source="big.csv",
                clock=FixedClock(AT),
                region="CN",
            ),
        ),
    ]


def test_one_megabyte_inputs_stay_within_200_mb(tmp_path: Path) -> None:
    peaks = {}
    messages = {}
    for name, call in _megabyte_cases(tmp_path):
        tracemalloc.start()
        try:
            call()
        except CrmError as exc:
            messages[name] = len(str(exc))
        finally:
            peaks[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    assert {n: p for n, p in peaks.items() if p > 200 * 2**20} == {}
    assert {n: m for n, m in messages.items() if m > 10_000} == {}  # never the input echoed
