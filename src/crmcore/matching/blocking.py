"""Blocking: which pairs of records are worth comparing at all.

A :class:`BlockingRule` (``block_on("email")``, ``block_on("birth",
"initials")``) pairs records that share every one of its key columns;
records missing any of them are not paired by that rule. Blocks larger than
``max_block_size`` are skipped (and counted) so a common value — the name
张伟, a company switchboard number — never turns into millions of pairs.
:func:`candidate_pairs` returns the union of every rule's pairs, each pair
once, ``left < right``.

May import: ``crmcore.matching``, ``crmcore.errors``; attrs, numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import ConfigurationError
from crmcore.matching.comparison import ROLE_MAILBOXES
from crmcore.matching.feature import FEATURE_COLUMNS, FeatureRow, FeatureTable

__all__ = [
    "DEFAULT_BLOCKING_RULES",
    "DERIVED_COLUMNS",
    "BlockingRule",
    "BlockingStats",
    "block_on",
    "candidate_pairs",
    "email_domain_keys",
    "email_typo_keys",
    "rule_keys",
]

_INDEX: Final = {name: i for i, name in enumerate(FEATURE_COLUMNS)}
_MULTI: Final = {"email": 1, "phone": 2}
_DERIVED_NAME: Final = {
    "email_typo": "initials",
    "email_typo_name": "name_sig",
    "email_domain_name": "name_sig",
}
DERIVED_COLUMNS: Final = frozenset(_DERIVED_NAME)
"""Blocking keys derived from the feature columns, not stored: a rule names one alone.

``email_domain_name`` files each personal mailbox under its domain and the
holder's whole name (one key per address, see :func:`email_domain_keys`); it is
among :data:`DEFAULT_BLOCKING_RULES` (blocks of at most 20). The other two are not.
On the 100,000-row crm sample
``block_on("email_typo")`` adds 55 % more candidate pairs (mailbox names made of
the owner's name share their first letters with every namesake's) for 0.3 points
of recall on the people sample. ``block_on("email_typo_name")`` raises F1 on the
100,000-row people sample by 0.002 (0.962 to 0.964) but adds about four keys per
customer to a persistent SQL match index, which doubled ``candidates()`` p99 over a
million stored customers on PostgreSQL (2.0 to 3.9-5.7 ms). Add one where typo'd
mailboxes are common.

``email_typo`` files a personal mailbox under its domain, the first (and, again,
the last) three characters of its mailbox name and the name's initials (see
:func:`email_typo_keys`): a copy with one letter mistyped, dropped or swapped
keeps one of the two, so it meets the original. ``email_typo_name`` files the same
keys under the holder's whole name (``name_sig``) instead of the initials: a typo'd
copy meets its original whenever both records give the same name, however common,
without the namesakes' blocks the initials make."""

_TYPO_MIN_LOCAL: Final = 7  # shorter mailbox names: one edit can touch both ends
_TYPO_END: Final = 3
_TYPO_SLOTS: Final = 3  # addresses of a record looked at, as the email comparison does


def email_typo_keys(emails: Sequence[str], initials: str) -> list[str]:
    r"""Return the ``email_typo`` blocking keys of a record's email keys and name initials.

    ``email_typo_name`` builds the same keys with the whole name key
    (``name_sig``) passed as ``initials``.

    One key per end of each personal mailbox name of seven characters or more:
    an edit (a letter mistyped, dropped, doubled or two swapped) changes at most
    one end, so the typo'd copy of an address shares a key with it. Role
    mailboxes (``info@``) and records without a name have none.

    >>> email_typo_keys(["zichen64@163.com"], "cz")
    ['163.com\x1f<zic\x1fcz', '163.com\x1f>n64\x1fcz']
    >>> set(email_typo_keys(["zcihen64@163.com"], "cz")) & set(
    ...     email_typo_keys(["zichen64@163.com"], "cz"))
    {'163.com\x1f>n64\x1fcz'}
    """
    if not initials:
        return []
    out: list[str] = []
    for address in emails[:_TYPO_SLOTS]:
        local, _, domain = str(address).rpartition("@")
        if len(local) < _TYPO_MIN_LOCAL or not domain or local in ROLE_MAILBOXES:
            continue
        for key in (
            f"{domain}\x1f<{local[:_TYPO_END]}\x1f{initials}",
            f"{domain}\x1f>{local[-_TYPO_END:]}\x1f{initials}",
        ):
            if key not in out:
                out.append(key)
    return out


def email_domain_keys(emails: Sequence[str], name: str) -> list[str]:
    r"""Return the ``email_domain_name`` blocking keys: each personal mailbox's domain and the name.

    A copy of a mailbox with its name mistyped (``gagn.zhao@`` for ``gang.zhao@``)
    keeps its domain, and its holder's name: the two meet however common the name,
    where a name held by many records is otherwise blocked only within a city or a
    birth year. Role mailboxes (``info@``) and records without a name have none.

    >>> email_domain_keys(["gang.zhao@xinrui59.com.cn", "info@xinrui59.com.cn"], "agghnoz")
    ['xinrui59.com.cn\x1fagghnoz']
    """
    if not name:
        return []
    out: list[str] = []
    for address in emails[:_TYPO_SLOTS]:
        local, _, domain = str(address).rpartition("@")
        if not local or not domain or local in ROLE_MAILBOXES:
            continue
        key = f"{domain}\x1f{name}"
        if key not in out:
            out.append(key)
    return out


def _derived_keys(column: str, emails: Sequence[str], name: str) -> list[str]:
    if column == "email_domain_name":
        return email_domain_keys(emails, name)
    return email_typo_keys(emails, name)


def _columns(value: Sequence[str]) -> tuple[str, ...]:
    columns = tuple(value)
    if not columns:
        raise ConfigurationError("a blocking rule needs at least one column")
    unknown = [c for c in columns if c not in _INDEX and c not in DERIVED_COLUMNS]
    if unknown:
        known = ", ".join((*FEATURE_COLUMNS, *sorted(DERIVED_COLUMNS)))
        raise ConfigurationError(f"unknown blocking column(s) {unknown!r}; known: {known}")
    derived = [c for c in columns if c in DERIVED_COLUMNS]
    if derived and len(columns) > 1:
        raise ConfigurationError(f"a rule on {derived[0]!r} names no other column")
    return columns


@attrs.frozen
class BlockingRule:
    """Pair the records that share every one of ``columns`` (all non-empty).

    Attributes:
        columns: Feature columns (see ``FEATURE_COLUMNS``).
        max_block_size: Skip blocks with more records than this.
    """

    columns: tuple[str, ...] = attrs.field(converter=_columns)
    max_block_size: int = attrs.field(default=100, kw_only=True)

    @property
    def name(self) -> str:
        """A readable name: ``block_on(email)``."""
        return f"block_on({', '.join(self.columns)})"

    def keys_of(self, row: FeatureRow) -> list[str]:
        """Return this rule's blocking keys for one record (several for multi-valued fields)."""
        return rule_keys(self, row)


def block_on(*columns: str, max_block_size: int = 100) -> BlockingRule:
    """Build a rule pairing records equal on every one of ``columns``.

    Args:
        *columns: Feature columns, e.g. ``"email"``, ``"name_sig"``, ``"birth"``.
        max_block_size: Skip blocks with more records than this.

    Returns:
        The rule.

    Raises:
        ConfigurationError: If a column is unknown.

    >>> block_on("birth", "initials").name
    'block_on(birth, initials)'
    """
    return BlockingRule(columns, max_block_size=max_block_size)


DEFAULT_BLOCKING_RULES: Final = (
    block_on("email"),
    block_on("phone"),
    # A name shared by more than 20 records (张伟, 王芳 …) is a weak key on its
    # own: its records are paired only within a city or a birth year. On the
    # 1M-row sample this halves the candidate pairs at the same F1.
    block_on("name_sig", max_block_size=20),
    block_on("name_sig", "city"),
    block_on("name_sig", "birth_year"),
    block_on("email_domain_name", max_block_size=20),
    block_on("email_user", "initials"),
    block_on("national_id"),
    block_on("birth", "initials"),
    block_on("company", "initials"),
    block_on("postcode", "initials"),
    block_on("birth", "postcode"),
    block_on("birth", "city"),
    block_on("address"),
)
"""Email, phone, name (any order; a common name only within a city or a
birth year, or at one mail domain: a typo'd copy of a mailbox meets its
original, see :func:`email_domain_keys`), mailbox name, national id;
birth date, company or postcode with the name's initials; birth date with
postcode or city; street address."""


def rule_keys(rule: BlockingRule, row: FeatureRow) -> list[str]:
    """Return the keys ``rule`` files one record under (empty when a column is missing).

    Args:
        rule: The rule.
        row: The record's keys.

    Returns:
        Its keys: one per email or phone for rules on those columns.
    """
    if rule.columns[0] in DERIVED_COLUMNS:
        columns, emails = row[0], row[1]
        return _derived_keys(
            rule.columns[0], emails, columns[_INDEX[_DERIVED_NAME[rule.columns[0]]]]
        )
    parts: list[tuple[str, ...]] = []
    for column in rule.columns:
        if column in _MULTI:
            values = row[_MULTI[column]]
        else:
            value = row[0][_INDEX[column]]
            values = (value,) if value else ()
        if not values:
            return []
        parts.append(values)
    keys = [""]
    for values in parts:
        keys = [f"{k}\x1f{v}" for k in keys for v in values]
    return keys


@attrs.frozen
class BlockingStats:
    """What blocking did.

    Attributes:
        pairs_by_rule: Rule name → pairs it produced (before the union).
        skipped_blocks: Rule name → blocks skipped as oversized.
        pairs: Distinct candidate pairs.
    """

    pairs_by_rule: dict[str, int]
    skipped_blocks: dict[str, int]
    pairs: int


def _rule_codes(
    table: FeatureTable, rule: BlockingRule
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return (rows, group code) for every key ``rule`` files records under."""
    if rule.columns[0] in DERIVED_COLUMNS:
        return _derived_codes(table, rule.columns[0])
    n = len(table)
    rows = np.arange(n, dtype=np.int64)
    codes = np.zeros(n, dtype=np.int64)
    valid = np.ones(n, dtype=bool)
    for column in rule.columns:
        column_codes = table.codes[column].astype(np.int64)
        valid &= column_codes >= 0
        width = int(column_codes.max(initial=-1)) + 2
        codes = codes * width + column_codes + 1
    extra_rows: list[int] = []
    extra_codes: list[int] = []
    multi = [c for c in rule.columns if c in _MULTI]
    if len(multi) == 1 and len(rule.columns) == 1:
        column = multi[0]
        extras = table.emails if column == "email" else table.phones
        if extras:
            lookup: dict[str, int] = {}
            values = table.values[column].tolist()
            primary_codes = table.codes[column]
            for value, code in zip(values, primary_codes.tolist(), strict=True):
                if code >= 0:
                    lookup.setdefault(value, code)
            next_code = int(primary_codes.max(initial=-1)) + 1
            for row, keys in extras.items():
                for key in keys[1:]:
                    code = lookup.setdefault(key, next_code + len(lookup))
                    extra_rows.append(row)
                    extra_codes.append(code + 1)
    out_rows = rows[valid]
    out_codes = codes[valid]
    if extra_rows:
        out_rows = np.concatenate([out_rows, np.array(extra_rows, dtype=np.int64)])
        out_codes = np.concatenate([out_codes, np.array(extra_codes, dtype=np.int64)])
    return out_rows, out_codes


def _derived_codes(
    table: FeatureTable, column: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(rows, group code) of a derived rule's keys: what :func:`rule_keys` gives each row."""
    if column == "email_domain_name":
        return _domain_name_codes(table)
    values = table.values["email"].tolist()
    names = table.values[_DERIVED_NAME[column]].tolist()
    extra = table.emails
    lookup: dict[str, int] = {}
    rows: list[int] = []
    codes: list[int] = []
    for row in np.flatnonzero(table.codes["email"] >= 0).tolist():
        for key in _derived_keys(column, extra.get(row) or (values[row],), names[row]):
            rows.append(row)
            codes.append(lookup.setdefault(key, len(lookup)))
    return np.array(rows, dtype=np.int64), np.array(codes, dtype=np.int64)


def _domain_name_codes(table: FeatureTable) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(rows, group code) of ``email_domain_name``: :func:`email_domain_keys` by codes.

    A row's key is its mailbox's domain and its ``name_sig``: each distinct
    mailbox is read once (most rows have one), and the keys are numbered from
    the two codes, not built as strings per row.
    """
    email = table.codes["email"].astype(np.int64)
    names = table.codes["name_sig"].astype(np.int64)
    holder = np.full(int(email.max(initial=-1)) + 1, -1, dtype=np.int64)
    present = np.flatnonzero(email >= 0)
    holder[email[present]] = present
    domains: dict[str, int] = {}

    def domain_code(address: str) -> int:
        local, _, domain = address.rpartition("@")
        if not local or not domain or local in ROLE_MAILBOXES:
            return -1
        return domains.setdefault(domain, len(domains))

    by_email = np.array(
        [domain_code(a) for a in table.values["email"][holder].tolist()], dtype=np.int64
    )
    several = table.emails
    one = present[names[present] >= 0]
    if several:
        one = one[~np.isin(one, np.fromiter(several, dtype=np.int64, count=len(several)))]
    one = one[by_email[email[one]] >= 0]
    rows = [one]
    found = [by_email[email[one]]]
    extra_rows: list[int] = []
    extra_domains: list[int] = []
    for row, addresses in several.items():
        if names[row] < 0:
            continue
        seen: set[int] = set()
        for address in addresses[:_TYPO_SLOTS]:
            code = domain_code(str(address))
            if code >= 0 and code not in seen:
                seen.add(code)
                extra_rows.append(row)
                extra_domains.append(code)
    rows.append(np.array(extra_rows, dtype=np.int64))
    found.append(np.array(extra_domains, dtype=np.int64))
    out_rows = np.concatenate(rows)
    width = int(names.max(initial=-1)) + 1
    return out_rows, np.concatenate(found) * width + names[out_rows]


def _pairs_in_groups(
    rows: npt.NDArray[np.int64], codes: npt.NDArray[np.int64], max_size: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Return every pair of rows sharing a code, from groups of at most ``max_size``."""
    if len(rows) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, 0
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    sorted_rows = rows[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_codes)])
    skipped = int(np.count_nonzero(sizes > max_size))
    lefts: list[npt.NDArray[np.int64]] = []
    rights: list[npt.NDArray[np.int64]] = []
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= max_size)]).tolist():
        group_starts = starts[sizes == size]
        a, b = np.triu_indices(size, k=1)
        lefts.append(sorted_rows[(group_starts[:, None] + a[None, :]).ravel()])
        rights.append(sorted_rows[(group_starts[:, None] + b[None, :]).ravel()])
    if not lefts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, skipped
    return np.concatenate(lefts), np.concatenate(rights), skipped


def candidate_pairs(
    table: FeatureTable,
    rules: Iterable[BlockingRule] = DEFAULT_BLOCKING_RULES,
    *,
    link_only: bool = False,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], BlockingStats]:
    """Return the distinct pairs any rule blocks together, ``left < right``.

    Args:
        table: The records' keys.
        rules: The blocking rules.
        link_only: Pair only records from different sources.

    Returns:
        Left rows, right rows (sorted by left, then right) and statistics.
    """
    n = len(table)
    keys: list[npt.NDArray[np.int64]] = []
    by_rule: dict[str, int] = {}
    skipped: dict[str, int] = {}
    source = table.codes["source"]
    for rule in rules:
        rows, codes = _rule_codes(table, rule)
        left, right, skipped_blocks = _pairs_in_groups(rows, codes, rule.max_block_size)
        keep = left != right
        if link_only:
            keep &= source[left] != source[right]
        left, right = left[keep], right[keep]
        low = np.minimum(left, right)
        high = np.maximum(left, right)
        keys.append(low * n + high)
        by_rule[rule.name] = len(low)
        skipped[rule.name] = skipped_blocks
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, BlockingStats(by_rule, skipped, 0)
    # Sort and drop repeats: several times faster than np.unique's hash table here.
    unique = np.sort(np.concatenate(keys))
    unique = unique[np.r_[True, unique[1:] != unique[:-1]]] if len(unique) else unique
    return (
        unique // max(n, 1),
        unique % max(n, 1),
        BlockingStats(by_rule, skipped, len(unique)),
    )
