"""The fast normalisation paths give exactly the slow (reference) paths' results.

These are the identity tests guarding the phone replay
(``crmcore.domain._phone_replay``), which re-implements private logic of
phonenumbers: checked with phonenumbers 9.0.43 (email-validator 2.x for the
email replay). pyproject.toml caps phonenumbers below its next major release;
run these with the new release installed (``HYPOTHESIS_PROFILE=exhaustive``)
and see them pass before raising the cap.

"Exactly" means the same value, or an InvalidValueError with the same field,
value and reason. Inputs are realistic numbers built from phonenumbers' own
patterns and written every way people write them, plus garbage; addresses are
random dot-atoms on random host names, special-use and long labels included,
plus arbitrary unicode.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator

import email_validator
import phonenumbers
import pytest
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from hypothesis import assume, given
from hypothesis import strategies as st

from crmcore.domain import _phone_replay
from crmcore.domain.normalize import (
    normalize_email,
    normalize_email_slow,
    normalize_emails,
    normalize_phone,
    normalize_phone_slow,
    normalize_phones,
)
from crmcore.errors import InvalidValueError

Outcome = object


def outcome(function: Callable[..., object], *args: object) -> Outcome:
    """Return what a call produced: its value, or the parts of its InvalidValueError."""
    try:
        return function(*args)
    except InvalidValueError as exc:
        return ("InvalidValueError", exc.field, exc.value, exc.reason)


def is_error(result: Outcome) -> bool:
    return isinstance(result, tuple) and result[0] == "InvalidValueError"


def bulk_outcome(result: object) -> Outcome:
    if isinstance(result, InvalidValueError):
        return ("InvalidValueError", result.field, result.value, result.reason)
    return result


# ---------------------------------------------------------------------------
# Phone strategies
# ---------------------------------------------------------------------------

MAIN_REGIONS = ("CN", "US", "GB", "DE", "JP")
# The IDD each main region dials abroad with (CN also has carrier-select IDDs).
IDD = {"CN": ("00", "17900"), "US": ("011",), "GB": ("00",), "DE": ("00",), "JP": ("010",)}
TYPES = ("mobile", "fixed_line", "toll_free", "premium_rate", "voip", "uan", "personal_number")
SEPARATORS = (" ", " ", "-", ".", "/", "", "  ")


def metadata_of(region: str) -> phonenumbers.PhoneMetadata:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    return metadata


def national_patterns(region: str) -> list[str]:
    metadata = metadata_of(region)
    patterns = []
    for name in TYPES:
        desc = getattr(metadata, name)
        if desc is not None and desc.national_number_pattern:
            patterns.append(desc.national_number_pattern)
    return patterns


@st.composite
def significant_numbers(draw: st.DrawFn, region: str) -> str:
    """Draw a national significant number of the region, valid or nearly so."""
    pattern = draw(st.sampled_from(national_patterns(region)))
    number = draw(st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True))
    mutation = draw(st.sampled_from(("none", "none", "none", "drop", "add", "change")))
    digits = list(number)
    position = draw(st.integers(0, max(len(digits) - 1, 0)))
    digit = draw(st.sampled_from(string.digits))
    if mutation == "drop" and len(digits) > 1:
        del digits[position]
    elif mutation == "add":
        digits.insert(position, digit)
    elif mutation == "change" and digits:
        digits[position] = digit
    return "".join(digits)


@st.composite
def grouped(draw: st.DrawFn, digits: str) -> str:
    """Split digits into groups joined by one separator, maybe a group in parentheses."""
    if not digits:
        return digits
    cuts = sorted(draw(st.sets(st.integers(1, max(len(digits) - 1, 1)), max_size=4)))
    groups = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    groups = [group for group in groups if group]
    separator = draw(st.sampled_from(SEPARATORS))
    if len(groups) > 1 and draw(st.booleans()):
        groups[0] = f"({groups[0]})"
        return groups[0] + " " + separator.join(groups[1:])
    return separator.join(groups)


@st.composite
def written_phones(draw: st.DrawFn) -> tuple[str, str | None]:
    """Draw ``(raw, region)``: a number of a main region, written some realistic way."""
    region = draw(st.sampled_from(MAIN_REGIONS))
    metadata = metadata_of(region)
    code = str(metadata.country_code)
    trunk = metadata.national_prefix or ""
    nsn = draw(significant_numbers(region))
    dialled_from: str | None = draw(st.sampled_from((*MAIN_REGIONS, None)))
    parse_region: str | None
    form = draw(
        st.sampled_from(("national", "plus", "plus-trunk", "idd", "bare-code", "plus-spaced"))
    )
    if form == "national" or (form == "idd" and dialled_from is None):
        raw, parse_region = draw(grouped(trunk + nsn)), region
    elif form == "plus":
        raw, parse_region = "+" + code + draw(grouped(nsn)), dialled_from
    elif form == "plus-spaced":
        raw, parse_region = f"+{code} {draw(grouped(nsn))}", dialled_from
    elif form == "plus-trunk":
        raw, parse_region = f"+{code} ({trunk}){draw(grouped(nsn))}", dialled_from
    elif form == "idd":
        assert dialled_from is not None
        idd = draw(st.sampled_from(IDD[dialled_from]))
        raw, parse_region = f"{idd} {code} {draw(grouped(nsn))}", dialled_from
    else:
        raw, parse_region = code + draw(grouped(nsn)), region
    if draw(st.integers(0, 5)) == 0:
        label = draw(st.sampled_from((" ext. ", " ext ", "ext", " x", "x", " X ", ";ext=", " #")))
        raw += label + draw(st.text(string.digits, min_size=1, max_size=10))
    if draw(st.integers(0, 5)) == 0:
        raw = draw(st.sampled_from((" ", "\t", "(", "-"))) + raw + draw(st.sampled_from(("", " ")))
    if parse_region is not None and draw(st.booleans()):
        parse_region = parse_region.lower()
    return raw, parse_region


@pytest.fixture(autouse=True, scope="module")
def _eager_shortcuts() -> Iterator[None]:
    """Compile phone shortcuts after one replay, so these tests exercise them too."""
    before = _phone_replay.SHORTCUTS_AFTER
    _phone_replay.SHORTCUTS_AFTER = 1
    yield
    _phone_replay.SHORTCUTS_AFTER = before


@st.composite
def world_phones(draw: st.DrawFn) -> tuple[str, str | None]:
    """Draw ``(raw, region)`` for any region or non-geographic code, national or +."""
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    if draw(st.integers(0, 9)) == 0:
        code = draw(st.sampled_from(sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)))
        nongeo = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(code)
        assert nongeo is not None
        metadata = nongeo
    else:
        metadata = metadata_of(region)
    patterns: list[str] = [
        desc.national_number_pattern
        for desc in (getattr(metadata, name) for name in TYPES)
        if desc is not None and desc.national_number_pattern
    ]
    if not patterns:
        assert metadata.general_desc is not None
        assert metadata.general_desc.national_number_pattern is not None
        patterns = [metadata.general_desc.national_number_pattern]
    pattern = draw(st.sampled_from(patterns))
    nsn = draw(st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True))
    form = draw(st.sampled_from(("national", "plus", "bare-code")))
    if form == "national":
        return draw(grouped((metadata.national_prefix or "") + nsn)), region
    if form == "plus":
        dialled_from = draw(st.sampled_from((region, None)))
        return f"+{metadata.country_code} {draw(grouped(nsn))}", dialled_from
    return str(metadata.country_code) + nsn, region


any_region = st.one_of(
    st.none(),
    st.sampled_from(MAIN_REGIONS),
    st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)),
    st.text(string.ascii_letters, min_size=0, max_size=3),
)
phone_like_text = st.text(alphabet="0123456789 +-().x/#;ext*,", max_size=30)


@given(written_phones())
def test_fast_phone_equals_slow_for_realistic_numbers(case: tuple[str, str | None]) -> None:
    """Fast path == phonenumbers 9.0.43 on numbers of the main regions, written every way."""
    raw, region = case
    assert outcome(normalize_phone, raw, region) == outcome(normalize_phone_slow, raw, region)


@given(world_phones())
def test_fast_phone_equals_slow_for_numbers_of_every_region(
    case: tuple[str, str | None],
) -> None:
    """Fast path == phonenumbers 9.0.43 on numbers of every region and non-geographic code."""
    raw, region = case
    assert outcome(normalize_phone, raw, region) == outcome(normalize_phone_slow, raw, region)


@given(st.text(string.digits, min_size=0, max_size=20), any_region, st.booleans())
def test_fast_phone_equals_slow_for_random_digit_strings(
    digits: str, region: str | None, plus: bool
) -> None:
    """Fast path == phonenumbers 9.0.43 on random digit strings, with and without +."""
    raw = ("+" if plus else "") + digits
    assert outcome(normalize_phone, raw, region) == outcome(normalize_phone_slow, raw, region)


@given(phone_like_text, any_region)
def test_fast_phone_equals_slow_for_phone_like_garbage(raw: str, region: str | None) -> None:
    """Fast path == phonenumbers 9.0.43 on phone-like garbage."""
    assert outcome(normalize_phone, raw, region) == outcome(normalize_phone_slow, raw, region)


@given(st.text(max_size=40), any_region)
def test_fast_phone_equals_slow_for_arbitrary_text(raw: str, region: str | None) -> None:
    """Fast path == phonenumbers 9.0.43 on arbitrary text."""
    assert outcome(normalize_phone, raw, region) == outcome(normalize_phone_slow, raw, region)


@given(st.lists(written_phones(), max_size=8), st.sampled_from((*MAIN_REGIONS, None)))
def test_bulk_phones_give_each_single_result_in_order(
    cases: list[tuple[str, str | None]], region: str | None
) -> None:
    raws = [raw for raw, _ in cases]
    expected = [outcome(normalize_phone_slow, raw, region) for raw in raws]
    actual = [bulk_outcome(result) for result in normalize_phones(raws, region)]
    assert actual == expected


@given(written_phones())
def test_phone_normalisation_is_idempotent(case: tuple[str, str | None]) -> None:
    raw, region = case
    result = outcome(normalize_phone, raw, region)
    assume(not is_error(result))
    e164, extension = normalize_phone(raw, region)
    again = e164 + (f";ext={extension}" if extension else "")
    assert normalize_phone(again) == (e164, extension)


@given(st.one_of(written_phones(), st.tuples(phone_like_text, any_region)))
def test_a_rejected_phone_raises_invalid_value_error_naming_the_field(
    case: tuple[str, str | None],
) -> None:
    raw, region = case
    result = outcome(normalize_phone, raw, region)
    if is_error(result):
        assert isinstance(result, tuple)
        assert result[1:3] == ("phone", raw)
        assert result[3]


# ---------------------------------------------------------------------------
# Email strategies
# ---------------------------------------------------------------------------

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
SPECIAL_USE = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)
TLDS = ("com", "org", "cn", "de", "jp", "co.uk", "COM", "Io", "x1", "1x", "museum", "a")


def case_variants(word: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
    )


local_parts = st.one_of(
    st.text(ATEXT, min_size=1, max_size=20),
    st.lists(st.text(ATEXT, min_size=1, max_size=12), min_size=1, max_size=4).map(".".join),
    st.text(ATEXT + ".", min_size=0, max_size=20),
    st.sampled_from(CASE_INSENSITIVE_MAILBOX_NAMES).flatmap(case_variants),
    st.text(ATEXT, min_size=60, max_size=90),
    st.text(max_size=10),
)
labels = st.one_of(
    st.text(string.ascii_letters + string.digits + "-", min_size=0, max_size=12),
    st.text(string.ascii_lowercase, min_size=60, max_size=66),
    st.sampled_from(("xn--mnchen-3ya", "ab--cd", "xn--", "-a", "a-", "EXAMPLE", "mail")),
)
domains = st.one_of(
    st.tuples(st.lists(labels, min_size=1, max_size=3), st.sampled_from(TLDS)).map(
        lambda parts: ".".join([*parts[0], parts[1]])
    ),
    st.tuples(st.lists(labels, min_size=0, max_size=2), st.sampled_from(SPECIAL_USE)).map(
        lambda parts: ".".join([*parts[0], parts[1]])
    ),
    st.lists(labels, min_size=1, max_size=5).map(".".join),
    st.text(max_size=12),
)


dot_atoms = st.lists(st.text(ATEXT, min_size=1, max_size=12), min_size=1, max_size=3).map(".".join)
host_labels = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,14}[a-zA-Z0-9])?", fullmatch=True)
host_names = st.tuples(st.lists(host_labels, min_size=1, max_size=3), st.sampled_from(TLDS)).map(
    lambda parts: ".".join([*parts[0], parts[1]])
)


@st.composite
def written_emails(draw: st.DrawFn) -> str:
    """Draw an address: a plausible one two times in three, else a noisy one."""
    if draw(st.integers(0, 2)):
        address = f"{draw(dot_atoms)}@{draw(host_names)}"
    else:
        address = f"{draw(local_parts)}@{draw(domains)}"
    if draw(st.integers(0, 7)) == 0:
        address = draw(st.sampled_from((" ", "\t", "\n"))) + address + " "
    if draw(st.integers(0, 9)) == 0:
        address = draw(st.sampled_from(("@", '"', "<", "..", "[", " ", "é"))).join(
            address.split("@", 1)
        )
    return address


@st.composite
def long_emails(draw: st.DrawFn) -> str:
    """Draw an address within a few characters of the 254-character limit."""
    size = draw(st.integers(245, 260))
    local = draw(st.text(ATEXT, min_size=1, max_size=64))
    room = size - len(local) - len("@.com")
    labels_: list[str] = []
    while room > 0:
        label = "a" * min(room, draw(st.integers(1, 64)))
        labels_.append(label)
        room -= len(label) + 1
    return f"{local}@{'.'.join([*labels_, 'com'])}"


@given(written_emails())
def test_fast_email_equals_slow_for_generated_addresses(raw: str) -> None:
    assert outcome(normalize_email, raw) == outcome(normalize_email_slow, raw)


@given(st.emails())
def test_fast_email_equals_slow_for_hypothesis_emails(raw: str) -> None:
    assert outcome(normalize_email, raw) == outcome(normalize_email_slow, raw)


@given(long_emails())
def test_fast_email_equals_slow_near_the_length_limit(raw: str) -> None:
    assert outcome(normalize_email, raw) == outcome(normalize_email_slow, raw)


@given(st.text(max_size=40))
def test_fast_email_equals_slow_for_arbitrary_text(raw: str) -> None:
    assert outcome(normalize_email, raw) == outcome(normalize_email_slow, raw)


@given(st.lists(written_emails(), max_size=8))
def test_bulk_emails_give_each_single_result_in_order(raws: list[str]) -> None:
    expected = [outcome(normalize_email_slow, raw) for raw in raws]
    actual = [bulk_outcome(result) for result in normalize_emails(raws)]
    assert actual == expected


@given(st.one_of(written_emails(), st.emails()))
def test_email_normalisation_is_idempotent(raw: str) -> None:
    assume(not is_error(outcome(normalize_email, raw)))
    once = normalize_email(raw)
    assert normalize_email(once) == once


@given(written_emails())
def test_a_rejected_email_raises_invalid_value_error_naming_the_field(raw: str) -> None:
    result = outcome(normalize_email, raw)
    if is_error(result):
        assert isinstance(result, tuple)
        assert result[1:3] == ("email", raw)
        assert result[3]
