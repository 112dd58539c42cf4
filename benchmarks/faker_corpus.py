"""A third corpus, of people made by Faker, duplicated by FEBRL's kind of corruption.

crmcore's two generators (:mod:`crmcore.sample` and :mod:`crmcore.sample.people`)
were written here; this corpus takes what it can from a library no one here
wrote. Faker gives each person a locale (American, British, German, Spanish,
French, Chinese, Japanese, Korean) and, in that locale's own formats and
frequencies, a first and a last name (and, where Faker's locale has them, a
title and a suffix: ``Dr.``, ``Jr.``, ``DDS``), a mobile number, a city, an
employer with its domain and switchboard number, and a free-mail domain.

What the rows do with those values is the plainest record-linkage corruption
model (the one FEBRL's generator uses): each record of a person keeps a random
subset of the fields, writes the name as one field or two (now and then
``LAST, First``, upper case, or without the title), and one record in five has
one typo (a letter inserted, dropped, replaced or two swapped) in its name,
mailbox or number. Colleagues share the employer's switchboard, and people pick
their mailbox names from four common patterns (``first.last``, ``flast``,
``firstlast`` with digits, ``lastf``), at work or at a free-mail domain; an address
already taken gets digits, as a mail provider or an employer would add them.

Needs Faker (the ``bench`` extra). ``python benchmarks/faker_corpus.py 1000``
writes ``faker_1000.csv`` and prints its first rows.
"""

from __future__ import annotations

import csv
import random
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

COLUMNS = (
    "id", "cluster", "name", "first_name", "last_name", "email", "phone", "work_phone",
    "company", "city", "country",
)  # fmt: skip

# Locale, its country code and its share of the people (a CRM of a firm trading in all of them).
LOCALES = (
    ("en_US", "US", 30), ("en_GB", "GB", 10), ("de_DE", "DE", 12), ("es_ES", "ES", 10),
    ("fr_FR", "FR", 8), ("zh_CN", "CN", 18), ("ja_JP", "JP", 6), ("ko_KR", "KR", 6),
)  # fmt: skip
RECORDS = ((1, 60), (2, 24), (3, 10), (4, 4), (5, 2))  # records per person, weights
PEOPLE_PER_COMPANY = 12


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 3:
        return text
    at = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:at] + text[at] + text[at:]  # a letter typed twice
    if kind == 1:
        return text[:at] + text[at + 1 :]  # a letter dropped
    if kind == 2:
        return text[:at] + rng.choice("aeinorst") + text[at + 1 :]
    return text[: at - 1] + text[at] + text[at - 1] + text[at + 1 :]  # two letters swapped


class _World:
    """One Faker per locale, the employers, and a seeded random source."""

    def __init__(self, seed: int) -> None:
        from faker import Faker  # noqa: PLC0415 - a benchmark-only dependency

        self.rng = random.Random(seed)
        self.fakers = {}
        for k, (locale, _, _) in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed * 100 + k)
            self.fakers[locale] = fake
        self.companies: dict[str, list[tuple[str, str, str]]] = {loc: [] for loc, _, _ in LOCALES}
        self.taken: set[str] = set()

    def mailbox(self, name: str, domain: str) -> str:
        """A free address: as a mail provider or an employer gives one, digits added if taken."""
        address = f"{name}@{domain}"
        while address in self.taken:
            address = f"{name}{self.rng.randrange(1, 1000)}@{domain}"
        self.taken.add(address)
        return address

    def company(self, locale: str, people: int) -> tuple[str, str, str]:
        """An employer (name, domain, switchboard): reused so that colleagues meet."""
        pool = self.companies[locale]
        if not pool or self.rng.random() < 1 / PEOPLE_PER_COMPANY or len(pool) < people // 400:
            fake = self.fakers[locale]
            name = fake.company()
            domain = (
                (_ascii(name)[:14] or _ascii(fake.last_name()) or "firm")
                + "."
                + (fake.tld() if locale.startswith("en") else locale[-2:].lower())
            )
            pool.append((name, f"{self.rng.randrange(100)}{domain}", fake.phone_number()))
        return self.rng.choice(pool)


def _person(world: _World, people: int) -> dict[str, Any]:
    rng = world.rng
    locale, country, _ = rng.choices(LOCALES, weights=[w for *_, w in LOCALES])[0]
    fake = world.fakers[locale]
    first, last = fake.first_name(), fake.last_name()
    title = fake.prefix() if rng.random() < 0.08 and hasattr(fake, "prefix") else ""
    suffix = ""
    if locale == "en_US" and rng.random() < 0.05:
        suffix = fake.suffix()
    a_first, a_last = _ascii(first), _ascii(last)
    if not a_first or not a_last:  # CJK: a mailbox of letters and digits
        a_first, a_last = "", ""
    digits = str(rng.randrange(10, 9999))
    if a_first:
        patterns = [f"{a_first}.{a_last}", f"{a_first[:1]}{a_last}",
                    f"{a_first}{a_last}{digits}", f"{a_last}{a_first[:1]}"]  # fmt: skip
        work = patterns[:2]
    else:  # a number at a free-mail domain (a QQ number), another at work
        patterns, work = [str(rng.randrange(10**6, 10**10))], [str(rng.randrange(10**4, 10**6))]
    employer = world.company(locale, people) if rng.random() < 0.7 else None
    mailboxes = [world.mailbox(rng.choice(patterns), fake.free_email_domain())]
    if employer is not None:
        mailboxes.append(world.mailbox(rng.choice(work), employer[1]))
    return {
        "locale": locale, "country": country, "first": first, "last": last, "title": title,
        "suffix": suffix, "mailboxes": mailboxes, "mobile": fake.phone_number(),
        "employer": employer, "city": fake.city(),
    }  # fmt: skip


def _written_name(person: dict[str, Any], rng: random.Random) -> str:
    """The person's name in one field, as one record writes it."""
    first, last = str(person["first"]), str(person["last"])
    if person["locale"] in {"zh_CN", "ja_JP", "ko_KR"}:
        return last + (" " if person["locale"] == "ja_JP" else "") + first
    name = f"{last.upper()}, {first}" if rng.random() < 0.1 else f"{first} {last}"
    if person["title"] and rng.random() < 0.6:
        name = f"{person['title']} {name}"
    if person["suffix"] and rng.random() < 0.6:
        name = f"{name} {person['suffix']}"
    return name.upper() if rng.random() < 0.05 else name


def _record(person: dict[str, Any], rng: random.Random) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    if rng.random() < 0.45:
        row["first_name"], row["last_name"] = person["first"], person["last"]
    else:
        row["name"] = _written_name(person, rng)
    if rng.random() < 0.75:
        row["email"] = rng.choice(person["mailboxes"])
    if rng.random() < 0.6:
        row["phone"] = person["mobile"]
    employer = person["employer"]
    if employer is not None and rng.random() < 0.6:
        row["company"] = employer[0]
        if rng.random() < 0.4:
            row["work_phone"] = employer[2]
    if rng.random() < 0.6:
        row["city"] = person["city"]
    if rng.random() < 0.7:
        row["country"] = person["country"]
    typed = [f for f in ("name", "last_name", "email", "phone") if row[f]]
    if typed and rng.random() < 0.2:  # one typo in one field
        field = rng.choice(typed)
        row[field] = _typo(row[field], rng)
    return row


def generate_faker_people(n: int, *, seed: int = 42) -> Iterator[dict[str, str]]:
    """Yield ``n`` rows of people made by Faker, each with its true ``cluster``."""
    world = _World(seed)
    rng = world.rng
    counts, weights = zip(*RECORDS, strict=True)
    made = person = 0
    while made < n:
        person += 1
        data = _person(world, n)
        for _ in range(min(rng.choices(counts, weights=weights)[0], n - made)):
            made += 1
            row = _record(data, rng)
            row["id"], row["cluster"] = f"f{made:07d}", f"q{person:07d}"
            yield row


def write_faker_csv(rows: Iterator[dict[str, str]], path: Path) -> None:
    """Write the rows (shuffled by id already: persons' records are adjacent) as CSV."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    target = Path(f"faker_{size}.csv")
    write_faker_csv(generate_faker_people(size), target)
    print(target.read_text(encoding="utf-8")[:1500])
