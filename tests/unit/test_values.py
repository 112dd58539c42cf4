from __future__ import annotations

from decimal import Decimal

import pytest

from crmcore import InvalidValueError
from crmcore.domain import (
    CountryCode,
    CurrencyMismatchError,
    EmailAddress,
    Money,
    PersonName,
    PhoneNumber,
    PostalAddress,
    Tag,
)
from crmcore.domain.values import clean_text


def test_phone_in_national_chinese_form_becomes_e164() -> None:
    assert str(PhoneNumber.parse("138-0013-8000", region="CN")) == "+8613800138000"


def test_phone_with_international_prefix_00_becomes_e164() -> None:
    assert PhoneNumber.parse("0086 138 0013 8000", region="CN").e164 == "+8613800138000"


def test_phone_keeps_its_extension_and_prints_it_rfc3966_style() -> None:
    phone = PhoneNumber.parse("+1 415-555-2671 ext. 42")
    assert (phone.e164, phone.extension, str(phone)) == (
        "+14155552671",
        "42",
        "+14155552671;ext=42",
    )


def test_phone_canonical_string_parses_back_to_the_same_value() -> None:
    phone = PhoneNumber.parse("+1 415-555-2671 ext. 42")
    assert PhoneNumber.parse(str(phone)) == phone


def test_phone_without_region_or_plus_is_rejected_with_the_reason() -> None:
    with pytest.raises(InvalidValueError) as info:
        PhoneNumber.parse("13800138000")
    assert info.value.field == "phone"


def test_too_short_chinese_phone_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="12345"):
        PhoneNumber.parse("12345", region="CN")


def test_phone_constructor_rejects_non_e164_strings() -> None:
    with pytest.raises(InvalidValueError, match=r"E\.164"):
        PhoneNumber("13800138000")


def test_phone_extension_must_be_digits() -> None:
    with pytest.raises(InvalidValueError, match="digits"):
        PhoneNumber("+8613800138000", "12a")


def test_invalid_phone_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="phone"):
        PhoneNumber.parse("not a phone", region="CN")


def test_email_domain_is_lowercased_but_local_part_kept() -> None:
    assert str(EmailAddress.parse("  Li.Na@Example.COM ")) == "Li.Na@example.com"


def test_email_parts_are_exposed() -> None:
    email = EmailAddress.parse("li.na@example.com")
    assert (email.local_part, email.domain) == ("li.na", "example.com")


@pytest.mark.parametrize("raw", ["", "no-at-sign", "a@b", "a@@example.com", "a b@example.com"])
def test_invalid_emails_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        EmailAddress.parse(raw)
    assert info.value.field == "email"


def test_chinese_name_takes_first_character_as_family_name() -> None:
    assert PersonName.parse("张伟") == PersonName(family="张", given="伟")


def test_chinese_compound_surname_is_two_characters() -> None:
    assert PersonName.parse("司马相如") == PersonName(family="司马", given="相如")


def test_full_width_latin_name_is_normalised_to_half_width() -> None:
    assert PersonName.parse("Ｗｅｉ　Ｚｈａｎｇ") == PersonName(family="Zhang", given="Wei")


def test_name_with_comma_is_family_then_given() -> None:
    assert PersonName.parse("Zhang, Wei").full == "Wei Zhang"


def test_cjk_name_is_displayed_without_space_family_first() -> None:
    assert PersonName(family="王", given="芳").full == "王芳"


def test_transliterated_foreign_name_splits_on_middle_dot() -> None:
    assert PersonName.parse("约翰·史密斯") == PersonName(family="史密斯", given="约翰")


def test_empty_name_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="required"):
        PersonName(family=" ", given="")


def test_money_adds_within_one_currency() -> None:
    assert Money("0.10", "CNY") + Money("0.20", "CNY") == Money("0.30", "CNY")


def test_money_refuses_floats() -> None:
    with pytest.raises(InvalidValueError, match="never float"):
        Money(0.1, "CNY")  # type: ignore[arg-type]


def test_money_arithmetic_across_currencies_raises() -> None:
    with pytest.raises(CurrencyMismatchError):
        Money(1, "CNY") - Money(1, "USD")


def test_money_ordering_across_currencies_raises() -> None:
    with pytest.raises(CurrencyMismatchError):
        _ = Money(1, "CNY") < Money(1, "USD")


def test_money_equality_across_currencies_is_simply_false() -> None:
    assert Money(1, "CNY") != Money(1, "USD")


def test_money_rounds_to_the_currency_minor_unit_half_even() -> None:
    assert Money("10.125", "CNY").rounded() == Money("10.12", "CNY")
    assert Money("100.5", "JPY").rounded() == Money("100", "JPY")


def test_money_rejects_unknown_currency() -> None:
    with pytest.raises(InvalidValueError, match="ISO 4217"):
        Money(1, "XYZ")


def test_money_multiplies_by_integers_and_decimals() -> None:
    assert Money("2.50", "EUR") * 3 == Money("7.50", "EUR")
    assert Decimal("0.5") * Money("3", "EUR") == Money("1.5", "EUR")


def test_money_rejects_infinity() -> None:
    with pytest.raises(InvalidValueError, match="finite"):
        Money(Decimal("Infinity"), "CNY")


def test_money_with_more_than_six_decimal_places_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="more than 6 decimal places"):
        Money("1.00000000000000000000000000001", "CNY")


def test_money_with_more_than_fourteen_integer_digits_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="more than 14 digits before the point"):
        Money("100000000000000", "CNY")


def test_money_in_exponent_form_beyond_the_range_is_rejected_not_kept() -> None:
    with pytest.raises(InvalidValueError, match="more than 14 digits before the point"):
        Money("1e1000000", "CNY")


def test_money_of_a_huge_integer_is_rejected_without_printing_it() -> None:
    with pytest.raises(InvalidValueError, match="an integer of 3322 bits"):
        Money(10**1000, "CNY")


def test_money_in_exponent_form_that_normalises_into_range_is_written_out() -> None:
    assert (str(Money("1.5E+3", "EUR")), str(Money("2.50000000", "EUR"))) == (
        "1500 EUR",
        "2.500000 EUR",
    )


def test_money_keeps_the_written_form_of_amounts_in_range() -> None:
    assert str(Money("99999999999999.999999", "CNY")) == "99999999999999.999999 CNY"


def test_money_sum_that_leaves_the_range_raises_instead_of_losing_digits() -> None:
    with pytest.raises(InvalidValueError, match="more than 14 digits before the point"):
        Money("99999999999999.999999", "CNY") + Money("0.000001", "CNY")


def test_money_difference_of_extreme_amounts_is_exact() -> None:
    difference = Money("99999999999999.999999", "CNY") - Money("0.000001", "CNY")
    assert difference.amount == Decimal("99999999999999.999998")


def test_money_product_with_too_many_places_raises_and_points_to_times() -> None:
    with pytest.raises(InvalidValueError, match="more than 6 decimal places; use times"):
        Money("0.123456", "CNY") * Decimal("0.6")


def test_money_product_with_a_non_finite_factor_raises_invalid_value() -> None:
    with pytest.raises(InvalidValueError, match="must be finite"):
        Money("1", "CNY") * Decimal("sNaN")


def test_money_product_with_a_huge_exponent_raises_invalid_value() -> None:
    with pytest.raises(InvalidValueError, match="more than 14 digits before the point"):
        Money("1", "CNY") * Decimal("1e1000000")


def test_money_times_multiplies_exactly_then_rounds_to_the_minor_unit() -> None:
    assert Money("0.123456", "CNY").times(Decimal("0.6")) == Money("0.07", "CNY")


def test_money_times_refuses_floats() -> None:
    with pytest.raises(InvalidValueError, match="never float"):
        Money("1", "CNY").times(0.5)  # type: ignore[arg-type]


def test_money_rounding_that_carries_past_the_range_raises() -> None:
    with pytest.raises(InvalidValueError, match="more than 14 digits before the point"):
        Money("99999999999999.5", "JPY").rounded()


def test_money_amount_text_longer_than_64_characters_is_rejected_quoting_a_prefix() -> None:
    with pytest.raises(InvalidValueError) as raised:
        Money("0" * 10_000 + "1", "CNY")
    assert (raised.value.value, raised.value.reason) == (
        "00000000000000000000...",
        "longer than 64 characters",
    )


def test_country_code_is_upper_cased_and_checked() -> None:
    assert CountryCode("cn").code == "CN"
    with pytest.raises(InvalidValueError, match="3166"):
        CountryCode("XX")


def test_tags_are_case_folded_and_trimmed() -> None:
    assert Tag("  VIP ") == Tag("vip")


def test_tag_cannot_be_empty() -> None:
    with pytest.raises(InvalidValueError, match="empty"):
        Tag("   ")


def test_chinese_postcode_must_have_six_digits() -> None:
    with pytest.raises(InvalidValueError, match="postcode"):
        PostalAddress(country=CountryCode("CN"), city="深圳市", postcode="51805")


def test_chinese_address_renders_province_city_district_street() -> None:
    address = PostalAddress(
        country=CountryCode("CN"),
        province="浙江省",
        city="杭州市",
        district="西湖区",
        street=("文三路90号",),
    )
    assert address.one_line() == "浙江省杭州市西湖区文三路90号"


def test_clean_text_collapses_whitespace_and_full_width_characters() -> None:
    assert clean_text("\tＡ　 B\n") == "A B"
