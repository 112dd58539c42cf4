"""A second, independent generator of CRM contacts: people with many mailboxes.

:func:`generate_people` yields contact rows as a CRM export holds them when
several teams (sales, marketing, support, events) each entered the people
they met, written from what real CRM data looks like rather than from
:mod:`crmcore.sample.contact`:

- people keep a work and a personal mailbox, move jobs (the same
  ``first.last`` local part on another company's domain), and salespeople
  mistype addresses (a dropped or swapped letter, ``gmial.com``);
- households share a home phone, colleagues a switchboard number, and
  small companies a role mailbox (``info@``, ``sales@``) that several
  employees give as theirs — none of which makes them one person;
- names follow their culture's habits: Chinese names in characters or in
  pinyin, family name first or last, given names split or joined;
  Japanese and Korean order swaps; English nicknames (Bill, Liz); Spanish
  double surnames sometimes shortened to the first; German umlauts written
  ``ue``; and now and then an English name a Chinese professional uses at work;
- many records are sparse (a name and one mailbox from a newsletter
  signup, a name and a mobile from a support call);
- strangers share names: a common name recurs in one city and even in
  one company.

Every row carries its truth in ``cluster`` (the person). The output is seeded
(``random.Random(seed)`` only), so the same arguments give the same rows, and
scales to millions of rows.

May import: ``crmcore.errors``; the standard library.

>>> rows = list(generate_people(5, seed=1))
>>> len(rows), sorted(rows[0]) == sorted(PEOPLE_COLUMNS)
(5, True)
>>> rows == list(generate_people(5, seed=1))
True
"""

from __future__ import annotations

import csv
import itertools
import random
import string
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final, TextIO

from crmcore.errors import InvalidValueError

__all__ = ["PEOPLE_COLUMNS", "ROLE_MAILBOXES", "generate_people", "write_people_csv"]

PEOPLE_COLUMNS: Final = (
    "id", "cluster", "name", "first_name", "last_name", "work_email", "personal_email",
    "mobile", "work_phone", "company", "city", "country", "birth_date",
)  # fmt: skip
"""The columns of every generated row, in CSV order."""

ROLE_MAILBOXES: Final = ("info", "sales", "contact", "office", "hello", "admin", "service")
"""Local parts of the shared role mailboxes small companies give out."""

# How many records one person has: mostly one, a long thin tail.
_RECORDS_PER_PERSON: Final = (1, 2, 3, 4, 5, 6, 7, 8)
_RECORD_CUM: Final = tuple(itertools.accumulate((58, 22, 10, 5, 2.5, 1.3, 0.7, 0.5)))

# (family in characters, pinyin)
_CN_FAMILY: Final = (
    ("王", "wang", 70), ("李", "li", 70), ("张", "zhang", 65), ("刘", "liu", 50),
    ("陈", "chen", 45), ("杨", "yang", 30), ("黄", "huang", 22), ("赵", "zhao", 20),
    ("吴", "wu", 20), ("周", "zhou", 20), ("徐", "xu", 15), ("孙", "sun", 15),
    ("马", "ma", 13), ("朱", "zhu", 12), ("胡", "hu", 12), ("郭", "guo", 11),
    ("何", "he", 10), ("林", "lin", 10), ("高", "gao", 10), ("罗", "luo", 9),
    ("郑", "zheng", 9), ("梁", "liang", 8), ("谢", "xie", 7), ("宋", "song", 6),
    ("唐", "tang", 6), ("韩", "han", 5), ("冯", "feng", 5), ("邓", "deng", 5),
    ("曹", "cao", 5), ("彭", "peng", 4), ("蒋", "jiang", 4), ("田", "tian", 4),
    ("欧阳", "ouyang", 1), ("司马", "sima", 1), ("诸葛", "zhuge", 1),
)  # fmt: skip
# (given in characters, pinyin syllables)
_CN_GIVEN: Final = (
    ("伟", ("wei",), 40), ("芳", ("fang",), 30), ("娜", ("na",), 28), ("敏", ("min",), 25),
    ("静", ("jing",), 25), ("丽", ("li",), 20), ("强", ("qiang",), 20), ("磊", ("lei",), 20),
    ("军", ("jun",), 18), ("洋", ("yang",), 15), ("勇", ("yong",), 15), ("艳", ("yan",), 15),
    ("杰", ("jie",), 15), ("涛", ("tao",), 14), ("明", ("ming",), 12), ("超", ("chao",), 12),
    ("秀英", ("xiu", "ying"), 12), ("霞", ("xia",), 10), ("平", ("ping",), 10),
    ("刚", ("gang",), 10), ("桂英", ("gui", "ying"), 8), ("建华", ("jian", "hua"), 8),
    ("建国", ("jian", "guo"), 7), ("志强", ("zhi", "qiang"), 7), ("晓明", ("xiao", "ming"), 7),
    ("海燕", ("hai", "yan"), 6), ("玉兰", ("yu", "lan"), 5), ("子涵", ("zi", "han"), 5),
    ("浩然", ("hao", "ran"), 5), ("欣怡", ("xin", "yi"), 5), ("梓轩", ("zi", "xuan"), 4),
    ("宇", ("yu",), 6), ("鑫", ("xin",), 6), ("婷", ("ting",), 8), ("雪", ("xue",), 6),
    ("雨桐", ("yu", "tong"), 4), ("佳怡", ("jia", "yi"), 4), ("俊杰", ("jun", "jie"), 4),
    ("思远", ("si", "yuan"), 3), ("文博", ("wen", "bo"), 3), ("晨", ("chen",), 4),
    ("一鸣", ("yi", "ming"), 2), ("家豪", ("jia", "hao"), 3), ("丹", ("dan",), 5),
)  # fmt: skip
_CN_WORK_NAMES: Final = (
    "kevin", "jack", "tony", "lucy", "amy", "eric", "jason", "vivian", "grace", "leo",
    "cindy", "frank", "helen", "sunny", "alan", "coco",
)  # fmt: skip
_CN_CITIES: Final = (
    ("上海", "Shanghai"), ("北京", "Beijing"), ("深圳", "Shenzhen"), ("广州", "Guangzhou"),
    ("杭州", "Hangzhou"), ("成都", "Chengdu"), ("南京", "Nanjing"), ("武汉", "Wuhan"),
    ("苏州", "Suzhou"), ("西安", "Xi'an"),
)  # fmt: skip
_CN_BRANDS: Final = (
    ("华兴", "huaxing"), ("瑞达", "ruida"), ("恒通", "hengtong"), ("金桥", "jinqiao"),
    ("东方", "dongfang"), ("盛世", "shengshi"), ("天成", "tiancheng"), ("中联", "zhonglian"),
    ("博远", "boyuan"), ("新锐", "xinrui"), ("汇丰源", "huifengyuan"), ("宏图", "hongtu"),
    ("立信", "lixin"), ("永安", "yongan"), ("海纳", "haina"), ("鼎盛", "dingsheng"),
    ("智远", "zhiyuan"), ("云帆", "yunfan"), ("启明", "qiming"), ("长城", "changcheng"),
)  # fmt: skip
_CN_TRADES: Final = ("科技", "贸易", "物流", "信息技术", "电子", "医药", "咨询", "实业")

# (formal given name, nicknames people write instead)
_EN_GIVEN: Final = (
    ("William", ("Bill", "Will", "Billy")), ("Robert", ("Bob", "Rob", "Bobby")),
    ("Elizabeth", ("Liz", "Beth", "Betty")), ("Katherine", ("Kate", "Kathy", "Katie")),
    ("Michael", ("Mike",)), ("James", ("Jim", "Jimmy")), ("Jennifer", ("Jen", "Jenny")),
    ("Richard", ("Rick", "Dick", "Rich")), ("Thomas", ("Tom", "Tommy")),
    ("Margaret", ("Maggie", "Peggy", "Meg")), ("Christopher", ("Chris",)),
    ("Daniel", ("Dan", "Danny")), ("Joseph", ("Joe",)), ("Anthony", ("Tony",)),
    ("Susan", ("Sue",)), ("Patricia", ("Pat", "Trish")), ("Edward", ("Ed", "Ted")),
    ("Alexander", ("Alex",)), ("Samantha", ("Sam",)), ("Matthew", ("Matt",)),
    ("David", ("Dave",)), ("Sarah", ()), ("Emily", ()), ("Laura", ()), ("Mark", ()),
    ("Paul", ()), ("Rachel", ()), ("Olivia", ()), ("Jessica", ("Jess",)),
    ("Andrew", ("Andy", "Drew")), ("Nicholas", ("Nick",)), ("Rebecca", ("Becky",)),
    ("Steven", ("Steve",)), ("Timothy", ("Tim",)), ("Victoria", ("Vicky", "Tori")),
)  # fmt: skip
_EN_FAMILY: Final = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Anderson", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill",
    "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips",
    "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook",
    "O'Brien", "MacDonald", "Fitzgerald",
)  # fmt: skip
_ES_GIVEN: Final = (
    "José", "María", "Juan", "Carlos", "Ana", "Luis", "Carmen", "Javier", "Lucía", "Miguel",
    "Sofía", "Alejandro", "Isabel", "Pablo", "Elena", "Diego", "Marta", "Andrés",
)  # fmt: skip
_ES_FAMILY: Final = (
    "García", "Rodríguez", "Martínez", "López", "González", "Hernández", "Pérez", "Sánchez",
    "Ramírez", "Torres", "Flores", "Díaz", "Moreno", "Jiménez", "Ruiz", "Álvarez", "Romero",
    "Navarro", "Castillo", "Ortega",
)  # fmt: skip
_JP_GIVEN: Final = (
    "Hiroshi", "Yuki", "Haruto", "Sakura", "Takeshi", "Yoko", "Kenji", "Aiko", "Daiki",
    "Naoko", "Ryo", "Emi",
)  # fmt: skip
_JP_FAMILY: Final = (
    "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
    "Kobayashi", "Kato",
)  # fmt: skip
_KR_GIVEN: Final = (
    ("Min", "jun"), ("Seo", "yeon"), ("Ji", "hoon"), ("Ha", "eun"), ("Do", "yun"),
    ("Su", "bin"), ("Ye", "jin"), ("Hyun", "woo"), ("Eun", "ji"), ("Jae", "won"),
)  # fmt: skip
_KR_FAMILY: Final = ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon")
_DE_GIVEN: Final = (
    "Jürgen", "Jörg", "Günter", "Björn", "Sören", "Lukas", "Anna", "Katrin", "Stefan",
    "Monika", "Uwe", "Sabine",
)  # fmt: skip
_DE_FAMILY: Final = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schäfer", "Köhler", "Groß", "Hoffmann",
)  # fmt: skip
_IN_GIVEN: Final = ("Priya", "Rahul", "Amit", "Anjali", "Vikram", "Sneha", "Arjun", "Pooja")
_IN_FAMILY: Final = ("Sharma", "Gupta", "Patel", "Singh", "Kumar", "Reddy", "Iyer", "Nair")
_EN_WORDS: Final = (
    "Apex", "Blue River", "Northstar", "Summit", "Crescent", "Pioneer", "Harbor", "Evergreen",
    "Granite", "Silverline", "Redwood", "Beacon", "Atlas", "Keystone", "Meridian", "Lakeside",
    "Ironbridge", "Brightwater", "Oakmont", "Falcon",
)  # fmt: skip
_EN_TRADES: Final = ("Logistics", "Systems", "Analytics", "Foods", "Health", "Partners", "Labs")
_EN_SUFFIXES: Final = ("Inc.", "Inc", "LLC", "Ltd", "Corp.", "Corporation", "Co.", "")

# Country → (weight, cities, mobile maker, landline maker)
_FREE_MAIL: Final = {
    "CN": ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com"),
    "US": ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com"),
    "GB": ("gmail.com", "btinternet.com", "hotmail.co.uk", "outlook.com", "yahoo.co.uk"),
    "ES": ("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.es"),
    "MX": ("gmail.com", "hotmail.com", "yahoo.com.mx", "outlook.com"),
    "JP": ("gmail.com", "yahoo.co.jp", "docomo.ne.jp", "outlook.jp"),
    "KR": ("naver.com", "daum.net", "gmail.com", "hanmail.net"),
    "DE": ("gmx.de", "web.de", "t-online.de", "gmail.com"),
    "IN": ("gmail.com", "yahoo.co.in", "rediffmail.com", "outlook.com"),
}
_CITIES: Final = {
    "US": ("New York", "San Francisco", "Chicago", "Boston", "Seattle", "Austin", "Denver"),
    "GB": ("London", "Manchester", "Leeds", "Bristol", "Edinburgh"),
    "ES": ("Madrid", "Barcelona", "Valencia", "Sevilla"),
    "MX": ("Ciudad de México", "Guadalajara", "Monterrey"),
    "JP": ("Tokyo", "Osaka", "Yokohama", "Nagoya"),
    "KR": ("Seoul", "Busan", "Incheon"),
    "DE": ("Berlin", "München", "Hamburg", "Köln", "Frankfurt"),
    "IN": ("Bengaluru", "Mumbai", "Delhi", "Pune", "Hyderabad"),
}
_COUNTRIES: Final = ("CN", "US", "GB", "ES", "MX", "JP", "KR", "DE", "IN")
_COUNTRY_CUM: Final = tuple(itertools.accumulate((45, 20, 7, 5, 4, 5, 4, 5, 5)))
_CODES: Final = {
    "CN": "86", "US": "1", "GB": "44", "ES": "34", "MX": "52", "JP": "81", "KR": "82",
    "DE": "49", "IN": "91",
}  # fmt: skip
_CN_MOBILE: Final = ("139", "138", "137", "136", "135", "186", "188", "150", "158", "177", "199")
_US_AREAS: Final = ("212", "415", "646", "312", "617", "206", "512", "303", "213", "404")
_DE_MOBILE: Final = ("151", "160", "170", "171", "176")
_CN_LANDLINE: Final = ("21", "10", "755", "20", "571", "28", "25", "27", "512", "29")

_TRUNK_ZERO: Final = frozenset({"GB", "DE", "JP", "KR", "IN"})
_NATIONAL_FORMS: Final = 0.55  # share of phones written in national form (region needed)


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choices(string.digits, k=count))


def _mobile(rng: random.Random, country: str) -> str:
    """Return a valid mobile number's national significant digits."""
    if country == "CN":
        return rng.choice(_CN_MOBILE) + _digits(rng, 8)
    if country == "US":
        return rng.choice(_US_AREAS) + rng.choice("2346789") + _digits(rng, 6)
    if country == "GB":
        return "7" + rng.choice("4579") + _digits(rng, 8)
    if country == "ES":
        return "6" + _digits(rng, 8)
    if country == "MX":
        return "55" + rng.choice("123456789") + _digits(rng, 7)
    if country == "JP":
        return rng.choice(("90", "80", "70")) + rng.choice("123456789") + _digits(rng, 7)
    if country == "KR":
        return "10" + rng.choice("23456789") + _digits(rng, 7)
    if country == "DE":
        return rng.choice(_DE_MOBILE) + _digits(rng, 8)
    return rng.choice("6789") + _digits(rng, 9)  # IN


def _landline(rng: random.Random, country: str) -> str:
    """Return a valid fixed-line number's national significant digits (a switchboard)."""
    if country == "CN":
        return rng.choice(_CN_LANDLINE) + rng.choice("5678") + _digits(rng, 7)
    if country == "US":
        return rng.choice(_US_AREAS) + rng.choice("2346789") + _digits(rng, 6)
    if country == "GB":
        return "20" + rng.choice("378") + _digits(rng, 7)
    if country == "DE":
        return "30" + rng.choice("2345678") + _digits(rng, 7)
    if country == "JP":
        return "3" + rng.choice("2345679") + _digits(rng, 7)
    return _mobile(rng, country)


def _write_phone(rng: random.Random, country: str, nsn: str, *, has_country: bool) -> str:
    """Write a number as people do: national (needs the country) or international."""
    code = _CODES[country]
    if has_country and rng.random() < _NATIONAL_FORMS:
        cn_mobile = country == "CN" and nsn.startswith("1") and len(nsn) == 11
        trunk = "0" if country in _TRUNK_ZERO or (country == "CN" and not cn_mobile) else ""
        if country == "US" and rng.random() < 0.5:
            return f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}"
        sep = rng.choice((" ", "-", ""))
        return trunk + sep.join((nsn[:3], nsn[3:7], nsn[7:])).strip(sep)
    sep = rng.choice((" ", "-", "", "."))
    return f"+{code} " + sep.join((nsn[:3], nsn[3:6], nsn[6:])).strip(sep)


def _typo(rng: random.Random, text: str) -> str:
    """Mistype a word: drop, double or swap a letter (never the first one)."""
    if len(text) < 4:
        return text
    at = rng.randrange(1, len(text) - 1)
    roll = rng.random()
    if roll < 0.35:
        return text[:at] + text[at + 1 :]
    if roll < 0.6:
        return text[:at] + text[at] + text[at:]
    if roll < 0.9:
        return text[:at] + text[at + 1] + text[at] + text[at + 2 :]
    return text[:at] + rng.choice(string.ascii_lowercase) + text[at + 1 :]


def _ascii(text: str) -> str:
    return text.translate(_ASCII)


_ASCII: Final = str.maketrans(
    {
        "á": "a",
        "é": "e",
        "í": "i",
        "ó": "o",
        "ú": "u",
        "ñ": "n",
        "Á": "A",
        "É": "E",
        "ü": "u",
        "ö": "o",
        "ä": "a",
        "ß": "ss",
        "'": "",
    }
)


def _german_ascii(text: str) -> str:
    return text.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")


class _Company:
    __slots__ = ("country", "domain", "names", "roles", "switchboard")

    def __init__(self, rng: random.Random, country: str, serial: int) -> None:
        self.country = country
        if country == "CN":
            brand, latin = rng.choice(_CN_BRANDS)
            trade = rng.choice(_CN_TRADES)
            city = rng.choice(_CN_CITIES)[0]
            self.names = (
                f"{city}{brand}{trade}有限公司",
                f"{brand}{trade}有限公司",
                f"{brand}{trade}",
                f"{latin.capitalize()} {rng.choice(('Technology', 'Trading', 'Group'))} Co., Ltd.",
            )
            self.domain = f"{latin}{serial % 97 or ''}.com.cn"
        else:
            word = rng.choice(_EN_WORDS)
            trade = rng.choice(_EN_TRADES)
            suffix = rng.choice(_EN_SUFFIXES)
            full = f"{word} {trade} {suffix}".strip()
            self.names = (full, f"{word} {trade}", full.upper(), f"{word} {trade}, {suffix}")
            tld = {"GB": "co.uk", "DE": "de", "JP": "co.jp", "ES": "es", "MX": "com.mx"}
            self.domain = (
                f"{word.lower().replace(' ', '')}{trade.lower()}{serial % 89 or ''}."
                f"{tld.get(country, 'com')}"
            )
        self.switchboard = _landline(rng, country)
        # Small companies give out a role mailbox; a third of them.
        self.roles = (
            tuple(rng.sample(ROLE_MAILBOXES, rng.randint(1, 2))) if rng.random() < 0.35 else ()
        )


class _Person:
    """One person: names, mailboxes and numbers, from which their records are drawn."""

    __slots__ = (
        "alias",
        "birth",
        "city",
        "cjk",
        "cjk_family",
        "company",
        "country",
        "family",
        "family_alt",
        "given",
        "given_alt",
        "home_phone",
        "latin",
        "mobile",
        "old_company",
        "personal_email",
        "shared_mail",
        "style",
        "work_local",
    )

    alias: str | None
    birth: str
    city: str
    cjk: str
    cjk_family: str
    company: _Company | None
    country: str
    family: str
    family_alt: str
    given: str
    given_alt: str
    home_phone: str | None
    latin: str
    mobile: str
    old_company: _Company | None
    personal_email: str
    shared_mail: str | None
    style: str
    work_local: str


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - sample data, not cryptography
        self.companies: dict[str, list[_Company]] = {c: [] for c in _COUNTRIES}
        self.recent: list[_Person] = []  # people a household or a namesake can come from
        self.serial = 0
        self.taken: set[str] = set()  # mailboxes are unique: a namesake gets another one
        self.cn_family_weights = list(itertools.accumulate(f[2] for f in _CN_FAMILY))
        self.cn_given_weights = list(itertools.accumulate(g[2] for g in _CN_GIVEN))

    # ----------------------------------------------------------------- companies

    def company(self, country: str) -> _Company:
        pool = self.companies[country]
        # Few large accounts, many small ones: an existing company is picked in
        # proportion to how many people it already employs (a power law).
        if pool and self.rng.random() < 0.75:
            return self.rng.choice(pool)
        self.serial += 1
        company = _Company(self.rng, country, self.serial)
        pool.append(company)
        return company

    def employ(self, company: _Company | None) -> _Company | None:
        if company is not None:
            self.companies[company.country].append(company)
        return company

    # ----------------------------------------------------------------- people

    def person(self) -> _Person:
        rng = self.rng
        p = _Person()
        roll = rng.random()
        if self.recent and roll < 0.04:
            # Same-name stranger: a namesake in the same city, often the same company.
            other = rng.choice(self.recent)
            self._copy_name(p, other)
            p.city = other.city
            p.company = other.company if rng.random() < 0.4 else self.company(other.country)
        elif self.recent and roll < 0.07:
            # Household member: same family name and home phone, another given name.
            other = rng.choice(self.recent)
            self._new_name(p, other.country)
            p.family, p.family_alt, p.style = other.family, other.family_alt, other.style
            if p.cjk and other.cjk_family:
                p.cjk = other.cjk_family + p.cjk[len(p.cjk_family) :]
                p.cjk_family = other.cjk_family
            p.latin = f"{p.given} {p.family}"
            p.city = other.city
            p.company = self.company(other.country) if rng.random() < 0.6 else None
            if other.home_phone is None:
                other.home_phone = _landline(rng, other.country)
            p.home_phone = other.home_phone
        else:
            country = rng.choices(_COUNTRIES, cum_weights=_COUNTRY_CUM)[0]
            self._new_name(p, country)
            p.city = (
                rng.choice(_CN_CITIES)[rng.random() < 0.3]
                if country == "CN"
                else rng.choice(_CITIES[country])
            )
            p.company = self.company(country) if rng.random() < 0.8 else None
        if not hasattr(p, "home_phone"):
            p.home_phone = None
        self.employ(p.company)
        p.mobile = _mobile(rng, p.country)
        p.old_company = self.company(p.country) if rng.random() < 0.08 else None
        p.work_local = self._unique_local(self._work_local(p), p.company, p.old_company)
        p.personal_email = self._unique(self._personal_email(p))
        p.shared_mail = None
        p.birth = (
            f"{rng.randint(1950, 2003)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            if rng.random() < 0.15
            else ""
        )
        if len(self.recent) < 5000:
            self.recent.append(p)
        else:
            self.recent[rng.randrange(5000)] = p
        return p

    def _unique(self, address: str) -> str:
        local, _, domain = address.partition("@")
        while address in self.taken:
            address = f"{local}{self.rng.randint(1, 99)}@{domain}"
        self.taken.add(address)
        return address

    def _unique_local(self, local: str, *companies: _Company | None) -> str:
        domains = [c.domain for c in companies if c is not None]
        base = local
        while any(f"{local}@{d}" in self.taken for d in domains):
            local = f"{base}{self.rng.randint(2, 9)}"
        self.taken.update(f"{local}@{d}" for d in domains)
        return local

    def _copy_name(self, p: _Person, other: _Person) -> None:
        p.country, p.style, p.cjk, p.latin = other.country, other.style, other.cjk, other.latin
        p.cjk_family = other.cjk_family
        p.family, p.given = other.family, other.given
        p.family_alt, p.given_alt, p.alias = other.family_alt, other.given_alt, None

    def _new_name(self, p: _Person, country: str) -> None:
        rng = self.rng
        p.country = country
        p.alias = None
        p.cjk = p.cjk_family = ""
        if country == "CN":
            fam = rng.choices(_CN_FAMILY, cum_weights=self.cn_family_weights)[0]
            giv = rng.choices(_CN_GIVEN, cum_weights=self.cn_given_weights)[0]
            p.style = "cn"
            p.cjk_family = fam[0]
            p.cjk = fam[0] + giv[0]
            p.family, p.given = fam[1].capitalize(), "".join(giv[1]).capitalize()
            p.family_alt = p.family
            # Given names of two syllables are also written split or hyphenated.
            p.given_alt = " ".join(s.capitalize() for s in giv[1]) if len(giv[1]) > 1 else p.given
            if rng.random() < 0.08:
                p.alias = rng.choice(_CN_WORK_NAMES).capitalize()
        elif country in ("US", "GB"):
            formal, nicks = rng.choice(_EN_GIVEN)
            p.style = "en"
            p.given = formal
            p.given_alt = rng.choice(nicks) if nicks else formal
            p.family = rng.choice(_EN_FAMILY)
            p.family_alt = p.family
        elif country in ("ES", "MX"):
            p.style = "es"
            first, second = rng.sample(_ES_FAMILY, 2)
            p.given = rng.choice(_ES_GIVEN)
            if rng.random() < 0.2:
                p.given = f"{p.given} {rng.choice(_ES_GIVEN)}"
            p.family = f"{first} {second}"
            p.family_alt = first  # the second surname is often dropped
            p.given_alt = p.given.split()[0]
        elif country == "JP":
            p.style = "east"
            p.given, p.family = rng.choice(_JP_GIVEN), rng.choice(_JP_FAMILY)
            p.given_alt, p.family_alt = p.given, p.family
        elif country == "KR":
            p.style = "east"
            a, b = rng.choice(_KR_GIVEN)
            p.given, p.family = f"{a}-{b}", rng.choice(_KR_FAMILY)
            p.given_alt, p.family_alt = f"{a}{b}", p.family
        elif country == "DE":
            p.style = "de"
            p.given, p.family = rng.choice(_DE_GIVEN), rng.choice(_DE_FAMILY)
            p.given_alt, p.family_alt = _german_ascii(p.given), _german_ascii(p.family)
        else:
            p.style = "en"
            p.given, p.family = rng.choice(_IN_GIVEN), rng.choice(_IN_FAMILY)
            p.given_alt, p.family_alt = p.given, p.family
        p.latin = f"{p.given} {p.family}"

    def _work_local(self, p: _Person) -> str:
        rng = self.rng
        given = _ascii(_german_ascii(p.given.split()[0])).lower().replace("-", "")
        family = _ascii(_german_ascii(p.family.split()[0])).lower().replace(" ", "")
        style = rng.random()
        if p.alias and rng.random() < 0.7:
            given = p.alias.lower()
        if style < 0.5:
            return f"{given}.{family}"
        if style < 0.7:
            return f"{given[0]}{family}"
        if style < 0.85:
            return f"{given}{family[0]}"
        if style < 0.95:
            return given
        return f"{given}_{family}"

    def _personal_email(self, p: _Person) -> str:
        rng = self.rng
        country = p.country
        domain = rng.choice(_FREE_MAIL[country])
        given = _ascii(_german_ascii(p.given_alt.split()[0])).lower().replace("-", "")
        family = _ascii(_german_ascii(p.family_alt.split()[0])).lower()
        if country == "CN" and rng.random() < 0.4:
            return f"{rng.randint(10_000, 2_999_999_999)}@{domain}"  # numeric QQ-style
        style = rng.random()
        year = str(rng.randint(60, 99) if rng.random() < 0.5 else rng.randint(1960, 2005))
        if style < 0.3:
            local = f"{given}{family}{year}"
        elif style < 0.5:
            local = f"{given}.{family}"
        elif style < 0.7:
            local = f"{family}{given}{rng.randint(1, 999)}"
        elif style < 0.85:
            local = f"{given}{rng.randint(1, 99_999)}"
        else:
            local = f"{rng.choice(('sunny', 'blue', 'happy', 'cool', 'star', 'moon'))}"
            local += f"{given[:3]}{rng.randint(1, 9999)}"
        return f"{local}@{domain}"

    # ----------------------------------------------------------------- records

    def records(self, p: _Person, count: int) -> Iterator[dict[str, str]]:  # noqa: PLR0912 - one branch per channel
        rng = self.rng
        seen: list[tuple[str, str]] = []  # (column, value) of the person's own contact points
        for k in range(count):
            company = p.company
            if p.old_company is not None and k % 2 == 1:
                company = p.old_company  # an older record from a previous job
            channel = rng.random()
            row = dict.fromkeys(PEOPLE_COLUMNS, "")
            self._name(row, p, sparse=channel >= 0.8)
            has_country = rng.random() < 0.75
            row["country"] = p.country if has_country else ""
            city = p.city
            if channel < 0.45:  # entered by sales: the fullest record
                self._work(row, p, company, has_country=has_country)
                if rng.random() < 0.5:
                    row["mobile"] = _write_phone(rng, p.country, p.mobile, has_country=has_country)
                if rng.random() < 0.2:
                    row["personal_email"] = self._mail(p.personal_email)
                row["city"] = city if rng.random() < 0.7 else ""
                row["birth_date"] = p.birth if rng.random() < 0.5 else ""
            elif channel < 0.65:  # event badge scan: work details
                self._work(row, p, company, has_country=has_country, phone=False)
                row["city"] = city if rng.random() < 0.4 else ""
            elif channel < 0.8:  # support call or shop: mobile and personal mail
                row["mobile"] = _write_phone(rng, p.country, p.mobile, has_country=has_country)
                if p.home_phone is not None and rng.random() < 0.5:
                    row["work_phone"] = _write_phone(
                        rng, p.country, p.home_phone, has_country=has_country
                    )
                if rng.random() < 0.6:
                    row["personal_email"] = self._mail(p.personal_email)
                row["city"] = city if rng.random() < 0.6 else ""
                row["birth_date"] = p.birth if rng.random() < 0.3 else ""
            else:  # sparse: a name and one contact point
                pick = rng.random()
                if pick < 0.5:
                    row["personal_email"] = self._mail(p.personal_email)
                elif pick < 0.75 or company is None:
                    row["mobile"] = _write_phone(rng, p.country, p.mobile, has_country=has_country)
                else:
                    row["work_email"] = self._mail(f"{p.work_local}@{company.domain}")
            self._anchor(row, p, seen)
            yield row

    def _anchor(self, row: dict[str, str], p: _Person, seen: list[tuple[str, str]]) -> None:
        """Most duplicates repeat one of the person's own contact points: make sure they do.

        A record sharing no mailbox or mobile with the person's earlier records
        gets one of them back (nine times in ten), as a salesperson re-entering
        a known contact would type it; the rest link only by name and place.
        """
        rng = self.rng
        own = [
            (column, row[column])
            for column in ("personal_email", "work_email")
            if row[column] and row[column].partition("@")[0].lower() not in ROLE_MAILBOXES
        ]
        if row["mobile"]:
            own.append(("mobile", p.mobile))
        if seen and rng.random() < 0.9:
            known = {value.lower() for _, value in seen}
            if not any(value.lower() in known for _, value in own):
                column, value = rng.choice(seen)
                if column == "mobile":
                    has_country = bool(row["country"])
                    row["mobile"] = _write_phone(rng, p.country, value, has_country=has_country)
                else:
                    row[column] = self._mail(value)
        seen.extend(own)

    def _work(
        self,
        row: dict[str, str],
        p: _Person,
        company: _Company | None,
        *,
        has_country: bool,
        phone: bool = True,
    ) -> None:
        rng = self.rng
        if company is None:
            row["personal_email"] = self._mail(p.personal_email)
            return
        row["company"] = rng.choice(company.names)
        if company.roles and rng.random() < 0.3:
            row["work_email"] = f"{rng.choice(company.roles)}@{company.domain}"
        elif rng.random() < 0.9:
            row["work_email"] = self._mail(f"{p.work_local}@{company.domain}")
        if phone and rng.random() < 0.8:
            # The switchboard is given as often as a direct line.
            nsn = company.switchboard if rng.random() < 0.35 else p.mobile
            row["work_phone"] = _write_phone(rng, company.country, nsn, has_country=has_country)

    def _mail(self, address: str) -> str:
        """Write an address as a salesperson types it: case, and now and then a typo."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.06:
            local, _, domain = address.partition("@")
            return f"{_typo(rng, local)}@{domain}"
        if roll < 0.08:
            local, _, domain = address.partition("@")
            domain = rng.choice((domain.replace("mail", "mial"), domain.replace(".com", ".con")))
            return f"{local}@{domain}"
        if roll < 0.15:
            return address.capitalize() if rng.random() < 0.5 else address.upper()
        return address

    def _name(self, row: dict[str, str], p: _Person, *, sparse: bool) -> None:  # noqa: PLR0912, PLR0915 - one branch per naming habit
        rng = self.rng
        roll = rng.random()
        typo = rng.random() < 0.05
        if p.style == "cn":
            if roll < 0.35:
                row["name"] = p.cjk
            elif roll < 0.5:
                row["name"] = f"{p.family_alt} {p.given_alt}"  # family first, as in China
            elif roll < 0.75:
                row["first_name"], row["last_name"] = p.given_alt, p.family
            elif roll < 0.82:
                row["first_name"], row["last_name"] = p.family, p.given  # swapped columns
            elif roll < 0.9 and p.alias:
                row["first_name"], row["last_name"] = p.alias, p.family  # English work name
            else:
                row["name"] = f"{p.given} {p.family.upper()}"
        elif p.style == "east":
            if roll < 0.4:
                row["name"] = f"{p.family} {p.given}"
            elif roll < 0.5:
                row["name"] = f"{p.family.upper()} {p.given_alt}"
            else:
                row["first_name"], row["last_name"] = p.given_alt, p.family
        elif p.style == "es":
            if roll < 0.4:
                row["first_name"], row["last_name"] = p.given, p.family
            elif roll < 0.7:
                row["first_name"], row["last_name"] = p.given_alt, p.family_alt
            elif roll < 0.85:
                row["name"] = _ascii(f"{p.given} {p.family}")
            else:
                row["name"] = f"{p.family}, {p.given}"
        elif p.style == "de":
            if roll < 0.5:
                row["first_name"], row["last_name"] = p.given, p.family
            elif roll < 0.8:
                row["first_name"], row["last_name"] = p.given_alt, p.family_alt
            else:
                row["name"] = f"{p.given} {p.family}"
        elif roll < 0.45:
            row["first_name"], row["last_name"] = p.given, p.family
        elif roll < 0.75:
            row["first_name"], row["last_name"] = p.given_alt, p.family  # nickname
        elif roll < 0.9:
            row["name"] = f"{p.given_alt} {p.family}"
        else:
            row["name"] = f"{p.family.upper()}, {p.given}"
        if typo and not sparse:
            for column in ("last_name", "first_name", "name"):
                value = row[column]
                if value and value.isascii():
                    row[column] = _typo(rng, value)
                    break


def generate_people(count: int, *, seed: int = 7) -> Iterator[dict[str, str]]:
    """Yield ``count`` contact rows of people with several mailboxes, with their truth.

    Args:
        count: How many rows.
        seed: The seed; the same seed gives the same rows.

    Yields:
        Rows (dicts over :data:`PEOPLE_COLUMNS`, every value a string) whose
        ``cluster`` names the person, ids ``b0000001`` … in order.

    Raises:
        InvalidValueError: If ``count`` is negative.

    >>> rows = list(generate_people(300, seed=3))
    >>> len({row["cluster"] for row in rows}) < 300
    True
    """
    if count < 0:
        raise InvalidValueError("count", count, "must not be negative")
    generator = _Generator(seed)
    made = 0
    person_id = 0
    while made < count:
        person = generator.person()
        person_id += 1
        size = generator.rng.choices(_RECORDS_PER_PERSON, cum_weights=_RECORD_CUM)[0]
        for row in generator.records(person, min(size, count - made)):
            made += 1
            row["id"] = f"b{made:07d}"
            row["cluster"] = f"p{person_id:07d}"
            yield row


def write_people_csv(rows: Iterable[dict[str, str]], target: Path | TextIO) -> int:
    """Write rows to a CSV file (UTF-8, header :data:`PEOPLE_COLUMNS`).

    Args:
        rows: Rows from :func:`generate_people`.
        target: A path, or an open text stream.

    Returns:
        The number of rows written.

    >>> import io
    >>> stream = io.StringIO()
    >>> write_people_csv(generate_people(3, seed=1), stream)
    3
    >>> stream.getvalue().splitlines()[0].split(",")[:3]
    ['id', 'cluster', 'name']
    """
    if isinstance(target, Path):
        with target.open("w", encoding="utf-8", newline="") as stream:
            return write_people_csv(rows, stream)
    writer = csv.DictWriter(target, fieldnames=PEOPLE_COLUMNS)
    writer.writeheader()
    written = 0
    for row in rows:
        writer.writerow(row)
        written += 1
    return written
