from __future__ import annotations

import pytest

from crmcore.domain import COUNTRY_ALIASES, CountryCode, region_of


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("中国", "CN"),
        ("中华人民共和国", "CN"),
        ("中國", "CN"),
        ("香港", "HK"),
        ("澳门", "MO"),
        ("台湾", "TW"),
        ("臺灣", "TW"),
        ("美国", "US"),
        ("日本", "JP"),
        ("韩国", "KR"),
        ("USA", "US"),
        ("U.S.", "US"),
        ("United States", "US"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("People's Republic of China", "CN"),
        ("Macao", "MO"),
        ("South Korea", "KR"),
        ("India", "IN"),
    ],
)
def test_a_country_name_in_chinese_or_english_reads_as_its_region(
    country: str, expected: str
) -> None:
    assert region_of(country, None) == expected


@pytest.mark.parametrize(("country", "expected"), [("cn", "CN"), ("CN", "CN"), ("De", "DE")])
def test_a_region_code_reads_as_itself_in_any_case(country: str, expected: str) -> None:
    assert region_of(country, None) == expected


def test_spaces_case_and_fullwidth_letters_do_not_matter() -> None:
    assert [region_of(c, None) for c in (" China ", "CHINA", "hong  kong", "ＣＮ")] == [
        "CN",
        "CN",
        "HK",
        "CN",
    ]


@pytest.mark.parametrize("country", ["", "   ", "Atlantis", "XX", "火星", "C", "CHINA TOWN"])
def test_an_unknown_or_empty_country_gives_the_default(country: str) -> None:
    assert (region_of(country, "SG"), region_of(country, None)) == ("SG", None)


def test_two_chinese_characters_are_not_taken_for_a_region_code() -> None:
    assert region_of("火星", None) is None


def test_every_alias_names_a_valid_region_code() -> None:
    assert {code for code in COUNTRY_ALIASES.values() if CountryCode(code).code != code} == set()
