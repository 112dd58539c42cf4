"""Normalisation keys: the comparable form of every matching field.

Each function turns one raw field into the key records are blocked on and
compared by: canonical emails (optionally with gmail-style dot and ``+tag``
folding), E.164 phones (through the domain's fast normaliser), person names
(NFKC, case-folded, accents stripped, CJK transliterated with pypinyin,
nicknames folded, readable in either name order), company names without
legal suffixes (Inc, Ltd, GmbH, 有限公司 …), cities, postcodes and dates.

May import: ``crmcore.domain``, ``crmcore.errors``; pypinyin.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias

import attrs
from pypinyin import lazy_pinyin

from crmcore.domain.normalize import normalize_email, normalize_phone
from crmcore.domain.values import COMPOUND_SURNAMES, is_cjk
from crmcore.errors import InvalidValueError
from crmcore.matching.nickname import NICKNAMES

__all__ = [
    "CHINESE_COMPANY_SUFFIXES",
    "CJK_FORMS_OF_ADDRESS",
    "COMPANY_SUFFIXES",
    "INDUSTRY_WORDS",
    "NAME_SUFFIXES",
    "TITLES",
    "KeyOptions",
    "NameKey",
    "city_key",
    "company_key",
    "company_keys",
    "date_key",
    "email_key",
    "fold_email",
    "fold_text",
    "name_key",
    "phone_key",
    "postcode_key",
    "transliterate",
]


@attrs.frozen(kw_only=True)
class KeyOptions:
    """How keys are built.

    Attributes:
        fold_email_tags: Drop ``+tag`` from every local part.
        fold_gmail_dots: Drop dots from gmail/googlemail local parts.
        nicknames: Nickname → canonical given name (``bill`` → ``william``).
        region: ISO region to read national phone numbers in when a record
            has no country of its own.
    """

    fold_email_tags: bool = True
    fold_gmail_dots: bool = True
    nicknames: Mapping[str, str] = attrs.field(default=NICKNAMES, eq=False)
    region: str | None = None


# --------------------------------------------------------------------------- text

_NOT_WORD = re.compile(r"[^\w]+")
_JOINERS = re.compile(r"['’`\-‐‑.·•]")


def _strip_accents(text: str) -> str:
    """Drop the accents of Latin, Greek and Cyrillic letters (é → e, Ё → Е).

    Only marks on those alphabets go: in Indic, Thai or Arabic script a
    combining mark is a vowel sign or part of the letter (हि is not ह), so it stays.
    """
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    kept: list[str] = []
    base = 0
    for ch in decomposed:
        if unicodedata.combining(ch):
            if base < _ACCENTED_SCRIPTS_END or 0x1E00 <= base <= 0x1FFF:
                continue
        else:
            base = ord(ch)
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept))


def _words(text: str) -> str:
    r"""Replace every run of non-word characters by a space, keeping combining marks.

    ``\w`` does not match the vowel signs of Indic scripts (हिन्दी would fall
    apart into ह न द), so text outside ASCII is split by hand.
    """
    if text.isascii():
        return _NOT_WORD.sub(" ", text)
    return "".join(ch if ch.isalnum() or ch == "_" or _is_mark(ch) else " " for ch in text)


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"


# Latin, IPA, Greek and Cyrillic end before U+0530 (Armenian); Latin Extended
# Additional and Greek Extended are U+1E00-U+1FFF.
_ACCENTED_SCRIPTS_END: Final = 0x0530


def fold_text(text: str) -> str:
    """Fold text for comparison: NFKC, case-folded, accents stripped, single spaces.

    Args:
        text: Any text.

    Returns:
        The folded text.

    >>> fold_text("  Zhāng  WĚI ")
    'zhang wei'
    """
    if text.isascii():  # NFKC keeps ASCII as it is; its case folding is lower()
        return " ".join(text.lower().split())
    folded = _strip_accents(unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


# Polyphonic characters read differently as family names (姓氏读音).
_SURNAME_READINGS: Final = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao",
    "查": "zha", "盖": "ge", "乐": "yue", "覃": "qin", "尉": "yu", "缪": "miao",
    "翟": "zhai", "召": "shao", "种": "chong", "秘": "bi", "能": "nai", "繁": "po",
    "燕": "yan", "任": "ren", "沈": "shen", "长": "chang", "万": "wan", "贾": "jia",
}  # fmt: skip

_SYLLABLE_FIXES: Final = {"lv": "lu", "nv": "nu", "lyu": "lu", "nyu": "nu", "lue": "lue"}

_pinyin_cache: dict[str, str] = {}
_PINYIN_CACHE_MAX: Final = 200_000


def transliterate(text: str, *, family_first: bool = False) -> str:
    """Transliterate CJK ideographs to toneless pinyin syllables separated by spaces.

    Args:
        text: Text that may contain CJK ideographs; other characters pass through.
        family_first: Read the first character as a family name (曾 → zeng).

    Returns:
        The pinyin, lower case, ``ü`` written ``u``.

    >>> transliterate("张晓明"), transliterate("曾伟", family_first=True)
    ('zhang xiao ming', 'zeng wei')
    """
    key = ("1" if family_first else "0") + text
    cached = _pinyin_cache.get(key)
    if cached is not None:
        return cached
    syllables = [
        _SYLLABLE_FIXES.get(s, s).replace("ü", "u").replace("v", "u")
        if s.isascii() and s.isalpha()
        else s
        for s in lazy_pinyin(text)
    ]
    if family_first and text and text[0] in _SURNAME_READINGS and syllables:
        syllables[0] = _SURNAME_READINGS[text[0]]
    result = " ".join(s.strip().lower() for s in syllables if s.strip())
    if len(_pinyin_cache) >= _PINYIN_CACHE_MAX:
        _pinyin_cache.clear()
    _pinyin_cache[key] = result
    return result


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


# --------------------------------------------------------------------------- names


@attrs.frozen
class NameKey:
    """A person name folded for matching.

    Attributes:
        family_first: Family name then given name, letters only (``zhangwei``).
        given_first: Given name then family name (``weizhang``). When the
            family name is not known, the name as written.
        signature: The sorted letters of the name: equal for any order and
            any split into words, used as a blocking key.
        initials: The sorted initials of the family and given names.
    """

    family_first: str
    given_first: str
    signature: str
    initials: str


_EMPTY_NAME: Final = NameKey("", "", "", "")


def _tokens(text: str, nicknames: Mapping[str, str], *, cjk_family_first: bool) -> list[str]:
    key = (text, cjk_family_first, id(nicknames))
    cached = _token_cache.get(key)
    if cached is None or cached[0] is not nicknames:
        if len(_token_cache) >= _PINYIN_CACHE_MAX:
            _token_cache.clear()
        cached = (nicknames, _tokens_uncached(text, nicknames, cjk_family_first=cjk_family_first))
        _token_cache[key] = cached
    return list(cached[1])


_token_cache: dict[tuple[str, bool, int], tuple[Mapping[str, str], tuple[str, ...]]] = {}
"""Name part → tokens (family and given names repeat a lot); keeps the nickname map alive."""


def _tokens_uncached(
    text: str, nicknames: Mapping[str, str], *, cjk_family_first: bool
) -> tuple[str, ...]:
    folded = fold_text(_JOINERS.sub("", text))
    if _has_cjk(folded):
        compact = folded.replace(" ", "")
        if is_cjk(compact):
            return _cjk_tokens(compact, family_first=cjk_family_first)
        folded = transliterate(folded)
    words = [w for w in _words(folded).replace("_", " ").split() if w]
    # A word holding any numeral (1, ², ⅷ, 𐿅 …) is not part of a name.
    return tuple(nicknames.get(w, w) for w in words if not any(map(str.isnumeric, w)))


def _cjk_tokens(compact: str, *, family_first: bool) -> tuple[str, ...]:
    """Tokens of a name written only in CJK ideographs: (family, given) or the whole name."""
    if not family_first:
        return ("".join(transliterate(compact).split()),)
    family_size = 2 if len(compact) >= 3 and compact[:2] in COMPOUND_SURNAMES else 1
    family = "".join(transliterate(compact[:family_size], family_first=True).split())
    given = "".join(transliterate(compact[family_size:]).split())
    return tuple(t for t in (family, given) if t)


# Unified ideographs (and extension A): unchanged by NFKC, case folding and accent stripping.
_PLAIN_CJK = re.compile("[\u4e00-\u9fff\u3400-\u4dbf]+")


_NameParts: TypeAlias = tuple[str, str, str, str]
"""A :class:`NameKey`'s fields as a plain tuple (what bulk keying needs, without the object)."""

_NO_NAME: Final[_NameParts] = ("", "", "", "")


def _name_from_parts(family: Sequence[str], given: Sequence[str]) -> _NameParts:
    fam = "".join(family)
    giv = "".join(given)
    if not fam and not giv:
        return _NO_NAME
    compact = fam + giv
    reverse = giv + fam
    return compact, reverse, "".join(sorted(compact)), _initials(compact, reverse)


def _initials(family_first: str, given_first: str) -> str:
    return "".join(sorted(family_first[:1] + given_first[:1]))


def name_key(
    *,
    full: str = "",
    given: str = "",
    family: str = "",
    nicknames: Mapping[str, str] = NICKNAMES,
) -> NameKey:
    """Fold a person name into its matching key.

    Give ``given`` and ``family`` when they are known, else ``full``. A CJK
    full name is read family name first (张伟 = family 张, given 伟); a
    Latin full name is kept as written and also read with its last word as
    the family name, so ``Zhang Wei`` and ``Wei Zhang`` compare equal.

    Args:
        full: The whole name as written.
        given: The given (first) name.
        family: The family (last) name.
        nicknames: Nickname → canonical given name.

    Returns:
        The key; every part is empty when there is no name.

    >>> a = name_key(full="张伟")
    >>> a.family_first, a.given_first
    ('zhangwei', 'weizhang')
    >>> b = name_key(full="Wei Zhang")
    >>> a.signature == b.signature == name_key(given="Wei", family="ZHANG").signature
    True
    >>> name_key(given="Bill", family="Gates").family_first
    'gateswilliam'
    """
    parts = _name_parts(full, given, family, nicknames)
    return _EMPTY_NAME if parts is _NO_NAME else NameKey(*parts)


# What a name is addressed with, not part of it: a title before a Latin name, a
# generational or professional suffix after it, and the forms of address written
# after a Chinese name (王先生 is Mr Wang). Folded as name tokens are: no dots.
TITLES: Final = frozenset({
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "revd",
    "herr", "frau", "sr", "sra", "srta", "mme", "mlle",
})  # fmt: skip
"""Titles a Latin name may start with (``Dr. John Smith``), folded; dropped from its key."""
NAME_SUFFIXES: Final = frozenset({
    "jr", "jnr", "sr", "snr", "ii", "iii", "iv", "md", "phd", "dds", "dmd", "dvm", "esq",
    "cpa", "mba", "rn", "jd",
})  # fmt: skip
"""Suffixes a Latin name may end with (``John Smith Jr.``, ``… PhD``), folded; dropped."""
CJK_FORMS_OF_ADDRESS: Final = (
    "总经理", "先生", "女士", "小姐", "太太", "夫人", "老师", "经理", "总监", "主任", "博士",
    "教授", "医生", "律师",
)  # fmt: skip
"""What Chinese writes after a name to address its holder (王先生, 李经理); dropped."""


def _without_address(full: str) -> str:
    """A CJK full name without the form of address after it (王先生 → 王); others as given."""
    if not full.endswith(CJK_FORMS_OF_ADDRESS):
        return full
    for form in CJK_FORMS_OF_ADDRESS:  # the longest first: 总经理 before 经理
        if full.endswith(form) and len(full) > len(form):
            return full[: -len(form)].rstrip()
    return full


def _bare(tokens: list[str], *, full: bool) -> list[str]:
    """A name's tokens without titles, suffixes and middle initials.

    A title goes from the front and a suffix from the end only while a name
    part remains (``Mr. Smith`` keeps ``smith``; a full name keeps two parts
    past a suffix, so ``John II`` stays). A one-letter token goes when two
    tokens of more letters remain in a whole name, one in a field (``John A.
    Smith``, given name ``John A.``; ``J. Smith`` keeps its initial). ``full``:
    the tokens of a whole name, else one field's.

    >>> _bare(["dr", "john", "a", "smith", "jr"], full=True)
    ['john', 'smith']
    >>> _bare(["j", "smith"], full=True), _bare(["mr", "smith"], full=True), _bare([], full=True)
    (['j', 'smith'], ['smith'], [])
    """
    parts = 2 if full else 1  # name parts that must remain
    if not tokens or (
        len(tokens) <= parts and tokens[0] not in TITLES and tokens[-1] not in NAME_SUFFIXES
    ):
        return tokens  # the common name: nothing to drop
    while len(tokens) > 1 and tokens[0] in TITLES:
        tokens = tokens[1:]
    while len(tokens) > parts and tokens[-1] in NAME_SUFFIXES:
        tokens = tokens[:-1]
    if len(tokens) > parts and sum(len(t) > 1 for t in tokens) >= parts:
        tokens = [t for t in tokens if len(t) > 1]
    return tokens


def _name_parts(full: str, given: str, family: str, nicknames: Mapping[str, str]) -> _NameParts:
    """:func:`name_key`'s fields as a tuple: family first, given first, signature, initials."""
    full = _without_address(full)
    if not given and not family and _PLAIN_CJK.fullmatch(full):
        # The common Chinese full name (张伟): what the general path below
        # computes, without folding text that folding cannot change.
        return _cjk_name(full)
    return _general_parts(full, given, family, nicknames)


def _cjk_name(full: str) -> _NameParts:
    """The parts of a name written only in unified ideographs (what ``_cjk_tokens`` reads)."""
    family_size = 2 if len(full) >= 3 and full[:2] in COMPOUND_SURNAMES else 1
    family = _compact_pinyin(full[:family_size], family_first=True)
    given = _compact_pinyin(full[family_size:], family_first=False)
    if family and given:
        compact = family + given
        reverse = given + family
        return compact, reverse, "".join(sorted(compact)), _initials(compact, reverse)
    return _name_from_parts((), (family or given,))


_compact_cache: dict[tuple[str, bool], str] = {}


def _compact_pinyin(text: str, *, family_first: bool) -> str:
    """``"".join(transliterate(text).split())``, kept (name parts repeat a lot)."""
    key = (text, family_first)
    cached = _compact_cache.get(key)
    if cached is None:
        if len(_compact_cache) >= _PINYIN_CACHE_MAX:
            _compact_cache.clear()
        cached = "".join(transliterate(text, family_first=family_first).split())
        _compact_cache[key] = cached
    return cached


def _name_key_general(
    *, full: str, given: str, family: str, nicknames: Mapping[str, str]
) -> NameKey:
    """:func:`name_key` without its Chinese full-name path (what that path must equal)."""
    return NameKey(*_general_parts(_without_address(full), given, family, nicknames))


def _general_parts(full: str, given: str, family: str, nicknames: Mapping[str, str]) -> _NameParts:
    if given or family:
        family_tokens = _tokens(family, nicknames, cjk_family_first=False) if family else []
        given_tokens = _tokens(given, nicknames, cjk_family_first=False) if given else []
        if family_tokens and len(given_tokens) == 1 and given_tokens[0] in TITLES:
            given_tokens = []  # Dr. / Smith: the family name is the whole name
        given_tokens = _bare(given_tokens, full=False)
        family_tokens = _bare(family_tokens, full=False)
        return _name_from_parts(family_tokens, given_tokens)
    if not full:
        return _NO_NAME
    folded = fold_text(full)
    if "," in folded:
        family_text, _, given_text = folded.partition(",")
        return _name_parts("", given_text, family_text, nicknames)
    compact = folded.replace(" ", "")
    if is_cjk(compact.replace("·", "")):
        tokens = _tokens(compact, nicknames, cjk_family_first="·" not in compact)
        if len(tokens) == 2:
            return _name_from_parts(tokens[:1], tokens[1:])
        return _name_from_parts([], tokens)
    tokens = _bare(_tokens(folded, nicknames, cjk_family_first=True), full=True)
    if len(tokens) < 2:
        return _name_from_parts([], tokens)
    family_first, _, signature, _ = _name_from_parts(tokens[-1:], tokens[:-1])
    # As written (given first) and with the last word moved to the front.
    written = "".join(tokens)
    return family_first, written, signature, _initials(family_first, written)


# --------------------------------------------------------------------------- email

_GMAIL: Final = frozenset({"gmail.com", "googlemail.com"})


def email_key(raw: str, *, fold_tags: bool = True, fold_gmail_dots: bool = True) -> str:
    """Return the canonical form of an email address for matching ("" if invalid).

    The address is validated by the domain normaliser, then lower-cased as a
    whole (mailboxes are case-insensitive in practice); ``+tag`` and gmail
    dots are folded when asked.

    Args:
        raw: The address as written.
        fold_tags: Drop a ``+tag`` from the local part.
        fold_gmail_dots: Drop dots from gmail local parts (googlemail → gmail).

    Returns:
        The key, or ``""`` when ``raw`` is empty or not a valid address.

    >>> email_key(" Zhang.Wei+crm@GoogleMail.com ")
    'zhangwei@gmail.com'
    >>> email_key("not an email")
    ''
    """
    text = raw.strip()
    if not text:
        return ""
    try:
        address = normalize_email(text)
    except InvalidValueError:
        return ""
    return fold_email(address, fold_tags=fold_tags, fold_gmail_dots=fold_gmail_dots)


def fold_email(address: str, *, fold_tags: bool = True, fold_gmail_dots: bool = True) -> str:
    """Fold an already valid address (see :func:`email_key`).

    Args:
        address: A valid address.
        fold_tags: Drop a ``+tag`` from the local part.
        fold_gmail_dots: Drop dots from gmail local parts.

    Returns:
        The folded, lower-case address.
    """
    local, _, domain = address.lower().rpartition("@")
    if fold_tags and "+" in local:
        local = local.partition("+")[0] or local
    if domain in _GMAIL:
        domain = "gmail.com"
        if fold_gmail_dots:
            local = local.replace(".", "")
    return f"{local}@{domain}"


# --------------------------------------------------------------------------- phone


def phone_key(raw: str, *, region: str | None = None) -> str:
    """Return a phone number's E.164 form for matching ("" if it is not valid).

    Args:
        raw: The number as written.
        region: The region to read a national number in.

    Returns:
        The E.164 form without any extension, or ``""``.

    >>> phone_key("138 0013 8000", region="CN"), phone_key("12345", region="CN")
    ('+8613800138000', '')
    """
    text = raw.strip()
    if not text:
        return ""
    try:
        return normalize_phone(text, region)[0]
    except InvalidValueError:
        return ""


# --------------------------------------------------------------------------- company

COMPANY_SUFFIXES: Final = (
    "incorporated", "inc", "corporation", "corp", "company", "co", "limited", "ltd",
    "llc", "llp", "lp", "plc", "gmbh", "ag", "kg", "sa", "sarl", "srl", "spa", "bv",
    "nv", "pty", "pte", "oy", "ab", "as", "kk", "group", "holdings", "holding",
)  # fmt: skip
"""Legal-form and group words dropped from the end of Latin company names."""

CHINESE_COMPANY_SUFFIXES: Final = (
    "股份有限公司", "有限责任公司", "集团有限公司", "集团股份有限公司", "有限公司",
    "分公司", "总公司", "公司", "集团", "控股",
)  # fmt: skip
"""Legal-form words dropped from the end of Chinese company names."""

INDUSTRY_WORDS: Final = (
    "科技", "技术", "信息", "网络", "贸易", "实业", "电子", "软件", "咨询", "发展",
    "technology", "technologies", "tech", "trading", "industries", "industrial",
    "software", "solutions", "systems", "consulting", "services", "international",
    "intl", "global",
)  # fmt: skip
"""Industry words dropped from company names for the weaker "core" comparison."""

_CN_PLACE_PREFIX = re.compile(
    r"^(?:中国|(?:北京|上海|天津|重庆|深圳|广州|杭州|南京|苏州|成都|武汉|西安|厦门|青岛|大连|"
    r"宁波|长沙|郑州|沈阳|济南|合肥|福州|昆明|无锡|东莞|佛山|珠海|香港|广东|江苏|浙江|山东|"
    r"四川|湖北|湖南|河南|河北|福建|安徽|辽宁)(?:省|市)?)+"
)
_CN_SUFFIX = re.compile(
    "(?:" + "|".join(sorted(CHINESE_COMPANY_SUFFIXES, key=len, reverse=True)) + ")+$"
)
_CN_INDUSTRY = re.compile("(?:" + "|".join(w for w in INDUSTRY_WORDS if not w.isascii()) + ")+$")
_LATIN_SUFFIX: Final = frozenset(COMPANY_SUFFIXES)
_LATIN_INDUSTRY: Final = frozenset(w for w in INDUSTRY_WORDS if w.isascii())
_company_cache: dict[str, tuple[str, str]] = {}


def company_keys(raw: str) -> tuple[str, str]:
    """Return a company name's key and its core (industry words dropped too).

    Args:
        raw: The company name as written.

    Returns:
        ``(key, core)``; both ``""`` for an empty name.

    >>> company_keys("深圳市腾达科技有限公司")
    ('腾达科技', '腾达')
    >>> company_keys("Acme Technologies, Inc.")
    ('acmetechnologies', 'acme')
    """
    cached = _company_cache.get(raw)
    if cached is not None:
        return cached
    folded = fold_text(raw.replace("&", " and "))
    folded = re.sub(r"[（(][^)）]*[)）]", " ", folded)  # (深圳) / (China) branch notes
    words = _NOT_WORD.sub(" ", _JOINERS.sub(" ", folded)).split()
    while len(words) > 1 and words[-1] in _LATIN_SUFFIX:
        words.pop()
    if words and words[0] == "the" and len(words) > 1:
        words.pop(0)
    text = "".join(words)
    if _has_cjk(text):
        text = _CN_PLACE_PREFIX.sub("", text) or text
        text = _CN_SUFFIX.sub("", text) or text
        core = _CN_INDUSTRY.sub("", text) or text
    else:
        core_words = list(words)
        while len(core_words) > 1 and core_words[-1] in _LATIN_INDUSTRY | _LATIN_SUFFIX:
            core_words.pop()
        core = "".join(core_words)
    result = (text, core)
    if len(_company_cache) >= _PINYIN_CACHE_MAX:
        _company_cache.clear()
    _company_cache[raw] = result
    return result


def company_key(raw: str) -> str:
    """Return a company name without legal suffixes, folded, without spaces.

    Args:
        raw: The company name as written.

    Returns:
        The key (``""`` for an empty name).

    >>> company_key("ACME, Inc."), company_key("Acme Ltd"), company_key("北京腾达集团有限公司")
    ('acme', 'acme', '腾达')
    """
    return company_keys(raw)[0]


# --------------------------------------------------------------------------- places, dates

_city_cache: dict[str, str] = {}
_CITY_WORDS: Final = frozenset({"city", "shi", "district"})


def city_key(raw: str) -> str:
    """Return a city name folded for matching; Chinese names in pinyin, 市 dropped.

    Args:
        raw: The city as written.

    Returns:
        The key.

    >>> city_key("北京市"), city_key("Beijing"), city_key("New York City")
    ('beijing', 'beijing', 'newyork')
    """
    cached = _city_cache.get(raw)
    if cached is not None:
        return cached
    text = fold_text(raw)
    if _has_cjk(text):
        text = text.removesuffix("市")
        text = transliterate(text)
    words = _NOT_WORD.sub(" ", text).split()
    while len(words) > 1 and words[-1] in _CITY_WORDS:
        words.pop()
    result = "".join(words)
    if len(_city_cache) < _PINYIN_CACHE_MAX:
        _city_cache[raw] = result
    return result


def postcode_key(raw: str) -> str:
    """Return a postcode upper-cased without spaces or dashes.

    >>> postcode_key(" sw1a 1aa "), postcode_key("518-057")
    ('SW1A1AA', '518057')
    """
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", raw)).replace("_", "").upper()


_DATE_PATTERNS: Final = (
    re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)
_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")


def date_key(raw: str | dt.date | None) -> int:
    """Return a date as the integer ``YYYYMMDD`` (0 when missing or unreadable).

    Accepts ISO dates, ``YYYY/MM/DD``, ``YYYYMMDD``, ``YYYY年M月D日`` and
    day-first ``DD/MM/YYYY``.

    >>> date_key("1988-02-29"), date_key("1988年2月9日"), date_key("19880229"), date_key("x")
    (19880229, 19880209, 19880229, 0)
    """
    if raw is None:
        return 0
    if isinstance(raw, dt.date):
        return raw.year * 10_000 + raw.month * 100 + raw.day
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return 0
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match is not None:
            year, month, day = (int(g) for g in match.groups())
            break
    else:
        match = _DMY.fullmatch(text)
        if match is None:
            return 0
        day, month, year = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1800 <= year <= 2200):
        return 0
    return year * 10_000 + month * 100 + day
