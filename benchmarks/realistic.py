"""Generate realistic, unique phone numbers and email addresses for benchmarks.

The mix imitates a contact import: Chinese, US, British, German and Japanese
numbers written the ways people write them (national form with the trunk
prefix, ``+`` or IDD international form, spaces, dashes, dots, slashes,
parentheses), a few with extensions, a few mistyped; addresses on big
providers and company domains in the usual local-part styles, a few
internationalised, a few broken. Everything is seeded, so runs compare.

Imports the standard library only.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

__all__ = ["PHONE_REGIONS", "realistic_emails", "realistic_phones"]

PHONE_REGIONS = ("CN", "US", "GB", "DE", "JP")
_REGION_WEIGHTS = (30, 25, 15, 15, 15)
_COUNTRY_CODES = {"CN": "86", "US": "1", "GB": "44", "DE": "49", "JP": "81"}
_IDD = {"CN": "00", "US": "011", "GB": "00", "DE": "00", "JP": "010"}

_US_AREAS = (
    "201 202 206 212 213 214 215 216 224 253 301 303 305 310 312 313 314 323 347 404 408 "
    "412 415 425 469 503 508 512 602 617 619 646 650 702 713 718 720 773 786 801 818 832 "
    "904 916 917 949 972"
).split()
_CN_MOBILE = tuple(
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 176 177 178 180 181 182 183 184 185 186 187 188 189 198 199".split()
)
_CN_AREAS = ("10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "571", "755", "512")
_DE_MOBILE = ("151", "152", "157", "159", "160", "162", "163", "170", "171", "172", "176", "177")
_DE_AREAS = ("30", "40", "69", "89", "211", "221", "341", "351", "511", "711", "911")
# London numbers start 3, 7 or 8; the other areas' local numbers start 2-4.
_GB_AREAS = ("20", "113", "114", "117", "121", "131", "141", "151", "161", "1223", "1865")
_JP_AREAS = ("3", "6", "45", "52", "75", "92", "22", "48")


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _national_cn(rng: random.Random) -> tuple[str, list[str]]:
    if rng.random() < 0.7:
        nsn = rng.choice(_CN_MOBILE) + _digits(rng, 8)
        return nsn, [nsn[:3], nsn[3:7], nsn[7:]]
    area = rng.choice(_CN_AREAS)
    rest = rng.choice("2345678") + _digits(rng, 7)
    return area + rest, [area, rest[:4], rest[4:]]


def _national_us(rng: random.Random) -> tuple[str, list[str]]:
    area = rng.choice(_US_AREAS)
    exchange = rng.choice("23456789") + _digits(rng, 2)
    line = _digits(rng, 4)
    return area + exchange + line, [area, exchange, line]


def _national_gb(rng: random.Random) -> tuple[str, list[str]]:
    if rng.random() < 0.5:
        nsn = "7" + rng.choice("1234579") + _digits(rng, 8)
        return nsn, [nsn[:4], nsn[4:]]
    area = rng.choice(_GB_AREAS)
    rest = rng.choice("378" if area == "20" else "234") + _digits(rng, 9 - len(area))
    return area + rest, [area, rest[:4], rest[4:]]


def _national_de(rng: random.Random) -> tuple[str, list[str]]:
    if rng.random() < 0.5:
        prefix = rng.choice(_DE_MOBILE)
        rest = _digits(rng, 8 if prefix.startswith("15") else rng.choice((7, 8)))
        return prefix + rest, [prefix, rest]
    area = rng.choice(_DE_AREAS)
    rest = rng.choice("2345678") + _digits(rng, rng.choice((5, 6, 7)))
    return area + rest, [area, rest]


def _national_jp(rng: random.Random) -> tuple[str, list[str]]:
    if rng.random() < 0.6:
        nsn = rng.choice(("90", "80", "70")) + rng.choice("123456789") + _digits(rng, 7)
        return nsn, [nsn[:2], nsn[2:6], nsn[6:]]
    area = rng.choice(_JP_AREAS)
    rest = rng.choice("2345679") + _digits(rng, 8 - len(area))
    return area + rest, [area, rest[: len(rest) - 4], rest[-4:]]


_NATIONAL: dict[str, Callable[[random.Random], tuple[str, list[str]]]] = {
    "CN": _national_cn,
    "US": _national_us,
    "GB": _national_gb,
    "DE": _national_de,
    "JP": _national_jp,
}


def _written(rng: random.Random, region: str, groups: list[str]) -> str:
    """Write a national number the way a person or a form might."""
    code = _COUNTRY_CODES[region]
    sep = rng.choice((" ", " ", "-", "", ".", "/" if region == "DE" else " "))
    body = sep.join(groups)
    trunk = "" if region == "US" else "0"
    style = rng.random()
    if style < 0.45:  # national
        if region == "US":
            if rng.random() < 0.5:
                return f"({groups[0]}) {groups[1]}-{groups[2]}"
            return ("1-" if rng.random() < 0.2 else "") + body
        if region == "CN" and groups[0].startswith("1") and len(groups[0]) == 3:
            return body  # mobiles have no trunk prefix
        if rng.random() < 0.2:
            return f"({trunk}{groups[0]}) {' '.join(groups[1:])}"
        return trunk + body
    if style < 0.85:  # +international
        if region in ("GB", "DE") and rng.random() < 0.2:
            return f"+{code} (0){body}"
        return f"+{code}{rng.choice((' ', '', '-'))}{body}"
    return f"{_IDD[region]} {code} {body}"  # IDD as dialled from the same region


def realistic_phones(count: int, seed: int = 20240601) -> list[tuple[str, str]]:
    """Return ``count`` unique ``(raw, region)`` pairs.

    About 1 % carry an extension and about 1 % are mistyped (a digit dropped
    or doubled); the rest are valid numbers in varied realistic formats.
    """
    rng = random.Random(seed)
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    while len(out) < count:
        region = rng.choices(PHONE_REGIONS, _REGION_WEIGHTS)[0]
        _, groups = _NATIONAL[region](rng)
        raw = _written(rng, region, groups)
        roll = rng.random()
        if roll < 0.01:
            raw += rng.choice((" ext. ", " x", " ext ", ";ext=")) + _digits(rng, rng.randint(2, 4))
        elif roll < 0.02:
            cut = rng.randrange(len(raw))
            raw = raw[:cut] + raw[cut + 1 :] if rng.random() < 0.5 else raw + rng.choice("0123")
        key = (raw, region)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


_GIVEN = (
    "wei fang jing li min jun tao yan james mary john patricia robert jennifer michael "
    "linda oliver amelia harry isla lukas mia leon emma hiroshi yuki haruto sakura "
    "thomas anna sophie max paul laura"
).split()
_FAMILY = (
    "wang li zhang liu chen yang huang zhao smith johnson williams brown jones garcia "
    "miller davis taylor evans walker mueller schmidt schneider fischer weber sato "
    "suzuki takahashi tanaka watanabe"
).split()
_PROVIDERS = (
    "gmail.com qq.com 163.com 126.com outlook.com hotmail.com yahoo.com icloud.com "
    "yahoo.co.jp gmx.de web.de t-online.de btinternet.com sina.com foxmail.com"
).split()
_COMPANY_WORDS = (
    "acme global tech data cloud trade logistics bio green north star blue river "
    "apex nova prime urban delta"
).split()
_COMPANY_TLDS = ("com", "cn", "com.cn", "co.uk", "de", "co.jp", "io", "net", "org")


def _local(rng: random.Random) -> str:
    given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
    style = rng.randrange(7)
    number = str(rng.randint(1, 9999))
    local = (
        f"{given}.{family}",
        f"{given}{family}{number}",
        f"{given[0]}{family}",
        f"{given}_{family}",
        f"{family}.{given}+{rng.choice(('news', 'crm', 'shop'))}",
        f"{given}{number}",
        number + _digits(rng, 5),  # QQ-style numeric mailbox
    )[style]
    if rng.random() < 0.15:
        local = local.capitalize() if rng.random() < 0.7 else local.upper()
    return local


def _domain(rng: random.Random) -> str:
    if rng.random() < 0.6:
        domain = rng.choice(_PROVIDERS)
    else:
        words = rng.sample(_COMPANY_WORDS, rng.randint(1, 2))
        domain = "-".join(words) + "." + rng.choice(_COMPANY_TLDS)
        if rng.random() < 0.1:
            domain = rng.choice(("mail.", "corp.", "cn.", "eu.")) + domain
    if rng.random() < 0.1:
        domain = domain.upper() if rng.random() < 0.5 else domain.capitalize()
    return domain


def realistic_emails(count: int, seed: int = 20240601) -> list[str]:
    """Return ``count`` unique addresses.

    About 1 % are internationalised (Chinese or German characters) and about
    1 % are broken (two ``@``, a double dot, a missing domain dot, a space).
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        address = f"{_local(rng)}@{_domain(rng)}"
        roll = rng.random()
        if roll < 0.01:
            address = rng.choice(("张伟", "李娜", "müller", "jürgen")) + _digits(rng, 3) + "@"
            address += rng.choice(("例子.中国", "münchen.de", "gmail.com", "qq.com"))
        elif roll < 0.02:
            local, _, domain = address.partition("@")
            address = rng.choice(
                (
                    f"{local}@@{domain}",
                    f"{local}..x@{domain}",
                    f"{local}@{domain.split('.')[0]}",
                    f"{local} x@{domain}",
                )
            )
        if address not in seen:
            seen.add(address)
            out.append(address)
    return out
