"""Comparisons: how alike two records are on one aspect, as a discrete level.

Each comparison reads key columns of a :class:`~crmcore.matching.feature.
FeatureTable` for many pairs at once and returns one level per pair: ``0``
when either side is missing (no evidence), ``1`` for an exact match, then
weaker levels, the last one "different". Names follow Splink:
:class:`ExactMatch`, :class:`JaroWinklerAtThresholds`,
:class:`LevenshteinAtThresholds`, :class:`TokenSetAtThresholds`, plus
comparisons that know a field (:class:`NameComparison`,
:class:`EmailComparison`, :class:`PhoneComparison`,
:class:`CompanyComparison`, :class:`DateOfBirthComparison`). String
similarities run in rapidfuzz's C++ ``cpdist`` on every core.

May import: ``crmcore.matching``, ``crmcore.errors``; attrs, numpy, rapidfuzz.
"""

from __future__ import annotations

import abc
import collections
import functools
import itertools
import re
import weakref
from collections.abc import Callable, Iterable
from typing import Final, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Indel, JaroWinkler, Levenshtein, Postfix, Prefix

from crmcore.errors import ConfigurationError
from crmcore.matching.feature import FEATURE_COLUMNS, FeatureTable
from crmcore.matching.nickname import AMBIGUOUS, NICKNAMES

__all__ = [
    "ENGLISH_NAME",
    "ROLE_MAILBOXES",
    "CompanyComparison",
    "Comparison",
    "DateOfBirthComparison",
    "EmailComparison",
    "ExactMatch",
    "JaroWinklerAtThresholds",
    "LevenshteinAtThresholds",
    "MailboxComparison",
    "NameComparison",
    "PhoneComparison",
    "TokenSetAtThresholds",
    "english_name_reading",
    "is_role_mailbox",
    "name_cut_short",
]

Levels: TypeAlias = npt.NDArray[np.int8]
Rows: TypeAlias = npt.NDArray[np.int64]
Scorer: TypeAlias = Callable[..., float]

_PARALLEL_FROM: Final = 20_000  # below this many pairs, threads cost more than they save


def _similarity(
    scorer: Scorer, left: list[str], right: list[str], *, cutoff: float
) -> npt.NDArray[np.float64]:
    """Score pairs in C++; ``cutoff`` is the weakest score that can change a level.

    For a similarity, scores below ``cutoff`` come back as 0; for a distance,
    distances above it come back as ``cutoff + 1``. Either way they fall in
    the "different" level, and rapidfuzz skips most of the work for them.
    """
    if not left:
        return np.zeros(0, dtype=np.float64)
    workers = -1 if len(left) >= _PARALLEL_FROM else 1
    result = process.cpdist(
        left, right, scorer=scorer, workers=workers, dtype=np.float64, score_cutoff=cutoff
    )
    return np.asarray(result, dtype=np.float64)


def _check_column(column: str) -> str:
    if column not in FEATURE_COLUMNS:
        raise ConfigurationError(
            f"unknown feature column {column!r}; known: {', '.join(FEATURE_COLUMNS)}"
        )
    return column


def _check_thresholds(thresholds: tuple[float, ...]) -> tuple[float, ...]:
    values = tuple(thresholds)
    if not values or any(b >= a for a, b in itertools.pairwise(values)):
        raise ConfigurationError(f"thresholds must be given strongest first: {values!r}")
    return values


def _check_distances(thresholds: tuple[int, ...]) -> tuple[int, ...]:
    values = tuple(int(t) for t in thresholds)
    if not values or values[0] < 1 or any(b <= a for a, b in itertools.pairwise(values)):
        raise ConfigurationError(f"distance thresholds must grow from 1: {values!r}")
    return values


class Comparison(abc.ABC):
    """Compare pairs of rows on one aspect; produce one level per pair.

    Level ``0`` is always "missing on either side" (weight 0); levels
    ``1 … len(level_labels)`` are labelled by :attr:`level_labels`, strongest
    first, the last one being "different".

    As in Splink, a comparison declares what it reads: :attr:`columns` (EM
    leaves it out of the blocking rules on those columns, whose pairs agree
    on them by construction) and :attr:`exact_column` (whose value
    frequencies give the exact level's u). A host's own subclass overrides
    both; by default a subclass with a ``column`` attribute reads that column.

    Attributes:
        name: The comparison's name in models and explanations.
        tf_column: The column term frequencies are read from, if adjusted.
    """

    name: str
    tf_column: str | None

    @property
    def exact_column(self) -> str | None:
        """The column whose equal values make the exact level (``None``: no such column)."""
        column = getattr(self, "column", None)
        return column if isinstance(column, str) else None

    @property
    def columns(self) -> frozenset[str]:
        """Every feature column the comparison reads (default: its :attr:`exact_column`)."""
        exact = self.exact_column
        return frozenset() if exact is None else frozenset({exact})

    @property
    @abc.abstractmethod
    def level_labels(self) -> tuple[str, ...]:
        """The labels of levels 1 … n, strongest first."""

    @property
    def tf_weight_bound(self) -> float:
        """The most an exact match's weight may reach once term frequency adjusts it (bits).

        The bound holds for the adjusted weight, log2(m / tf), not for the average one:
        a value only the pair holds may weigh more than the average value does, up to
        this. The default, 14 bits, keeps a rare value from matching alone at scale (a
        prior of 1 in 100,000 is about 17 bits): a household's phone or a family's
        mailbox is rare and still not one person's. :class:`NameComparison` declares 24.

        >>> ExactMatch("email").tf_weight_bound, NameComparison().tf_weight_bound
        (14.0, 24.0)
        """
        return 14.0

    @property
    def weaker_levels(self) -> dict[int, int]:
        """Level → a level whose weight it may not exceed once estimated (default: none).

        Estimation keeps a level that can only be weaker evidence than another from
        learning a larger weight when other agreements that come with it fool EM.
        """
        return {}

    @abc.abstractmethod
    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the level of every pair ``(left[k], right[k])`` of rows of ``table``."""


def _base(table: FeatureTable, column: str, left: Rows, right: Rows) -> tuple[Levels, Rows]:
    """Fill null (0) and exact (1) levels; return the levels and the still-open pairs."""
    codes = table.codes[column]
    a = codes[left]
    b = codes[right]
    levels = np.zeros(len(left), dtype=np.int8)
    present = (a >= 0) & (b >= 0)
    levels[present & (a == b)] = 1
    todo = np.flatnonzero(present & (a != b))
    return levels, todo


def _pick(table: FeatureTable, column: str, rows: Rows) -> list[str]:
    return table.values[column][rows].tolist()  # type: ignore[no-any-return]


def _bands(
    levels: Levels, todo: Rows, score: npt.NDArray[np.float64], thresholds: tuple[float, ...]
) -> None:
    """Assign levels 2 … by descending similarity thresholds; the rest get the last level."""
    out = np.full(len(todo), len(thresholds) + 2, dtype=np.int8)
    for k in range(len(thresholds) - 1, -1, -1):
        out[score >= thresholds[k]] = k + 2
    levels[todo] = out


def _distance_bands(
    levels: Levels, todo: Rows, distance: npt.NDArray[np.float64], thresholds: tuple[int, ...]
) -> None:
    out = np.full(len(todo), len(thresholds) + 2, dtype=np.int8)
    for k in range(len(thresholds) - 1, -1, -1):
        out[distance <= thresholds[k]] = k + 2
    levels[todo] = out


def _labels_at(prefix: str, thresholds: tuple[float, ...] | tuple[int, ...]) -> tuple[str, ...]:
    return ("exact", *(f"{prefix} {t}" for t in thresholds), "different")


@attrs.frozen
class ExactMatch(Comparison):
    """Exact match on one key column: levels *exact*, *different*.

    With ``within`` (``ExactMatch("city", within="country")``), agreeing is
    weighed against the chance that two records *of one* ``within`` *value*
    agree, not two random records: people who share a name mostly share a
    country too (names follow cultures), and two people of one country share
    a city far more often than two random records do. Counted against random
    pairs, the city would weigh as if it were independent of the name, and
    same-name strangers of one city would look like one person. Term
    frequencies then only lower the weight of a common value, never raise a
    rare one's (a rarity counted over all records says nothing within one country).

    Args:
        column: The feature column.
        name: The comparison's name in explanations (default: the column).
        term_frequency: Weigh an exact match on a common value less.
        within: A column whose equal values the exact level's u is counted
            within (records missing it are left out of that count).

    >>> ExactMatch("city", within="country").within
    'country'
    """

    column: str = attrs.field(converter=_check_column)
    name: str = attrs.field(default=attrs.Factory(lambda self: self.column, takes_self=True))
    term_frequency: bool = attrs.field(default=False, kw_only=True)
    within: str | None = attrs.field(default=None, kw_only=True)

    @property
    def tf_column(self) -> str | None:  # type: ignore[override]
        """The column term frequencies are read from, if adjusted."""
        return self.column if self.term_frequency else None

    @property
    def level_labels(self) -> tuple[str, ...]:
        """``("exact", "different")``."""
        return ("exact", "different")

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return 1 for equal keys, 2 for different ones, 0 if either is missing."""
        levels, todo = _base(table, self.column, left, right)
        levels[todo] = 2
        return levels


@attrs.frozen
class JaroWinklerAtThresholds(Comparison):
    """Jaro-Winkler similarity bands: *exact*, *jaro-winkler ≥ t* …, *different*.

    Args:
        column: The feature column.
        thresholds: Similarities in (0, 1), strongest first.
        name: The comparison's name in explanations (default: the column).
        term_frequency: Weigh an exact match on a common value less.
    """

    column: str = attrs.field(converter=_check_column)
    thresholds: tuple[float, ...] = attrs.field(default=(0.92, 0.8), converter=_check_thresholds)
    name: str = attrs.field(default=attrs.Factory(lambda self: self.column, takes_self=True))
    term_frequency: bool = attrs.field(default=False, kw_only=True)

    @property
    def tf_column(self) -> str | None:  # type: ignore[override]
        """The column term frequencies are read from, if adjusted."""
        return self.column if self.term_frequency else None

    @property
    def level_labels(self) -> tuple[str, ...]:
        """``exact``, one label per threshold, ``different``."""
        return _labels_at("jaro-winkler ≥", self.thresholds)

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the Jaro-Winkler band of every pair."""
        levels, todo = _base(table, self.column, left, right)
        score = _similarity(
            JaroWinkler.normalized_similarity,
            _pick(table, self.column, left[todo]),
            _pick(table, self.column, right[todo]),
            cutoff=self.thresholds[-1],
        )
        _bands(levels, todo, score, self.thresholds)
        return levels


@attrs.frozen
class LevenshteinAtThresholds(Comparison):
    """Edit-distance bands: *exact*, *levenshtein ≤ d* …, *different*.

    Args:
        column: The feature column.
        thresholds: Distances, smallest first.
        name: The comparison's name in explanations (default: the column).
        transpositions: Count a swap of neighbours as one edit (OSA distance).
    """

    column: str = attrs.field(converter=_check_column)
    thresholds: tuple[int, ...] = attrs.field(default=(1, 2), converter=_check_distances)
    name: str = attrs.field(default=attrs.Factory(lambda self: self.column, takes_self=True))
    transpositions: bool = attrs.field(default=True, kw_only=True)
    tf_column: str | None = attrs.field(default=None, init=False)

    @property
    def level_labels(self) -> tuple[str, ...]:
        """``exact``, one label per threshold, ``different``."""
        return _labels_at("levenshtein ≤", self.thresholds)

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the edit-distance band of every pair."""
        levels, todo = _base(table, self.column, left, right)
        scorer = OSA.distance if self.transpositions else Levenshtein.distance
        distance = _similarity(
            scorer,
            _pick(table, self.column, left[todo]),
            _pick(table, self.column, right[todo]),
            cutoff=self.thresholds[-1],
        )
        _distance_bands(levels, todo, distance, self.thresholds)
        return levels


@attrs.frozen
class TokenSetAtThresholds(Comparison):
    """Token-set similarity bands (word order and repeats ignored).

    Levels: *exact*, *token-set ≥ t* …, *different*.

    Args:
        column: The feature column.
        thresholds: Similarities in (0, 1), strongest first.
        name: The comparison's name in explanations (default: the column).
    """

    column: str = attrs.field(converter=_check_column)
    thresholds: tuple[float, ...] = attrs.field(default=(0.9, 0.75), converter=_check_thresholds)
    name: str = attrs.field(default=attrs.Factory(lambda self: self.column, takes_self=True))
    tf_column: str | None = attrs.field(default=None, init=False)

    @property
    def level_labels(self) -> tuple[str, ...]:
        """``exact``, one label per threshold, ``different``."""
        return _labels_at("token-set ≥", self.thresholds)

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the token-set band of every pair."""
        levels, todo = _base(table, self.column, left, right)
        score = _similarity(
            fuzz.token_set_ratio,
            _pick(table, self.column, left[todo]),
            _pick(table, self.column, right[todo]),
            cutoff=self.thresholds[-1] * 100.0 - 1e-9,  # no rounding past a band edge
        )
        _bands(levels, todo, score / 100.0, self.thresholds)
        return levels


@attrs.frozen
class NameComparison(Comparison):
    """Person names in either order, with CJK names in pinyin and nicknames folded.

    Levels: *exact* (in either order, so 张伟 = Zhang Wei = Wei Zhang),
    *part left out* (one name is the other with one part of three letters or
    more left out, read in both orders alike: a dropped middle name, Anna
    Maria Schmidt and Anna Schmidt; a shortened double surname, Javier Sánchez
    González and Javier Sánchez), *jaro-winkler ≥ t* … (the better of the two
    orders), *different*. An exact match on a common name (张伟) weighs less
    (term frequency). Estimation learns what a part left out is worth: a name
    cut short is a person's own habit, but also a stranger's shorter name (王伟
    and 王伟明). *English given name, same family name*, just above *different*:
    a Chinese name in pinyin and a name of the same family name whose given
    name is no pinyin (王伟 and David Wang; see :func:`english_name_reading`),
    how a Chinese professional is often written at work; estimation learns what
    it is worth (alone little: many strangers share a family name).

    Args:
        thresholds: Jaro-Winkler similarities, strongest first.
        name: The comparison's name in explanations.
        term_frequency: Weigh an exact match on a common name less.
        part_left_out: Give names one of which leaves a part of the other out
            a level of their own (otherwise they fall in the Jaro-Winkler bands).
        english_name: Give a Chinese name and an English given name with the same
            family name a level of their own (otherwise they fall in the weakest
            Jaro-Winkler band or in *different*). Off by default; the default
            comparisons (``DEFAULT_COMPARISONS``) turn it on.

    >>> NameComparison().level_labels[:3]
    ('exact', 'part left out', 'two parts left out')
    """

    thresholds: tuple[float, ...] = attrs.field(default=(0.94, 0.86), converter=_check_thresholds)
    name: str = "name"
    term_frequency: bool = attrs.field(default=True, kw_only=True)
    part_left_out: bool = attrs.field(default=True, kw_only=True)
    english_name: bool = attrs.field(default=False, kw_only=True)

    @property
    def tf_column(self) -> str | None:  # type: ignore[override]
        """``name_sig`` when term frequencies are used."""
        return "name_sig" if self.term_frequency else None

    @property
    def tf_weight_bound(self) -> float:
        """24 bits: a name only two records hold may outweigh the prior on its own.

        On the crm and faker corpora, 95 % and 85 % of the pairs sharing nothing
        but a name two records hold are one person; a contact's bound (14) stays
        below a 100,000-record prior, which such a name could then never overcome.
        """
        return 24.0

    @property
    def exact_column(self) -> str:
        """``name_sig``: equal whenever the names are the same in any order."""
        return "name_sig"

    @property
    def columns(self) -> frozenset[str]:
        """The four name keys: blocking on any of them biases this comparison."""
        return frozenset({"name_ff", "name_gf", "name_sig", "initials"})

    @property
    def level_labels(self) -> tuple[str, ...]:
        """``exact``, ``part left out`` (if asked for), one label per threshold, ``different``."""
        labels = _labels_at("jaro-winkler ≥", self.thresholds)
        if not self.part_left_out:
            if self.english_name:
                labels = (*labels[:-1], ENGLISH_NAME, labels[-1])
            return labels
        labels = (labels[0], _PART_LEFT_OUT, _PARTS_LEFT_OUT, *labels[1:])
        if self.english_name:
            labels = (*labels[:-1], ENGLISH_NAME, labels[-1])
        return labels

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the name level of every pair."""
        return _once_per_distinct_pair(table, _NAME_COLUMNS, left, right, self._compare)

    def _compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        levels, todo = _base(table, "name_ff", left, right)
        codes_ff = table.codes["name_ff"]
        codes_gf = table.codes["name_gf"]
        codes_sig = table.codes["name_sig"]
        # The same letters in any order and split (the exact level's u is
        # counted on name_sig): "Maria Navarro Alvarez" in one field and
        # María / Navarro Álvarez in two are one name.
        swapped = (
            (codes_ff[left[todo]] == codes_gf[right[todo]])
            | (codes_gf[left[todo]] == codes_ff[right[todo]])
            | (codes_sig[left[todo]] == codes_sig[right[todo]])
        )
        levels[todo[swapped]] = 1
        todo = todo[~swapped]
        # A nickname of several names (chris) is each of them in turn: Chris Young is
        # Christina Young's name and Christopher Young's, as Bill is William.
        read = _nickname_reads(table, left[todo], right[todo])
        levels[todo[read]] = 1
        todo = todo[~read]
        # Jürgen Müller written Juergen Mueller (how German writes an umlaut without
        # its dots) is the same name; two pinyin names never (Xue and Xu are two).
        read = _umlaut_reads(table, left[todo], right[todo])
        levels[todo[read]] = 1
        todo = todo[~read]
        ff_left = _pick(table, "name_ff", left[todo])
        gf_left = _pick(table, "name_gf", left[todo])
        weakest = self.thresholds[-1]
        straight = np.maximum(
            _similarity(
                JaroWinkler.normalized_similarity,
                ff_left,
                _pick(table, "name_ff", right[todo]),
                cutoff=weakest,
            ),
            _similarity(
                JaroWinkler.normalized_similarity,
                gf_left,
                _pick(table, "name_gf", right[todo]),
                cutoff=weakest,
            ),
        )
        crossed = _similarity(
            JaroWinkler.normalized_similarity,
            ff_left,
            _pick(table, "name_gf", right[todo]),
            cutoff=weakest,
        )
        # Both crossings, so that the comparison is symmetric.
        back = _similarity(
            JaroWinkler.normalized_similarity,
            gf_left,
            _pick(table, "name_ff", right[todo]),
            cutoff=weakest,
        )
        _bands(levels, todo, np.maximum(np.maximum(straight, crossed), back), self.thresholds)
        if self.part_left_out:
            levels[todo] += 2  # room for levels 2 and 3 below exact
            cut = _parts_left_out(table, left[todo], right[todo])
            levels[todo[cut > 0]] = cut[cut > 0] + 1
        if self.english_name:
            different = len(self.level_labels)  # the English name's level comes before it
            weakest = different - 2  # the weakest Jaro-Winkler band
            levels[todo[levels[todo] == different - 1]] = different
            open_ = todo[(levels[todo] == weakest) | (levels[todo] == different)]
            read = _english_names(table, left[open_], right[open_])
            levels[open_[read]] = different - 1
        return levels


_NAME_COLUMNS: Final = ("name_ff", "name_gf", "name_sig")
"""The columns a name's level reads (``initials`` only serves blocking)."""

_TABLE_ROW_KEYS: Final[weakref.WeakKeyDictionary[FeatureTable, dict[tuple[str, ...], Rows]]] = (
    weakref.WeakKeyDictionary()
)
"""Per table and set of columns, each row's key (a table is never changed once built)."""

_DISTINCT_SHARE: Final = 0.75
"""Compare distinct pairs only when at most this share of the pairs is distinct."""


def _row_keys(table: FeatureTable, columns: tuple[str, ...]) -> Rows:
    """Number each row by its codes on ``columns``: equal numbers, equal keys (kept per table).

    A column named ``"emails"`` or ``"phones"`` stands for the rows with several
    addresses or numbers (``table.emails``, ``table.phones``): each such row gets
    a number of its own.
    """
    kept = _TABLE_ROW_KEYS.setdefault(table, {})
    keys = kept.get(columns)
    if keys is None:
        keys = np.zeros(len(table), dtype=np.int64)
        for column in columns:
            if column in _SEVERAL:
                several = table.emails if column == "emails" else table.phones
                codes = np.full(len(table), -1, dtype=np.int64)
                codes[np.fromiter(several, dtype=np.int64, count=len(several))] = np.arange(
                    len(several)
                )
            else:
                codes = table.codes[column].astype(np.int64)
            combined = keys * (int(codes.max(initial=-1)) + 2) + codes + 1
            keys = np.unique(combined, return_inverse=True)[1].reshape(-1).astype(np.int64)
        kept[columns] = keys
    return keys


_SEVERAL: Final = frozenset({"emails", "phones"})


def _once_per_distinct_pair(
    table: FeatureTable,
    columns: tuple[str, ...],
    left: Rows,
    right: Rows,
    compare: Callable[[FeatureTable, Rows, Rows], Levels],
) -> Levels:
    """Run ``compare`` once per distinct pair of keys on ``columns`` (all it reads).

    One person's records repeat the same name, so the pairs between two
    people's records repeat the same two names: at a million rows, a
    name pair comes back about 2.5 times. A pair's level depends on its two
    rows' keys alone, so each distinct pair of keys is compared once.
    """
    if len(left) < _PARALLEL_FROM:
        return compare(table, left, right)
    keys = _row_keys(table, columns)
    pairs = keys[left] * (int(keys.max(initial=0)) + 1) + keys[right]
    distinct, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
    if len(distinct) > _DISTINCT_SHARE * len(pairs):
        return compare(table, left, right)
    levels: Levels = compare(table, left[first], right[first])[inverse.reshape(-1)]
    return levels


_NICKNAME_KEYS: Final[
    weakref.WeakKeyDictionary[FeatureTable, tuple[npt.NDArray[np.int64], int]]
] = weakref.WeakKeyDictionary()
"""Per table: what :func:`_nickname_keys` returns."""


_FEW_ROWS: Final = 512
"""A table this small is looked at name by name before any grouping by name."""

_AMBIGUOUS_PART: Final = re.compile("^(?:" + "|".join(sorted(AMBIGUOUS)) + ")")


def nickname_readings(family_first: str, given_first: str) -> frozenset[str]:
    """Return the name signatures a name that starts with an ambiguous nickname reads as.

    A name whose given-first or family-first key starts with a nickname of
    several names (``chris``: :data:`~crmcore.matching.nickname.AMBIGUOUS`)
    reads as each of them in its place; the signature is the sorted letters,
    as ``name_sig``. Empty for a name without one.

    >>> sorted(nickname_readings("youngchris", "chrisyoung"))
    ['acghiinnorstuy', 'ceghhinooprrstuy']
    >>> nickname_readings("youngwilliam", "williamyoung")
    frozenset()
    """
    out = set()
    for key in (given_first, family_first):
        for nickname, names in AMBIGUOUS.items():
            rest = key[len(nickname) :]
            if not rest or not key.startswith(nickname):
                continue
            for name in names:
                out.add("".join(sorted(name + rest)))
    return frozenset(out)


def _nickname_keys(table: FeatureTable) -> tuple[npt.NDArray[np.int64], int]:
    """Sorted ``row * width + code + 1`` of every ``name_sig`` code a row's name reads as.

    The readings of :func:`nickname_readings`, worked out once per distinct
    name and kept per table; readings no row's name holds are dropped.
    """
    kept = _NICKNAME_KEYS.get(table)
    if kept is not None:
        return kept
    ff, gf = table.values["name_ff"], table.values["name_gf"]
    if len(table) <= _FEW_ROWS and not any(
        _AMBIGUOUS_PART.match(name) for name in (*ff.tolist(), *gf.tolist())
    ):
        # An online query's few candidates: one look at each name settles most tables.
        kept = (np.zeros(0, dtype=np.int64), 0)
        _NICKNAME_KEYS[table] = kept
        return kept
    ff_codes = table.codes["name_ff"].astype(np.int64)
    gf_codes = table.codes["name_gf"].astype(np.int64)
    sig_codes = table.codes["name_sig"].astype(np.int64)
    width = int(sig_codes.max(initial=-1)) + 2
    rows = np.flatnonzero(ff_codes >= 0)
    names = ff_codes[rows] * (int(gf_codes.max(initial=-1)) + 2) + gf_codes[rows] + 1
    _, first, inverse = np.unique(names, return_index=True, return_inverse=True)
    readings: dict[int, frozenset[str]] = {}
    for k, row in enumerate(rows[first].tolist()):
        family_first, given_first = str(ff[row]), str(gf[row])
        if _AMBIGUOUS_PART.match(family_first) or _AMBIGUOUS_PART.match(given_first):
            found = nickname_readings(family_first, given_first)
            if found:
                readings[k] = found
    keys = np.zeros(0, dtype=np.int64)
    if readings:
        wanted = frozenset().union(*readings.values())
        sig_values = table.values["name_sig"]
        present, at = np.unique(sig_codes[sig_codes >= 0], return_index=True)
        holders = np.flatnonzero(sig_codes >= 0)[at]
        code_of = {
            value: int(code)
            for value, code in zip(sig_values[holders].tolist(), present.tolist(), strict=True)
            if value in wanted
        }
        by_name = {
            k: [code_of[value] + 1 for value in found if value in code_of]
            for k, found in readings.items()
        }
        by_name = {k: codes for k, codes in by_name.items() if codes}
        if by_name:
            inverse = inverse.reshape(-1)
            most = max(map(len, by_name.values()))
            padded = np.zeros((len(by_name) + 1, most), dtype=np.int64)  # row 0: none
            position = np.zeros(len(first), dtype=np.int64)
            for slot, (k, name_codes) in enumerate(by_name.items(), start=1):
                position[k] = slot
                padded[slot, : len(name_codes)] = name_codes
            where = position[inverse]
            hit = np.flatnonzero(where > 0)
            reads = padded[where[hit]]
            flat = (rows[hit][:, None] * width + reads)[reads > 0]
            keys = np.unique(flat)
    kept = (keys, width)
    _NICKNAME_KEYS[table] = kept
    return kept


def _nickname_reads(table: FeatureTable, left: Rows, right: Rows) -> npt.NDArray[np.bool_]:
    """Per pair: whether one name, its ambiguous nickname read as one of its names, is the other."""
    if not len(left):
        return np.zeros(0, dtype=bool)
    keys, width = _nickname_keys(table)
    if not len(keys):
        return np.zeros(len(left), dtype=bool)
    sig = table.codes["name_sig"]
    sig_left = sig[left].astype(np.int64) + 1
    sig_right = sig[right].astype(np.int64) + 1
    # Not two readings against each other: Christina and Christopher both start
    # with chris, and would read as each other's letters.
    found = np.isin(left * width + sig_right, keys) | np.isin(right * width + sig_left, keys)
    return np.asarray(found, dtype=bool)


_PART_LEFT_OUT: Final = "part left out"
_PARTS_LEFT_OUT: Final = "two parts left out"
_MIN_PART: Final = 3  # letters: a part left out is a name part, not a typo's dropped letter
_MIN_MIDDLE: Final = 2  # letters kept between two stretches cut out
_NO_PART: Final = 9


def _two_stretches(one: str, other: str) -> bool:
    """Tell whether the shorter string is the longer with two stretches cut out.

    The shorter keeps the longer's common prefix and suffix, and what lies
    between them (two letters or more) is found whole in the longer's middle.

    >>> _two_stretches("diazcarmen", "diazflorescarmenana")
    True
    >>> _two_stretches("diazcarmen", "diazfloresramonana")
    False
    """
    short, long = (one, other) if len(one) <= len(other) else (other, one)
    head = 0
    for x, y in zip(short, long, strict=False):
        if x != y:
            break
        head += 1
    tail = 0
    for x, y in zip(reversed(short), reversed(long), strict=False):
        if x != y or head + tail >= len(short):
            break
        tail += 1
    middle = short[head : len(short) - tail]
    return len(middle) >= _MIN_MIDDLE and middle in long[head : len(long) - tail]


def _left_out(one: list[str], other: list[str]) -> npt.NDArray[np.int8]:
    """Per pair: 1 if the shorter string is the longer with one stretch cut out, 2 if two, else 0.

    What is cut out is at least :data:`_MIN_PART` letters in all; for one
    stretch, the shorter keeps a prefix and a suffix of the longer (either may
    be empty) that together make the whole of it.
    """
    size = np.fromiter(map(len, one), dtype=np.int64, count=len(one))
    other_size = np.fromiter(map(len, other), dtype=np.int64, count=len(other))
    out = np.zeros(len(one), dtype=np.int8)
    rows = np.flatnonzero(np.abs(size - other_size) >= _MIN_PART)
    if not len(rows):
        return out
    a = [one[k] for k in rows.tolist()]
    b = [other[k] for k in rows.tolist()]
    shorter = np.minimum(size[rows], other_size[rows])
    head = _similarity(Prefix.similarity, a, b, cutoff=0)
    tail = _similarity(Postfix.similarity, a, b, cutoff=0)
    once = head + tail >= shorter
    out[rows[once]] = 1
    # Two stretches (what :func:`_two_stretches` tells, from the common prefix and
    # suffix already measured): two letters or more are left between them, the
    # shorter is a subsequence of the longer (an indel distance of the length
    # difference, in C++), and what lies between is found whole in the longer's
    # middle (checked in Python for those few).
    head_and_tail = head + tail
    rest = np.flatnonzero(~once & (shorter - head_and_tail >= _MIN_MIDDLE))
    if len(rest):
        gap = np.abs(size[rows[rest]] - other_size[rows[rest]])
        a_rest = [a[k] for k in rest.tolist()]
        b_rest = [b[k] for k in rest.tolist()]
        distance = _similarity(Indel.distance, a_rest, b_rest, cutoff=int(gap.max()))
        kept = np.flatnonzero(distance <= gap)
        twice = [
            _middle_inside(a_rest[k], b_rest[k], h, t)
            for k, h, t in zip(
                kept.tolist(),
                head[rest[kept]].astype(np.int64).tolist(),
                tail[rest[kept]].astype(np.int64).tolist(),
                strict=True,
            )
        ]
        out[rows[rest[kept[np.array(twice, dtype=bool)]]]] = 2
    return out


def _middle_inside(one: str, other: str, head: int, tail: int) -> bool:
    """Tell whether the shorter string's middle is found whole in the longer's.

    The middle is what lies between the common prefix (``head`` letters) and
    the common suffix (``tail`` letters, not overlapping the prefix): the rest
    of :func:`_two_stretches` once those are known.
    """
    short, long = (one, other) if len(one) <= len(other) else (other, one)
    return short[head : len(short) - tail] in long[head : len(long) - tail]


def _parts_left_out(table: FeatureTable, left: Rows, right: Rows) -> npt.NDArray[np.int8]:
    """Per pair: how many stretches one name leaves out of the other, in its best reading.

    Any key of one name against any key of the other: a full name's last word
    is read as its family name, which a double surname written in one field
    (Luis Gonzalez Garcia) is only in part. 0 when no reading leaves one or
    two stretches out; a name of one part (its two keys equal) leaves nothing
    to tell parts by and never counts.
    """
    ff, gf = table.codes["name_ff"], table.codes["name_gf"]
    best = np.zeros(len(left), dtype=np.int8)
    rows = np.flatnonzero((ff[left] != gf[left]) & (ff[right] != gf[right]))
    if not len(rows):
        return best
    one, other = left[rows], right[rows]
    ff_one, gf_one = _pick(table, "name_ff", one), _pick(table, "name_gf", one)
    ff_other, gf_other = _pick(table, "name_ff", other), _pick(table, "name_gf", other)
    readings = np.stack(
        [
            _left_out(ff_one, ff_other),
            _left_out(gf_one, gf_other),
            _left_out(ff_one, gf_other),
            _left_out(gf_one, ff_other),
        ]
    )
    readings[readings == 0] = _NO_PART
    fewest = readings.min(axis=0)  # the fewest stretches any reading leaves out
    best[rows] = np.where(fewest == _NO_PART, 0, fewest)
    return best


def name_cut_short(one: tuple[str, str], other: tuple[str, str]) -> bool:
    """Tell whether one name is the other with one or two parts left out, in any reading.

    Names are ``(family-first, given-first)`` name keys, read as the name
    comparison's *part left out* levels read them: a dropped middle name or a
    shortened double surname (Diego Flores of Diego Carlos Flores Romero). A
    name of one part (its two keys equal) never counts.

    >>> name_cut_short(("floresdiego", "diegoflores"),
    ...                ("romerodiegocarlosflores", "diegocarlosfloresromero"))
    True
    >>> name_cut_short(("floresdiego", "diegoflores"), ("floresana", "anaflores"))
    False
    """
    (ff, gf), (off, ogf) = one, other
    # Both keys of a name hold the same letters: one length tells every reading's.
    if ff == gf or off == ogf or abs(len(ff) - len(off)) < _MIN_PART:
        return False
    return bool(_left_out([ff, gf, ff, gf], [off, ogf, ogf, off]).any())


def _any_shared(
    levels: Levels,
    *,
    left: Rows,
    right: Rows,
    extra: dict[int, tuple[str, ...]] | None,
    table: FeatureTable,
    column: str,
) -> None:
    """Raise to *exact* the pairs sharing any value when either row has several."""
    if not extra:
        return
    values = table.values[column]
    many = np.zeros(len(table), dtype=bool)
    many[np.fromiter(extra.keys(), dtype=np.int64)] = True
    hit = np.flatnonzero(many[left] | many[right])
    for k in hit.tolist():
        a, b = int(left[k]), int(right[k])
        mine = extra.get(a) or ((values[a],) if values[a] else ())
        theirs = extra.get(b) or ((values[b],) if values[b] else ())
        if set(mine) & set(theirs):
            levels[k] = 1


def _shared_or_one_edit(
    table: FeatureTable,
    column: str,
    extra: dict[int, tuple[str, ...]],
    left: Rows,
    right: Rows,
) -> Levels:
    """Level pairs of a multi-valued column: any shared value, one edit apart, or different."""
    levels, todo = _base(table, column, left, right)
    distance = _similarity(
        OSA.distance, _pick(table, column, left[todo]), _pick(table, column, right[todo]), cutoff=1
    )
    levels[todo] = np.where(distance <= 1, 2, 3).astype(np.int8)
    _any_shared(levels, left=left, right=right, extra=extra, table=table, column=column)
    return levels


@attrs.frozen
class EmailComparison(Comparison):
    """Canonical emails (case, ``+tag`` and gmail dots folded).

    Levels: *exact* (any shared address), *one edit apart* (a typo),
    *different*. A mailbox name on another domain is not evidence enough on
    its own (``ereed@`` is common at every company); blocking uses it.

    Args:
        name: The comparison's name in explanations.
        term_frequency: Weigh an exact match on an address many records share less.
    """

    name: str = "email"
    term_frequency: bool = attrs.field(default=True, kw_only=True)

    @property
    def tf_column(self) -> str | None:  # type: ignore[override]
        """``email`` when term frequencies are used (a shared info@ address weighs less)."""
        return "email" if self.term_frequency else None

    @property
    def exact_column(self) -> str:
        """``email``."""
        return "email"

    @property
    def columns(self) -> frozenset[str]:
        """``email`` and ``email_user``."""
        return frozenset({"email", "email_user"})

    @property
    def level_labels(self) -> tuple[str, ...]:
        """``exact``, ``one edit apart``, ``different``."""
        return ("exact", "one edit apart", "different")

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the email level of every pair."""
        return _once_per_distinct_pair(table, ("email", "emails"), left, right, _email_levels)


@attrs.frozen
class PhoneComparison(Comparison):
    """E.164 phones: *exact* (any shared number), *one digit off*, *different*.

    Args:
        name: The comparison's name in explanations.
        term_frequency: Weigh an exact match on a number many records share less.
    """

    name: str = "phone"
    term_frequency: bool = attrs.field(default=True, kw_only=True)

    @property
    def tf_column(self) -> str | None:  # type: ignore[override]
        """``phone`` when term frequencies are used (a switchboard number weighs less)."""
        return "phone" if self.term_frequency else None

    @property
    def exact_column(self) -> str:
        """``phone``."""
        return "phone"

    @property
    def level_labels(self) -> tuple[str, ...]:
        """``exact``, ``one digit off``, ``different``."""
        return ("exact", "one digit off", "different")

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the phone level of every pair."""
        return _once_per_distinct_pair(table, ("phone", "phones"), left, right, _phone_levels)


def _email_levels(table: FeatureTable, left: Rows, right: Rows) -> Levels:
    return _shared_or_one_edit(table, "email", dict(table.emails), left, right)


def _phone_levels(table: FeatureTable, left: Rows, right: Rows) -> Levels:
    return _shared_or_one_edit(table, "phone", dict(table.phones), left, right)


@attrs.frozen
class CompanyComparison(Comparison):
    """Company names without legal suffixes (Inc, GmbH, 有限公司 …).

    Levels: *exact*, *same core name* (industry words such as 科技 or
    Technologies dropped too), *token-set ≥ t* …, *different*.

    Args:
        thresholds: Token-set similarities, strongest first.
        name: The comparison's name in explanations.
        term_frequency: Weigh an exact match on a common company less.
        within: A column whose equal values the exact level's u is counted
            within, as for :class:`ExactMatch` (``"country"``: two people of one
            country work at one company more often than two random records).
    """

    thresholds: tuple[float, ...] = attrs.field(default=(0.9,), converter=_check_thresholds)
    name: str = "company"
    term_frequency: bool = attrs.field(default=True, kw_only=True)
    within: str | None = attrs.field(default=None, kw_only=True)

    @property
    def tf_column(self) -> str | None:  # type: ignore[override]
        """``company`` when term frequencies are used."""
        return "company" if self.term_frequency else None

    @property
    def exact_column(self) -> str:
        """``company``."""
        return "company"

    @property
    def columns(self) -> frozenset[str]:
        """``company`` and ``company_core``."""
        return frozenset({"company", "company_core"})

    @property
    def level_labels(self) -> tuple[str, ...]:
        """``exact``, ``same core name``, token-set bands, ``different``."""
        return ("exact", "same core name", *_labels_at("similarity ≥", self.thresholds)[1:])

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the company level of every pair."""
        levels, todo = _base(table, "company", left, right)
        core = table.codes["company_core"]
        same_core = core[left[todo]] == core[right[todo]]
        levels[todo[same_core]] = 2
        todo = todo[~same_core]
        score = _similarity(
            JaroWinkler.normalized_similarity,
            _pick(table, "company", left[todo]),
            _pick(table, "company", right[todo]),
            cutoff=self.thresholds[-1],
        )
        out = np.full(len(todo), len(self.thresholds) + 3, dtype=np.int8)
        for k in range(len(self.thresholds) - 1, -1, -1):
            out[score >= self.thresholds[k]] = k + 3
        levels[todo] = out
        return levels


@attrs.frozen
class DateOfBirthComparison(Comparison):
    """Birth dates: *exact*, *two of year, month and day equal*, *different*.

    A swapped day and month counts as the middle level too.

    Args:
        name: The comparison's name in explanations.
    """

    name: str = "birth_date"
    tf_column: str | None = attrs.field(default=None, init=False)

    @property
    def exact_column(self) -> str:
        """``birth``."""
        return "birth"

    @property
    def columns(self) -> frozenset[str]:
        """``birth`` and ``birth_year``."""
        return frozenset({"birth", "birth_year"})

    @property
    def level_labels(self) -> tuple[str, ...]:
        """``exact``, ``two of three parts``, ``different``."""
        return ("exact", "two of three parts", "different")

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the birth-date level of every pair."""
        levels, todo = _base(table, "birth", left, right)
        a = np.array(_pick(table, "birth", left[todo]), dtype=np.int64)
        b = np.array(_pick(table, "birth", right[todo]), dtype=np.int64)
        ya, ma, da = a // 10_000, a // 100 % 100, a % 100
        yb, mb, db = b // 10_000, b // 100 % 100, b % 100
        same = (ya == yb).astype(int) + (ma == mb) + (da == db)
        swapped = (ya == yb) & (ma == db) & (da == mb)
        levels[todo] = np.where((same >= 2) | swapped, 2, 3).astype(np.int8)
        return levels


ROLE_MAILBOXES: Final = frozenset(
    {
        "accounts", "admin", "billing", "contact", "enquiries", "enquiry", "hello", "help",
        "hr", "info", "jobs", "mail", "marketing", "office", "orders", "press", "reception",
        "sales", "service", "support", "team",
    }
)  # fmt: skip
"""Local parts that name a function, not a person (``info@``, ``sales@``): shared mailboxes."""


def is_role_mailbox(address: str) -> bool:
    """Tell whether an email key is a role mailbox (``info@``, ``sales@``), not a person's.

    >>> is_role_mailbox("info@acme.com"), is_role_mailbox("wei.zhang@acme.com")
    (True, False)
    """
    return str(address).rpartition("@")[0] in ROLE_MAILBOXES


_EMAIL_SLOTS: Final = 3  # addresses of each record looked at, the primary one first


def _mailbox_letters(local: str) -> str:
    """The letters of a local part: what a typo changes (digits and separators are not typos)."""
    return "".join(ch for ch in local if ch.isalpha())


def numbered_mailboxes(table: FeatureTable, left: Rows, right: Rows) -> npt.NDArray[np.bool_]:
    """Per pair: whether the records give two mailboxes at one domain numbered apart.

    Two different mailboxes at one domain whose names differ only in digits
    or separators (``wei.han@`` and ``wei.han9@``, ``bjoern.meyer@`` and
    ``bjoern_meyer@``): how an organisation tells two namesakes' mailboxes
    apart, not one person's two.

    >>> from crmcore.matching import MatchRecord, build_features
    >>> records = [MatchRecord(id="a", full_name="Wei Han", emails=["wei.han@acme.cn"]),
    ...            MatchRecord(id="b", full_name="Wei Han", emails=["wei.han9@acme.cn"]),
    ...            MatchRecord(id="c", full_name="Wei Han", emails=["whan@acme.cn"]),
    ...            MatchRecord(id="d", full_name="Wei Han", emails=["422174560@qq.com"]),
    ...            MatchRecord(id="e", full_name="Wei Han", emails=["1264355099@qq.com"])]
    >>> table = build_features(records, workers=1)
    >>> numbered_mailboxes(table, np.array([0, 0, 3]), np.array([1, 2, 4])).tolist()
    [True, False, False]
    """
    out = np.zeros(len(left), dtype=bool)
    email = table.values["email"]
    both = np.flatnonzero((table.codes["email"][left] >= 0) & (table.codes["email"][right] >= 0))
    for k in both.tolist():
        a, b = int(left[k]), int(right[k])
        mine = table.emails.get(a) or (str(email[a]),)
        theirs = table.emails.get(b) or (str(email[b]),)
        if set(mine) & set(theirs):
            continue
        out[k] = any(_numbered_apart(x, y) for x in mine for y in theirs)
    return out


def _numbered_apart(mine: str, theirs: str) -> bool:
    """Tell whether two mailboxes at one domain have one name and differ in digits or separators.

    A mailbox of digits only (a QQ number) has no name to number: two are just two.
    """
    local, _, domain = mine.rpartition("@")
    other_local, _, other_domain = theirs.rpartition("@")
    letters = _mailbox_letters(local)
    return (
        domain == other_domain
        and len(letters) >= _MIN_MIDDLE
        and letters == _mailbox_letters(other_local)
    )


def _email_parts(
    table: FeatureTable, rows: Rows
) -> tuple[Rows, npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]:
    """Per distinct row among ``rows``: up to a few personal mailbox names, as codes.

    Returns the position of each of ``rows`` among the rows coded, the
    local-part codes of their addresses (``-1`` for padding and for role
    mailboxes such as ``info@``), the domain codes of the same addresses
    (``-1`` where the local part is), and the local part of each code. When
    the pairs reach a good share of the table (a batch run, chunk after
    chunk), every row of the table is coded once and kept with the table.
    """
    parts = _TABLE_EMAIL_PARTS.get(table)
    if parts is not None or len(rows) * _ALL_ROWS_SHARE >= len(table):
        if parts is None:
            parts = _email_codes(table, np.arange(len(table), dtype=np.int64))
            _TABLE_EMAIL_PARTS[table] = parts
        local, domain, texts = parts
        return rows.astype(np.int64), local, domain, texts
    distinct, position = np.unique(rows, return_inverse=True)
    local, domain, texts = _email_codes(table, distinct.astype(np.int64))
    return position.astype(np.int64).reshape(-1), local, domain, texts


_ALL_ROWS_SHARE: Final = 4
"""Code every row of a table when a call's pair sides reach a quarter of its rows."""

_TABLE_EMAIL_PARTS: Final[
    weakref.WeakKeyDictionary[
        FeatureTable, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]
    ]
] = weakref.WeakKeyDictionary()
"""Every row's mailbox codes, per table (a table is never changed once built)."""


def _email_codes(
    table: FeatureTable, rows: Rows
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]:
    """The local-part and domain codes of ``rows``' first few addresses, one row each.

    A row with one address reads it once per distinct address (through its
    code); a row with several reads them one by one.
    """
    values = table.values["email"]
    extra = table.emails
    codes: dict[str, int] = {}
    domains: dict[str, int] = {}
    local = np.full((len(rows), _EMAIL_SLOTS), -1, dtype=np.int64)
    domain = np.full((len(rows), _EMAIL_SLOTS), -1, dtype=np.int64)
    several = np.zeros(len(table), dtype=bool)
    several[np.fromiter(extra, dtype=np.int64, count=len(extra))] = True
    address_codes = table.codes["email"][rows]
    single = np.flatnonzero(~several[rows] & (address_codes >= 0))
    _, first, inverse = np.unique(address_codes[single], return_index=True, return_inverse=True)
    found_local: list[int] = []
    found_domain: list[int] = []
    for address in values[rows[single[first]]].tolist():
        name, _, host = str(address).rpartition("@")
        if name and name not in ROLE_MAILBOXES:
            found_local.append(codes.setdefault(name, len(codes)))
            found_domain.append(domains.setdefault(host, len(domains)) if host else -1)
        else:
            found_local.append(-1)
            found_domain.append(-1)
    inverse = inverse.reshape(-1)
    local[single, 0] = np.array(found_local, dtype=np.int64)[inverse]
    domain[single, 0] = np.array(found_domain, dtype=np.int64)[inverse]
    for k in np.flatnonzero(several[rows]).tolist():
        for slot, address in enumerate(extra[int(rows[k])][:_EMAIL_SLOTS]):
            name, _, host = str(address).rpartition("@")
            if name and name not in ROLE_MAILBOXES:
                local[k, slot] = codes.setdefault(name, len(codes))
                if host:
                    domain[k, slot] = domains.setdefault(host, len(domains))
    return local, domain, list(codes)


def _personal(addresses: tuple[str, ...]) -> list[tuple[str, str]]:
    """The (local part, domain) of a record's first few addresses, role mailboxes left out."""
    out = []
    for address in addresses[:_EMAIL_SLOTS]:
        local, _, host = str(address).rpartition("@")
        if local and local not in ROLE_MAILBOXES:
            out.append((local, host))
    return out


_FEW_PAIRS: Final = 64


def _mailbox_level(table: FeatureTable, one: int, other: int) -> int:
    """Level 3, 4 or 5 of one pair of rows sharing no address (as the many-pairs path finds it)."""
    values, extra = table.values["email"], table.emails
    mine = _personal(extra.get(one, (values[one],)))
    theirs = _personal(extra.get(other, (values[other],)))
    ff, gf = table.values["name_ff"], table.values["name_gf"]
    own = (str(ff[one]), str(gf[one]), str(ff[other]), str(gf[other]))
    for local in {m for m, _ in mine} & {t for t, _ in theirs}:
        if not _mentions_name(_mailbox_letters(local), own):
            return 3
    if {d for _, d in mine if d} & {d for _, d in theirs if d}:
        return 5
    return 4


def _from_name(letters: str, names: tuple[str, ...]) -> bool:
    """Tell whether a local part's letters are a usual form of one of ``names``.

    ``names`` are name keys written given-first and family-first (letters
    only); the forms are the whole name, a prefix of it (``wei``, ``weiz``)
    and an initial followed by the rest's tail (``wzhang``).
    """
    if len(letters) < 2:
        return False
    for name in names:
        if not name:
            continue
        if name.startswith(letters) or (letters[0] == name[0] and name.endswith(letters[1:])):
            return True
    return False


def _whole_form(letters: str, names: tuple[str, ...]) -> bool:
    """Tell whether a local part's letters are a whole usual form of a name, not cut short.

    ``names`` are a name's keys, family-first then given-first. The forms: a
    part of the name, both parts in either order, and one part with the
    other's initial before or after it (``wei``, ``weizhang``, ``weiz``, ``wzhang``).

    >>> wei = ("zhangwei", "weizhang")
    >>> _whole_form("weiz", wei), _whole_form("zhangw", wei), _whole_form("we", wei)
    (True, True, False)
    >>> _whole_form("stewartda", ("stewartdaniel", "danielstewart"))
    False
    """
    if len(names) < 2 or not names[0] or not names[1]:
        return False
    parts = _name_parts(names[1], names[0])
    if len(parts) != 2:  # given and family
        return letters in names
    given, family = parts
    forms = {
        given,
        family,
        given + family,
        family + given,
        given + family[0],
        family + given[0],
        given[0] + family,
        family[0] + given,
    }
    return letters in forms


def _name_parts(given_first: str, family_first: str) -> tuple[str, ...]:
    """Split a name back into its parts from its two orders (``weizhang``, ``zhangwei``)."""
    for cut in range(1, len(family_first)):
        family, given = family_first[:cut], family_first[cut:]
        if given_first == given + family:
            return (given, family)
    return (given_first,)


_PINYIN_SYLLABLES: Final = frozenset(
    "a ai an ang ao ba bai ban bang bao bei ben beng bi bian biang biao bie bin bing bo bong "
    "bu ca cai can cang cao ce cei cen ceng cha chai chan chang chao che chen cheng chi chong "
    "chou chu chua chuai chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai "
    "dan dang dao de dei den deng di dia dian diao die din ding diu dong dou du duan dui dun "
    "duo e ei en eng er fa fan fang fei fen feng fiao fo fou fu ga gai gan gang gao ge gei "
    "gen geng gong gou gu gua guai guan guang gui gun guo ha hai han hang hao he hei hen heng "
    "hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao jie jin jing jiong "
    "jiu ju juan jue jun ka kai kan kang kao ke kei ken keng kong kou ku kua kuai kuan kuang "
    "kui kun kuo la lai lan lang lao le lei len leng li lia lian liang liao lie lin ling liu "
    "lo long lou lu luan lue lun luo ma mai man mang mao me mei men meng mi mian miao mie min "
    "ming miu mo mou mu na nai nan nang nao ne nei nen neng ni nia nian niang niao nie nin "
    "ning niu nong nou nu nuan nue nun nuo o ou pa pai pan pang pao pei pen peng pi pian piao "
    "pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong qiu qu quan que qun ran "
    "rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa sai san sang sao se sen seng "
    "sha shai shan shang shao she shei shen sheng shi shou shu shua shuai shuan shuang shui "
    "shun shuo si song sou su suan sui sun suo ta tai tan tang tao te tei teng ti tian tiao "
    "tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wong wu xi xia "
    "xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo "
    "yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao "
    "zhe zhei zhen zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong "
    "zou zu zuan zui zun zuo".split()
)

ENGLISH_NAME: Final = "English given name, same family name"
"""The name level of a Chinese name and the same family name with an English given name."""

_MIN_ENGLISH: Final = 3  # letters of an English given name: shorter ones are initials or typos


def _trie_pattern(words: Iterable[str]) -> str:
    """A regular expression matching exactly ``words``, their common prefixes factored out.

    Python's ``re`` tries the branches of an alternation one by one: 400
    syllables side by side cost 400 tries a letter; as a trie, a few.

    >>> _trie_pattern(["a", "ai", "an", "ang", "ba"])
    '(?:a(?:i|n(?:g)?)?|ba)'
    """
    by_first: dict[str, list[str]] = {}
    ends = False
    for word in words:
        if word:
            by_first.setdefault(word[0], []).append(word[1:])
        else:
            ends = True
    branches = [
        re.escape(first) + (_trie_pattern(rests) if rests != [""] else "")
        for first, rests in sorted(by_first.items())
    ]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 and not ends else "(?:" + "|".join(branches) + ")"
    return body + "?" if ends else body


_PINYIN: Final = re.compile("(?:" + _trie_pattern(_PINYIN_SYLLABLES) + ")+")


def _pinyin(text: str) -> bool:
    """Tell whether ``text`` is one or more pinyin syllables (``wei``, ``xiaoming``).

    >>> _pinyin("xiaoming"), _pinyin("zhang"), _pinyin("david"), _pinyin("")
    (True, True, False, False)
    """
    return _PINYIN.fullmatch(text) is not None


@functools.lru_cache(maxsize=1 << 16)
def _name_kind(family_first: str, given_first: str) -> tuple[int, tuple[str, ...]]:
    """(kind, parts) of a name: 1 all pinyin, 2 one pinyin part and one English, else 0."""
    parts = _name_parts(given_first, family_first)
    if len(parts) != 2:  # a given name and a family name, or no reading
        return 0, parts
    given, family = parts
    if _pinyin(given) and _pinyin(family):
        return 1, parts
    english = family if _pinyin(given) else given
    if _pinyin(given) != _pinyin(family) and len(english) >= _MIN_ENGLISH:
        return 2, parts
    return 0, parts


def english_name_reading(one: tuple[str, str], other: tuple[str, str]) -> bool:
    """Tell whether two names read as one Chinese person's name and English name.

    Names are ``(family-first, given-first)`` name keys. One is all pinyin (a
    Chinese name, 王伟 = ``wangwei``); the other keeps one of its parts and
    gives, for the other part, letters that are no pinyin (David Wang). The
    reading is symmetric and never holds for two Chinese names (王伟 and 王芳:
    a family) or two English ones (Michael and Margaret Wilson).

    >>> english_name_reading(("wangwei", "weiwang"), ("wangdavid", "davidwang"))
    True
    >>> english_name_reading(("wangwei", "weiwang"), ("wangfang", "fangwang"))
    False
    >>> english_name_reading(("wilsonmichael", "michaelwilson"),
    ...                      ("wilsonmargaret", "margaretwilson"))
    False
    """
    kind, parts = _name_kind(*one)
    other_kind, other_parts = _name_kind(*other)
    if {kind, other_kind} != {1, 2}:
        return False
    chinese, english = (parts, other_parts) if kind == 1 else (other_parts, parts)
    return any(part in chinese and len(part) >= 2 for part in english if _pinyin(part))


_NAME_KINDS: Final[weakref.WeakKeyDictionary[FeatureTable, npt.NDArray[np.int8]]] = (
    weakref.WeakKeyDictionary()
)
"""Per table and ``name_ff`` code: 1 all pinyin, 2 mixed, 0 neither, -1 unknown, -2 not 1."""


def _kinds(table: FeatureTable, rows: Rows, *, mixed: bool) -> npt.NDArray[np.int8]:
    """The name kind of ``rows``: whether all pinyin (cheap), and with ``mixed`` whether mixed."""
    codes = table.codes["name_ff"].astype(np.int64)
    kind = _NAME_KINDS.get(table)
    if kind is None:
        kind = np.full(int(codes.max(initial=-1)) + 2, -1, dtype=np.int8)
        kind[0] = 0  # no name
        _NAME_KINDS[table] = kind
    ff, gf = table.values["name_ff"], table.values["name_gf"]
    unknown = rows[kind[codes[rows] + 1] == -1]
    if len(unknown):
        _, first = np.unique(codes[unknown], return_index=True)
        todo = unknown[first]
        kind[codes[todo] + 1] = [1 if _pinyin(a) else -2 for a in ff[todo].tolist()]
    if mixed:
        open_ = rows[kind[codes[rows] + 1] == -2]
        if len(open_):
            _, first = np.unique(codes[open_], return_index=True)
            todo = open_[first]
            kind[codes[todo] + 1] = [
                2 if _name_kind(a, b)[0] == 2 else 0
                for a, b in zip(ff[todo].tolist(), gf[todo].tolist(), strict=True)
            ]
    return kind[codes[rows] + 1]


def _english_names(table: FeatureTable, left: Rows, right: Rows) -> npt.NDArray[np.bool_]:
    """:func:`english_name_reading` of every pair (only a pinyin and a mixed name can)."""
    out = np.zeros(len(left), dtype=bool)
    if not len(left):
        return out
    # All-pinyin names first (one regular expression each), then the mixed test only
    # for the other side of a pair with one: most pairs have none, or two.
    one = _kinds(table, left, mixed=False) == 1
    other = _kinds(table, right, mixed=False) == 1
    half = np.flatnonzero(one != other)
    if not len(half):
        return out
    rest = np.where(one[half], right[half], left[half])
    candidates = half[_kinds(table, rest, mixed=True) == 2]
    ff, gf = table.values["name_ff"], table.values["name_gf"]
    for k in candidates.tolist():
        a, b = int(left[k]), int(right[k])
        out[k] = english_name_reading((str(ff[a]), str(gf[a])), (str(ff[b]), str(gf[b])))
    return out


_UMLAUT_FORMS: Final[weakref.WeakKeyDictionary[FeatureTable, dict[int, tuple[str, str]]]] = (
    weakref.WeakKeyDictionary()
)
"""Per table: ``name_ff`` code → both keys with ue/oe/ae folded (``("", "")``: no digraph)."""

_NO_DIGRAPH: Final = ("", "")


def _umlaut_forms(table: FeatureTable, rows: Rows) -> list[tuple[str, str]]:
    """Per row, its two name keys with ue, oe and ae folded, or ``("", "")`` if it holds none.

    All-pinyin names hold none (``xue`` is a syllable of its own). Worked out once
    per distinct name and kept per table.
    """
    forms = _UMLAUT_FORMS.setdefault(table, {})
    codes = table.codes["name_ff"][rows].tolist()
    todo = [k for k, code in enumerate(codes) if code not in forms]
    if todo:
        at = rows[todo]
        ff = table.values["name_ff"][at].tolist()
        gf = table.values["name_gf"][at].tolist()
        pinyin = (_kinds(table, at, mixed=False) == 1).tolist()
        for k, family_first, given_first, all_pinyin in zip(todo, ff, gf, pinyin, strict=True):
            text = str(family_first)
            digraph = "ae" in text or "oe" in text or "ue" in text
            forms[codes[k]] = (
                (_fold_umlauts(text), _fold_umlauts(str(given_first)))
                if digraph and not all_pinyin
                else _NO_DIGRAPH
            )
    return [forms[code] for code in codes]


def _umlaut_reads(table: FeatureTable, left: Rows, right: Rows) -> npt.NDArray[np.bool_]:
    """Per pair: whether the two names are one once ue, oe and ae are read as u, o and a.

    One of the two holds a digraph and neither is all pinyin; either name order.
    """
    out = np.zeros(len(left), dtype=bool)
    if not len(left):
        return out
    one, other = _umlaut_forms(table, left), _umlaut_forms(table, right)
    rows = [k for k, (a, b) in enumerate(zip(one, other, strict=True)) if a[0] or b[0]]
    if not rows:
        return out
    at = np.array(rows, dtype=np.int64)
    ff, gf = table.values["name_ff"], table.values["name_gf"]
    pinyin = (_kinds(table, left[at], mixed=False) == 1) | (
        _kinds(table, right[at], mixed=False) == 1
    )
    for k, skip in zip(rows, pinyin.tolist(), strict=True):
        if skip:
            continue
        # A name without a digraph folds to itself: its keys are read as they are.
        mine = one[k] if one[k][0] else (str(ff[left[k]]), str(gf[left[k]]))
        theirs = other[k] if other[k][0] else (str(ff[right[k]]), str(gf[right[k]]))
        out[k] = mine[0] in theirs or mine[1] in theirs
    return out


def _fold_umlauts(text: str) -> str:
    """``guenter`` and ``gunter`` alike (mailboxes write ü as ue, name keys drop the dots)."""
    return text.replace("ae", "a").replace("oe", "o").replace("ue", "u")


def _nicknames_of() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for nickname, name in NICKNAMES.items():
        if len(nickname) >= _MIN_PART:
            out.setdefault(name, []).append(nickname)
    return {name: tuple(sorted(found)) for name, found in out.items()}


_NICKNAMES_OF: Final = _nicknames_of()
"""Full given name → its nicknames of three letters or more (``stephen``: steve, steven …)."""


def _mentions_name(letters: str, names: tuple[str, ...]) -> bool:
    """Tell whether a mailbox name only repeats a person's name (``trish.anderson``, ``guenter``).

    ``names`` holds pairs of name keys, family-first then given-first. A
    usual form of the name (see :func:`_from_name`), or any part of the
    name of three letters or more inside it, or nothing but letters of the
    name, counts; umlauts written as ``ue`` count as ``u``.

    >>> _mentions_name("danli", ("lidaniel", "danielli"))
    True
    >>> _mentions_name("coolbo", ("libo", "boli"))
    False
    >>> _mentions_name("steven", ("brownstephen", "stephenbrown"))
    True
    """
    folded = _fold_umlauts(letters)
    return any(
        _mentions_one(folded, family_first, given_first)
        for family_first, given_first in zip(names[::2], names[1::2], strict=True)
    )


def _mentions_one(folded: str, family_first: str, given_first: str) -> bool:
    """:func:`_mentions_name` for one name, the mailbox letters' umlauts folded."""
    forms = (_fold_umlauts(family_first), _fold_umlauts(given_first))
    if _from_name(folded, forms):
        return True
    if folded and collections.Counter(folded) <= collections.Counter(forms[0]):
        # Only the name's own letters (``dan.li`` of Daniel Li, whose key
        # holds the nickname's full form; ``xinyi.liu`` of Liu Xin Yi, whose
        # last word was read as the family name).
        return True
    parts = _name_parts(forms[1], forms[0])
    if any(len(part) >= 3 and part in folded for part in parts):
        return True
    # The name with a part written as one of its nicknames (``steve.brown``, ``stevenw``
    # of Stephen Brown, whose name key holds the full form) is the name too.
    for part in parts:
        for nickname in _NICKNAMES_OF.get(part, ()):
            written = (forms[0].replace(part, nickname, 1), forms[1].replace(part, nickname, 1))
            if _from_name(folded, written) or collections.Counter(folded) <= collections.Counter(
                written[0]
            ):
                return True
    return False


def _names_mentioned(
    table: FeatureTable, codes: npt.NDArray[np.int64], texts: list[str], one: Rows, other: Rows
) -> npt.NDArray[np.bool_]:
    """Per shared mailbox name: whether it only repeats either holder's name.

    What :func:`_mentions_name` tells for ``texts[codes[k]]`` and the names of
    rows ``one[k]`` and ``other[k]``, worked out once per distinct mailbox
    name and name (a row is in many pairs, a name in many rows).
    """
    ff, gf = table.codes["name_ff"].astype(np.int64), table.codes["name_gf"].astype(np.int64)
    rows = np.r_[one, other]
    width = int(gf.max(initial=-1)) + 2
    _, name = np.unique(ff[rows] * width + gf[rows] + 1, return_inverse=True)
    name = name.reshape(-1)
    names = int(name.max(initial=0)) + 1
    key = np.r_[codes, codes] * names + name
    distinct, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    ff_text, gf_text = table.values["name_ff"], table.values["name_gf"]
    mailboxes = (distinct // names).tolist()
    folded = {code: _fold_umlauts(_mailbox_letters(texts[code])) for code in set(mailboxes)}
    said = np.array(
        [
            _mentions_one(folded[code], str(ff_text[row]), str(gf_text[row]))
            for code, row in zip(mailboxes, rows[first].tolist(), strict=True)
        ],
        dtype=bool,
    )[inverse.reshape(-1)]
    return np.asarray(said[: len(codes)] | said[len(codes) :], dtype=bool)


def _namesakes(
    mine: str, theirs: str, my_name: tuple[str, ...], their_name: tuple[str, ...]
) -> bool:
    """Tell whether two addresses one edit apart are two people's mailboxes, not a typo.

    They are when they differ only in digits or separators (``wei.han@``,
    ``wei.han9@``: how mail systems number namesakes; ``acme24.cn``,
    ``acme25.cn``: two domains), or
    when each is named after its own holder and not after the other
    (``annam@`` of Anna Meyer, ``annak@`` of Anna Koehler).
    """
    local, _, domain = mine.rpartition("@")
    other_local, _, other_domain = theirs.rpartition("@")
    letters, other_letters = _mailbox_letters(local), _mailbox_letters(other_local)
    if letters == other_letters and _mailbox_letters(domain) == _mailbox_letters(other_domain):
        return True  # only digits or separators differ: numbered mailboxes or domains
    if (
        letters != other_letters
        and _whole_form(letters, my_name)
        and _whole_form(other_letters, their_name)
    ):
        # ``wei@`` and ``weiz@``: an organisation's mailboxes for two namesakes
        # (the second one gets an initial more). A typo seldom turns one whole
        # form of a name into another; it cuts one short (``stewartda@``).
        return True
    return (
        _from_name(letters, my_name)
        and _from_name(other_letters, their_name)
        and not (_from_name(letters, their_name) and _from_name(other_letters, my_name))
    )


@attrs.frozen
class MailboxComparison(EmailComparison):
    """Emails, telling "another mailbox" from "another person".

    People keep several mailboxes — work and personal, an old employer's —
    so two records of one person often show different addresses: weak
    evidence against a match, learnt as such. Levels:

    1. *exact*: any shared address;
    2. *one edit apart*: a typo in the letters (a digit or a separator more
       is a namesake's numbered mailbox or another domain, and ``annam@`` / ``annak@`` of Anna
       Meyer and Anna Koehler are two mailboxes named after their holders:
       neither is a typo);
    3. *same mailbox name, another domain*: ``coolarj2620@`` at two
       providers — but not a mailbox named after the person
       (``wei.zhang@``), which only repeats the name comparison;
    4. *another mailbox*: anything else (work and personal, a role
       mailbox such as ``info@``);
    5. *another mailbox at the same domain*: both records give a personal
       mailbox at one domain, and the mailboxes differ
       (``hyunwoo.jung@lakeside.com`` and ``hyunwooj@lakeside.com``). An
       organisation gives each employee one mailbox, and a person seldom keeps
       two at one provider, so this is two people more often than one: the
       colleague or the namesake, not the person's other mailbox. Role
       mailbox names (``info@``) never count.

    Up to three addresses of each record are looked at. It reads the columns
    :class:`EmailComparison` reads, with the same exact column and term frequencies.

    Args:
        name: The comparison's name in explanations.
        term_frequency: Weigh an exact match on an address many records share less.
    """

    @property
    def level_labels(self) -> tuple[str, ...]:
        """Strongest first; the last is "another mailbox"."""
        return (
            "exact",
            "one edit apart",
            "same mailbox name, another domain",
            "another mailbox",
            "another mailbox at the same domain",
        )

    @property
    def weaker_levels(self) -> dict[int, int]:
        """Another mailbox at the same domain is never better evidence than another mailbox.

        Pairs at one domain are mostly colleagues, who agree on their company
        and city; EM, counting those agreements as independent, would
        otherwise learn the level as evidence *for* a match.
        """
        return {5: 4}

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        """Return the email level of every pair."""
        return _once_per_distinct_pair(
            table, ("email", "emails", "name_ff", "name_gf"), left, right, self._compare
        )

    def _compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        levels = _shared_or_one_edit(table, "email", dict(table.emails), left, right)
        # _shared_or_one_edit gives 1 shared, 2 one edit, 3 different.
        typo = np.flatnonzero(levels == 2)
        if len(typo):
            a = _pick(table, "email", left[typo])
            b = _pick(table, "email", right[typo])
            ff, gf = table.values["name_ff"], table.values["name_gf"]
            namesake = np.array(
                [
                    _namesakes(x, y, (str(ff[i]), str(gf[i])), (str(ff[j]), str(gf[j])))
                    for x, y, i, j in zip(
                        a, b, left[typo].tolist(), right[typo].tolist(), strict=True
                    )
                ],
                dtype=bool,
            )
            levels[typo[namesake]] = 3
        todo = np.flatnonzero(levels == 3)
        out = np.full(len(todo), 4, dtype=np.int8)
        if 0 < len(todo) < _FEW_PAIRS:
            # A handful of pairs (an online lookup): plain Python is quicker.
            levels[todo] = [
                _mailbox_level(table, int(left[k]), int(right[k])) for k in todo.tolist()
            ]
            return levels
        if len(todo):
            rows = np.r_[left[todo], right[todo]]
            position, local, domain, texts = _email_parts(table, rows)
            p_left = position[: len(todo)]
            p_right = position[len(todo) :]
            hit_at: list[Rows] = []
            hit_code: list[npt.NDArray[np.int64]] = []
            same_domain = np.zeros(len(todo), dtype=bool)
            for i in range(_EMAIL_SLOTS):
                for j in range(_EMAIL_SLOTS):
                    la, lb = local[p_left, i], local[p_right, j]
                    found = np.flatnonzero((la >= 0) & (la == lb))
                    hit_at.append(found)
                    hit_code.append(la[found])
                    da, db = domain[p_left, i], domain[p_right, j]
                    same_domain |= (da >= 0) & (da == db)
            out[same_domain] = 5
            at = np.concatenate(hit_at)
            if len(at):
                named = _names_mentioned(
                    table, np.concatenate(hit_code), texts, left[todo[at]], right[todo[at]]
                )
                out[at[~named]] = 3
        levels[todo] = out
        return levels
