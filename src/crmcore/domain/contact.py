"""Contact points (联系方式): emails, phones and postal addresses, each typed, one primary.

:class:`ContactPoints` is the always-valid collection a customer, a contact
person or a lead carries: no duplicate values, and exactly one primary per
kind of point when there is any (the first one when none is marked).

May import: ``crmcore.errors``, ``crmcore.domain.values``; attrs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Self, TypeVar

import attrs

from crmcore.domain.classification import PUBLIC, SENSITIVE
from crmcore.domain.values import EmailAddress, PhoneNumber, PostalAddress
from crmcore.errors import InvalidValueError

__all__ = [
    "AddressContact",
    "ContactKind",
    "ContactPoints",
    "EmailContact",
    "PhoneContact",
]


class ContactKind(enum.StrEnum):
    """What a contact point is for."""

    WORK = "work"
    HOME = "home"
    MOBILE = "mobile"
    OTHER = "other"


@attrs.frozen(kw_only=True)
class EmailContact:
    """An email address with its kind and whether it is the primary one."""

    address: EmailAddress = attrs.field(metadata=SENSITIVE)
    kind: ContactKind = attrs.field(default=ContactKind.WORK, metadata=PUBLIC)
    primary: bool = attrs.field(default=False, metadata=PUBLIC)

    @property
    def value(self) -> EmailAddress:
        """The address (the value that must be unique in a collection)."""
        return self.address


@attrs.frozen(kw_only=True)
class PhoneContact:
    """A phone number with its kind and whether it is the primary one."""

    number: PhoneNumber = attrs.field(metadata=SENSITIVE)
    kind: ContactKind = attrs.field(default=ContactKind.MOBILE, metadata=PUBLIC)
    primary: bool = attrs.field(default=False, metadata=PUBLIC)

    @property
    def value(self) -> PhoneNumber:
        """The number (the value that must be unique in a collection)."""
        return self.number


@attrs.frozen(kw_only=True)
class AddressContact:
    """A postal address with its kind and whether it is the primary one."""

    address: PostalAddress = attrs.field(metadata=SENSITIVE)
    kind: ContactKind = attrs.field(default=ContactKind.WORK, metadata=PUBLIC)
    primary: bool = attrs.field(default=False, metadata=PUBLIC)

    @property
    def value(self) -> PostalAddress:
        """The address (the value that must be unique in a collection)."""
        return self.address


_P = TypeVar("_P", EmailContact, PhoneContact, AddressContact)


def _one_primary(field: str, points: Iterable[_P]) -> tuple[_P, ...]:
    items: tuple[_P, ...] = tuple(points)
    seen: set[object] = set()
    for item in items:
        if item.value in seen:
            raise InvalidValueError(field, str(item.value), "listed twice")
        seen.add(item.value)
    primaries = sum(1 for item in items if item.primary)
    if primaries > 1:
        raise InvalidValueError(
            field, [str(i.value) for i in items if i.primary], "more than one primary"
        )
    if items and primaries == 0:
        return _mark_primary(items, 0)
    return items


def _emails(points: Iterable[EmailContact]) -> tuple[EmailContact, ...]:
    return _one_primary("emails", points)


def _phones(points: Iterable[PhoneContact]) -> tuple[PhoneContact, ...]:
    return _one_primary("phones", points)


def _addresses(points: Iterable[AddressContact]) -> tuple[AddressContact, ...]:
    return _one_primary("addresses", points)


def _mark_primary(points: Sequence[_P], index: int) -> tuple[_P, ...]:
    return tuple(
        p if p.primary == (i == index) else attrs.evolve(p, primary=(i == index))
        for i, p in enumerate(points)
    )


@attrs.frozen(kw_only=True)
class ContactPoints:
    """Every email, phone and address of one party, one primary of each.

    >>> points = ContactPoints().with_email(EmailAddress("a@example.com"))
    >>> points = points.with_email(EmailAddress("b@example.com"), primary=True)
    >>> str(points.primary_email), [str(e.address) for e in points.emails]
    ('b@example.com', ['a@example.com', 'b@example.com'])
    """

    emails: tuple[EmailContact, ...] = attrs.field(default=(), converter=_emails)
    phones: tuple[PhoneContact, ...] = attrs.field(default=(), converter=_phones)
    addresses: tuple[AddressContact, ...] = attrs.field(default=(), converter=_addresses)

    @property
    def primary_email(self) -> EmailAddress | None:
        """The primary email, if there is any email."""
        return next((e.address for e in self.emails if e.primary), None)

    @property
    def primary_phone(self) -> PhoneNumber | None:
        """The primary phone, if there is any phone."""
        return next((p.number for p in self.phones if p.primary), None)

    @property
    def primary_address(self) -> PostalAddress | None:
        """The primary address, if there is any address."""
        return next((a.address for a in self.addresses if a.primary), None)

    @property
    def is_empty(self) -> bool:
        """Whether there is no contact point at all."""
        return not (self.emails or self.phones or self.addresses)

    def with_email(
        self, address: EmailAddress, *, kind: ContactKind = ContactKind.WORK, primary: bool = False
    ) -> Self:
        """Return a copy with ``address`` added (or re-typed if already present)."""
        rest = [e for e in self.emails if e.address != address]
        if primary:
            rest = [attrs.evolve(e, primary=False) for e in rest]
        was_primary = any(e.primary for e in self.emails if e.address == address)
        added = EmailContact(address=address, kind=kind, primary=primary or was_primary)
        return attrs.evolve(self, emails=_without_primary_clash([*rest, added]))

    def without_email(self, address: EmailAddress) -> Self:
        """Return a copy without ``address``; the first remaining one becomes primary if needed."""
        rest = tuple(e for e in self.emails if e.address != address)
        if rest and not any(e.primary for e in rest):
            rest = _mark_primary(rest, 0)
        return attrs.evolve(self, emails=rest)

    def with_phone(
        self, number: PhoneNumber, *, kind: ContactKind = ContactKind.MOBILE, primary: bool = False
    ) -> Self:
        """Return a copy with ``number`` added (or re-typed if already present)."""
        rest = [p for p in self.phones if p.number != number]
        if primary:
            rest = [attrs.evolve(p, primary=False) for p in rest]
        was_primary = any(p.primary for p in self.phones if p.number == number)
        added = PhoneContact(number=number, kind=kind, primary=primary or was_primary)
        return attrs.evolve(self, phones=_without_primary_clash([*rest, added]))

    def without_phone(self, number: PhoneNumber) -> Self:
        """Return a copy without ``number``; the first remaining one becomes primary if needed."""
        rest = tuple(p for p in self.phones if p.number != number)
        if rest and not any(p.primary for p in rest):
            rest = _mark_primary(rest, 0)
        return attrs.evolve(self, phones=rest)

    def with_address(
        self, address: PostalAddress, *, kind: ContactKind = ContactKind.WORK, primary: bool = False
    ) -> Self:
        """Return a copy with ``address`` added (or re-typed if already present)."""
        rest = [a for a in self.addresses if a.address != address]
        if primary:
            rest = [attrs.evolve(a, primary=False) for a in rest]
        was_primary = any(a.primary for a in self.addresses if a.address == address)
        added = AddressContact(address=address, kind=kind, primary=primary or was_primary)
        return attrs.evolve(self, addresses=_without_primary_clash([*rest, added]))

    def without_address(self, address: PostalAddress) -> Self:
        """Return a copy without ``address``; the first remaining one becomes primary if needed."""
        rest = tuple(a for a in self.addresses if a.address != address)
        if rest and not any(a.primary for a in rest):
            rest = _mark_primary(rest, 0)
        return attrs.evolve(self, addresses=rest)


def _without_primary_clash(points: list[_P]) -> tuple[_P, ...]:
    """Keep the last-marked primary when adding made two (the new one wins)."""
    marked = [i for i, p in enumerate(points) if p.primary]
    if len(marked) > 1:
        return _mark_primary(points, marked[-1])
    return tuple(points)
