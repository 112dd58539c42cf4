"""Storage and integration ports: the protocols hosts implement or pick adapters for.

crmcore holds no infrastructure. Services talk to storage through the
:class:`typing.Protocol` classes below; the shipped adapters implement them
(:mod:`crmcore.adapters.memory`, the reference, and :mod:`crmcore.adapters.sql`),
and :mod:`crmcore.testing.contracts` proves that any implementation — ours
or a host's — keeps the contract written in these docstrings.

The storage contract, common to every repository:

- ``get(id)`` returns the stored snapshot or raises
  :class:`~crmcore.errors.NotFoundError`. ``find_*`` methods return a
  possibly empty list, sorted by id (``find_updated_since`` by
  ``(updated_at, id)``).
- ``save(x)`` is insert-or-update with optimistic locking. ``x.version`` is
  the version the caller read: ``0`` means "new". The save succeeds only if
  the stored version equals ``x.version`` (no stored row for ``0``); it
  returns the stored snapshot, equal to ``x`` but with ``version + 1``.
  Otherwise it raises :class:`~crmcore.errors.StaleVersionError` (saving
  version ``0`` for an existing id, or version ``n > 0`` for a missing id,
  is stale too). A failed save changes nothing and leaves the unit of work
  usable.
- A backend that cannot tell which record a concurrent commit touched may
  raise the more general :class:`~crmcore.errors.ConcurrencyError` instead
  (SQLite, when another unit of work committed after this one first read);
  either way, retry the whole unit of work.
- ``save_many(xs)`` behaves as ``save`` called for each item in order, but
  all or nothing: if one item fails, none of the call is applied.
- A value that a backend cannot store (an id or name longer than its
  column, a custom field value that is not JSON) raises a
  :class:`~crmcore.errors.CrmError` naming the field
  (:class:`~crmcore.errors.StorageError` with ``field``), and nothing of
  the call is stored.
- ``iter_all(page_size=...)`` streams every stored record, sorted by id, in
  pages of ``page_size``: memory stays flat however many records exist.
- ``delete`` exists only where the domain allows it: leads (spam, erasure
  requests) and activities (logged by mistake). Customers are never deleted
  (a merge sets ``merged_into``; erasure anonymises the snapshot), nor are
  opportunities, cases, orders and survey responses (the history KPIs are
  computed from), consents (proof of what was agreed) or merge records
  (every merge must stay reversible).

Repositories are reached only through a :class:`UnitOfWork`, which a
:class:`Store` opens; see :class:`UnitOfWork` for transactions and events.

May import: ``crmcore.domain``, ``crmcore.merge`` (the merge record type),
``crmcore.errors``, ``crmcore.clock``; attrs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

import attrs

from crmcore.clock import utc
from crmcore.domain import (
    Activity,
    ActivityId,
    Case,
    CaseId,
    Consent,
    ConsentId,
    Customer,
    CustomerId,
    DomainEvent,
    EmailAddress,
    Lead,
    LeadId,
    MergeId,
    Opportunity,
    OpportunityId,
    Order,
    OrderId,
    PhoneNumber,
    SurveyResponse,
    SurveyResponseId,
    TeamId,
    UserId,
    event_types,
)
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.rules import (
    CustomTimeRule,
    DueAction,
    FollowUpOverdue,
    LeadIdle,
    SlaEscalation,
    SurveyAfterClose,
    TimeRule,
)
from crmcore.matching import DuplicateCheck, DuplicatePolicy, MatchRecord, ScoredPair
from crmcore.merge import MergeRecord
from crmcore.privacy.access import AccessFilter
from crmcore.privacy.audit import AuditDraft, AuditEntry, AuditPayload
from crmcore.privacy.consent import ConsentState, LedgerEntry
from crmcore.privacy.subject import ErasureRequest
from crmcore.segments import Rule

__all__ = [
    "EVENT_AGGREGATES",
    "ActivityRepository",
    "AuditLog",
    "CaseRepository",
    "ConsentLedger",
    "ConsentRepository",
    "CustomerRepository",
    "Encryptor",
    "ErasureRepository",
    "EventHistory",
    "EventPublisher",
    "HistoryQuery",
    "IdFactory",
    "IssuedActions",
    "KeyStore",
    "LeadRepository",
    "MergeRecord",
    "MergeRepository",
    "OpportunityRepository",
    "OrderRepository",
    "Repository",
    "Store",
    "StoredMatchIndex",
    "SurveyResponseRepository",
    "TimeRuleQueries",
    "UnitOfWork",
    "Versioned",
    "event_aggregate",
    "with_version",
]

DEFAULT_PAGE_SIZE = 1000
"""The page size ``iter_all`` uses when none is given."""


class Versioned(Protocol):
    """What every stored snapshot has: a string ``id``, a ``version`` and ``updated_at``."""

    @property
    def id(self) -> str:
        """The record's id."""
        ...

    @property
    def version(self) -> int:
        """The version it was read at (0 when new)."""
        ...

    @property
    def updated_at(self) -> dt.datetime:
        """When it last changed."""
        ...


_E = TypeVar("_E")
_V = TypeVar("_V", bound=Versioned)
_K_contra = TypeVar("_K_contra", bound=str, contravariant=True)


def with_version(entity: _V, version: int) -> _V:
    """Return ``entity`` with ``version`` set; what a repository returns from ``save``.

    Adapters (ours and hosts') use this to stamp the stored version on a
    frozen snapshot without knowing its class. Only ``version`` changes, so
    the snapshot's other invariants still hold and are not re-checked
    (this is on the hot path of bulk saves).

    Args:
        entity: A frozen attrs snapshot with a ``version`` field.
        version: The stored version, ``>= 1``.

    Returns:
        An equal snapshot but for ``version``.

    Raises:
        InvalidValueError: If ``version`` is not a non-negative integer.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidValueError("version", version, "a non-negative integer is required")
    cls = type(entity)
    names = _FIELDS.get(cls)
    if names is None:
        fields = attrs.fields(cls)  # type: ignore[arg-type]  # snapshots are attrs classes
        names = _FIELDS.setdefault(cls, tuple(f.name for f in fields))
    stamped = object.__new__(cls)
    for name in names:  # frozen: each field set once, before anyone sees the snapshot
        object.__setattr__(stamped, name, getattr(entity, name))
    object.__setattr__(stamped, "version", version)
    return stamped


_FIELDS: dict[type, tuple[str, ...]] = {}


class Repository(Protocol[_E, _K_contra]):
    """What every repository offers; the contract is in the module docstring."""

    def get(self, id: _K_contra) -> _E:
        """Return the stored snapshot with ``id``.

        Raises:
            NotFoundError: If there is none.
            StorageError: If the backend fails.
        """
        ...

    def save(self, entity: _E) -> _E:
        """Insert or update ``entity``; return the stored snapshot (version + 1).

        Raises:
            StaleVersionError: If ``entity.version`` is not the stored version
                (0 for an existing id, n > 0 for a missing one included).
            StorageError: If a value does not fit its column (``field`` names
                it) or the backend fails. Nothing is stored.
        """
        ...

    def save_many(self, entities: Iterable[_E]) -> list[_E]:
        """Save every entity in order, all or nothing; return the stored snapshots.

        Raises:
            StaleVersionError: If any entity is stale; nothing of the call is saved.
            StorageError: As for :meth:`save`; nothing of the call is saved.
        """
        ...

    def restore_many(self, entities: Iterable[_E]) -> list[_E]:
        """Insert snapshots exactly as they are, versions kept; all or nothing.

        For moving records between stores (importing a crmcore export, a
        backup): a snapshot read from one store is stored in another with
        the same version, so a later save from either copy agrees.

        Raises:
            InvalidValueError: If a snapshot's version is below 1 (never stored:
                use :meth:`save`); nothing of the call is stored.
            StaleVersionError: If an id is already stored or given twice
                (``expected`` 0, ``actual`` the stored version); nothing of the
                call is stored.
            StorageError: As for :meth:`save`; nothing of the call is stored.
        """
        ...

    def find_updated_since(self, at: dt.datetime, *, limit: int | None = None) -> list[_E]:
        """Return the records with ``updated_at >= at``, by ``(updated_at, id)``.

        Args:
            at: An aware timestamp.
            limit: At most this many records (the oldest first).

        Raises:
            InvalidValueError: If ``at`` is naive or ``limit`` is negative.
        """
        ...

    def iter_all(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[_E]:
        """Yield every stored record by id, reading ``page_size`` records at a time.

        Memory use is bounded by the page size, not the number of records.
        Records saved while iterating may or may not be seen.

        Raises:
            InvalidValueError: If ``page_size`` is not positive.
        """
        ...

    def count(self) -> int:
        """Return how many records are stored."""
        ...


@runtime_checkable
class CustomerRepository(Repository[Customer, CustomerId], Protocol):
    """Customer accounts. Never deleted: merges set ``merged_into``."""

    def find_by_email(self, address: EmailAddress) -> list[Customer]:
        """Return the customers having ``address`` (canonical form) among their emails."""
        ...

    def find_by_phone(self, number: PhoneNumber) -> list[Customer]:
        """Return the customers having a phone with ``number``'s E.164 form."""
        ...

    def find_by_owner(self, owner: UserId) -> list[Customer]:
        """Return the customers owned by ``owner`` (负责人)."""
        ...

    def find_by_external_id(self, system: str, value: str) -> list[Customer]:
        """Return the customers known as ``value`` in ``system`` (case-insensitive system)."""
        ...

    def select(
        self,
        rule: Rule,
        *,
        at: dt.datetime,
        tz: str = "UTC",
        access: AccessFilter | None = None,
    ) -> list[CustomerId]:
        """Return the ids of the active (not merged) customers in a segment, ascending.

        The rule is evaluated at instant ``at``, with calendar days and periods
        counted in time zone ``tz``, over the customers and their related
        records (orders, activities, survey responses) visible to this unit of
        work. Every adapter selects exactly the customers the in-memory
        evaluation (:func:`crmcore.segments.compile_rule`) selects.

        With ``access`` (an actor's resolved
        :func:`~crmcore.privacy.access.access_filter` for customers), only the
        customers that actor may reach are returned; SQL adapters push the
        filter into the same query.

        Raises:
            UnsupportedRuleError: If this backend cannot run the rule (raised
                before anything is queried, never a wrong answer).
            InvalidValueError: If ``at`` is naive or ``tz`` unknown.
            StorageError: If the backend fails.
        """
        ...


@runtime_checkable
class LeadRepository(Repository[Lead, LeadId], Protocol):
    """Leads (线索). May be deleted (spam, erasure requests)."""

    def find_by_email(self, address: EmailAddress) -> list[Lead]:
        """Return the leads having ``address`` (canonical form) among their emails."""
        ...

    def find_by_phone(self, number: PhoneNumber) -> list[Lead]:
        """Return the leads having a phone with ``number``'s E.164 form."""
        ...

    def find_by_owner(self, owner: UserId) -> list[Lead]:
        """Return the leads owned by ``owner``."""
        ...

    def find_by_converted_customer(self, customer_id: CustomerId) -> list[Lead]:
        """Return the leads converted into the customer."""
        ...

    def delete(self, lead: Lead) -> None:
        """Delete ``lead``, which must be the stored version.

        Raises:
            NotFoundError: If no lead has its id.
            StaleVersionError: If ``lead.version`` is not the stored version.
        """
        ...


@runtime_checkable
class OpportunityRepository(Repository[Opportunity, OpportunityId], Protocol):
    """Opportunities (商机). Never deleted: they close as lost."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Opportunity]:
        """Return the customer's opportunities."""
        ...

    def find_by_owner(self, owner: UserId) -> list[Opportunity]:
        """Return the opportunities owned by ``owner``."""
        ...


@runtime_checkable
class ActivityRepository(Repository[Activity, ActivityId], Protocol):
    """Activities (跟进记录). May be deleted (logged by mistake)."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Activity]:
        """Return the activities linked to the customer."""
        ...

    def find_by_owner(self, owner: UserId) -> list[Activity]:
        """Return the activities owned by ``owner``."""
        ...

    def delete(self, activity: Activity) -> None:
        """Delete ``activity``, which must be the stored version.

        Raises:
            NotFoundError: If no activity has its id.
            StaleVersionError: If ``activity.version`` is not the stored version.
        """
        ...


@runtime_checkable
class CaseRepository(Repository[Case, CaseId], Protocol):
    """Service cases and complaints (投诉). Never deleted: they close."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Case]:
        """Return the customer's cases."""
        ...

    def find_by_owner(self, owner: UserId) -> list[Case]:
        """Return the cases owned by ``owner``."""
        ...


@runtime_checkable
class SurveyResponseRepository(Repository[SurveyResponse, SurveyResponseId], Protocol):
    """Survey responses (CSAT, NPS, CES). Never deleted."""

    def find_by_customer(self, customer_id: CustomerId) -> list[SurveyResponse]:
        """Return the customer's survey responses."""
        ...


@runtime_checkable
class OrderRepository(Repository[Order, OrderId], Protocol):
    """Orders (purchases). Never deleted: they are cancelled or refunded."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Order]:
        """Return the customer's orders."""
        ...

    def find_by_external_id(self, external_id: str) -> list[Order]:
        """Return the orders with ``external_id`` (the id in the shop or ERP)."""
        ...


@runtime_checkable
class ConsentRepository(Repository[Consent, ConsentId], Protocol):
    """Consents (PIPL / GDPR). Never deleted: withdrawal is recorded instead."""

    def find_by_customer(self, customer_id: CustomerId) -> list[Consent]:
        """Return the customer's consents."""
        ...


@runtime_checkable
class MergeRepository(Repository[MergeRecord, MergeId], Protocol):
    """Merge records. Never deleted: every merge must stay reversible."""

    def find_by_customer(self, customer_id: CustomerId) -> list[MergeRecord]:
        """Return the merges that involved the customer, as survivor or as merged."""
        ...


@runtime_checkable
class ErasureRepository(Repository[ErasureRequest, str], Protocol):
    """The erasure register (see :class:`~crmcore.privacy.subject.ErasureRequest`).

    Requests are never deleted: they hold no personal data, and replaying
    them after a restore from a backup erases the subjects again.
    """

    def find_by_subject(self, subject: CustomerId) -> list[ErasureRequest]:
        """Return the erasure requests of ``subject``."""
        ...


class StoredMatchIndex(Protocol):
    """A duplicate index the store keeps in step with its customers (``uow.match_index``).

    It answers within the unit of work's transaction, and the store writes
    it with every customer save; see
    :class:`crmcore.adapters.sql.SqlMatchIndex`. Same answers as a
    :class:`~crmcore.matching.MatchIndex` holding the same customers.
    """

    def candidates(
        self, record: MatchRecord, *, min_probability: float = 0.5, limit: int = 10
    ) -> list[ScoredPair]:
        """Return the indexed customers that may be the same as ``record``, best first."""
        ...

    def check_batch(
        self, records: Sequence[MatchRecord], policy: DuplicatePolicy
    ) -> tuple[DuplicateCheck, ...]:
        """Check new records against the index and each other (locking what they touch)."""
        ...


class IssuedActions(Protocol):
    """The register of time-rule actions already issued (``uow.issued_actions``).

    A :class:`~crmcore.lifecycle.rules.DueAction`'s id is deterministic, so
    recording the ids issued makes each rule fire once per occurrence, across
    processes and restarts. The record belongs to the unit of work: it is
    durable on :meth:`UnitOfWork.commit` and discarded by a rollback (the
    action is then due again at the next evaluation).

    Two units of work issuing the same action at once record it once: one of
    them gets it back from :meth:`issue`, the other does not (SQL: a unique
    key, the loser's insert is skipped, waiting for the winner's commit on
    PostgreSQL and MariaDB; memory: the first to ask reserves it).
    """

    def issue(self, actions: Iterable[DueAction]) -> list[DueAction]:
        """Record ``actions`` as issued; return those not issued before, in the given order.

        An action repeated within ``actions`` counts once (its first occurrence).

        Raises:
            InvalidValueError: If an item is not a ``DueAction``.
            StorageError: If a field is longer than the backend stores (naming it),
                or the backend fails; nothing of the call is recorded.
        """
        ...


class TimeRuleQueries(Protocol):
    """Time rules answered by the store (``uow.time_rules``), within the unit of work.

    Every method returns exactly what :func:`~crmcore.lifecycle.rules.due_actions`
    returns for the same rules over a :class:`~crmcore.lifecycle.rules.RuleSnapshot`
    of every record the unit of work sees (committed, plus its own changes on
    memory), with the host data given here: the same actions, ids, order and
    reasons. How the store finds them is its own affair. The SQL store finds the
    due records with queries over indexed columns and reads them in batches; the
    memory store (the reference) evaluates ``due_actions`` over everything.

    Host data: ``supervisors`` (each user's supervisor), ``team_leads`` (each
    team's lead) and ``issued`` (action ids not to return again), as in
    :class:`~crmcore.lifecycle.rules.RuleSnapshot`.
    """

    def due(
        self,
        rules: Iterable[TimeRule | CustomTimeRule],
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        team_leads: Mapping[TeamId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return every action ``rules`` make due at ``at``, ordered by ``due_at`` then ``id``.

        Raises:
            InvalidValueError: If a rule is not a time rule or ``at`` is naive.
            ConfigurationError: If an SLA policy has no target for a case's severity.
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

    def overdue_follow_ups(
        self,
        rule: FollowUpOverdue,
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return what a :class:`~crmcore.lifecycle.rules.FollowUpOverdue` rule makes due."""
        ...

    def idle_leads(
        self,
        rule: LeadIdle,
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return what a :class:`~crmcore.lifecycle.rules.LeadIdle` rule makes due."""
        ...

    def sla_escalations(
        self,
        rule: SlaEscalation,
        *,
        at: dt.datetime,
        supervisors: Mapping[UserId, UserId] | None = None,
        team_leads: Mapping[TeamId, UserId] | None = None,
        issued: frozenset[str] = frozenset(),
    ) -> tuple[DueAction, ...]:
        """Return what a :class:`~crmcore.lifecycle.rules.SlaEscalation` rule makes due."""
        ...

    def surveys_after_close(
        self, rule: SurveyAfterClose, *, at: dt.datetime, issued: frozenset[str] = frozenset()
    ) -> tuple[DueAction, ...]:
        """Return what a :class:`~crmcore.lifecycle.rules.SurveyAfterClose` rule makes due."""
        ...


@runtime_checkable
class EventPublisher(Protocol):
    """Where domain events go after a successful commit (ERP, messaging, analytics).

    Delivery is at least once: a publisher may see an event again after a
    crash (deduplicate on ``event.id``).
    """

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Deliver ``events``, in order.

        Raising means none of them counts as delivered; the SQL adapter
        keeps them in its outbox for :func:`crmcore.adapters.sql.relay_outbox`.
        """
        ...


@runtime_checkable
class IdFactory(Protocol):
    """Where new record ids come from (UUIDs, database sequences, a host's scheme)."""

    def new_id(self) -> str:
        """Return a new id, never returned before."""
        ...


@runtime_checkable
class UnitOfWork(Protocol):
    """One transaction over every repository, used as a context manager.

    - Changes made through the repositories are visible inside the unit of
      work at once and to others only after :meth:`commit`.
    - :meth:`commit` applies all of them or none (raising
      :class:`~crmcore.errors.StaleVersionError` if a concurrent commit got
      there first).
    - Rollback is the default: leaving the ``with`` block without
      :meth:`commit` — normally or by an exception — discards every change
      and every collected event.
    - Events given to :meth:`collect` are published through the store's
      :class:`EventPublisher` only after a successful commit, never before
      and never after a rollback.
    - After :meth:`commit` or :meth:`rollback` the unit of work may go on
      with a fresh transaction in the same block.
    - A unit of work belongs to one thread; open one per thread.

    Using the repositories outside the ``with`` block raises
    :class:`~crmcore.errors.StorageError`.
    """

    @property
    def customers(self) -> CustomerRepository:
        """Customer accounts."""
        ...

    @property
    def leads(self) -> LeadRepository:
        """Leads."""
        ...

    @property
    def opportunities(self) -> OpportunityRepository:
        """Opportunities."""
        ...

    @property
    def activities(self) -> ActivityRepository:
        """Activities."""
        ...

    @property
    def cases(self) -> CaseRepository:
        """Service cases."""
        ...

    @property
    def survey_responses(self) -> SurveyResponseRepository:
        """Survey responses."""
        ...

    @property
    def orders(self) -> OrderRepository:
        """Orders."""
        ...

    @property
    def consents(self) -> ConsentRepository:
        """Consents."""
        ...

    @property
    def merges(self) -> MergeRepository:
        """Merge records."""
        ...

    @property
    def history(self) -> EventHistory:
        """The committed domain events (the event history)."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit chain: entries appended here commit with the changes they record."""
        ...

    @property
    def consent_ledger(self) -> ConsentLedger:
        """The append-only consent ledger."""
        ...

    @property
    def erasures(self) -> ErasureRepository:
        """The erasure register."""
        ...

    @property
    def issued_actions(self) -> IssuedActions:
        """The register of issued time-rule actions."""
        ...

    @property
    def time_rules(self) -> TimeRuleQueries:
        """Time rules answered by the store."""
        ...

    def __enter__(self) -> UnitOfWork:
        """Begin the transaction."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and end the unit of work."""
        ...

    def collect(self, *events: DomainEvent) -> None:
        """Keep ``events`` for publishing after the next successful commit."""
        ...

    def commit(self) -> None:
        """Apply every change and record the collected events, then publish them.

        Raises:
            StaleVersionError: If a concurrent change made a save stale;
                nothing was applied.
            StorageError: If the backend fails; nothing was applied.
        """
        ...

    def rollback(self) -> None:
        """Discard every change and collected event since the last commit."""
        ...


@runtime_checkable
class Store(Protocol):
    """A storage backend: opens units of work."""

    def unit_of_work(self) -> UnitOfWork:
        """Return a new unit of work (enter it with ``with``)."""
        ...


# -- the event history ---------------------------------------------------------------

EVENT_AGGREGATES: Mapping[str, tuple[str | None, str]] = {
    "CustomerRegistered": ("customer", "customer_id"),
    "CustomerUpdated": ("customer", "customer_id"),
    "CustomerTagged": ("customer", "customer_id"),
    "CustomerClassified": ("customer", "customer_id"),
    "OwnerAssigned": ("customer", "customer_id"),
    "ConsentGranted": ("consent", "consent_id"),
    "ConsentWithdrawn": ("consent", "consent_id"),
    "LeadCaptured": ("lead", "lead_id"),
    "OpportunityOpened": ("opportunity", "opportunity_id"),
    "ActivityLogged": ("activity", "activity_id"),
    "ActivityCompleted": ("activity", "activity_id"),
    "CaseOpened": ("case", "case_id"),
    "SurveyResponded": ("survey_response", "response_id"),
    "OrderRecorded": ("order", "order_id"),
    "StageChanged": (None, "entity_id"),
    "CustomersMerged": ("customer", "survivor_id"),
    "CustomersUnmerged": ("customer", "survivor_id"),
}
"""Which aggregate each event type is about: type name -> (aggregate, field holding its id).

The one table of these facts: the event history stores and filters by it,
and the events frame shows it. ``None`` as the aggregate means the event
names it itself: a :class:`~crmcore.domain.StageChanged` is about its
``entity`` (``"customer"``, ``"lead"``, ``"opportunity"``, ``"case"``).
Merges and unmerges are about the surviving customer (the merged ids are
in the event).
"""


def event_aggregate(event: DomainEvent) -> tuple[str, str]:
    """Return ``(aggregate, aggregate_id)``: the record ``event`` is about.

    >>> import pendulum
    >>> from crmcore.domain import CaseOpened, StageChanged
    >>> at = pendulum.datetime(2026, 3, 1)
    >>> event_aggregate(CaseOpened(case_id="k1", customer_id="c1", kind="complaint",
    ...                            severity="high", category="billing", at=at))
    ('case', 'k1')
    >>> event_aggregate(StageChanged(entity="lead", entity_id="l1", workflow="lead",
    ...                              transition="qualify", from_stage="new",
    ...                              to_stage="qualified", at=at))
    ('lead', 'l1')

    Raises:
        InvalidValueError: If ``event`` is not a crmcore domain event.
    """
    fact = EVENT_AGGREGATES.get(type(event).__name__)
    if fact is None or type(event) not in _EVENT_CLASSES.values():
        raise InvalidValueError("event", type(event).__name__, "not a crmcore domain event")
    aggregate, id_field = fact
    if aggregate is None:
        aggregate = str(getattr(event, "entity"))  # noqa: B009 - the field the table names
    return aggregate, str(getattr(event, id_field))


_EVENT_CLASSES: Mapping[str, type[DomainEvent]] = {cls.__name__: cls for cls in event_types()}


def _event_type_names(types: Iterable[type[DomainEvent] | str] | None) -> frozenset[str] | None:
    if types is None:
        return None
    if isinstance(types, str | type):
        types = [types]
    names = set()
    for item in types:
        name = item if isinstance(item, str) else getattr(item, "__name__", repr(item))
        if name not in _EVENT_CLASSES or (
            not isinstance(item, str) and _EVENT_CLASSES[name] is not item
        ):
            raise InvalidValueError("event type", name, "not a crmcore domain event type")
        names.add(name)
    return frozenset(names)


def _limit(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidValueError("limit", value, "must be a non-negative integer")
    return value


def _instant(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else utc(value)


@attrs.frozen(kw_only=True)
class HistoryQuery:
    """The filters of :meth:`EventHistory.events`, checked once for every adapter.

    Build it with :meth:`of` (which validates and normalises the arguments);
    :meth:`matches` is the reference semantics every adapter follows.

    >>> import pendulum
    >>> from crmcore.domain import StageChanged
    >>> q = HistoryQuery.of(aggregate="lead", types=[StageChanged],
    ...                     since=pendulum.datetime(2026, 1, 1))
    >>> sorted(q.types or ()), q.until
    (['StageChanged'], None)

    Attributes:
        aggregate: Only events about this kind of record (``"customer"`` …).
        aggregate_id: Only events about the record with this id.
        types: Only events of these class names.
        since: Only events with ``at >= since`` (aware UTC).
        until: Only events with ``at < until`` (aware UTC).
        limit: At most this many events (the first in history order).
    """

    aggregate: str | None = None
    aggregate_id: str | None = None
    types: frozenset[str] | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None

    @classmethod
    def of(
        cls,
        *,
        aggregate: str | None = None,
        aggregate_id: str | None = None,
        types: Iterable[type[DomainEvent] | str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> HistoryQuery:
        """Check and normalise the arguments of :meth:`EventHistory.events`.

        Raises:
            InvalidValueError: If a type is not a domain event type (class or
                class name), ``since``/``until`` is naive or ``limit`` negative.
        """
        return cls(
            aggregate=aggregate,
            aggregate_id=aggregate_id,
            types=_event_type_names(types),
            since=_instant(since),
            until=_instant(until),
            limit=_limit(limit),
        )

    def matches(self, event: DomainEvent) -> bool:
        """Return whether ``event`` passes every filter but ``limit``."""
        if self.types is not None and type(event).__name__ not in self.types:
            return False
        if self.since is not None and event.at < self.since:
            return False
        if self.until is not None and event.at >= self.until:
            return False
        if self.aggregate is not None or self.aggregate_id is not None:
            aggregate, aggregate_id = event_aggregate(event)
            if self.aggregate is not None and aggregate != self.aggregate:
                return False
            if self.aggregate_id is not None and aggregate_id != self.aggregate_id:
                return False
        return True


@runtime_checkable
class EventHistory(Protocol):
    """The domain events committed through the store, kept as history (read only).

    - Events given to :meth:`UnitOfWork.collect` are appended when the unit
      of work commits, in the same transaction as its changes: a committed
      change always has its events in the history, a rolled-back one never.
      Events collected but not yet committed are not in the history.
    - Events are read back equal to the objects collected, in history
      order: by ``at``, then by the order they were committed in (an
      event committed later comes after one with the same ``at``).
    - Each event is about one record, ``(aggregate, aggregate_id)``, as
      :data:`EVENT_AGGREGATES` says.
    - An event id is recorded once: committing an event whose id is already
      in the history raises :class:`~crmcore.errors.StorageError` and
      commits nothing.
    - Nothing is ever removed. The one change allowed is :meth:`redact`,
      which erasure uses to pseudonymise events in place.

    The filters (every one optional, all applied together):
    ``aggregate`` and ``aggregate_id`` (the record the event is about),
    ``types`` (event classes or class names), ``since`` (``at >= since``)
    and ``until`` (``at < until``), ``limit`` (the first events in history
    order).
    """

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
        """Return the committed events passing the filters, in history order.

        Raises:
            InvalidValueError: If a type is unknown, ``since``/``until`` naive or
                ``limit`` negative.
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

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
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

    def redact(self, events: Sequence[DomainEvent]) -> int:
        """Replace stored events by these versions with the same ids (erasure only).

        The event keeps its place in history; the outbox copy, delivered or
        not, is replaced too. Events whose id is not stored are ignored.

        Returns:
            How many stored events were replaced.

        Raises:
            InvalidValueError: If an event is about another record than the
                stored one with its id, or of another type.
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...


# -- the audit chain and the consent ledger --------------------------------------------


@runtime_checkable
class AuditLog(Protocol):
    """The tamper-evident audit chain of a store (see :mod:`crmcore.privacy.audit`).

    - :meth:`append` links a draft to the chain's head *in this unit of
      work*: the entry commits with the changes it records, or not at all.
      Sequences have no gaps and each entry carries the previous one's
      hash; two units of work appending at once never fork the chain — one
      waits for the other's commit (PostgreSQL and MariaDB lock the chain's
      head row) or fails with :class:`~crmcore.errors.ConcurrencyError`
      (SQLite, memory) and is retried whole.
    - Entries are never changed or deleted. Payloads live beside the chain
      and :meth:`erase_payloads` erases a subject's (text and salt), leaving
      the entries, so :func:`~crmcore.privacy.audit.verify` still holds.
    - Reads see this unit of work's own appends and everything committed.
    """

    def append(self, draft: AuditDraft) -> AuditEntry:
        """Append ``draft`` after the chain's head; return the stored entry.

        Raises:
            ConcurrencyError: If another unit of work appended first and this
                one cannot wait for it; retry the unit of work.
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

    def head(self) -> AuditEntry | None:
        """Return the last entry of the chain, or ``None`` when it is empty.

        Raises:
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

    def entries(
        self, *, after: int = 0, until: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[AuditEntry]:
        """Yield the entries with ``after < sequence <= until`` by sequence, a page at a time.

        Memory stays flat however long the chain is.

        Raises:
            InvalidValueError: If ``after`` is negative, ``until`` below it or
                ``page_size`` not positive.
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

    def find_by_subject(self, subject: str) -> list[AuditEntry]:
        """Return the entries about the data subject ``subject``, by sequence.

        Raises:
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

    def payloads(self, sequences: Iterable[int]) -> dict[int, AuditPayload]:
        """Return the payloads of the entries with these sequences (those that exist).

        An erased payload comes back with ``payload_text`` and ``salt`` ``None``.

        Raises:
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

    def erase_payloads(self, subject: str, *, at: dt.datetime) -> int:
        """Erase the payloads about ``subject`` (text and salt); return how many were erased.

        Idempotent: payloads already erased are left alone and not counted.

        Raises:
            InvalidValueError: If ``at`` is naive.
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...


@runtime_checkable
class ConsentLedger(Protocol):
    """The append-only consent ledger (see :mod:`crmcore.privacy.consent`).

    Entries are never changed or deleted; they commit with the unit of work.
    Every adapter refuses what :func:`~crmcore.privacy.consent.check_append`
    refuses, and answers :func:`~crmcore.privacy.consent.may_process` alike.
    """

    def append(self, entry: LedgerEntry) -> None:
        """Append a consent record or a withdrawal.

        Raises:
            InvalidValueError: If a record with the id exists, or the record
                withdrawn is already withdrawn, another subject's or captured
                after the withdrawal.
            NotFoundError: If the record withdrawn does not exist.
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

    def entries_for(self, subject: CustomerId) -> list[LedgerEntry]:
        """Return the subject's entries in the order they were appended.

        Raises:
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...

    def latest(self, subject: CustomerId) -> list[ConsentState]:
        """Return the subject's records with their withdrawals, by (captured_at, id).

        Raises:
            StorageError: If the backend fails or the unit of work is not active.
        """
        ...


# -- encryption at rest ----------------------------------------------------------------


@runtime_checkable
class KeyStore(Protocol):
    """Per-subject data keys for :class:`Encryptor` (crypto-shredding).

    Deleting a subject's key makes everything encrypted under it unreadable:
    an erasure that reaches backups too. Keep the keys in another database
    than the data they protect, so a restored data backup does not bring a
    deleted key back.
    """

    def get(self, subject: str) -> bytes | None:
        """Return the subject's key, or ``None`` if it has none (never made, or deleted).

        Raises:
            StorageError: If the backend fails.
        """
        ...

    def get_or_create(self, subject: str, new_key: bytes) -> bytes:
        """Return the subject's key, storing ``new_key`` as it when it has none.

        Two callers racing for a new subject get the same key.

        Raises:
            InvalidValueError: If ``new_key`` is empty.
            StorageError: If the backend fails.
        """
        ...

    def get_many(self, subjects: Iterable[str]) -> dict[str, bytes]:
        """Return the keys of those of ``subjects`` that have one, by subject.

        One lookup for the whole batch (a few for a large one), not one per subject.

        Raises:
            StorageError: If the backend fails.
        """
        ...

    def get_or_create_many(self, new_keys: Mapping[str, bytes]) -> dict[str, bytes]:
        """Return the key of every subject of ``new_keys``, storing its new key when it has none.

        The batch form of :meth:`get_or_create`: a subject that has a key
        keeps it; the others get theirs from ``new_keys``. Callers racing for
        the same new subject end with one key for it, whichever was stored first.

        Raises:
            InvalidValueError: If a new key is empty.
            StorageError: If the backend fails.
        """
        ...

    def delete(self, subject: str) -> bool:
        """Delete the subject's key; return whether there was one (idempotent).

        Raises:
            StorageError: If the backend fails.
        """
        ...


@runtime_checkable
class Encryptor(Protocol):
    """Encrypts sensitive field values at rest under the data subject's own key.

    The ciphertext is text (it fits the column the plain value would have
    used), and is bound to the subject and the field: ciphertext copied to
    another subject or field does not decrypt.
    """

    def encrypt(self, subject: str, field: str, plaintext: str) -> str:
        """Return ``plaintext`` encrypted under ``subject``'s key (made on first use).

        Raises:
            StorageError: If the key store fails.
        """
        ...

    def decrypt(self, subject: str, field: str, ciphertext: str) -> str:
        """Return the plaintext of ``ciphertext``.

        Raises:
            ErasedError: If the subject's key was deleted (crypto-shredded).
            DecryptionError: If the ciphertext was tampered with, belongs to
                another subject or field, or is not a ciphertext.
            StorageError: If the key store fails.
        """
        ...

    def encrypt_many(self, items: Iterable[tuple[str, str, str]]) -> list[str]:
        """Return the ciphertexts of ``(subject, field, plaintext)`` items, in order.

        The batch form of :meth:`encrypt`, with one key lookup for the whole
        batch: each ciphertext decrypts as :meth:`encrypt`'s would.

        Raises:
            StorageError: If the key store fails.
        """
        ...

    def decrypt_many(self, items: Iterable[tuple[str, str, str]]) -> list[str | None]:
        """Return the plaintexts of ``(subject, field, ciphertext)`` items, in order.

        The batch form of :meth:`decrypt`, with one key lookup for the whole
        batch; an item whose subject's key was deleted (crypto-shredded) gives
        ``None`` instead of raising :class:`~crmcore.errors.ErasedError`.

        Raises:
            DecryptionError: As :meth:`decrypt`, for the first bad item.
            StorageError: If the key store fails.
        """
        ...

    def shred(self, subject: str) -> bool:
        """Delete ``subject``'s key: every value encrypted under it is erased.

        Returns:
            Whether a key was deleted (``False`` when already shredded).
        """
        ...
