"""One rule, one answer: memory, SQLite, PostgreSQL, MariaDB and polars select the same ids.

Hypothesis draws a time zone, a batch of customers with orders, activities
and survey answers (timestamps clustered on window boundaries, text that
differs only in case, accents or trailing spaces, custom values of the
wrong type) and random rules; every backend must select exactly the ids the
in-memory evaluation selects at one fixed ``at``.

PostgreSQL and MariaDB come from ``CRMCORE_TEST_POSTGRES_URL`` and
``CRMCORE_TEST_MYSQL_URL``: unset, their tests skip naming the variable;
set but unreachable, they fail. Each runs in a schema / database of its
own, and each example's rows are inserted in a transaction rolled back
afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pendulum
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection, Engine

from crmcore.adapters.frames import consents_frame, select_ids, to_frame
from crmcore.adapters.sql import mapping as m
from crmcore.adapters.sql.segments import select_customer_ids
from crmcore.adapters.sql.tables import consent_ledger
from crmcore.domain import (
    Activity,
    ActivityKind,
    ConsentChannel,
    ConsentId,
    CountryCode,
    Customer,
    CustomerId,
    CustomerKind,
    CustomFields,
    FieldType,
    LifecycleStage,
    Money,
    Order,
    OrderStatus,
    Organization,
    Person,
    PersonName,
    Priority,
    SourceChannel,
    SurveyResponse,
    TeamId,
    Tier,
    UserId,
)
from crmcore.privacy.consent import (
    ConsentRecord,
    ConsentWithdrawal,
    Jurisdiction,
    LedgerEntry,
    consent_spans,
)
from crmcore.segments import (
    FIELDS,
    MAX_COUNT,
    MAX_CUSTOM_INTEGER,
    ActivityCount,
    After,
    And,
    Before,
    Between,
    CalendarPeriod,
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
    NotWithin,
    Op,
    Or,
    OrderAverage,
    OrderCount,
    OrderTotal,
    PeriodUnit,
    Rule,
    SegmentContext,
    SurveyMetric,
    Within,
    compile_rule,
    explain,
)
from crmcore.segments.rule import CUSTOM_OPS
from crmcore.serialization import structure, unstructure

AT = pendulum.datetime(2026, 3, 15, 10, 30, 0)
PURPOSES = ("marketing", "profiling")
ZONES = ("UTC", "Asia/Shanghai", "America/New_York")
DAYS = (0, 1, 7, 30, 90, 365)

# --------------------------------------------------------------------------- data


def _boundaries(tz: str) -> list[pendulum.DateTime]:
    local = AT.in_timezone(tz)
    marks = [AT, local.start_of("day"), local.start_of("week"), local.start_of("month")]
    marks += [local.start_of("month").subtract(months=1), local.start_of("year")]
    marks += [local.subtract(days=d) for d in DAYS]
    marks += [pendulum.datetime(2026, 1, 1, tz=tz), pendulum.datetime(2026, 1, 2, tz=tz)]
    return [m.in_timezone("UTC") for m in marks]


def instants(tz: str) -> st.SearchStrategy[pendulum.DateTime]:
    """Timestamps around ``AT``, often exactly on (or a microsecond off) a window boundary."""
    near = st.builds(
        lambda b, shift: b.add(microseconds=shift),
        st.sampled_from(_boundaries(tz)),
        st.sampled_from([0, 0, -1, 1]),
    )
    anywhere = st.integers(-400 * 86_400, 30 * 86_400).map(lambda s: AT.add(seconds=s))
    return st.one_of(near, anywhere)


OWNERS = ("u-a", "u-b", "U-A", "u-é", "u-e", "u-a ")
TEXTS = (
    "",
    "north",
    "North",
    "nörth",
    "no",
    "a b",
    "x%_y",
    "南方",
    "north ",
    "b",
    "ab",
    # newlines: '.' never matches one and '$' is the very end, on every backend
    "north\n",
    "a\nb",
)
DECIMALS = ("0", "12.5", "-3", "1000", "999.99", "abc", "1e3", "0.5")
INTEGERS = (-5, 0, 3, 10, 1000)
CHOICES = ("a", "b", "c")
DATES = ("2026-03-01", "2025-12-31", "2026-03-15")
CUSTOM_NAMES = ("region", "budget", "score", "active", "flags", "since")
TAGS = ("vip", "b2b", "café", "高价值", "new")
NAMES = (("Anna", "Smith"), ("anna", "Smith"), ("Änna", "Li"), ("伟", "张"), ("Bo", "O'Neil"))


def _custom_value() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(TEXTS),
        st.sampled_from(DECIMALS),
        st.sampled_from(INTEGERS),
        st.booleans(),
        st.lists(st.sampled_from(CHOICES), unique=True, max_size=3).map(lambda v: tuple(sorted(v))),
        st.sampled_from(DATES),
    )


@st.composite
def customer_batches(
    draw: st.DrawFn, *, max_customers: int
) -> tuple[str, list[Customer], SegmentContext]:
    """A time zone, customers and their related records."""
    tz = draw(st.sampled_from(ZONES))
    when = instants(tz)
    count = draw(st.integers(1, max_customers))
    customers, orders, activities, surveys = [], [], [], []
    ledger: list[LedgerEntry] = []
    for i in range(count):
        cid = f"c{i:03d}"
        kind = draw(st.sampled_from(list(CustomerKind)))
        given_name, family = draw(st.sampled_from(NAMES))
        created = draw(when)
        person = Person(name=PersonName(family=family, given=given_name))
        org = Organization(legal_name=f"{family} {given_name} Ltd")
        customers.append(
            Customer(
                id=cid,
                kind=kind,
                person=person if kind is CustomerKind.PERSON else None,
                organization=org if kind is CustomerKind.ORGANIZATION else None,
                tier=draw(st.sampled_from(list(Tier))),
                priority=draw(st.sampled_from(list(Priority))),
                lifecycle_stage=draw(st.sampled_from(list(LifecycleStage))),
                source=draw(st.sampled_from(list(SourceChannel)[:4])),
                owner=draw(st.none() | st.sampled_from(OWNERS).map(UserId)),
                team=draw(st.none() | st.sampled_from(("t-1", "t-2")).map(TeamId)),
                country=draw(st.none() | st.sampled_from(("CN", "US")).map(CountryCode)),
                tags=draw(st.frozensets(st.sampled_from(TAGS), max_size=3)),
                custom=CustomFields(
                    draw(
                        st.dictionaries(st.sampled_from(CUSTOM_NAMES), _custom_value(), max_size=4)
                    )
                ),
                created_at=created,
                updated_at=created.add(seconds=draw(st.integers(0, 10**7))),
            )
        )
        for j in range(draw(st.integers(0, 4))):
            t = draw(when)
            orders.append(
                Order(
                    id=f"{cid}-o{j}",
                    customer_id=cid,
                    amount=Money(
                        draw(st.sampled_from(("0", "10", "10.5", "99.99", "0.001", "1000"))),
                        draw(st.sampled_from(("CNY", "USD"))),
                    ),
                    status=draw(st.sampled_from(list(OrderStatus))),
                    ordered_at=t,
                    created_at=t,
                    updated_at=t,
                )
            )
        for j in range(draw(st.integers(0, 4))):
            t = draw(when)
            activities.append(
                Activity(
                    id=f"{cid}-a{j}",
                    kind=draw(st.sampled_from(list(ActivityKind))),
                    customer_id=CustomerId(cid),
                    occurred_at=t,
                    created_at=t,
                    updated_at=t,
                )
            )
        for j in range(draw(st.integers(0, 3))):
            t = draw(when)
            nps = draw(st.sampled_from((None, 0, 6, 7, 9, 10)))
            csat = draw(st.sampled_from((None, 1, 3, 5)))
            surveys.append(
                SurveyResponse(
                    id=f"{cid}-s{j}",
                    customer_id=cid,
                    nps=nps,
                    csat=csat,
                    ces=4 if nps is None and csat is None else None,
                    responded_at=t,
                    created_at=t,
                    updated_at=t,
                )
            )
        for j in range(draw(st.integers(0, 3))):
            t = draw(when)
            until = draw(st.none() | st.sampled_from(DAYS[1:]))
            record = ConsentRecord(
                id=ConsentId(f"{cid}-k{j}"),
                subject=CustomerId(cid),
                purpose=draw(st.sampled_from(PURPOSES)),
                channel=draw(st.sampled_from(list(ConsentChannel))),
                jurisdiction=draw(st.sampled_from(list(Jurisdiction))),
                captured_at=t,
                valid_until=None if until is None else t.add(days=until),
            )
            ledger.append(record)
            withdrawn = draw(st.none() | st.sampled_from(DAYS))
            if withdrawn is not None:
                ledger.append(
                    ConsentWithdrawal(
                        record_id=record.id,
                        subject=record.subject,
                        withdrawn_at=t.add(days=withdrawn),
                    )
                )
    context = SegmentContext.of(
        orders=orders, activities=activities, surveys=surveys, consents=consent_spans(ledger)
    )
    return tz, customers, context


# --------------------------------------------------------------------------- rules

# Dates and offsets at the calendar's ends: windows saturate there on every backend.
EDGE_DATES = ("1000-01-01", "9999-12-31", "0001-01-01")
windows = st.one_of(
    st.sampled_from((*DAYS, 36_600)).map(Within),
    st.sampled_from((*DAYS, 36_600)).map(NotWithin),
    st.builds(
        CalendarPeriod,
        st.sampled_from(list(PeriodUnit)),
        st.integers(-2, 1) | st.sampled_from((-1000, 1000)),
    ),
    st.sampled_from(("2026-01-01", "2026-03-14", "2025-12-31", *EDGE_DATES)).map(Before),
    st.sampled_from(("2026-01-01", "2026-03-14", "2025-12-31", *EDGE_DATES)).map(After),
    st.sampled_from(
        (
            ("2026-01-01", "2026-03-15"),
            ("2025-06-01", "2025-12-31"),
            ("2026-01-01", "9999-12-31"),
            ("0001-01-01", "2025-12-31"),
        )
    ).map(lambda p: Between(*p)),
)
TEXT_VALUES: dict[str, tuple[str, ...]] = {
    "id": ("c000", "c001", "C001", "c00", "c1"),
    "display_name": ("Anna Smith", "anna Smith", "Smith Anna", "张伟", "Li Änna", "A"),
    "owner": OWNERS,
    "team": ("t-1", "t-2", "T-1"),
    "country": ("CN", "US", "cn", "DE"),
    "merged_into": ("c000",),
}
FRAGMENTS = ("", "a", "A", "-", "é", "张", "Smith", "u-", "n", "%", "_")
PATTERNS = (
    "^u-[a-b]$",
    "a",
    "^[A-Z]",
    "é|张",
    "^$",
    "b+",
    "th ?$",
    "^c0{2}[0-9]",
    # the dialect's edges: '.' and newlines, '$' before a final newline, counted repeats
    # from zero, negated classes, groups, escapes
    "^a.b$",
    "h$",
    "^.{2}$",
    "n{0,3}o",
    "[^a-z ]",
    "(no|南)",
    "^[a-z]+ ?$",
    "x%_",
    "\\.",
)


def _text_value(op: Op, pool: tuple[str, ...]) -> st.SearchStrategy[Any]:
    if op in (Op.IN, Op.NOT_IN):
        return st.lists(st.sampled_from(pool), min_size=1, max_size=3)
    if op in (Op.CONTAINS, Op.STARTS_WITH):
        return st.sampled_from(FRAGMENTS + pool)
    if op is Op.MATCHES:
        return st.sampled_from(PATTERNS)
    if op is Op.IS_EMPTY:
        return st.none()
    return st.sampled_from(pool)


@st.composite
def compares(draw: st.DrawFn) -> Compare:
    name = draw(st.sampled_from(sorted(FIELDS)))
    spec = FIELDS[name]
    op = draw(st.sampled_from(sorted(spec.ops)))
    if spec.kind is FieldKind.ENUM:
        if op in (Op.IN, Op.NOT_IN):
            value: Any = draw(st.lists(st.sampled_from(spec.choices), min_size=1, max_size=3))
        else:
            value = draw(st.sampled_from(spec.choices))
    elif spec.kind is FieldKind.DATETIME:
        value = draw(instants("UTC")).isoformat()
    else:
        value = draw(_text_value(op, TEXT_VALUES[name]))
    return Compare(name, op, value)


def _custom_value_for(field_type: FieldType, op: Op) -> st.SearchStrategy[Any]:
    if op is Op.IS_EMPTY:
        return st.none()
    if field_type is FieldType.INTEGER:
        one: st.SearchStrategy[Any] = st.sampled_from(
            (*INTEGERS, MAX_CUSTOM_INTEGER, -MAX_CUSTOM_INTEGER)
        )
    elif field_type is FieldType.DECIMAL:
        one = st.sampled_from(
            ("0", "12.5", "-3", "1000", "0.25", "999.990", "9" * 26, "-0.000000000001")
        )
    elif field_type is FieldType.BOOLEAN:
        one = st.booleans()
    elif field_type is FieldType.MULTI_CHOICE:
        return st.sampled_from((*CHOICES, "d"))
    elif field_type is FieldType.DATE:
        one = st.sampled_from(DATES)
    elif field_type is FieldType.DATETIME:
        one = st.sampled_from(("2026-03-01T00:00:00+00:00", "2025-01-01T08:00:00+08:00"))
    else:
        return _text_value(op, TEXTS)
    if op in (Op.IN, Op.NOT_IN):
        return st.lists(one, min_size=1, max_size=3)
    return one


@st.composite
def custom_compares(draw: st.DrawFn) -> CustomCompare:
    name = draw(st.sampled_from(CUSTOM_NAMES))
    field_type = draw(st.sampled_from(list(FieldType)))
    op = draw(st.sampled_from(sorted(CUSTOM_OPS[field_type])))
    return CustomCompare(name, field_type, op, draw(_custom_value_for(field_type, op)))


numeric_ops = st.sampled_from([Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE])
amounts = st.sampled_from(
    ("0", "10", "10.5", "20.5", "110.49", "1000", "0.0005", "99999999999999.999999")
)
counts = st.integers(0, 3) | st.just(MAX_COUNT)
kinds = st.lists(st.sampled_from(list(ActivityKind)), max_size=2)

leaves = st.one_of(
    compares(),
    custom_compares(),
    st.sampled_from((*TAGS, "cafe", "VIP")).map(HasTag),
    st.builds(InWindow, st.sampled_from(["created_at", "updated_at"]), windows),
    st.builds(OrderCount, numeric_ops, counts, st.none() | windows),
    st.builds(
        OrderTotal, numeric_ops, amounts, st.sampled_from(["CNY", "USD"]), st.none() | windows
    ),
    st.builds(OrderAverage, numeric_ops, amounts, st.sampled_from(["CNY"]), st.none() | windows),
    st.builds(LastOrder, windows),
    st.builds(ActivityCount, numeric_ops, counts, st.none() | windows, kinds),
    st.builds(LastActivity, windows, kinds),
    st.builds(
        LatestSurveyScore, st.sampled_from(list(SurveyMetric)), numeric_ops, st.integers(0, 10)
    ),
    st.builds(HasConsent, st.sampled_from(PURPOSES), st.sampled_from(list(ConsentChannel))),
)


def rules() -> st.SearchStrategy[Rule]:
    """Random rule trees of up to 6 leaves."""
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(And),
            st.lists(children, max_size=3).map(Or),
            children.map(Not),
        ),
        max_leaves=6,
    )


# --------------------------------------------------------------------------- backends

Batch = tuple[str, list[Customer], SegmentContext]
Selector = Callable[[Batch, list[Rule]], list[list[str]]]


def in_memory(batch: Batch, rule_list: list[Rule]) -> list[list[str]]:
    tz, customers, context = batch
    return [sorted(compile_rule(r, at=AT, tz=tz).ids(customers, context)) for r in rule_list]


def with_polars(batch: Batch, rule_list: list[Rule]) -> list[list[str]]:
    tz, customers, context = batch
    frames = {
        "orders": to_frame(
            [o for os_ in context.orders.values() for o in os_], record_type=Order, documents=False
        ),
        "activities": to_frame(
            [a for as_ in context.activities.values() for a in as_],
            record_type=Activity,
            documents=False,
        ),
        "surveys": to_frame(
            [s for ss in context.surveys.values() for s in ss],
            record_type=SurveyResponse,
            documents=False,
        ),
    }
    frames["consents"] = consents_frame([s for ss in context.consents.values() for s in ss])
    frame = to_frame(customers, documents=False)
    return [[str(i) for i in select_ids(frame, r, at=AT, tz=tz, **frames)] for r in rule_list]


def _rows(mapping: m.EntityMapping[Any], records: list[Any]) -> list[dict[str, Any]]:
    rows = [{"id": r.id, "version": 1, **mapping.columns(r), "document": {}} for r in records]
    # Columns the rules never read (bookkeeping the repository maintains) get a neutral value.
    for column in mapping.table.columns:
        if column.nullable or column.name in rows[0]:
            continue
        neutral = 0 if column.type.python_type is int else ""
        for row in rows:
            row[column.name] = neutral
    return rows


def _insert(conn: Connection, batch: Batch) -> None:
    _, customers, context = batch
    conn.execute(m.CUSTOMERS.table.insert(), _rows(m.CUSTOMERS, customers))
    tag_rows = [{"customer_id": c.id, "tag": t.name} for c in customers for t in c.tags]
    if tag_rows:
        conn.execute(sa.insert(m.CUSTOMERS.children[2].table), tag_rows)
    for mapping, groups in (
        (m.ORDERS, context.orders),
        (m.ACTIVITIES, context.activities),
        (m.SURVEY_RESPONSES, context.surveys),
    ):
        records = [r for group in groups.values() for r in group]
        if records:
            conn.execute(mapping.table.insert(), _rows(mapping, records))
    ledger_rows: list[dict[str, Any]] = []
    spans = [s for group in context.consents.values() for s in group]
    for n, span in enumerate(spans):
        record_id = f"k{n}"
        ledger_rows.append(
            {
                **dict.fromkeys(c.name for c in consent_ledger.c if c.name != "seq"),
                "kind": "record",
                "record_id": record_id,
                "subject": span.customer_id,
                "purpose": span.purpose,
                "channel": span.channel.value,
                "legal_basis": "consent",
                "jurisdiction": "PIPL",
                "captured_at": span.valid_from,
                "valid_from": span.valid_from,
                "valid_until": span.valid_until,
            }
        )
        if span.withdrawn_at is not None:
            ledger_rows.append(
                {
                    **dict.fromkeys(c.name for c in consent_ledger.c if c.name != "seq"),
                    "kind": "withdrawal",
                    "record_id": record_id,
                    "subject": span.customer_id,
                    "withdrawn_at": span.withdrawn_at,
                }
            )
    if ledger_rows:
        conn.execute(consent_ledger.insert(), ledger_rows)


def in_database(engine: Engine) -> Selector:
    def select(batch: Batch, rule_list: list[Rule]) -> list[list[str]]:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                _insert(conn, batch)
                return [sorted(select_customer_ids(conn, r, at=AT, tz=batch[0])) for r in rule_list]
            finally:
                transaction.rollback()

    return select


# The engines (sqlite_/postgres_/mysql_segments_engine) are fixtures of conftest.py:
# each backend in a schema / database of its own.


# --------------------------------------------------------------------------- tests

# Example counts keep this module near a minute on two cores under HYPOTHESIS_PROFILE=ci;
# each example checks a batch of customers against several rules at once.
_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large]


def _at_most(examples: int) -> int:
    return min(settings().max_examples, examples)


_FAST = settings(max_examples=_at_most(200), suppress_health_check=_SLOW_DATA)
_DB = settings(max_examples=_at_most(60), suppress_health_check=_SLOW_DATA)


def _check(selector: Selector, batch: Batch, rule_list: list[Rule]) -> None:
    expected = in_memory(batch, rule_list)
    actual = selector(batch, rule_list)
    for rule, want, got in zip(rule_list, expected, actual, strict=True):
        assert got == want, f"rule {unstructure(rule)} in {batch[0]}"


@_FAST
@given(customer_batches(max_customers=8), st.lists(rules(), min_size=1, max_size=4))
def test_polars_selects_the_same_customers_as_memory(batch: Batch, rule_list: list[Rule]) -> None:
    _check(with_polars, batch, rule_list)


@_FAST
@given(batch=customer_batches(max_customers=8), rule_list=st.lists(rules(), min_size=1, max_size=4))
def test_sqlite_selects_the_same_customers_as_memory(
    sqlite_segments_engine: Engine, batch: Batch, rule_list: list[Rule]
) -> None:
    _check(in_database(sqlite_segments_engine), batch, rule_list)


@_DB
@given(
    batch=customer_batches(max_customers=12), rule_list=st.lists(rules(), min_size=4, max_size=8)
)
def test_postgresql_selects_the_same_customers_as_memory(
    postgres_segments_engine: Engine, batch: Batch, rule_list: list[Rule]
) -> None:
    _check(in_database(postgres_segments_engine), batch, rule_list)


@_DB
@given(
    batch=customer_batches(max_customers=12), rule_list=st.lists(rules(), min_size=4, max_size=8)
)
def test_mariadb_selects_the_same_customers_as_memory(
    mysql_segments_engine: Engine, batch: Batch, rule_list: list[Rule]
) -> None:
    _check(in_database(mysql_segments_engine), batch, rule_list)


@settings(max_examples=_at_most(60), suppress_health_check=_SLOW_DATA)
@given(customer_batches(max_customers=4), rules())
def test_explain_agrees_with_the_compiled_rule(batch: Batch, rule: Rule) -> None:
    tz, customers, context = batch
    compiled = compile_rule(rule, at=AT, tz=tz)
    for customer in customers:
        assert explain(rule, customer, context, at=AT, tz=tz).held == compiled(customer, context)


@settings(max_examples=_at_most(100))
@given(rules())
def test_every_rule_survives_a_json_round_trip(rule: Rule) -> None:
    assert structure(unstructure(rule), Rule) == rule  # type: ignore[arg-type]  # a Union alias


def test_the_boundaries_are_aware_instants() -> None:
    assert all(b.tzinfo is not None for b in _boundaries("Asia/Shanghai"))
    assert isinstance(AT, dt.datetime)
