"""Examples of phone and email normalisation, its errors and its fast paths."""

from __future__ import annotations

import email_validator
import pytest

from crmcore.domain import normalize
from crmcore.domain.normalize import (
    normalize_email,
    normalize_email_slow,
    normalize_emails,
    normalize_phone,
    normalize_phone_slow,
    normalize_phones,
)
from crmcore.errors import CrmError, InvalidValueError


def decided_by_fast_phone_path(raw: str, region: str | None) -> bool:
    code = None if region is None else region.upper()
    home = None if code is None else normalize._plan(code)
    return normalize._phone_fast(raw.strip(), home, code) is not None


def decided_by_fast_email_path(raw: str) -> bool:
    return normalize._email_fast(raw.strip(), normalize._special_use_suffixes()) is not None


# ---------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------

WRITTEN_PHONES = [
    # China: mobiles, Beijing and Shenzhen landlines, +86, 00, and 86 without +.
    ("13800138000", "CN", "+8613800138000"),
    ("138 0013 8000", "CN", "+8613800138000"),
    ("138-0013-8000", "CN", "+8613800138000"),
    ("+86 138 0013 8000", None, "+8613800138000"),
    ("0086 138 0013 8000", "CN", "+8613800138000"),
    ("86 138 0013 8000", "CN", "+8613800138000"),
    ("(010) 6552 9988", "CN", "+861065529988"),
    ("0755-8888 6666", "CN", "+8675588886666"),
    # United States: parentheses, dots, a leading 1, and 011 to dial abroad.
    ("(415) 555-0132", "US", "+14155550132"),
    ("415.555.0132", "US", "+14155550132"),
    ("1-415-555-0132", "US", "+14155550132"),
    ("+1 415 555 0132", None, "+14155550132"),
    ("011 86 138 0013 8000", "US", "+8613800138000"),
    # United Kingdom: trunk 0, and the "(0)" people write after +44.
    ("020 7946 0958", "GB", "+442079460958"),
    ("07911 123456", "GB", "+447911123456"),
    ("+44 (0)20 7946 0958", None, "+442079460958"),
    ("00 44 20 7946 0958", "DE", "+442079460958"),
    # Germany: slashes and 0049.
    ("030/12345678", "DE", "+493012345678"),
    ("0151 23456789", "DE", "+4915123456789"),
    ("0049 30 12345678", "DE", "+493012345678"),
    # Japan: trunk 0, and 010 to dial abroad.
    ("03-1234-5678", "JP", "+81312345678"),
    ("090-1234-5678", "JP", "+819012345678"),
    ("+81 90 1234 5678", None, "+819012345678"),
    ("010 86 138 0013 8000", "JP", "+8613800138000"),
]


@pytest.mark.parametrize(("raw", "region", "e164"), WRITTEN_PHONES)
def test_common_phone_shapes_normalise_to_e164(raw: str, region: str | None, e164: str) -> None:
    assert normalize_phone(raw, region) == (e164, None)


@pytest.mark.parametrize(("raw", "region", "e164"), WRITTEN_PHONES)
def test_common_phone_shapes_take_the_fast_path(raw: str, region: str | None, e164: str) -> None:
    assert decided_by_fast_phone_path(raw, region)
    assert normalize_phone_slow(raw, region) == (e164, None)


@pytest.mark.parametrize(
    "raw", ["13912345678", "139 1234 5678", "+86 139-1234-5678", "0086 13912345678"]
)
def test_chinese_mobiles_take_the_fast_path(raw: str) -> None:
    assert decided_by_fast_phone_path(raw, "CN")


def test_region_is_read_in_any_case() -> None:
    assert normalize_phone("138 0013 8000", "cn") == ("+8613800138000", None)


@pytest.mark.parametrize(
    ("raw", "extension"),
    [("(415) 555-0132 ext. 12", "12"), ("415-555-0132 x7", "7"), ("+14155550132;ext=345", "345")],
)
def test_an_extension_is_returned_beside_the_number(raw: str, extension: str) -> None:
    assert normalize_phone(raw, "US") == ("+14155550132", extension)


def test_an_unusual_shape_falls_back_to_the_full_parser() -> None:
    raw = "tel:+1-415-555-0132"
    assert not decided_by_fast_phone_path(raw, None)
    assert normalize_phone(raw) == ("+14155550132", None)


def test_an_italian_number_keeps_its_leading_zero() -> None:
    assert normalize_phone("02 1234 5678", "IT") == ("+390212345678", None)


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "CN", "empty"),
        ("   ", None, "empty"),
        ("hello", "CN", "not a phone number"),
        ("12345", None, "no country code: give a region or start with +"),
        ("123", "CN", "too short for region CN"),
        ("1380013800012345", "CN", "too long for region CN"),
        ("12345", "CN", "too short for region CN (is the area code missing?)"),
        ("+86 1000 0000 000", None, "not a valid number for region CN"),
        ("+999 1234 5678", None, "unknown country calling code"),
        ("12345", "ZZ", "unknown region 'ZZ'"),
    ],
)
def test_a_bad_phone_is_rejected_with_a_readable_reason(
    raw: str, region: str | None, reason: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        normalize_phone(raw, region)
    assert (caught.value.field, caught.value.value, caught.value.reason) == ("phone", raw, reason)


def test_the_error_message_says_what_which_and_why() -> None:
    with pytest.raises(InvalidValueError, match=r"invalid phone '123': too short for region CN"):
        normalize_phone("123", "CN")


def test_a_bad_phone_is_also_a_value_error_and_a_crm_error() -> None:
    with pytest.raises(ValueError, match="phone") as caught:
        normalize_phone("hello", "CN")
    assert isinstance(caught.value, CrmError)


@pytest.mark.parametrize("raw", ["\x00", "+", "tel:;phone-context=", "+" + "1" * 300, "١٢٣"])
def test_no_parser_exception_escapes_for_odd_input(raw: str) -> None:
    with pytest.raises(InvalidValueError):
        normalize_phone(raw, "CN")


def test_a_normalised_phone_normalises_to_itself() -> None:
    e164, extension = normalize_phone("(415) 555-0132 ext. 12", "US")
    assert normalize_phone(f"{e164};ext={extension}") == (e164, extension)


def test_bulk_phones_keep_order_and_put_errors_in_place() -> None:
    results = normalize_phones(["138 0013 8000", "nope", "+44 20 7946 0958"], "CN")
    assert results[0] == ("+8613800138000", None)
    assert isinstance(results[1], InvalidValueError)
    assert results[1].value == "nope"
    assert results[2] == ("+442079460958", None)


def test_bulk_phones_accept_any_iterable() -> None:
    raws = (raw for raw in ["13800138000", "13912345678"])
    assert normalize_phones(raws, "CN") == [("+8613800138000", None), ("+8613912345678", None)]


def test_bulk_phones_with_an_unknown_region_reject_every_row() -> None:
    results = normalize_phones(["13800138000", "+8613800138000"], "XX")
    assert [(e.field, e.value, e.reason) for e in results if isinstance(e, InvalidValueError)] == [
        ("phone", "13800138000", "unknown region 'XX'"),
        ("phone", "+8613800138000", "unknown region 'XX'"),
    ]


# ---------------------------------------------------------------------------
# Emails
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Zhang.Wei@Example.COM", "Zhang.Wei@example.com"),
        ("  li.na+crm@qq.com\n", "li.na+crm@qq.com"),
        ("o'brien@mail.acme-global.co.uk", "o'brien@mail.acme-global.co.uk"),
        ("INFO@Example.com", "info@example.com"),
        ("PostMaster@example.org", "postmaster@example.org"),
    ],
)
def test_plain_addresses_take_the_fast_path(raw: str, expected: str) -> None:
    assert decided_by_fast_email_path(raw)
    assert normalize_email(raw) == expected
    assert normalize_email_slow(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("user@xn--mnchen-3ya.de", "user@münchen.de"),
        ("jürgen@münchen.de", "jürgen@münchen.de"),
        ("张伟@例子.中国", "张伟@例子.中国"),
    ],
)
def test_international_addresses_go_through_email_validator(raw: str, expected: str) -> None:
    assert not decided_by_fast_email_path(raw)
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "no-at-sign",
        "a..b@example.com",
        "a@localhost",
        "a@example.test",
        "a@printer.local",
        "a@-example.com",
        "a@example.123",
        '"quoted"@example.com',
        "a@[192.0.2.1]",
        "Name <a@example.com>",
        "a@" + "b" * 64 + ".com",
        "a" * 250 + "@example.com",
    ],
)
def test_a_bad_email_is_rejected_with_email_validators_reason(raw: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        normalize_email(raw)
    with pytest.raises(email_validator.EmailNotValidError) as reference:
        email_validator.validate_email(raw.strip(), check_deliverability=False)
    assert (caught.value.field, caught.value.value) == ("email", raw)
    assert caught.value.reason == str(reference.value)


def test_a_normalised_email_normalises_to_itself() -> None:
    once = normalize_email("Zhang.Wei@Example.COM")
    assert normalize_email(once) == once


def test_bulk_emails_keep_order_and_put_errors_in_place() -> None:
    results = normalize_emails(["a@Example.com", "broken", "b@example.org"])
    assert results[0] == "a@example.com"
    assert isinstance(results[1], InvalidValueError)
    assert results[1].field == "email"
    assert results[2] == "b@example.org"


def test_host_defaults_of_email_validator_do_not_change_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(email_validator, "TEST_ENVIRONMENT", True)
    monkeypatch.setattr(email_validator, "ALLOW_QUOTED_LOCAL", True)
    with pytest.raises(InvalidValueError):
        normalize_email("a@example.test")
    with pytest.raises(InvalidValueError):
        normalize_email('"quoted"@example.com')


def test_a_special_use_domain_added_by_the_host_is_rejected_on_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [*email_validator.SPECIAL_USE_DOMAIN_NAMES, "internal"]
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", names)
    with pytest.raises(InvalidValueError, match="special-use"):
        normalize_email("a@corp.internal")
    assert normalize_emails(["a@corp.internal"])[0] != "a@corp.internal"
