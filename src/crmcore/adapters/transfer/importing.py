"""Import a JSON-lines export into a store: every good line stored, every bad one reported.

May import: ``crmcore.ports``, ``crmcore.errors``, ``crmcore.serialization``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from crmcore.adapters.transfer.kinds import ALL, ProgressCallback, RecordKind
from crmcore.adapters.transfer.lines import ParsedLine, parse_line
from crmcore.errors import (
    ConcurrencyError,
    InvalidValueError,
    NotFoundError,
    PayloadError,
    Problem,
    StaleVersionError,
    StorageError,
)
from crmcore.ports import Repository, Store, UnitOfWork, with_version

__all__ = ["DEFAULT_BATCH_SIZE", "LineIssue", "TransferReport", "import_records"]

DEFAULT_BATCH_SIZE = 1000
"""How many records one unit of work stores."""


@dataclasses.dataclass(frozen=True, slots=True)
class LineIssue:
    """Why one line of the file was not stored.

    Attributes:
        line: The line number in the file (the header is line 1).
        problems: Every problem of the line, each with its ``$.path`` in the line.
        kind: The record's kind, when the line names a known one.
        id: The record's id, when the line has one.
    """

    line: int
    problems: tuple[Problem, ...]
    kind: RecordKind | None = None
    id: str | None = None

    def __str__(self) -> str:
        what = f" ({self.kind.value} {self.id!r})" if self.kind and self.id else ""
        return f"line {self.line}{what}: " + "; ".join(str(p) for p in self.problems)


@dataclasses.dataclass(frozen=True, slots=True)
class TransferReport:
    """What :func:`import_records` did.

    ``lines == stored + already + conflicts + rejected``.

    Attributes:
        lines: Record lines read (the header and blank lines are not counted).
        stored: Records stored (or, in a dry run, that would be).
        already: Records already stored with the same content: not saved again.
        conflicts: Records whose id is stored with different content: left
            as stored, each reported in ``issues``.
        rejected: Lines that are not a valid record, or that the backend
            refused (a value too long for its column), each in ``issues``.
        stored_by_kind: ``stored`` by kind, in export order, kinds with none left out.
        issues: One entry per conflicting or rejected line, in file order.
        dry_run: True if nothing was written.
    """

    lines: int
    stored: int
    already: int
    conflicts: int
    rejected: int
    stored_by_kind: Mapping[RecordKind, int]
    issues: tuple[LineIssue, ...]
    dry_run: bool = False


@dataclasses.dataclass
class _Outcome:
    """What one batch did; added to the totals once its unit of work committed."""

    stored: dict[RecordKind, list[Any]] = dataclasses.field(default_factory=dict)
    already: int = 0
    conflicts: int = 0
    issues: list[LineIssue] = dataclasses.field(default_factory=list)


def _store(repository: Repository[Any, Any], records: list[Any]) -> None:
    """Store records all of one sort: exported snapshots as they are, or never-saved ones."""
    if records and records[0].version > 0:
        repository.restore_many(records)
    else:
        repository.save_many(records)


class _Retry(Exception):  # noqa: N818 - a control-flow signal, never seen outside
    """A batch trusted an empty repository that was not: run it again checking each id."""


class _Importer:
    def __init__(self, store: Store, *, dry_run: bool) -> None:
        self.store = store
        self.dry_run = dry_run
        with store.unit_of_work() as uow:
            self.empty_at_start = {kind for kind in ALL if kind.repository(uow).count() == 0}
        self.seen: dict[RecordKind, set[str]] = {kind: set() for kind in ALL}
        self.would_store: dict[tuple[RecordKind, str], Any] = {}  # a dry run's "stored" records
        self.stored: dict[RecordKind, int] = dict.fromkeys(ALL, 0)
        self.already = 0
        self.conflicts = 0
        self.issues: list[LineIssue] = []

    def flush(self, batch: list[tuple[int, ParsedLine]]) -> None:
        if not batch:
            return
        try:
            outcome = self._apply(batch, trust_empty=True)
        except (_Retry, ConcurrencyError):
            outcome = self._apply(batch, trust_empty=False)
        for kind, records in outcome.stored.items():
            self.stored[kind] += len(records)
            self.seen[kind].update(r.id for r in records)
            if self.dry_run:
                self.would_store.update(((kind, r.id), r) for r in records)
        self.already += outcome.already
        self.conflicts += outcome.conflicts
        self.issues.extend(outcome.issues)

    def _apply(self, batch: list[tuple[int, ParsedLine]], *, trust_empty: bool) -> _Outcome:
        grouped: dict[RecordKind, list[tuple[int, Any]]] = {}
        for number, parsed in batch:
            grouped.setdefault(parsed.kind, []).append((number, parsed.record))
        outcome = _Outcome()
        with self.store.unit_of_work() as uow:
            for kind, items in grouped.items():
                self._apply_kind(uow, kind, items, outcome, trust_empty=trust_empty)
            if not self.dry_run:
                uow.commit()
        return outcome

    def _apply_kind(
        self,
        uow: UnitOfWork,
        kind: RecordKind,
        items: list[tuple[int, Any]],
        outcome: _Outcome,
        *,
        trust_empty: bool,
    ) -> None:
        repository = kind.repository(uow)
        fresh = trust_empty and kind in self.empty_at_start
        pending: dict[str, tuple[int, Any]] = {}
        for number, record in items:
            earlier = pending.get(record.id)
            if earlier is not None:
                stored = earlier[1]
            elif fresh and record.id not in self.seen[kind]:
                stored = None
            else:
                stored = self._stored(repository, kind, record.id)
            if stored is None:
                pending[record.id] = (number, record)
            elif stored == with_version(record, stored.version):
                outcome.already += 1
            else:
                outcome.conflicts += 1
                reason = (
                    f"{kind.value} {record.id!r} is already stored with other content"
                    f" (stored version {stored.version}); left as stored"
                )
                outcome.issues.append(
                    LineIssue(number, (Problem("$.record", reason),), kind, record.id)
                )
        news = list(pending.values())
        # Exported snapshots are restored as they are; a hand-written one at version 0
        # (never stored) is saved as new. Each group is stored, or retried, on its own.
        for group in (
            [item for item in news if item[1].version > 0],
            [item for item in news if item[1].version == 0],
        ):
            if group:
                self._store_group(repository, kind, group, outcome, trust_empty=trust_empty)

    def _store_group(
        self,
        repository: Repository[Any, Any],
        kind: RecordKind,
        group: list[tuple[int, Any]],
        outcome: _Outcome,
        *,
        trust_empty: bool,
    ) -> None:
        try:
            _store(repository, [record for _, record in group])
        except StaleVersionError:
            if trust_empty:
                raise _Retry from None
            self._save_one_by_one(repository, kind, group, outcome)
        except StorageError:
            self._save_one_by_one(repository, kind, group, outcome)
        else:
            outcome.stored.setdefault(kind, []).extend(record for _, record in group)

    def _stored(self, repository: Repository[Any, Any], kind: RecordKind, id: str) -> Any:
        if self.dry_run and (kind, id) in self.would_store:
            return self.would_store[kind, id]
        try:
            return repository.get(id)
        except NotFoundError:
            return None

    @staticmethod
    def _save_one_by_one(
        repository: Repository[Any, Any],
        kind: RecordKind,
        news: list[tuple[int, Any]],
        outcome: _Outcome,
    ) -> None:
        """Save each record alone, so the one the backend refuses is reported, not the batch."""
        for number, record in news:
            try:
                _store(repository, [record])
            except StaleVersionError as exc:
                outcome.conflicts += 1
                problem = Problem("$.record", f"stored meanwhile by someone else: {exc}")
                outcome.issues.append(LineIssue(number, (problem,), kind, record.id))
            except StorageError as exc:
                path = "$.record" + (f".{exc.field}" if exc.field else "")
                outcome.issues.append(
                    LineIssue(number, (Problem(path, str(exc)),), kind, record.id)
                )
            else:
                outcome.stored.setdefault(kind, []).append(record)

    def report(self, lines: int) -> TransferReport:
        stored = {kind: n for kind, n in self.stored.items() if n}
        return TransferReport(
            lines=lines,
            stored=sum(stored.values()),
            already=self.already,
            conflicts=self.conflicts,
            rejected=len(self.issues) - self.conflicts,
            stored_by_kind=stored,
            issues=tuple(sorted(self.issues, key=lambda issue: issue.line)),
            dry_run=self.dry_run,
        )


_NAMES = frozenset(kind.value for kind in RecordKind)


def _peek(text: str | bytes, kind: RecordKind | None) -> tuple[RecordKind | None, str | None]:
    """The kind and id a bad line names, as far as they can be read (for its report)."""
    try:
        data = json.loads(text.decode("utf-8-sig", "replace") if isinstance(text, bytes) else text)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    if "record" in data:
        named = data.get("kind")
        kind = RecordKind(named) if isinstance(named, str) and named in _NAMES else None
        data = data["record"]
    record_id = data.get("id") if isinstance(data, dict) else None
    return kind, record_id if isinstance(record_id, str) else None


def import_records(
    store: Store,
    lines: Iterable[str | bytes],
    *,
    kind: RecordKind | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    dry_run: bool = False,
    limit: int | None = None,
) -> TransferReport:
    """Store the records of a JSON-lines export; report every line that was not stored.

    Each line is read with the one serialization converter. A bad line is
    reported with its number and every problem (``$.path`` within the line)
    and the others are stored: ``save_many`` per batch of ``batch_size``
    records, one unit of work per batch.

    Importing is idempotent: a record already stored with the same content is
    counted in ``already`` and not saved again; one stored with different
    content is a conflict, reported and left as stored. New records are
    stored exactly as exported, their versions included
    (:meth:`~crmcore.ports.Repository.restore_many`), so an export of the
    imported store is identical to the file.

    >>> from crmcore.adapters.memory import MemoryStore
    >>> lines = ['{"crmcore":"export","format":1}', '{"kind":"leads","record":{}}']
    >>> report = import_records(MemoryStore(), lines)
    >>> report.lines, report.stored, report.rejected, report.issues[0].line
    (1, 0, 1, 2)

    Args:
        store: The store to import into.
        lines: The file's lines, as text or UTF-8 bytes: an open file will
            do (binary mode reports a line that is not UTF-8 instead of failing).
        kind: The kind of bare records (lines without the envelope, as
            crmcore 0.x exported customers); None accepts envelope lines only.
        batch_size: Records per unit of work.
        progress: Called with the number of record lines handled so far,
            after each batch.
        dry_run: Check and count everything, write nothing.
        limit: Import only the first ``limit`` record lines.

    Returns:
        The counts and the issues.

    Raises:
        InvalidValueError: If ``batch_size`` or ``limit`` is below 1.
        PayloadError: If a header line names an export format this crmcore
            cannot read (written by a newer version); nothing after it is read.
        ConcurrencyError: If a batch still met a concurrent change when run
            again; the batches before it are stored.
        StorageError: If the backend fails; the batches before it are stored.
            What iterating ``lines`` raises (an ``OSError`` of your file)
            reaches you unchanged.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidValueError("batch_size", batch_size, "a positive integer is required")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidValueError("limit", limit, "a positive integer or None is required")
    importer = _Importer(store, dry_run=dry_run)
    batch: list[tuple[int, ParsedLine]] = []
    read = 0
    for number, text in enumerate(lines, start=1):
        try:
            parsed = parse_line(text, kind=kind)
        except PayloadError as exc:
            if exc.subject == "header":  # a newer format: nothing after it can be read
                raise PayloadError(f"export header on line {number}", exc.problems) from exc
            read += 1
            named, record_id = _peek(text, kind)
            importer.issues.append(LineIssue(number, exc.problems, named, record_id))
        else:
            if parsed is None:
                continue
            read += 1
            batch.append((number, parsed))
            if len(batch) >= batch_size:
                importer.flush(batch)
                batch = []
                if progress is not None:
                    progress(read)
        if limit is not None and read >= limit:
            break
    importer.flush(batch)
    if progress is not None:
        progress(read)
    return importer.report(read)
