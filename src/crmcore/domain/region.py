"""The region of a country as people write it: ``CN``, ``中国``, `` China ``, ``U.S.``.

:func:`region_of` is the one reading of a free-text country, used wherever a
country column decides something: which region national phone numbers are
read in (import cleaning, duplicate keys) and which :class:`~crmcore.domain.
values.CountryCode` a row gets. A code is two ASCII letters that name an ISO
3166-1 alpha-2 region; anything else is looked up, NFKC case-folded and
without spaces or punctuation, in a table of Chinese and English country
names and common three-letter codes.

May import: ``crmcore.domain``, ``crmcore.errors``.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from crmcore.domain.values import CountryCode
from crmcore.errors import InvalidValueError

__all__ = ["COUNTRY_ALIASES", "region_of"]

_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "CN": (
        "中国", "中华人民共和国", "中國", "中華人民共和國", "中国大陆", "中國大陸", "大陆",
        "China", "PRC", "CHN", "P.R.C.", "P.R. China", "People's Republic of China",
        "Mainland China", "China Mainland", "Zhongguo",
    ),
    "HK": (
        "香港", "中国香港", "中國香港", "香港特别行政区", "香港特別行政區",
        "Hong Kong", "Hongkong", "HKG", "Hong Kong SAR", "Hong Kong, China",
    ),
    "MO": (
        "澳门", "澳門", "中国澳门", "中國澳門", "澳门特别行政区", "澳門特別行政區",
        "Macau", "Macao", "MAC", "Macau SAR", "Macao SAR",
    ),
    "TW": ("台湾", "臺灣", "台灣", "中国台湾", "中國臺灣", "Taiwan", "TWN"),
    "US": (
        "美国", "美國", "美利坚合众国", "USA", "U.S.", "U.S.A.", "United States",
        "United States of America", "America",
    ),
    "GB": (
        "英国", "英國", "United Kingdom", "UK", "U.K.", "Great Britain", "Britain",
        "England", "Scotland", "Wales", "Northern Ireland", "GBR",
    ),
    "JP": ("日本", "Japan", "JPN"),
    "KR": ("韩国", "韓國", "南韩", "南韓", "Korea", "South Korea", "Republic of Korea", "KOR"),
    "SG": ("新加坡", "Singapore", "SGP"),
    "DE": ("德国", "德國", "Germany", "Deutschland", "DEU"),
    "FR": ("法国", "法國", "France", "FRA"),
    "CA": ("加拿大", "Canada", "CAN"),
    "AU": ("澳大利亚", "澳大利亞", "澳洲", "Australia", "AUS"),
    "NZ": ("新西兰", "紐西蘭", "新西蘭", "New Zealand", "NZL"),
    "IN": ("印度", "India", "IND"),
    "RU": ("俄罗斯", "俄羅斯", "Russia", "Russian Federation", "RUS"),
    "IT": ("意大利", "義大利", "Italy", "Italia", "ITA"),
    "ES": ("西班牙", "Spain", "España", "ESP"),
    "NL": ("荷兰", "荷蘭", "Netherlands", "The Netherlands", "Holland", "NLD"),
    "CH": ("瑞士", "Switzerland", "CHE"),
    "SE": ("瑞典", "Sweden", "SWE"),
    "MY": ("马来西亚", "馬來西亞", "Malaysia", "MYS"),
    "TH": ("泰国", "泰國", "Thailand", "THA"),
    "VN": ("越南", "Vietnam", "Viet Nam", "VNM"),
    "PH": ("菲律宾", "菲律賓", "Philippines", "PHL"),
    "ID": ("印度尼西亚", "印尼", "Indonesia", "IDN"),
    "BR": ("巴西", "Brazil", "Brasil", "BRA"),
    "MX": ("墨西哥", "Mexico", "MEX"),
    "AE": ("阿联酋", "阿聯酋", "United Arab Emirates", "UAE", "ARE"),
}  # fmt: skip


def _fold(text: str) -> str:
    """Return ``text`` NFKC case-folded, without spaces, punctuation or symbols."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "ZPSC")


COUNTRY_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {_fold(name): code for code, names in _NAMES.items() for name in names}
)
"""Folded country name (see :func:`region_of`) → its ISO 3166-1 alpha-2 code."""


@functools.lru_cache(maxsize=4096)
def _code_of(country: str) -> str | None:
    folded = _fold(country)
    alias = COUNTRY_ALIASES.get(folded)
    if alias is not None:
        return alias
    if len(folded) == 2 and folded.isascii() and folded.isalpha():
        try:
            return CountryCode(folded).code
        except InvalidValueError:
            return None
    return None


def region_of(country: str, default: str | None) -> str | None:
    """Return the ISO 3166-1 alpha-2 region a free-text country names, else ``default``.

    A region code is two ASCII letters naming a known region (any case,
    fullwidth too); other text is read as a country name in Chinese or
    English (``中国``, ``臺灣``, ``People's Republic of China``, ``U.S.``),
    ignoring case, spaces and punctuation. ``default`` comes back as given
    for empty or unknown text.

    Args:
        country: The country as written.
        default: What to return when ``country`` names no known region.

    Returns:
        The upper-case region code, or ``default``.

    >>> region_of("中国", None), region_of(" china ", None), region_of("cn", None)
    ('CN', 'CN', 'CN')
    >>> region_of("香港", "CN"), region_of("U.S.", None), region_of("UK", None)
    ('HK', 'US', 'GB')
    >>> region_of("Atlantis", "CN"), region_of("", None)
    ('CN', None)
    """
    code = _code_of(country) if country and isinstance(country, str) else None
    return default if code is None else code
