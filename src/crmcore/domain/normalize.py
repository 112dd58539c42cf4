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
addresses) by replaying the reference libraries' own rules, compiled once per
region from phonenumbers' own metadata. Whatever a fast path cannot decide
exactly goes to the slow path. When the phone fast path rejects a number it
builds the reason with the slow path's own helper, and the email fast path
never rejects. Results and error messages are therefore the slow path's; the
property tests in ``tests/property/test_fast_normalisation.py`` check that.

Compiled region rules are cached in module-level dictionaries, filled on
first use. Concurrent first uses may build a plan twice, which is harmless.

This module may import :mod:`crmcore.errors`, the standard library,
``phonenumbers`` and ``email_validator`` -- nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import email_validator
import phonenumbers
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from crmcore.errors import InvalidValueError

__all__ = [
    "normalize_email",
    "normalize_email_slow",
    "normalize_emails",
    "normalize_phone",
    "normalize_phone_slow",
    "normalize_phones",
]

PhoneResult = tuple[str, str | None]


# ---------------------------------------------------------------------------
# Phones: shared checks and the slow (reference) path
# ---------------------------------------------------------------------------

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

_POSSIBILITY_REASONS: Final[dict[int, str]] = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short for {where}",
    phonenumbers.ValidationResult.TOO_LONG: "too long for {where}",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong number of digits for {where}",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: (
        "too short for {where} (is the area code missing?)"
    ),
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


def _place_of(country_code: int, region_code: str | None) -> str:
    """Name where a number belongs: the caller's region if it fits, else the main one."""
    if region_code is not None and (
        phonenumbers.country_code_for_region(region_code) == country_code
    ):
        return f"region {region_code}"
    main: str = phonenumbers.region_code_for_country_code(country_code)
    if main == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return f"country code +{country_code}"
    return f"region {main}"


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


def _invalid_number_reason(country_code: int, possibility: int, region: str | None) -> str:
    """Explain why a parsed number is not valid, from is_possible_number_with_reason."""
    if possibility == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return f"unknown country calling code +{country_code}"
    template = _POSSIBILITY_REASONS.get(possibility, "not a valid number for {where}")
    return template.format(where=_place_of(country_code, region))


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
        reason = _invalid_number_reason(number.country_code or 0, possibility, region)
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


# ---------------------------------------------------------------------------
# Phones: the fast path, compiled from phonenumbers' own metadata
# ---------------------------------------------------------------------------

# Separators the fast path understands. phonenumbers treats all of them as
# punctuation that never starts an extension or a second number.
_SEPARATORS: Final = b" -.()/"
_MAX_INPUT_LENGTH: Final = 250  # phonenumbers' _MAX_INPUT_STRING_LENGTH
_MIN_NSN_LENGTH: Final = 2  # phonenumbers' _MIN_LENGTH_FOR_NSN
_MAX_NSN_LENGTH: Final = 17  # phonenumbers' _MAX_LENGTH_FOR_NSN
_MIN_VIABLE_DIGITS: Final = 3  # with separators, phonenumbers needs three digits
_NON_GEO: Final[str] = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
_COUNTRY_REGIONS: Final[dict[int, tuple[str, ...]]] = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
_COUNTRY_CODES: Final[dict[str, int]] = {str(code): code for code in _COUNTRY_REGIONS}

# phonenumbers' ValidationResult values (outcomes of _test_number_length).
_IS_POSSIBLE: Final[int] = phonenumbers.ValidationResult.IS_POSSIBLE
_TOO_SHORT: Final[int] = phonenumbers.ValidationResult.TOO_SHORT
_TOO_LONG: Final[int] = phonenumbers.ValidationResult.TOO_LONG
_INVALID_LENGTH: Final[int] = phonenumbers.ValidationResult.INVALID_LENGTH
_LOCAL_ONLY: Final[int] = phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY

# A number followed by a common extension: " ext. 12", "x12", ";ext=12".
# phonenumbers' extension pattern splits these at the same place and reads
# the same digits (it allows at least 9 of them after any of these labels).
_WITH_EXTENSION = re.compile(r"(.*[0-9])(?: *(?i:ext\.?|x) *|(?i:;ext=))([0-9]{1,6})")

# The number types phonenumbers tries; any match gives a number a type, which
# makes it valid (phonenumbers' _number_type_helper != UNKNOWN). The likeliest
# come first.
_TYPE_DESCS: Final = (
    "mobile",
    "fixed_line",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


class _RegionPlan:
    """One region's parsing rules, compiled once from its phonenumbers metadata."""

    __slots__ = (
        "country_code",
        "country_code_text",
        "general",
        "international_prefix",
        "international_shortcuts",
        "is_first_without_leading_digits",
        "leading_digits",
        "length_results",
        "national_prefix",
        "national_shortcuts",
        "only_region",
        "replays",
        "transforms",
        "type_patterns",
        "validators",
    )

    def __init__(self, metadata: phonenumbers.PhoneMetadata) -> None:
        # Every region's metadata has a country code; 0 would match no number.
        self.country_code: int = metadata.country_code or 0
        self.country_code_text = str(self.country_code)
        idd: str | None = metadata.international_prefix
        self.international_prefix = re.compile(idd) if idd else None
        prefix: str | None = metadata.national_prefix_for_parsing
        self.national_prefix = re.compile(prefix) if prefix else None
        self.transforms = bool(metadata.national_prefix_transform_rule)
        general = metadata.general_desc
        pattern = None if general is None else general.national_number_pattern
        self.general = re.compile(pattern or "(?!)")  # no pattern: nothing matches
        lengths = () if general is None else tuple(general.possible_length)
        local_lengths = frozenset(() if general is None else general.possible_length_local_only)
        leading: str | None = metadata.leading_digits
        self.leading_digits = re.compile(leading) if leading else None
        regions = _COUNTRY_REGIONS.get(self.country_code, ())
        # True when this region alone uses its country code, so validity needs
        # no search for the number's region (region_code_for_number).
        self.only_region = len(regions) == 1
        # True when region_code_for_number picks this region for every number
        # valid here: it is tried first and has no leading-digits test.
        self.is_first_without_leading_digits = bool(regions) and (
            regions[0] == metadata.id and self.leading_digits is None
        )
        # One slot past every known length, so clamped lookups read TOO_LONG.
        top = max((*lengths, *local_lengths, _MAX_NSN_LENGTH)) + 2
        self.length_results = tuple(
            _length_result(size, lengths, local_lengths) for size in range(top)
        )
        self.type_patterns: dict[int, str] = {}
        for size in range(top):
            types = _type_pattern(metadata, lengths, size)
            if types is not None:
                self.type_patterns[size] = types
        # Compiled on first use: some patterns are long and slow to compile.
        self.validators: dict[int, re.Pattern[str] | None] = {}
        # Built by _count_replay() once the region is used in bulk, so that a
        # single lookup does not pay for compiling them.
        self.replays: dict[tuple[bool, int], int] = {}
        # Shortcuts by the number of digits they apply to (see _shortcut).
        self.national_shortcuts: dict[int, tuple[re.Pattern[str], ...]] = {}
        self.international_shortcuts: dict[int, tuple[re.Pattern[str], ...]] = {}

    def strip_national_prefix(self, number: str) -> str | None:
        """Replay _maybe_strip_national_prefix_carrier_code; None if a transform applies."""
        if not number or self.national_prefix is None:
            return number
        match = self.national_prefix.match(number)
        if match is None:
            return number
        if self.transforms:
            groups = match.groups()
            if not groups or groups[-1] is not None:
                return None
        rest = number[match.end() :]
        # Keep the prefix only if the number matched the general pattern with
        # it and does not without it (checked in the cheaper order).
        if self.general.fullmatch(rest) is None and self.general.fullmatch(number) is not None:
            return number
        return rest

    def is_valid(self, national: str) -> bool:
        """Tell whether phonenumbers gives the number a type in this region."""
        size = len(national)
        try:
            validator = self.validators[size]
        except KeyError:
            types = self.type_patterns.get(size)
            validator = None
            if types is not None:
                validator = re.compile(f"(?=(?:{self.general.pattern})\\Z){types}")
            self.validators[size] = validator
        return validator is not None and validator.fullmatch(national) is not None

    def length_result(self, size: int) -> int:
        """Look up _test_number_length's outcome for a size (past the table: too long)."""
        results = self.length_results
        return results[size] if size < len(results) else _TOO_LONG


def _length_result(size: int, lengths: tuple[int, ...], local_lengths: frozenset[int]) -> int:
    """Replay phonenumbers' _test_number_length for the general description."""
    if size in local_lengths:
        return _LOCAL_ONLY
    if lengths[0] == size:
        return _IS_POSSIBLE
    if lengths[0] > size:
        return _TOO_SHORT
    if lengths[-1] < size:
        return _TOO_LONG
    return _IS_POSSIBLE if size in lengths[1:] else _INVALID_LENGTH


def _type_pattern(
    metadata: phonenumbers.PhoneMetadata, lengths: tuple[int, ...], size: int
) -> str | None:
    """Return a pattern matching the numbers of a size that have some type, if any.

    This is phonenumbers' _number_type_helper != UNKNOWN, minus its general
    description test (each caller adds that).
    """
    if lengths and size not in lengths:
        return None
    patterns: list[str] = []
    for name in _TYPE_DESCS:
        if name == "mobile" and metadata.same_mobile_and_fixed_line_pattern:
            continue  # phonenumbers then only tries the fixed-line pattern
        desc: phonenumbers.PhoneNumberDesc | None = getattr(metadata, name)
        if desc is None or not desc.national_number_pattern:
            continue
        if desc.possible_length and size not in desc.possible_length:
            continue
        patterns.append(f"(?:{desc.national_number_pattern})")
    return f"(?:{'|'.join(patterns)})" if patterns else None


def _shortcut(
    plan: _RegionPlan, main: _RegionPlan, length: int, *, national: bool, trunk: bool
) -> re.Pattern[str] | None:
    """Compile one pattern deciding a common case of the replay in a single match.

    The pattern is for strings of ``length`` digits. It fully matches exactly
    those that the replay (and so phonenumbers) would read as a valid number
    of ``main`` by the route described below, and captures the national
    significant number as ``national``. Any other string goes through the
    general replay, so a shortcut can only ever agree with it.

    * ``national``: digits written without "+": ``plan``'s IDD prefix and
      country code must not start them (_maybe_extract_country_code then
      takes the home region's code);
    * ``trunk``: ``plan``'s national prefix starts them, matched atomically
      as ``re.match`` does, without a national_prefix_transform_rule group,
      and what follows matches the general pattern and has a possible length,
      so _maybe_strip_national_prefix_carrier_code strips it and parse()
      keeps the result; otherwise the prefix must not start them at all;
    * the number must not start with 0 and must have a type in ``main``,
      which region_code_for_number picks first (is_valid_number).
    """
    if not main.is_first_without_leading_digits:
        return None
    parts: list[str] = []
    if national:
        if plan.international_prefix is not None:
            parts.append(f"(?!{plan.international_prefix.pattern})")
        parts.append(f"(?!{plan.country_code_text})")
    prefix = plan.national_prefix
    if trunk:
        if prefix is None:
            return None
        parts.append(f"(?>{prefix.pattern})")
        if plan.transforms:
            if prefix.groups == 0:
                return None
            last_group = re.compile("".join(parts)).groups
            parts.append(f"(?({last_group})(?!))")
        parts.append(f"(?=(?:{plan.general.pattern})\\Z)")
        # Most prefixes are one digit, so try that size first. An empty
        # prefix match is left to the replay.
        sizes = sorted(range(_MIN_NSN_LENGTH, length), key=lambda size: (size != length - 1, size))
        types = "|".join(
            f"(?=\\d{{{size}}}\\Z){main.type_patterns[size]}"
            for size in sizes
            if size in main.type_patterns
            and size <= _MAX_NSN_LENGTH
            and plan.length_result(size) in (_IS_POSSIBLE, _TOO_LONG)
        )
    else:
        if prefix is not None:
            parts.append(f"(?!{prefix.pattern})")
        in_range = _MIN_NSN_LENGTH <= length <= _MAX_NSN_LENGTH
        types = main.type_patterns.get(length, "") if in_range else ""
    if not types:
        return None
    parts.append(f"(?P<national>(?!0)(?=(?:{main.general.pattern})\\Z)(?:{types}))")
    return re.compile("".join(parts))


_PLANS: dict[str, _RegionPlan | None] = {}
_MAIN_PLANS: dict[int, _RegionPlan | None] = {}


def _plan(region: str) -> _RegionPlan | None:
    """Return the compiled plan of a region (built on first use, then cached)."""
    try:
        return _PLANS[region]
    except KeyError:
        pass
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    plan = None if metadata is None else _RegionPlan(metadata)
    _PLANS[region] = plan
    return plan


_SHORTCUTS_AFTER = 20_000
"""General replays of one region, form and length before their shortcuts are compiled.

A shortcut saves about 0.5 µs a number but costs several milliseconds to
compile (Python's regex parser is slow on phonenumbers' large patterns), so
it pays off only for a form and length seen in bulk: the 11-digit mobiles of
a 100,000-row Chinese file, not the dozen rarer forms beside them (counted
one-shot: 10k rows compile nothing, 100k and 1M rows their main forms and
run fastest). Tests lower it to exercise shortcuts."""


def _count_replay(plan: _RegionPlan, length: int, *, national: bool) -> None:
    """Count a general replay; past the threshold for its form and length, compile shortcuts.

    Compiling waits until a region is used in bulk (see ``_SHORTCUTS_AFTER``),
    so that a small batch does not pay for it.
    """
    shortcuts = plan.national_shortcuts if national else plan.international_shortcuts
    if length in shortcuts:
        return
    key = (national, length)
    count = plan.replays.get(key, 0) + 1
    plan.replays[key] = count
    if count < _SHORTCUTS_AFTER:
        return
    main = _main_plan(plan.country_code) if national else plan
    built: tuple[re.Pattern[str], ...] = ()
    if main is not None:
        both = (
            _shortcut(plan, main, length, national=national, trunk=False),
            _shortcut(plan, main, length, national=national, trunk=True),
        )
        built = tuple(shortcut for shortcut in both if shortcut is not None)
    shortcuts[length] = built


def _main_plan(country_code: int) -> _RegionPlan | None:
    """Return the plan of a country code's main region; None for non-geographic codes."""
    try:
        return _MAIN_PLANS[country_code]
    except KeyError:
        pass
    main = _COUNTRY_REGIONS[country_code][0]
    plan = None if main == _NON_GEO else _plan(main)
    _MAIN_PLANS[country_code] = plan
    return plan


def _country_code_prefixes() -> dict[str, tuple[int, int]]:
    """Map every three-digit start to its country code and the code's length.

    This is phonenumbers' _extract_country_code (shortest known code first;
    codes never start with 0) tabulated for numbers of three digits or more.
    """
    table: dict[str, tuple[int, int]] = {}
    for start in range(100, 1000):
        text = str(start)
        for size in (1, 2, 3):
            code = _COUNTRY_CODES.get(text[:size])
            if code is not None:
                table[text] = (code, size)
                break
    return table


_COUNTRY_PREFIXES: Final = _country_code_prefixes()


def _valid_for_country(country_code: int, national: str) -> bool:
    """Replay is_valid_number (region_code_for_number + is_valid_number_for_region)."""
    for region in _COUNTRY_REGIONS[country_code]:
        candidate = _plan(region)
        if candidate is None:
            continue
        if candidate.leading_digits is not None:
            if candidate.leading_digits.match(national) is None:
                continue
            return candidate.country_code == country_code and candidate.is_valid(national)
        if candidate.is_valid(national):
            return candidate.country_code == country_code
    return False


def _unpack_plus_and_extension(text: str) -> tuple[bytes, bool, str | None] | None:
    """Split off a simple extension and a leading "+", or return None for other shapes.

    Returns the digits packed without separators, whether a "+" led them, and
    the extension's digits.
    """
    split = _WITH_EXTENSION.fullmatch(text)
    if split is None:
        return None
    number_part, extension = split.group(1, 2)
    packed = number_part.encode().translate(None, _SEPARATORS)
    plus = packed[:1] == b"+"
    if plus:
        packed = packed[1:]
    if not packed.isdigit():
        return None
    return packed, plus, extension


def _phone_fast(
    text: str, home: _RegionPlan | None, region: str | None
) -> PhoneResult | str | None:
    """Decide a common-shaped number, or return None to leave it to the slow path.

    Handles ASCII digits with an optional leading ``+``, the separators in
    _SEPARATORS and an optional simple extension. A number that phonenumbers
    would parse is decided here: its ``(e164, extension)``, or -- when
    is_valid_number would reject it -- the slow path's reason, as a string.
    Anything else (parse errors included) is left to the slow path, so results
    and messages are the slow path's.
    """
    if len(text) > _MAX_INPUT_LENGTH or not text.isascii():
        return None
    # _extract_possible_number drops separators before a leading "+" too.
    packed = text.encode().translate(None, _SEPARATORS)
    extension = None
    plus = False
    if packed.isdigit():
        pass
    elif packed[:1] == b"+" and packed[1:].isdigit():
        plus = True
        packed = packed[1:]
    else:
        unpacked = _unpack_plus_and_extension(text)
        if unpacked is None:
            return None
        packed, plus, extension = unpacked
    # Three digits make the text "viable" (_is_viable_phone_number) whatever
    # separators surround them.
    if len(packed) < _MIN_VIABLE_DIGITS:
        return None
    digits = packed.decode()
    if plus:
        return _phone_international(digits, region, extension)
    if home is None:
        return None
    for shortcut in home.national_shortcuts.get(len(digits), ()):
        match = shortcut.fullmatch(digits)
        if match is not None:
            return "+" + home.country_code_text + match["national"], extension
    _count_replay(home, len(digits), national=True)
    return _phone_national(digits, home, region, extension)


def _phone_international(
    digits: str, region: str | None, extension: str | None
) -> PhoneResult | str | None:
    """Decide digits that follow "+" or an IDD prefix: a country code, then the number."""
    entry = _COUNTRY_PREFIXES.get(digits[:3])
    if entry is None:
        return None
    country_code, code_size = entry
    main = _MAIN_PLANS.get(country_code) or _main_plan(country_code)
    if main is None:
        return None
    national = digits[code_size:]
    for shortcut in main.international_shortcuts.get(len(national), ()):
        match = shortcut.fullmatch(national)
        if match is not None:
            return "+" + main.country_code_text + match["national"], extension
    _count_replay(main, len(national), national=False)
    return _phone_replayed(country_code, national, main, region, extension)


def _phone_national(
    digits: str, home: _RegionPlan, region: str | None, extension: str | None
) -> PhoneResult | str | None:
    """Replay _maybe_extract_country_code for digits written without "+".

    The country code comes after the home region's IDD prefix, or is the home
    region's own code written without "+", or is the home region's.
    """
    idd = home.international_prefix
    match = None if idd is None else idd.match(digits)
    if match is not None and digits[match.end() : match.end() + 1] != "0":
        international = digits[match.end() :]
        if len(international) <= _MIN_NSN_LENGTH:
            return None
        return _phone_international(international, region, extension)
    if digits.startswith(home.country_code_text):
        potential = home.strip_national_prefix(digits[len(home.country_code_text) :])
        if potential is None:
            return None
        if (
            home.general.fullmatch(digits) is None and home.general.fullmatch(potential) is not None
        ) or home.length_result(len(digits)) == _TOO_LONG:
            main = _main_plan(home.country_code)
            if main is None:
                return None
            # parse() then strips a national prefix again.
            return _phone_replayed(home.country_code, potential, main, region, extension)
    return _phone_replayed(home.country_code, digits, home, region, extension)


def _phone_replayed(
    country_code: int,
    national: str,
    plan: _RegionPlan,
    region: str | None,
    extension: str | None,
) -> PhoneResult | str | None:
    """Finish parse() and is_valid_number once the country code is known.

    ``plan`` holds the rules parse() applies: the main region's for a number
    with a country code, the home region's for one without.
    """
    # parse(): strip the national prefix when what is left has a possible length.
    if len(national) < _MIN_NSN_LENGTH:
        return None
    prefix = plan.national_prefix
    if prefix is not None and prefix.match(national) is not None:
        potential = plan.strip_national_prefix(national)
        if potential is None:
            return None
        if plan.length_result(len(potential)) in (_IS_POSSIBLE, _TOO_LONG):
            national = potential
    # Leading zeros ("Italian" numbers) and out-of-range lengths go the slow way.
    size = len(national)
    if size > _MAX_NSN_LENGTH or size < _MIN_NSN_LENGTH or national[0] == "0":
        return None
    # is_valid_number, which for a code shared by several regions first picks
    # the number's region.
    if plan.only_region:
        valid = plan.is_valid(national)
    else:
        valid = _valid_for_country(country_code, national)
    if not valid:
        # is_possible_number_with_reason reads the main region's lengths.
        main = plan if plan.only_region else _main_plan(country_code)
        if main is None:
            return None
        return _invalid_number_reason(country_code, main.length_result(size), region)
    # plan is a region of country_code, so its text is str(country_code).
    return "+" + plan.country_code_text + national, extension


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
