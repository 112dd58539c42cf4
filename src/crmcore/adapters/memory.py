"""The in-memory storage adapter: the reference implementation of :mod:`crmcore.ports`.

Everything lives in dictionaries of immutable snapshots guarded by one
lock, so no copying is needed. Use it in tests, notebooks and host
prototypes; it is the behaviour every other adapter is checked against by
:mod:`crmcore.testing.contracts`.

>>> import pendulum
>>> from crmcore.domain import CustomerId, EmailAddress, Person, PersonName, register_customer
>>> publisher = MemoryEventPublisher()
>>> store = MemoryStore(publisher=publisher)
>>> customer, event = register_customer(
...     id=CustomerId("c1"), person=Person(name=PersonName.parse("李娜")),
...     emails=[EmailAddress("li.na@example.com")], at=pendulum.datetime(2026, 3, 1))
>>> with store.unit_of_work() as uow:
...     stored = uow.customers.save(customer)
...     uow.collect(event)
...     uow.commit()
>>> stored.version, [type(e).__name__ for e in publisher.published]
(1, ['CustomerRegistered'])

Isolation: a unit of work sees its own changes and everything committed
(read committed); its saves are checked against the committed versions
again when it commits, so concurrent units of work never lose an update.

May import: ``crmcore.ports``, ``crmcore.domain``, ``crmcore.privacy``,
``crmcore.errors``, ``crmcore.clock``; the standard library only.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Generic, TypeVar

from crmcore.clock import utc
from crmcore.domain import (
    Activity,
    Case,
    Consent,
    Customer,
    CustomerId,
    DomainEvent,
    EmailAddress,
    Lead,
    Opportunity,
    Order,
    PhoneNumber,
    SurveyResponse,
    TeamId,
    UserId,
    new_id,
)
from crmcore.errors import (
    ConcurrencyError,
    InvalidValueError,
    NotFoundError,
    StaleVersionError,
    StorageError,
)
from crmcore.lifecycle.rules import (
    CustomTimeRule,
    DueAction,
    RuleSnapshot,
    TimeRule,
    TimeRuleShortcuts,
    due_actions,
)
from crmcore.ports import (
    DEFAULT_PAGE_SIZE,
    EventPublisher,
    HistoryQuery,
    MergeRecord,
    Versioned,
    event_aggregate,
    with_version,
)
from crmcore.privacy.access import AccessFilter
from crmcore.privacy.audit import AuditDraft, AuditEntry, AuditPayload, link
from crmcore.privacy.consent import (
    ConsentRecord,
    ConsentState,
    ConsentWithdrawal,
    LedgerEntry,
    check_append,
    consent_spans,
    consent_states,
)
from crmcore.privacy.subject import ErasureRequest
from crmcore.segments import Rule, SegmentContext, compile_rule

__all__ = [
    "MemoryActivityRepository",
    "MemoryAuditLog",
    "MemoryCaseRepository",
    "MemoryConsentLedger",
    "MemoryConsentRepository",
    "MemoryCustomerRepository",
    "MemoryErasureRepository",
    "MemoryEventHistory",
    "MemoryEventPublisher",
    "MemoryKeyStore",
    "MemoryLeadRepository",
    "MemoryMergeRepository",
    "MemoryOpportunityRepository",
    "MemoryOrderRepository",
    "MemoryStore",
    "MemorySurveyResponseRepository",
    "MemoryTimeRules",
    "MemoryUnitOfWork",
    "SequentialIdFactory",
    "UuidIdFactory",
]

_E = TypeVar("_E", bound=Versioned)

_KINDS = (
    "customer",
    "lead",
    "opportunity",
    "activity",
    "case",
    "survey_response",
    "order",
    "consent",
    "merge",
    "erasure",
)


class _Deleted:
    """Marker for a record deleted in a unit of work (not yet committed)."""

    __slots__ = ("version",)

    def __init__(self, version: int) -> None:
        self.version = version


class MemoryEventPublisher:
    """An :class:`~crmcore.ports.EventPublisher` that keeps what it was given.

    Attributes:
        published: Every event published, in order.
    """

    def __init__(self) -> None:
        self.published: list[DomainEvent] = []

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Append ``events`` to :attr:`published`."""
        self.published.extend(events)


class SequentialIdFactory:
    """An :class:`~crmcore.ports.IdFactory` of readable, predictable ids for tests and demos.

    >>> ids = SequentialIdFactory("c")
    >>> ids.new_id(), ids.new_id()
    ('c-000001', 'c-000002')
    """

    def __init__(self, prefix: str = "id", *, start: int = 1) -> None:
        self._prefix = prefix
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        """Return the next id: ``<prefix>-<6-digit counter>``."""
        with self._lock:
            n = next(self._counter)
        return f"{self._prefix}-{n:06d}"


class UuidIdFactory:
    """An :class:`~crmcore.ports.IdFactory` of random UUIDs (32 hex characters)."""

    __slots__ = ()

    def new_id(self) -> str:
        """Return a new random id."""
        return new_id()


class MemoryStore:
    """An in-memory :class:`~crmcore.ports.Store`; thread-safe.

    Args:
        publisher: Where events go after a commit; ``None`` drops them.
    """

    def __init__(self, publisher: EventPublisher | None = None) -> None:
        self._publisher = publisher
        self._lock = threading.Lock()
        self._tables: dict[str, dict[str, object]] = {kind: {} for kind in _KINDS}
        self._history: list[DomainEvent] = []  # in history order: (at, commit order)
        self._history_ids: set[str] = set()
        self._audit: list[AuditEntry] = []  # the chain, by sequence (entry n at n - 1)
        self._audit_payloads: dict[int, AuditPayload] = {}
        self._ledger: list[LedgerEntry] = []  # the consent ledger, in append order
        self._issued: set[str] = set()  # ids of the issued actions, committed
        self._reserved: dict[str, MemoryUnitOfWork] = {}  # issued by a unit of work not committed

    def unit_of_work(self) -> MemoryUnitOfWork:
        """Return a new unit of work over this store."""
        return MemoryUnitOfWork(self)

    def _committed(self, kind: str, id: str) -> object | None:
        with self._lock:
            return self._tables[kind].get(id)

    def _snapshot(self, kind: str) -> list[object]:
        with self._lock:
            return list(self._tables[kind].values())

    def _ids(self, kind: str) -> list[str]:
        with self._lock:
            return sorted(self._tables[kind])

    def _apply(
        self,
        staged: dict[str, dict[str, tuple[int | None, object]]],
        events: Sequence[DomainEvent] = (),
        journal: _Journal | None = None,
    ) -> None:
        """Check every staged change against the committed versions, then apply all.

        ``events`` join the history, and ``journal``'s audit entries and consent
        ledger entries their lists, in the same step: all of it happens or none.
        """
        with self._lock:
            if journal is not None:
                journal.check(self)
            ids = [e.id for e in events]
            repeated = next(
                (i for n, i in enumerate(ids) if i in self._history_ids or i in ids[:n]), None
            )
            if repeated is not None:
                raise StorageError(
                    "record events", f"event {repeated!r} is already in the history", field="id"
                )
            for kind, changes in staged.items():
                table = self._tables[kind]
                for id, (expected, _) in changes.items():
                    current = table.get(id)
                    actual = None if current is None else _version(current)
                    if actual != expected:
                        raise StaleVersionError(kind, id, expected or 0, actual)
            for kind, changes in staged.items():
                table = self._tables[kind]
                for id, (_, value) in changes.items():
                    if isinstance(value, _Deleted):
                        table.pop(id, None)
                    else:
                        table[id] = value
            for event in events:  # insertion keeps (at, commit order): a stable sort
                position = bisect.bisect_right(self._history, event.at, key=lambda e: e.at)
                self._history.insert(position, event)
                self._history_ids.add(event.id)
            if journal is not None:
                journal.apply(self)

    def _events(self) -> list[DomainEvent]:
        with self._lock:
            return list(self._history)


def _version(value: object) -> int:
    version: int = getattr(value, "version")  # noqa: B009 - any snapshot
    return version


class MemoryUnitOfWork:
    """A unit of work over a :class:`MemoryStore`; see :class:`~crmcore.ports.UnitOfWork`."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._active = False
        # kind -> id -> (committed version it was based on, new value or _Deleted)
        self._staged: dict[str, dict[str, tuple[int | None, object]]] = {}
        self._events: list[DomainEvent] = []
        self.customers = MemoryCustomerRepository(self, "customer")
        self.leads = MemoryLeadRepository(self, "lead")
        self.opportunities = MemoryOpportunityRepository(self, "opportunity")
        self.activities = MemoryActivityRepository(self, "activity")
        self.cases = MemoryCaseRepository(self, "case")
        self.survey_responses = MemorySurveyResponseRepository(self, "survey_response")
        self.orders = MemoryOrderRepository(self, "order")
        self.consents = MemoryConsentRepository(self, "consent")
        self.merges = MemoryMergeRepository(self, "merge")
        self.history = MemoryEventHistory(self)
        self._journal = _Journal()
        self.audit = MemoryAuditLog(self)
        self.consent_ledger = MemoryConsentLedger(self)
        self.erasures = MemoryErasureRepository(self, "erasure")
        self.issued_actions = MemoryIssuedActions(self)
        self.time_rules = MemoryTimeRules(self)

    def __enter__(self) -> MemoryUnitOfWork:
        """Begin the unit of work."""
        self._active = True
        self._staged = {}
        self._events = []
        self._journal = _Journal()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Discard whatever was not committed."""
        self.rollback()
        self._active = False

    def collect(self, *events: DomainEvent) -> None:
        """Keep ``events`` for publishing after the next successful commit.

        Raises:
            StorageError: Outside the ``with`` block.
        """
        self._require_active("collect events")
        self._events.extend(events)

    def commit(self) -> None:
        """Apply every staged change atomically, then publish the collected events.

        Raises:
            StaleVersionError: If a concurrent commit changed a record this one
                saved; nothing is applied and the changes are discarded.
            StorageError: Outside the ``with`` block.
        """
        self._require_active("commit")
        staged, events, journal = self._staged, self._events, self._journal
        self._staged, self._events, self._journal = {}, [], _Journal()
        try:
            self._store._apply(staged, events, journal)
        except BaseException:
            self.issued_actions._release()
            raise
        self.issued_actions._settle()
        publisher = self._store._publisher
        if events and publisher is not None:
            publisher.publish(tuple(events))

    def rollback(self) -> None:
        """Discard every staged change and collected event."""
        self._staged = {}
        self._events = []
        self._journal = _Journal()
        self.issued_actions._release()

    # -- used by the repositories -------------------------------------------------

    def _require_active(self, operation: str) -> None:
        if not self._active:
            raise StorageError(operation, "the unit of work is not active; use it in a with block")

    def _current(self, kind: str, id: str) -> object | None:
        staged = self._staged.get(kind, {}).get(id)
        if staged is not None:
            value = staged[1]
            return None if isinstance(value, _Deleted) else value
        return self._store._committed(kind, id)

    def _stage(self, kind: str, id: str, value: object) -> None:
        changes = self._staged.setdefault(kind, {})
        if id in changes:
            changes[id] = (changes[id][0], value)
        else:
            current = self._store._committed(kind, id)
            changes[id] = (None if current is None else _version(current), value)

    def _all(self, kind: str) -> list[object]:
        """Every visible record of ``kind``, unsorted."""
        changes = self._staged.get(kind, {})
        rows = [r for r in self._store._snapshot(kind) if getattr(r, "id") not in changes]  # noqa: B009 - any snapshot
        rows.extend(v for _, v in changes.values() if not isinstance(v, _Deleted))
        return rows

    def _visible_ids(self, kind: str) -> list[str]:
        changes = self._staged.get(kind, {})
        ids = set(self._store._ids(kind))
        for id, (_, value) in changes.items():
            if isinstance(value, _Deleted):
                ids.discard(id)
            else:
                ids.add(id)
        return sorted(ids)


class _MemoryRepository(Generic[_E]):
    """What every in-memory repository shares."""

    def __init__(self, uow: MemoryUnitOfWork, kind: str) -> None:
        self._uow = uow
        self._kind = kind

    def get(self, id: str) -> _E:
        """Return the stored snapshot with ``id``.

        Raises:
            NotFoundError: If there is none.
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active(f"get {self._kind}")
        value = self._uow._current(self._kind, id)
        if value is None:
            raise NotFoundError(self._kind, id)
        return value  # type: ignore[return-value]  # the table of this kind holds _E

    def save(self, entity: _E) -> _E:
        """Insert or update ``entity``; return the stored snapshot (version + 1).

        Raises:
            StaleVersionError: If ``entity.version`` is not the stored version.
            StorageError: Outside the unit of work's ``with`` block.
        """
        return self.save_many([entity])[0]

    def save_many(self, entities: Iterable[_E]) -> list[_E]:
        """Save every entity in order, all or nothing; return the stored snapshots.

        Raises:
            StaleVersionError: If any entity is stale; nothing is saved.
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active(f"save {self._kind}")
        pending: dict[str, _E] = {}
        stored: list[_E] = []
        for entity in entities:
            current = pending.get(entity.id) or self._uow._current(self._kind, entity.id)
            actual = None if current is None else _version(current)
            if (actual or 0) != entity.version or (actual is None and entity.version != 0):
                raise StaleVersionError(self._kind, entity.id, entity.version, actual)
            new = with_version(entity, entity.version + 1)
            pending[entity.id] = new
            stored.append(new)
        for id, value in pending.items():
            self._uow._stage(self._kind, id, value)
        return stored

    def restore_many(self, entities: Iterable[_E]) -> list[_E]:
        """Insert snapshots exactly as they are, versions kept; all or nothing.

        Raises:
            InvalidValueError: If a version is below 1; nothing is stored.
            StaleVersionError: If an id is stored or given twice; nothing is stored.
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active(f"restore {self._kind}")
        pending: dict[str, _E] = {}
        for entity in entities:
            if entity.version < 1:
                raise InvalidValueError(
                    "version", entity.version, "a restored snapshot was stored (version 1 or more)"
                )
            current = pending.get(entity.id) or self._uow._current(self._kind, entity.id)
            if current is not None:
                raise StaleVersionError(self._kind, entity.id, 0, _version(current))
            pending[entity.id] = entity
        for id, value in pending.items():
            self._uow._stage(self._kind, id, value)
        return list(pending.values())

    def find_updated_since(self, at: dt.datetime, *, limit: int | None = None) -> list[_E]:
        """Return the records with ``updated_at >= at``, by ``(updated_at, id)``.

        Raises:
            InvalidValueError: If ``at`` is naive or ``limit`` is negative.
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active(f"find {self._kind}")
        since = utc(at)
        if limit is not None and limit < 0:
            raise InvalidValueError("limit", limit, "must not be negative")
        rows = [r for r in self._rows() if r.updated_at >= since]
        rows.sort(key=lambda r: (r.updated_at, r.id))
        return rows if limit is None else rows[:limit]

    def iter_all(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[_E]:
        """Yield every stored record by id, ``page_size`` at a time.

        Raises:
            InvalidValueError: If ``page_size`` is not positive.
            StorageError: Outside the unit of work's ``with`` block.
        """
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise InvalidValueError("page_size", page_size, "must be a positive integer")
        self._uow._require_active(f"iterate {self._kind}")
        return self._iterate(page_size)

    def _iterate(self, page_size: int) -> Iterator[_E]:
        ids = self._uow._visible_ids(self._kind)
        for start in range(0, len(ids), page_size):
            for id in ids[start : start + page_size]:
                value = self._uow._current(self._kind, id)
                if value is not None:
                    yield value  # type: ignore[misc]  # the table of this kind holds _E

    def count(self) -> int:
        """Return how many records are stored.

        Raises:
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active(f"count {self._kind}")
        return len(self._uow._visible_ids(self._kind))

    def _rows(self) -> list[_E]:
        return self._uow._all(self._kind)  # type: ignore[return-value]  # the table of this kind holds _E

    def _where(self, predicate: Callable[[_E], bool]) -> list[_E]:
        self._uow._require_active(f"find {self._kind}")
        return sorted((r for r in self._rows() if predicate(r)), key=lambda r: r.id)

    def _delete(self, entity: _E) -> None:
        self._uow._require_active(f"delete {self._kind}")
        current = self._uow._current(self._kind, entity.id)
        if current is None:
            raise NotFoundError(self._kind, entity.id)
        actual = _version(current)
        if actual != entity.version:
            raise StaleVersionError(self._kind, entity.id, entity.version, actual)
        self._uow._stage(self._kind, entity.id, _Deleted(actual))


class MemoryCustomerRepository(_MemoryRepository[Customer]):
    """Customers in memory; see :class:`~crmcore.ports.CustomerRepository`."""

    def find_by_email(self, address: EmailAddress) -> list[Customer]:
        """Return the customers having ``address`` among their emails."""
        wanted = address.address
        return self._where(lambda c: any(e.address.address == wanted for e in c.points.emails))

    def find_by_phone(self, number: PhoneNumber) -> list[Customer]:
        """Return the customers having a phone with ``number``'s E.164 form."""
        wanted = number.e164
        return self._where(lambda c: any(p.number.e164 == wanted for p in c.points.phones))

    def find_by_owner(self, owner: UserId) -> list[Customer]:
        """Return the customers owned by ``owner``."""
        return self._where(lambda c: c.owner == owner)

    def find_by_external_id(self, system: str, value: str) -> list[Customer]:
        """Return the customers known as ``value`` in ``system``."""
        wanted_system = system.strip().lower()
        return self._where(
            lambda c: any(e.system == wanted_system and e.value == value for e in c.external_ids)
        )

    def select(
        self,
        rule: Rule,
        *,
        at: dt.datetime,
        tz: str = "UTC",
        access: AccessFilter | None = None,
    ) -> list[CustomerId]:
        """Return the ids of the active customers in the segment (that ``access`` allows)."""
        compiled = compile_rule(rule, at=at, tz=tz)
        self._uow._require_active("select customer")
        context = SegmentContext.of(
            orders=self._uow._all("order"),  # type: ignore[arg-type]  # that table holds orders
            activities=self._uow._all("activity"),  # type: ignore[arg-type]  # ... activities
            surveys=self._uow._all("survey_response"),  # type: ignore[arg-type]  # ... surveys
            consents=consent_spans(self._uow.consent_ledger._all()),
        )
        active = (c for c in self._rows() if c.merged_into is None)
        if access is not None:
            allowed = access.predicate()
            active = (c for c in active if allowed(c))
        return sorted(compiled.ids(active, context))


class MemoryLeadRepository(_MemoryRepository[Lead]):
    """Leads in memory; see :class:`~crmcore.ports.LeadRepository`."""

    def find_by_email(self, address: EmailAddress) -> list[Lead]:
        """Return the leads having ``address`` among their emails."""
        wanted = address.address
        return self._where(lambda x: any(e.address.address == wanted for e in x.points.emails))

    def find_by_phone(self, number: PhoneNumber) -> list[Lead]:
        """Return the leads having a phone with ``number``'s E.164 form."""
        wanted = number.e164
        return self._where(lambda x: any(p.number.e164 == wanted for p in x.points.phones))

    def find_by_owner(self, owner: UserId) -> list[Lead]:
        """Return the leads owned by ``owner``."""
        return self._where(lambda x: x.owner == owner)

    def find_by_converted_customer(self, customer_id: CustomerId) -> list[Lead]:
        """Return the leads converted into the customer."""
        return self._where(lambda x: x.converted_customer_id == customer_id)

    def delete(self, lead: Lead) -> None:
        """Delete ``lead`` (must be the stored version).

        Raises:
            NotFoundError: If no lead has its id.
            StaleVersionError: If ``lead.version`` is not the stored version.
        """
        self._delete(lead)


class MemoryOpportunityRepository(_MemoryRepository[Opportunity]):
    """Opportunities in memory; see :class:`~crmcore.ports.OpportunityRepository`."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Opportunity]:
        """Return the customer's opportunities."""
        return self._where(lambda x: x.customer_id == customer_id)

    def find_by_owner(self, owner: UserId) -> list[Opportunity]:
        """Return the opportunities owned by ``owner``."""
        return self._where(lambda x: x.owner == owner)


class MemoryActivityRepository(_MemoryRepository[Activity]):
    """Activities in memory; see :class:`~crmcore.ports.ActivityRepository`."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Activity]:
        """Return the activities linked to the customer."""
        return self._where(lambda x: x.customer_id == customer_id)

    def find_by_owner(self, owner: UserId) -> list[Activity]:
        """Return the activities owned by ``owner``."""
        return self._where(lambda x: x.owner == owner)

    def delete(self, activity: Activity) -> None:
        """Delete ``activity`` (must be the stored version).

        Raises:
            NotFoundError: If no activity has its id.
            StaleVersionError: If ``activity.version`` is not the stored version.
        """
        self._delete(activity)


class MemoryCaseRepository(_MemoryRepository[Case]):
    """Cases in memory; see :class:`~crmcore.ports.CaseRepository`."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Case]:
        """Return the customer's cases."""
        return self._where(lambda x: x.customer_id == customer_id)

    def find_by_owner(self, owner: UserId) -> list[Case]:
        """Return the cases owned by ``owner``."""
        return self._where(lambda x: x.owner == owner)


class MemorySurveyResponseRepository(_MemoryRepository[SurveyResponse]):
    """Survey responses in memory; see :class:`~crmcore.ports.SurveyResponseRepository`."""

    def find_by_customer(self, customer_id: CustomerId) -> list[SurveyResponse]:
        """Return the customer's survey responses."""
        return self._where(lambda x: x.customer_id == customer_id)


class MemoryOrderRepository(_MemoryRepository[Order]):
    """Orders in memory; see :class:`~crmcore.ports.OrderRepository`."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Order]:
        """Return the customer's orders."""
        return self._where(lambda x: x.customer_id == customer_id)

    def find_by_external_id(self, external_id: str) -> list[Order]:
        """Return the orders with ``external_id``."""
        return self._where(lambda x: x.external_id == external_id)


class MemoryConsentRepository(_MemoryRepository[Consent]):
    """Consents in memory; see :class:`~crmcore.ports.ConsentRepository`."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Consent]:
        """Return the customer's consents."""
        return self._where(lambda x: x.customer_id == customer_id)


class MemoryMergeRepository(_MemoryRepository[MergeRecord]):
    """Merge records in memory; see :class:`~crmcore.ports.MergeRepository`."""

    def find_by_customer(self, customer_id: CustomerId) -> list[MergeRecord]:
        """Return the merges that involved the customer."""
        return self._where(lambda x: x.survivor_id == customer_id or customer_id in x.merged_ids)


class MemoryEventHistory:
    """The event history in memory; see :class:`~crmcore.ports.EventHistory`.

    >>> import pendulum
    >>> from crmcore.domain import CaseOpened
    >>> store = MemoryStore()
    >>> opened = CaseOpened(case_id="k1", customer_id="c1", kind="complaint",
    ...                     severity="high", category="billing", at=pendulum.datetime(2026, 3, 1))
    >>> with store.unit_of_work() as uow:
    ...     uow.collect(opened)
    ...     uow.commit()
    ...     uow.history.events(aggregate="case", aggregate_id="k1") == [opened]
    True
    """

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def events(
        self,
        *,
        aggregate: str | None = None,
        aggregate_id: str | None = None,
        types: Iterable[type[DomainEvent] | str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[DomainEvent]:
        """Return the committed events passing the filters, by ``at`` then commit order.

        Raises:
            InvalidValueError: If a type is unknown, ``since``/``until`` naive or
                ``limit`` negative.
            StorageError: Outside the unit of work's ``with`` block.
        """
        query = HistoryQuery.of(
            aggregate=aggregate,
            aggregate_id=aggregate_id,
            types=types,
            since=since,
            until=until,
            limit=limit,
        )
        self._uow._require_active("read history")
        found = [e for e in self._uow._store._events() if query.matches(e)]
        return found if query.limit is None else found[: query.limit]

    def count(
        self,
        *,
        aggregate: str | None = None,
        aggregate_id: str | None = None,
        types: Iterable[type[DomainEvent] | str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> int:
        """Return how many committed events pass the filters.

        Raises:
            InvalidValueError: As for :meth:`events`.
            StorageError: Outside the unit of work's ``with`` block.
        """
        return len(
            self.events(
                aggregate=aggregate,
                aggregate_id=aggregate_id,
                types=types,
                since=since,
                until=until,
            )
        )

    def redact(self, events: Sequence[DomainEvent]) -> int:
        """Replace committed events by these versions with the same ids (at commit).

        Raises:
            InvalidValueError: If an event changes the type or record of the stored one.
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active("redact history")
        stored = {e.id: e for e in self._uow._store._events()}
        replaced = 0
        for event in events:
            current = stored.get(event.id)
            if current is None:
                continue
            _check_redaction(current, event)
            self._uow._journal.redacted[event.id] = event
            replaced += 1
        return replaced


def _check_redaction(current: DomainEvent, event: DomainEvent) -> None:
    if (
        type(current) is not type(event)
        or event_aggregate(current) != event_aggregate(event)
        or current.at != event.at
    ):
        raise InvalidValueError(
            "event", event.id, "a redaction must keep the event's type, record and time"
        )


# -- the audit chain and the consent ledger --------------------------------------------


class _Journal:
    """What a unit of work appended to the audit chain and the consent ledger, uncommitted."""

    __slots__ = ("base", "entries", "erased", "ledger", "payloads", "redacted")

    def __init__(self) -> None:
        self.base: int | None = None  # the committed chain length the appends follow
        self.entries: list[AuditEntry] = []
        self.payloads: dict[int, AuditPayload] = {}  # appended, and erasures of committed ones
        self.erased: set[int] = set()
        self.ledger: list[LedgerEntry] = []
        self.redacted: dict[str, DomainEvent] = {}  # event id -> its redacted version

    def check(self, store: MemoryStore) -> None:
        """Raise if a concurrent commit makes this journal impossible (under the store lock)."""
        if self.base is not None and len(store._audit) != self.base:
            raise ConcurrencyError(
                "append audit entry failed: another unit of work appended to the audit chain"
                " first; retry the unit of work"
            )
        seen: list[LedgerEntry] = []
        for entry in self.ledger:  # checked again: another commit may have got there first
            subject = [e for e in (*store._ledger, *seen) if e.subject == entry.subject]
            if isinstance(entry, ConsentRecord) and any(
                isinstance(e, ConsentRecord) and e.id == entry.id for e in store._ledger
            ):
                raise InvalidValueError("consent record", entry.id, "already in the ledger")
            check_append(consent_states(subject), entry)
            seen.append(entry)

    def apply(self, store: MemoryStore) -> None:
        """Apply the journal (under the store lock, after :meth:`check`)."""
        store._audit.extend(self.entries)
        store._audit_payloads.update(self.payloads)
        store._ledger.extend(self.ledger)
        if self.redacted:
            store._history = [self.redacted.get(e.id, e) for e in store._history]


class MemoryAuditLog:
    """The audit chain in memory; see :class:`~crmcore.ports.AuditLog`.

    Appends follow the committed head; the commit checks that no other unit
    of work appended since (else :class:`~crmcore.errors.ConcurrencyError`:
    retry), so the chain never forks.

    >>> import pendulum
    >>> from crmcore.privacy.audit import AuditDraft, verify
    >>> store = MemoryStore()
    >>> with store.unit_of_work() as uow:
    ...     entry = uow.audit.append(AuditDraft.of(at=pendulum.datetime(2026, 3, 1),
    ...         actor="u-li", action="read", record_type="customer", record_id="c-1"))
    ...     uow.commit()
    >>> with store.unit_of_work() as uow:
    ...     verify(uow.audit.entries()).checked
    1
    """

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def _visible(self) -> list[AuditEntry]:
        store = self._uow._store
        with store._lock:
            committed = list(store._audit)
        return [*committed, *self._uow._journal.entries]

    def append(self, draft: AuditDraft) -> AuditEntry:
        """Append ``draft`` after the chain's head; return the stored entry.

        Raises:
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active("append audit entry")
        journal = self._uow._journal
        if journal.base is None:
            store = self._uow._store
            with store._lock:
                journal.base = len(store._audit)
                head = store._audit[-1] if store._audit else None
        else:
            head = journal.entries[-1] if journal.entries else None
        entry = link(head, draft)
        journal.entries.append(entry)
        journal.payloads[entry.sequence] = AuditPayload(
            sequence=entry.sequence,
            subject=draft.subject,
            payload_text=draft.payload_text,
            salt=draft.salt,
        )
        return entry

    def head(self) -> AuditEntry | None:
        """Return the last entry, or ``None``.

        Raises:
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active("read audit chain")
        journal = self._uow._journal
        if journal.entries:
            return journal.entries[-1]
        store = self._uow._store
        with store._lock:
            return store._audit[-1] if store._audit else None

    def entries(
        self, *, after: int = 0, until: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[AuditEntry]:
        """Yield the entries with ``after < sequence <= until``, by sequence.

        Raises:
            InvalidValueError: If a bound or ``page_size`` is invalid.
            StorageError: Outside the unit of work's ``with`` block.
        """
        _check_range(after, until, page_size)
        self._uow._require_active("read audit chain")
        visible = self._visible()
        stop = len(visible) if until is None else min(until, len(visible))
        return iter(visible[after:stop])

    def find_by_subject(self, subject: str) -> list[AuditEntry]:
        """Return the entries about ``subject``, by sequence.

        Raises:
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active("read audit chain")
        return [e for e in self._visible() if e.subject == subject]

    def _payload(self, sequence: int) -> AuditPayload | None:
        staged = self._uow._journal.payloads.get(sequence)
        if staged is not None:
            return staged
        store = self._uow._store
        with store._lock:
            return store._audit_payloads.get(sequence)

    def payloads(self, sequences: Iterable[int]) -> dict[int, AuditPayload]:
        """Return the payloads of these entries (those that exist).

        Raises:
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active("read audit payloads")
        found = {n: self._payload(n) for n in sequences}
        return {n: p for n, p in found.items() if p is not None}

    def erase_payloads(self, subject: str, *, at: dt.datetime) -> int:
        """Erase the payloads about ``subject``; return how many were erased.

        Raises:
            InvalidValueError: If ``at`` is naive.
            StorageError: Outside the unit of work's ``with`` block.
        """
        when = utc(at)
        self._uow._require_active("erase audit payloads")
        erased = 0
        for entry in self._visible():
            payload = self._payload(entry.sequence)
            if payload is None or payload.subject != subject or payload.payload_text is None:
                continue
            self._uow._journal.payloads[entry.sequence] = AuditPayload(
                sequence=entry.sequence,
                subject=payload.subject,
                payload_text=None,
                salt=None,
                erased_at=when,
            )
            erased += 1
        return erased


def _check_range(after: int, until: int | None, page_size: int) -> None:
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InvalidValueError("after", after, "a non-negative integer (a sequence)")
    if until is not None and (
        isinstance(until, bool) or not isinstance(until, int) or until < after
    ):
        raise InvalidValueError("until", until, f"an integer not below after ({after})")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidValueError("page_size", page_size, "must be a positive integer")


class MemoryConsentLedger:
    """The consent ledger in memory; see :class:`~crmcore.ports.ConsentLedger`."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def _all(self) -> list[LedgerEntry]:
        store = self._uow._store
        with store._lock:
            committed = list(store._ledger)
        return [*committed, *self._uow._journal.ledger]

    def append(self, entry: LedgerEntry) -> None:
        """Append a consent record or a withdrawal.

        Raises:
            InvalidValueError: If :func:`~crmcore.privacy.consent.check_append` refuses it.
            NotFoundError: If the record withdrawn does not exist.
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active("append to the consent ledger")
        if not isinstance(entry, ConsentRecord | ConsentWithdrawal):
            raise InvalidValueError("entry", entry, "a ConsentRecord or ConsentWithdrawal")
        everything = self._all()
        if isinstance(entry, ConsentRecord) and any(
            isinstance(e, ConsentRecord) and e.id == entry.id for e in everything
        ):
            raise InvalidValueError("consent record", entry.id, "already in the ledger")
        check_append(consent_states(e for e in everything if e.subject == entry.subject), entry)
        self._uow._journal.ledger.append(entry)

    def entries_for(self, subject: CustomerId) -> list[LedgerEntry]:
        """Return the subject's entries in append order.

        Raises:
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active("read the consent ledger")
        return [e for e in self._all() if e.subject == subject]

    def latest(self, subject: CustomerId) -> list[ConsentState]:
        """Return the subject's records with their withdrawals.

        Raises:
            StorageError: Outside the unit of work's ``with`` block.
        """
        return consent_states(self.entries_for(subject))


class MemoryIssuedActions:
    """Issued actions in memory; see :class:`~crmcore.ports.IssuedActions`.

    An action issued by a unit of work not yet committed is reserved to it:
    another unit of work asking meanwhile does not get it; a rollback frees it.
    """

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._mine: list[str] = []

    def issue(self, actions: Iterable[DueAction]) -> list[DueAction]:
        """Record ``actions``; return those not issued before (first occurrences, in order).

        Raises:
            InvalidValueError: If an item is not a ``DueAction``.
            StorageError: Outside the unit of work's ``with`` block.
        """
        self._uow._require_active("issue actions")
        if isinstance(actions, DueAction | str | bytes):
            raise InvalidValueError("actions", actions, "an iterable of DueAction")
        wanted: dict[str, DueAction] = {}
        for action in actions:
            if not isinstance(action, DueAction):
                raise InvalidValueError("actions", action, "a DueAction")
            wanted.setdefault(action.id, action)
        store = self._uow._store
        new: list[DueAction] = []
        with store._lock:
            for id, action in wanted.items():
                if id not in store._issued and id not in store._reserved:
                    store._reserved[id] = self._uow
                    self._mine.append(id)
                    new.append(action)
        return new

    def _settle(self) -> None:
        """Make this unit of work's reservations issued (after its commit)."""
        store = self._uow._store
        with store._lock:
            for id in self._mine:
                store._reserved.pop(id, None)
                store._issued.add(id)
        self._mine = []

    def _release(self) -> None:
        """Free this unit of work's reservations (rollback)."""
        store = self._uow._store
        with store._lock:
            for id in self._mine:
                store._reserved.pop(id, None)
        self._mine = []


class MemoryTimeRules(TimeRuleShortcuts):
    """Time rules over everything the unit of work sees (:class:`~crmcore.ports.TimeRuleQueries`).

    The reference: :func:`~crmcore.lifecycle.rules.due_actions` over a
    :class:`~crmcore.lifecycle.rules.RuleSnapshot` of every visible record.
    """

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def due(
        self,
        rules: Iterable[TimeRule | CustomTimeRule],
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        team_leads: Mapping[TeamId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return every action ``rules`` make due at ``at`` (``due_actions`` over everything).

        Raises:
            InvalidValueError: If a rule is not a time rule or ``at`` is naive.
            ConfigurationError: If an SLA policy has no target for a case's severity.
            StorageError: Outside the unit of work's ``with`` block.
        """
        uow = self._uow
        uow._require_active("evaluate time rules")
        when = utc(at)
        snapshot = RuleSnapshot(
            customers=uow.customers.iter_all(),
            opportunities=uow.opportunities.iter_all(),
            leads=uow.leads.iter_all(),
            cases=uow.cases.iter_all(),
            activities=uow.activities.iter_all(),
            survey_responses=uow.survey_responses.iter_all(),
            orders=uow.orders.iter_all(),
            supervisors=supervisors or {},
            team_leads=team_leads or {},
            issued=issued,
        )
        return due_actions(snapshot, at=when, rules=list(rules))


class MemoryErasureRepository(_MemoryRepository[ErasureRequest]):
    """The erasure register in memory; see :class:`~crmcore.ports.ErasureRepository`."""

    def find_by_subject(self, subject: CustomerId) -> list[ErasureRequest]:
        """Return the erasure requests of ``subject``."""
        return self._where(lambda x: x.subject == subject)


class MemoryKeyStore:
    """A :class:`~crmcore.ports.KeyStore` in a dictionary; thread-safe.

    >>> keys = MemoryKeyStore()
    >>> keys.get_or_create("c-1", b"k" * 32) == keys.get_or_create("c-1", b"x" * 32)
    True
    >>> keys.delete("c-1"), keys.delete("c-1"), keys.get("c-1")
    (True, False, None)
    """

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, subject: str) -> bytes | None:
        """Return the subject's key, or ``None``."""
        with self._lock:
            return self._keys.get(subject)

    def get_or_create(self, subject: str, new_key: bytes) -> bytes:
        """Return the subject's key, storing ``new_key`` when it has none.

        Raises:
            InvalidValueError: If ``new_key`` is empty.
        """
        if not isinstance(new_key, bytes) or not new_key:
            raise InvalidValueError("key", "<bytes>", "a key must be non-empty bytes")
        with self._lock:
            return self._keys.setdefault(subject, new_key)

    def get_many(self, subjects: Iterable[str]) -> dict[str, bytes]:
        """Return the keys of those of ``subjects`` that have one.

        >>> keys = MemoryKeyStore()
        >>> _ = keys.get_or_create_many({"c-1": b"k" * 32})
        >>> sorted(keys.get_many(["c-1", "c-2"]))
        ['c-1']
        """
        wanted = list(subjects)
        with self._lock:
            return {s: self._keys[s] for s in wanted if s in self._keys}

    def get_or_create_many(self, new_keys: Mapping[str, bytes]) -> dict[str, bytes]:
        """Return every subject's key, storing its new key when it has none.

        >>> keys = MemoryKeyStore()
        >>> _ = keys.get_or_create("c-1", b"a" * 32)
        >>> got = keys.get_or_create_many({"c-1": b"b" * 32, "c-2": b"c" * 32})
        >>> got["c-1"] == b"a" * 32, got["c-2"] == b"c" * 32
        (True, True)

        Raises:
            InvalidValueError: If a new key is empty.
        """
        for new_key in new_keys.values():
            if not isinstance(new_key, bytes) or not new_key:
                raise InvalidValueError("key", "<bytes>", "a key must be non-empty bytes")
        with self._lock:
            return {s: self._keys.setdefault(s, k) for s, k in new_keys.items()}

    def delete(self, subject: str) -> bool:
        """Delete the subject's key; return whether there was one."""
        with self._lock:
            return self._keys.pop(subject, None) is not None
