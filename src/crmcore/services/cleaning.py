"""Migration cleaning (数据迁移清洗): map columns, normalise, validate and dedupe import rows.

This is the pure half of an import: it turns raw rows (from CSV or JSON
lines) into customer snapshots plus a per-row report of what was changed
(规范化), what is missing (补全) and what was rejected, and it finds rows of
the same file that describe the same customer (去重). Nothing here touches
storage; :mod:`crmcore.services.importing` writes the result through the
ports.

Rows are numbered from 1 for the first data row (the header is not a row).
Every problem of a row is reported, each naming its field; a bad row never
stops the good ones.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.clock``; attrs, pendulum.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime as dt
import enum
import hashlib
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final, TypeAlias

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain import (
    AddressContact,
    ContactKind,
    ContactPoints,
    CountryCode,
    Customer,
    CustomerId,
    EmailAddress,
    EmailContact,
    ExternalId,
    Gender,
    Organization,
    Person,
    PersonName,
    PhoneContact,
    PhoneNumber,
    PostalAddress,
    SourceChannel,
    Tag,
    UserId,
    region_of,
)
from crmcore.domain.customer import assemble_customer
from crmcore.domain.normalize import normalize_emails, normalize_phones
from crmcore.errors import ConfigurationError, InvalidValueError
from crmcore.matching import workers as pool_policy

__all__ = [
    "IDENTITY_FIELDS",
    "IMPORT_HEADERS",
    "MULTI_VALUED",
    "ROW_ERROR",
    "ROW_LINE",
    "CleanRow",
    "ColumnMapping",
    "IssueKind",
    "OnInvalid",
    "RowIssue",
    "clean_rows",
    "customer_id_for",
    "suggest_region",
]

IMPORT_HEADERS: Final[Mapping[str, tuple[str, ...]]] = {
    "external_id": ("external_id", "id", "customer_id", "客户编号", "编号", "客户id"),
    "name": ("name", "full_name", "fullname", "contact_name", "姓名", "客户名称", "联系人", "名称"),
    "given_name": ("first_name", "given_name", "firstname", "forename", "名"),
    "family_name": ("last_name", "family_name", "surname", "lastname", "姓"),
    "company": (
        "company",
        "company_name",
        "organization",
        "organisation",
        "公司",
        "企业名称",
        "单位",
        "公司名称",
    ),
    "email": ("email", "e-mail", "email_address", "mail", "邮箱", "电子邮件", "电子邮箱"),
    "phone": (
        "phone",
        "mobile",
        "telephone",
        "tel",
        "phone_number",
        "cell",
        "手机",
        "手机号",
        "电话",
        "联系电话",
        "手机号码",
    ),
    "country": ("country", "country_code", "国家"),
    "province": ("province", "state", "region", "省份", "省"),
    "city": ("city", "town", "城市", "市"),
    "district": ("district", "county", "区县", "区"),
    "street": ("street", "address", "address_line", "地址", "详细地址"),
    "postcode": ("postcode", "zip", "zip_code", "postal_code", "邮编", "邮政编码"),
    "birth_date": ("birth_date", "dob", "birthday", "date_of_birth", "生日", "出生日期"),
    "gender": ("gender", "sex", "性别"),
    "industry": ("industry", "行业"),
    "owner": ("owner", "sales_rep", "salesperson", "负责人", "销售"),
    "source": ("source", "lead_source", "channel", "来源", "客户来源"),
    "tags": ("tags", "labels", "标签", "客户标签"),
}
"""Every field an import understands, with the headers (English and Chinese) that mean it."""


MULTI_VALUED: Final = frozenset({"email", "phone", "tags"})
"""Fields that may be fed by several columns (``手机`` and ``电话``, ``邮箱`` and ``邮箱 (2)``)."""

_NUMBERED = re.compile(r"(?:\s*\(\d+\)|[\s_\-]*\d+)$")
"""A trailing column number: ``邮箱 (2)`` (a repeated header, renamed by the reader), ``email2``."""


def _header_key(header: str) -> str:
    text = unicodedata.normalize("NFKC", header).strip().casefold()
    return re.sub(r"[\s\-]+", "_", text)


def _base_key(header: str) -> str:
    """Return the key of ``header`` without a trailing column number."""
    text = unicodedata.normalize("NFKC", header).strip().casefold()
    return re.sub(r"[\s\-]+", "_", _NUMBERED.sub("", text))


def _copy_mapping(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _copy_extra(value: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    return {field: tuple(columns) for field, columns in value.items() if columns}


@attrs.frozen
class ColumnMapping:
    """Which source column feeds which import field.

    >>> mapping = ColumnMapping.detect(["姓名", "手机", "邮箱", "公司", "Notes"])
    >>> dict(mapping.columns)
    {'name': '姓名', 'company': '公司', 'email': '邮箱', 'phone': '手机'}
    >>> mapping.ignored
    ('Notes',)

    A field holding several values (email, phone, tags) may have more columns:
    every value of each is read, none is lost.

    >>> mapping = ColumnMapping.detect(["姓名", "手机", "电话", "邮箱", "邮箱 (2)"])
    >>> dict(mapping.extra)
    {'email': ('邮箱 (2)',), 'phone': ('电话',)}
    >>> mapping.cells({"姓名": "张伟", "手机": "", "电话": "010 6552 9988",
    ...                "邮箱": "zw@example.com", "邮箱 (2)": "zhang@example.cn"})
    {'name': '张伟', 'email': 'zw@example.com;zhang@example.cn', 'phone': '010 6552 9988'}
    """

    columns: Mapping[str, str] = attrs.field(converter=_copy_mapping)
    ignored: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_copy_extra)
    """More columns feeding a field of :data:`MULTI_VALUED`, after its column in ``columns``."""

    @classmethod
    def detect(cls, headers: Sequence[str]) -> ColumnMapping:
        """Recognise common English and Chinese headers; unknown ones are ignored.

        A header matches a field by its name (case, spaces and dashes aside),
        or without a trailing column number (``邮箱 (2)``, ``phone2``). A field
        takes the header of its most usual name; a field of :data:`MULTI_VALUED`
        also takes every other header that matches it.
        """
        by_key: dict[str, list[str]] = {}
        for header in headers:
            by_key.setdefault(_header_key(header), []).append(header)
        by_base: dict[str, list[str]] = {}
        for header in headers:
            by_base.setdefault(_base_key(header), []).append(header)
        used: set[str] = set()
        columns: dict[str, str] = {}
        extra: dict[str, list[str]] = {}
        for field, names in IMPORT_HEADERS.items():
            keys = [_header_key(name) for name in names]
            exact = [h for key in keys for h in by_key.get(key, ()) if h not in used]
            numbered = [h for key in keys for h in by_base.get(key, ()) if h not in used]
            found = list(dict.fromkeys([*exact, *numbered]))
            if not found:
                continue
            columns[field] = found[0]
            used.add(found[0])
            if field in MULTI_VALUED and len(found) > 1:
                extra[field] = [h for h in headers if h in found[1:]]
                used.update(found[1:])
        ignored = tuple(h for h in headers if h not in used)
        return cls(columns, ignored, extra)

    @classmethod
    def from_json(cls, data: Mapping[str, object], headers: Sequence[str]) -> ColumnMapping:
        """Build a mapping from ``{"field": "Header"}``; unmapped fields are detected.

        A field of :data:`MULTI_VALUED` may name a list of headers
        (``{"phone": ["Mobile", "Office"]}``).

        >>> mapping = ColumnMapping.from_json({"phone": ["Mobile", "Office"]},
        ...                                   ["Name", "Mobile", "Office"])
        >>> dict(mapping.columns), dict(mapping.extra)
        ({'name': 'Name', 'phone': 'Mobile'}, {'phone': ('Office',)})

        Raises:
            ConfigurationError: If a field is unknown, a header is not in the
                file, or a list is given for a field that holds one value.
        """
        unknown = sorted(set(data) - set(IMPORT_HEADERS))
        if unknown:
            raise ConfigurationError(
                f"unknown import fields {unknown}; known: {sorted(IMPORT_HEADERS)}"
            )
        named: dict[str, list[str]] = {}
        for field, value in data.items():
            if isinstance(value, str):
                named[field] = [value]
            elif (
                isinstance(value, list)
                and value
                and field in MULTI_VALUED
                and all(isinstance(v, str) for v in value)
            ):
                named[field] = list(value)
            else:
                raise ConfigurationError(
                    f"mapping of {field!r}: expected a column name"
                    + (" or a list of them" if field in MULTI_VALUED else "")
                    + f", got {value!r}"
                )
        mapped = {h for columns in named.values() for h in columns}
        missing = sorted(h for h in mapped if h not in headers)
        if missing:
            raise ConfigurationError(f"mapped columns not in the file: {missing}")
        detected = cls.detect([h for h in headers if h not in mapped])
        columns = {**detected.columns, **{k: v[0] for k, v in named.items()}}
        extra = {
            **{k: v for k, v in detected.extra.items() if k not in named},
            **{k: v[1:] for k, v in named.items() if len(v) > 1},
        }
        used = set(columns.values()) | {h for columns in extra.values() for h in columns}
        return cls(columns, tuple(h for h in headers if h not in used), extra)

    def get(self, row: Mapping[str, str | None], field: str) -> str:
        """Return the trimmed value of ``field`` in ``row`` ("" when absent)."""
        column = self.columns.get(field)
        if column is None:
            return ""
        if field in self.extra:
            return self.cells(row)[field]
        return _trimmed(row.get(column))

    def field_of(self, column: str) -> str | None:
        """Return the field ``column`` feeds, or None if the column is ignored."""
        for field, mapped in self.columns.items():
            if mapped == column:
                return field
        for field, more in self.extra.items():
            if column in more:
                return field
        return None

    def cells(self, row: Mapping[str, str | None]) -> dict[str, str]:
        """Return the trimmed value of every mapped field (as :meth:`get` gives each).

        The values of a field's extra columns follow its own, separated by ``;``.
        Read once per row: the cleaning steps look fields up some twenty times.
        """
        cells = {field: _trimmed(row.get(column)) for field, column in self.columns.items()}
        for field, more in self.extra.items():
            values = [cells[field], *(_trimmed(row.get(column)) for column in more)]
            cells[field] = ";".join(v for v in values if v)
        return cells


def _trimmed(value: str | None) -> str:
    return "" if value is None else str(value).strip()


class OnInvalid(enum.StrEnum):
    """What an import does with an invalid value (a phone ``12345``, a date ``1990-02-30``).

    ``drop-value`` (the default) keeps the customer and leaves the bad value
    out, reporting it with kind ``dropped``: in a migration, one bad phone must
    not cost a customer whose name and email are good. ``reject-row`` rejects
    the whole row instead. Either way a row whose identity is bad (an invalid
    or undecodable name, company or external id, or no name and no company) is
    rejected: dropping that value would change who the customer is.
    """

    DROP_VALUE = "drop-value"
    REJECT_ROW = "reject-row"


IDENTITY_FIELDS: Final = frozenset({"name", "given_name", "family_name", "company", "external_id"})
"""Fields whose bad value rejects the row under either :class:`OnInvalid` policy."""


class IssueKind(enum.StrEnum):
    """What a report line says about a row."""

    REJECTED = "rejected"  # the row cannot be imported
    CHANGED = "changed"  # a value was normalised (规范化)
    MISSING = "missing"  # a wanted field is empty (补全)
    DROPPED = "dropped"  # an invalid optional value was left out; the row is kept
    DUPLICATE = "duplicate"  # the row repeats an earlier row of the same file


@attrs.frozen
class RowIssue:
    """One line of the import report: row number, field, value, what and why.

    ``row`` numbers data rows from 1 (the header is not a row); ``line`` is
    the line of the file where the row starts, when the reader knows it (a
    quoted cell may span lines, so the two can differ by more than one).
    """

    row: int
    field: str
    value: str
    kind: IssueKind
    reason: str
    line: int | None = None


@attrs.frozen
class CleanRow:
    """A cleaned row: the customer it describes (None if rejected) and its issues."""

    row: int
    customer: Customer | None
    key: str
    issues: tuple[RowIssue, ...] = ()
    duplicate_of: int | None = None
    match_keys: tuple[str, ...] = ()
    source: Mapping[str, str | None] | None = None
    """The raw row as read, kept only for a rejected row (to write it to a quarantine file)."""
    line: int | None = None
    """The line of the file where the row starts, when the reader knows it."""

    @property
    def rejected(self) -> bool:
        """Whether the row cannot be imported."""
        return self.customer is None


ROW_ERROR: Final = "__crmcore_row_error__"
"""Key a reader puts in a row it could not read (a broken JSON line); the row is rejected."""

ROW_LINE: Final = "__crmcore_line__"
"""Key a reader may put in a row: the line of the file where the row starts (as text)."""

_SPECIAL_KEYS: Final = frozenset({ROW_ERROR, ROW_LINE})

_Issue: TypeAlias = Callable[[str, str, IssueKind, str], None]
_Cells: TypeAlias = dict[str, str]
"""Field -> trimmed value of one row; a field that is not mapped is absent (read as "")."""

_DATE_SHAPES = (
    re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"(\d{4})\.(\d{1,2})\.(\d{1,2})"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
)
_GENDERS = {
    "m": Gender.MALE,
    "male": Gender.MALE,
    "男": Gender.MALE,
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "女": Gender.FEMALE,
    "other": Gender.OTHER,
    "其他": Gender.OTHER,
}
_SPLIT = re.compile(r"[;,；，、|]\s*")


def _parse_date(raw: str) -> dt.date:
    for shape in _DATE_SHAPES:
        match = shape.fullmatch(raw)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return dt.date(year, month, day)
            except ValueError as exc:
                raise InvalidValueError("birth_date", raw, "no such date") from exc
    raise InvalidValueError("birth_date", raw, "expected a date such as 1988-02-29")


def customer_id_for(source: str, key: str) -> CustomerId:
    """Return the deterministic customer id of an imported record.

    The same source and key always give the same id, which is what makes
    re-running an import store nothing new.

    >>> customer_id_for("crm2019.csv", "email:li.na@example.com")
    'imp-...'
    """
    digest = hashlib.sha256(f"{source}\x1f{key}".encode()).hexdigest()[:24]
    return CustomerId(f"imp-{digest}")


@attrs.frozen
class _Raw:
    row: int
    values: Mapping[str, str | None]


def clean_rows(
    rows: Iterable[Mapping[str, str | None]],
    mapping: ColumnMapping,
    *,
    source: str,
    at: pendulum.DateTime,
    region: str | None = None,
    start_row: int = 1,
    chunk: int = 2_000,
    workers: int = 0,
    on_invalid: OnInvalid = OnInvalid.DROP_VALUE,
) -> Iterator[CleanRow]:
    """Clean import rows lazily, a chunk at a time (phones and emails are normalised in bulk).

    Args:
        rows: Raw rows keyed by column header.
        mapping: Which column feeds which field.
        source: Name of the data source (file name); part of every record's identity.
        at: The import instant (``created_at`` of new customers).
        region: Default phone region for national numbers; a row's own
            ``country`` column takes precedence.
        start_row: Number of the first row (for resumed or sampled runs).
        chunk: Rows normalised together.
        workers: Worker processes that normalise chunks in parallel (0: this
            process only). The dedupe pass always runs here, in row order, so
            the result is the same for any number of workers.
        on_invalid: Drop an invalid value and keep the row (the default), or
            reject the row (see :class:`OnInvalid`).

    Yields:
        One :class:`CleanRow` per input row, in order. Later rows sharing an
        email, phone or external id with an earlier row are marked as its
        duplicates.
    """
    if "name" not in mapping.columns and not (
        {"given_name", "family_name", "company"} & set(mapping.columns)
    ):
        raise ConfigurationError(
            "no name column found: map one of name / first_name + last_name / company"
        )
    when = utc(at)
    seen: dict[str, int] = {}
    policy = OnInvalid(on_invalid)
    jobs = (
        _Job(batch, mapping, source, when, region, policy)
        for batch in _chunks(rows, start_row, chunk)
    )
    cleaned = map(_run, jobs) if workers < 1 else _parallel(jobs, workers)
    for rows_of_chunk in cleaned:
        for row in rows_of_chunk:
            yield _mark_duplicate(row, seen)


def _chunks(
    rows: Iterable[Mapping[str, str | None]], start_row: int, size: int
) -> Iterator[list[_Raw]]:
    batch: list[_Raw] = []
    for number, values in enumerate(rows, start=start_row):
        batch.append(_Raw(number, values))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@attrs.frozen
class _Job:
    batch: list[_Raw]
    mapping: ColumnMapping
    source: str
    at: pendulum.DateTime
    region: str | None
    on_invalid: OnInvalid


def _run(job: _Job) -> list[CleanRow]:
    return list(
        _clean_chunk(
            job.batch,
            job.mapping,
            source=job.source,
            at=job.at,
            region=job.region,
            on_invalid=job.on_invalid,
        )
    )


def _parallel(jobs: Iterator[_Job], workers: int) -> Iterator[list[CleanRow]]:
    """Run jobs in worker processes, at most ``2 * workers`` in flight, yielding in order.

    The pool follows crmcore's one policy (:mod:`crmcore.matching.workers`):
    "spawn", since a forked worker would inherit the caller's open database
    connections (and, if the caller is killed, keep its transaction alive);
    a job whose worker cannot start or dies runs here instead.
    """
    with pool_policy.start_pool(workers, "spawn") as pool:
        pending: collections.deque[
            tuple[_Job, concurrent.futures.Future[list[CleanRow]] | None]
        ] = collections.deque()
        for job in jobs:
            pending.append((job, pool_policy.submit(pool, _run, job)))
            if len(pending) >= 2 * workers:
                yield _result(*pending.popleft())
        while pending:
            yield _result(*pending.popleft())


def _result(job: _Job, future: concurrent.futures.Future[list[CleanRow]] | None) -> list[CleanRow]:
    return pool_policy.result_or_here(future, lambda: _run(job))


def _mark_duplicate(row: CleanRow, seen: dict[str, int]) -> CleanRow:
    """Mark ``row`` as a duplicate of the first earlier row sharing a match key."""
    if row.rejected or not row.match_keys:
        return row
    earlier = [seen[k] for k in row.match_keys if k in seen]
    for k in row.match_keys:
        seen.setdefault(k, row.row)
    if not earlier:
        return row
    first = min(earlier)
    issue = RowIssue(
        row.row,
        "row",
        str(row.row),
        IssueKind.DUPLICATE,
        f"same customer as row {first}",
        row.line,
    )
    return CleanRow(  # attrs.evolve, without its per-call introspection
        row=row.row,
        customer=row.customer,
        key=row.key,
        issues=(*row.issues, issue),
        duplicate_of=first,
        match_keys=row.match_keys,
        source=row.source,
        line=row.line,
    )


def _clean_chunk(
    batch: list[_Raw],
    mapping: ColumnMapping,
    *,
    source: str,
    at: pendulum.DateTime,
    region: str | None,
    on_invalid: OnInvalid,
) -> Iterator[CleanRow]:
    cells = [mapping.cells(r.values) for r in batch]
    for row_cells in cells:
        # A value with undecodable bytes is not read as a phone, email, date …: it is
        # reported once (by _clean_row) and, unless it rejects the row, left out.
        for field, value in row_cells.items():
            if "\ufffd" in value:  # of several values (two email columns), only the bad ones
                row_cells[field] = ";".join(v for v in _SPLIT.split(value) if "\ufffd" not in v)
    email_cells = [[v for v in _SPLIT.split(c.get("email", "")) if v] for c in cells]
    phone_cells = [[v for v in _SPLIT.split(c.get("phone", "")) if v] for c in cells]
    emails = normalize_emails([e for cell in email_cells for e in cell])
    phone_regions = [region_of(c.get("country", ""), region) for c in cells]
    flat_phones = [(p, phone_regions[i]) for i, cell in enumerate(phone_cells) for p in cell]
    # One bulk call per distinct phone region.
    by_region: dict[str | None, list[int]] = {}
    for index, (_, reg) in enumerate(flat_phones):
        by_region.setdefault(reg, []).append(index)
    phones: list[tuple[str, str | None] | InvalidValueError] = [
        InvalidValueError("phone", "", "not parsed")
    ] * len(flat_phones)
    for reg, indexes in by_region.items():
        for index, result in zip(
            indexes, normalize_phones([flat_phones[i][0] for i in indexes], reg), strict=True
        ):
            phones[index] = result
    e_pos = p_pos = 0
    for raw, row_cells, e_cell, p_cell in zip(batch, cells, email_cells, phone_cells, strict=True):
        row_emails = emails[e_pos : e_pos + len(e_cell)]
        row_phones = phones[p_pos : p_pos + len(p_cell)]
        e_pos += len(e_cell)
        p_pos += len(p_cell)
        yield _clean_row(
            raw,
            row_cells,
            source=source,
            at=at,
            emails=list(zip(e_cell, row_emails, strict=True)),
            phones=list(zip(p_cell, row_phones, strict=True)),
            mapping=mapping,
            on_invalid=on_invalid,
        )


def _contact_values(
    emails: Sequence[tuple[str, str | InvalidValueError]],
    phones: Sequence[tuple[str, tuple[str, str | None] | InvalidValueError]],
    issue: _Issue,
    invalid: IssueKind,
) -> tuple[list[EmailAddress], list[PhoneNumber]]:
    good_emails: list[EmailAddress] = []
    for text, result in emails:
        if isinstance(result, InvalidValueError):
            issue("email", text, invalid, result.reason)
            continue
        good_emails.append(EmailAddress(result))
        if result != text:
            issue("email", text, IssueKind.CHANGED, f"normalised to {result}")
    good_phones: list[PhoneNumber] = []
    for text, phone_result in phones:
        if isinstance(phone_result, InvalidValueError):
            issue("phone", text, invalid, phone_result.reason)
            continue
        phone = PhoneNumber(*phone_result)
        good_phones.append(phone)
        if str(phone) != text:
            issue("phone", text, IssueKind.CHANGED, f"normalised to {phone}")
    return good_emails, good_phones


def _clean_row(
    raw: _Raw,
    cells: _Cells,
    *,
    source: str,
    at: pendulum.DateTime,
    emails: Sequence[tuple[str, str | InvalidValueError]],
    phones: Sequence[tuple[str, tuple[str, str | None] | InvalidValueError]],
    mapping: ColumnMapping,
    on_invalid: OnInvalid,
) -> CleanRow:
    row = raw.row
    values = raw.values
    issues: list[RowIssue] = []
    line_text = values.get(ROW_LINE)
    line = int(line_text) if line_text else None
    invalid = IssueKind.REJECTED if on_invalid is OnInvalid.REJECT_ROW else IssueKind.DROPPED

    def issue(field: str, value: str, kind: IssueKind, reason: str) -> None:
        issues.append(RowIssue(row, field, value, kind, reason, line))

    if ROW_ERROR in values:
        issue("row", str(row), IssueKind.REJECTED, str(values[ROW_ERROR]))
        return CleanRow(
            row=row, customer=None, key="", issues=tuple(issues), source=values, line=line
        )
    for column, value in values.items():
        if value is not None and "\ufffd" in str(value) and column not in _SPECIAL_KEYS:
            field = mapping.field_of(column)
            kind = IssueKind.REJECTED if field in IDENTITY_FIELDS else invalid
            issue(field or column, str(value), kind, "not valid text in the file's encoding")
    good_emails, good_phones = _contact_values(emails, phones, issue, invalid)

    get = cells.get
    name = _name(get("name", ""), get("given_name", ""), get("family_name", ""), issue)
    company = get("company", "")
    if name is None and not company:
        issue("name", "", IssueKind.REJECTED, "a name or a company is required")
    if not good_emails and not good_phones:
        issue("email", "", IssueKind.MISSING, "no email or phone: the customer cannot be contacted")

    person = _person(name, company, cells, issue, invalid) if name is not None else None
    address = _address(cells, issue)
    country = _country(get("country", ""), issue)
    tags = _tags(get("tags", ""), issue)
    owner = get("owner", "")
    source_channel = _source(get("source", ""), issue)
    external = get("external_id", "")

    rejected = any(i.kind is IssueKind.REJECTED for i in issues)
    key = _identity_key(external, good_emails, good_phones, name, company)
    match_keys = [f"x:{external}"] if external else []
    match_keys += [f"e:{str(e).casefold()}" for e in good_emails]
    match_keys += [f"p:{p.e164}" for p in good_phones]
    if rejected:
        return CleanRow(
            row=row, customer=None, key=key, issues=tuple(issues), source=values, line=line
        )

    points = ContactPoints(
        emails=[
            EmailContact(address=e, kind=ContactKind.WORK, primary=i == 0)
            for i, e in enumerate(dict.fromkeys(good_emails))
        ],
        phones=[
            PhoneContact(number=p, kind=ContactKind.MOBILE, primary=i == 0)
            for i, p in enumerate(dict.fromkeys(good_phones))
        ],
        addresses=[] if address is None else [AddressContact(address=address, primary=True)],
    )
    external_ids = {ExternalId(f"import:{source}", key)}
    if external:
        external_ids.add(ExternalId(source, external))
    customer = assemble_customer(  # the parts are valid value objects: no re-validation
        id=customer_id_for(source, key),
        person=person,
        organization=(
            Organization(legal_name=company, industry=get("industry", ""))
            if person is None
            else None
        ),
        points=points,
        country=country,
        source=source_channel,
        owner=UserId(owner) if owner else None,
        tags=tags,
        external_ids=frozenset(external_ids),
        at=at,
    )
    return CleanRow(
        row=row,
        customer=customer,
        key=key,
        issues=tuple(issues),
        match_keys=tuple(match_keys),
        line=line,
    )


def _name(full: str, given: str, family: str, issue: _Issue) -> PersonName | None:
    try:
        if full:
            return PersonName.parse(full)
        if given or family:
            return PersonName(family=family, given=given)
    except InvalidValueError as exc:
        issue("name", full or f"{given} {family}", IssueKind.REJECTED, exc.reason)
    return None


def _person(
    name: PersonName,
    company: str,
    cells: _Cells,
    issue: _Issue,
    invalid: IssueKind,
) -> Person:
    birth_raw = cells.get("birth_date", "")
    birth: dt.date | None = None
    if birth_raw:
        try:
            birth = _parse_date(birth_raw)
        except InvalidValueError as exc:
            issue("birth_date", birth_raw, invalid, exc.reason)
        else:
            if birth.isoformat() != birth_raw:
                issue(
                    "birth_date", birth_raw, IssueKind.CHANGED, f"normalised to {birth.isoformat()}"
                )
            if birth < dt.date(1900, 1, 1):
                issue("birth_date", birth_raw, invalid, "before 1900-01-01")
                birth = None
    gender_raw = cells.get("gender", "")
    gender = _GENDERS.get(gender_raw.casefold()) if gender_raw else None
    if gender_raw and gender is None:
        issue("gender", gender_raw, IssueKind.DROPPED, "not a recognised gender")
    return Person(name=name, birth_date=birth, gender=gender, employer=company)


def _address(cells: _Cells, issue: _Issue) -> PostalAddress | None:
    parts = {f: cells.get(f, "") for f in ("province", "city", "district", "street", "postcode")}
    if not any(parts.values()):
        return None
    country = _country_code(region_of(cells.get("country", ""), None) or "CN")
    try:
        return PostalAddress(
            country=country,
            province=parts["province"],
            city=parts["city"],
            district=parts["district"],
            street=(parts["street"],) if parts["street"] else (),
            postcode=parts["postcode"],
        )
    except InvalidValueError as exc:
        issue(exc.field, str(exc.value), IssueKind.DROPPED, exc.reason)
        try:
            return PostalAddress(
                country=country,
                province=parts["province"],
                city=parts["city"],
                district=parts["district"],
                street=(parts["street"],) if parts["street"] else (),
            )
        except InvalidValueError:
            return None


_COUNTRY_CODES: dict[str, CountryCode] = {}


def _country_code(code: str) -> CountryCode:
    """Return ``CountryCode(code)``, one shared instance per code (value objects are immutable).

    Raises:
        InvalidValueError: If ``code`` is not a country code (nothing is cached then,
            so the cache holds at most the valid codes and their spellings).
    """
    found = _COUNTRY_CODES.get(code)
    if found is None:
        found = _COUNTRY_CODES.setdefault(code, CountryCode(code))
    return found


def _country(raw: str, issue: _Issue) -> CountryCode | None:
    if not raw:
        return None
    code = region_of(raw, None)
    try:
        return _country_code(code or raw)
    except InvalidValueError as exc:
        issue("country", raw, IssueKind.DROPPED, exc.reason)
        return None


def _tags(raw: str, issue: _Issue) -> frozenset[Tag]:
    tags: set[Tag] = set()
    for part in _SPLIT.split(raw):
        if not part.strip():
            continue
        try:
            tags.add(Tag(part))
        except InvalidValueError as exc:
            issue("tags", part, IssueKind.DROPPED, exc.reason)
    return frozenset(tags)


_SOURCES = {s.value: s for s in SourceChannel} | {
    "网站": SourceChannel.WEBSITE,
    "官网": SourceChannel.WEBSITE,
    "转介绍": SourceChannel.REFERRAL,
    "推荐": SourceChannel.REFERRAL,
    "展会": SourceChannel.EVENT,
    "活动": SourceChannel.EVENT,
    "广告": SourceChannel.ADVERTISING,
    "微信": SourceChannel.WECHAT,
    "电话": SourceChannel.COLD_CALL,
    "合作伙伴": SourceChannel.PARTNER,
    "门店": SourceChannel.WALK_IN,
}


def _source(raw: str, issue: _Issue) -> SourceChannel:
    if not raw:
        return SourceChannel.IMPORT
    found = _SOURCES.get(raw.strip().casefold().replace(" ", "_"))
    if found is None:
        issue(
            "source", raw, IssueKind.DROPPED, f"not one of {sorted(s.value for s in SourceChannel)}"
        )
        return SourceChannel.IMPORT
    return found


def _identity_key(
    external: str,
    emails: Sequence[EmailAddress],
    phones: Sequence[PhoneNumber],
    name: PersonName | None,
    company: str,
) -> str:
    if external:
        return f"external:{external}"
    if emails:
        return f"email:{str(emails[0]).casefold()}"
    if phones:
        return f"phone:{phones[0].e164}"
    who = name.full if name is not None else ""
    return f"name:{who.casefold()}|{company.casefold()}"


_CANDIDATE_REGIONS: Final = ("CN", "HK", "TW", "SG", "US", "GB", "DE", "FR", "JP", "AU", "IN")
"""Regions tried, in this order, when guessing the region of national phone numbers."""

NO_COUNTRY_CODE: Final = "no country code"
"""How the reason of a phone read without a region begins (see :func:`suggest_region`)."""


def suggest_region(phones: Iterable[str], *, sample: int = 200) -> str | None:
    """Guess the region in which national phone numbers (no ``+``, no region given) read best.

    Tries the first ``sample`` numbers in a few common regions and returns the
    one where most of them are valid, if that is at least half of them.

    >>> suggest_region(["138 0013 8000", "139 1234 5678", "010 6552 9988"])
    'CN'
    >>> suggest_region(["06 12 34 56 78", "01 23 45 67 89"])
    'FR'

    Numbers valid in several regions go to the earliest of CN, HK, TW, SG,
    US, GB, DE, FR, JP, AU, IN: the hint is a suggestion, never applied silently.
    >>> suggest_region(["12", "x"]) is None
    True
    """
    tried = list(itertools.islice((p for p in phones if p.strip()), sample))
    if not tried:
        return None
    best, best_valid = None, 0
    for region in _CANDIDATE_REGIONS:
        valid = sum(1 for r in normalize_phones(tried, region) if isinstance(r, tuple))
        if valid > best_valid:
            best, best_valid = region, valid
    return best if best_valid * 2 >= len(tried) else None
