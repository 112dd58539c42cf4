"""Normalise phone numbers and email addresses, fast for the common shapes.

This module holds the functions the value objects in :mod:`crmcore.domain.values`
are built on:

* :func:`normalize_phone` / :func:`normalize_phones` turn a phone number into
  ``(e164, extension_or_None)``;
* :func:`normalize_email` / :func:`normalize_emails` turn an email address into
  its normalised form (domain lower-cased, local part kept as written);
* :func:`normalize_phone_slow` / :func:`normalize_email_slow` are the reference
  implementations: ``phonenumbers`` and ``email_validator`` called directly.
  They define what a correct result is.

The fast paths handle the shapes that make up almost every real import (digits
with common separators in national or international form; plain ASCII
addresses) by replaying the reference libraries' own rules. The phone replay,
compiled once per region from phonenumbers' own metadata, lives in the private
module :mod:`crmcore.domain._phone_replay`, which depends on phonenumbers'
internals and is pinned to its major version; the email replay is here.
Whatever a fast path cannot decide exactly goes to the slow path. When the
phone fast path rejects a number it builds the reason with the slow path's own
helper, and the email fast path never rejects. Results and error messages are
therefore the slow path's; the property tests in
``tests/property/test_fast_normalisation.py`` check that.

This module may import :mod:`crmcore.errors`, :mod:`crmcore.domain._phone_replay`,
the standard library, ``phonenumbers`` and ``email_validator`` -- nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import email_validator
import phonenumbers
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from crmcore.domain._phone_replay import PhoneResult, invalid_number_reason, phone_fast, region_plan
from crmcore.errors import InvalidValueError

__all__ = [
    "normalize_email",
    "normalize_email_slow",
    "normalize_emails",
    "normalize_phone",
    "normalize_phone_slow",
    "normalize_phones",
]


# ---------------------------------------------------------------------------
# Phones: shared checks and the slow (reference) path
# ---------------------------------------------------------------------------

# The phone fast path under the names tests and benchmarks have always called.
_plan = region_plan
_phone_fast = phone_fast

_PHONE: Final = "phone"
_EMAIL: Final = "email"

# The first character phonenumbers accepts as the start of a number.
_NUMBER_START = re.compile(r"[+\uFF0B\d]")

_PARSE_REASONS: Final[dict[int, str]] = {
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: (
        "too short after the international prefix"
    ),
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def _unknown_region_reason(region: str | None) -> str | None:
    """Say why phonenumbers cannot use a region, or return None if it can."""
    if region is None or region.upper() in phonenumbers.SUPPORTED_REGIONS:
        return None
    return f"unknown region {region!r}"


def _region_code(raw: str, region: str | None) -> str | None:
    """Return the upper-cased region, or raise if phonenumbers does not know it."""
    reason = _unknown_region_reason(region)
    if reason is not None:
        raise InvalidValueError(_PHONE, raw, reason)
    return None if region is None else region.upper()


def _starts_with_plus(text: str) -> bool:
    """Tell whether the number phonenumbers would extract from text starts with a plus."""
    match = _NUMBER_START.search(text)
    return match is not None and match.group() in "+\uff0b"


def _parse_error_reason(
    exc: phonenumbers.NumberParseException, text: str, region: str | None
) -> str:
    """Translate a NumberParseException into a readable reason."""
    error_type: int = exc.error_type
    if error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        if region is None and not _starts_with_plus(text):
            return "no country code: give a region or start with +"
        return "unknown country calling code"
    reason = _PARSE_REASONS.get(error_type, "not a phone number")
    if region is not None and error_type in (
        phonenumbers.NumberParseException.TOO_SHORT_NSN,
        phonenumbers.NumberParseException.TOO_LONG,
    ):
        reason += f" for region {region}"
    return reason


def _phone_slow(raw: str, text: str, region: str | None) -> PhoneResult:
    """Run the reference parse on already-stripped text with a checked region."""
    if not text:
        raise InvalidValueError(_PHONE, raw, "empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        reason = _parse_error_reason(exc, text, region)
        raise InvalidValueError(_PHONE, raw, reason) from None
    if not phonenumbers.is_valid_number(number):
        possibility: int = phonenumbers.is_possible_number_with_reason(number)
        # parse() always sets the country code; 0 would read "unknown code +0".
        reason = invalid_number_reason(number.country_code or 0, possibility, region)
        raise InvalidValueError(_PHONE, raw, reason)
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    extension: str | None = number.extension or None
    return e164, extension


def normalize_phone_slow(raw: str, region: str | None = None) -> PhoneResult:
    """Normalise a phone number with ``phonenumbers`` alone (the reference path).

    Args:
        raw: The number as written, in any format ``phonenumbers`` accepts.
        region: The ISO 3166 region to read a national number in (any case),
            or ``None`` when the number must carry its country code.

    Returns:
        The E.164 form and the extension (``None`` when there is none).

    Raises:
        InvalidValueError: The region is unknown, or the text is not a valid
            phone number (field ``"phone"``).
    """
    region_code = _region_code(raw, region)
    return _phone_slow(raw, raw.strip(), region_code)


def normalize_phone(raw: str, region: str | None = None) -> PhoneResult:
    """Normalise a phone number to E.164 and an optional extension.

    Common shapes (digits with spaces, dashes, dots, slashes or parentheses;
    national form with the trunk prefix; international form with ``+`` or the
    region's IDD prefix) take a fast path compiled from ``phonenumbers``'
    metadata; everything else goes through :func:`normalize_phone_slow`.
    The result is always the same as :func:`normalize_phone_slow`'s.

    Args:
        raw: The number as written, in any format ``phonenumbers`` accepts.
        region: The ISO 3166 region to read a national number in (any case),
            or ``None`` when the number must carry its country code.

    Returns:
        The E.164 form and the extension (``None`` when there is none).

    Raises:
        InvalidValueError: The region is unknown, or the text is not a valid
            phone number (field ``"phone"``).
    """
    region_code = _region_code(raw, region)
    text = raw.strip()
    if text:
        home = None if region_code is None else _plan(region_code)
        fast = _phone_fast(text, home, region_code)
        if isinstance(fast, tuple):
            return fast
        if fast is not None:
            raise InvalidValueError(_PHONE, raw, fast)
    return _phone_slow(raw, text, region_code)


def _detached(exc: InvalidValueError) -> InvalidValueError:
    """Return a caught error without its traceback and suppressed context.

    A caught error kept in a result list would otherwise hold the frames it
    passed through, and they the list (a reference cycle): every record of the
    batch would then live until the cyclic garbage collector runs, which bulk
    callers pause.
    """
    exc.__traceback__ = None
    exc.__context__ = None
    return exc


def normalize_phones(
    raws: Iterable[str], region: str | None = None
) -> list[PhoneResult | InvalidValueError]:
    """Normalise many phone numbers, keeping every good one.

    Args:
        raws: The numbers as written.
        region: The region to read national numbers in, or ``None``.

    Returns:
        One entry per input, in order: ``(e164, extension_or_None)``, or the
        :class:`~crmcore.errors.InvalidValueError` explaining why that input
        was rejected. A bad row never raises.
    """
    reason = _unknown_region_reason(region)
    if reason is not None:
        return [InvalidValueError(_PHONE, raw, reason) for raw in raws]
    region_code = None if region is None else region.upper()
    out: list[PhoneResult | InvalidValueError] = []
    home = None if region_code is None else _plan(region_code)
    for raw in raws:
        text = raw.strip()
        fast = _phone_fast(text, home, region_code) if text else None
        if isinstance(fast, tuple):
            out.append(fast)
        elif fast is not None:
            out.append(InvalidValueError(_PHONE, raw, fast))
        else:
            try:
                out.append(_phone_slow(raw, text, region_code))
            except InvalidValueError as exc:
                out.append(_detached(exc))
    return out


# ---------------------------------------------------------------------------
# Emails
# ---------------------------------------------------------------------------

# crmcore passes every email_validator option explicitly (see _email_slow),
# so that a host changing email_validator's module-level defaults cannot
# change crmcore's results -- or make the fast path disagree with them.

# The fast path's shape: ASCII atext and dots, "@", ASCII letters, digits,
# dots and hyphens. The dot and hyphen rules are checked in _email_fast.
_SIMPLE_EMAIL = re.compile(r"([a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~.]+)@([a-zA-Z0-9.\-]+)")
_EMAIL_MAX_LENGTH: Final = 254  # email_validator's EMAIL_MAX_LENGTH (ASCII: chars == bytes)
_LABEL_MAX_LENGTH: Final = 63  # email_validator's DNS_LABEL_LENGTH_LIMIT
_CASE_INSENSITIVE_LOCAL_PARTS: Final = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)

# (names, suffixes) last derived from email_validator.SPECIAL_USE_DOMAIN_NAMES,
# replaced in one assignment so that threads never see a mixed pair.
_special_use: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


def _special_use_suffixes() -> tuple[str, ...]:
    """Return ``.name`` for every special-use domain email_validator currently rejects.

    The list is read on every call because hosts may extend it.
    """
    global _special_use  # noqa: PLW0603 - a cache of a host-editable list, see above
    names = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)
    cached_names, suffixes = _special_use
    if names != cached_names:
        suffixes = tuple(f".{name}" for name in names)
        _special_use = (names, suffixes)
    return suffixes


def _email_fast(text: str, special_suffixes: tuple[str, ...]) -> str | None:
    """Normalise a plain ASCII address, or return None to defer to the slow path.

    Replays email_validator for an ASCII dot-atom local part and an ASCII
    host name: what it accepts, and how it normalises (domain lower-cased,
    RFC 2142 mailbox names lower-cased, the rest of the local part kept).
    """
    if len(text) > _EMAIL_MAX_LENGTH or not text.isascii():
        return None
    match = _SIMPLE_EMAIL.fullmatch(text)
    if match is None:
        return None
    local, domain = match.groups()
    # Dot-atom (DOT_ATOM_TEXT): no leading, trailing or doubled dot.
    if local[0] == "." or local[-1] == "." or ".." in local:
        return None
    # Host name (check_dot_atom, DOT_ATOM_TEXT_HOSTNAME, DOMAIN_NAME_REGEX): a
    # period, no empty label, no label starting or ending with a hyphen, a
    # letter last. "--" covers Punycode ("xn--") and reserved ("ab--") labels.
    if (
        "." not in domain
        or not domain[-1].isalpha()
        or domain[0] in ".-"
        or ".." in domain
        or "-." in domain
        or ".-" in domain
        or "--" in domain
    ):
        return None
    if len(domain) > _LABEL_MAX_LENGTH and any(
        len(label) > _LABEL_MAX_LENGTH for label in domain.split(".")
    ):
        return None
    domain = domain.lower()
    if f".{domain}".endswith(special_suffixes):
        return None
    if local.lower() in _CASE_INSENSITIVE_LOCAL_PARTS:
        local = local.lower()
    return f"{local}@{domain}"


def _email_slow(raw: str, text: str) -> str:
    """Run the reference validation on already-stripped text."""
    try:
        result = email_validator.validate_email(
            text,
            allow_smtputf8=True,
            allow_empty_local=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            strict=False,
            check_deliverability=False,
            test_environment=False,
            globally_deliverable=True,
        )
    except email_validator.EmailNotValidError as exc:
        raise InvalidValueError(_EMAIL, raw, str(exc)) from None
    return result.normalized


def normalize_email_slow(raw: str) -> str:
    """Normalise an email address with ``email_validator`` alone (the reference path).

    Args:
        raw: The address as written; surrounding whitespace is ignored.

    Returns:
        email_validator's normalised address: the domain lower-cased (and
        decoded from Punycode), the local part as written (NFC-normalised).

    Raises:
        InvalidValueError: The address is not valid (field ``"email"``); the
            reason is email_validator's message.
    """
    return _email_slow(raw, raw.strip())


def normalize_email(raw: str) -> str:
    """Normalise an email address.

    Plain ASCII addresses take a fast path that replays email_validator's
    rules; everything else goes through :func:`normalize_email_slow`. The
    result is always the same as :func:`normalize_email_slow`'s.

    Args:
        raw: The address as written; surrounding whitespace is ignored.

    Returns:
        The normalised address: domain lower-cased, local part as written.

    Raises:
        InvalidValueError: The address is not valid (field ``"email"``).
    """
    text = raw.strip()
    if len(text) > 4 * _EMAIL_MAX_LENGTH:  # past any address, whatever normalising does
        raise InvalidValueError(
            "email", raw, f"longer than {_EMAIL_MAX_LENGTH} characters ({len(text):,})"
        )
    fast = _email_fast(text, _special_use_suffixes())
    if fast is not None:
        return fast
    return _email_slow(raw, text)


def normalize_emails(raws: Iterable[str]) -> list[str | InvalidValueError]:
    """Normalise many email addresses, keeping every good one.

    Args:
        raws: The addresses as written.

    Returns:
        One entry per input, in order: the normalised address, or the
        :class:`~crmcore.errors.InvalidValueError` explaining why that input
        was rejected. A bad row never raises.
    """
    out: list[str | InvalidValueError] = []
    special_suffixes = _special_use_suffixes()
    for raw in raws:
        text = raw.strip()
        fast = _email_fast(text, special_suffixes)
        if fast is not None:
            out.append(fast)
            continue
        try:
            out.append(_email_slow(raw, text))
        except InvalidValueError as exc:
            out.append(_detached(exc))
    return out
