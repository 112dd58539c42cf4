"""Fellegi–Sunter scoring: m/u probabilities, EM estimation, explained scores.

A :class:`MatchModel` holds, for every comparison level, the probability of
seeing it among matching pairs (*m*) and among non-matching pairs (*u*); a
pair's match weight is the prior's log-odds plus ``log2(m/u)`` of each of
its levels (exact matches on common values — the name 张伟 — weigh less:
term-frequency adjustment). *u* is estimated from random pairs and value
frequencies, *m* and the prior by expectation–maximisation over the blocked
pairs: no labels needed. :class:`DeterministicRule` (same email and same
name) marks a pair a match whatever its weight. Every scored pair carries
its per-comparison :class:`Contribution` — the explanation.

May import: ``crmcore.matching``, ``crmcore.errors``; attrs, numpy.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple, Self, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import JaroWinkler, Levenshtein

from crmcore.errors import ConfigurationError
from crmcore.matching.comparison import (
    CompanyComparison,
    Comparison,
    DateOfBirthComparison,
    ExactMatch,
    LevenshteinAtThresholds,
    MailboxComparison,
    NameComparison,
    PhoneComparison,
    TokenSetAtThresholds,
    english_name_reading,
    is_role_mailbox,
    name_cut_short,
    numbered_mailboxes,
)
from crmcore.matching.feature import FeatureTable

__all__ = [
    "CONTACT_COLUMNS",
    "CONTRADICTIONS",
    "DEFAULT_COMPARISONS",
    "DEFAULT_OVERLAPS",
    "DEFAULT_RULES",
    "SHARED_HOLDERS",
    "ComparisonWeights",
    "Contribution",
    "DeterministicRule",
    "MatchModel",
    "Overlap",
    "ScoredPair",
    "compare_pairs",
    "comparison_columns",
    "contact_holders",
    "distinct_names",
    "estimate_model",
    "estimate_u",
    "other_work_domains",
    "probability_of",
    "weight_of",
    "work_domain",
]

LevelMatrix: TypeAlias = npt.NDArray[np.int8]
Floats: TypeAlias = npt.NDArray[np.float64]
Rows: TypeAlias = npt.NDArray[np.int64]

DEFAULT_COMPARISONS: Final[tuple[Comparison, ...]] = (
    NameComparison(english_name=True),
    MailboxComparison(),
    PhoneComparison(),
    CompanyComparison(within="country"),
    ExactMatch("city", term_frequency=True, within="country"),
    LevenshteinAtThresholds("postcode", (1,)),
    DateOfBirthComparison(),
    TokenSetAtThresholds("address", (0.9, 0.7)),
    LevenshteinAtThresholds("national_id", (1, 2), name="national_id"),
)
"""Name, email, phone, company, city, postcode, birth date, street address, national id."""

# m and u estimated without labels on 100,000 sample rows (seed 20240601) and FEBRL3;
# email's last two levels split its old "another mailbox" by the share of same-domain
# pairs among random pairs (0.03), the same-domain level kept no stronger than the other.
_TRAINED: Final[dict[str, tuple[Sequence[float], Sequence[float]]]] = {
    "name": (
        (0.9356, 0.000572, 0.00017, 0.0477, 0.0105, 0.0011, 0.00438),
        (6.5e-05, 0.000245, 0.000175, 0.000215, 0.00693, 0.0002, 0.9918),
    ),
    "email": (
        (0.72895, 0.026598, 0.00010844, 0.23734, 0.007),
        (9.57e-06, 6.8e-06, 6.8e-06, 0.97, 0.03),
    ),
    "phone": ((0.85641, 0.03225, 0.11133), (1.28e-05, 3.28e-06, 1.0)),
    "company": ((0.84834, 0.08736, 0.03381, 0.0305), (0.00186, 0.00235, 0.000847, 0.995)),
    "city": ((0.99903, 0.00097), (0.0414, 0.959)),
    "postcode": ((0.9557, 0.00996, 0.03434), (0.0004, 0.0057, 0.994)),
    "birth_date": ((0.90173, 0.05039, 0.04788), (6.93e-05, 0.0055, 0.994)),
    "address": ((0.173, 0.536, 0.193, 0.098), (0.0001, 0.00051, 0.00089, 0.9985)),
    "national_id": ((0.85, 0.08, 0.004, 0.067), (0.00045, 5e-05, 0.00022, 0.99929)),
}
_TRAINED_PRIOR: Final = 1.4e-5
_TRAINED_WITHOUT_ENGLISH_NAME: Final = (
    (0.9356, 0.000572, 0.00017, 0.0477, 0.0105, 0.00548),
    (6.5e-05, 0.000245, 0.000175, 0.000215, 0.00693, 0.992),
)
"""The name's m and u without its English-name level (``NameComparison()``)."""

_TF_CLIP: Final = (-12.0, 6.0)
_WEIGHT_BOUND: Final = 14.0
_TF_MIN_RECORDS: Final = 1_000  # below this, value frequencies say nothing
_MIN_PROBABILITY: Final = 1e-9
_COMPANY_AGREES: Final = (1, 2)  # a company's exact and same-core-name levels
CONTACT_COLUMNS: Final = frozenset({"email", "phone"})
"""Columns whose exact match weighs nothing when several different names share the value."""
SHARED_HOLDERS: Final = 3
"""A contact point that records of this many different names hold is shared (a switchboard)."""
_SHARED_HOLDERS: Final = SHARED_HOLDERS
_SHARED_TWICE: Final = 2  # ... or two, when the pair holding it are those two names


def _multi(table: FeatureTable, column: str) -> Mapping[int, tuple[str, ...]]:
    return table.emails if column == "email" else table.phones


_SAME_NAME: Final = 0.86
"""Holders' names this alike (Jaro-Winkler, either order) are one person's name twice."""


def _alike(one: tuple[str, str], other: tuple[str, str]) -> bool:
    """Tell whether two names (family-first, given-first keys) are one person's name twice.

    Alike in any one reading (family-first, given-first, or either crossed one):
    a typo, a shortened double surname, a nickname's longer form and the two name
    orders all stay one holder. So do two siblings alike family-first only, where
    Jaro-Winkler rewards the shared family name (``houguizi`` / ``houqianzi``):
    asking for both straight readings or both crossed ones to be alike tells
    those apart, but was measured to split more of one person's names than it
    keeps siblings apart (``docs/matching.md``, "What the default model assumes").

    >>> _alike(("houguizi", "guizihou"), ("houqianzi", "qianzihou"))
    True
    >>> _alike(("leeann", "annlee"), ("phillipschristopher", "christopherphillips"))
    False
    """
    (ff, gf), (off, ogf) = one, other
    jw = JaroWinkler.normalized_similarity
    if max(jw(ff, off), jw(gf, ogf), jw(ff, ogf), jw(gf, off)) >= _SAME_NAME:
        return True
    return name_cut_short(one, other)


def distinct_names(names: Iterable[tuple[str, str]], *, limit: int | None = None) -> int:
    """Count the different people among a contact point's holders, by their names.

    Names are ``(family-first, given-first)`` name keys. One person's name
    written two ways — a typo (Philllips), ``ue`` for ``ü``, the two name
    orders — is one holder: names alike at Jaro-Winkler ≥ 0.86 (the name
    comparison's weakest agreeing level) in any one reading, family-first,
    given-first or crossed, are grouped (see :func:`_alike`). A record
    without a name counts as one more holder. With ``limit``, counting stops there
    (an online lookup only needs to know whether a value is shared).

    >>> distinct_names([("phillipschristopher", "christopherphillips"),
    ...                 ("philllipschristopher", "christopherphilllips"),
    ...                 ("leeann", "annlee")])
    2
    """
    found: list[tuple[str, str]] = []
    nameless = 0
    for family_first, given_first in sorted(set(names)):
        if not family_first and not given_first:
            nameless = 1
            continue
        if not any(_alike((family_first, given_first), name) for name in found):
            found.append((family_first, given_first))
            if limit is not None and len(found) + nameless >= limit:
                break
    return len(found) + nameless


def contact_holders(table: FeatureTable, column: str) -> dict[str, int]:
    """Return, for every email or phone in ``table``, how many different people hold it.

    Every value of every record counts (a switchboard is often a record's
    second number); records without a name count as one more name, and one
    person's name written two ways counts once (see :func:`distinct_names`).

    Args:
        table: The records' keys.
        column: ``"email"`` or ``"phone"``.

    Returns:
        Value → number of different names among its holders.
    """
    values = table.values[column]
    ff, gf = table.values["name_ff"], table.values["name_gf"]
    codes = table.codes[column].astype(np.int64)
    rows = np.flatnonzero(codes >= 0)
    value_codes = codes[rows]
    _, first = np.unique(value_codes, return_index=True)
    texts: dict[int, str] = dict(
        zip(value_codes[first].tolist(), values[rows[first]].tolist(), strict=True)
    )
    extra = _multi(table, column)
    if extra:
        # Every value of every record: a value only a second value shows gets a new code.
        code_of = {text: code for code, text in texts.items()}
        unseen = int(codes.max(initial=0)) + 1  # past every code: no clash with a new one
        more_rows: list[int] = []
        more_codes: list[int] = []
        for row, held_values in extra.items():
            for value in held_values:
                code = code_of.setdefault(value, unseen + len(code_of))
                texts.setdefault(code, value)
                more_rows.append(row)
                more_codes.append(code)
        rows = np.r_[rows, np.array(more_rows, dtype=np.int64)]
        value_codes = np.r_[value_codes, np.array(more_codes, dtype=np.int64)]
    if not len(rows):
        return {}
    # One entry per value and name (names coded by their two keys), then per value
    # the number of names; only a value of several names reads them as text.
    ff_codes = table.codes["name_ff"].astype(np.int64)[rows]
    gf_codes = table.codes["name_gf"].astype(np.int64)[rows]
    width = int(gf_codes.max(initial=-1)) + 2
    _, name = np.unique(ff_codes * width + gf_codes + 1, return_inverse=True)
    name = name.reshape(-1)
    names = int(name.max(initial=0)) + 1
    entries, at = np.unique(value_codes * names + name, return_index=True)
    owner = entries // names
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    sizes = np.diff(np.r_[starts, len(owner)])
    counts = sizes.tolist()
    for k in np.flatnonzero(sizes >= 2).tolist():  # two names or more
        held = rows[at[starts[k] : starts[k] + sizes[k]]].tolist()
        counts[k] = distinct_names([(ff[r], gf[r]) for r in held])
    return dict(zip(map(texts.__getitem__, owner[starts].tolist()), counts, strict=True))


def _one_person(ff: npt.NDArray[np.object_], gf: npt.NDArray[np.object_], a: int, b: int) -> bool:
    """Tell whether rows ``a`` and ``b``'s names can be one person's: alike, or 王伟 and David Wang.

    A Chinese name and an English given name of the same family name holding one
    mailbox or number that no one else holds are one professional, not a household
    (whose members' names are both Chinese, or both English).
    """
    one, other = (str(ff[a]), str(gf[a])), (str(ff[b]), str(gf[b]))
    return _alike(one, other) or english_name_reading(one, other)


def _shared_contact(
    table: FeatureTable,
    column: str,
    left: Rows,
    right: Rows,
    holders: Mapping[str, int],
) -> npt.NDArray[np.bool_]:
    """Tell, per pair sharing a value of ``column``, whether every value it shares is shared.

    A value is shared when several different names hold it (a switchboard),
    or, for emails, when it is a role mailbox (``info@``, ``sales@``: see
    :data:`~crmcore.matching.comparison.ROLE_MAILBOXES`), which names a
    function, not a person, however few of its holders the data shows. A pair
    of two different names (see :func:`distinct_names`) sharing a value that
    only they hold shares it too: two names, two people (a household's phone).
    A pair that also shares a number only one name holds (a mobile) is not a
    switchboard pair.
    """
    values = table.values[column]
    extra = _multi(table, column)
    ff, gf = table.values["name_ff"], table.values["name_gf"]
    roles = column == "email"
    out = np.zeros(len(left), dtype=bool)
    several = np.zeros(len(table), dtype=bool)
    several[np.fromiter(extra, dtype=np.int64, count=len(extra))] = True
    codes = table.codes[column]
    # A pair of records holding one value each shares it when their codes are equal:
    # shared whatever the names when many names hold it (or it is a role mailbox),
    # never when one name does; only a value two names hold reads the pair's names.
    single = np.flatnonzero(
        ~several[left] & ~several[right] & (codes[left] >= 0) & (codes[left] == codes[right])
    )
    if len(single):
        distinct, first, inverse = np.unique(
            codes[left[single]], return_index=True, return_inverse=True
        )
        held = np.zeros(len(distinct), dtype=np.int64)
        role = np.zeros(len(distinct), dtype=bool)
        for k, value in enumerate(values[left[single[first]]].tolist()):
            held[k] = holders.get(value, 0)
            role[k] = roles and is_role_mailbox(value)
        count, sure = held[inverse.reshape(-1)], role[inverse.reshape(-1)]
        out[single] = sure | (count >= _SHARED_HOLDERS)
        two = single[~sure & (count >= _SHARED_TWICE) & (count < _SHARED_HOLDERS)]
        for k, a, b in zip(two.tolist(), left[two].tolist(), right[two].tolist(), strict=True):
            out[k] = bool((ff[a] or gf[a]) and (ff[b] or gf[b]) and not _one_person(ff, gf, a, b))
    for k in np.flatnonzero(several[left] | several[right]).tolist():
        a, b = int(left[k]), int(right[k])
        mine = extra.get(a) or ((values[a],) if values[a] else ())
        theirs = extra.get(b) or ((values[b],) if values[b] else ())
        common = set(mine) & set(theirs)
        if not common:
            continue
        # Two different names holding one number are two people (a household's
        # phone, two colleagues' switchboard), whoever else holds it.
        least = (
            _SHARED_TWICE
            if (ff[a] or gf[a]) and (ff[b] or gf[b]) and not _one_person(ff, gf, a, b)
            else _SHARED_HOLDERS
        )
        out[k] = all(holders.get(v, 0) >= least or (roles and is_role_mailbox(v)) for v in common)
    return out


_NOT_LETTERS: Final = re.compile(r"[^a-z]")
_WORK_DOMAINS: Final[
    weakref.WeakKeyDictionary[FeatureTable, tuple[dict[int, int], dict[str, int]]]
] = weakref.WeakKeyDictionary()
"""Per table: the work-domain code of the rows asked for so far (-1 for none), and the codes."""


def work_domain(company: str, emails: Iterable[str]) -> str:
    """Return the domain of the record's mailbox named after its company, or ``""``.

    A domain is named after the company when its first label, without digits
    and hyphens, holds the company key or is held in it (``acme.com`` or
    ``acme24.cn`` of Acme, ``oakmontlogistics.com`` of Oakmont Logistics).
    A record with mailboxes at two such domains gives none (which one is
    the organisation's is not known).

    >>> work_domain("oakmontlogistics", ["steve@gmail.com", "s.lee@oakmontlogistics75.com"])
    'oakmontlogistics75.com'
    >>> work_domain("acmewidgets", ["jo@acme.co.uk"]), work_domain("acme", ["jo@gmail.com"])
    ('acme.co.uk', '')
    """
    company = _NOT_LETTERS.sub("", company)
    if len(company) < _MIN_DOMAIN_LETTERS:
        return ""
    found = set()
    for email in emails:
        domain = email.rpartition("@")[2]
        label = _NOT_LETTERS.sub("", domain.split(".", 1)[0])
        if len(label) >= _MIN_DOMAIN_LETTERS and (company in label or label in company):
            found.add(domain)
    return found.pop() if len(found) == 1 else ""


_MIN_DOMAIN_LETTERS: Final = 3
_DIGITS: Final = re.compile(r"[0-9]")


_LETTERED: Final[weakref.WeakKeyDictionary[FeatureTable, npt.NDArray[np.bool_]]] = (
    weakref.WeakKeyDictionary()
)


def _lettered_companies(table: FeatureTable) -> npt.NDArray[np.bool_]:
    """Per company code + 1: whether the company key has enough letters to name a domain."""
    kept = _LETTERED.get(table)
    if kept is not None:
        return kept
    codes = table.codes["company"].astype(np.int64)
    out = np.zeros(int(codes.max(initial=-1)) + 2, dtype=bool)
    present, at = np.unique(codes[codes >= 0], return_index=True)
    holders = np.flatnonzero(codes >= 0)[at]
    values = table.values["company"][holders].tolist()
    out[present + 1] = [len(_NOT_LETTERS.sub("", str(v))) >= _MIN_DOMAIN_LETTERS for v in values]
    _LETTERED[table] = out
    return out


def _work_domains(table: FeatureTable, rows: Rows) -> tuple[Rows, list[str]]:
    """The :func:`work_domain` code of each of ``rows`` (-1 for none), and the domains by code.

    Worked out once per row and kept per table: only the rows of pairs whose
    companies agree are asked for, a small share of a large table.
    """
    kept = _WORK_DOMAINS.get(table)
    if kept is None:
        kept = ({}, {})
        _WORK_DOMAINS[table] = kept
    known, number = kept
    company, email = table.values["company"], table.values["email"]
    company_codes, email_codes = table.codes["company"], table.codes["email"]
    distinct, inverse = np.unique(rows, return_inverse=True)
    codes = np.full(len(distinct), -1, dtype=np.int64)
    # Only a company written in letters can name a domain (a few thousand companies,
    # each looked at once): most rows are settled without a look at their mailboxes.
    named = _lettered_companies(table)
    looked = named[company_codes[distinct] + 1] & (email_codes[distinct] >= 0)
    for k in np.flatnonzero(looked).tolist():
        row = int(distinct[k])
        code = known.get(row)
        if code is None:
            emails = table.emails.get(row) or (str(email[row]),)
            domain = work_domain(str(company[row]), emails)
            code = number.setdefault(domain, len(number)) if domain else -1
            known[row] = code
        codes[k] = code
    return codes[inverse.reshape(-1)], list(number)


def other_work_domains(table: FeatureTable, left: Rows, right: Rows) -> npt.NDArray[np.bool_]:
    """Per pair: whether the two records write to two organisations' domains.

    Both records have a mailbox at a domain named after their company
    (:func:`work_domain`) and the two domains are different: not equal and
    not one edit apart (a typo'd copy, ``acme.con``), unless the edit is a
    digit (``acme24.cn`` and ``acme25.cn`` are two registrations). Two
    companies of one name at two domains are two organisations.
    """
    both, domains = _work_domains(table, np.r_[left, right])
    a, b = both[: len(left)], both[len(left) :]
    out: npt.NDArray[np.bool_] = np.asarray((a >= 0) & (b >= 0) & (a != b), dtype=bool)
    hit = np.flatnonzero(out)
    if not len(hit):
        return out
    pairs = np.unique(np.stack([a[hit], b[hit]], axis=1), axis=0)
    typo = {
        (x, y)
        for x, y in pairs.tolist()
        if Levenshtein.distance(domains[x], domains[y]) == 1
        and _DIGITS.sub("", domains[x]) != _DIGITS.sub("", domains[y])
    }
    if typo:
        out[hit] = [
            (x, y) not in typo for x, y in zip(a[hit].tolist(), b[hit].tolist(), strict=True)
        ]
    return out


def _at_levels(column: LevelMatrix, wanted: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Per pair: whether its level is one of ``wanted`` (a lookup, not a search).

    ``np.isin`` sorts or searches per call, which costs more than the whole
    lookup on the few pairs an online query scores.

    >>> _at_levels(np.array([0, 1, 2, 5], dtype=np.int8), (1, 5)).tolist()
    [False, True, False, True]
    """
    lookup = np.zeros(max(int(column.max(initial=0)), *wanted) + 1, dtype=bool)
    lookup[list(wanted)] = True
    return lookup[column]


def weight_of(probability: float) -> float:
    """Return the match weight (log2 odds) of a match probability.

    >>> weight_of(0.5), round(weight_of(0.8), 3)
    (0.0, 2.0)
    """
    p = min(max(probability, _MIN_PROBABILITY), 1 - _MIN_PROBABILITY)
    return float(math.log2(p / (1 - p)))


def probability_of(weight: float) -> float:
    """Return the match probability of a match weight (log2 odds).

    >>> probability_of(0.0), probability_of(2.0)
    (0.5, 0.8)
    """
    return 1.0 / (1.0 + math.pow(2.0, -weight))


@attrs.frozen
class ComparisonWeights:
    """The m and u probabilities of one comparison's levels 1 … n.

    Attributes:
        name: The comparison's name.
        labels: Level labels, strongest first.
        m: Probability of each level among matches.
        u: Probability of each level among non-matches.
    """

    name: str
    labels: tuple[str, ...]
    m: tuple[float, ...]
    u: tuple[float, ...]

    @property
    def weights(self) -> tuple[float, ...]:
        """``log2(m/u)`` of each level, bounded to ±14 bits."""
        return tuple(
            min(
                max(math.log2(max(m, _MIN_PROBABILITY) / max(u, _MIN_PROBABILITY)), -_WEIGHT_BOUND),
                _WEIGHT_BOUND,
            )
            for m, u in zip(self.m, self.u, strict=True)
        )


def _requires(value: Mapping[str, int]) -> dict[str, int]:
    return {str(k): int(v) for k, v in value.items()}


@attrs.frozen
class DeterministicRule:
    """Declare a pair a match when every named comparison is at or above a level.

    Unless the rest of the evidence outweighs the agreement: a pair whose match
    weight is below 0 (one name and one mailbox, but another phone, another city
    and another birth date: namesakes, one given the other's address) is scored
    by its weight; the rule does not fire.

    Attributes:
        name: Shown in explanations.
        requires: Comparison name → the weakest level accepted (1 = exact).

    >>> DeterministicRule.exact("email", "name").name
    'exact email + name'
    """

    name: str
    requires: Mapping[str, int] = attrs.field(converter=_requires)

    @classmethod
    def exact(cls, *comparisons: str) -> Self:
        """Build a rule requiring an exact match on every named comparison."""
        return cls(f"exact {' + '.join(comparisons)}", dict.fromkeys(comparisons, 1))


CONTRADICTIONS: Final = (("email", "another mailbox at the same domain"),)
"""Comparison levels that say "another person", not "no evidence", when met: two mailboxes
at one domain numbered apart (``wei.han@``, ``wei.han9@``:
:func:`~crmcore.matching.comparison.numbered_mailboxes`), how an organisation tells two
namesakes apart. Other disagreements only lack evidence, or are weighed already: people
keep several mailboxes, phones and employers, an organisation may give one person
``tucker.peter@`` and ``ptucker@``, a birth date or an id may be mistyped (FEBRL3 lost
pairs when those counted), and a Chinese professional's English name is another name."""


DEFAULT_RULES: Final = (
    DeterministicRule.exact("email", "name"),
    DeterministicRule.exact("national_id", "name"),
)
"""Same email and same name; same national id and same name."""


def _default_rules(comparisons: Sequence[Comparison]) -> tuple[DeterministicRule, ...]:
    """The default rules whose comparisons are all among ``comparisons``.

    A model with custom comparisons (no ``email``, say) keeps the default rules it can
    apply instead of failing on the others; rules a caller names are checked strictly.
    """
    names = {c.name for c in comparisons}
    return tuple(rule for rule in DEFAULT_RULES if set(rule.requires) <= names)


def _levels(value: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in value)


@attrs.frozen
class Overlap:
    """An agreement that adds no evidence when another agreement already holds.

    Fellegi–Sunter adds up comparisons as if they were independent; some are
    not. Colleagues share their office's city, and two mailboxes at one work
    domain already say "the same organisation": counted again, such an
    agreement makes two colleagues who share a common name look like one
    person. When ``given`` is at one of ``given_levels``, a positive weight of
    ``comparison`` at one of ``levels`` becomes 0 (the explanation shows it as
    the adjustment).

    Attributes:
        comparison: The comparison whose agreement is discounted.
        levels: Its levels that are discounted.
        given: The comparison whose agreement already says as much.
        given_levels: Its levels that do.

    >>> Overlap("city", (1,), "company", (1, 2)).comparison
    'city'
    """

    comparison: str
    levels: tuple[int, ...] = attrs.field(converter=_levels)
    given: str
    given_levels: tuple[int, ...] = attrs.field(converter=_levels)


DEFAULT_OVERLAPS: Final = (
    # Colleagues share a city: the company's agreement already covers it.
    Overlap("city", (1,), "company", (1, 2)),
    # Two different mailboxes at one domain name the same organisation and two of its
    # people (an employee has one work mailbox): the company's agreement is no evidence.
    Overlap("company", (1, 2), "email", (5,)),
    # Colleagues give their office's switchboard: a number both records give names
    # the organisation already, so the company's agreement adds nothing to it.
    Overlap("company", (1, 2), "phone", (1,)),
    # A household shares its home phone and its address, an office its switchboard and
    # its building: a number both records give says "the same place" already.
    Overlap("city", (1,), "phone", (1,)),
    Overlap("postcode", (1, 2), "phone", (1,)),
)
"""The city of a shared company; the company of two mailboxes at one domain or of a
phone; the city and postcode of a phone."""


def _default_overlaps(comparisons: Sequence[Comparison]) -> tuple[Overlap, ...]:
    """The default overlaps whose comparisons and levels are all among ``comparisons``."""
    sizes = {c.name: len(c.level_labels) for c in comparisons}
    return tuple(
        overlap
        for overlap in DEFAULT_OVERLAPS
        if max(overlap.levels) <= sizes.get(overlap.comparison, 0)
        and max(overlap.given_levels) <= sizes.get(overlap.given, 0)
    )


@attrs.frozen
class Contribution:
    """What one comparison added to a pair's match weight.

    Attributes:
        comparison: The comparison's name.
        level: The level (0 = missing on either side).
        label: The level's label (``"exact"``, ``"jaro-winkler ≥ 0.94"``).
        weight: Its weight in bits (``log2(m/u)``, with the term-frequency
            adjustment included).
        tf_adjustment: The term-frequency part of ``weight``.
    """

    comparison: str
    level: int
    label: str
    weight: float
    tf_adjustment: float = 0.0


@attrs.frozen
class ScoredPair:
    """Two records, how likely they are the same, and why.

    Attributes:
        left: One record's id.
        right: The other record's id.
        probability: Match probability (1.0 when a deterministic rule fired).
        weight: Match weight in bits: prior + contributions.
        prior_weight: The prior's log2 odds.
        contributions: One per comparison, in the model's order.
        rule: The deterministic rule that fired, if any.
    """

    left: str
    right: str
    probability: float
    weight: float
    prior_weight: float
    contributions: tuple[Contribution, ...]
    rule: str | None = None

    def explain(self) -> str:
        """Render the explanation as text, one comparison per line."""
        lines = [f"{self.left} ~ {self.right}: p={self.probability:.4f} w={self.weight:+.2f}"]
        lines.append(f"  prior: {self.prior_weight:+.2f}")
        lines.extend(
            f"  {c.comparison}: {c.label} {c.weight:+.2f}"
            for c in self.contributions
            if c.level != 0
        )
        if self.rule:
            lines.append(f"  rule: {self.rule}")
        return "\n".join(lines)


def compare_pairs(
    table: FeatureTable, comparisons: Sequence[Comparison], left: Rows, right: Rows
) -> LevelMatrix:
    """Return the level of every comparison for every pair (pairs × comparisons).

    Args:
        table: The records' keys.
        comparisons: The comparisons.
        left: Left rows.
        right: Right rows.

    Returns:
        An ``int8`` matrix, one row per pair.
    """
    out = np.zeros((len(left), len(comparisons)), dtype=np.int8)
    for k, comparison in enumerate(comparisons):
        out[:, k] = comparison.compare(table, left, right)
    return out


class _OverlapMask(NamedTuple):
    """An :class:`Overlap` by position: per level of each comparison, whether it is covered."""

    comparison: int
    levels: npt.NDArray[np.bool_]
    given: int
    given_levels: npt.NDArray[np.bool_]


@attrs.frozen(eq=False)
class MatchModel:
    """A trained Fellegi–Sunter model: comparisons, their m/u, the prior, rules.

    Attributes:
        comparisons: The comparisons, in order.
        parameters: m/u per comparison, same order.
        prior: Probability that a blocked pair is a match.
        rules: Deterministic rules.
        overlaps: Agreements that add nothing when another holds (default: the
            :data:`DEFAULT_OVERLAPS` its comparisons allow).
    """

    comparisons: tuple[Comparison, ...]
    parameters: tuple[ComparisonWeights, ...]
    prior: float
    rules: tuple[DeterministicRule, ...] = DEFAULT_RULES
    overlaps: tuple[Overlap, ...] | None = None
    _weights: tuple[tuple[float, ...], ...] = attrs.field(init=False, repr=False)
    _tables: tuple[Floats, ...] = attrs.field(init=False, repr=False)
    _prior_weight: float = attrs.field(init=False, repr=False)
    _overlap_masks: tuple[_OverlapMask, ...] = attrs.field(init=False, repr=False)
    _rule_columns: tuple[tuple[tuple[int, int], ...], ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        names = [c.name for c in self.comparisons]
        if len(self.parameters) != len(self.comparisons):
            raise ConfigurationError("a model needs one set of m/u per comparison")
        for rule in self.rules:
            unknown = set(rule.requires) - set(names)
            if unknown:
                raise ConfigurationError(
                    f"rule {rule.name!r} names unknown comparisons {sorted(unknown)!r}"
                )
        for comparison in self.comparisons:
            bound = comparison.tf_weight_bound
            if comparison.tf_column is not None and not 0.0 <= bound < math.inf:
                raise ConfigurationError(
                    f"comparison {comparison.name!r} declares tf_weight_bound {bound!r}:"
                    " it must be a finite number of bits, 0 or more"
                )
        if self.overlaps is None:
            object.__setattr__(self, "overlaps", _default_overlaps(self.comparisons))
        sizes = {c.name: len(c.level_labels) for c in self.comparisons}
        for overlap in self.overlaps or ():
            for name, levels in ((overlap.comparison, overlap.levels),
                                 (overlap.given, overlap.given_levels)):  # fmt: skip
                if name not in sizes or not all(1 <= v <= sizes[name] for v in levels):
                    raise ConfigurationError(
                        f"overlap of {overlap.comparison!r} given {overlap.given!r} names"
                        f" {name!r} levels {levels!r}, which the model does not have"
                    )
        # Weights are read for every scored pair: compute them once.
        weights = tuple((0.0, *p.weights) for p in self.parameters)
        object.__setattr__(self, "_weights", weights)
        object.__setattr__(self, "_tables", tuple(np.array(w, dtype=np.float64) for w in weights))
        object.__setattr__(self, "_prior_weight", weight_of(self.prior))
        # Which levels an overlap covers, as lookups by level: read for every scored pair.
        position = {c.name: k for k, c in enumerate(self.comparisons)}
        masks = []
        for overlap in self.overlaps or ():
            k, g = position[overlap.comparison], position[overlap.given]
            at_k = np.zeros(len(weights[k]), dtype=bool)
            at_k[list(overlap.levels)] = True
            at_g = np.zeros(len(weights[g]), dtype=bool)
            at_g[list(overlap.given_levels)] = True
            masks.append(_OverlapMask(k, at_k, g, at_g))
        object.__setattr__(self, "_overlap_masks", tuple(masks))
        # Per rule, the position and weakest level of each comparison it requires.
        object.__setattr__(
            self,
            "_rule_columns",
            tuple(
                tuple((position[name], weakest) for name, weakest in rule.requires.items())
                for rule in self.rules
            ),
        )

    @classmethod
    def default(cls, comparisons: Sequence[Comparison] = DEFAULT_COMPARISONS) -> Self:
        """Return a ready model, usable before any data is seen.

        The m/u of the default comparisons were estimated (by
        :func:`estimate_model`, without labels) on 100,000 rows of
        :mod:`crmcore.sample` and, for address and national id, on FEBRL3;
        other comparisons get hand-set values. :func:`~crmcore.matching.batch.
        dedupe` uses this model for data sets too small to estimate one
        (under 1,000 records), and an empty :class:`~crmcore.matching.index.
        MatchIndex` answers with it at once.
        """
        parameters = []
        for comparison in comparisons:
            labels = comparison.level_labels
            known = _TRAINED.get(comparison.name)
            if known is not None and len(known[0]) != len(labels) and comparison.name == "name":
                known = _TRAINED_WITHOUT_ENGLISH_NAME
            if known is not None and len(known[0]) == len(labels):
                m, u = known
            else:
                count = len(labels)
                m = [0.9 * 0.1 ** (k / max(count - 2, 1)) for k in range(count - 1)] + [0.02]
                u = [0.002 * 3**k for k in range(count - 1)]
                u.append(max(1.0 - sum(u), 0.5))
            parameters.append(
                ComparisonWeights(comparison.name, labels, _normalised(m), _normalised(u))
            )
        return cls(
            tuple(comparisons), tuple(parameters), _TRAINED_PRIOR, _default_rules(comparisons)
        )

    @property
    def prior_weight(self) -> float:
        """The prior's log2 odds."""
        return self._prior_weight

    def weight_tables(self) -> list[Floats]:
        """Per comparison, the weight of levels 0 … n (level 0 weighs 0)."""
        return [table.copy() for table in self._tables]

    def tf_adjustments(
        self,
        table: FeatureTable,
        levels: LevelMatrix,
        left: Rows,
        right: Rows,
        *,
        counts: Mapping[str, npt.NDArray[np.int64]] | None = None,
        total: int | None = None,
        holders: Mapping[str, Mapping[str, int]] | None = None,
    ) -> Floats:
        """Return the term-frequency adjustment of every pair and comparison.

        Args:
            table: The records' keys.
            levels: The pairs' levels.
            left: Left rows.
            right: Right rows.
            counts: Per column, how many records share each row's value
                (indexed by row); default: counted in ``table``.
            total: How many records the counts are out of (default ``len(table)``).
            holders: Per contact column (email, phone), how many different
                names hold each value (see :func:`contact_holders`); default:
                counted in ``table`` when ``counts`` is not given, else none
                (no value is treated as shared).

        Returns:
            A matrix like ``levels``: non-zero for exact matches on
            columns with term-frequency adjustment (all zero when there
            are fewer than 1,000 records: too few to know what is common),
            and for agreements an :class:`Overlap` discounts.
            An exact match on a phone or email that three or more different
            names hold (a switchboard, ``info@``) is adjusted to weigh 0: it
            names an organisation, which the company comparison weighs.
        """
        out = np.zeros(levels.shape, dtype=np.float64)
        n = float(total if total is not None else len(table))
        for k, (comparison, params) in enumerate(
            zip(self.comparisons, self.parameters, strict=True)
        ):
            column = comparison.tf_column
            if column is None or n < _TF_MIN_RECORDS:
                continue
            exact = np.flatnonzero(levels[:, k] == 1)
            if not len(exact):
                continue
            if counts is not None and column in counts:
                per_row = counts[column]
                freq = np.maximum(per_row[left[exact]], per_row[right[exact]])
            else:
                codes = table.codes[column]
                by_code = table.counts[column]
                a = codes[left[exact]]
                b = codes[right[exact]]
                freq = np.maximum(
                    np.where(a >= 0, by_code[np.maximum(a, 0)], 1),
                    np.where(b >= 0, by_code[np.maximum(b, 0)], 1),
                )
            # Leave-one-out, as the exact level's u is counted: given one record
            # of the pair, the chance that another record holds its value is
            # (count - 1) / (n - 1). A value only this pair holds is rarer than
            # count / n says (a name two records share is not twice as common
            # as one no other record has).
            tf = np.maximum(freq.astype(np.float64) - 1.0, 1.0) / max(n - 1.0, 1.0)
            adjust = np.clip(np.log2(max(params.u[0], _MIN_PROBABILITY) / tf), *_TF_CLIP)
            if getattr(comparison, "within", None) is not None:
                # u was counted within a group (a country): a value's rarity over all
                # records would credit it twice; only a common value weighs less.
                adjust = np.minimum(adjust, 0.0)
            # The comparison's bound (Comparison.tf_weight_bound: 14 bits, a name's
            # 24) holds for the adjusted weight, log2(m / tf), not for the average
            # one before adjusting: a mailbox only this pair holds must not weigh
            # less than the average (mostly unique) mailbox does.
            unbounded = math.log2(
                max(params.m[0], _MIN_PROBABILITY) / max(params.u[0], _MIN_PROBABILITY)
            )
            base = self._weights[k][1]
            ceiling = comparison.tf_weight_bound  # checked when the model was made
            adjust = np.clip(unbounded + adjust, -_WEIGHT_BOUND, ceiling) - base
            held: Mapping[str, int] | None = None
            if holders is not None and column in holders:
                held = holders[column]
            elif column in CONTACT_COLUMNS and (counts is None or column not in counts):
                held = contact_holders(table, column)
            if held is not None:
                # A number or mailbox several different names hold is a
                # switchboard or a role mailbox: it names an organisation
                # (the company comparison's business), not a person.
                shared = _shared_contact(table, column, left[exact], right[exact], held)
                adjust = np.where(shared, -self._weights[k][1], adjust)
            out[exact, k] = adjust
        self._discount_overlaps(levels, out)
        self._discount_other_domains(table, levels, left, right, out)
        return out

    def _discount_other_domains(
        self, table: FeatureTable, levels: LevelMatrix, left: Rows, right: Rows, out: Floats
    ) -> None:
        """Bring to 0 a company's agreement when the records write to two companies' domains.

        Two organisations of one name (Acme at acme24.cn and Acme at acme25.cn, a
        company's name reused by another firm) are told apart by their domains: a
        shared company name is then no evidence that two records are one person.
        """
        for k, comparison in enumerate(self.comparisons):
            if not isinstance(comparison, CompanyComparison):
                continue
            agree = np.flatnonzero(_at_levels(levels[:, k], _COMPANY_AGREES))
            if not len(agree):
                continue
            rows = agree[other_work_domains(table, left[agree], right[agree])]
            if not len(rows):
                continue
            weight = self._tables[k][levels[rows, k]] + out[rows, k]
            out[rows, k] -= np.maximum(weight, 0.0)

    def _discount_overlaps(self, levels: LevelMatrix, out: Floats) -> None:
        """Bring to 0 the positive weights that an overlapping agreement already counts."""
        if not len(levels):
            return
        for k, at_k, g, at_g in self._overlap_masks:
            rows = np.flatnonzero(at_g[levels[:, g]] & at_k[levels[:, k]])
            if not len(rows):
                continue
            # An agreement that itself weighs nothing here (a switchboard several
            # names share) says nothing the other must not say again: the company
            # of a shared switchboard is the evidence of the organisation.
            given = self._tables[g][levels[rows, g]]
            rows = rows[(given <= 0.0) | (given + out[rows, g] > 0.0)]
            if not len(rows):
                continue
            weight = self._tables[k][levels[rows, k]] + out[rows, k]
            out[rows, k] -= np.maximum(weight, 0.0)

    def score(
        self, levels: LevelMatrix, tf: Floats | None = None
    ) -> tuple[Floats, Floats, npt.NDArray[np.int16]]:
        """Score pairs from their levels.

        Args:
            levels: Pairs × comparisons levels.
            tf: Term-frequency adjustments, same shape (or ``None``).

        Returns:
            Match weights, match probabilities, and the index of the
            deterministic rule that fired per pair (``-1`` for none).
        """
        weights = np.full(len(levels), self.prior_weight, dtype=np.float64)
        for k, table in enumerate(self._tables):
            weights += table[levels[:, k]]
        if tf is not None:
            weights += tf.sum(axis=1)
        with np.errstate(over="ignore"):
            probabilities = 1.0 / (1.0 + np.exp2(-weights))
        fired = np.full(len(levels), -1, dtype=np.int16)
        for r, requires in reversed(list(enumerate(self._rule_columns))):
            hit = np.ones(len(levels), dtype=bool)
            for k, weakest in requires:
                column = levels[:, k]
                hit &= (column >= 1) & (column <= weakest)
                if tf is not None:
                    # An agreement that is no evidence (a shared info@ mailbox,
                    # whose adjustment cancels its weight) cannot fire a rule.
                    hit &= self._tables[k][column] + tf[:, k] > 0.0
            # The rest of the evidence may outweigh the rule's agreements: a
            # pair whose weight says "not a match" is not made certain.
            hit &= weights >= 0.0
            fired[hit] = r
        probabilities[fired >= 0] = 1.0
        return weights, probabilities, fired

    def contradiction(
        self,
        table: FeatureTable,
        levels: LevelMatrix,
        left: Rows,
        right: Rows,
        tf: Floats | None = None,
    ) -> Floats:
        """Return each pair's evidence against a match: its weights at :data:`CONTRADICTIONS`.

        The negative part of the weight (term-frequency adjustment included) of
        every comparison at a level that says "another person" (two mailboxes at
        one domain numbered apart), summed; 0 for a pair with none. Clustering
        counts it in full for a pair that is no match, where a pair that only
        lacks evidence counts half the prior less.

        Args:
            table: The records' keys.
            levels: Pairs × comparisons levels.
            left: Left rows.
            right: Right rows.
            tf: Their term-frequency adjustments, same shape (or ``None``).

        Returns:
            Bits, at most 0, one per pair.
        """
        out = np.zeros(len(levels), dtype=np.float64)
        for k, (comparison, weights) in enumerate(zip(self.comparisons, self._tables, strict=True)):
            labels = comparison.level_labels
            wanted = [
                labels.index(label) + 1
                for name, label in CONTRADICTIONS
                if name == comparison.name and label in labels
            ]
            if not wanted:
                continue
            hit = np.flatnonzero(np.isin(levels[:, k], wanted))
            if isinstance(comparison, MailboxComparison) and len(hit):
                hit = hit[numbered_mailboxes(table, left[hit], right[hit])]
            if not len(hit):
                continue
            weight = weights[levels[hit, k]]
            if tf is not None:
                weight = weight + tf[hit, k]
            out[hit] += np.minimum(weight, 0.0)
        return out

    def explain(
        self,
        left_id: str,
        right_id: str,
        levels: npt.NDArray[np.int8],
        tf: Floats | None = None,
        *,
        scored: tuple[float, float, int] | None = None,
    ) -> ScoredPair:
        """Build the scored, explained pair for one row of levels.

        Args:
            left_id: One record's id.
            right_id: The other's.
            levels: The pair's levels, one per comparison.
            tf: The pair's term-frequency adjustments, or ``None``.
            scored: The pair's weight, probability and fired rule as
                :meth:`score` returned them, when already known.

        Returns:
            The scored pair with its contributions.
        """
        if scored is None:
            matrix = levels.reshape(1, -1)
            tf_matrix = None if tf is None else tf.reshape(1, -1)
            weights, probabilities, fired = self.score(matrix, tf_matrix)
            scored = (float(weights[0]), float(probabilities[0]), int(fired[0]))
        weight, probability, rule = scored
        contributions = []
        level_list = levels.tolist()
        tf_list = None if tf is None else tf.tolist()
        for k, params in enumerate(self.parameters):
            level = level_list[k]
            adjustment = 0.0 if tf_list is None else tf_list[k]
            base = self._weights[k][level]
            label = "missing" if level == 0 else params.labels[level - 1]
            contributions.append(
                Contribution(params.name, level, label, base + adjustment, adjustment)
            )
        return ScoredPair(
            left=left_id,
            right=right_id,
            probability=probability,
            weight=weight,
            prior_weight=self.prior_weight,
            contributions=tuple(contributions),
            rule=self.rules[rule].name if rule >= 0 else None,
        )


def _normalised(values: Sequence[float]) -> tuple[float, ...]:
    total = float(sum(values))
    return tuple(float(v) / total for v in values)


# --------------------------------------------------------------------------- estimation


def _exact_u(table: FeatureTable, column: str) -> float | None:
    counts = table.counts[column].astype(np.float64)
    present = counts.sum()
    if present < 2:
        return None
    return float(max((counts * (counts - 1)).sum() / (present * (present - 1)), 1e-8))


def _exact_u_within(table: FeatureTable, column: str, within: str) -> float | None:
    """The chance that two records with one value of ``within`` share a value of ``column``."""
    if within not in table.codes:
        return _exact_u(table, column)
    codes = table.codes[column].astype(np.int64)
    groups = table.codes[within].astype(np.int64)
    both = (codes >= 0) & (groups >= 0)
    if int(both.sum()) < 2:
        return _exact_u(table, column)
    group_sizes = np.bincount(groups[both]).astype(np.float64)
    pairs_within = float((group_sizes * (group_sizes - 1)).sum())
    if pairs_within <= 0:
        return _exact_u(table, column)
    combined = groups[both] * (int(codes.max()) + 1) + codes[both]
    _, counts = np.unique(combined, return_counts=True)
    counts = counts.astype(np.float64)
    return float(max((counts * (counts - 1)).sum() / pairs_within, 1e-8))


def estimate_u(
    table: FeatureTable,
    comparisons: Sequence[Comparison],
    *,
    sample_size: int = 200_000,
    seed: int = 0,
) -> list[tuple[float, ...]]:
    """Estimate u (level probabilities among non-matches) from random pairs.

    Random pairs are nearly all non-matches. The exact level's u is computed
    from value frequencies (the chance two random records share a value);
    the other levels from a seeded sample of random pairs, smoothed.

    Args:
        table: The records' keys.
        comparisons: The comparisons.
        sample_size: Random pairs to compare.
        seed: Seed of the sample.

    Returns:
        Per comparison, u of levels 1 … n.
    """
    n = len(table)
    rng = np.random.default_rng(seed)
    size = min(sample_size, max(n * (n - 1) // 2, 1))
    if n >= 2:
        left = rng.integers(0, n, size=size, dtype=np.int64)
        right = rng.integers(0, n - 1, size=size, dtype=np.int64)
        right[right >= left] += 1
    else:
        left = right = np.zeros(0, dtype=np.int64)
    levels = compare_pairs(table, comparisons, left, right)
    out = []
    for k, comparison in enumerate(comparisons):
        count = len(comparison.level_labels)
        observed = np.bincount(levels[:, k], minlength=count + 1)[1:].astype(np.float64)
        smoothed = observed + 0.5
        u = smoothed / smoothed.sum()
        column = comparison.exact_column
        within = getattr(comparison, "within", None)
        if column is not None and isinstance(within, str):
            exact = _exact_u_within(table, column, within)
        else:
            exact = _exact_u(table, column) if column is not None else None
        if exact is not None:
            rest = u[1:] / max(u[1:].sum(), _MIN_PROBABILITY) * (1.0 - exact)
            u = np.r_[exact, rest]
        out.append(tuple(float(x) for x in u))
    return out


def _initial_m(count: int) -> npt.NDArray[np.float64]:
    m = [0.9 * 0.25**k for k in range(count)]
    m[-1] = 0.05
    return np.array(_normalised(m))


def comparison_columns(comparison: Comparison) -> frozenset[str]:
    """Return the feature columns a comparison reads (to know which blocking rules bias it).

    This is :attr:`Comparison.columns <crmcore.matching.Comparison.columns>`, which every
    comparison declares (a host's own comparison too).

    >>> sorted(comparison_columns(MailboxComparison()))
    ['email', 'email_user']
    """
    return frozenset(comparison.columns)


def _unique_patterns(levels: LevelMatrix) -> tuple[LevelMatrix, npt.NDArray[np.int64]]:
    """Return the distinct rows of ``levels`` and how often each occurs (fast: packed codes)."""
    if not len(levels):
        return np.zeros((0, levels.shape[1]), dtype=np.int8), np.zeros(0, dtype=np.int64)
    radix = levels.max(axis=0).astype(np.int64) + 1
    if (
        levels.min(initial=0) >= 0
        and radix.max(initial=1) <= _LEVEL_RADIX
        and math.prod(radix.tolist()) <= _PATTERN_CODES
    ):
        # Few possible patterns: count each by its mixed-radix code (first column
        # most significant, so patterns come out in the order sorting gives).
        code = np.zeros(len(levels), dtype=np.int64)
        for k in range(levels.shape[1]):
            code = code * radix[k] + levels[:, k]
        every = np.bincount(code)
        present = np.flatnonzero(every)
        patterns = np.empty((len(present), levels.shape[1]), dtype=levels.dtype)
        rest = present
        for k in range(levels.shape[1] - 1, -1, -1):
            patterns[:, k] = rest % radix[k]
            rest = rest // radix[k]
        return patterns, every[present]
    packed = np.zeros(len(levels), dtype=np.int64)
    for k in range(levels.shape[1]):
        packed = packed * _LEVEL_RADIX + levels[:, k].astype(np.int64)
    # Sort and count runs (np.unique's hash table is slow on millions of pairs).
    order = np.argsort(packed)
    ordered = packed[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, len(ordered)])
    return levels[order[starts]], counts


_LEVEL_RADIX: Final = 16  # levels per comparison at most, as packed for sorting
_PATTERN_CODES: Final = 1 << 24
"""Level patterns counted by code (not sorted) when there are at most this many possible."""


def _em_m(
    patterns: LevelMatrix,
    counts: Floats,
    *,
    free: Sequence[int],
    m_values: list[npt.NDArray[np.float64]],
    log_u: list[Floats],
    max_iterations: int,
    tolerance: float,
) -> tuple[list[npt.NDArray[np.float64]], float]:
    """Run EM over level patterns; only the ``free`` comparisons enter the likelihood."""
    m_values = [m.copy() for m in m_values]
    prior = 0.2
    for _ in range(max_iterations):
        log_match = np.full(len(patterns), math.log(prior))
        log_non = np.full(len(patterns), math.log(1 - prior))
        for k in free:
            log_m = np.log(np.r_[1.0, np.maximum(m_values[k], _MIN_PROBABILITY)])
            log_match += log_m[patterns[:, k]]
            log_non += log_u[k][patterns[:, k]]
        posterior = 1.0 / (1.0 + np.exp(np.clip(log_non - log_match, -700, 700)))
        expected = posterior * counts
        new_prior = min(max(float(expected.sum() / max(counts.sum(), 1.0)), 1e-6), 1 - 1e-6)
        moved = abs(new_prior - prior)
        prior = new_prior
        for k in free:
            size = len(m_values[k])
            by_level = np.bincount(patterns[:, k], weights=expected, minlength=size + 1)[1:]
            new_m = (by_level + _PSEUDO_COUNT) / (by_level.sum() + _PSEUDO_COUNT * size)
            moved = max(moved, float(np.abs(new_m - m_values[k]).max()))
            m_values[k] = new_m
        if moved < tolerance:
            break
    return m_values, prior


_PSEUDO_COUNT: Final = 1.0
_EM_MAX_SHARED: Final = 6
"""EM learns m from pairs whose blocking key at most this many records share.

A key many records share — a switchboard number, an info@ mailbox, a common
name in one city — pairs mostly different people who agree on the other
fields that go with it (colleagues share a company and a city), which would
teach EM that a different name is common among matches."""


def _specific(table: FeatureTable, columns: Sequence[str], rows: Rows) -> npt.NDArray[np.int64]:
    """Return how many records share each of ``rows``' key on ``columns`` (0 when missing)."""
    n = len(table)
    combined = np.zeros(n, dtype=np.int64)
    valid = np.ones(n, dtype=bool)
    for column in columns:
        codes = table.codes[column].astype(np.int64)
        valid &= codes >= 0
        combined = combined * (int(codes.max(initial=-1)) + 2) + codes + 1
    sizes = np.zeros(n, dtype=np.int64)
    if valid.any():
        if len(columns) == 1:  # one column's codes: count them straight
            sizes[valid] = np.bincount(combined[valid])[combined[valid]]
        else:
            _, inverse, counts = np.unique(combined[valid], return_inverse=True, return_counts=True)
            sizes[valid] = counts[inverse.reshape(-1)]
    return sizes[rows]


_MIN_RULE_PAIRS: Final = 50


def estimate_model(
    table: FeatureTable,
    levels: LevelMatrix,
    comparisons: Sequence[Comparison] = DEFAULT_COMPARISONS,
    *,
    left: Rows | None = None,
    right: Rows | None = None,
    blocking_columns: Sequence[Sequence[str]] = (),
    rules: Sequence[DeterministicRule] = DEFAULT_RULES,
    u: Sequence[tuple[float, ...]] | None = None,
    u_sample_size: int = 200_000,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
    seed: int = 0,
) -> MatchModel:
    """Estimate a model without labels: u from random pairs, m and the prior by EM.

    As in Splink, EM runs once per blocking rule over the pairs that rule
    produced, leaving out the comparisons that read the rule's own columns
    (those agree by construction, so their m would be biased); each
    comparison's m is the mean over the rules that could estimate it. The
    prior (the chance that two random records match) is then fitted to all
    candidate pairs.

    Args:
        table: The records' keys.
        levels: Levels of the candidate pairs (pairs × comparisons).
        comparisons: The comparisons that produced ``levels``.
        left: The pairs' left rows (needed to split pairs by rule).
        right: The pairs' right rows.
        blocking_columns: The columns of each blocking rule; with none given,
            one EM runs over all pairs and all comparisons.
        rules: Deterministic rules for the model.
        u: Known u probabilities; estimated from random pairs when ``None``.
        u_sample_size: Random pairs compared to estimate u.
        max_iterations: EM iterations at most, per rule.
        tolerance: Stop when no parameter moves more than this.
        seed: Seed of the random pairs for u.

    Returns:
        The trained model.
    """
    comparisons = tuple(comparisons)
    u_values = (
        list(u)
        if u is not None
        else estimate_u(table, comparisons, sample_size=u_sample_size, seed=seed)
    )
    sizes = [len(c.level_labels) for c in comparisons]
    log_u = [np.log(np.r_[1.0, np.maximum(np.array(u_), _MIN_PROBABILITY)]) for u_ in u_values]
    initial = [_initial_m(s) for s in sizes]
    sessions: list[tuple[npt.NDArray[np.bool_], list[int]]] = []
    everything = list(range(len(comparisons)))
    if blocking_columns and left is not None and right is not None:
        agree: dict[str, npt.NDArray[np.bool_]] = {}
        for columns in blocking_columns:
            if not all(column in table.codes for column in columns):
                continue  # a derived key (email_typo): its pairs are in the other rules'
            mask = np.ones(len(levels), dtype=bool)
            for column in columns:
                if column not in agree:  # several rules read one column: compare it once
                    codes = table.codes[column]
                    agree[column] = (codes[left] == codes[right]) & (codes[left] >= 0)
                mask &= agree[column]
            mask &= _specific(table, columns, left) <= _EM_MAX_SHARED
            biased = set(columns)
            free = [k for k in everything if not comparison_columns(comparisons[k]) & biased]
            if int(mask.sum()) >= _MIN_RULE_PAIRS and free:
                sessions.append((mask, free))
    if not sessions:
        sessions.append((np.ones(len(levels), dtype=bool), everything))
    estimates: list[list[npt.NDArray[np.float64]]] = [[] for _ in comparisons]
    for mask, free in sessions:
        if not mask.any():
            continue
        patterns, counts = _unique_patterns(levels[mask])
        m_values, _ = _em_m(
            patterns,
            counts.astype(np.float64),
            free=free,
            m_values=initial,
            log_u=log_u,
            max_iterations=max_iterations,
            tolerance=tolerance,
        )
        for k in free:
            estimates[k].append(m_values[k])
    m_final = [np.mean(estimates[k], axis=0) if estimates[k] else initial[k] for k in everything]
    for k, comparison in enumerate(comparisons):
        m_final[k] = _capped(m_final[k], np.asarray(u_values[k]), comparison.weaker_levels)
    prior = _population_prior(levels, m_final, log_u, len(table))
    parameters = tuple(
        ComparisonWeights(
            c.name,
            c.level_labels,
            tuple(float(x) for x in m_final[k]),
            tuple(float(x) for x in u_values[k]),
        )
        for k, c in enumerate(comparisons)
    )
    chosen = _default_rules(comparisons) if rules is DEFAULT_RULES else tuple(rules)
    return MatchModel(comparisons, parameters, prior, chosen)


def _capped(m: Floats, u: Floats, weaker: Mapping[int, int]) -> Floats:
    """Lower m of each level in ``weaker`` until its weight is at most its cap level's."""
    m = np.array(m, dtype=np.float64)
    for level, cap in weaker.items():
        if not (1 <= level <= len(m) and 1 <= cap <= len(m)):
            continue
        ratio = m[cap - 1] / max(float(u[cap - 1]), _MIN_PROBABILITY)
        m[level - 1] = min(float(m[level - 1]), ratio * float(u[level - 1]))
    out: Floats = m / float(m.sum())
    return out


def _population_prior(
    levels: LevelMatrix,
    m_values: list[npt.NDArray[np.float64]],
    log_u: list[Floats],
    records: int,
) -> float:
    """Fit the chance that two random records match to the candidate pairs."""
    total_pairs = max(records * (records - 1) / 2, 1.0)
    if not len(levels):
        return min(max(1.0 / max(records, 2), 1e-9), 0.5)
    patterns, counts = _unique_patterns(levels)
    log_ratio = np.zeros(len(patterns))
    for k in range(patterns.shape[1]):
        log_m = np.log(np.r_[1.0, np.maximum(m_values[k], _MIN_PROBABILITY)])
        log_ratio += log_m[patterns[:, k]] - log_u[k][patterns[:, k]]
    prior = min(len(levels) / total_pairs, 0.5)
    for _ in range(50):
        log_odds = log_ratio + math.log(prior / (1 - prior))
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        new_prior = min(max(float((posterior * counts).sum()) / total_pairs, 1e-12), 0.5)
        if abs(math.log(new_prior / prior)) < 1e-4:
            prior = new_prior
            break
        prior = new_prior
    return prior
