"""Exporting and importing records: the envelope, bad lines, idempotence, progress, CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pendulum
import pytest

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.transfer import (
    CSV_KINDS,
    RecordKind,
    count_records,
    csv_columns,
    export_lines,
    export_records,
    import_records,
    parse_kinds,
    parse_line,
    record_line,
)
from crmcore.domain import (
    Activity,
    ActivityKind,
    Customer,
    CustomerId,
    EmailAddress,
    Money,
    Order,
    Organization,
    Person,
    PersonName,
    PhoneNumber,
    PostalAddress,
    UserId,
    assign_owner,
    register_customer,
)
from crmcore.errors import ConfigurationError, PayloadError, Problem
from crmcore.ports import Store
from crmcore.serialization import dumps

AT = pendulum.datetime(2026, 3, 1, 9)
HEADER = '{"crmcore":"export","format":1}'


def customer(id: str, name: str = "李娜", **kw: Any) -> Customer:
    registered, _ = register_customer(
        id=CustomerId(id), person=Person(name=PersonName.parse(name)), at=AT, **kw
    )
    return registered


def order(id: str, customer_id: str = "c-1") -> Order:
    return Order(
        id=id,
        customer_id=customer_id,
        amount=Money("99.00", "CNY"),
        ordered_at=AT,
        created_at=AT,
        updated_at=AT,
    )


def activity(id: str) -> Activity:
    return Activity(
        id=id,
        kind=ActivityKind.CALL,
        subject="follow-up call",
        customer_id=CustomerId("c-1"),
        occurred_at=AT,
        due_at=AT.add(days=1),
        created_at=AT,
        updated_at=AT,
    )


def stored(store: Store, *records: Any) -> list[Any]:
    kinds = {Customer: RecordKind.CUSTOMERS, Order: RecordKind.ORDERS}
    kinds[Activity] = RecordKind.ACTIVITIES
    with store.unit_of_work() as uow:
        saved = [kinds[type(record)].repository(uow).save(record) for record in records]
        uow.commit()
    return saved


def lines_of(store: Store, kinds: str = "all") -> list[str]:
    return list(export_lines(store, kinds))


# --- the envelope -------------------------------------------------------------------------


def test_an_export_starts_with_the_header_and_puts_each_record_in_an_envelope() -> None:
    store = MemoryStore()
    (li_na,) = stored(store, customer("c-1"))

    header, line = lines_of(store, "customers")

    assert header == HEADER
    assert json.loads(line) == {"kind": "customers", "record": json.loads(dumps(li_na))}


def test_a_mixed_export_lists_customers_first_then_each_kind_by_id() -> None:
    store = MemoryStore()
    stored(store, order("r-2"), order("r-1"), customer("c-2"), customer("c-1"), activity("a-1"))

    kinds_and_ids = [
        (json.loads(line)["kind"], json.loads(line)["record"]["id"]) for line in lines_of(store)[1:]
    ]

    assert kinds_and_ids == [
        ("customers", "c-1"),
        ("customers", "c-2"),
        ("activities", "a-1"),
        ("orders", "r-1"),
        ("orders", "r-2"),
    ]


def test_a_mixed_file_imports_every_kind_into_its_repository() -> None:
    source = MemoryStore()
    stored(source, customer("c-1"), order("r-1"), activity("a-1"))
    target = MemoryStore()

    report = import_records(target, lines_of(source))

    assert dict(report.stored_by_kind) == {
        RecordKind.CUSTOMERS: 1,
        RecordKind.ACTIVITIES: 1,
        RecordKind.ORDERS: 1,
    }
    assert lines_of(target) == lines_of(source)


def test_a_single_kind_export_imports_too() -> None:
    source = MemoryStore()
    stored(source, order("r-1"), customer("c-1"))
    target = MemoryStore()

    report = import_records(target, lines_of(source, "orders"))

    assert (report.stored, lines_of(target)) == (1, lines_of(source, "orders"))


def test_concatenated_exports_import_as_one_file() -> None:
    source = MemoryStore()
    stored(source, customer("c-1"), order("r-1"))
    joined = lines_of(source, "customers") + lines_of(source, "orders")
    target = MemoryStore()

    report = import_records(target, joined)

    assert (report.stored, report.issues, lines_of(target)) == (2, (), lines_of(source))


def test_bare_customer_lines_of_the_old_export_import_when_their_kind_is_given() -> None:
    source = MemoryStore()
    (li_na,) = stored(source, customer("c-1"))
    target = MemoryStore()

    report = import_records(target, [dumps(li_na)], kind=RecordKind.CUSTOMERS)

    assert (report.stored, lines_of(target)) == (1, lines_of(source))


def test_a_bare_line_without_a_kind_is_reported_as_not_an_export_line() -> None:
    (li_na,) = stored(MemoryStore(), customer("c-1"))

    report = import_records(MemoryStore(), [HEADER, dumps(li_na)])

    (issue,) = report.issues
    assert (issue.line, issue.problems[0].path, report.rejected) == (2, "$", 1)


def test_a_header_of_a_newer_format_stops_the_import() -> None:
    with pytest.raises(PayloadError) as raised:
        import_records(MemoryStore(), ['{"crmcore":"export","format":2}'])

    assert raised.value.paths == ("$.format",)


def test_a_line_reads_back_as_the_record_it_was_written_from() -> None:
    (li_na,) = stored(MemoryStore(), customer("c-1", emails=[EmailAddress("li.na@example.com")]))

    parsed = parse_line(record_line(RecordKind.CUSTOMERS, li_na))

    assert parsed is not None
    assert (parsed.kind, parsed.record) == (RecordKind.CUSTOMERS, li_na)


# --- bad lines ----------------------------------------------------------------------------


def test_a_bad_line_is_reported_with_its_number_and_every_problem_and_good_lines_are_stored() -> (
    None
):
    source = MemoryStore()
    good_1, good_2 = stored(source, customer("c-1"), customer("c-2"))
    broken = json.loads(record_line(RecordKind.CUSTOMERS, customer("c-3")))
    broken["record"]["tier"] = "platinum"
    broken["record"]["created_at"] = "2026-03-01 09:00"
    lines = [
        HEADER,
        record_line(RecordKind.CUSTOMERS, good_1),
        json.dumps(broken),
        "",
        "{not json",
        '{"kind":"contacts","record":{}}',
        record_line(RecordKind.CUSTOMERS, good_2),
    ]
    target = MemoryStore()

    report = import_records(target, lines)

    assert (report.lines, report.stored, report.rejected) == (5, 2, 3)
    assert [(i.line, i.kind, i.id) for i in report.issues] == [
        (3, RecordKind.CUSTOMERS, "c-3"),
        (5, None, None),
        (6, None, None),
    ]
    assert [p.path for p in report.issues[0].problems] == ["$.record.tier", "$.record.created_at"]
    assert [p.path for p in report.issues[2].problems] == ["$.kind"]
    assert lines_of(target) == lines_of(source)


def test_an_envelope_with_an_extra_key_and_a_bad_record_reports_both() -> None:
    line = json.dumps({"kind": "orders", "record": {"id": "r-1"}, "note": "x"})

    with pytest.raises(PayloadError) as raised:
        parse_line(line)

    assert raised.value.problems[0] == Problem("$", "unexpected key 'note'")
    assert "$.record.customer_id" in raised.value.paths


def test_a_value_the_database_cannot_store_rejects_its_line_only() -> None:
    engine = create_engine("sqlite://")
    create_schema(engine)
    too_long = customer("c-" + "9" * 200)
    lines = [
        HEADER,
        record_line(RecordKind.CUSTOMERS, customer("c-1")),
        record_line(RecordKind.CUSTOMERS, too_long),
    ]

    report = import_records(SqlStore(engine), lines)

    with SqlStore(engine).unit_of_work() as uow:
        count = uow.customers.count()
    (issue,) = report.issues
    assert (report.stored, report.rejected, count) == (1, 1, 1)
    assert (issue.line, issue.id, issue.problems[0].path) == (3, too_long.id, "$.record.id")
    engine.dispose()


# --- idempotence and versions -------------------------------------------------------------


def test_importing_the_same_file_twice_counts_the_records_as_already_stored() -> None:
    source = MemoryStore()
    stored(source, customer("c-1"), order("r-1"), activity("a-1"))
    lines = lines_of(source)
    target = MemoryStore()

    first = import_records(target, lines)
    second = import_records(target, lines)

    assert (first.stored, first.already) == (3, 0)
    assert (second.stored, second.already, second.issues) == (0, 3, ())
    assert lines_of(target) == lines


def test_a_record_stored_with_other_content_is_a_conflict_and_stays_as_stored() -> None:
    source = MemoryStore()
    stored(source, customer("c-1", name="李娜"))
    target = MemoryStore()
    stored(target, customer("c-1", name="王伟"))
    before = lines_of(target)

    report = import_records(target, lines_of(source))

    (issue,) = report.issues
    assert (report.conflicts, report.stored, issue.line, issue.id) == (1, 0, 2, "c-1")
    assert lines_of(target) == before


def test_a_record_repeated_in_one_file_is_stored_once() -> None:
    line = record_line(RecordKind.ORDERS, stored(MemoryStore(), order("r-1"))[0])

    report = import_records(MemoryStore(), [HEADER, line, line])

    assert (report.stored, report.already) == (1, 1)


def test_a_record_saved_several_times_comes_back_at_its_version_with_every_field() -> None:
    source = MemoryStore()
    (first,) = stored(source, customer("c-1"))
    moved, _ = assign_owner(first, UserId("u-bo"), at=AT.add(hours=1))
    (second,) = stored(source, moved)
    target = MemoryStore()

    report = import_records(target, lines_of(source))

    with target.unit_of_work() as uow:
        copy = uow.customers.get(CustomerId("c-1"))
    assert (second.version, report.stored) == (2, 1)
    assert copy == second


def test_a_record_stored_meanwhile_by_someone_else_is_checked_instead_of_overwritten() -> None:
    source = MemoryStore()
    stored(source, customer("c-1"), customer("c-2"))
    target = MemoryStore()

    def lines_while_someone_stores_c2() -> Iterator[str]:
        for number, line in enumerate(lines_of(source)):
            if number == 2:
                stored(target, customer("c-2", name="王伟"))
            yield line

    report = import_records(target, lines_while_someone_stores_c2())

    assert (report.stored, report.conflicts, [i.id for i in report.issues]) == (1, 1, ["c-2"])


# --- options ------------------------------------------------------------------------------


def test_a_dry_run_counts_what_would_be_stored_and_stores_nothing() -> None:
    source = MemoryStore()
    stored(source, customer("c-1"), order("r-1"))
    line = lines_of(source)[1]
    target = MemoryStore()

    report = import_records(target, [*lines_of(source), line], dry_run=True, batch_size=1)

    assert (report.dry_run, report.stored, report.already) == (True, 2, 1)
    assert count_records(target, "all") == 0


def test_a_limit_imports_the_first_record_lines_only() -> None:
    source = MemoryStore()
    stored(source, customer("c-1"), customer("c-2"), customer("c-3"))

    report = import_records(MemoryStore(), lines_of(source), limit=2)

    assert (report.lines, report.stored) == (2, 2)


def test_import_progress_is_told_the_lines_done_after_each_batch() -> None:
    source = MemoryStore()
    stored(source, *(order(f"r-{n}") for n in range(5)))
    calls: list[int] = []

    import_records(MemoryStore(), lines_of(source), batch_size=2, progress=calls.append)

    assert calls == [2, 4, 5]


def test_export_progress_is_told_the_records_done_every_thousand_and_at_the_end() -> None:
    source = MemoryStore()
    stored(source, *(order(f"r-{n:04d}") for n in range(2500)))
    calls: list[int] = []

    counts = export_records(source, "orders", io.StringIO(), progress=calls.append)

    assert (calls, counts) == ([1000, 2000, 2500], {RecordKind.ORDERS: 2500})


# --- kinds --------------------------------------------------------------------------------


def test_kinds_read_from_repeated_and_comma_separated_names_in_export_order() -> None:
    assert parse_kinds(["orders, customers", "ORDERS"]) == (
        RecordKind.CUSTOMERS,
        RecordKind.ORDERS,
    )


def test_contacts_are_not_a_kind_of_their_own_and_the_error_says_where_they_are() -> None:
    with pytest.raises(ConfigurationError, match="exported inside their customers"):
        parse_kinds("contacts")


# --- CSV ----------------------------------------------------------------------------------


def csv_export(store: Store, kind: str) -> list[dict[str, str]]:
    out = io.StringIO(newline="")
    export_records(store, kind, out, format="csv")
    return list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))


def test_customer_csv_has_the_documented_columns_with_the_primary_contact_points() -> None:
    store = MemoryStore()
    shanghai = PostalAddress(country="CN", province="上海市", city="上海市", postcode="200000")
    stored(
        store,
        customer(
            "c-1",
            emails=[EmailAddress("li.na@example.com"), EmailAddress("na@example.cn")],
            phones=[PhoneNumber.parse("+8613800138000")],
            addresses=[shanghai],
            tags=["vip", "上海"],
        ),
    )
    stored(
        store,
        register_customer(
            id=CustomerId("c-2"), organization=Organization(legal_name="腾达科技"), at=AT
        )[0],
    )

    first, second = csv_export(store, "customers")

    assert list(first) == [
        "id",
        "kind",
        "name",
        "company",
        "email",
        "phone",
        "city",
        "country",
        "tier",
        "lifecycle_stage",
        "owner",
        "tags",
        "merged_into",
        "created_at",
        "updated_at",
    ]
    assert (first["name"], first["email"], first["phone"], first["city"], first["tags"]) == (
        "李娜",
        "li.na@example.com",
        "+8613800138000",
        "上海市",
        "vip;上海",
    )
    assert (second["kind"], second["name"], second["company"]) == ("organization", "", "腾达科技")


def test_order_and_activity_csv_rows_flatten_money_and_timestamps() -> None:
    store = MemoryStore()
    stored(store, order("r-1"), activity("a-1"))

    (row,) = csv_export(store, "orders")
    (act,) = csv_export(store, "activities")

    assert (row["amount"], row["currency"], row["ordered_at"]) == (
        "99.00",
        "CNY",
        "2026-03-01T09:00:00+00:00",
    )
    assert (act["kind"], act["due_at"], act["completed_at"]) == (
        "call",
        "2026-03-02T09:00:00+00:00",
        "",
    )
    assert list(act) == list(csv_columns(RecordKind.ACTIVITIES))


def test_csv_of_a_kind_without_flat_columns_names_the_kinds_that_have_them() -> None:
    with pytest.raises(ConfigurationError) as raised:
        export_records(MemoryStore(), "leads", io.StringIO(), format="csv")

    assert all(kind.value in str(raised.value) for kind in CSV_KINDS)


def test_csv_of_several_kinds_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="one kind of record per file"):
        export_records(MemoryStore(), "customers,orders", io.StringIO(), format="csv")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown export format 'xml'"):
        export_records(MemoryStore(), "customers", io.StringIO(), format="xml")  # type: ignore[arg-type]
