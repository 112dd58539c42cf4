from __future__ import annotations

import pendulum
import pytest

from crmcore.domain import CustomerKind
from crmcore.errors import ConfigurationError
from crmcore.services.cleaning import (
    ROW_LINE,
    CleanRow,
    ColumnMapping,
    IssueKind,
    OnInvalid,
    clean_rows,
)

AT = pendulum.datetime(2026, 11, 1)


def clean(*rows: dict[str, str], on_invalid: OnInvalid = OnInvalid.DROP_VALUE) -> list[CleanRow]:
    mapping = ColumnMapping.detect([h for h in rows[0] if h != ROW_LINE])
    return list(
        clean_rows(rows, mapping, source="crm.csv", at=AT, region="CN", on_invalid=on_invalid)
    )


def test_chinese_headers_are_recognised() -> None:
    mapping = ColumnMapping.detect(["姓名", "手机号", "电子邮件", "公司名称", "出生日期", "备注"])
    assert dict(mapping.columns) == {
        "name": "姓名",
        "company": "公司名称",
        "email": "电子邮件",
        "phone": "手机号",
        "birth_date": "出生日期",
    }


def test_english_headers_are_recognised_regardless_of_case_and_spacing() -> None:
    mapping = ColumnMapping.detect(["First Name", "LAST_NAME", "E-mail", "Zip Code"])
    assert dict(mapping.columns) == {
        "given_name": "First Name",
        "family_name": "LAST_NAME",
        "email": "E-mail",
        "postcode": "Zip Code",
    }


def test_a_file_without_any_name_column_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no name column"):
        clean({"email": "a@example.com"})


def test_phones_and_dates_are_normalised_and_reported_as_changes() -> None:
    (row,) = clean({"姓名": "张伟", "手机": "138 0013 8000", "生日": "1988/2/29"})
    assert row.customer is not None
    assert str(row.customer.points.primary_phone) == "+8613800138000"
    assert [(i.field, i.kind) for i in row.issues] == [
        ("phone", IssueKind.CHANGED),
        ("birth_date", IssueKind.CHANGED),
    ]


def test_every_problem_of_a_bad_row_is_reported_with_its_field() -> None:
    (row,) = clean(
        {"name": "", "phone": "12345", "email": "bad", "dob": "1988-02-30"},
        on_invalid=OnInvalid.REJECT_ROW,
    )
    assert row.rejected
    assert sorted(i.field for i in row.issues if i.kind is IssueKind.REJECTED) == [
        "email",
        "name",
        "phone",
    ]


def test_without_a_name_or_company_the_row_is_rejected_whatever_the_policy() -> None:
    (row,) = clean({"name": "", "phone": "12345", "email": "bad"})
    assert row.rejected
    assert [(i.field, i.kind) for i in row.issues] == [
        ("email", IssueKind.DROPPED),
        ("phone", IssueKind.DROPPED),
        ("name", IssueKind.REJECTED),
        ("email", IssueKind.MISSING),
    ]


def test_an_impossible_birth_date_rejects_the_row_when_asked_to() -> None:
    (row,) = clean(
        {"name": "王芳", "email": "wf@example.com", "dob": "1990-02-30"},
        on_invalid=OnInvalid.REJECT_ROW,
    )
    assert (row.rejected, row.issues[0].field, row.issues[0].reason) == (
        True,
        "birth_date",
        "no such date",
    )


def test_an_impossible_birth_date_is_dropped_and_the_customer_kept() -> None:
    (row,) = clean({"name": "王芳", "email": "wf@example.com", "dob": "1990-02-30"})
    assert row.customer is not None
    assert row.customer.person is not None
    assert row.customer.person.birth_date is None
    assert [(i.field, i.value, i.kind) for i in row.issues] == [
        ("birth_date", "1990-02-30", IssueKind.DROPPED)
    ]


def test_a_valid_name_and_email_survive_a_bad_phone() -> None:
    (row,) = clean({"name": "李娜", "email": "li.na@example.com", "phone": "12345"})
    assert row.customer is not None
    assert str(row.customer.points.primary_email) == "li.na@example.com"
    assert row.customer.points.phones == ()


def test_undecodable_bytes_in_a_phone_drop_the_phone_only() -> None:
    (row,) = clean({"name": "李娜", "email": "li.na@example.com", "phone": "138\ufffd"})
    assert row.customer is not None
    assert row.customer.points.phones == ()
    assert [(i.field, i.kind) for i in row.issues] == [("phone", IssueKind.DROPPED)]


def test_a_rejected_row_keeps_the_row_as_read_and_its_line() -> None:
    raw = {"name": "", "email": "x@example.com", ROW_LINE: "7"}
    (row,) = clean(raw)
    assert (row.source, {i.line for i in row.issues}) == (raw, {7})


def test_a_row_with_mojibake_is_rejected_naming_the_column() -> None:
    (row,) = clean({"name": "\ufffd\ufffd", "email": "x@example.com"})
    assert row.rejected
    assert row.issues[0].field == "name"


def test_rows_sharing_a_phone_are_duplicates_of_the_first() -> None:
    rows = clean(
        {"name": "张伟", "phone": "13800138000", "email": ""},
        {"name": "Zhang Wei", "phone": "+86 138 0013 8000", "email": ""},
    )
    assert [r.duplicate_of for r in rows] == [None, 1]


def test_a_company_without_a_person_becomes_an_organization_customer() -> None:
    (row,) = clean({"公司": "深圳市腾达科技有限公司", "邮箱": "sales@tengda.example.cn"})
    assert row.customer is not None
    assert row.customer.kind is CustomerKind.ORGANIZATION


def test_the_same_row_always_gets_the_same_customer_id() -> None:
    first = clean({"name": "李娜", "email": "Li.Na@example.com"})[0].customer
    again = clean({"name": "李娜", "email": "Li.Na@example.com"})[0].customer
    assert first is not None
    assert again is not None
    assert first.id == again.id


def test_missing_contact_details_are_flagged_but_the_row_is_kept() -> None:
    (row,) = clean({"name": "王芳", "email": ""})
    assert not row.rejected
    assert [(i.field, i.kind) for i in row.issues] == [("email", IssueKind.MISSING)]


def test_rows_are_numbered_from_one_after_the_header() -> None:
    rows = clean({"name": "A"}, {"name": "B"}, {"name": "C"})
    assert [r.row for r in rows] == [1, 2, 3]


def test_a_repeated_email_column_adds_its_emails_instead_of_losing_them() -> None:
    (row,) = clean({"姓名": "张伟", "邮箱": "zw@example.com", "邮箱 (2)": "zhang.wei@example.cn"})
    assert row.customer is not None
    assert [str(e.address) for e in row.customer.points.emails] == [
        "zw@example.com",
        "zhang.wei@example.cn",
    ]


def test_every_phone_column_feeds_the_phones() -> None:
    (row,) = clean({"姓名": "张伟", "手机": "13800138000", "电话": "010 6552 9988"})
    assert row.customer is not None
    assert [str(p.number) for p in row.customer.points.phones] == [
        "+8613800138000",
        "+861065529988",
    ]


def test_undecodable_bytes_in_one_email_column_keep_the_other_email() -> None:
    (row,) = clean({"姓名": "张伟", "邮箱": "zw@example.com", "邮箱 (2)": "zh\ufffd@example.cn"})
    assert row.customer is not None
    assert [str(e.address) for e in row.customer.points.emails] == ["zw@example.com"]
    assert [(i.field, i.kind) for i in row.issues] == [("email", IssueKind.DROPPED)]


def test_a_second_column_for_a_one_value_field_is_ignored_and_listed() -> None:
    mapping = ColumnMapping.detect(["姓名", "生日", "出生日期"])
    assert (mapping.columns["birth_date"], mapping.ignored) == ("生日", ("出生日期",))


def test_a_mapping_may_name_several_columns_for_a_field_holding_several_values() -> None:
    with pytest.raises(ConfigurationError, match="expected a column name, got"):
        ColumnMapping.from_json({"name": ["A", "B"]}, ["A", "B"])


def test_a_row_with_china_written_in_chinese_keeps_its_phone_and_country() -> None:
    (row,) = clean(
        {"姓名": "张伟", "手机": "13800138000", "国家": "中国"}, on_invalid=OnInvalid.REJECT_ROW
    )
    assert row.customer is not None
    assert (
        str(row.customer.points.primary_phone),
        str(row.customer.country),
        [(i.field, i.kind) for i in row.issues],
    ) == ("+8613800138000", "CN", [("phone", IssueKind.CHANGED)])


def test_a_country_name_decides_the_phone_region_over_the_import_default() -> None:
    rows = [{"name": "Li Na", "phone": "13800138000", "country": " People's Republic of China "}]
    mapping = ColumnMapping.detect(list(rows[0]))
    (row,) = clean_rows(rows, mapping, source="crm.csv", at=AT, region="US")
    assert row.customer is not None
    assert (str(row.customer.points.primary_phone), str(row.customer.country)) == (
        "+8613800138000",
        "CN",
    )


def test_an_unknown_country_is_dropped_and_the_phone_read_in_the_default_region() -> None:
    (row,) = clean({"姓名": "张伟", "手机": "13800138000", "国家": "XX"})
    assert row.customer is not None
    assert (str(row.customer.points.primary_phone), row.customer.country) == (
        "+8613800138000",
        None,
    )
    assert [(i.field, i.value, i.kind) for i in row.issues] == [
        ("phone", "13800138000", IssueKind.CHANGED),
        ("country", "XX", IssueKind.DROPPED),
    ]


def test_an_address_takes_the_region_of_a_country_written_as_a_name() -> None:
    (row,) = clean({"name": "Wong Ka", "email": "wk@hk.example", "city": "九龙", "country": "香港"})
    assert row.customer is not None
    assert [str(a.address.country) for a in row.customer.points.addresses] == ["HK"]
