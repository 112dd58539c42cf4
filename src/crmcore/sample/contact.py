"""A seeded generator of realistic bilingual CRM contacts with known duplicates.

:func:`generate_contacts` yields rows (dicts of strings) the way CRM exports
look: Chinese and English contacts, names in characters or in pinyin (either
order, or split into first/last columns, sometimes swapped), nicknames,
typos, phone numbers in every format people write, email variants (case,
gmail dots, ``+tags``, a second address), company names with and without
their legal suffix, missing fields — and the traps real data has: common
names shared by different people, company switchboard numbers and family
phones shared by different people. Each row carries its truth in
``cluster``. :func:`write_csv` writes rows to a CSV file.

Uses ``random.Random(seed)`` only, so the same seed gives the same rows.

May import: ``crmcore.errors``; the standard library.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Final, TextIO

import attrs

from crmcore.errors import InvalidValueError
from crmcore.sample.data import (
    CN_CITIES,
    CN_COMPANY_BRANDS,
    CN_COMPANY_INDUSTRIES,
    CN_COMPANY_SUFFIXES,
    CN_FAMILY_NAMES,
    CN_GIVEN_CHARS,
    EN_CITIES,
    EN_COMPANY_SUFFIXES,
    EN_COMPANY_WORDS,
    EN_FAMILY_NAMES,
    EN_GIVEN_NAMES,
)

__all__ = ["SAMPLE_COLUMNS", "SampleOptions", "generate_contacts", "write_csv"]

SAMPLE_COLUMNS: Final = (
    "id", "cluster", "name", "first_name", "last_name", "email", "phone", "company",
    "city", "postcode", "country", "birth_date",
)  # fmt: skip
"""The columns of every generated row, in CSV order."""

# Cluster size → weight (about 40 % of rows have a duplicate).
_CLUSTER_SIZES: Final = ((1, 60), (2, 22), (3, 10), (4, 5), (5, 2), (6, 1))
_CN_MOBILE: Final = (
    "130 131 132 133 135 136 137 138 139 150 151 152 155 156 157 158 159 166 176 177 "
    "178 180 181 182 183 185 186 187 188 189 198 199"
).split()
_US_AREAS: Final = (
    "201 202 206 212 213 214 215 224 253 301 303 305 310 312 313 404 408 412 415 425 "
    "469 503 512 602 617 619 646 650 702 713 718 720 773 786 801 818 832 904 916 917"
).split()
_CN_FREE_MAIL: Final = ("qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com")
_EN_FREE_MAIL: Final = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com")
_LETTERS: Final = "abcdefghijklmnopqrstuvwxyz"


@attrs.frozen(kw_only=True)
class SampleOptions:
    """Knobs of the generator.

    Attributes:
        chinese_share: Share of contacts who are Chinese.
        shared_phone_rate: Share of contacts giving their company's switchboard.
        family_rate: Share of Chinese contacts sharing a home phone with a relative.
        typo_rate: Chance of a typo in a name or an email of a duplicate.
    """

    chinese_share: float = 0.6
    shared_phone_rate: float = 0.03
    family_rate: float = 0.02
    typo_rate: float = 0.08


@attrs.frozen
class _Company:
    brand: str  # chinese brand or english words
    pinyin: str  # for the web domain
    industry: str
    chinese: bool
    suffix_family: int
    phone: str
    city: int


@attrs.frozen
class _Person:
    chinese: bool
    family: str
    given: str
    family_latin: str
    given_latin: str
    syllables: tuple[str, ...]
    nicknames: tuple[str, ...]
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    company: _Company | None
    city: int
    postcode: str
    country: str
    birth: tuple[int, int, int] | None


class _Generator:
    def __init__(self, seed: int, options: SampleOptions) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - sample data, not cryptography
        self.options = options
        self.cn_family = [f[:2] for f in CN_FAMILY_NAMES]
        self.cn_family_weights = list(itertools.accumulate(f[2] for f in CN_FAMILY_NAMES))
        self.cn_given = [g[:2] for g in CN_GIVEN_CHARS]
        self.cn_given_weights = list(itertools.accumulate(g[2] for g in CN_GIVEN_CHARS))
        self.en_given_weights = list(itertools.accumulate(g[2] for g in EN_GIVEN_NAMES))
        self.en_family_weights = list(itertools.accumulate(f[1] for f in EN_FAMILY_NAMES))
        self.cn_city_weights = list(itertools.accumulate(c[3] for c in CN_CITIES))
        self.en_city_weights = list(itertools.accumulate(c[3] for c in EN_CITIES))
        self.size_weights = list(itertools.accumulate(w for _, w in _CLUSTER_SIZES))
        self.cn_companies: list[_Company] = []
        self.en_companies: list[_Company] = []
        self.entity = 0

    # ------------------------------------------------------------------ pieces

    def digits(self, count: int) -> str:
        return str(self.rng.randrange(10**count)).zfill(count)

    def cn_mobile(self) -> str:
        return "+86" + self.rng.choice(_CN_MOBILE) + self.digits(8)

    def us_phone(self) -> str:
        return (
            "+1"
            + self.rng.choice(_US_AREAS)
            + str(self.rng.randint(2, 9))
            + self.digits(2)
            + self.digits(4)
        )

    def gb_phone(self) -> str:
        return "+447" + self.rng.choice("1234579") + self.digits(8)

    def company(self, chinese: bool) -> _Company:
        pool = self.cn_companies if chinese else self.en_companies
        if pool and self.rng.random() < 0.97:
            return self.rng.choice(pool)
        rng = self.rng
        if chinese:
            brand, pinyin = rng.choice(CN_COMPANY_BRANDS)
            if rng.random() < 0.5:
                extra, extra_pinyin = rng.choice(CN_COMPANY_BRANDS)
                brand, pinyin = brand + extra[:1], pinyin + extra_pinyin[:2]
            city = rng.choices(range(len(CN_CITIES)), cum_weights=self.cn_city_weights)[0]
            company = _Company(
                brand,
                pinyin,
                rng.choice(CN_COMPANY_INDUSTRIES),
                True,
                0,
                "+86"
                + rng.choice(("10", "21", "755", "20"))
                + str(rng.randint(2, 8))
                + self.digits(7),
                city,
            )
        else:
            words = " ".join(rng.sample(EN_COMPANY_WORDS, rng.choice((1, 2))))
            city = rng.choices(range(len(EN_CITIES)), cum_weights=self.en_city_weights)[0]
            phone = (
                self.us_phone()
                if EN_CITIES[city][1] == "US"
                else "+4420" + str(rng.randint(3, 8)) + self.digits(7)
            )
            company = _Company(
                words,
                words.replace(" ", "").lower(),
                rng.choice(("", "Technologies", "Solutions", "Group", "Systems", "")),
                False,
                rng.randrange(len(EN_COMPANY_SUFFIXES)),
                phone,
                city,
            )
        pool.append(company)
        return company

    def postcode(self, pattern: str) -> str:
        out = []
        for ch in pattern:
            if ch == "#":
                out.append(str(self.rng.randrange(10)))
            else:
                out.append(ch)
        return "".join(out)

    def birth(self) -> tuple[int, int, int] | None:
        if self.rng.random() < 0.35:
            return None
        return (self.rng.randint(1950, 2004), self.rng.randint(1, 12), self.rng.randint(1, 28))

    def person(self, relative: _Person | None = None) -> _Person:
        rng = self.rng
        chinese = relative.chinese if relative else rng.random() < self.options.chinese_share
        company = self.company(chinese) if rng.random() < 0.75 else None
        if chinese:
            if relative is not None:
                family, family_latin = relative.family, relative.family_latin
            else:
                family, family_latin = rng.choices(
                    self.cn_family, cum_weights=self.cn_family_weights
                )[0]
            count = 1 if rng.random() < 0.3 else 2
            parts = rng.choices(self.cn_given, cum_weights=self.cn_given_weights, k=count)
            given = "".join(p[0] for p in parts)
            syllables = tuple(p[1] for p in parts)
            given_latin = "".join(syllables)
            nicknames: tuple[str, ...] = ()
            city = (
                company.city
                if company and rng.random() < 0.8
                else rng.choices(range(len(CN_CITIES)), cum_weights=self.cn_city_weights)[0]
            )
            postcode = CN_CITIES[city][2] + self.digits(3)
            country = "CN"
            phones = [self.cn_mobile()]
        else:
            given, nicks, _ = rng.choices(EN_GIVEN_NAMES, cum_weights=self.en_given_weights)[0]
            family = rng.choices(EN_FAMILY_NAMES, cum_weights=self.en_family_weights)[0][0]
            given_latin, family_latin, nicknames = given, family, nicks
            syllables = (given,)
            city = (
                company.city
                if company and rng.random() < 0.8
                else rng.choices(range(len(EN_CITIES)), cum_weights=self.en_city_weights)[0]
            )
            postcode = self.postcode(EN_CITIES[city][2])
            country = EN_CITIES[city][1]
            phones = [self.us_phone() if country == "US" else self.gb_phone()]
        if relative is not None:
            phones = [relative.phones[0]]
            city, postcode = relative.city, relative.postcode
        elif company is not None and rng.random() < self.options.shared_phone_rate:
            phones = [company.phone]
        if rng.random() < 0.3:
            phones.append(self.cn_mobile() if chinese else self.us_phone())
        return _Person(
            chinese=chinese,
            family=family,
            given=given,
            family_latin=family_latin,
            given_latin=given_latin,
            syllables=syllables,
            nicknames=nicknames,
            emails=self.emails(chinese, given_latin, family_latin, company),
            phones=tuple(phones),
            company=company,
            city=city,
            postcode=postcode,
            country=country,
            birth=self.birth(),
        )

    def emails(
        self, chinese: bool, given: str, family: str, company: _Company | None
    ) -> tuple[str, ...]:
        rng = self.rng
        given, family = given.lower().replace("'", ""), family.lower().replace("'", "")
        out = []
        for _ in range(2):
            style = rng.random()
            if company is not None and style < 0.35:
                domain = company.pinyin + (".com.cn" if company.chinese else ".com")
                local = rng.choice(
                    (f"{given}.{family}", f"{given[0]}{family}", f"{family}.{given}")
                )
            elif chinese and style < 0.55:
                domain, local = "qq.com", str(rng.randint(10_000_000, 2_999_999_999))
            else:
                domain = rng.choice(_CN_FREE_MAIL if chinese else _EN_FREE_MAIL)
                sep = rng.choice(("", ".", "_"))
                first, second = (
                    (family, given) if chinese and rng.random() < 0.6 else (given, family)
                )
                local = f"{first}{sep}{second}{rng.randint(1, 9999)}"
            out.append(f"{local}@{domain}")
        return tuple(out)

    # ------------------------------------------------------------------ variants

    def typo(self, text: str) -> str:
        rng = self.rng
        letters = [k for k, ch in enumerate(text) if ch.isalpha() and ch.isascii()]
        if len(letters) < 3:
            return text
        k = rng.choice(letters[1:])
        kind = rng.random()
        if kind < 0.3:
            return text[:k] + text[k + 1 :]
        if kind < 0.6 and k + 1 < len(text):
            return text[:k] + text[k + 1] + text[k] + text[k + 2 :]
        if kind < 0.8:
            return text[:k] + rng.choice(_LETTERS) + text[k + 1 :]
        return text[:k] + text[k] + text[k:]

    def name_fields(  # noqa: PLR0912 - one branch per way people write a name
        self, person: _Person, first: bool
    ) -> tuple[str, str, str]:
        """Return (name, first_name, last_name) for one record of ``person``."""
        rng = self.rng
        typo = not first and rng.random() < self.options.typo_rate
        if person.chinese:
            style = rng.random() if not first else rng.random() * 0.6
            if style < 0.55:
                return person.family + person.given, "", ""
            given, family = person.given_latin, person.family_latin
            if len(person.syllables) > 1 and rng.random() < 0.25:  # Xiao Ming, Xiao-Ming
                given = rng.choice((" ", "-")).join(s.title() for s in person.syllables)
            given = given.title() if rng.random() < 0.9 else given.upper()
            family = family.title() if rng.random() < 0.7 else family.upper()
            if typo:
                given = self.typo(given)
            if style < 0.7:
                return f"{family} {given}", "", ""
            if style < 0.85:
                return f"{given} {family}", "", ""
            if rng.random() < 0.15:  # swapped columns
                return "", family, given
            return "", given, family
        given, family = person.given_latin, person.family_latin
        if not first and person.nicknames and rng.random() < 0.25:
            given = rng.choice(person.nicknames)
        if typo:
            if rng.random() < 0.5:
                given = self.typo(given)
            else:
                family = self.typo(family)
        if not first and rng.random() < 0.1:
            given, family = given.upper(), family.upper()
        style = rng.random()
        if style < 0.5:
            if not first and rng.random() < 0.05:
                return "", family, given
            return "", given, family
        if style < 0.85:
            return f"{given} {family}", "", ""
        return f"{family}, {given}", "", ""

    def email_field(self, person: _Person, first: bool) -> str:
        rng = self.rng
        if first:
            return person.emails[0] if rng.random() < 0.9 else ""
        roll = rng.random()
        if roll < 0.2:
            return ""
        if roll < 0.35:
            return person.emails[1]
        email = person.emails[0]
        local, _, domain = email.partition("@")
        style = rng.random()
        if style < 0.15:
            return email.upper() if rng.random() < 0.3 else local.title() + "@" + domain.upper()
        if style < 0.25 and domain == "gmail.com":
            return local.replace(".", "") + "+crm@gmail.com"
        if style < 0.3:
            return local + "+" + rng.choice(("news", "crm", "work")) + "@" + domain
        if style < 0.3 + self.options.typo_rate / 2:
            return self.typo(local) + "@" + domain
        return email

    def phone_field(self, person: _Person, first: bool) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < (0.05 if first else 0.15):
            return ""
        number = person.phones[1] if len(person.phones) > 1 and roll > 0.9 else person.phones[0]
        if not first and rng.random() < 0.03:  # one digit mistyped
            k = rng.randrange(4, len(number))
            number = number[:k] + str((int(number[k]) + rng.randint(1, 9)) % 10) + number[k + 1 :]
        return self.phone_format(number)

    def phone_format(self, e164: str) -> str:  # noqa: PLR0912 - one branch per written format
        rng = self.rng
        style = rng.random()
        if e164.startswith("+86"):
            national = e164[3:]
            if national.startswith("1") and len(national) == 11:
                groups = [national[:3], national[3:7], national[7:]]
                if style < 0.35:
                    return national
                if style < 0.55:
                    return " ".join(groups)
                if style < 0.65:
                    return "-".join(groups)
                if style < 0.8:
                    return "+86 " + " ".join(groups)
                if style < 0.9:
                    return "+86" + national
                return "0086 " + national
            area = national[:2] if national[:2] in ("10", "21", "20") else national[:3]
            rest = national[len(area) :]
            if style < 0.5:
                return f"0{area}-{rest}"
            if style < 0.8:
                return f"(0{area}) {rest[:4]} {rest[4:]}"
            return f"+86 {area} {rest}"
        if e164.startswith("+1"):
            n = e164[2:]
            if style < 0.3:
                return f"({n[:3]}) {n[3:6]}-{n[6:]}"
            if style < 0.5:
                return f"{n[:3]}-{n[3:6]}-{n[6:]}"
            if style < 0.6:
                return f"{n[:3]}.{n[3:6]}.{n[6:]}"
            if style < 0.85:
                return f"+1 {n[:3]} {n[3:6]} {n[6:]}"
            return f"1-{n[:3]}-{n[3:6]}-{n[6:]}"
        n = e164[3:]
        if style < 0.5:
            return f"0{n[:4]} {n[4:]}"
        if style < 0.8:
            return f"+44 {n[:4]} {n[4:]}"
        return f"+44 (0){n}"

    def company_field(self, person: _Person, first: bool) -> str:
        company = person.company
        rng = self.rng
        if company is None or rng.random() < (0.1 if first else 0.3):
            return ""
        if company.chinese:
            city = CN_CITIES[company.city][0]
            prefix = rng.choice(("", city, city + "市"))
            industry = company.industry if rng.random() < 0.9 else ""
            return prefix + company.brand + industry + rng.choice(CN_COMPANY_SUFFIXES)
        suffix = rng.choice(EN_COMPANY_SUFFIXES[company.suffix_family])
        name = f"{company.brand} {company.industry}".strip()
        if rng.random() < 0.1:
            name = name.upper()
        if not suffix:
            return name
        return name + suffix if suffix.startswith(",") else f"{name} {suffix}"

    def place_fields(self, person: _Person, first: bool) -> tuple[str, str, str]:
        rng = self.rng
        keep = 0.85 if first else 0.7
        if person.chinese:
            chinese, english, _, _ = CN_CITIES[person.city]
            city = rng.choice((chinese, chinese + "市", english)) if rng.random() < keep else ""
        else:
            city = EN_CITIES[person.city][0] if rng.random() < keep else ""
        postcode = person.postcode if rng.random() < (0.6 if first else 0.45) else ""
        country = person.country if rng.random() < 0.9 else ""
        if not country and not person.chinese:
            country = person.country  # national phone formats need it
        return city, postcode, country

    def birth_field(self, person: _Person, first: bool) -> str:
        rng = self.rng
        if person.birth is None or rng.random() < (0.2 if first else 0.45):
            return ""
        year, month, day = person.birth
        if not first and rng.random() < 0.04:
            day = day % 28 + 1
        style = rng.random()
        if style < 0.7:
            return f"{year:04d}-{month:02d}-{day:02d}"
        if style < 0.8:
            return f"{year:04d}/{month:02d}/{day:02d}"
        if style < 0.9 and person.chinese:
            return f"{year}年{month}月{day}日"
        return f"{year:04d}{month:02d}{day:02d}"

    def rows_of(self, person: _Person, cluster: str, size: int) -> list[dict[str, str]]:
        rows = []
        for k in range(size):
            first = k == 0
            name, first_name, last_name = self.name_fields(person, first)
            email = self.email_field(person, first)
            phone = self.phone_field(person, first)
            if not first and not email and not phone and self.rng.random() < 0.7:
                phone = self.phone_format(person.phones[0])
            city, postcode, country = self.place_fields(person, first)
            rows.append(
                {
                    "id": "",
                    "cluster": cluster,
                    "name": name,
                    "first_name": first_name,
                    "last_name": last_name,
                    "email": email,
                    "phone": phone,
                    "company": self.company_field(person, first),
                    "city": city,
                    "postcode": postcode,
                    "country": country,
                    "birth_date": self.birth_field(person, first),
                }
            )
        return rows

    def block(self, budget: int) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        while len(rows) < budget:
            size = _CLUSTER_SIZES[
                self.rng.choices(range(len(_CLUSTER_SIZES)), cum_weights=self.size_weights)[0]
            ][0]
            size = min(size, budget - len(rows))
            self.entity += 1
            person = self.person()
            rows.extend(self.rows_of(person, f"e{self.entity:07d}", size))
            if (
                person.chinese
                and len(rows) < budget
                and self.rng.random() < self.options.family_rate
            ):
                self.entity += 1
                relative = self.person(relative=person)
                rows.extend(self.rows_of(relative, f"e{self.entity:07d}", 1))
        self.rng.shuffle(rows)
        return rows


_BLOCK: Final = 50_000


def generate_contacts(
    count: int, *, seed: int = 0, options: SampleOptions | None = None
) -> Iterator[dict[str, str]]:
    """Yield ``count`` realistic bilingual CRM contact rows with known duplicates.

    Rows of one cluster (one real person) are spread over blocks of 50,000
    rows, shuffled; ids are ``c`` and a running number.

    Args:
        count: How many rows.
        seed: The seed; the same seed yields the same rows.
        options: Rates of the generator's variations.

    Yields:
        Rows keyed by :data:`SAMPLE_COLUMNS`; ``cluster`` is the truth.

    Raises:
        InvalidValueError: If ``count`` is negative.

    >>> rows = list(generate_contacts(5, seed=7))
    >>> [r["id"] for r in rows], sorted(rows[0]) == sorted(SAMPLE_COLUMNS)
    (['c0000001', 'c0000002', 'c0000003', 'c0000004', 'c0000005'], True)
    """
    if count < 0:
        raise InvalidValueError("count", count, "must not be negative")
    generator = _Generator(seed, options or SampleOptions())
    done = 0
    while done < count:
        for row in generator.block(min(_BLOCK, count - done)):
            done += 1
            row["id"] = f"c{done:07d}"
            yield row


def write_csv(rows: Iterable[Mapping[str, str]], target: str | os.PathLike[str] | TextIO) -> int:
    """Write rows to a CSV file (UTF-8, header :data:`SAMPLE_COLUMNS`).

    Args:
        rows: Rows from :func:`generate_contacts`.
        target: A path (``str`` or :class:`~pathlib.Path`), or an open text stream.

    Returns:
        The number of rows written.

    Raises:
        InvalidValueError: If the path cannot be written (``target``, with the
            system's reason), the target is neither a path nor a writable text
            stream, or a row is not a mapping of column names to text (``row
            N``). The rows before a bad one are written.

    >>> import io
    >>> from crmcore.sample import generate_contacts
    >>> out = io.StringIO()
    >>> write_csv(generate_contacts(3, seed=1), out)
    3
    >>> out.getvalue().splitlines()[0].split(",")[:3]
    ['id', 'cluster', 'name']
    >>> write_csv([{"id": "c1"}, ["not", "a", "row"]], io.StringIO())
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid row 2 ['not', 'a', 'row']: must be a mapping ...
    """
    if isinstance(target, (str, os.PathLike)):
        try:
            with Path(target).open("w", encoding="utf-8", newline="") as stream:
                return write_csv(rows, stream)
        except OSError as exc:
            raise InvalidValueError(
                "target", target, f"cannot write: {exc.strerror or exc}"
            ) from None
    if not callable(getattr(target, "write", None)):
        raise InvalidValueError("target", target, "must be a path or an open text stream")
    writer = csv.DictWriter(target, fieldnames=SAMPLE_COLUMNS, extrasaction="ignore")
    try:
        writer.writeheader()
    except TypeError:
        raise InvalidValueError("target", target, "must be open for text, not bytes") from None
    written = 0
    for row in rows:
        if not isinstance(row, Mapping):
            raise InvalidValueError(
                f"row {written + 1}", row, "must be a mapping of column names to text"
            )
        writer.writerow(row)
        written += 1
    return written
