from __future__ import annotations

import pytest

from crmcore.matching import (
    KeyOptions,
    MatchRecord,
    NameKey,
    build_features,
    canonical_given_name,
    city_key,
    company_key,
    company_keys,
    date_key,
    email_key,
    feature_row,
    name_key,
    phone_key,
    postcode_key,
)


def test_chinese_name_and_its_pinyin_in_either_order_share_a_key() -> None:
    def orders(key: NameKey) -> set[str]:
        return {key.family_first, key.given_first}

    chinese = orders(name_key(full="张伟"))
    assert chinese == {"zhangwei", "weizhang"}
    assert orders(name_key(full="Zhang Wei")) == chinese
    assert orders(name_key(full="Wei Zhang")) == chinese
    assert orders(name_key(given="Wei", family="ZHANG")) == chinese


def test_name_signature_ignores_order_and_word_splits() -> None:
    keys = {name_key(full=n).signature for n in ("张晓明", "Xiao Ming Zhang", "Zhang Xiaoming")}
    assert len(keys) == 1


def test_compound_surname_is_read_as_one_family_name() -> None:
    assert name_key(full="欧阳娜娜").family_first == "ouyangnana"


def test_polyphonic_surname_is_read_as_a_surname() -> None:
    assert name_key(full="曾伟").family_first == "zengwei"


def test_accents_and_full_width_letters_are_folded() -> None:
    assert name_key(full="Ｚｈāｎｇ Wěi").signature == name_key(full="Zhang Wei").signature


def test_nicknames_fold_to_the_canonical_given_name() -> None:
    assert name_key(given="Bill", family="Gates") == name_key(given="William", family="Gates")
    assert canonical_given_name("liz") == "elizabeth"


def test_family_comma_given_is_understood() -> None:
    assert name_key(full="Smith, John") == name_key(given="John", family="Smith")


def test_empty_name_has_empty_keys() -> None:
    assert name_key(full="").signature == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Zhang.Wei+crm@GoogleMail.com", "zhangwei@gmail.com"),
        ("LI.NA@Example.COM", "li.na@example.com"),
        ("li.na+news@example.com", "li.na@example.com"),
        ("not an email", ""),
        ("", ""),
    ],
)
def test_email_keys_are_canonical(raw: str, expected: str) -> None:
    assert email_key(raw) == expected


def test_email_folding_can_be_switched_off() -> None:
    key = email_key("Zhang.Wei+crm@gmail.com", fold_tags=False, fold_gmail_dots=False)
    assert key == "zhang.wei+crm@gmail.com"


@pytest.mark.parametrize(
    "raw", ["138 0013 8000", "+86 138-0013-8000", "0086 13800138000", "(+86)13800138000"]
)
def test_phone_formats_share_the_e164_key(raw: str) -> None:
    assert phone_key(raw, region="CN") == "+8613800138000"


def test_invalid_phone_has_no_key() -> None:
    assert phone_key("12345", region="CN") == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("深圳市腾达科技有限公司", "腾达科技"),
        ("腾达科技股份有限公司", "腾达科技"),
        ("北京腾达集团", "腾达"),
        ("Acme, Inc.", "acme"),
        ("ACME Ltd", "acme"),
        ("Acme LLC", "acme"),
        ("Acme GmbH", "acme"),
        ("Acme Co.", "acme"),
        ("Acme Corp", "acme"),
    ],
)
def test_company_keys_drop_legal_suffixes(raw: str, expected: str) -> None:
    assert company_key(raw) == expected


def test_company_core_drops_industry_words_too() -> None:
    assert company_keys("腾达科技有限公司")[1] == company_keys("腾达有限公司")[1] == "腾达"


def test_city_keys_transliterate_chinese_cities() -> None:
    assert city_key("北京市") == city_key("Beijing") == "beijing"


def test_postcodes_lose_spaces() -> None:
    assert postcode_key(" sw1a 1aa ") == "SW1A1AA"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1988-02-29", 19880229),
        ("1988/2/9", 19880209),
        ("19880229", 19880229),
        ("1988年2月9日", 19880209),
        ("09/02/1988", 19880209),
        ("1988-13-01", 0),
        ("", 0),
    ],
)
def test_date_keys_read_common_formats(raw: str, expected: int) -> None:
    assert date_key(raw) == expected


def test_indic_and_thai_names_keep_their_vowel_signs() -> None:
    hindi = name_key(full="Ravi हिन्दी")
    assert "हिन्दी" in hindi.family_first
    assert hindi.signature != name_key(full="Ravi हन्द").signature
    assert name_key(full="สมชาย ใจดี").given_first == "สมชายใจดี"


def test_latin_greek_and_cyrillic_accents_still_fold() -> None:
    assert name_key(full="José Ñúñez").family_first == name_key(full="Jose Nunez").family_first
    assert name_key(full="Ёлка Ωμέγα").signature == name_key(full="Елка Ωμεγα").signature


@pytest.mark.parametrize("country", ["中国", "中华人民共和国", "China", " cn "])
def test_a_country_written_as_a_name_gives_the_phone_key_its_region(country: str) -> None:
    record = MatchRecord(id="1", full_name="张伟", phones=["13800138000"], country=country)
    _, _, phones = feature_row(record, KeyOptions(region="US"))
    assert phones == ("+8613800138000",)


def test_the_batch_phone_key_reads_a_chinese_country_name_too() -> None:
    records = [
        MatchRecord(id="1", full_name="张伟", phones=["13800138000"], country="中国"),
        MatchRecord(id="2", full_name="张伟", phones=["13800138000"], country="CN"),
    ]
    assert build_features(records, workers=1).values["phone"].tolist() == [
        "+8613800138000",
        "+8613800138000",
    ]


def test_an_unknown_country_leaves_the_phone_to_the_default_region() -> None:
    record = MatchRecord(id="1", full_name="Li", phones=["13800138000"], country="Atlantis")
    assert feature_row(record, KeyOptions(region="CN"))[2] == ("+8613800138000",)
