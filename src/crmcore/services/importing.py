"""Bulk import (批量导入): clean rows, dedupe them, and store the good ones in batches.

:func:`import_customers` runs the migration the manuals describe: clean
before loading (see :mod:`crmcore.services.cleaning`), trial-run a sample,
write good rows in batches through the storage port, and report every
rejected or changed row.

It is **idempotent** and **resumable**: every imported customer gets an id
derived from the data source and the row's identity (its external id, else
its first email, else its first phone, else its name and company), so a row
already stored is recognised and skipped. Running the same import twice
stores nothing new; an import killed mid-way and re-run stores every good
row exactly once (each batch is committed in one unit of work).

May import: ``crmcore.ports``, ``crmcore.domain``, ``crmcore.errors``,
``crmcore.clock``, ``crmcore.services.cleaning``; attrs.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import gc
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

import attrs

from crmcore.clock import Clock
from crmcore.domain import (
    Customer,
    CustomerId,
    CustomerRegistered,
    CustomerUpdated,
    UserId,
)
from crmcore.errors import NotFoundError, StaleVersionError
from crmcore.ports import Store, UnitOfWork
from crmcore.services.cleaning import (
    NO_COUNTRY_CODE,
    CleanRow,
    ColumnMapping,
    IssueKind,
    OnInvalid,
    RowIssue,
    clean_rows,
    customer_id_for,
    suggest_region,
)

__all__ = ["COMPLETENESS_FIELDS", "ImportReport", "OnDuplicate", "OnInvalid", "import_customers"]


class OnDuplicate(enum.StrEnum):
    """What to do with a row that describes a customer already in the file or the store."""

    SKIP = "skip"  # keep the first, report the rest
    MERGE = "merge"  # add the row's contact points and tags to the first
    KEEP = "keep"  # store it as a customer of its own


def _has_city(customer: Customer) -> bool:
    return any(a.address.city for a in customer.points.addresses)


COMPLETENESS_FIELDS: Final[Mapping[str, Callable[[Customer], object]]] = {
    "name": lambda c: c.display_name,
    "company": lambda c: c.organization or (c.person is not None and c.person.employer),
    "email": lambda c: c.points.emails,
    "phone": lambda c: c.points.phones,
    "address": lambda c: c.points.addresses,
    "city": _has_city,
    "country": lambda c: c.country,
    "birth_date": lambda c: c.person is not None and c.person.birth_date,
    "gender": lambda c: c.person is not None and c.person.gender,
    "owner": lambda c: c.owner,
    "tags": lambda c: c.tags,
}
"""The fields whose completeness an import measures, each with its "is it filled" test."""


@attrs.frozen
class ImportReport:
    """What an import did, with one issue per rejected, changed, dropped or duplicate value.

    Attributes:
        rows: Rows read.
        stored: New customers stored (or that would be, in a dry run).
        merged: Rows merged into an earlier customer.
        already_imported: Rows found already stored by an earlier run.
        duplicates: Rows skipped as duplicates.
        rejected: Rows that could not be imported.
        issues: Every report line, in row order.
        dry_run: Whether nothing was written.
        filled: For each of :data:`COMPLETENESS_FIELDS`, how many of the
            ``stored`` customers have it (the manuals' completeness check after a load).
        phones_without_country_code: Phone values that could not be read
            because they are national numbers and no region was given.
        suggested_region: The region most of those numbers read in, if any
            (see :func:`~crmcore.services.cleaning.suggest_region`).
    """

    rows: int
    stored: int
    merged: int
    already_imported: int
    duplicates: int
    rejected: int
    issues: tuple[RowIssue, ...]
    dry_run: bool
    filled: Mapping[str, int] = attrs.field(factory=dict)
    phones_without_country_code: int = 0
    suggested_region: str | None = None

    @property
    def changed(self) -> int:
        """Rows with at least one normalised value."""
        return len({i.row for i in self.issues if i.kind is IssueKind.CHANGED})

    @property
    def dropped(self) -> int:
        """Values left out of kept rows because they were invalid."""
        return sum(1 for i in self.issues if i.kind is IssueKind.DROPPED)

    def completeness(self) -> dict[str, float]:
        """Return the share (0..1) of stored customers having each field.

        >>> report = ImportReport(rows=4, stored=4, merged=0, already_imported=0,
        ...     duplicates=0, rejected=0, issues=(), dry_run=False,
        ...     filled={"email": 3, "phone": 4})
        >>> report.completeness()
        {'email': 0.75, 'phone': 1.0}
        """
        if not self.stored:
            return dict.fromkeys(self.filled, 0.0)
        return {field: count / self.stored for field, count in self.filled.items()}


@attrs.define
class _Tally:
    rows: int = 0
    stored: int = 0
    merged: int = 0
    already: int = 0
    duplicates: int = 0
    rejected: int = 0
    issues: list[RowIssue] = attrs.field(factory=list)
    first_ids: dict[int, CustomerId] = attrs.field(factory=dict)
    lookups: bool = True
    filled: collections.Counter[str] = attrs.field(factory=collections.Counter)
    phones: int = 0
    no_region: list[str] = attrs.field(factory=list)
    count_regions: bool = False


def import_customers(
    store: Store,
    rows: Iterable[Mapping[str, str | None]],
    mapping: ColumnMapping,
    *,
    source: str,
    clock: Clock,
    region: str | None = None,
    on_duplicate: OnDuplicate = OnDuplicate.SKIP,
    dry_run: bool = False,
    limit: int | None = None,
    batch_size: int = 1_000,
    workers: int = 0,
    by: UserId | None = None,
    progress: Callable[[int], None] | None = None,
    on_invalid: OnInvalid = OnInvalid.DROP_VALUE,
    on_reject: Callable[[CleanRow], None] | None = None,
) -> ImportReport:
    """Clean, dedupe and store customers from raw rows.

    Args:
        store: Where customers are stored.
        rows: Raw rows keyed by column header (a ``csv.DictReader``, parsed JSON lines).
        mapping: Which column feeds which field.
        source: Name of the data source; part of each imported customer's identity.
        clock: Where the import instant comes from.
        region: Default phone region for national numbers.
        on_duplicate: What to do with rows describing an existing customer.
        dry_run: Clean, dedupe and report, but write nothing.
        limit: Import only the first ``limit`` rows (a trial migration).
        batch_size: Rows per unit of work.
        workers: Worker processes cleaning rows in parallel while this one stores
            them (0: none; the result does not depend on it).
        by: Who runs the import (recorded on events).
        progress: Called with the number of rows processed after each batch.
        on_invalid: Keep a row and drop its invalid values (the default), or
            reject the row (see :class:`~crmcore.services.cleaning.OnInvalid`).
        on_reject: Called with every rejected row, in order (its
            :attr:`~crmcore.services.cleaning.CleanRow.source` holds the row as
            read), e.g. to write a quarantine file to fix and re-import.

    Returns:
        The report.

    Raises:
        ConfigurationError: If no name column can be found.
        StorageError: If the store fails (batches committed before stay stored).
    """
    at = clock.now()
    source_rows = rows if limit is None else itertools.islice(rows, limit)
    cleaned = clean_rows(
        source_rows,
        mapping,
        source=source,
        at=at,
        region=region,
        workers=workers,
        on_invalid=on_invalid,
    )
    tally = _Tally(count_regions=region is None)
    with store.unit_of_work() as uow:
        # Loading into an empty store, every stored customer comes from this run, and
        # any row that could match one was already caught by the in-file dedupe: the
        # per-row lookups in the store can be skipped. (A re-run finds customers and
        # looks every row up.)
        tally.lookups = uow.customers.count() > 0
    with _bulk_collection():
        for batch in _batches(cleaned, batch_size):
            with store.unit_of_work() as uow:
                _import_batch(
                    uow,
                    batch,
                    tally,
                    on_duplicate=on_duplicate,
                    by=by,
                    source=source,
                    on_reject=on_reject,
                )
                if not dry_run:
                    uow.commit()
            if progress is not None:
                progress(tally.rows)
    return ImportReport(
        rows=tally.rows,
        stored=tally.stored,
        merged=tally.merged,
        already_imported=tally.already,
        duplicates=tally.duplicates,
        rejected=tally.rejected,
        issues=tuple(tally.issues),
        dry_run=dry_run,
        filled={field: tally.filled[field] for field in COMPLETENESS_FIELDS},
        phones_without_country_code=len(tally.no_region),
        suggested_region=_suggested_region(tally),
    )


def _suggested_region(tally: _Tally) -> str | None:
    """Suggest a region when at least half of the phone values lacked a country code."""
    missing = len(tally.no_region)
    if not missing or missing * 2 < tally.phones + missing:
        return None
    return suggest_region(tally.no_region)


def _count_phones(row: CleanRow, tally: _Tally) -> None:
    if row.customer is not None:
        tally.phones += len(row.customer.points.phones)
    for issue in row.issues:
        if issue.field == "phone" and issue.reason.startswith(NO_COUNTRY_CODE):
            tally.no_region.append(issue.value)


@contextlib.contextmanager
def _bulk_collection() -> Iterator[None]:
    """Collect cyclic garbage rarely while an import runs; restore the settings afterwards.

    An import allocates tens of millions of small container objects that live
    for one batch: with the default thresholds, each is traversed by several
    collections, and the oldest generation (every module, the phone metadata,
    the growing report) is re-scanned dozens of times — a third of the run time
    of a 100,000-row file. The objects alive before the import are never
    garbage, so they are frozen out of collections (:func:`gc.freeze`), and
    the young generation is collected every 100,000 allocations instead of
    700. Cyclic garbage is still collected, only in bigger steps. The settings are
    process-wide, so they are restored as soon as the last running import ends
    (also when it fails); other threads meanwhile only see collections happen
    less often.
    """
    with _BULK_LOCK:
        _bulk_state["depth"] += 1
        if _bulk_state["depth"] == 1:
            _bulk_state["thresholds"] = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(100_000, 20, 100)
    try:
        yield
    finally:
        with _BULK_LOCK:
            _bulk_state["depth"] -= 1
            if _bulk_state["depth"] == 0:
                gc.set_threshold(*_bulk_state["thresholds"])
                gc.unfreeze()


_BULK_LOCK = threading.Lock()
_bulk_state: dict[str, Any] = {"depth": 0, "thresholds": gc.get_threshold()}
"""Imports running now (in any thread), and the thresholds to restore after the last."""


def _batches(rows: Iterable[CleanRow], size: int) -> Iterator[list[CleanRow]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _stored(uow: UnitOfWork, customer_id: CustomerId) -> Customer | None:
    try:
        return uow.customers.get(customer_id)
    except NotFoundError:
        return None


def _stored_duplicate(uow: UnitOfWork, customer: Customer) -> Customer | None:
    for email in customer.points.emails:
        for found in uow.customers.find_by_email(email.address):
            if found.id != customer.id and found.is_active:
                return found
    for phone in customer.points.phones:
        for found in uow.customers.find_by_phone(phone.number):
            if found.id != customer.id and found.is_active:
                return found
    return None


def _import_batch(
    uow: UnitOfWork,
    batch: list[CleanRow],
    tally: _Tally,
    *,
    on_duplicate: OnDuplicate,
    by: UserId | None,
    source: str,
    on_reject: Callable[[CleanRow], None] | None,
) -> None:
    new: dict[CustomerId, Customer] = {}
    updated: dict[CustomerId, Customer] = {}
    for row in batch:
        tally.rows += 1
        tally.issues.extend(row.issues)
        if tally.count_regions:
            _count_phones(row, tally)
        customer = row.customer
        if customer is None:
            tally.rejected += 1
            if on_reject is not None:
                on_reject(row)
            continue
        if row.duplicate_of is None and (
            customer.id in new or (tally.lookups and _stored(uow, customer.id))
        ):
            tally.already += 1  # stored by an earlier run of this import
            tally.first_ids[row.row] = customer.id
            continue
        target_id = _duplicate_target(uow, row, customer, tally)
        if target_id is None:
            new[customer.id] = customer
            tally.first_ids[row.row] = customer.id
        else:
            _handle_duplicate(
                uow,
                row,
                customer,
                target_id,
                tally,
                new=new,
                updated=updated,
                policy=on_duplicate,
                source=source,
            )
    _save_new(uow, new, tally)
    if updated:
        uow.customers.save_many(updated.values())
    for customer in new.values():
        uow.collect(
            CustomerRegistered(
                customer_id=customer.id,
                kind=customer.kind.value,
                display_name=customer.display_name,
                owner=customer.owner,
                at=customer.created_at,
                by=by,
            )
        )
    for customer in updated.values():
        uow.collect(
            CustomerUpdated(
                customer_id=customer.id, fields=("points", "tags"), at=customer.updated_at, by=by
            )
        )


def _handle_duplicate(
    uow: UnitOfWork,
    row: CleanRow,
    customer: Customer,
    target_id: CustomerId,
    tally: _Tally,
    *,
    new: dict[CustomerId, Customer],
    updated: dict[CustomerId, Customer],
    policy: OnDuplicate,
    source: str,
) -> None:
    if policy is not OnDuplicate.KEEP:
        tally.first_ids[row.row] = target_id  # later rows matching this one reach the target
    if policy is OnDuplicate.SKIP:
        tally.duplicates += 1
        if row.duplicate_of is None:
            reason = f"same customer as stored {target_id}"
            tally.issues.append(
                RowIssue(row.row, "row", str(row.row), IssueKind.DUPLICATE, reason, row.line)
            )
    elif policy is OnDuplicate.KEEP:
        kept = attrs.evolve(customer, id=customer_id_for(source, f"{row.key}#row{row.row}"))
        tally.first_ids[row.row] = kept.id
        if kept.id in new or _stored(uow, kept.id):
            tally.already += 1
        else:
            new[kept.id] = kept
    else:
        tally.merged += 1
        target = new.get(target_id) or updated.get(target_id) or _stored(uow, target_id)
        if target is None:  # a dry run: the first row's batch was never committed
            return
        absorbed = _absorb(target, customer)
        if (absorbed.points, absorbed.tags) != (target.points, target.tags):
            (new if target_id in new else updated)[target_id] = absorbed


def _save_new(uow: UnitOfWork, new: dict[CustomerId, Customer], tally: _Tally) -> None:
    try:
        uow.customers.save_many(new.values())
    except StaleVersionError:
        # A concurrent run of the same import stored some rows meanwhile: save one by one.
        for customer in list(new.values()):
            try:
                uow.customers.save(customer)
            except StaleVersionError:
                tally.already += 1
                del new[customer.id]
    tally.stored += len(new)
    filled = tally.filled
    for field, has in COMPLETENESS_FIELDS.items():
        filled[field] += sum(1 for customer in new.values() if has(customer))


def _duplicate_target(
    uow: UnitOfWork,
    row: CleanRow,
    customer: Customer,
    tally: _Tally,
) -> CustomerId | None:
    if row.duplicate_of is not None:
        first = tally.first_ids.get(row.duplicate_of)
        if first is not None:
            return first
    if not tally.lookups:
        return None
    found = _stored_duplicate(uow, customer)
    return None if found is None else found.id


def _absorb(target: Customer, other: Customer) -> Customer:
    """Return ``target`` with ``other``'s contact points and tags added (its primaries kept)."""
    points = target.points
    for email in other.points.emails:
        points = points.with_email(email.address, kind=email.kind)
    for phone in other.points.phones:
        points = points.with_phone(phone.number, kind=phone.kind)
    for address in other.points.addresses:
        points = points.with_address(address.address, kind=address.kind)
    when = max(target.updated_at, other.updated_at)
    return attrs.evolve(target, points=points, tags=target.tags | other.tags, updated_at=when)
