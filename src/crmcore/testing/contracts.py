"""The storage contract suite: tests every :class:`~crmcore.ports.Store` must pass.

Subclass :class:`StoreContract` in your test suite and provide one pytest
fixture, ``store_factory``: a callable that takes the
:class:`~crmcore.ports.EventPublisher` to use (or ``None``) and returns a
fresh, empty store each time it is called (hypothesis calls it once per
example, so the fixture itself must be a factory)::

    import pytest
    from crmcore.testing.contracts import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store_factory(self):
            def fresh(publisher):
                return MyStore(..., publisher=publisher)  # empty
            return fresh

The suite checks the contract written in :mod:`crmcore.ports`: versions
and optimistic locking, ``get``/``find``/``iter_all``, all-or-nothing
``save_many``, rollback by default, events published only after a commit,
``delete`` where allowed, exact round trips of every aggregate, and the
event history (committed events kept and read back by aggregate, type and
time, rolled-back ones never). Its
:meth:`StoreContract.test_random_operations_agree_with_the_memory_reference`
drives your store and :class:`~crmcore.adapters.memory.MemoryStore` with the
same random operations (a hypothesis ``RuleBasedStateMachine``) and checks
that they answer alike.

:class:`SubjectStorageContract` checks what erasure needs (the erasure register,
history redaction, leads by converted customer); :class:`KeyStoreContract`
checks a :class:`~crmcore.ports.KeyStore` (fixture ``key_store_factory``).

:class:`AuditLogContract` and :class:`ConsentLedgerContract` check the audit
chain (:class:`~crmcore.ports.AuditLog`: numbering, links, read-back,
rollback, payloads and their erasure, threads appending at once) and the
consent ledger (:class:`~crmcore.ports.ConsentLedger`: append order,
refusals, and ``may_process`` deciding from stored entries as from the
entries appended); subclass them with the same ``store_factory`` fixture.

May import: anything public in crmcore; hypothesis, pytest.
"""

# A test suite shipped in src: asserts are its point (S101), test names its docs (D102).
# ruff: noqa: S101, D102

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeAlias

import attrs
import pendulum
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from crmcore.adapters.memory import MemoryEventPublisher, MemoryStore
from crmcore.clock import FixedClock
from crmcore.domain import (
    ActivityId,
    ActivityKind,
    CaseId,
    CaseKind,
    CaseOpened,
    CaseStatus,
    Classification,
    ConsentChannel,
    ConsentId,
    Contact,
    ContactPoints,
    CreditRating,
    Customer,
    CustomerId,
    CustomerRegistered,
    CustomersMerged,
    CustomerTagged,
    CustomFields,
    CustomFieldSchema,
    DomainEvent,
    EmailAddress,
    EmailContact,
    EventId,
    ExternalId,
    FieldDef,
    FieldType,
    Gender,
    Lead,
    LeadCaptured,
    LeadId,
    LeadStatus,
    MergeId,
    Money,
    OpportunityId,
    OpportunityStage,
    OrderId,
    Organization,
    Person,
    PersonName,
    PhoneNumber,
    PostalAddress,
    Priority,
    Severity,
    StageChanged,
    SurveyResponseId,
    Tag,
    TeamId,
    Tier,
    UserId,
    WaitingPeriod,
    assign_owner,
    capture_lead,
    classify,
    grant_consent,
    log_activity,
    open_case,
    open_opportunity,
    record_order,
    record_survey_response,
    register_customer,
    tag,
)
from crmcore.domain.ids import ContactId
from crmcore.errors import (
    ConcurrencyError,
    ConfigurationError,
    CrmError,
    DecryptionError,
    ErasedError,
    InvalidValueError,
    NotFoundError,
    StaleVersionError,
    StorageError,
)
from crmcore.lifecycle.business_calendar import always_open, weekday_calendar
from crmcore.lifecycle.rules import (
    ActionKind,
    DueAction,
    FollowUpOverdue,
    LeadIdle,
    RuleSnapshot,
    SlaEscalation,
    SurveyAfterClose,
    due_actions,
)
from crmcore.lifecycle.sla import DEFAULT_SLA_POLICY, SlaPolicy, SlaTarget
from crmcore.ports import EventPublisher, KeyStore, Store, UnitOfWork
from crmcore.privacy.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditDraft,
    Checkpoint,
    check_payload,
    verify,
)
from crmcore.privacy.consent import (
    ConsentRecord,
    ConsentWithdrawal,
    Jurisdiction,
    LedgerEntry,
    LegalBasis,
    may_process,
)
from crmcore.privacy.retention import RETENTION_RECORDS, RetentionAction, RetentionRule
from crmcore.privacy.subject import ErasureRequest
from crmcore.segments import (
    Compare,
    CustomCompare,
    HasTag,
    Op,
    UnsupportedRuleError,
    Within,
    field,
    purchases,
)
from crmcore.services.merge import merge_customers, unmerge_customers
from crmcore.services.subject import export_subject
from crmcore.services.time_rules import issue_due_actions
from crmcore.testing import strategies as cst

__all__ = [
    "AuditLogContract",
    "ConsentLedgerContract",
    "EncryptedSetup",
    "EncryptedStoreContract",
    "EncryptedStoreFactory",
    "IssuedActionsContract",
    "KeyStoreContract",
    "KeyStoreFactory",
    "StoreContract",
    "StoreFactory",
    "SubjectStorageContract",
    "TimeRulesContract",
]

StoreFactory: TypeAlias = Callable[[EventPublisher | None], Store]
"""Return a fresh, empty store publishing to the given publisher (or nowhere)."""

_AT = pendulum.datetime(2026, 3, 1, 9)
_EMAILS = ("li.na@example.com", "wang.wei@example.cn", "Sam@Example.org", "sam@example.org")
_PHONES = ("+8613800138000", "+8613900139000", "+14155552671")
_OWNERS = ("u-ana", "u-bo", "u-chen")
_IDS = ("c-1", "c-2", "c-3", "c-4", "c-5")
_LEAD_IDS = ("l-1", "l-2", "l-3")


def _customer(
    id: str,
    *,
    name: str = "李娜",
    emails: tuple[str, ...] = (),
    phones: tuple[str, ...] = (),
    owner: str | None = None,
    organization: bool = False,
    at: pendulum.DateTime = _AT,
) -> Customer:
    customer, _ = register_customer(
        id=CustomerId(id),
        person=None if organization else Person(name=PersonName.parse(name)),
        organization=Organization(legal_name=name) if organization else None,
        emails=[EmailAddress(e) for e in emails],
        phones=[PhoneNumber.parse(p) for p in phones],
        owner=UserId(owner) if owner else None,
        at=at,
    )
    return customer


def _outcome(action: Callable[[], Any]) -> tuple[str, Any]:
    """Return ("ok", result) or ("error", the CrmError's class name)."""
    try:
        return ("ok", action())
    except CrmError as exc:
        return ("error", type(exc).__name__)


def _fits_a_column(event: DomainEvent) -> bool:
    """Ids as stores keep them: at most 128 characters, no NUL (a generated id may be neither)."""
    values = [v for v in attrs.asdict(event, recurse=False).values() if isinstance(v, str)]
    return all(len(v) <= 128 and "\x00" not in v for v in values)


_storable_events = cst.events().filter(_fits_a_column)


class StoreContract:
    """The contract tests; subclass and provide the ``store_factory`` fixture.

    ``store_factory(publisher)`` returns a fresh, empty store that publishes
    committed events to ``publisher`` (``None``: nowhere).

    Attributes:
        state_machine_examples: How many random programs the stateful test
            runs (each of up to ``state_machine_steps`` operations).
        state_machine_steps: The longest random program.
    """

    state_machine_examples: ClassVar[int] = 30
    state_machine_steps: ClassVar[int] = 25

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """Provide a factory of fresh stores (override in your subclass)."""
        pytest.skip("provide a store_factory fixture in your StoreContract subclass")

    # -- get and save ------------------------------------------------------------

    def test_get_of_a_missing_id_raises_not_found(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow, pytest.raises(NotFoundError):
            uow.customers.get(CustomerId("c-missing"))

    def test_save_of_a_new_record_returns_it_with_version_one(
        self, store_factory: StoreFactory
    ) -> None:
        customer = _customer("c-1", emails=("li.na@example.com",))
        with store_factory(None).unit_of_work() as uow:
            stored = uow.customers.save(customer)
        assert stored == attrs.evolve(customer, version=1)

    def test_a_committed_record_is_read_back_equal(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        customer = _customer("c-1", emails=("li.na@example.com",), phones=("+8613800138000",))
        with store.unit_of_work() as uow:
            stored = uow.customers.save(customer)
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.customers.get(CustomerId("c-1")) == stored

    def test_every_save_bumps_the_version_by_one(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow:
            first = uow.customers.save(_customer("c-1"))
            second = uow.customers.save(first)
            third = uow.customers.save(second)
        assert (first.version, second.version, third.version) == (1, 2, 3)

    def test_saving_version_zero_for_an_existing_id_is_stale(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            uow.customers.save(_customer("c-1"))
            with pytest.raises(StaleVersionError) as caught:
                uow.customers.save(_customer("c-1", name="王伟"))
        assert (caught.value.expected, caught.value.actual) == (0, 1)

    def test_saving_an_old_version_is_stale(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow:
            first = uow.customers.save(_customer("c-1"))
            uow.customers.save(first)
            with pytest.raises(StaleVersionError) as caught:
                uow.customers.save(first)
        assert (caught.value.expected, caught.value.actual) == (1, 2)

    def test_saving_a_version_for_a_missing_id_is_stale(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow, pytest.raises(StaleVersionError):
            uow.customers.save(attrs.evolve(_customer("c-1"), version=3))

    def test_a_stale_save_changes_nothing_and_the_unit_of_work_goes_on(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            stored = uow.customers.save(_customer("c-1", emails=("li.na@example.com",)))
            with pytest.raises(StaleVersionError):
                uow.customers.save(_customer("c-1", emails=("sam@example.org",)))
            uow.customers.save(_customer("c-2"))
            assert uow.customers.get(CustomerId("c-1")) == stored
            assert uow.customers.find_by_email(EmailAddress("sam@example.org")) == []

    def test_a_concurrent_commit_makes_a_save_from_an_older_read_stale(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.customers.save(_customer("c-1"))
            uow.commit()
        with store.unit_of_work() as reader:
            seen = reader.customers.get(CustomerId("c-1"))
            with store.unit_of_work() as writer:
                writer.customers.save(writer.customers.get(CustomerId("c-1")))
                writer.commit()
            with pytest.raises(ConcurrencyError):  # StaleVersionError or its parent
                reader.customers.save(seen)

    def test_save_many_returns_every_record_with_its_next_version(
        self, store_factory: StoreFactory
    ) -> None:
        customers = [_customer(id) for id in _IDS]
        with store_factory(None).unit_of_work() as uow:
            stored = uow.customers.save_many(customers)
        assert [c.version for c in stored] == [1] * len(_IDS)

    def test_save_many_saves_nothing_when_one_record_is_stale(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            uow.customers.save(_customer("c-3"))
            with pytest.raises(StaleVersionError):
                uow.customers.save_many([_customer("c-1"), _customer("c-2"), _customer("c-3")])
            assert uow.customers.count() == 1

    def test_restore_many_stores_snapshots_with_their_versions(
        self, store_factory: StoreFactory
    ) -> None:
        snapshots = [attrs.evolve(_customer(id), version=n + 1) for n, id in enumerate(_IDS)]
        store = store_factory(None)
        with store.unit_of_work() as uow:
            restored = uow.customers.restore_many(snapshots)
            uow.commit()
        with store.unit_of_work() as uow:
            assert [uow.customers.get(c.id) for c in snapshots] == restored == snapshots

    def test_a_restored_record_is_saved_on_from_its_version(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            (restored,) = uow.customers.restore_many([attrs.evolve(_customer("c-1"), version=7)])
            assert uow.customers.save(restored).version == 8

    def test_restoring_a_stored_id_is_stale_and_stores_nothing(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            uow.customers.save(_customer("c-2"))
            batch = [attrs.evolve(_customer(id), version=3) for id in ("c-1", "c-2", "c-3")]
            with pytest.raises(StaleVersionError) as caught:
                uow.customers.restore_many(batch)
            assert (caught.value.expected, caught.value.actual) == (0, 1)
            assert uow.customers.count() == 1

    def test_restoring_a_snapshot_never_stored_is_invalid(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            with pytest.raises(InvalidValueError):
                uow.customers.restore_many([_customer("c-1")])
            assert uow.customers.count() == 0

    def test_save_many_of_the_same_record_twice_applies_them_in_order(
        self, store_factory: StoreFactory
    ) -> None:
        first = _customer("c-1")
        with store_factory(None).unit_of_work() as uow:
            stored = uow.customers.save_many([first, attrs.evolve(first, version=1)])
            assert [c.version for c in stored] == [1, 2]
            assert uow.customers.get(CustomerId("c-1")).version == 2

    # -- finding -------------------------------------------------------------------

    def _three_customers(self, uow: UnitOfWork) -> None:
        uow.customers.save_many(
            [
                _customer(
                    "c-1", emails=("li.na@example.com",), phones=(_PHONES[0],), owner="u-ana"
                ),
                _customer(
                    "c-2",
                    name="Acme",
                    organization=True,
                    emails=("Sam@Example.org", "li.na@example.com"),
                    phones=(_PHONES[1],),
                    owner="u-bo",
                ),
                _customer("c-3", emails=("sam@example.org",), phones=(_PHONES[0],), owner="u-ana"),
            ]
        )

    def test_find_by_email_returns_every_customer_with_that_address_by_id(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            self._three_customers(uow)
            found = uow.customers.find_by_email(EmailAddress("li.na@example.com"))
        assert [c.id for c in found] == ["c-1", "c-2"]

    def test_find_by_email_tells_apart_local_parts_differing_in_case(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            self._three_customers(uow)
            found = uow.customers.find_by_email(EmailAddress("Sam@Example.org"))
        assert [c.id for c in found] == ["c-2"]

    def test_find_by_phone_matches_the_e164_form(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow:
            self._three_customers(uow)
            found = uow.customers.find_by_phone(PhoneNumber.parse("138 0013 8000", region="CN"))
        assert [c.id for c in found] == ["c-1", "c-3"]

    def test_find_by_owner_returns_the_owners_customers(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow:
            self._three_customers(uow)
            found = uow.customers.find_by_owner(UserId("u-ana"))
        assert [c.id for c in found] == ["c-1", "c-3"]

    def test_select_returns_the_active_customers_a_segment_rule_matches(
        self, store_factory: StoreFactory
    ) -> None:
        rule = HasTag("vip") & ~(field("owner") == "u-bo")
        with store_factory(None).unit_of_work() as uow:
            self._three_customers(uow)
            for customer_id in ("c-1", "c-2", "c-3"):
                customer = uow.customers.get(CustomerId(customer_id))
                uow.customers.save(attrs.evolve(customer, tags=frozenset({Tag("vip")})))
            merged = uow.customers.get(CustomerId("c-3"))
            uow.customers.save(attrs.evolve(merged, merged_into=CustomerId("c-1")))
            assert uow.customers.select(rule, at=_AT, tz="Asia/Shanghai") == ["c-1"]

    def test_select_counts_related_records_up_to_the_instant_given(
        self, store_factory: StoreFactory
    ) -> None:
        rule = purchases(window=Within(days=30)).count() >= 2
        with store_factory(None).unit_of_work() as uow:
            self._three_customers(uow)
            for n, (customer_id, days_ago) in enumerate(
                [("c-1", 3), ("c-1", 20), ("c-2", 3), ("c-2", 45), ("c-3", 1)]
            ):
                order, _ = record_order(
                    id=OrderId(f"o-{n}"),
                    customer_id=CustomerId(customer_id),
                    amount=Money("100", "CNY"),
                    ordered_at=_AT.subtract(days=days_ago),
                    at=_AT,
                )
                uow.orders.save(order)
            assert uow.customers.select(rule, at=_AT) == ["c-1"]
            assert uow.customers.select(rule, at=_AT.subtract(days=10)) == []

    def test_find_returns_an_empty_list_when_nothing_matches(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            self._three_customers(uow)
            assert uow.customers.find_by_email(EmailAddress("nobody@example.com")) == []

    def test_find_by_email_follows_a_changed_address(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow:
            stored = uow.customers.save(_customer("c-1", emails=("li.na@example.com",)))
            points = stored.points.without_email(EmailAddress("li.na@example.com")).with_email(
                EmailAddress("sam@example.org")
            )
            uow.customers.save(attrs.evolve(stored, points=points))
            assert uow.customers.find_by_email(EmailAddress("li.na@example.com")) == []
            assert len(uow.customers.find_by_email(EmailAddress("sam@example.org"))) == 1

    def test_find_by_external_id_matches_system_and_value(
        self, store_factory: StoreFactory
    ) -> None:
        customer = attrs.evolve(
            _customer("c-1"), external_ids=frozenset({ExternalId("erp", "E-1")})
        )
        with store_factory(None).unit_of_work() as uow:
            uow.customers.save_many([customer, _customer("c-2")])
            found = uow.customers.find_by_external_id("ERP", "E-1")
        assert [c.id for c in found] == ["c-1"]

    def test_find_updated_since_returns_records_by_update_time(
        self, store_factory: StoreFactory
    ) -> None:
        with store_factory(None).unit_of_work() as uow:
            uow.customers.save_many(
                [
                    _customer("c-1", at=_AT.add(days=2)),
                    _customer("c-2", at=_AT),
                    _customer("c-3", at=_AT.add(days=1)),
                ]
            )
            found = uow.customers.find_updated_since(_AT.add(hours=1))
            limited = uow.customers.find_updated_since(_AT, limit=2)
        assert ([c.id for c in found], [c.id for c in limited]) == (["c-3", "c-1"], ["c-2", "c-3"])

    def test_iter_all_yields_every_record_by_id_across_pages(
        self, store_factory: StoreFactory
    ) -> None:
        ids = [f"c-{n:03d}" for n in range(23)]
        with store_factory(None).unit_of_work() as uow:
            uow.customers.save_many([_customer(id) for id in reversed(ids)])
            seen = [c.id for c in uow.customers.iter_all(page_size=5)]
        assert seen == ids

    def test_related_records_are_found_by_customer(self, store_factory: StoreFactory) -> None:
        customer_id = CustomerId("c-1")
        opportunity, _ = open_opportunity(
            id=OpportunityId("o-1"),
            customer_id=customer_id,
            title="ERP",
            amount=Money("100.50", "CNY"),
            at=_AT,
        )
        activity, _ = log_activity(
            id=ActivityId("a-1"),
            kind=ActivityKind.CALL,
            customer_id=customer_id,
            subject="call",
            at=_AT,
        )
        case, _ = open_case(
            id=CaseId("k-1"),
            customer_id=customer_id,
            kind=CaseKind.COMPLAINT,
            subject="late",
            at=_AT,
        )
        survey, _ = record_survey_response(
            id=SurveyResponseId("s-1"), customer_id=customer_id, nps=9, at=_AT
        )
        order, _ = record_order(
            id=OrderId("r-1"),
            customer_id=customer_id,
            amount=Money("99.90", "CNY"),
            ordered_at=_AT,
            at=_AT,
        )
        consent, _ = grant_consent(
            id=ConsentId("g-1"),
            customer_id=customer_id,
            purpose="marketing",
            channel=ConsentChannel.EMAIL,
            source="web form",
            at=_AT,
        )
        with store_factory(None).unit_of_work() as uow:
            found = (
                uow.opportunities.save(opportunity)
                in uow.opportunities.find_by_customer(customer_id),
                uow.activities.save(activity) in uow.activities.find_by_customer(customer_id),
                uow.cases.save(case) in uow.cases.find_by_customer(customer_id),
                uow.survey_responses.save(survey)
                in uow.survey_responses.find_by_customer(customer_id),
                uow.orders.save(order) in uow.orders.find_by_customer(customer_id),
                uow.consents.save(consent) in uow.consents.find_by_customer(customer_id),
            )
        assert found == (True,) * 6

    # The fixture is a factory (fresh store per example); every subclass runs this body
    # with its own store, hence the differing executors.
    @settings(
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
        max_examples=20,
    )
    @given(data=st.data())
    def test_every_aggregate_round_trips_exactly(
        self, store_factory: StoreFactory, data: st.DataObject
    ) -> None:
        pick = data.draw(
            st.sampled_from(
                [
                    ("customers", cst.customers()),
                    ("leads", cst.leads()),
                    ("opportunities", cst.opportunities()),
                    ("activities", cst.activities()),
                    ("cases", cst.cases()),
                    ("survey_responses", cst.survey_responses()),
                    ("orders", cst.orders()),
                    ("consents", cst.consents()),
                    ("merges", cst.merge_records()),
                ]
            ),
            label="aggregate",
        )
        name, strategy = pick
        drawn: Any = data.draw(strategy, label=name)
        record = attrs.evolve(drawn, version=0)
        store = store_factory(None)
        with store.unit_of_work() as uow:
            stored = getattr(uow, name).save(record)
            uow.commit()
        with store.unit_of_work() as uow:
            assert getattr(uow, name).get(record.id) == stored
        copy = store_factory(None)  # restored elsewhere, it is the same snapshot
        with copy.unit_of_work() as uow:
            getattr(uow, name).restore_many([stored])
            uow.commit()
        with copy.unit_of_work() as uow:
            assert getattr(uow, name).get(record.id) == stored

    # -- delete --------------------------------------------------------------------

    def test_a_deleted_lead_is_gone(self, store_factory: StoreFactory) -> None:
        lead, _ = capture_lead(id=LeadId("l-1"), name=PersonName.parse("王伟"), at=_AT)
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.leads.delete(uow.leads.save(lead))
            uow.commit()
        with store.unit_of_work() as uow, pytest.raises(NotFoundError):
            uow.leads.get(LeadId("l-1"))

    def test_deleting_a_missing_activity_raises_not_found(
        self, store_factory: StoreFactory
    ) -> None:
        activity, _ = log_activity(
            id=ActivityId("a-1"),
            kind=ActivityKind.NOTE,
            customer_id=CustomerId("c-1"),
            subject="x",
            at=_AT,
        )
        with store_factory(None).unit_of_work() as uow, pytest.raises(NotFoundError):
            uow.activities.delete(attrs.evolve(activity, version=1))

    def test_deleting_a_stale_lead_raises_and_keeps_it(self, store_factory: StoreFactory) -> None:
        lead, _ = capture_lead(id=LeadId("l-1"), name=PersonName.parse("王伟"), at=_AT)
        with store_factory(None).unit_of_work() as uow:
            first = uow.leads.save(lead)
            second = uow.leads.save(first)
            with pytest.raises(StaleVersionError):
                uow.leads.delete(first)
            assert uow.leads.get(LeadId("l-1")) == second

    # -- units of work and events --------------------------------------------------

    def test_leaving_the_block_without_commit_rolls_back(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.customers.save(_customer("c-1"))
        with store.unit_of_work() as uow:
            assert uow.customers.count() == 0

    def test_an_exception_in_the_block_writes_and_publishes_nothing(
        self, store_factory: StoreFactory
    ) -> None:
        publisher = MemoryEventPublisher()
        store = store_factory(publisher)
        customer, event = register_customer(
            id=CustomerId("c-1"), person=Person(name=PersonName.parse("李娜")), at=_AT
        )

        def fail_halfway() -> None:
            with store.unit_of_work() as uow:
                uow.customers.save(customer)
                uow.collect(event)
                raise KeyError(customer.id)

        with pytest.raises(KeyError):
            fail_halfway()
        with store.unit_of_work() as uow:
            assert (uow.customers.count(), publisher.published) == (0, [])

    def test_events_are_published_only_after_the_commit(self, store_factory: StoreFactory) -> None:
        publisher = MemoryEventPublisher()
        customer, event = register_customer(
            id=CustomerId("c-1"), person=Person(name=PersonName.parse("李娜")), at=_AT
        )
        with store_factory(publisher).unit_of_work() as uow:
            uow.customers.save(customer)
            uow.collect(event)
            before = list(publisher.published)
            uow.commit()
        assert (before, publisher.published) == ([], [event])

    def test_rollback_discards_changes_and_events(self, store_factory: StoreFactory) -> None:
        publisher = MemoryEventPublisher()
        customer, event = register_customer(
            id=CustomerId("c-1"), person=Person(name=PersonName.parse("李娜")), at=_AT
        )
        with store_factory(publisher).unit_of_work() as uow:
            uow.customers.save(customer)
            uow.collect(event)
            uow.rollback()
            uow.commit()
            assert (uow.customers.count(), publisher.published) == (0, [])

    def test_the_unit_of_work_goes_on_after_a_commit(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.customers.save(_customer("c-1"))
            uow.commit()
            uow.customers.save(_customer("c-2"))
        with store.unit_of_work() as uow:
            assert [c.id for c in uow.customers.iter_all()] == ["c-1"]

    def test_a_commit_applies_every_repository_together(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        lead, _ = capture_lead(id=LeadId("l-1"), name=PersonName.parse("王伟"), at=_AT)
        with store.unit_of_work() as uow:
            uow.customers.save(_customer("c-1"))
            uow.leads.save(lead)
            uow.commit()
        with store.unit_of_work() as uow:
            assert (uow.customers.count(), uow.leads.count()) == (1, 1)

    def test_a_repository_used_outside_the_block_raises(self, store_factory: StoreFactory) -> None:
        uow = store_factory(None).unit_of_work()
        with pytest.raises(StorageError):
            uow.customers.get(CustomerId("c-1"))

    # -- the event history ---------------------------------------------------------

    def test_committed_events_are_read_back_equal_from_the_history(
        self, store_factory: StoreFactory
    ) -> None:
        events = _history_events()
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.collect(*events[:3])
            uow.commit()
            uow.collect(*events[3:])
            uow.commit()
        with store.unit_of_work() as uow:
            assert (uow.history.events(), uow.history.count()) == (_in_history_order(events), 6)

    def test_rolled_back_events_never_reach_the_history(self, store_factory: StoreFactory) -> None:
        events = _history_events()
        store = store_factory(None)

        def fail_halfway() -> None:
            with store.unit_of_work() as uow:
                uow.collect(events[1])
                raise KeyError(events[1].id)

        with store.unit_of_work() as uow:
            uow.collect(events[0])
            uow.rollback()
            uow.commit()
        with pytest.raises(KeyError):
            fail_halfway()
        with store.unit_of_work() as uow:
            uow.collect(events[2])  # never committed: the block ends without commit
        with store.unit_of_work() as uow:
            assert uow.history.events() == []

    def test_events_collected_but_not_committed_are_not_in_the_history_yet(
        self, store_factory: StoreFactory
    ) -> None:
        event = _history_events()[0]
        with store_factory(None).unit_of_work() as uow:
            uow.collect(event)
            before = uow.history.events()
            uow.commit()
            assert (before, uow.history.events()) == ([], [event])

    def test_a_unit_of_work_with_a_stale_save_leaves_no_history(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.customers.save(_customer("c-1"))
            uow.commit()
        with store.unit_of_work() as first, store.unit_of_work() as second:
            mine = first.customers.get(CustomerId("c-1"))
            theirs = second.customers.get(CustomerId("c-1"))
            first.customers.save(mine)
            first.commit()
            second.collect(_history_events()[0])

            def save_and_commit() -> None:  # stale at the save or at the commit
                second.customers.save(theirs)
                second.commit()

            with pytest.raises((StaleVersionError, ConcurrencyError)):
                save_and_commit()
        with store.unit_of_work() as uow:
            assert uow.history.events() == []

    def test_an_event_already_in_the_history_is_refused_with_its_commit(
        self, store_factory: StoreFactory
    ) -> None:
        event = _history_events()[0]
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.collect(event)
            uow.commit()
        with store.unit_of_work() as uow:
            uow.customers.save(_customer("c-9"))
            uow.collect(event)
            with pytest.raises(StorageError):
                uow.commit()
        with store.unit_of_work() as uow:
            assert (uow.history.count(), uow.customers.count()) == (1, 0)

    def test_the_history_filters_by_aggregate_and_id(self, store_factory: StoreFactory) -> None:
        events = _history_events()
        store = _store_with_history(store_factory, events)
        with store.unit_of_work() as uow:
            history = uow.history
            assert [e.id for e in history.events(aggregate="customer")] == ["e-1", "e-5", "e-4"]
            assert [e.id for e in history.events(aggregate="lead")] == ["e-3", "e-2"]
            assert [e.id for e in history.events(aggregate="lead", aggregate_id="l-1")] == ["e-3"]
            assert [e.id for e in history.events(aggregate_id="c-1")] == ["e-1", "e-5"]
            assert history.count(aggregate="case") == 1
            assert history.events(aggregate="order") == []

    def test_the_history_filters_by_event_type_given_as_class_or_name(
        self, store_factory: StoreFactory
    ) -> None:
        events = _history_events()
        store = _store_with_history(store_factory, events)
        with store.unit_of_work() as uow:
            by_class = uow.history.events(types=[StageChanged])
            by_name = uow.history.events(types=["StageChanged", "CaseOpened"])
            assert [e.id for e in by_class] == ["e-2", "e-4"]
            assert [e.id for e in by_name] == ["e-2", "e-6", "e-4"]
            assert uow.history.count(types=["CustomersMerged"]) == 1

    def test_the_history_filters_by_a_half_open_time_range(
        self, store_factory: StoreFactory
    ) -> None:
        events = _history_events()
        store = _store_with_history(store_factory, events)
        with store.unit_of_work() as uow:
            since, until = _AT.add(hours=1), _AT.add(hours=3)
            window = uow.history.events(since=since, until=until)
            assert [e.id for e in window] == ["e-5", "e-3", "e-2"]
            assert uow.history.count(since=since) == 5
            assert [e.id for e in uow.history.events(until=since)] == ["e-1"]

    def test_the_history_is_ordered_by_time_then_by_commit(
        self, store_factory: StoreFactory
    ) -> None:
        early = CustomerTagged(
            id=EventId("t-2"), customer_id=CustomerId("c-1"), added=("a",), at=_AT
        )
        late = CustomerTagged(
            id=EventId("t-1"), customer_id=CustomerId("c-1"), added=("b",), at=_AT.add(days=1)
        )
        same = CustomerTagged(
            id=EventId("t-0"), customer_id=CustomerId("c-1"), added=("c",), at=_AT
        )
        store = store_factory(None)
        with store.unit_of_work() as uow:
            for event in (late, early, same):  # three commits, not in time order
                uow.collect(event)
                uow.commit()
        with store.unit_of_work() as uow:
            assert [e.id for e in uow.history.events()] == ["t-2", "t-0", "t-1"]
            assert [e.id for e in uow.history.events(limit=2)] == ["t-2", "t-0"]
            assert uow.history.events(limit=0) == []

    def test_bad_history_filters_raise_invalid_value(self, store_factory: StoreFactory) -> None:
        naive = _AT.naive()
        with store_factory(None).unit_of_work() as uow:
            for call in (
                lambda: uow.history.events(types=["NoSuchEvent"]),
                lambda: uow.history.events(since=naive),
                lambda: uow.history.count(until=naive),
                lambda: uow.history.events(limit=-1),
            ):
                with pytest.raises(InvalidValueError):
                    call()

    def test_the_history_outside_the_block_raises(self, store_factory: StoreFactory) -> None:
        uow = store_factory(None).unit_of_work()
        with pytest.raises(StorageError):
            uow.history.events()

    # The fixture is a factory (fresh store per example); see the round-trip test above.
    @settings(
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
        max_examples=10,
    )
    @given(events=st.lists(_storable_events, min_size=1, max_size=3, unique_by=lambda e: e.id))
    def test_every_event_type_round_trips_through_the_history(
        self, store_factory: StoreFactory, events: list[DomainEvent]
    ) -> None:
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.collect(*events)
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.history.events() == _in_history_order(events)

    # -- the stateful comparison with the reference --------------------------------

    def test_random_operations_agree_with_the_memory_reference(
        self, store_factory: StoreFactory
    ) -> None:
        machine = _machine(store_factory)
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=self.state_machine_examples,
                stateful_step_count=self.state_machine_steps,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )


_customers = st.builds(
    _customer,
    st.sampled_from(_IDS),
    name=st.sampled_from(["李娜", "王伟", "Sam O'Brien"]),
    emails=st.lists(st.sampled_from(_EMAILS), max_size=2, unique=True).map(tuple),
    phones=st.lists(st.sampled_from(_PHONES), max_size=2, unique=True).map(tuple),
    owner=st.none() | st.sampled_from(_OWNERS),
    organization=st.booleans(),
)
_rich_customers = st.builds(
    lambda c, id: attrs.evolve(c, id=CustomerId(id), version=0),
    cst.customers(),
    st.sampled_from(_IDS),
)
_leads = st.builds(
    lambda lead, id: attrs.evolve(lead, id=LeadId(id), version=0),
    cst.leads(),
    st.sampled_from(_LEAD_IDS),
)


def _history_events() -> list[DomainEvent]:
    """Six events about five records, collected out of time order."""
    return [
        CustomerTagged(id=EventId("e-1"), customer_id=CustomerId("c-1"), added=("vip",), at=_AT),
        StageChanged(
            id=EventId("e-2"),
            entity="lead",
            entity_id="l-2",
            workflow="lead",
            transition="qualify",
            from_stage="new",
            to_stage="qualified",
            at=_AT.add(hours=2),
        ),
        LeadCaptured(
            id=EventId("e-3"), lead_id=LeadId("l-1"), source="website", at=_AT.add(hours=2)
        ),
        StageChanged(
            id=EventId("e-4"),
            entity="customer",
            entity_id="c-2",
            workflow="customer",
            transition="grow",
            from_stage="new",
            to_stage="growth",
            at=_AT.add(hours=5),
        ),
        CustomersMerged(
            id=EventId("e-5"),
            merge_id=MergeId("m-1"),
            survivor_id=CustomerId("c-1"),
            merged_ids=(CustomerId("c-3"),),
            at=_AT.add(hours=1),
        ),
        CaseOpened(
            id=EventId("e-6"),
            case_id=CaseId("k-1"),
            customer_id=CustomerId("c-1"),
            kind="complaint",
            severity="high",
            category="billing",
            at=_AT.add(hours=4),
        ),
    ]


def _in_history_order(events: list[DomainEvent]) -> list[DomainEvent]:
    """The history order of events committed in list order: by ``at``, ties as committed."""
    return sorted(events, key=lambda e: e.at)


def _store_with_history(factory: StoreFactory, events: list[DomainEvent]) -> Store:
    """A fresh store whose history holds ``events``, committed e-3 first, then the rest."""
    store = factory(None)
    with store.unit_of_work() as uow:
        uow.collect(events[2])
        uow.commit()
        uow.collect(*(e for e in events if e.id != "e-3"))
        uow.commit()
    return store


def _machine(factory: StoreFactory) -> type[RuleBasedStateMachine]:
    """Build the state machine comparing ``factory``'s stores with the reference."""

    class StoreAgreesWithReference(RuleBasedStateMachine):
        """Every operation answers alike on the store under test and the reference."""

        def __init__(self) -> None:
            super().__init__()
            self.published = MemoryEventPublisher()
            self.reference_published = MemoryEventPublisher()
            self.store = factory(self.published)
            self.reference = MemoryStore(self.reference_published)
            self.uow = self.store.unit_of_work().__enter__()
            self.ref = self.reference.unit_of_work().__enter__()

        def teardown(self) -> None:
            self.uow.__exit__(None, None, None)
            self.ref.__exit__(None, None, None)

        def both(self, action: Callable[[UnitOfWork], Any]) -> Any:
            actual = _outcome(lambda: action(self.uow))
            expected = _outcome(lambda: action(self.ref))
            assert actual == expected
            return expected

        @initialize()
        def start(self) -> None:
            pass

        @rule(customer=_customers | _rich_customers)
        def save_new(self, customer: Customer) -> None:
            self.both(lambda uow: uow.customers.save(customer))

        @rule(
            id=st.sampled_from(_IDS),
            change=st.sampled_from(["tag", "owner", "classify", "same"]),
            value=st.sampled_from(_OWNERS),
        )
        def save_update(self, id: str, change: str, value: str) -> None:
            status, current = _outcome(lambda: self.ref.customers.get(CustomerId(id)))
            if status != "ok":
                return
            at = current.updated_at.add(minutes=1)
            if change == "tag":
                new, _ = tag(current, value.removeprefix("u-"), at=at)
            elif change == "owner":
                new, _ = assign_owner(current, UserId(value), at=at)
            elif change == "classify":
                new, _ = classify(
                    current, tier=Tier.VIP, priority=Priority.HIGH, reason=value, at=at
                )
            else:
                new = current
            self.both(lambda uow: uow.customers.save(new))

        @rule(id=st.sampled_from(_IDS), delta=st.sampled_from([-1, 1, 5]))
        def save_stale(self, id: str, delta: int) -> None:
            status, current = _outcome(lambda: self.ref.customers.get(CustomerId(id)))
            if status != "ok" or current.version + delta < 0:
                return
            stale = attrs.evolve(current, version=current.version + delta)
            self.both(lambda uow: uow.customers.save(stale))

        @rule(customers=st.lists(_customers, max_size=3))
        def save_many(self, customers: list[Customer]) -> None:
            self.both(lambda uow: uow.customers.save_many(customers))

        @rule(id=st.sampled_from(_IDS))
        def get(self, id: str) -> None:
            self.both(lambda uow: uow.customers.get(CustomerId(id)))

        @rule(address=st.sampled_from(_EMAILS))
        def find_by_email(self, address: str) -> None:
            self.both(lambda uow: uow.customers.find_by_email(EmailAddress(address)))

        @rule(number=st.sampled_from(_PHONES))
        def find_by_phone(self, number: str) -> None:
            self.both(lambda uow: uow.customers.find_by_phone(PhoneNumber.parse(number)))

        @rule(owner=st.sampled_from(_OWNERS))
        def find_by_owner(self, owner: str) -> None:
            self.both(lambda uow: uow.customers.find_by_owner(UserId(owner)))

        @rule(page_size=st.integers(1, 4))
        def iterate(self, page_size: int) -> None:
            self.both(lambda uow: list(uow.customers.iter_all(page_size=page_size)))

        @rule(lead=_leads)
        def save_lead(self, lead: Lead) -> None:
            self.both(lambda uow: uow.leads.save(lead))

        @rule(id=st.sampled_from(_LEAD_IDS), stale=st.booleans())
        def delete_lead(self, id: str, stale: bool) -> None:
            status, current = _outcome(lambda: self.ref.leads.get(LeadId(id)))
            if status != "ok":
                return
            target = attrs.evolve(current, version=current.version + 1) if stale else current
            self.both(lambda uow: uow.leads.delete(target))

        @rule(id=st.sampled_from(_LEAD_IDS))
        def get_lead(self, id: str) -> None:
            self.both(lambda uow: uow.leads.get(LeadId(id)))

        @rule(id=st.sampled_from(_IDS))
        def collect(self, id: str) -> None:
            event = CustomerTagged(customer_id=CustomerId(id), added=("vip",), at=_AT)
            self.both(lambda uow: uow.collect(event))

        @rule()
        def commit(self) -> None:
            self.both(lambda uow: uow.commit())

        @rule(aggregate_id=st.none() | st.sampled_from(_IDS))
        def read_history(self, aggregate_id: str | None) -> None:
            self.both(lambda uow: uow.history.events(aggregate_id=aggregate_id))

        @rule()
        def rollback(self) -> None:
            self.both(lambda uow: uow.rollback())

        @rule()
        def reopen(self) -> None:
            """Leave the unit of work (rolling back) and open a new one."""
            self.teardown()
            self.uow = self.store.unit_of_work().__enter__()
            self.ref = self.reference.unit_of_work().__enter__()

        @invariant()
        def counts_agree(self) -> None:
            self.both(lambda uow: (uow.customers.count(), uow.leads.count()))

        @invariant()
        def published_events_agree(self) -> None:
            assert self.published.published == self.reference_published.published

    return StoreAgreesWithReference


# -- the audit chain and the consent ledger --------------------------------------------

_AUDIT_AT = pendulum.datetime(2026, 3, 1, 9, 30, 0, 123456)


def _draft(n: int, *, subject: str | None = "c-1", payload: dict[str, Any] | None = None) -> Any:
    return AuditDraft.of(
        at=_AUDIT_AT.add(seconds=n),
        actor="u-li",
        action=AuditAction.UPDATE,
        record_type="customer",
        record_id=f"c-{n}",
        subject=subject,
        payload={"name": "李娜", "n": n} if payload is None else payload,
    )


def _append_committed(store: Store, drafts: list[Any]) -> list[Any]:
    with store.unit_of_work() as uow:
        entries = [uow.audit.append(d) for d in drafts]
        uow.commit()
    return entries


class AuditLogContract:
    """The audit chain's contract (:class:`~crmcore.ports.AuditLog`); same fixture as StoreContract.

    Attributes:
        threads: How many threads append at once in the concurrency test.
        appends_per_thread: How many units of work each of them commits.
    """

    threads: ClassVar[int] = 4
    appends_per_thread: ClassVar[int] = 5

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """Provide a factory of fresh stores (override in your subclass)."""
        pytest.skip("provide a store_factory fixture in your AuditLogContract subclass")

    def test_an_empty_chain_has_no_head_and_holds(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow:
            assert uow.audit.head() is None
            report = verify(uow.audit.entries())
        assert (report.holds, report.checked) == (True, 0)

    def test_appended_entries_are_numbered_from_one_and_linked(
        self, store_factory: StoreFactory
    ) -> None:
        entries = _append_committed(store_factory(None), [_draft(n) for n in range(3)])
        assert [e.sequence for e in entries] == [1, 2, 3]
        assert entries[0].previous_hash == GENESIS_HASH
        assert [e.previous_hash for e in entries[1:]] == [e.hash for e in entries[:2]]

    def test_committed_entries_are_read_back_equal_and_the_chain_holds(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        entries = _append_committed(store, [_draft(n) for n in range(5)])
        with store.unit_of_work() as uow:
            read = list(uow.audit.entries(page_size=2))
            assert (read, uow.audit.head()) == (entries, entries[-1])
            assert verify(read, checkpoints=[Checkpoint.of(entries[-1])]).holds

    def test_entries_reads_the_range_asked_for(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        entries = _append_committed(store, [_draft(n) for n in range(6)])
        with store.unit_of_work() as uow:
            middle = list(uow.audit.entries(after=2, until=5, page_size=2))
            tail = list(uow.audit.entries(after=4))
        assert (middle, tail) == (entries[2:5], entries[4:])

    def test_a_bad_range_is_refused(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow:
            for bad in ({"after": -1}, {"after": 3, "until": 2}, {"page_size": 0}):
                with pytest.raises(InvalidValueError):
                    uow.audit.entries(**bad)

    def test_an_entry_appended_after_a_commit_continues_the_chain(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        first = _append_committed(store, [_draft(1)])
        second = _append_committed(store, [_draft(2), _draft(3)])
        assert second[0].previous_hash == first[0].hash
        with store.unit_of_work() as uow:
            assert verify(uow.audit.entries()).checked == 3

    def test_a_rolled_back_append_leaves_nothing_and_its_sequence_is_reused(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        _append_committed(store, [_draft(1)])
        with store.unit_of_work() as uow:
            dropped = uow.audit.append(_draft(2))
            assert uow.audit.head() == dropped  # its own append is visible to it
        with store.unit_of_work() as uow:
            assert [e.sequence for e in uow.audit.entries()] == [1]
            again = uow.audit.append(_draft(3))
            uow.rollback()
            kept = uow.audit.append(_draft(4))
            uow.commit()
        assert (dropped.sequence, again.sequence, kept.sequence) == (2, 2, 2)
        with store.unit_of_work() as uow:
            assert verify(uow.audit.entries()).checked == 2

    def test_an_entry_commits_with_the_change_it_records(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.customers.save(_customer("c-1"))
            uow.audit.append(_draft(1))
        with store.unit_of_work() as uow:
            assert (uow.customers.count(), uow.audit.head()) == (0, None)
            uow.customers.save(_customer("c-1"))
            entry = uow.audit.append(_draft(1))
            uow.commit()
        with store.unit_of_work() as uow:
            assert (uow.customers.count(), uow.audit.head()) == (1, entry)

    def test_payloads_are_read_back_and_match_their_digests(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        payload = {"name": "李娜", "emails": ["li.na@example.com"], "vip": True, "visits": 3}
        drafts = [_draft(1, payload=payload), _draft(2, subject=None, payload={})]
        entries = _append_committed(store, drafts)
        with store.unit_of_work() as uow:
            found = uow.audit.payloads([1, 2, 99])
        assert sorted(found) == [1, 2]
        assert (found[1].payload, found[2].payload) == (payload, {})
        assert (found[1].subject, found[2].subject) == ("c-1", None)
        assert [check_payload(e, found[e.sequence]) for e in entries] == [None, None]

    def test_find_by_subject_returns_the_subjects_entries(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        drafts = [_draft(1), _draft(2, subject="c-2"), _draft(3), _draft(4, subject=None)]
        entries = _append_committed(store, drafts)
        with store.unit_of_work() as uow:
            assert uow.audit.find_by_subject("c-1") == [entries[0], entries[2]]
            assert uow.audit.find_by_subject("c-9") == []

    def test_erasing_a_subjects_payloads_keeps_the_chain_verifiable(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        entries = _append_committed(store, [_draft(1), _draft(2, subject="c-2"), _draft(3)])
        erased_at = _AUDIT_AT.add(days=1)
        with store.unit_of_work() as uow:
            assert uow.audit.erase_payloads("c-1", at=erased_at) == 2
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.audit.erase_payloads("c-1", at=erased_at) == 0  # idempotent
            found = uow.audit.payloads([1, 2, 3])
            assert verify(uow.audit.entries(), checkpoints=[Checkpoint.of(entries[-1])]).holds
        assert [(p.payload_text, p.salt, p.erased_at) for p in (found[1], found[3])] == [
            (None, None, erased_at)
        ] * 2
        assert found[2].payload == {"name": "李娜", "n": 2}
        assert [check_payload(e, found[e.sequence]) for e in entries] == [None] * 3

    def test_an_erasure_that_is_not_committed_erases_nothing(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        _append_committed(store, [_draft(1)])
        with store.unit_of_work() as uow:
            uow.audit.erase_payloads("c-1", at=_AUDIT_AT.add(days=1))
            assert uow.audit.payloads([1])[1].payload_text is None
        with store.unit_of_work() as uow:
            assert uow.audit.payloads([1])[1].payload == {"name": "李娜", "n": 1}

    def test_the_audit_log_used_outside_the_block_raises(self, store_factory: StoreFactory) -> None:
        uow = store_factory(None).unit_of_work()
        with pytest.raises(StorageError):
            uow.audit.append(_draft(1))

    def test_concurrent_units_of_work_never_fork_the_chain(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        failures: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for n in range(self.appends_per_thread):
                    # a unit of work that lost the race is retried, with a growing pause, for
                    # up to a minute: on a busy machine a lock wait can outlast many attempts
                    deadline = time.monotonic() + 60.0
                    pause = 0.005
                    while True:
                        try:
                            with store.unit_of_work() as uow:
                                uow.audit.append(_draft(worker * 100 + n))
                                uow.audit.append(_draft(worker * 100 + n, subject="c-2"))
                                uow.commit()
                            break
                        except ConcurrencyError as exc:
                            if time.monotonic() > deadline:
                                failures.append(
                                    AssertionError(f"worker {worker} never committed: {exc}")
                                )
                                break
                            time.sleep(pause)
                            pause = min(pause * 2, 0.2)
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                failures.append(exc)

        workers = [threading.Thread(target=work, args=(w,)) for w in range(self.threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        assert failures == [], "; ".join(f"{type(f).__name__}: {f}" for f in failures)
        with store.unit_of_work() as uow:
            report = verify(uow.audit.entries())
        assert (report.holds, report.checked) == (True, 2 * self.threads * self.appends_per_thread)


_LEDGER_AT = pendulum.datetime(2026, 3, 1, 9)
_PURPOSES = ("marketing", "profiling")
_CHANNELS = (ConsentChannel.EMAIL, ConsentChannel.SMS, ConsentChannel.ANY)


def _record(id: str, subject: str = "c-1", **fields: Any) -> ConsentRecord:
    values: dict[str, Any] = {
        "purpose": "marketing",
        "channel": ConsentChannel.EMAIL,
        "jurisdiction": Jurisdiction.PIPL,
        "captured_at": _LEDGER_AT,
    }
    values.update(fields)
    return ConsentRecord(id=ConsentId(id), subject=CustomerId(subject), **values)


def _withdrawal(id: str, subject: str = "c-1", days: int = 10) -> ConsentWithdrawal:
    return ConsentWithdrawal(
        record_id=ConsentId(id),
        subject=CustomerId(subject),
        withdrawn_at=_LEDGER_AT.add(days=days),
    )


@st.composite
def _ledgers(draw: st.DrawFn) -> list[LedgerEntry]:
    """A valid ledger of two subjects: records of random bases and flags, some withdrawn."""
    entries: list[LedgerEntry] = []
    for n in range(draw(st.integers(0, 6))):
        pipl = draw(st.booleans())
        basis = draw(
            st.sampled_from(
                [LegalBasis.CONSENT] * 3
                + [LegalBasis.CONTRACT, LegalBasis.LEGAL_OBLIGATION]
                + [LegalBasis.PUBLICLY_AVAILABLE if pipl else LegalBasis.LEGITIMATE_INTERESTS]
            )
        )
        consent = basis is LegalBasis.CONSENT
        captured = _LEDGER_AT.add(days=draw(st.integers(0, 30)))
        starts = captured.add(days=draw(st.integers(0, 10)))
        until = draw(st.none() | st.integers(1, 60))
        record = ConsentRecord(
            id=ConsentId(f"k-{n}"),
            subject=CustomerId(draw(st.sampled_from(["c-1", "c-2"]))),
            purpose=draw(st.sampled_from(_PURPOSES)),
            channel=draw(st.sampled_from(_CHANNELS)),
            legal_basis=basis,
            jurisdiction=Jurisdiction.PIPL if pipl else Jurisdiction.GDPR,
            captured_at=captured,
            captured_from=draw(st.sampled_from(["", "signup form", "门店"])),
            valid_from=starts,
            valid_until=None if until is None else starts.add(days=until),
            sensitive=consent and draw(st.booleans()),
            provision_recipient=draw(st.none() | st.just("Acme 物流")) if consent else None,
            publication=consent and draw(st.booleans()),
            cross_border_recipient=draw(st.none() | st.just("Acme GmbH")) if consent else None,
            guardian=draw(st.none() | st.just("王芳")) if consent else None,
        )
        entries.append(record)
        if draw(st.booleans()):
            entries.append(
                ConsentWithdrawal(
                    record_id=record.id,
                    subject=record.subject,
                    withdrawn_at=captured.add(days=draw(st.integers(0, 40)), microseconds=7),
                    reason=draw(st.sampled_from(["", "unsubscribed"])),
                )
            )
    return entries


_questions = st.fixed_dictionaries(
    {
        "subject": st.sampled_from(["c-1", "c-2"]),
        "purpose": st.sampled_from(_PURPOSES),
        "channel": st.sampled_from(_CHANNELS[:2]),
        "days": st.integers(-1, 80),
        "sensitive": st.booleans(),
        "publication": st.booleans(),
        "provision_recipient": st.none() | st.sampled_from(["Acme 物流", "Other Co"]),
        "cross_border_recipient": st.none() | st.just("Acme GmbH"),
        "subject_age": st.none() | st.integers(10, 40),
    }
)


def _prefixed(entry: LedgerEntry, prefix: str) -> LedgerEntry:
    if isinstance(entry, ConsentRecord):
        return attrs.evolve(entry, id=prefix + entry.id, subject=prefix + entry.subject)
    return attrs.evolve(entry, record_id=prefix + entry.record_id, subject=prefix + entry.subject)


class ConsentLedgerContract:
    """The consent ledger's contract (:class:`~crmcore.ports.ConsentLedger`).

    Attributes:
        ledger_examples: How many random ledgers the decision property tries.
    """

    ledger_examples: ClassVar[int] = 20

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """Provide a factory of fresh stores (override in your subclass)."""
        pytest.skip("provide a store_factory fixture in your ConsentLedgerContract subclass")

    def test_entries_are_read_back_equal_in_append_order(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        entries: list[LedgerEntry] = [
            _record("k-2", sensitive=True, cross_border_recipient="Acme GmbH", guardian="王芳"),
            _record("k-1", channel=ConsentChannel.ANY, valid_until=_LEDGER_AT.add(years=1)),
            _withdrawal("k-2"),
            _record("k-3", subject="c-2", legal_basis=LegalBasis.CONTRACT),
        ]
        with store.unit_of_work() as uow:
            for entry in entries:
                uow.consent_ledger.append(entry)
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.consent_ledger.entries_for(CustomerId("c-1")) == entries[:3]
            assert uow.consent_ledger.entries_for(CustomerId("c-9")) == []
            latest = uow.consent_ledger.latest(CustomerId("c-1"))
        assert [(s.record.id, s.withdrawn_at) for s in latest] == [
            ("k-1", None),
            ("k-2", _LEDGER_AT.add(days=10)),
        ]

    def test_a_record_id_already_in_the_ledger_is_refused(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.consent_ledger.append(_record("k-1"))
            uow.commit()
            with pytest.raises(InvalidValueError):
                uow.consent_ledger.append(_record("k-1", subject="c-2"))
            assert uow.consent_ledger.entries_for(CustomerId("c-2")) == []

    def test_withdrawing_a_missing_record_is_not_found(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow, pytest.raises(NotFoundError):
            uow.consent_ledger.append(_withdrawal("k-9"))

    def test_withdrawing_twice_is_refused(self, store_factory: StoreFactory) -> None:
        with store_factory(None).unit_of_work() as uow:
            uow.consent_ledger.append(_record("k-1"))
            uow.consent_ledger.append(_withdrawal("k-1"))
            with pytest.raises(InvalidValueError):
                uow.consent_ledger.append(_withdrawal("k-1", days=20))

    def test_an_uncommitted_entry_is_discarded(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        with store.unit_of_work() as uow:
            uow.consent_ledger.append(_record("k-1"))
            assert len(uow.consent_ledger.entries_for(CustomerId("c-1"))) == 1
        with store.unit_of_work() as uow:
            assert uow.consent_ledger.entries_for(CustomerId("c-1")) == []

    def test_the_decision_is_the_one_the_ledger_entries_give(
        self, store_factory: StoreFactory
    ) -> None:
        @settings(
            max_examples=self.ledger_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(ledger=_ledgers(), questions=st.lists(_questions, min_size=1, max_size=4))
        def decide_alike(ledger: list[LedgerEntry], questions: list[dict[str, Any]]) -> None:
            # One store for every example: each example's ids are its own.
            prefix = f"x{next(examples)}-"
            entries = [_prefixed(e, prefix) for e in ledger]
            with store.unit_of_work() as uow:
                for entry in entries:
                    uow.consent_ledger.append(entry)
                uow.commit()
            with store.unit_of_work() as uow:
                for q in questions:
                    subject = CustomerId(prefix + q["subject"])
                    stored = uow.consent_ledger.entries_for(subject)
                    assert stored == [e for e in entries if e.subject == subject]
                    ask = {k: v for k, v in q.items() if k not in ("subject", "purpose", "days")}
                    at = _LEDGER_AT.add(days=q["days"])
                    expected = may_process(entries, subject, q["purpose"], at=at, **ask)
                    actual = may_process(stored, subject, q["purpose"], at=at, **ask)
                    assert actual == expected

        store = store_factory(None)
        examples = itertools.count()
        decide_alike()


KeyStoreFactory: TypeAlias = Callable[[], KeyStore]


class KeyStoreContract:
    """The :class:`~crmcore.ports.KeyStore` contract; provide a ``key_store_factory`` fixture.

    The fixture returns a callable that gives a fresh, empty key store.
    """

    def test_a_missing_key_is_none(self, key_store_factory: KeyStoreFactory) -> None:
        assert key_store_factory().get("c-1") is None

    def test_the_first_key_stays(self, key_store_factory: KeyStoreFactory) -> None:
        keys = key_store_factory()
        first = keys.get_or_create("c-1", b"\x01" * 32)
        assert first == b"\x01" * 32
        assert keys.get_or_create("c-1", b"\x02" * 32) == first
        assert keys.get("c-1") == first
        assert keys.get("c-2") is None

    def test_delete_is_idempotent_and_only_the_subjects(
        self, key_store_factory: KeyStoreFactory
    ) -> None:
        keys = key_store_factory()
        keys.get_or_create("c-1", b"\x01" * 32)
        keys.get_or_create("c-2", b"\x02" * 32)
        assert keys.delete("c-1") is True
        assert keys.delete("c-1") is False
        assert keys.get("c-1") is None
        assert keys.get("c-2") == b"\x02" * 32
        assert keys.get_or_create("c-1", b"\x03" * 32) == b"\x03" * 32  # a new key, not the old

    def test_an_empty_key_is_refused(self, key_store_factory: KeyStoreFactory) -> None:
        with pytest.raises(InvalidValueError):
            key_store_factory().get_or_create("c-1", b"")

    def test_threads_racing_for_a_new_subject_get_one_key(
        self, key_store_factory: KeyStoreFactory
    ) -> None:
        keys = key_store_factory()
        got: list[bytes] = []
        lock = threading.Lock()

        def take(n: int) -> None:
            key = keys.get_or_create("c-race", bytes([n + 1]) * 32)
            with lock:
                got.append(key)

        threads = [threading.Thread(target=take, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(got)) == 1
        assert keys.get("c-race") == got[0]

    def test_batch_lookups_agree_with_single_ones(self, key_store_factory: KeyStoreFactory) -> None:
        keys = key_store_factory()
        assert keys.get_many([]) == {}
        assert keys.get_or_create_many({}) == {}
        keys.get_or_create("c-1", b"\x01" * 32)
        got = keys.get_or_create_many({"c-1": b"\x09" * 32, "c-2": b"\x02" * 32})
        assert got == {"c-1": b"\x01" * 32, "c-2": b"\x02" * 32}  # c-1 keeps its key
        assert keys.get_or_create_many({"c-2": b"\x08" * 32}) == {"c-2": b"\x02" * 32}
        assert keys.get_many(["c-2", "c-3", "c-1", "c-2"]) == got  # missing left out
        assert {s: keys.get(s) for s in ("c-1", "c-2")} == got
        assert keys.delete("c-1") is True
        assert keys.get_many(["c-1", "c-2"]) == {"c-2": b"\x02" * 32}
        assert keys.get_or_create_many({"c-1": b"\x03" * 32})["c-1"] == b"\x03" * 32

    def test_a_batch_larger_than_a_statement_takes_every_key(
        self, key_store_factory: KeyStoreFactory
    ) -> None:
        keys = key_store_factory()
        new = {f"c-{n:04d}": n.to_bytes(2, "big") * 16 for n in range(1_100)}
        keys.get_or_create_many({s: new[s] for s in list(new)[::2]})  # half stored before
        assert keys.get_or_create_many(new) == new
        assert keys.get_many(new) == new

    def test_an_empty_key_in_a_batch_is_refused(self, key_store_factory: KeyStoreFactory) -> None:
        keys = key_store_factory()
        with pytest.raises(InvalidValueError):
            keys.get_or_create_many({"c-1": b"\x01" * 32, "c-2": b""})

    def test_threads_racing_with_batches_get_one_key_per_subject(
        self, key_store_factory: KeyStoreFactory
    ) -> None:
        keys = key_store_factory()
        subjects = [f"c-race-{n}" for n in range(20)]
        got: list[dict[str, bytes]] = []
        lock = threading.Lock()

        def take(n: int) -> None:
            found = keys.get_or_create_many({s: bytes([n + 1]) * 32 for s in subjects})
            with lock:
                got.append(found)

        threads = [threading.Thread(target=take, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 4
        assert all(found == got[0] for found in got)
        assert keys.get_many(subjects) == got[0]


class SubjectStorageContract:
    """What erasure needs of a store: the erasure register, history redaction, lead lookup.

    Subclass it with the ``store_factory`` fixture of :class:`StoreContract`.
    """

    def test_the_erasure_register_keeps_requests_by_subject(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        at = pendulum.datetime(2026, 3, 1)
        request = ErasureRequest(
            id="er-1", subject=CustomerId("c-1"), customers=("c-1",), requested_at=at, created_at=at
        )
        with store.unit_of_work() as uow:
            saved = uow.erasures.save(request)
            uow.commit()
        assert saved.version == 1
        with store.unit_of_work() as uow:
            assert uow.erasures.get("er-1") == saved
            assert uow.erasures.find_by_subject(CustomerId("c-1")) == [saved]
            assert uow.erasures.find_by_subject(CustomerId("c-2")) == []
            progressed = uow.erasures.save(saved.finish("leads", 3, at=at.add(minutes=1)))
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.erasures.get("er-1") == progressed
            assert [s.name for s in progressed.steps] == ["leads"]
            with pytest.raises(StaleVersionError):
                uow.erasures.save(saved)

    def test_redact_replaces_an_event_in_place_at_commit(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        at = pendulum.datetime(2026, 3, 1)
        registered = CustomerRegistered(
            customer_id=CustomerId("c-1"), kind="person", display_name="李娜", at=at
        )
        later = CustomerTagged(customer_id=CustomerId("c-1"), added=("vip",), at=at.add(hours=1))
        with store.unit_of_work() as uow:
            uow.collect(registered, later)
            uow.commit()
        redacted = attrs.evolve(registered, display_name="erased-1")
        with store.unit_of_work() as uow:
            assert uow.history.redact([redacted]) == 1
            uow.rollback()
            assert uow.history.events(aggregate_id="c-1") == [registered, later]
            assert uow.history.redact([redacted]) == 1
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.history.events(aggregate_id="c-1") == [redacted, later]
            assert uow.history.redact([]) == 0
            missing = CustomerRegistered(
                customer_id=CustomerId("c-9"), kind="person", display_name="x", at=at
            )
            assert uow.history.redact([missing]) == 0

    def test_redact_refuses_to_move_an_event(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        at = pendulum.datetime(2026, 3, 1)
        registered = CustomerRegistered(
            customer_id=CustomerId("c-1"), kind="person", display_name="李娜", at=at
        )
        with store.unit_of_work() as uow:
            uow.collect(registered)
            uow.commit()
        with store.unit_of_work() as uow:
            for moved in (
                attrs.evolve(registered, customer_id=CustomerId("c-2")),
                attrs.evolve(registered, at=at.add(days=1)),
            ):
                with pytest.raises(InvalidValueError):
                    uow.history.redact([moved])

    def test_leads_are_found_by_the_customer_they_became(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        at = pendulum.datetime(2026, 3, 1)
        lead, _ = capture_lead(
            id=LeadId("l-1"), at=at, name=PersonName.parse("李娜"), company="ACME"
        )
        converted = attrs.evolve(lead, converted_customer_id=CustomerId("c-1"))
        other, _ = capture_lead(id=LeadId("l-2"), at=at, company="Other Co")
        with store.unit_of_work() as uow:
            uow.leads.save_many([converted, other])
            uow.commit()
        with store.unit_of_work() as uow:
            assert [x.id for x in uow.leads.find_by_converted_customer(CustomerId("c-1"))] == [
                "l-1"
            ]
            assert uow.leads.find_by_converted_customer(CustomerId("c-2")) == []


def _action(n: int, *, rule: str = "follow_up_overdue", subject_id: str | None = None) -> DueAction:
    at = _AT.add(days=n % 7)
    subject = subject_id if subject_id is not None else f"c-{n}"
    return DueAction(
        id=f"{rule}:customer:{subject}:{at.isoformat()}",
        kind=ActionKind.REMIND_SUPERVISOR,
        rule=rule,
        subject="customer",
        subject_id=subject,
        recipient=UserId("u-wang"),
        customer_id=CustomerId(subject),
        due_at=at,
        reason="no follow-up for 3 days",
    )


class IssuedActionsContract:
    """The register of issued time-rule actions (:class:`~crmcore.ports.IssuedActions`).

    Subclass it with the ``store_factory`` fixture of :class:`StoreContract`.
    """

    def test_an_action_is_issued_once(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        a, b, c = _action(1), _action(2), _action(3)
        with store.unit_of_work() as uow:
            assert uow.issued_actions.issue([a, b, a]) == [a, b]
            assert uow.issued_actions.issue([b]) == []  # seen by its own unit of work
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.issued_actions.issue([c, a, b]) == [c]
            assert uow.issued_actions.issue([]) == []
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.issued_actions.issue(iter([a, b, c])) == []

    def test_a_rollback_forgets_what_was_issued(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        a = _action(1)
        with store.unit_of_work() as uow:
            assert uow.issued_actions.issue([a]) == [a]
        with store.unit_of_work() as uow:  # left without commit: rolled back
            assert uow.issued_actions.issue([a]) == [a]
            uow.rollback()
            assert uow.issued_actions.issue([a]) == [a]
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.issued_actions.issue([a]) == []

    def test_bad_input_is_refused_and_records_nothing(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        a = _action(1)
        with store.unit_of_work() as uow:
            with pytest.raises(InvalidValueError, match="actions"):
                uow.issued_actions.issue([a, "not an action"])  # type: ignore[list-item]
            with pytest.raises(InvalidValueError, match="actions"):
                uow.issued_actions.issue(a)  # type: ignore[arg-type]
            assert uow.issued_actions.issue([a]) == [a]
        with pytest.raises(StorageError):
            store.unit_of_work().issued_actions.issue([a])

    def test_ids_in_any_script_and_of_any_length_are_kept_apart(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        long_a = attrs.evolve(_action(1), id="x" * 600 + "a")
        long_b = attrs.evolve(_action(1), id="x" * 600 + "b")
        upper = attrs.evolve(_action(1), id="客户-A")
        lower = attrs.evolve(_action(1), id="客户-a")
        with store.unit_of_work() as uow:
            assert uow.issued_actions.issue([long_a, long_b, upper, lower]) == [
                long_a,
                long_b,
                upper,
                lower,
            ]
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.issued_actions.issue([lower, long_b]) == []

    @settings(
        max_examples=15,
        deadline=None,
        # one contract method runs for each backend's subclass
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(
        calls=st.lists(
            st.tuples(st.lists(st.integers(0, 8), max_size=6), st.booleans()),
            min_size=1,
            max_size=5,
        )
    )
    def test_random_calls_return_the_first_committed_occurrences(
        self, store_factory: StoreFactory, calls: list[tuple[list[int], bool]]
    ) -> None:
        store = store_factory(None)
        issued: set[str] = set()
        for numbers, commit in calls:
            actions = [_action(n) for n in numbers]
            expected: list[DueAction] = []
            for action in actions:
                if action.id not in issued and action not in expected:
                    expected.append(action)
            with store.unit_of_work() as uow:
                assert uow.issued_actions.issue(actions) == expected
                if commit:
                    uow.commit()
                    issued.update(a.id for a in expected)

    def test_workers_issuing_at_once_issue_each_action_once(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        actions = [_action(n) for n in range(20)]
        workers = 4
        barrier = threading.Barrier(workers)
        results: list[list[DueAction]] = []
        failures: list[BaseException] = []
        lock = threading.Lock()

        def work(index: int) -> None:
            mine = actions[index:] + actions[:index]  # each worker in another order
            mine = sorted(mine, key=lambda a: a.id)  # one order: no deadlock between workers
            try:
                barrier.wait(timeout=30)
                for _attempt in range(20):
                    try:
                        with store.unit_of_work() as uow:
                            new = uow.issued_actions.issue(mine)
                            time.sleep(0.05)  # hold the transaction while the others ask
                            uow.commit()
                    except ConcurrencyError:
                        time.sleep(0.01)
                        continue
                    with lock:
                        results.append(new)
                    return
                raise AssertionError("no attempt got through")
            except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
                with lock:
                    failures.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        assert len(results) == workers
        issued = [a.id for new in results for a in new]
        assert sorted(issued) == sorted(a.id for a in actions)  # each once, none lost


# -- encryption at rest ----------------------------------------------------------------


@attrs.frozen
class EncryptedSetup:
    """A store that encrypts sensitive fields at rest, and ways to look behind it.

    Attributes:
        store: The store (``SqlStore(engine, encryptor=..., custom_schema=...)``).
        keys: The key store of its encryptor (delete a key to crypto-shred).
        raw: Return every stored row of every table as text (what a dump shows).
        raw_documents: Return the stored customer documents as the database holds them.
        corrupt: Overwrite the stored document of one customer (id, document) as it is.
        plain: Return a store on the same database without an encryptor.
    """

    store: Store
    keys: KeyStore
    raw: Callable[[], str]
    raw_documents: Callable[[], dict[str, dict[str, Any]]]
    corrupt: Callable[[str, dict[str, Any]], None]
    plain: Callable[[], Store]


EncryptedStoreFactory: TypeAlias = Callable[[CustomFieldSchema | None], EncryptedSetup]
"""Return a fresh, empty encrypting store whose custom schema is the given one."""

_PRIVATE_ID = "11010519491231002X"
_PRIVATE_STREET = "Zhuoyanrelli Lane 88"
_PRIVATE_CONTACT = "quixbert.marsh@contact.example"
_PRIVATE_WECHAT = "wx_quixotic_77"
_PRIVATE = (_PRIVATE_ID, _PRIVATE_STREET, _PRIVATE_CONTACT, _PRIVATE_WECHAT)
_SCHEMA = CustomFieldSchema(
    (
        FieldDef(name="wechat_id", type=FieldType.TEXT, classification=Classification.SENSITIVE),
        FieldDef(name="budget", type=FieldType.INTEGER),
    )
)


def _sensitive(id: str = "c-1", *, at: pendulum.DateTime = _AT) -> tuple[Customer, DomainEvent]:
    customer, registered = register_customer(
        id=CustomerId(id),
        person=Person(
            name=PersonName.parse("李娜"),
            gender=Gender.FEMALE,
            birth_date=dt.date(1949, 12, 31),
            national_id=_PRIVATE_ID,
        ),
        emails=[EmailAddress("li.na@example.com")],
        phones=[PhoneNumber.parse("+8613800138000")],
        owner=UserId("u-ana"),
        at=at,
    )
    address = PostalAddress(
        country="CN", city="北京市", street=(_PRIVATE_STREET,), postcode="100000"
    )
    sensitive = attrs.evolve(
        customer,
        credit_rating=CreditRating.AA,
        points=customer.points.with_address(address),
        contacts=(
            Contact(
                id=ContactId("k-1"),
                name=PersonName(given="Quixbert", family="Marsh"),
                points=ContactPoints(
                    emails=(EmailContact(address=EmailAddress(_PRIVATE_CONTACT)),)
                ),
            ),
        ),
        custom=CustomFields({"wechat_id": _PRIVATE_WECHAT, "budget": 5000}),
    )
    return sensitive, registered


def _sensitive_customer(id: str = "c-1", *, at: pendulum.DateTime = _AT) -> Customer:
    return _sensitive(id, at=at)[0]


def _check_sealed(document: dict[str, Any], custom: frozenset[str]) -> None:
    """Assert that a stored customer document shows no sensitive value in plain."""
    person = document.get("person")
    if person is not None:
        assert (person["gender"], person["birth_date"], person["national_id"]) == (None, None, "")
    assert document["credit_rating"] is None
    assert document["points"]["addresses"] == []
    for contact in document["contacts"]:
        assert contact["points"] == {"emails": [], "phones": [], "addresses": []}
    assert not custom & set(document["custom"])


class EncryptedStoreContract:
    """Sensitive fields at rest: sealed in storage, transparent to every read.

    Provide an ``encrypted_store_factory`` fixture (:data:`EncryptedStoreFactory`).
    """

    @pytest.fixture
    def encrypted_store_factory(self) -> EncryptedStoreFactory:
        """Provide a factory of fresh encrypting stores (override in your subclass)."""
        pytest.skip("provide an encrypted_store_factory fixture in your subclass")

    def test_every_read_returns_the_saved_customer(
        self, encrypted_store_factory: EncryptedStoreFactory
    ) -> None:
        setup = encrypted_store_factory(_SCHEMA)
        with setup.store.unit_of_work() as uow:
            stored = uow.customers.save(_sensitive_customer())
            uow.commit()
        with setup.store.unit_of_work() as uow:
            assert uow.customers.get(CustomerId("c-1")) == stored
            assert list(uow.customers.iter_all()) == [stored]
            assert uow.customers.find_by_email(EmailAddress("li.na@example.com")) == [stored]
            assert uow.customers.find_by_phone(PhoneNumber.parse("+8613800138000")) == [stored]
            assert uow.customers.find_by_owner(UserId("u-ana")) == [stored]
            assert uow.customers.find_updated_since(_AT) == [stored]
            assert stored.person is not None
            assert stored.person.national_id == _PRIVATE_ID

    def test_the_stored_rows_hold_no_sensitive_value_in_plain(
        self, encrypted_store_factory: EncryptedStoreFactory
    ) -> None:
        setup = encrypted_store_factory(_SCHEMA)
        customer, registered = _sensitive()
        with setup.store.unit_of_work() as uow:
            uow.customers.save(customer)
            uow.collect(registered)
            uow.commit()
        raw = setup.raw()
        assert "li.na@example.com" in raw  # the rows were read: emails stay searchable
        for private in (
            _PRIVATE_ID,
            _PRIVATE_STREET,
            _PRIVATE_CONTACT,
            _PRIVATE_WECHAT,
            "1949-12-31",
        ):
            assert private not in raw, f"{private!r} is stored in plain"
        _check_sealed(setup.raw_documents()["c-1"], frozenset({"wechat_id"}))

    def test_a_ciphertext_copied_to_another_customer_does_not_decrypt(
        self, encrypted_store_factory: EncryptedStoreFactory
    ) -> None:
        setup = encrypted_store_factory(None)
        with setup.store.unit_of_work() as uow:
            uow.customers.save_many([_sensitive_customer("c-1"), _sensitive_customer("c-2")])
            uow.commit()
        documents = setup.raw_documents()
        forged = dict(documents["c-2"], sealed=documents["c-1"]["sealed"])
        setup.corrupt("c-2", forged)
        with setup.store.unit_of_work() as uow:
            with pytest.raises(DecryptionError) as caught:
                uow.customers.get(CustomerId("c-2"))
            assert caught.value.subject == "c-2"
            assert not isinstance(caught.value, ErasedError)
            assert uow.customers.get(CustomerId("c-1")).person == _sensitive_customer().person

    def test_a_shredded_customer_loads_with_the_encrypted_fields_blank(
        self, encrypted_store_factory: EncryptedStoreFactory
    ) -> None:
        setup = encrypted_store_factory(_SCHEMA)
        with setup.store.unit_of_work() as uow:
            uow.customers.save_many([_sensitive_customer("c-1"), _sensitive_customer("c-2")])
            uow.commit()
        assert setup.keys.delete("c-1")
        with setup.store.unit_of_work() as uow:
            shredded = uow.customers.get(CustomerId("c-1"))
            assert shredded.person is not None
            assert shredded.person.name == PersonName.parse("李娜")  # public: kept
            assert (shredded.person.gender, shredded.person.birth_date) == (None, None)
            assert shredded.person.national_id == ""
            assert shredded.credit_rating is None
            assert shredded.points.addresses == ()
            assert [str(e.address) for e in shredded.points.emails] == ["li.na@example.com"]
            assert shredded.contacts[0].points == ContactPoints()
            assert shredded.custom.to_dict() == {"budget": 5000}
            assert [c.id for c in uow.customers.iter_all()] == ["c-1", "c-2"]
            assert uow.customers.get(CustomerId("c-2")).person == _sensitive_customer().person
            erased = export_subject(uow, CustomerId("c-1"), at=_AT.add(days=1))["erased_fields"]
            assert isinstance(erased, dict)
            assert list(erased) == ["c-1"]
            assert isinstance(erased["c-1"], list)
            assert {"person.national_id", "custom.wechat_id"} <= set(map(str, erased["c-1"]))
            assert export_subject(uow, CustomerId("c-2"), at=_AT)["erased_fields"] == {}

    def test_a_shredded_customer_can_be_saved_again(
        self, encrypted_store_factory: EncryptedStoreFactory
    ) -> None:
        setup = encrypted_store_factory(None)
        with setup.store.unit_of_work() as uow:
            uow.customers.save(_sensitive_customer())
            uow.commit()
        setup.keys.delete("c-1")
        with setup.store.unit_of_work() as uow:
            blank = uow.customers.get(CustomerId("c-1"))
            saved = uow.customers.save(attrs.evolve(blank, credit_rating=CreditRating.B))
            uow.commit()
        with setup.store.unit_of_work() as uow:
            assert uow.customers.get(CustomerId("c-1")) == saved  # under a new key

    def test_a_rule_on_an_encrypted_custom_field_is_refused_naming_it(
        self, encrypted_store_factory: EncryptedStoreFactory
    ) -> None:
        setup = encrypted_store_factory(_SCHEMA)
        with setup.store.unit_of_work() as uow:
            uow.customers.save(_sensitive_customer())
            uow.commit()
        with setup.store.unit_of_work() as uow:
            with pytest.raises(UnsupportedRuleError, match="wechat_id"):
                uow.customers.select(
                    CustomCompare("wechat_id", FieldType.TEXT, Op.EQ, _PRIVATE_WECHAT), at=_AT
                )
            budget = CustomCompare("budget", FieldType.INTEGER, Op.GE, 1000)
            assert uow.customers.select(budget, at=_AT) == ["c-1"]
            assert uow.customers.select(Compare("owner", Op.EQ, "u-ana"), at=_AT) == ["c-1"]

    def test_merge_snapshots_are_sealed_and_read_back(
        self, encrypted_store_factory: EncryptedStoreFactory
    ) -> None:
        setup = encrypted_store_factory(_SCHEMA)
        with setup.store.unit_of_work() as uow:
            uow.customers.save_many(
                [_sensitive_customer("c-1"), _sensitive_customer("c-2", at=_AT.add(hours=1))]
            )
            uow.commit()
        result = merge_customers(
            setup.store.unit_of_work(),
            [CustomerId("c-1"), CustomerId("c-2")],
            clock=FixedClock(_AT.add(days=1)),
            survivor_id=CustomerId("c-1"),
            merge_id=MergeId("m-1"),
        )
        raw = setup.raw()
        for private in _PRIVATE:
            assert private not in raw, f"{private!r} is stored in plain"
        with setup.store.unit_of_work() as uow:
            [record] = uow.merges.find_by_customer(CustomerId("c-2"))
            assert record == result.record
            assert [c.person for c in record.originals] == [_sensitive_customer().person] * 2

    def test_a_store_without_the_encryptor_refuses_sealed_rows(
        self, encrypted_store_factory: EncryptedStoreFactory
    ) -> None:
        setup = encrypted_store_factory(None)
        with setup.store.unit_of_work() as uow:
            uow.customers.save(_sensitive_customer())
            uow.commit()
        with setup.plain().unit_of_work() as uow, pytest.raises(ConfigurationError, match="c-1"):
            uow.customers.get(CustomerId("c-1"))

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.differing_executors,  # one contract class per backend
        ],
    )
    @given(items=st.lists(cst.customers(), min_size=1, max_size=4, unique_by=lambda c: c.id))
    def test_random_customers_round_trip_sealed(
        self, encrypted_store_factory: EncryptedStoreFactory, items: list[Customer]
    ) -> None:
        setup = encrypted_store_factory(_SCHEMA)
        fresh = [attrs.evolve(c, version=0) for c in items]
        with setup.store.unit_of_work() as uow:
            stored = uow.customers.save_many(fresh)
            uow.commit()
        with setup.store.unit_of_work() as uow:
            assert sorted(uow.customers.iter_all(), key=lambda c: c.id) == sorted(
                stored, key=lambda c: c.id
            )
        documents = setup.raw_documents()
        raw = setup.raw()
        for customer in stored:
            _check_sealed(documents[customer.id], frozenset({"wechat_id"}))
            if customer.person is not None and customer.person.national_id:
                assert customer.person.national_id not in raw


# -- time rules answered by the store ------------------------------------------------

_RULES_T0 = pendulum.datetime(2026, 3, 2, 1)  # a Monday, 09:00 in Shanghai
_HOURS = st.integers(0, 400)
_LATER = st.one_of(st.none(), st.integers(0, 120))


@attrs.frozen
class _EveryOrder:
    """A host's own time rule (not queryable): an action per order at ``ordered_at``."""

    def due(self, snapshot: RuleSnapshot, at: pendulum.DateTime) -> list[DueAction]:
        return [
            DueAction(
                id=f"host:order:{o.id}",
                kind=ActionKind.ARCHIVE_RECORD,
                rule="host",
                subject="order",
                subject_id=o.id,
                recipient=None,
                customer_id=o.customer_id,
                due_at=o.ordered_at,
                reason="host rule",
            )
            for o in snapshot.orders
            if o.ordered_at <= at
        ]


_TIERS = tuple(Tier)


def _strict_policy() -> SlaPolicy:
    """Per-tier targets and no tier-less one for LOW (its cases raise ConfigurationError)."""
    hour = dt.timedelta(hours=1)
    return SlaPolicy(
        name="strict",
        targets=(
            SlaTarget(severity=Severity.CRITICAL, first_response=hour, resolution=4 * hour),
            SlaTarget(
                severity=Severity.CRITICAL,
                tier=_TIERS[0],
                first_response=hour / 2,
                resolution=2 * hour,
            ),
            SlaTarget(severity=Severity.HIGH, first_response=2 * hour, resolution=8 * hour),
            SlaTarget(severity=Severity.MEDIUM, first_response=8 * hour, resolution=30 * hour),
            SlaTarget(
                severity=Severity.LOW, tier=_TIERS[1], first_response=hour, resolution=9 * hour
            ),
        ),
        at_risk_ratio="0.5",
    )


def _retention_rules() -> st.SearchStrategy[RetentionRule]:
    def rule(kind: str) -> st.SearchStrategy[RetentionRule]:
        fields = sorted(
            f.name for f in attrs.fields(RETENTION_RECORDS[kind][0]) if f.name.endswith("_at")
        )
        return st.builds(
            RetentionRule,
            record_type=st.just(kind),
            time_field=st.sampled_from(fields),
            period=st.integers(1, 600).map(lambda h: dt.timedelta(hours=h)),
            action=st.sampled_from(list(RetentionAction)),
        )

    return st.sampled_from(sorted(RETENTION_RECORDS)).flatmap(rule)


def _time_rules() -> st.SearchStrategy[list[Any]]:
    days = st.integers(1, 12)
    one = st.one_of(
        st.builds(FollowUpOverdue, days=days, customers=st.booleans(), opportunities=st.booleans()),
        st.builds(
            LeadIdle,
            days=days,
            statuses=st.lists(st.sampled_from(list(LeadStatus)), max_size=4, unique=True).map(
                tuple
            ),
        ),
        st.builds(
            SlaEscalation,
            policy=st.sampled_from([DEFAULT_SLA_POLICY, _strict_policy()]),
            calendar=st.sampled_from(
                [
                    weekday_calendar("Asia/Shanghai", hours=("09:00-12:00", "13:00-18:00")),
                    always_open(),
                ]
            ),
            at_risk=st.booleans(),
            escalation_queue=st.sampled_from([None, UserId("q-1")]),
        ),
        st.builds(
            SurveyAfterClose,
            delay=st.integers(0, 72).map(lambda h: dt.timedelta(hours=h)),
            expires_after=st.integers(1, 400).map(lambda h: dt.timedelta(hours=h)),
        ),
        _retention_rules(),
        st.just(_EveryOrder()),
    )
    return st.lists(one, min_size=1, max_size=4)


@st.composite
def _rule_world(draw: st.DrawFn) -> list[list[Any]]:
    """Random customers, opportunities, leads, cases, responses, activities and orders."""
    at = _RULES_T0.add
    people = draw(st.integers(1, 4))
    customers = []
    for n in range(people):
        owned, merged, created, tier = draw(
            st.tuples(st.booleans(), st.booleans(), _HOURS, st.sampled_from(list(Tier)))
        )
        customer, _ = register_customer(
            id=CustomerId(f"c-{n}"),
            organization=Organization(legal_name=f"公司{n}"),
            owner=UserId(f"u-{n % 2}") if owned else None,
            at=at(hours=created),
        )
        merged_into = CustomerId("c-0") if merged and n else None
        customers.append(attrs.evolve(customer, tier=tier, merged_into=merged_into))
    deals = []
    for k in range(draw(st.integers(0, 4))):
        c, owned, stage, created = draw(
            st.tuples(
                st.integers(0, people - 1),
                st.booleans(),
                st.sampled_from(list(OpportunityStage)),
                _HOURS,
            )
        )
        deal, _ = open_opportunity(
            id=OpportunityId(f"o-{k}"),
            customer_id=CustomerId(f"c-{c}"),
            title="deal",
            amount=Money("100", "CNY"),
            owner=UserId("u-1") if owned else None,
            at=at(hours=created),
        )
        closed = deal.created_at.add(hours=5) if stage in _CLOSED_STAGES else None
        deals.append(attrs.evolve(deal, stage=stage, closed_at=closed))
    leads = []
    for n in range(draw(st.integers(0, 4))):
        status, created, later, owned = draw(
            st.tuples(st.sampled_from(list(LeadStatus)), _HOURS, _LATER, st.booleans())
        )
        lead, _ = capture_lead(
            id=LeadId(f"l-{n}"),
            company=f"公司{n}",
            owner=UserId("u-1") if owned else None,
            at=at(hours=created),
        )
        updated = lead.created_at.add(hours=later or 0)
        leads.append(attrs.evolve(lead, status=status, updated_at=updated))
    cases = []
    for n in range(draw(st.integers(0, 5))):
        c, severity, state, who, opened = draw(
            st.tuples(
                st.integers(0, people),  # == people: a customer not stored
                st.sampled_from(list(Severity)),
                st.sampled_from(list(CaseStatus)),
                st.sampled_from(["owner", "team", "none"]),
                _HOURS,
            )
        )
        answered, resolved, done = draw(st.tuples(_LATER, _LATER, _LATER))
        waits = draw(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 40)), max_size=2))
        open_wait = draw(st.booleans())
        case, _ = open_case(
            id=CaseId(f"k-{n}"),
            customer_id=CustomerId(f"c-{c}"),
            kind=CaseKind.COMPLAINT,
            subject="投诉",
            severity=severity,
            owner=UserId("u-0") if who == "owner" else None,
            team=TeamId("t-1") if who == "team" else None,
            at=at(hours=opened),
        )
        start, periods = case.opened_at, []
        for gap, length in waits:
            begin = start.add(hours=gap)
            start = begin.add(hours=length)
            periods.append(WaitingPeriod(start=begin, end=start))
        if periods and open_wait:
            periods[-1] = WaitingPeriod(start=periods[-1].start)

        def after(hours: int | None, base: pendulum.DateTime = case.opened_at) -> Any:
            return None if hours is None else base.add(hours=hours)

        cases.append(
            attrs.evolve(
                case,
                status=state,
                first_response_at=after(answered),
                resolved_at=after(resolved),
                closed_at=after(done),
                waiting=tuple(periods),
            )
        )
    responses = []
    for n in range(draw(st.integers(0, 3))):
        k, hours = draw(st.tuples(st.integers(-1, 4), _HOURS))
        responses.append(
            record_survey_response(
                id=SurveyResponseId(f"s-{n}"),
                customer_id=CustomerId("c-0"),
                case_id=CaseId(f"k-{k}") if k >= 0 else None,
                csat=5,
                at=at(hours=hours),
            )[0]
        )
    logged = []
    for n in range(draw(st.integers(0, 12))):
        link = st.integers(-1, 3)
        c, o, ld, hours = draw(st.tuples(link, link, link, st.integers(0, 900)))
        if c < 0 and o < 0 and ld < 0:
            continue
        logged.append(
            log_activity(
                id=ActivityId(f"a-{n}"),
                kind=ActivityKind.CALL,
                at=at(hours=hours),
                customer_id=CustomerId(f"c-{c}") if c >= 0 else None,
                opportunity_id=OpportunityId(f"o-{o}") if o >= 0 else None,
                lead_id=LeadId(f"l-{ld}") if ld >= 0 else None,
            )[0]
        )
    bought = [
        record_order(
            id=OrderId(f"r-{n}"),
            customer_id=CustomerId("c-0"),
            amount=Money("10", "CNY"),
            ordered_at=at(hours=hours),
            at=at(hours=hours),
        )[0]
        for n, hours in enumerate(draw(st.lists(_HOURS, max_size=3)))
    ]
    return [customers, deals, leads, cases, responses, logged, bought]


_CLOSED_STAGES = (OpportunityStage.WON, OpportunityStage.LOST, OpportunityStage.AFTER_SALES)


def _everything(uow: UnitOfWork, supervisors: Any, team_leads: Any) -> RuleSnapshot:
    return RuleSnapshot(
        customers=uow.customers.iter_all(),
        opportunities=uow.opportunities.iter_all(),
        leads=uow.leads.iter_all(),
        cases=uow.cases.iter_all(),
        activities=uow.activities.iter_all(),
        survey_responses=uow.survey_responses.iter_all(),
        orders=uow.orders.iter_all(),
        supervisors=supervisors,
        team_leads=team_leads,
    )


class TimeRulesContract:
    """Time rules answered by the store (:class:`~crmcore.ports.TimeRuleQueries`).

    Random records and random rules of every kind (the four built-in ones, retention
    rules on every record type and time field, a host's own rule): ``uow.time_rules``
    gives exactly what :func:`~crmcore.lifecycle.rules.due_actions` gives over every
    stored record. Subclass it with the ``store_factory`` fixture of :class:`StoreContract`.
    """

    @settings(
        max_examples=50,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
            HealthCheck.too_slow,
        ],
    )
    @given(
        world=_rule_world(),
        rules=_time_rules(),
        hours=st.integers(100, 900),
        skip=st.booleans(),
        edge=st.tuples(st.integers(0, 20), st.sampled_from([0, 0, -1, 1])),
    )
    def test_the_store_gives_what_due_actions_gives_over_everything(  # noqa: PLR0917
        self,
        store_factory: StoreFactory,
        world: list[list[Any]],
        rules: list[Any],
        hours: int,
        skip: bool,
        edge: tuple[int, int],
    ) -> None:
        store = store_factory(None)
        customers, deals, leads, cases, responses, logged, bought = world
        with store.unit_of_work() as uow:
            uow.customers.save_many(customers)
            uow.opportunities.save_many(deals)
            uow.leads.save_many(leads)
            uow.cases.save_many(cases)
            uow.survey_responses.save_many(responses)
            uow.activities.save_many(logged)
            uow.orders.save_many(bought)
            uow.commit()
        at = _RULES_T0.add(hours=hours)
        supervisors = {UserId("u-1"): UserId("u-boss")}
        team_leads = {TeamId("t-1"): UserId("u-lead")}
        with store.unit_of_work() as uow:
            everything = _everything(uow, supervisors, team_leads)
        pick, nudge = edge
        if pick % 4:  # mostly: at, just before or just after an instant something falls due
            with contextlib.suppress(ConfigurationError):
                late = due_actions(everything, at=_RULES_T0.add(hours=1500), rules=rules)
                if late:
                    at = late[pick % len(late)].due_at.add(microseconds=nudge)
        try:
            expected: tuple[DueAction, ...] | None = due_actions(everything, at=at, rules=rules)
        except ConfigurationError:
            expected = None
        # Half the time, every other due action counts as issued already.
        issued = frozenset(a.id for a in (expected or ())[::2] if skip)
        if expected is not None and issued:
            expected = due_actions(attrs.evolve(everything, issued=issued), at=at, rules=rules)
        with store.unit_of_work() as uow:
            if expected is None:
                with pytest.raises(ConfigurationError):
                    uow.time_rules.due(rules, at=at, supervisors=supervisors, team_leads=team_leads)
                return
            found = uow.time_rules.due(
                rules,
                at=at,
                supervisors=supervisors,
                team_leads=team_leads,
                issued=issued,
            )
        assert found == expected

    # One store per backend for every example of the test below (each example uses ids of
    # its own): building a store costs more than an example.
    _shared_stores: ClassVar[weakref.WeakKeyDictionary[Any, Store]] = weakref.WeakKeyDictionary()
    _runs: ClassVar[Iterator[int]] = itertools.count()

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
            HealthCheck.too_slow,
        ],
    )
    @given(
        customers_first=st.booleans(),
        steps=st.lists(
            st.tuples(
                st.sampled_from(["log", "log", "edit", "edit", "delete", "move"]),
                st.integers(0, 2),
                st.integers(-1, 2),
                st.integers(-1, 1),
                st.sampled_from([0, 100, 200, 300, 400, 500]),
            ),
            max_size=12,
        ),
        merge=st.sampled_from(["none", "merge", "merge and unmerge"]),
    )
    # A customer's latest touch taken away: an activity edited onto another customer,
    # moved off its deal, deleted, or its deal moved to another customer.
    @example(
        customers_first=True, steps=[("log", 0, 2, -1, 300), ("edit", 0, 1, -1, 100)], merge="none"
    )
    @example(
        customers_first=True, steps=[("log", 0, -1, 0, 300), ("edit", 0, 1, -1, 300)], merge="none"
    )
    @example(
        customers_first=True, steps=[("log", 0, -1, 0, 300), ("delete", 0, 0, 0, 0)], merge="none"
    )
    @example(
        customers_first=True, steps=[("log", 0, -1, 0, 300), ("move", 0, 2, -1, 0)], merge="none"
    )
    def test_follow_ups_stay_right_through_every_write(
        self,
        store_factory: StoreFactory,
        customers_first: bool,
        steps: list[tuple[str, int, int, int, int]],
        merge: str,
    ) -> None:
        """The store's follow-ups stay those of ``due_actions`` through every kind of write.

        Activities logged, edited, moved and deleted, deals moved, customers stored
        before or after their activities, merged and unmerged; checked at instants all
        along the way.
        """
        store = self._shared_stores.get(store_factory)
        if store is None:
            store = self._shared_stores[store_factory] = store_factory(None)
        run = next(self._runs)

        def customer(n: int) -> CustomerId:
            return CustomerId(f"r{run}-c-{n}")

        def deal(n: int) -> OpportunityId:
            return OpportunityId(f"r{run}-o-{n}")

        people = [
            register_customer(
                id=customer(n),
                organization=Organization(legal_name=f"公司{n}"),
                owner=UserId("u-1"),
                at=_RULES_T0.add(hours=40 * n),
            )[0]
            for n in range(3)
        ]
        deals = {
            deal(n): open_opportunity(
                id=deal(n),
                customer_id=customer(n),
                title="deal",
                amount=Money("100", "CNY"),
                owner=UserId("u-1"),
                at=_RULES_T0,
            )[0]
            for n in range(2)
        }
        logged: dict[str, Any] = {}
        with store.unit_of_work() as uow:
            if customers_first:
                uow.customers.save_many(people)
            deals = {o.id: o for o in uow.opportunities.save_many(deals.values())}
            for action, which, c, o, hours in steps:
                activity = logged.get(f"r{run}-a-{which}")
                customer_id = customer(c) if c >= 0 else None
                deal_id = deal(o) if o >= 0 else None
                when = _RULES_T0.add(hours=hours)
                if action == "move" and customer_id is not None:
                    moved = deals[deal(which % 2)]
                    moved = uow.opportunities.save(attrs.evolve(moved, customer_id=customer_id))
                    deals[moved.id] = moved
                elif action == "delete" and activity is not None:
                    uow.activities.delete(activity)
                    del logged[activity.id]
                elif customer_id is None and deal_id is None:
                    continue
                elif action == "edit" and activity is not None:
                    changed = attrs.evolve(
                        activity, customer_id=customer_id, opportunity_id=deal_id, occurred_at=when
                    )
                    logged[activity.id] = uow.activities.save(changed)
                elif action == "log" and activity is None:
                    new, _ = log_activity(
                        id=ActivityId(f"r{run}-a-{which}"),
                        kind=ActivityKind.CALL,
                        at=when,
                        customer_id=customer_id,
                        opportunity_id=deal_id,
                    )
                    logged[new.id] = uow.activities.save(new)
            if not customers_first:
                uow.customers.save_many(people)
            uow.commit()
        if merge != "none":
            clock = FixedClock(_RULES_T0.add(hours=600))
            merge_customers(
                store.unit_of_work(),
                [customer(0), customer(1)],
                clock=clock,
                survivor_id=customer(0),
                merge_id=MergeId(f"r{run}-m"),
            )
            if merge == "merge and unmerge":
                unmerge_customers(store.unit_of_work(), MergeId(f"r{run}-m"), clock=clock)
        rule = FollowUpOverdue(days=3)
        mine = f"r{run}-"
        with store.unit_of_work() as uow:
            stored = _everything(uow, {}, {})
            everything = RuleSnapshot(  # this example's records: the others' cannot count
                customers=[c for c in stored.customers if c.id.startswith(mine)],
                opportunities=[o for o in stored.opportunities if o.id.startswith(mine)],
                activities=[a for a in stored.activities if a.id.startswith(mine)],
            )
            for hours in range(50, 650, 100):  # each window holds one of the instants used
                at = _RULES_T0.add(hours=hours)
                expected = due_actions(everything, at=at, rules=[rule])
                found = uow.time_rules.overdue_follow_ups(rule, at=at)
                assert tuple(a for a in found if a.subject_id.startswith(mine)) == expected

    def test_each_rule_kind_has_its_own_method(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        customer, _ = register_customer(
            id=CustomerId("c-1"),
            organization=Organization(legal_name="腾达科技"),
            owner=UserId("u-1"),
            at=_RULES_T0,
        )
        lead, _ = capture_lead(id=LeadId("l-1"), company="腾达", owner=UserId("u-1"), at=_RULES_T0)
        case, _ = open_case(
            id=CaseId("k-1"),
            customer_id=CustomerId("c-1"),
            kind=CaseKind.COMPLAINT,
            subject="投诉",
            severity=Severity.CRITICAL,
            owner=UserId("u-1"),
            at=_RULES_T0,
        )
        closed = attrs.evolve(
            case, id=CaseId("k-2"), status=CaseStatus.CLOSED, closed_at=_RULES_T0.add(hours=1)
        )
        with store.unit_of_work() as uow:
            uow.customers.save(customer)
            uow.leads.save(lead)
            uow.cases.save_many([case, closed])
            uow.commit()
        at = _RULES_T0.add(days=20)
        boss = {UserId("u-1"): UserId("u-boss")}
        with store.unit_of_work() as uow:
            rules = uow.time_rules
            follow = rules.overdue_follow_ups(FollowUpOverdue(), at=at, supervisors=boss)
            idle = rules.idle_leads(LeadIdle(), at=at, supervisors=boss)
            sla = rules.sla_escalations(SlaEscalation(), at=at, supervisors=boss)
            survey = rules.surveys_after_close(SurveyAfterClose(), at=at)
            with pytest.raises(InvalidValueError, match="rule"):
                rules.idle_leads(FollowUpOverdue(), at=at)  # type: ignore[arg-type]
            with pytest.raises(InvalidValueError, match="rule"):
                rules.due(["not a rule"], at=at)  # type: ignore[list-item]
        assert [(a.rule, a.subject_id, a.recipient) for a in follow] == [
            ("follow_up_overdue", "c-1", "u-boss")
        ]
        assert [(a.rule, a.subject_id) for a in idle] == [("lead_idle", "l-1")]
        assert sorted(a.id for a in sla) == [
            "sla-breached:case:k-1:first_response",
            "sla-breached:case:k-1:resolution",
        ]
        assert [a.subject_id for a in survey] == ["k-2"]

    def test_records_due_exactly_at_the_instant_are_found(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        customer, _ = register_customer(
            id=CustomerId("c-1"),
            organization=Organization(legal_name="腾达科技"),
            owner=UserId("u-1"),
            at=_RULES_T0,
        )
        lead, _ = capture_lead(id=LeadId("l-1"), company="腾达", owner=UserId("u-1"), at=_RULES_T0)
        case, _ = open_case(
            id=CaseId("k-1"),
            customer_id=CustomerId("c-1"),
            kind=CaseKind.COMPLAINT,
            subject="投诉",
            at=_RULES_T0.subtract(hours=1),
        )
        case = attrs.evolve(
            case,
            status=CaseStatus.CLOSED,
            first_response_at=_RULES_T0,
            resolved_at=_RULES_T0,
            closed_at=_RULES_T0,
        )
        with store.unit_of_work() as uow:
            uow.customers.save(customer)
            uow.leads.save(lead)
            uow.cases.save(case)
            uow.commit()
        day = dt.timedelta(days=1)
        rules: list[Any] = [
            FollowUpOverdue(days=1),
            LeadIdle(days=1),
            SurveyAfterClose(delay=day, expires_after=day),
            RetentionRule(
                record_type="customer", time_field="created_at", period=day, action="archive"
            ),
        ]
        for at in (_RULES_T0 + day, _RULES_T0 + day - dt.timedelta(microseconds=1)):
            with store.unit_of_work() as uow:
                expected = due_actions(_everything(uow, {}, {}), at=at, rules=rules)
                found = uow.time_rules.due(rules, at=at)
            assert found == expected
        assert len(expected) == 0
        assert sorted(a.rule.split(":")[0] for a in found) == []
        with store.unit_of_work() as uow:
            exact = uow.time_rules.due(rules, at=_RULES_T0 + day)
        assert sorted(a.rule.split(":")[0] for a in exact) == [
            "follow_up_overdue",
            "lead_idle",
            "retention",
            "survey_after_close",
        ]

    def test_sla_cases_near_the_bounds_are_found(self, store_factory: StoreFactory) -> None:
        store = store_factory(None)
        budget = DEFAULT_SLA_POLICY.target_for(Severity.CRITICAL).first_response
        at = _RULES_T0.add(days=30)
        ratio = DEFAULT_SLA_POLICY.at_risk_ratio
        risky, _ = open_case(
            id=CaseId("k-risk"),
            customer_id=CustomerId("c-1"),
            kind=CaseKind.COMPLAINT,
            subject="投诉",
            severity=Severity.CRITICAL,
            at=at - budget * float(ratio),  # exactly three quarters used at `at`
        )
        late, _ = open_case(
            id=CaseId("k-late"),
            customer_id=CustomerId("c-1"),
            kind=CaseKind.COMPLAINT,
            subject="投诉",
            severity=Severity.CRITICAL,
            at=at.subtract(minutes=1),
        )
        late = attrs.evolve(late, first_response_at=at.add(hours=5))  # recorded after `at`
        with store.unit_of_work() as uow:
            uow.cases.save_many([risky, late])
            uow.commit()
        rule = SlaEscalation(calendar=always_open())
        with store.unit_of_work() as uow:
            expected = due_actions(_everything(uow, {}, {}), at=at, rules=[rule])
            found = uow.time_rules.sla_escalations(rule, at=at)
        assert sorted(a.id for a in expected) == [
            "sla-at_risk:case:k-risk:first_response",
            "sla-breached:case:k-late:first_response",
        ]
        assert found == expected

    def test_issue_due_actions_asks_the_store_and_issues_once(
        self, store_factory: StoreFactory
    ) -> None:
        store = store_factory(None)
        customers = [
            register_customer(
                id=CustomerId(f"c-{n}"),
                organization=Organization(legal_name=f"公司{n}"),
                owner=UserId("u-1"),
                at=_RULES_T0,
            )[0]
            for n in range(3)
        ]
        with store.unit_of_work() as uow:
            uow.customers.save_many(customers)
            uow.commit()
        at = _RULES_T0.add(days=4)
        boss = {UserId("u-1"): UserId("u-boss")}
        first = issue_due_actions(
            store.unit_of_work(), at=at, rules=[FollowUpOverdue()], supervisors=boss
        )
        assert [(a.subject_id, a.recipient) for a in first] == [
            ("c-0", "u-boss"),
            ("c-1", "u-boss"),
            ("c-2", "u-boss"),
        ]
        assert issue_due_actions(store.unit_of_work(), at=at, rules=[FollowUpOverdue()]) == ()
        with pytest.raises(InvalidValueError, match="supervisors"):
            issue_due_actions(store.unit_of_work(), RuleSnapshot(), at=at, supervisors=boss)
