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

import collections
import concurrent.futures
import functools
import operator
import typing
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Generic, NamedTuple, Protocol, TypeAlias, TypeVar

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.domain.normalize import normalize_emails, normalize_phones
from crmcore.domain.region import region_of
from crmcore.errors import InvalidValueError
from crmcore.matching import workers as pool_policy
from crmcore.matching.key import (
    KeyOptions,
    _name_parts,
    city_key,
    company_keys,
    date_key,
    fold_email,
    fold_text,
    postcode_key,
)
from crmcore.matching.nickname import NICKNAMES
from crmcore.matching.record import MatchRecord
from crmcore.matching.workers import StartMethod

__all__ = [
    "FEATURE_COLUMNS",
    "RAW_FIELD_NAMES",
    "FeatureRow",
    "FeatureTable",
    "FieldView",
    "RawFields",
    "build_features",
    "build_features_from_rows",
    "feature_row",
    "fields_row",
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
_V = TypeVar("_V", bound=Hashable)
_T = TypeVar("_T")
_S = TypeVar("_S")
_M = TypeVar("_M")


class RawFields(NamedTuple, Generic[_S, _M]):
    """The raw fields keys are built from, in wire order: the one list of them.

    ``_S`` is what a single-valued field holds and ``_M`` what a multi-valued
    one (emails, phones) holds: one record's fields are a :data:`FieldView`,
    a chunk's columns a :data:`_Columns`.
    """

    full_name: _S
    given_name: _S
    family_name: _S
    emails: _M
    phones: _M
    company: _S
    city: _S
    postcode: _S
    country: _S
    birth_date: _S
    address: _S
    national_id: _S
    source: _S


RAW_FIELD_NAMES: Final[tuple[str, ...]] = RawFields._fields
"""The names of :class:`RawFields`, in order: a match record's fields after its id."""

FieldView: TypeAlias = RawFields[str, tuple[str, ...]]
"""One record's raw fields (a record without its id, cheap to send to workers)."""
_Columns: TypeAlias = RawFields[list[str], list[tuple[str, ...]]]
"""A chunk's raw fields, one list per field."""

_FIELD_NAMES: Final = RawFields._fields
_MULTI_VALUED: Final = frozenset(
    name for name, hint in typing.get_type_hints(RawFields).items() if hint is _M
)
_MULTI_AT: Final = tuple(i for i, name in enumerate(_FIELD_NAMES) if name in _MULTI_VALUED)
_record_fields: Final = operator.attrgetter(*_FIELD_NAMES)


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
        if 0 < len(rows) <= _FEW_ROWS:
            return _few_rows(ids, rows)
        columns = list(zip(*(r[0] for r in rows), strict=True)) if rows else []
        values: dict[str, ObjectArray] = {}
        codes: dict[str, npt.NDArray[np.int32]] = {}
        counts: dict[str, IntArray] = {}
        vocabularies: dict[str, dict[str, int]] = {}
        for i, name in enumerate(FEATURE_COLUMNS):
            column: Sequence[str] = columns[i] if columns else ()
            values[name] = _object_array(column)
            vocabulary = vocabularies.setdefault(_SHARED_CODES.get(name, name), {"": -1})
            codes[name], counts[name] = _code(column, vocabulary)
        emails = {i: r[1] for i, r in enumerate(rows) if len(r[1]) > 1}
        phones = {i: r[2] for i, r in enumerate(rows) if len(r[2]) > 1}
        return FeatureTable(_object_array(ids), values, codes, counts, emails, phones)


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
    items = values.tolist()
    for value in dict.fromkeys(items):  # distinct values, first seen first
        if value not in table:
            table[value] = len(table) - 1
    codes = np.fromiter(map(table.__getitem__, items), dtype=np.int32, count=len(items))
    counts = np.bincount(codes[codes >= 0], minlength=len(table) - 1).astype(np.int64)
    return codes, counts


_FEW_ROWS: Final = 512
"""Up to this many rows (an online query and its candidates), a table is built in one go."""


def _few_rows(ids: Sequence[str], rows: Sequence[FeatureRow]) -> FeatureTable:
    """:meth:`FeatureTable.from_rows` of a few rows: every column in one array, counts on demand.

    An online query's table has a handful of rows, where a few numpy calls per
    column (17 columns) cost more than the coding itself: the keys go into one
    object array and the codes into one integer array (each column a row of
    it), and a column's counts are counted when first read.
    """
    columns = list(zip(*(r[0] for r in rows), strict=True))
    grid = np.empty((len(FEATURE_COLUMNS), len(rows)), dtype=object)
    grid[:] = columns
    vocabularies: dict[str, dict[str, int]] = {}
    coded: list[list[int]] = []
    sizes: dict[str, int] = {}
    for name, column in zip(FEATURE_COLUMNS, columns, strict=True):
        vocabulary = vocabularies.setdefault(_SHARED_CODES.get(name, name), {"": -1})
        known = vocabulary.setdefault
        coded.append([known(value, len(vocabulary) - 1) for value in column])
        sizes[name] = len(vocabulary) - 1
    matrix = np.array(coded, dtype=np.int32)
    codes = {name: matrix[i] for i, name in enumerate(FEATURE_COLUMNS)}
    emails = {i: r[1] for i, r in enumerate(rows) if len(r[1]) > 1}
    phones = {i: r[2] for i, r in enumerate(rows) if len(r[2]) > 1}
    return FeatureTable(
        _object_array(ids),
        {name: grid[i] for i, name in enumerate(FEATURE_COLUMNS)},
        codes,
        _CountsOnDemand(codes, sizes),
        emails,
        phones,
    )


class _CountsOnDemand(Mapping[str, IntArray]):
    """A table's counts per column (as :func:`_factorize` gives them), each counted when read."""

    def __init__(self, codes: Mapping[str, npt.NDArray[np.int32]], sizes: dict[str, int]) -> None:
        self._codes = codes
        self._sizes = sizes
        self._counted: dict[str, IntArray] = {}

    def __getitem__(self, name: str) -> IntArray:
        counted = self._counted.get(name)
        if counted is None:
            codes = self._codes[name]
            counted = np.bincount(codes[codes >= 0], minlength=self._sizes[name]).astype(np.int64)
            self._counted[name] = counted
        return counted

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)


def _code(items: Sequence[str], table: dict[str, int]) -> tuple[npt.NDArray[np.int32], IntArray]:
    """:func:`_factorize` of a sequence of keys: the same codes (first seen first), counts."""
    known = table.setdefault
    codes = np.array([known(value, len(table) - 1) for value in items], dtype=np.int32)
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


_NAME_CACHE_MAX: Final = 100_000


def _name_keys(full: str, given: str, family: str, options: KeyOptions) -> tuple[str, ...]:
    """Return a name's four keys: family first, given first, signature, initials."""
    if options.nicknames is NICKNAMES:  # the library's own table: one cache for every call
        return _default_name_keys(full, given, family)
    return _name_keys_with(full, given, family, options.nicknames)


@functools.lru_cache(maxsize=_NAME_CACHE_MAX)
def _default_name_keys(full: str, given: str, family: str) -> tuple[str, ...]:
    return _name_keys_with(full, given, family, NICKNAMES)


def _name_keys_with(
    full: str, given: str, family: str, nicknames: Mapping[str, str]
) -> tuple[str, ...]:
    key = _name_parts(full, given, family, nicknames)
    if not key[2] and full and (given or family):  # no signature from the parts: read the whole
        key = _name_parts(full, "", "", nicknames)
    return key


def _company(raw: str) -> tuple[str, ...]:
    return company_keys(raw) if raw else ("", "")


def _birth(raw: str) -> tuple[str, ...]:
    birth = date_key(raw)
    return (str(birth), str(birth // 10_000)) if birth else ("", "")


def _one(key: Callable[[str], str]) -> Callable[[str], tuple[str, ...]]:
    def keyed(raw: str) -> tuple[str, ...]:
        return (key(raw) if raw else "",)

    return keyed


def _as_is(raw: str) -> tuple[str, ...]:
    return (raw,)


_PLACES: Final[tuple[tuple[str, Callable[[str], tuple[str, ...]]], ...]] = (
    ("company", _company),  # company, company_core
    ("city", _one(city_key)),
    ("postcode", _one(postcode_key)),
    ("country", _one(str.upper)),
    ("birth_date", _birth),  # birth, birth_year
    ("address", _one(fold_text)),
    ("national_id", _one(postcode_key)),
    ("source", _as_is),
)
"""The place columns (``company`` … ``source``): which field each comes from, and how.

The one definition both the online path (:func:`_place_keys`) and the batch
path (:func:`_columns_keys`, once per distinct value) use."""


def _place_keys(record: FieldView) -> tuple[str, ...]:
    """The place columns of one record: what :data:`_PLACES` gives, without its loop.

    A property test checks this against :data:`_PLACES` on arbitrary fields.
    """
    company, city, postcode, country, birth, address, national_id, source = record[5:]
    company_key, company_core = company_keys(company) if company else ("", "")
    if birth:
        day = date_key(birth)
        birth, year = (str(day), str(day // 10_000)) if day else ("", "")
    else:
        year = ""
    return (
        company_key,
        company_core,
        city_key(city) if city else "",
        postcode_key(postcode) if postcode else "",
        country.upper() if country else "",
        birth,
        year,
        fold_text(address) if address else "",
        postcode_key(national_id) if national_id else "",
        source,
    )


def _place_keys_reference(record: FieldView) -> tuple[str, ...]:
    """:func:`_place_keys` read through :data:`_PLACES` (the reference the tests compare)."""
    return tuple(key for field, keys in _PLACES for key in keys(getattr(record, field)))


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
    names: tuple[str, ...],
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
    return fields_row(RawFields._make(_record_fields(record)), options or KeyOptions())


def fields_row(fields: FieldView, options: KeyOptions) -> FeatureRow:
    """:func:`feature_row` of a record's fields (the backfill reads them from documents).

    >>> from crmcore.matching import MatchRecord
    >>> fields = RawFields("张伟", "", "", (), ("138 0013 8000",), *[""] * 3, "CN", *[""] * 4)
    >>> record = MatchRecord(id="1", full_name="张伟", phones=["138 0013 8000"], country="CN")
    >>> fields_row(fields, KeyOptions()) == feature_row(record)
    True
    """
    emails = _email_keys(fields.emails, options) if fields.emails else []
    phones = (
        _phone_keys(fields.phones, region_of(fields.country, options.region))
        if fields.phones
        else []
    )
    names = _name_keys(fields.full_name, fields.given_name, fields.family_name, options)
    return _assemble(names, emails, phones, _place_keys(fields))


def build_features(
    records: Iterable[MatchRecord],
    options: KeyOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> FeatureTable:
    """Build the keys of many records (the batch path; same keys as :func:`feature_row`).

    Keys are built column by column, once per distinct value; emails and
    phones are normalised in bulk. Past 100,000 records, chunks are keyed in
    worker processes (one per core, at most two) while this process keeps
    reading. The cyclic garbage collector is paused during the call (it is
    process-wide: other threads see no collections until it returns);
    reference counting frees everything as usual.

    Args:
        records: The records; ids should be unique.
        options: How to build keys.
        progress: Called with the number of records done, now and then.
        workers: Worker processes (default: one per core, at most two;
            ``1`` keys everything in this process).

    Returns:
        The feature table, rows in input order.
    """
    return _Build(_RecordChunks(), options or KeyOptions(), progress, workers).run(
        (r.id, r) for r in records
    )


def build_features_from_rows(
    rows: Iterable[tuple[str, list[str]]],
    columns: Mapping[str, Sequence[int]],
    options: KeyOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    start_method: StartMethod = "spawn",
) -> FeatureTable:
    """Build the keys of CSV rows: what :func:`build_features` gives for their records.

    Each row is read as :meth:`MatchRecord.from_row` reads it (so the keys
    are the same), straight into columns, in whichever process keys it: on a
    large file the raw rows go to the workers, so this process only reads the
    file. The garbage collector is paused as for :func:`build_features`.

    Args:
        rows: ``(id, row)`` pairs, rows as ``csv.reader`` gives them.
        columns: Field → the row positions holding it (:func:`recognise_columns`).
        options: How to build keys.
        progress: Called with the number of rows done, now and then.
        workers: Worker processes (as for :func:`build_features`).
        start_method: How workers start. ``"spawn"`` (the default) is safe
            in any host; ``"fork"`` starts them in milliseconds instead of a
            second, with this process's imports and caches, so they pay off
            from 40,000 rows — use it only from a process that holds no other
            threads doing work (a command-line tool, a batch job).

    Returns:
        The feature table, rows in input order, ids as given.
    """
    plan = {field: [int(p) for p in places] for field, places in columns.items()}
    build = _Build(_RowChunks(plan), options or KeyOptions(), progress, workers, start_method)
    return build.run(rows)


class _Chunks(Protocol[_T]):
    """How one kind of input is keyed here and shipped to a worker."""

    def keys(self, chunk: list[_T], options: KeyOptions) -> _ChunkKeys: ...

    def job(self, chunk: list[_T]) -> tuple[Callable[..., _ChunkKeys], tuple[object, ...]]:
        """Return a module function and its arguments (cheap to pickle); options go last."""
        ...


class _RecordChunks:
    def keys(self, chunk: list[MatchRecord], options: KeyOptions) -> _ChunkKeys:
        return _chunk_keys(chunk, options)

    def job(self, chunk: list[MatchRecord]) -> tuple[Callable[..., _ChunkKeys], tuple[object, ...]]:
        return _packed_keys, (pool_policy.pack([_record_fields(r) for r in chunk]),)


@attrs.frozen
class _RowChunks:
    columns: dict[str, list[int]]

    def keys(self, chunk: list[list[str]], options: KeyOptions) -> _ChunkKeys:
        return _rows_keys(chunk, self.columns, options)

    def job(self, chunk: list[list[str]]) -> tuple[Callable[..., _ChunkKeys], tuple[object, ...]]:
        return _rows_keys, (chunk, self.columns)


def _records_of(rows: list[list[str]], columns: Mapping[str, Sequence[int]]) -> list[MatchRecord]:
    # Keys do not read ids; the caller keeps the real ones.
    return [MatchRecord.from_row(row, id="-", columns=columns) for row in rows]


class _Build(Generic[_T]):
    """Key items in chunks: here for small inputs, in worker processes for large ones.

    The first ``_PARALLEL_FROM`` items are only collected (cheap); if the
    input ends there, they are keyed here, else workers start and every
    chunk goes to them, this process reading ahead at most two chunks per
    worker. The cyclic garbage collector is paused meanwhile: building
    millions of small acyclic objects otherwise triggers full collections
    that rescan all of them (a fifth of the time on large inputs).
    """

    def __init__(
        self,
        kind: _Chunks[_T],
        options: KeyOptions,
        progress: Callable[[int], None] | None,
        workers: int | None,
        start_method: StartMethod = "spawn",
    ) -> None:
        self.kind = kind
        self.start_method = start_method
        self.options = options
        self.progress = progress
        self.workers = pool_policy.default_workers(workers)
        self.ids: list[str] = []
        self.merger = _Merger()
        self.done = 0
        self.waiting: list[list[_T]] = []
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.pending: collections.deque[
            tuple[list[_T], concurrent.futures.Future[_ChunkKeys] | None]
        ] = collections.deque()

    def run(self, items: Iterable[tuple[str, _T]]) -> FeatureTable:
        with pool_policy.paused_gc():
            return self._run(items)

    def _run(self, items: Iterable[tuple[str, _T]]) -> FeatureTable:
        try:
            chunk: list[_T] = []
            for item_id, item in items:
                self.ids.append(item_id)
                chunk.append(item)
                if len(chunk) == _CHUNK:
                    self.dispatch(chunk)
                    chunk = []
            if chunk:
                self.dispatch(chunk)
            for early in self.waiting:
                self.collect(self.kind.keys(early, self.options))
            while self.pending:
                self.collect_next()
            return self.merger.finish(self.ids)
        finally:
            if self.pool is not None:
                # Workers tear down their large caches (pinyin dictionaries) for
                # a second or two as they exit: let that happen in the background.
                self.pool.shutdown(wait=False, cancel_futures=True)

    def collect(self, part: _ChunkKeys) -> None:
        self.merger.add(part)
        self.done += part.size
        if self.progress is not None:
            self.progress(self.done)

    def collect_next(self) -> None:
        chunk, job = self.pending.popleft()
        # A job never sent, or whose worker could not start (an unguarded __main__): key it here.
        self.collect(pool_policy.result_or_here(job, lambda: self.kind.keys(chunk, self.options)))

    def dispatch(self, chunk: list[_T]) -> None:
        if self.pool is None:
            self.waiting.append(chunk)
            start_from = _PARALLEL_FROM if self.start_method == "spawn" else _FORK_FROM
            if self.workers > 1 and len(self.ids) > start_from:
                self.pool = pool_policy.start_pool(
                    self.workers,
                    self.start_method,
                    (_options_from, _options_args(self.options)),
                    collect_cycles=False,  # key workers build only acyclic objects
                )
                for early in self.waiting:
                    self.submit(self.pool, early)
                self.waiting.clear()
            return
        self.submit(self.pool, chunk)

    def submit(self, pool: concurrent.futures.ProcessPoolExecutor, chunk: list[_T]) -> None:
        while len(self.pending) >= 2 * self.workers:
            self.collect_next()
        function, arguments = self.kind.job(chunk)
        self.pending.append(
            (chunk, pool_policy.submit(pool, pool_policy.in_worker, function, *arguments))
        )


_CHUNK: Final = 20_000
_PARALLEL_FROM: Final = 100_000
"""Records keyed here before workers start: below this, spawning them costs more than it saves."""
_FORK_FROM: Final = 40_000
"""The same for forked workers, which start without importing anything."""


@attrs.frozen
class _ChunkKeys:
    """One chunk's keys: per column its distinct values (first seen first) and codes."""

    size: int
    uniques: list[list[str]]
    codes: list[npt.NDArray[np.int32]]
    emails: dict[int, tuple[str, ...]]
    phones: dict[int, tuple[str, ...]]


def _options_args(options: KeyOptions) -> tuple[object, ...]:
    """Return what :func:`_options_from` needs to rebuild ``options`` in a worker."""
    nicknames = None if options.nicknames is NICKNAMES else dict(options.nicknames)
    return options.fold_email_tags, options.fold_gmail_dots, nicknames, options.region


def _options_from(  # pragma: no cover - runs in worker processes
    fold_email_tags: bool,
    fold_gmail_dots: bool,
    nicknames: dict[str, str] | None,
    region: str | None,
) -> KeyOptions:
    return KeyOptions(
        fold_email_tags=fold_email_tags,
        fold_gmail_dots=fold_gmail_dots,
        nicknames=NICKNAMES if nicknames is None else nicknames,
        region=region,
    )


def _packed_keys(packed: pool_policy.WireRows, options: KeyOptions) -> _ChunkKeys:
    return _chunk_keys(_unpack(packed), options)


def _unpack(packed: pool_policy.WireRows) -> list[FieldView]:
    return [RawFields._make(cells) for cells in pool_policy.unpack(packed, _MULTI_AT)]


def _columns_of(chunk: Sequence[MatchRecord] | Sequence[FieldView]) -> _Columns:
    return RawFields._make([getattr(r, name) for r in chunk] for name in _FIELD_NAMES)


def _columns_of_rows(rows: list[list[str]], columns: Mapping[str, Sequence[int]]) -> _Columns:
    """Read a chunk of CSV rows straight into columns, as :meth:`MatchRecord.from_row` reads them.

    Each cell is stripped; a single-valued field takes its first non-empty
    cell, emails and phones every non-empty one; countries are upper-cased;
    a row too short for a column reads ``""`` there (short rows are padded).
    Cells are picked and stripped column by column in C (``map`` over an
    item getter); only fields spread over several columns loop in Python.
    A cell that is not a string raises ``TypeError`` (the caller then goes
    through :class:`MatchRecord`, which says what is wrong).
    """
    places_of = {name: tuple(columns.get(name, ())) for name in _FIELD_NAMES}
    width = 1 + max((p for places in places_of.values() for p in places), default=-1)
    if rows and min(map(len, rows)) < width:
        rows = [row if len(row) >= width else [*row, *[""] * (width - len(row))] for row in rows]
    out: list[list[Any]] = []
    for name, places in places_of.items():
        if not places:
            empty: object = () if name in _MULTI_VALUED else ""
            out.append([empty] * len(rows))
            continue
        stripped = [list(map(str.strip, map(operator.itemgetter(p), rows))) for p in places]
        if name in _MULTI_VALUED:
            if len(stripped) == 1:
                out.append([(c,) if c else () for c in stripped[0]])
            else:
                out.append([tuple(c for c in cells if c) for cells in zip(*stripped, strict=True)])
            continue
        if len(stripped) == 1:
            cells = stripped[0]
        else:
            cells = [next((c for c in each if c), "") for each in zip(*stripped, strict=True)]
        out.append(list(map(str.upper, cells)) if name == "country" else cells)
    return RawFields._make(out)


def _chunk_keys(
    chunk: Sequence[MatchRecord] | Sequence[FieldView], options: KeyOptions
) -> _ChunkKeys:
    """Key a chunk of records (see :func:`_columns_keys`)."""
    return _columns_keys(_columns_of(chunk), options)


def _rows_keys(
    rows: list[list[str]], columns: Mapping[str, Sequence[int]], options: KeyOptions
) -> _ChunkKeys:
    """Key a chunk of CSV rows without building a record per row."""
    try:
        table = _columns_of_rows(rows, columns)
    except TypeError:  # a cell that is not a string: let MatchRecord say which
        return _chunk_keys(_records_of(rows, columns), options)
    return _columns_keys(table, options)


def _columns_keys(chunk: _Columns, options: KeyOptions) -> _ChunkKeys:
    """Key a chunk column by column, each key function once per distinct raw value.

    Names, companies, cities, postcodes and birth dates repeat a lot in CRM
    data, so keying distinct values and mapping rows to them is several times
    faster than keying row by row. The result equals what :func:`feature_row`
    gives for every row (a property test checks it); uniques are listed in
    the order rows first show them, as :func:`_factorize` would.
    """
    uniques: list[list[str]] = []
    codes: list[npt.NDArray[np.int32]] = []

    def add(column: tuple[list[str], npt.NDArray[np.int32]]) -> None:
        uniques.append(column[0])
        codes.append(column[1])

    names, name_rows = _distinct(
        list(zip(chunk.full_name, chunk.given_name, chunk.family_name, strict=True))
    )
    name_keys = [_name_keys(*parts, options) for parts in names]
    for k in range(4):
        add(_derive([keys[k] for keys in name_keys], name_rows))
    email_column, emails = _contact_column(chunk.emails, lambda raws: _email_keys(raws, options))
    phone_column, phones = _phone_column(chunk.phones, chunk.country, options)
    add(_codes(email_column))
    add(_codes([e.rpartition("@")[0] for e in email_column]))
    add(_codes(phone_column))
    for field, keys_of in _PLACES:
        distinct, rows = _distinct(getattr(chunk, field))
        keys = [keys_of(value) for value in distinct]
        for k in range(len(keys[0]) if keys else len(keys_of(""))):
            add(_derive([each[k] for each in keys], rows))
    return _ChunkKeys(len(chunk.source), uniques, codes, emails, phones)


def _distinct(values: list[_V]) -> tuple[list[_V], npt.NDArray[np.int32]]:
    """Return the distinct values (first seen first) and each row's position among them."""
    if values and values.count(values[0]) == len(values):  # one value: a column the input lacks
        return values[:1], np.zeros(len(values), dtype=np.int32)
    position: dict[_V, int] = {}
    setdefault = position.setdefault
    rows = np.fromiter(
        (setdefault(v, len(position)) for v in values), dtype=np.int32, count=len(values)
    )
    return list(position), rows


def _derive(
    keys: list[str], rows: npt.NDArray[np.int32]
) -> tuple[list[str], npt.NDArray[np.int32]]:
    """Code a key column given each distinct raw value's key and each row's raw position."""
    distinct, mapping = _distinct(keys)
    return distinct, mapping[rows]


def _codes(values: list[str]) -> tuple[list[str], npt.NDArray[np.int32]]:
    return _distinct(values)


def _contact_column(
    per_row: list[tuple[str, ...]], keys_of: Callable[[list[str]], list[str]]
) -> tuple[list[str], dict[int, tuple[str, ...]]]:
    """Return each row's first valid key, and every key of rows with more than one."""
    distinct = list(dict.fromkeys(raw for raws in per_row for raw in raws))
    key_of = dict(zip(distinct, keys_of(distinct), strict=True))
    primary: list[str] = []
    several: dict[int, tuple[str, ...]] = {}
    for i, raws in enumerate(per_row):
        if not raws:
            primary.append("")
        elif len(raws) == 1:
            primary.append(key_of[raws[0]])
        else:
            found = tuple(dict.fromkeys(k for k in map(key_of.__getitem__, raws) if k))
            primary.append(found[0] if found else "")
            if len(found) > 1:
                several[i] = found
    return primary, several


def _phone_column(
    phones: list[tuple[str, ...]], countries: list[str], options: KeyOptions
) -> tuple[list[str], dict[int, tuple[str, ...]]]:
    """Like :func:`_contact_column`, national numbers read in each row's region."""
    by_region: dict[str | None, list[int]] = {}
    for i, raws in enumerate(phones):
        if raws:
            by_region.setdefault(region_of(countries[i], options.region), []).append(i)
    primary = [""] * len(phones)
    several: dict[int, tuple[str, ...]] = {}
    for region, rows in by_region.items():
        column, more = _contact_column(
            [phones[i] for i in rows], functools.partial(_phone_keys, region=region)
        )
        for i, key in zip(rows, column, strict=True):
            primary[i] = key
        several.update({rows[j]: keys for j, keys in more.items()})
    return primary, several


class _Merger:
    """Join chunk keys into one table, chunk by chunk as they arrive.

    Codes are assigned in order of first appearance, column by column, as
    :func:`_factorize` assigns them. ``name_gf`` shares ``name_ff``'s code
    space, so it waits until every ``name_ff`` value is known; every other
    column is coded as its chunk arrives, while workers key the next ones.
    """

    def __init__(self) -> None:
        self.vocabularies: dict[str, dict[str, int]] = {
            name: {"": -1} for name in FEATURE_COLUMNS if name not in _SHARED_CODES
        }
        self.columns: dict[str, list[npt.NDArray[np.int32]]] = {n: [] for n in FEATURE_COLUMNS}
        self.deferred: dict[str, list[tuple[list[str], npt.NDArray[np.int32]]]] = {
            name: [] for name in _SHARED_CODES
        }
        self.emails: dict[int, tuple[str, ...]] = {}
        self.phones: dict[int, tuple[str, ...]] = {}
        self.size = 0

    def add(self, part: _ChunkKeys) -> None:
        for k, name in enumerate(FEATURE_COLUMNS):
            if name in self.deferred:
                self.deferred[name].append((part.uniques[k], part.codes[k]))
            else:
                self.columns[name].append(_recode(self.vocabularies[name], part, k))
        at = self.size
        self.emails.update({at + row: keys for row, keys in part.emails.items()})
        self.phones.update({at + row: keys for row, keys in part.phones.items()})
        self.size += part.size

    def finish(self, ids: list[str]) -> FeatureTable:
        for name, chunks in self.deferred.items():
            vocabulary = self.vocabularies[_SHARED_CODES[name]]
            self.columns[name] = [
                _recode(vocabulary, _ChunkKeys(len(codes), [uniques], [codes], {}, {}), 0)
                for uniques, codes in chunks
            ]
        values: dict[str, ObjectArray] = {}
        codes: dict[str, npt.NDArray[np.int32]] = {}
        counts: dict[str, IntArray] = {}
        for name in FEATURE_COLUMNS:
            vocabulary = self.vocabularies[_SHARED_CODES.get(name, name)]
            parts = self.columns[name]
            column = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
            words = list(vocabulary)[1:]
            words.append("")  # code -1 reads this trailing ""
            values[name] = _object_array(words)[column]
            codes[name] = column
            counts[name] = np.bincount(column[column >= 0], minlength=len(vocabulary) - 1).astype(
                np.int64
            )
        return FeatureTable(_object_array(ids), values, codes, counts, self.emails, self.phones)


def _recode(vocabulary: dict[str, int], part: _ChunkKeys, k: int) -> npt.NDArray[np.int32]:
    """Map a chunk's column ``k`` to the table's codes, adding its new values."""
    setdefault = vocabulary.setdefault
    uniques = part.uniques[k]
    mapping = np.fromiter(
        (setdefault(v, len(vocabulary) - 1) for v in uniques), dtype=np.int32, count=len(uniques)
    )
    return mapping[part.codes[k]]
