"""The SQL and polars compilers beyond equivalence: errors, SQL shape, frames round trip."""

from __future__ import annotations

import pendulum
import pytest
import sqlalchemy as sa

from crmcore.adapters.frames import compile_to_polars, from_frame, to_frame
from crmcore.adapters.sql.segments import compile_to_sql, customer_query, select_customer_ids
from crmcore.domain import Customer, CustomFields, Money, Order, Organization
from crmcore.errors import InvalidValueError
from crmcore.segments import HasTag, UnsupportedRuleError, field, last_purchase

AT = pendulum.datetime(2026, 3, 15)


def test_an_unsupported_dialect_fails_when_the_rule_is_compiled() -> None:
    with pytest.raises(UnsupportedRuleError, match="mssql cannot compile Compare"):
        compile_to_sql(field("tier") == "vip", at=AT, dialect="mssql")


def test_rendering_for_an_unsupported_dialect_raises_a_crmcore_error() -> None:
    from sqlalchemy.dialects import mssql  # noqa: PLC0415 - only this test renders for MSSQL

    query = customer_query(field("owner") == "u-1", at=AT)
    with pytest.raises(UnsupportedRuleError, match="mssql"):
        query.compile(dialect=mssql.dialect())  # type: ignore[no-untyped-call]  # untyped dialect class


def test_selecting_on_an_unsupported_connection_fails_before_running() -> None:
    class FakeDialect:
        name = "oracle"

    class FakeConnection:
        dialect = FakeDialect()

    with pytest.raises(UnsupportedRuleError, match="oracle"):
        select_customer_ids(FakeConnection(), HasTag("x"), at=AT)  # type: ignore[arg-type]  # duck-typed stand-in


def test_an_enum_comparison_compiles_to_a_plain_indexable_predicate() -> None:
    from sqlalchemy.dialects import postgresql  # noqa: PLC0415 - one dialect for the SQL text

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # untyped dialect class
    sql = str(compile_to_sql(field("tier") == "vip", at=AT).compile(dialect=dialect))
    assert sql == "customers.tier = %(tier_1)s::VARCHAR"


def test_last_purchase_compiles_to_index_friendly_exists_subqueries() -> None:
    sql = str(compile_to_sql(last_purchase().within(days=30), at=AT))
    assert sql.count("EXISTS") == 1
    assert "max(" not in sql


def test_a_naive_at_is_rejected_by_the_sql_compiler() -> None:
    import datetime as dt  # noqa: PLC0415 - only this test needs a naive datetime

    with pytest.raises(InvalidValueError, match="naive"):
        compile_to_sql(HasTag("x"), at=dt.datetime(2026, 1, 1))  # noqa: DTZ001 - naive on purpose


def test_customers_round_trip_through_a_frame() -> None:
    customers = [
        Customer(
            id=f"c{i}",
            kind="organization",
            organization=Organization(legal_name="Acme"),
            tags={"vip"} if i else set(),
            custom=CustomFields({"region": "south", "flags": ("a",)}),
            created_at=AT,
            updated_at=AT,
        )
        for i in range(3)
    ]
    frame = to_frame(customers)
    assert from_frame(frame) == customers
    assert frame.get_column("custom").to_list()[0] == '{"flags":["a"],"region":"south"}'


def test_an_empty_frame_needs_its_record_type() -> None:
    with pytest.raises(InvalidValueError, match="record_type"):
        to_frame([])
    assert to_frame([], record_type=Order).columns[:3] == ["id", "customer_id", "amount"]


def test_reading_records_needs_the_document_column() -> None:
    o = Order(
        id="o1",
        customer_id="c1",
        amount=Money(1, "CNY"),
        ordered_at=AT,
        created_at=AT,
        updated_at=AT,
    )
    with pytest.raises(InvalidValueError, match="no document column"):
        from_frame(to_frame([o], documents=False), Order)


def test_a_polars_rule_names_the_related_frames_it_reads() -> None:
    rule = compile_to_polars(last_purchase().within(days=30) & HasTag("x"), at=AT)
    assert rule.sources == frozenset({"orders"})


def test_a_polars_rule_treats_missing_related_frames_as_empty() -> None:
    frame = to_frame(
        [
            Customer(
                id="c1",
                kind="organization",
                organization=Organization(legal_name="Acme"),
                created_at=AT,
                updated_at=AT,
            )
        ],
        documents=False,
    )
    rule = compile_to_polars(~last_purchase().within(days=30), at=AT)
    assert rule.filter(frame).get_column("id").to_list() == ["c1"]
    assert isinstance(sa.true(), sa.sql.elements.True_)
