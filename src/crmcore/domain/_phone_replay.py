"""The phone fast path: phonenumbers' parsing and validation, replayed (private).

:func:`crmcore.domain.normalize.normalize_phone` and ``normalize_phones`` call
:func:`phone_fast` first. It decides the common shapes of a number (ASCII
digits with separators, national form with the trunk prefix, international
form with ``+`` or the region's IDD prefix, a simple extension) by replaying
what ``phonenumbers.parse`` followed by ``is_valid_number`` do, with rules
compiled once per region from phonenumbers' own metadata; anything it cannot
decide exactly it leaves to phonenumbers itself.

This replays phonenumbers' *private* logic (``_maybe_extract_country_code``,
``_maybe_strip_national_prefix_carrier_code``, ``_test_number_length``,
``_number_type_helper``, ``region_code_for_number`` and a few constants), which
may change in any release without notice. It was written against and checked
with phonenumbers 9.0.43. The project's dependency is therefore capped below
the next major release (see ``pyproject.toml``), and the identity property
tests in ``tests/property/test_fast_normalisation.py`` (fast result ==
phonenumbers' own result, errors included) must pass before the cap is
raised. Everything here is private to :mod:`crmcore.domain.normalize`.

Compiled region rules are cached in module-level dictionaries, filled on
first use. Concurrent first uses may build a plan twice, which is harmless.

May import: the standard library and ``phonenumbers``; nothing else.
"""

from __future__ import annotations

import re
from typing import Final

import phonenumbers

__all__ = [
    "SHORTCUTS_AFTER",
    "PhoneResult",
    "RegionPlan",
    "invalid_number_reason",
    "phone_fast",
    "region_plan",
]

PhoneResult = tuple[str, str | None]
"""``(e164, extension_or_None)``."""


# ---------------------------------------------------------------------------
# Reasons, shared with the slow path
# ---------------------------------------------------------------------------

_POSSIBILITY_REASONS: Final[dict[int, str]] = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short for {where}",
    phonenumbers.ValidationResult.TOO_LONG: "too long for {where}",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong number of digits for {where}",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: (
        "too short for {where} (is the area code missing?)"
    ),
}


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


def invalid_number_reason(country_code: int, possibility: int, region: str | None) -> str:
    """Explain why a parsed number is not valid, from is_possible_number_with_reason."""
    if possibility == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return f"unknown country calling code +{country_code}"
    template = _POSSIBILITY_REASONS.get(possibility, "not a valid number for {where}")
    return template.format(where=_place_of(country_code, region))


# ---------------------------------------------------------------------------
# The replay, compiled from phonenumbers' own metadata
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


class RegionPlan:
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
    plan: RegionPlan, main: RegionPlan, length: int, *, national: bool, trunk: bool
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


_PLANS: dict[str, RegionPlan | None] = {}
_MAIN_PLANS: dict[int, RegionPlan | None] = {}


def region_plan(region: str) -> RegionPlan | None:
    """Return the compiled plan of a region (built on first use, then cached)."""
    try:
        return _PLANS[region]
    except KeyError:
        pass
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    plan = None if metadata is None else RegionPlan(metadata)
    _PLANS[region] = plan
    return plan


SHORTCUTS_AFTER = 20_000
"""General replays of one region, form and length before their shortcuts are compiled.

A shortcut saves about 0.5 µs a number but costs several milliseconds to
compile (Python's regex parser is slow on phonenumbers' large patterns), so
it pays off only for a form and length seen in bulk: the 11-digit mobiles of
a 100,000-row Chinese file, not the dozen rarer forms beside them (counted
one-shot: 10k rows compile nothing, 100k and 1M rows their main forms and
run fastest). Tests lower it to exercise shortcuts."""


def _count_replay(plan: RegionPlan, length: int, *, national: bool) -> None:
    """Count a general replay; past the threshold for its form and length, compile shortcuts.

    Compiling waits until a region is used in bulk (see ``SHORTCUTS_AFTER``),
    so that a small batch does not pay for it.
    """
    shortcuts = plan.national_shortcuts if national else plan.international_shortcuts
    if length in shortcuts:
        return
    key = (national, length)
    count = plan.replays.get(key, 0) + 1
    plan.replays[key] = count
    if count < SHORTCUTS_AFTER:
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


def _main_plan(country_code: int) -> RegionPlan | None:
    """Return the plan of a country code's main region; None for non-geographic codes."""
    try:
        return _MAIN_PLANS[country_code]
    except KeyError:
        pass
    main = _COUNTRY_REGIONS[country_code][0]
    plan = None if main == _NON_GEO else region_plan(main)
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
        candidate = region_plan(region)
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


def phone_fast(text: str, home: RegionPlan | None, region: str | None) -> PhoneResult | str | None:
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
    digits: str, home: RegionPlan, region: str | None, extension: str | None
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
    plan: RegionPlan,
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
        return invalid_number_reason(country_code, main.length_result(size), region)
    # plan is a region of country_code, so its text is str(country_code).
    return "+" + plan.country_code_text + national, extension
