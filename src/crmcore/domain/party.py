"""Parties (当事人): people (个人客户), organisations (企业客户) and contacts at them.

These are the profiles a :class:`~crmcore.domain.customer.Customer` account
groups. They are values inside the customer aggregate: saved and versioned
with it.

May import: ``crmcore.errors``, ``crmcore.domain``'s values, contact points,
ids and classification; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum
import re

import attrs

from crmcore.domain.classification import INTERNAL, PUBLIC, SENSITIVE
from crmcore.domain.contact import ContactPoints
from crmcore.domain.ids import ContactId
from crmcore.domain.values import PersonName, clean_text
from crmcore.errors import InvalidValueError

__all__ = [
    "CompanySize",
    "Contact",
    "Gender",
    "Organization",
    "Person",
]


class Gender(enum.StrEnum):
    """Gender as the customer states it (性别)."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"


class CompanySize(enum.StrEnum):
    """Head-count band of an organisation (企业规模)."""

    MICRO = "1-9"
    SMALL = "10-49"
    MEDIUM = "50-249"
    LARGE = "250-999"
    ENTERPRISE = "1000+"


_MIN_BIRTH = dt.date(1900, 1, 1)


def _birth_date(value: dt.date | str | None) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise InvalidValueError("birth_date", value, "expected a date YYYY-MM-DD")
        try:
            value = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise InvalidValueError("birth_date", value, "no such date") from exc
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidValueError("birth_date", value, "expected a date")
    if value < _MIN_BIRTH:
        raise InvalidValueError("birth_date", value.isoformat(), "before 1900-01-01")
    return dt.date(value.year, value.month, value.day)


_TEXT_MAX = 300  # legal names, occupations, employers, industries, websites, job titles


def _optional_text(value: str | None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValueError("text", value, "expected a string")
    if len(value) > 4 * _TEXT_MAX:  # refused before cleaning a huge string
        raise InvalidValueError("text", value[:40] + "…", f"longer than {_TEXT_MAX} characters")
    text = clean_text(value)
    if len(text) > _TEXT_MAX:
        raise InvalidValueError("text", value[:40] + "…", f"longer than {_TEXT_MAX} characters")
    return text


_ID_CHARS = re.compile(r"[0-9A-Za-z-]{4,32}")


def _national_id(value: str | None) -> str:
    text = _optional_text(value).replace(" ", "").upper()
    if text and not _ID_CHARS.fullmatch(text):
        raise InvalidValueError("national_id", "***", "4-32 letters, digits or dashes")
    return text


@attrs.frozen(kw_only=True)
class Person:
    """A natural person's profile (基本信息).

    >>> Person(name=PersonName.parse("张伟"), birth_date="1988-02-29").birth_date
    datetime.date(1988, 2, 29)
    """

    name: PersonName = attrs.field(metadata=PUBLIC)
    gender: Gender | None = attrs.field(default=None, metadata=SENSITIVE)
    birth_date: dt.date | None = attrs.field(
        default=None, converter=_birth_date, metadata=SENSITIVE
    )
    occupation: str = attrs.field(default="", converter=_optional_text, metadata=INTERNAL)
    employer: str = attrs.field(default="", converter=_optional_text, metadata=INTERNAL)
    national_id: str = attrs.field(default="", converter=_national_id, metadata=SENSITIVE)


def _legal_name(value: str) -> str:
    text = _optional_text(value)
    if not text:
        raise InvalidValueError("legal_name", value, "required")
    return text


@attrs.frozen(kw_only=True)
class Organization:
    """An organisation's profile (企业客户): legal name, industry, size."""

    legal_name: str = attrs.field(converter=_legal_name, metadata=PUBLIC)
    industry: str = attrs.field(default="", converter=_optional_text, metadata=PUBLIC)
    size: CompanySize | None = attrs.field(default=None, metadata=PUBLIC)
    registration_number: str = attrs.field(default="", converter=_national_id, metadata=INTERNAL)
    website: str = attrs.field(default="", converter=_optional_text, metadata=PUBLIC)


@attrs.frozen(kw_only=True)
class Contact:
    """A person to talk to at an organisation customer (联系人)."""

    id: ContactId = attrs.field(metadata=INTERNAL)
    name: PersonName = attrs.field(metadata=PUBLIC)
    title: str = attrs.field(default="", converter=_optional_text, metadata=INTERNAL)
    points: ContactPoints = attrs.field(factory=ContactPoints, metadata=SENSITIVE)
    primary: bool = attrs.field(default=False, metadata=INTERNAL)
