from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crmcore.domain import COUNTRY_ALIASES, CountryCode, region_of
from crmcore.errors import InvalidValueError

DEFAULTS = st.sampled_from([None, "CN", "us", "not a region"])
COUNTRIES = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="abcxyzABCXYZ中国香港 .", max_size=4),
    st.sampled_from(sorted(COUNTRY_ALIASES)),
)


def is_region_code(value: str) -> bool:
    try:
        return CountryCode(value).code == value
    except InvalidValueError:
        return False


@given(COUNTRIES, DEFAULTS)
def test_region_of_gives_none_the_default_or_a_valid_region_code(
    country: str, default: str | None
) -> None:
    region = region_of(country, default)
    assert region is None or region == default or is_region_code(region)


@given(COUNTRIES)
def test_region_of_gives_the_default_exactly_when_it_finds_no_region(country: str) -> None:
    found = region_of(country, None)
    assert region_of(country, "ZZ-default") == ("ZZ-default" if found is None else found)
