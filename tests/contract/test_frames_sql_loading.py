"""Frames loaded straight from SQL equal ``to_frame`` of the same records, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pendulum
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from sqlalchemy.engine import Engine

from crmcore.adapters.frames.records import to_frame
from crmcore.adapters.sql import SqlStore, create_engine, create_schema, tables
from crmcore.adapters.sql.frames import FRAME_TABLES, read_frame
from crmcore.domain import (
    Activity,
    Case,
    Consent,
    Customer,
    CustomerId,
    CustomFields,
    CustomFieldSchema,
    FieldDef,
    Lead,
    Opportunity,
    Order,
    Person,
    PersonName,
    SurveyResponse,
    UserId,
    register_customer,
)
from crmcore.errors import InvalidValueError, StorageError
from crmcore.testing import strategies as cst

AGGREGATES: list[tuple[str, type[Any], Callable[[], st.SearchStrategy[Any]]]] = [
    ("customers", Customer, cst.customers),
    ("leads", Lead, cst.leads),
    ("opportunities", Opportunity, cst.opportunities),
    ("activities", Activity, cst.activities),
    ("cases", Case, cst.cases),
    ("orders", Order, cst.orders),
    ("survey_responses", SurveyResponse, cst.survey_responses),
    ("consents", Consent, cst.consents),
]


def _saved(engine: Engine, name: str, records: list[Any]) -> list[Any]:
    with engine.begin() as conn:  # every table of crmcore emptied
        for table in reversed(tables.metadata.sorted_tables):
            conn.execute(table.delete())
    with SqlStore(engine).unit_of_work() as uow:
        stored = getattr(uow, name).save_many([attrs.evolve(r, version=0) for r in records])
        uow.commit()
    return sorted(stored, key=lambda r: r.id)


def test_every_aggregate_table_has_a_frame() -> None:
    assert sorted(FRAME_TABLES) == sorted(name for name, _, _ in AGGREGATES)


@pytest.mark.parametrize(
    ("name", "record_type", "strategy"), AGGREGATES, ids=[name for name, _, _ in AGGREGATES]
)
def test_a_frame_loaded_from_sql_equals_to_frame_of_the_records(
    sql_engine: Engine,
    name: str,
    record_type: type[Any],
    strategy: Callable[[], st.SearchStrategy[Any]],
) -> None:
    @settings(
        max_examples=2,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(records=st.lists(strategy(), min_size=0, max_size=4, unique_by=lambda r: r.id))
    def check(records: list[Any]) -> None:
        stored = _saved(sql_engine, name, records)
        expected = to_frame(stored, record_type=record_type, documents=False)
        assert_frame_equal(read_frame(sql_engine, name), expected)

    check()


def _customer(id: str, owner: str, custom: dict[str, Any]) -> Customer:
    customer, _ = register_customer(
        id=CustomerId(id),
        person=Person(name=PersonName.parse("李娜")),
        at=pendulum.datetime(2026, 3, 1, 9),
        custom=CustomFields(custom),
    )
    return attrs.evolve(customer, owner=UserId(owner))


def test_a_where_condition_and_a_custom_schema_shape_the_loaded_frame(
    sql_engine: Engine,
) -> None:
    schema = CustomFieldSchema(
        (FieldDef(name="budget", type="decimal"), FieldDef(name="visits", type="integer"))
    )
    stored = _saved(
        sql_engine,
        "customers",
        [
            _customer("c-1", "u-ana", {"budget": "1200.5", "visits": 3}),
            _customer("c-2", "u-bo", {"visits": 1}),
            _customer("c-3", "u-ana", {}),
        ],
    )
    frame = read_frame(
        sql_engine,
        "customers",
        where=tables.customers.c.owner == "u-ana",
        custom_schema=schema,
    )
    expected = to_frame(
        [stored[0], stored[2]], record_type=Customer, documents=False, custom_schema=schema
    )
    assert_frame_equal(frame, expected)
    assert frame.select("custom_budget", "custom_visits").rows() == [
        (pl.Series([1200.5]).cast(pl.Decimal(38, 6)).item(), 3),
        (None, None),
    ]


def test_an_unknown_table_is_an_invalid_value(sql_engine: Engine) -> None:
    with pytest.raises(InvalidValueError):
        read_frame(sql_engine, "event_outbox")


def test_a_stored_value_crmcore_never_writes_is_a_storage_error() -> None:
    engine = create_engine("sqlite://")
    create_schema(engine)
    _saved(engine, "customers", [_customer("c-1", "u-ana", {})])
    with engine.begin() as conn:  # a row changed by other means
        conn.exec_driver_sql("UPDATE customers SET created_at = 'yesterday'")
    with pytest.raises(StorageError, match="read customers frame"):
        read_frame(engine, "customers")
    engine.dispose()


def test_an_encrypting_stores_frame_opened_with_its_encryptor_equals_to_frame(
    sql_engine: Engine,
) -> None:
    """Sealed addresses (``city``) and sensitive custom fields come back; shredded stay blank."""
    from crmcore.adapters.crypto import AesGcmEncryptor  # noqa: PLC0415 - the crypto extra
    from crmcore.adapters.memory import MemoryKeyStore  # noqa: PLC0415

    schema = CustomFieldSchema(
        (
            FieldDef(name="wechat_id", type="text", classification="sensitive"),
            FieldDef(name="visits", type="integer"),
        )
    )
    encryptor = AesGcmEncryptor(MemoryKeyStore())
    store = SqlStore(sql_engine, encryptor=encryptor, custom_schema=schema)

    @settings(
        max_examples=3,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        records=st.lists(cst.customers(), min_size=1, max_size=4, unique_by=lambda r: r.id),
        wechat=st.lists(st.text("abc_89", min_size=1, max_size=8), min_size=4, max_size=4),
    )
    def check(records: list[Customer], wechat: list[str]) -> None:
        records = [
            attrs.evolve(r, custom=CustomFields({"wechat_id": w, "visits": i}), version=0)
            for i, (r, w) in enumerate(zip(records, wechat, strict=False))
        ]
        with sql_engine.begin() as conn:
            for table in reversed(tables.metadata.sorted_tables):
                conn.execute(table.delete())
        with store.unit_of_work() as uow:
            stored = sorted(uow.customers.save_many(records), key=lambda r: r.id)
            uow.commit()
        expected = to_frame(stored, record_type=Customer, documents=False, custom_schema=schema)
        opened = read_frame(sql_engine, "customers", custom_schema=schema, encryptor=encryptor)
        assert_frame_equal(opened, expected)
        as_stored = read_frame(sql_engine, "customers", custom_schema=schema)
        assert as_stored.get_column("custom_wechat_id").null_count() == len(stored)
        assert as_stored.get_column("city").null_count() == len(stored)
        encryptor.shred(stored[0].id)  # crypto-shredded: its sealed values are gone for good
        with store.unit_of_work() as uow:
            shredded = [uow.customers.get(r.id) for r in stored]
        expected = to_frame(shredded, record_type=Customer, documents=False, custom_schema=schema)
        opened = read_frame(sql_engine, "customers", custom_schema=schema, encryptor=encryptor)
        assert_frame_equal(opened, expected)
        assert opened.get_column("custom_wechat_id")[0] is None

    check()
