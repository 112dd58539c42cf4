"""The flat record matching works on, and how to get one from a customer or a CSV row.

:class:`MatchRecord` holds the raw matching fields of one customer (names,
emails, phones, company, place, birth date …); keys are built from it by
:mod:`crmcore.matching.feature`. :func:`recognise_columns` maps the headers
of any CSV (English or Chinese: ``first_name``, ``姓名``, ``手机`` …) to its
fields.

May import: ``crmcore.domain``, ``crmcore.errors``; attrs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Self

import attrs

from crmcore.domain.customer import Customer
from crmcore.errors import InvalidValueError

__all__ = ["FIELD_ALIASES", "MatchRecord", "recognise_columns"]


def _require_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError("match record id", value, "a non-empty string is required")
    return value.strip()


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValueError("match record field", value, "expected a string")
    return value.strip()


def _upper_text(value: object) -> str:
    return _text(value).upper()


def _texts(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Iterable):
        raise InvalidValueError("match record field", value, "expected strings")
    return tuple(t for t in (_text(v) for v in value) if t)


@attrs.frozen(kw_only=True)
class MatchRecord:
    """One record to match: raw fields as written, any of them may be empty.

    Keys (E.164 phones, folded names …) are built from these fields by
    :func:`~crmcore.matching.feature.build_features`; nothing is validated
    here beyond the id, so a bad phone number simply does not match.

    Attributes:
        id: The record's id (unique within one run).
        full_name: The whole name when given and family are not separate.
        given_name: Given (first) name.
        family_name: Family (last) name.
        emails: Every email address, primary first.
        phones: Every phone number, primary first.
        company: Company (organisation) name.
        city: City.
        postcode: Postcode.
        country: ISO 3166-1 alpha-2 country, also the region for national phones.
        birth_date: Birth date as written (ISO preferred).
        address: Street address line.
        national_id: A national id or social-security number.
        source: Which data set the record comes from (for linking two sets).

    >>> MatchRecord(id="r1", full_name="张伟", phones="138 0013 8000", country="cn").phones
    ('138 0013 8000',)
    """

    id: str = attrs.field(converter=_require_id)
    full_name: str = attrs.field(default="", converter=_text)
    given_name: str = attrs.field(default="", converter=_text)
    family_name: str = attrs.field(default="", converter=_text)
    emails: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    phones: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    company: str = attrs.field(default="", converter=_text)
    city: str = attrs.field(default="", converter=_text)
    postcode: str = attrs.field(default="", converter=_text)
    country: str = attrs.field(default="", converter=_upper_text)
    birth_date: str = attrs.field(default="", converter=_text)
    address: str = attrs.field(default="", converter=_text)
    national_id: str = attrs.field(default="", converter=_text)
    source: str = attrs.field(default="", converter=_text)

    @classmethod
    def from_customer(cls, customer: Customer) -> Self:
        """Flatten a customer account into a match record.

        Args:
            customer: The customer (person or organisation).

        Returns:
            The record, with the customer's id, every email and phone (primary
            first), and place fields from the primary address.
        """
        points = customer.points
        emails = sorted(points.emails, key=lambda e: not e.primary)
        phones = sorted(points.phones, key=lambda p: not p.primary)
        address = points.primary_address
        person = customer.person
        company = customer.organization.legal_name if customer.organization else ""
        country = customer.country.code if customer.country else ""
        if address is not None and not country:
            country = address.country.code
        return cls(
            id=str(customer.id),
            given_name=person.name.given if person else "",
            family_name=person.name.family if person else "",
            emails=[e.address.address for e in emails],
            phones=[p.number.e164 for p in phones],
            company=company,
            city=address.city if address else "",
            postcode=address.postcode if address else "",
            country=country,
            birth_date=person.birth_date.isoformat() if person and person.birth_date else "",
            address=" ".join(address.street) if address else "",
            national_id=person.national_id if person else "",
        )

    @classmethod
    def from_row(
        cls,
        row: Mapping[str, str] | Sequence[str],
        *,
        id: str,
        columns: Mapping[str, Sequence[int | str]],
    ) -> Self:
        """Build a record from a CSV row.

        Args:
            row: The row, as a mapping (``csv.DictReader``) or a sequence
                (``csv.reader``).
            id: The record id.
            columns: Field name → the headers (or positions) holding it, as
                returned by :func:`recognise_columns`.

        Returns:
            The record; missing cells are empty fields.

        >>> header = ["编号", "姓名", "手机", "城市"]
        >>> columns = recognise_columns(header)
        >>> MatchRecord.from_row(["7", "张伟", "13800138000", "北京"], id="7", columns=columns)
        MatchRecord(id='7', full_name='张伟', ..., phones=('13800138000',), ..., city='北京', ...)
        """
        values: dict[str, object] = {}
        for field, places in columns.items():
            if field == "id":
                continue
            cells = [_cell(row, place) for place in places]
            if field in _MULTI:
                values[field] = tuple(c for c in cells if c)
            else:
                # The first cell with text; a cell that is not a string goes to
                # the converter, which says what is wrong with it.
                values[field] = next((c for c in cells if not isinstance(c, str) or c.strip()), "")
        return cls(id=id, **values)


def _cell(row: Mapping[str, str] | Sequence[str], place: int | str) -> str:
    if isinstance(place, int):
        if isinstance(row, Mapping):
            return ""
        return row[place] if place < len(row) and row[place] is not None else ""
    if isinstance(row, Mapping):
        value = row.get(place)
        return value if isinstance(value, str) else ""
    return ""


_MULTI: Final = frozenset({"emails", "phones"})

FIELD_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "id": ("id", "record_id", "rec_id", "customer_id", "contact_id", "编号", "客户编号", "客户id"),
    "full_name": (
        "name", "full_name", "fullname", "contact_name", "customer_name", "contact",
        "姓名", "名字", "客户姓名", "联系人", "客户名称", "联系人姓名",
    ),
    "given_name": ("first_name", "firstname", "given_name", "given", "forename", "fname", "名"),
    "family_name": ("last_name", "lastname", "surname", "family_name", "family", "lname", "姓"),
    "emails": (
        "email", "e_mail", "email_address", "mail", "work_email", "personal_email",
        "email2", "email_2", "secondary_email", "邮箱", "电子邮箱", "电子邮件", "邮件",
    ),
    "phones": (
        "phone", "phone_number", "telephone", "tel", "mobile", "mobile_phone", "cell",
        "cellphone", "work_phone", "home_phone", "phone2", "phone_2", "手机", "手机号",
        "手机号码", "电话", "联系电话", "电话号码",
    ),
    "company": (
        "company", "company_name", "organization", "organisation", "organization_name",
        "employer", "account", "account_name", "公司", "公司名称", "单位", "企业名称",
    ),
    "city": ("city", "town", "suburb", "城市", "所在城市"),
    "postcode": ("postcode", "postal_code", "post_code", "zip", "zipcode", "zip_code", "邮编",
                 "邮政编码"),
    "country": ("country", "country_code", "国家", "国家代码"),
    "birth_date": ("birth_date", "dob", "date_of_birth", "birthday", "birthdate", "生日",
                   "出生日期"),
    "address": ("address", "street", "street_address", "address_1", "address1", "address_line_1",
                "地址", "详细地址"),
    "national_id": ("national_id", "ssn", "soc_sec_id", "id_number", "身份证", "身份证号"),
    "source": ("source", "dataset", "数据来源"),
}  # fmt: skip
"""Each :class:`MatchRecord` field and the (folded) CSV headers recognised for it."""

_HEADER_SEPARATORS = re.compile(r"[\s\-./]+")
_ALIAS_TO_FIELD: Final = {alias: field for field, names in FIELD_ALIASES.items() for alias in names}


def _fold_header(header: str) -> str:
    text = unicodedata.normalize("NFKC", header).strip().casefold()
    return _HEADER_SEPARATORS.sub("_", text).strip("_")


def recognise_columns(headers: Sequence[str]) -> dict[str, list[str | int]]:
    """Map CSV headers to :class:`MatchRecord` fields; unknown headers are ignored.

    Args:
        headers: The header row.

    Returns:
        Field → the positions of the headers holding it, in header order.

    >>> recognise_columns(["Customer ID", "First Name", "Last Name", "E-mail", "Notes"])
    {'id': [0], 'given_name': [1], 'family_name': [2], 'emails': [3]}
    """
    found: dict[str, list[str | int]] = {}
    for position, header in enumerate(headers):
        field = _ALIAS_TO_FIELD.get(_fold_header(header or ""))
        if field is not None:
            found.setdefault(field, []).append(position)
    return found
