"""Feature tables: the keys of many records, column by column.

:func:`build_features` turns :class:`~crmcore.matching.record.MatchRecord`
values into a :class:`FeatureTable` (one numpy column per key, plus integer
codes so equality is a vector comparison); :func:`feature_row` does the same
for one record, for the online index. Both use the same key functions, so
batch and online matching see the same keys.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.matching``;
numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.domain.normalize import normalize_emails, normalize_phones
from crmcore.errors import InvalidValueError
from crmcore.matching.key import (
    KeyOptions,
    city_key,
    company_keys,
    date_key,
    fold_email,
    fold_text,
    name_key,
    postcode_key,
)
from crmcore.matching.record import MatchRecord

__all__ = [
    "FEATURE_COLUMNS",
    "FeatureRow",
    "FeatureTable",
    "build_features",
    "feature_row",
]

FEATURE_COLUMNS: Final = (
    "name_ff",  # family name then given name, letters only
    "name_gf",  # given name then family name (or as written)
    "name_sig",  # sorted letters: order- and split-insensitive
    "initials",  # sorted first letters of the two name orders
    "email",  # canonical primary email
    "email_user",  # its local part
    "phone",  # primary phone, E.164
    "company",  # company without legal suffixes
    "company_core",  # ... and without industry words
    "city",
    "postcode",
    "country",
    "birth",  # birth date as text YYYYMMDD
    "birth_year",
    "address",
    "national_id",
    "source",
)
"""The key columns every feature table has, in order."""

_INDEX: Final = {name: i for i, name in enumerate(FEATURE_COLUMNS)}

FeatureRow: TypeAlias = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
"""One record's keys: the column values, every email key, every phone key."""

ObjectArray: TypeAlias = npt.NDArray[np.object_]
IntArray: TypeAlias = npt.NDArray[np.int64]


@attrs.frozen(eq=False)
class FeatureTable:
    """The keys of many records, column by column.

    Attributes:
        ids: The record ids, in row order.
        values: Column name → the key of every row (``""`` when missing).
        codes: Column name → an integer per row, equal for equal keys and
            ``-1`` for a missing key.
        counts: Column name → how many rows share each code (indexed by code).
        emails: Row → every email key, for rows with more than one.
        phones: Row → every phone key, for rows with more than one.
    """

    ids: ObjectArray
    values: Mapping[str, ObjectArray]
    codes: Mapping[str, npt.NDArray[np.int32]]
    counts: Mapping[str, IntArray]
    emails: Mapping[int, tuple[str, ...]]
    phones: Mapping[int, tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, index: int) -> FeatureRow:
        """Return the keys of one row, as :func:`feature_row` would build them."""
        columns = tuple(str(self.values[name][index]) for name in FEATURE_COLUMNS)
        emails = self.emails.get(index, (columns[_INDEX["email"]],) if columns[4] else ())
        phones = self.phones.get(index, (columns[_INDEX["phone"]],) if columns[6] else ())
        return columns, emails, phones

    def take(self, rows: npt.NDArray[np.int64]) -> FeatureTable:
        """Return the table of ``rows`` (in that order); codes and counts carry over.

        Args:
            rows: Row numbers; each at most once.

        Returns:
            The new table.
        """
        position = {int(old): new for new, old in enumerate(rows.tolist())}
        return FeatureTable(
            self.ids[rows],
            {name: column[rows] for name, column in self.values.items()},
            {name: column[rows] for name, column in self.codes.items()},
            self.counts,
            {position[r]: v for r, v in self.emails.items() if r in position},
            {position[r]: v for r, v in self.phones.items() if r in position},
        )

    @classmethod
    def from_rows(cls, ids: Sequence[str], rows: Sequence[FeatureRow]) -> FeatureTable:
        """Build a table from :func:`feature_row` results.

        Args:
            ids: The record ids.
            rows: Their keys, in the same order.

        Returns:
            The table.
        """
        columns = list(zip(*(r[0] for r in rows), strict=True)) if rows else []
        values = {
            name: _object_array(columns[i] if columns else ())
            for i, name in enumerate(FEATURE_COLUMNS)
        }
        emails = {i: r[1] for i, r in enumerate(rows) if len(r[1]) > 1}
        phones = {i: r[2] for i, r in enumerate(rows) if len(r[2]) > 1}
        return _table(_object_array(ids), values, emails, phones)


def _object_array(items: Iterable[str]) -> ObjectArray:
    if not isinstance(items, list):
        items = list(items)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


# Columns coded in the same code space as another (so codes compare across them).
_SHARED_CODES: Final = {"name_gf": "name_ff"}


def _factorize(
    values: ObjectArray, table: dict[str, int] | None = None
) -> tuple[npt.NDArray[np.int32], IntArray]:
    if table is None:
        table = {"": -1}
    setdefault = table.setdefault
    codes = np.fromiter(
        (setdefault(v, len(table) - 1) for v in values.tolist()), dtype=np.int32, count=len(values)
    )
    counts = np.bincount(codes[codes >= 0], minlength=len(table) - 1).astype(np.int64)
    return codes, counts


def _table(
    ids: ObjectArray,
    values: dict[str, ObjectArray],
    emails: Mapping[int, tuple[str, ...]],
    phones: Mapping[int, tuple[str, ...]],
) -> FeatureTable:
    codes: dict[str, npt.NDArray[np.int32]] = {}
    counts: dict[str, IntArray] = {}
    vocabularies: dict[str, dict[str, int]] = {}
    for name, column in values.items():
        shared = _SHARED_CODES.get(name, name)
        vocabulary = vocabularies.setdefault(shared, {"": -1})
        codes[name], counts[name] = _factorize(column, vocabulary)
    return FeatureTable(ids, values, codes, counts, emails, phones)


_name_cache: dict[tuple[str, str, str, int], tuple[str, str, str, str]] = {}
_NAME_CACHE_MAX: Final = 100_000


def _name_keys(record: MatchRecord, options: KeyOptions) -> tuple[str, str, str, str]:
    cache_key = (record.full_name, record.given_name, record.family_name, id(options.nicknames))
    cached = _name_cache.get(cache_key)
    if cached is not None:
        return cached
    result = _name_keys_uncached(record, options)
    if len(_name_cache) >= _NAME_CACHE_MAX:
        _name_cache.clear()
    _name_cache[cache_key] = result
    return result


def _name_keys_uncached(record: MatchRecord, options: KeyOptions) -> tuple[str, str, str, str]:
    key = name_key(
        full=record.full_name,
        given=record.given_name,
        family=record.family_name,
        nicknames=options.nicknames,
    )
    if not key.signature and record.full_name and (record.given_name or record.family_name):
        key = name_key(full=record.full_name, nicknames=options.nicknames)
    return key.family_first, key.given_first, key.signature, key.initials


def _place_keys(record: MatchRecord) -> tuple[str, ...]:
    company, core = company_keys(record.company) if record.company else ("", "")
    birth = date_key(record.birth_date)
    return (
        company,
        core,
        city_key(record.city) if record.city else "",
        postcode_key(record.postcode) if record.postcode else "",
        record.country.upper(),
        str(birth) if birth else "",
        str(birth // 10_000) if birth else "",
        fold_text(record.address) if record.address else "",
        postcode_key(record.national_id) if record.national_id else "",
        record.source,
    )


def _region(record: MatchRecord, options: KeyOptions) -> str | None:
    country = record.country.upper()
    if len(country) == 2 and country.isalpha():
        return country
    return options.region


def _email_keys(raws: Sequence[str], options: KeyOptions) -> list[str]:
    out = []
    for result in normalize_emails(raws):
        if isinstance(result, InvalidValueError):
            out.append("")
        else:
            out.append(
                fold_email(
                    result,
                    fold_tags=options.fold_email_tags,
                    fold_gmail_dots=options.fold_gmail_dots,
                )
            )
    return out


def _phone_keys(raws: Sequence[str], region: str | None) -> list[str]:
    try:
        results = normalize_phones(raws, region)
    except InvalidValueError:  # pragma: no cover - normalize_phones reports per row
        return [""] * len(raws)
    return ["" if isinstance(result, InvalidValueError) else result[0] for result in results]


def _assemble(
    names: tuple[str, str, str, str],
    emails: Sequence[str],
    phones: Sequence[str],
    places: tuple[str, ...],
) -> FeatureRow:
    email_list = tuple(dict.fromkeys(e for e in emails if e))
    phone_list = tuple(dict.fromkeys(p for p in phones if p))
    email = email_list[0] if email_list else ""
    columns = (
        *names,
        email,
        email.rpartition("@")[0],
        phone_list[0] if phone_list else "",
        *places,
    )
    return columns, email_list, phone_list


def feature_row(record: MatchRecord, options: KeyOptions | None = None) -> FeatureRow:
    """Build one record's keys (the online path).

    Args:
        record: The record.
        options: How to build keys.

    Returns:
        The column values, every email key and every phone key.
    """
    options = options or KeyOptions()
    emails = _email_keys(record.emails, options) if record.emails else []
    phones = _phone_keys(record.phones, _region(record, options)) if record.phones else []
    return _assemble(_name_keys(record, options), emails, phones, _place_keys(record))


def build_features(
    records: Iterable[MatchRecord],
    options: KeyOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> FeatureTable:
    """Build the keys of many records (the batch path; same keys as :func:`feature_row`).

    Emails and phones are normalised in bulk, which is several times faster
    than one by one.

    Args:
        records: The records; ids should be unique.
        options: How to build keys.
        progress: Called with the number of records done, now and then.

    Returns:
        The feature table, rows in input order.
    """
    options = options or KeyOptions()
    ids: list[str] = []
    columns: list[list[str]] = [[] for _ in FEATURE_COLUMNS]
    emails: dict[int, tuple[str, ...]] = {}
    phones: dict[int, tuple[str, ...]] = {}

    def flush(chunk: list[MatchRecord]) -> None:
        # Column by column, so the per-row tuples are freed chunk by chunk.
        for row in _chunk_rows(chunk, options):
            if len(row[1]) > 1:
                emails[len(ids)] = row[1]
            if len(row[2]) > 1:
                phones[len(ids)] = row[2]
            ids.append("")
            for column, value in zip(columns, row[0], strict=True):
                column.append(value)
        ids[len(ids) - len(chunk) :] = [r.id for r in chunk]
        if progress is not None:
            progress(len(ids))

    chunk: list[MatchRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == _CHUNK:
            flush(chunk)
            chunk = []
    if chunk:
        flush(chunk)
    values = {name: _object_array(columns[i]) for i, name in enumerate(FEATURE_COLUMNS)}
    columns.clear()
    return _table(_object_array(ids), values, emails, phones)


_CHUNK: Final = 20_000


def _chunk_rows(records: Sequence[MatchRecord], options: KeyOptions) -> list[FeatureRow]:
    raw_emails = [e for r in records for e in r.emails]
    email_keys = iter(_email_keys(raw_emails, options))
    by_region: dict[str | None, list[str]] = {}
    for record in records:
        if record.phones:
            by_region.setdefault(_region(record, options), []).extend(record.phones)
    phone_keys = {region: iter(_phone_keys(raws, region)) for region, raws in by_region.items()}
    rows = []
    for record in records:
        emails = [next(email_keys) for _ in record.emails]
        phones = [next(phone_keys[_region(record, options)]) for _ in record.phones]
        rows.append(_assemble(_name_keys(record, options), emails, phones, _place_keys(record)))
    return rows
