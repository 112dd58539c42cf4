"""Subject export and erasure on memory, SQLite, PostgreSQL and MariaDB.

After an erasure a full dump of the database (``pg_dump``, ``mysqldump``,
SQLite ``.dump`` through the ``sqlite3`` tool and ``iterdump``) holds none of
the subject's personal strings, the audit chain still verifies, ids and
order amounts survive; erasures resume after an interruption and replay
after a restore.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import pendulum
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from crmcore.adapters.memory import MemoryKeyStore, MemoryStore
from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql.tables import SUBJECT_TABLES, metadata
from crmcore.clock import FixedClock
from crmcore.domain import (
    ActivityId,
    ActivityKind,
    AddressContact,
    CaseId,
    CaseKind,
    ConsentChannel,
    ConsentId,
    Contact,
    ContactPoints,
    CustomerId,
    DomainEvent,
    EmailAddress,
    EmailContact,
    LeadId,
    MergeId,
    Money,
    OpportunityId,
    OrderId,
    Person,
    PersonName,
    PhoneNumber,
    PostalAddress,
    SurveyResponseId,
    UserId,
    capture_lead,
    complete_activity,
    grant_consent,
    log_activity,
    open_case,
    open_opportunity,
    record_order,
    record_survey_response,
    register_customer,
)
from crmcore.domain.ids import ContactId
from crmcore.ports import Store, UnitOfWork
from crmcore.privacy.audit import AuditAction, verify
from crmcore.privacy.consent import ConsentRecord, Jurisdiction
from crmcore.privacy.subject import ERASURE_STEPS, SUBJECT_SOURCES, json_value
from crmcore.services.auditing import record
from crmcore.services.merge import merge_customers
from crmcore.services.subject import erase_subject, export_subject, replay_erasures

AT = pendulum.datetime(2026, 3, 1, 9)
SUBJECT = CustomerId("c-subject")
TWIN = CustomerId("c-twin")
BYSTANDER = CustomerId("c-bystander")


@attrs.frozen
class Personal:
    """The personal strings of one test subject."""

    family: str = "司马"
    given: str = "琼英"
    latin: str = "Quixbert"
    email_local: str = "qiongying.sima"
    street: str = "Quixotic Lane 88"
    note: str = "prefers Zhuoyanrelli calls"
    national_id: str = "11010519491231002X"
    phone: str = "+86 138 0013 8000"

    @property
    def strings(self) -> list[str]:
        return [
            self.given,
            self.latin,
            self.email_local,
            self.street,
            self.note,
            self.national_id,
            "13800138000",
            f"{self.family}{self.given}",
        ]


def _points(p: Personal, domain: str) -> ContactPoints:
    return ContactPoints(
        emails=(EmailContact(address=EmailAddress(f"{p.email_local}@{domain}"), primary=True),),
        addresses=(
            AddressContact(
                address=PostalAddress(
                    country="CN", city="Beijing", street=(p.street,), postcode="100000"
                )
            ),
        ),
    )


def populate(store: Store, p: Personal) -> None:
    """Store a subject (and a duplicate merged into it), their records, and a bystander."""
    e: DomainEvent
    with store.unit_of_work() as uow:
        events: list[DomainEvent] = []
        subject, e = register_customer(
            id=SUBJECT,
            at=AT,
            person=Person(
                name=PersonName(family=p.family, given=p.given), national_id=p.national_id
            ),
            emails=[EmailAddress(f"{p.email_local}@example.org")],
            phones=[PhoneNumber.parse(p.phone)],
            owner=UserId("u-rep"),
        )
        events.append(e)
        subject = attrs.evolve(
            subject,
            points=attrs.evolve(subject.points, addresses=_points(p, "x.org").addresses),
            contacts=(
                Contact(
                    id=ContactId("k-1"),
                    name=PersonName(given=p.latin, family="Marsh"),
                    points=_points(p, "contact.example"),
                ),
            ),
        )
        twin, e = register_customer(
            id=TWIN,
            at=AT.add(minutes=1),
            person=Person(name=PersonName(family=p.family, given=p.given)),
            emails=[EmailAddress(f"{p.email_local}@example.net")],
        )
        events.append(e)
        bystander, e = register_customer(
            id=BYSTANDER,
            at=AT,
            person=Person(name=PersonName(given="Bystanderia", family="Keep")),
            emails=[EmailAddress("bystanderia@example.com")],
        )
        events.append(e)
        uow.customers.save_many([subject, twin, bystander])
        lead, e = capture_lead(
            id=LeadId("l-1"),
            at=AT,
            name=PersonName(family=p.family, given=p.given),
            emails=[EmailAddress(f"{p.email_local}@example.org")],
        )
        events.append(e)
        uow.leads.save(lead)
        opp, e = open_opportunity(
            id=OpportunityId("o-1"),
            customer_id=SUBJECT,
            title=f"Renewal for {p.latin}",
            amount=Money(Decimal("500"), "CNY"),
            at=AT,
        )
        events.append(e)
        uow.opportunities.save(opp)
        activity, e = log_activity(
            id=ActivityId("a-1"),
            kind=ActivityKind.CALL,
            at=AT,
            customer_id=SUBJECT,
            subject=f"Call {p.family}{p.given}",
            body=p.note,
        )
        events.append(e)
        activity, e = complete_activity(activity, outcome=f"{p.latin} agreed", at=AT.add(hours=1))
        events.append(e)
        uow.activities.save(activity)
        case, e = open_case(
            id=CaseId("k-1"),
            customer_id=TWIN,
            kind=CaseKind.COMPLAINT,
            subject=f"{p.latin} complains",
            description=f"lives at {p.street}",
            at=AT,
        )
        events.append(e)
        uow.cases.save(case)
        response, e = record_survey_response(
            id=SurveyResponseId("s-1"), customer_id=SUBJECT, at=AT, csat=4, comment=p.note
        )
        events.append(e)
        uow.survey_responses.save(response)
        for n, (who, amount) in enumerate([(SUBJECT, "120.50"), (TWIN, "80"), (BYSTANDER, "100")]):
            order, e = record_order(
                id=OrderId(f"or-{n}"),
                customer_id=who,
                amount=Money(Decimal(amount), "CNY"),
                ordered_at=AT,
                at=AT,
            )
            events.append(e)
            uow.orders.save(order)
        consent, e = grant_consent(
            id=ConsentId("g-1"),
            customer_id=SUBJECT,
            purpose="marketing",
            channel=ConsentChannel.EMAIL,
            source=f"form signed by {p.latin}",
            at=AT,
        )
        events.append(e)
        uow.consents.save(consent)
        uow.consent_ledger.append(
            ConsentRecord(
                id="cr-1",
                subject=SUBJECT,
                purpose="marketing",
                channel=ConsentChannel.EMAIL,
                jurisdiction=Jurisdiction.PIPL,
                captured_at=AT,
            )
        )
        record(
            uow,
            actor="u-rep",
            action=AuditAction.READ,
            record=subject,
            at=AT,
            payload={"email": f"{p.email_local}@example.org", "name": p.given},
        )
        record(
            uow,
            actor="u-rep",
            action=AuditAction.READ,
            record=bystander,
            at=AT,
            payload={"email": "bystanderia@example.com"},
        )
        uow.collect(*events)
        uow.commit()
    merge_customers(
        store.unit_of_work(),
        [SUBJECT, TWIN],
        clock=FixedClock(AT.add(days=1)),
        survivor_id=SUBJECT,
        merge_id=MergeId("m-1"),
        audit=True,
    )


def _forms(text: str) -> set[str]:
    """``text`` as a dump may show it: raw, JSON-escaped, SQL-quoted."""
    return {text, json.dumps(text)[1:-1], text.replace("'", "''")}


def leaked(dump: str, p: Personal) -> list[str]:
    return [s for s in p.strings if any(form in dump for form in _forms(s))]


def memory_dump(store: MemoryStore) -> str:
    return repr((store._tables, store._history, store._audit, store._audit_payloads, store._ledger))


def sqlite_dump(engine: Engine) -> str:
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        return "\n".join(driver.iterdump())
    finally:
        raw.close()


def tool(name: str) -> str:
    """The full path of a dump tool (.ci/run installs them)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: the dump test needs it (see .ci/run)")
    return path


def sql_dump(engine: Engine) -> str:
    """A full dump with the database's own tool (pg_dump, mysqldump, sqlite3 .dump)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        file = url.database
        assert file
        done = subprocess.run(  # noqa: S603 - a dump tool on the test database
            [tool("sqlite3"), file, ".dump"], capture_output=True, text=True, check=True, timeout=60
        )
        return done.stdout + sqlite_dump(engine)
    if url.get_backend_name() == "postgresql":
        schema = engine.get_execution_options()["schema_translate_map"][None]
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        done = subprocess.run(  # noqa: S603 - a dump tool on the test database
            [tool("pg_dump"), "--dbname", plain, "--schema", schema],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout
    command = [
        tool("mysqldump"),
        "--default-character-set=utf8mb4",
        "-h",
        url.host or "127.0.0.1",
        "-P",
        str(url.port or 3306),
        "-u",
        url.username or "root",
    ]
    if url.password:
        command.append(f"--password={url.password}")
    done = subprocess.run(  # noqa: S603 - a dump tool on the test database
        [*command, str(url.database)], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def totals(uow: UnitOfWork) -> tuple[int, Decimal, list[str]]:
    orders = list(uow.orders.iter_all())
    return (
        uow.customers.count(),
        sum((o.amount.amount for o in orders), Decimal(0)),
        sorted(c.id for c in uow.customers.iter_all()),
    )


def check_erasure(store: Store, dump: str, p: Personal) -> None:
    assert leaked(dump, p) == []
    assert "bystanderia" in dump  # the dump did read the data
    with store.unit_of_work() as uow:
        assert verify(uow.audit.entries()).holds
        document = export_subject(uow, SUBJECT, at=AT.add(days=40))
        assert leaked(json.dumps(document, ensure_ascii=False), p) == []
        assert uow.customers.get(BYSTANDER).person is not None
        assert uow.customers.get(BYSTANDER).person.name.given == "Bystanderia"  # type: ignore[union-attr]


def run_scenario(store: Store, dump: Callable[[], str], p: Personal) -> None:
    populate(store, p)
    assert leaked(dump(), p) != []  # the strings are there to begin with
    with store.unit_of_work() as uow:
        before = totals(uow)
        document = export_subject(uow, SUBJECT, at=AT.add(days=2))
        assert set(document) >= {s.name for s in SUBJECT_SOURCES}
        assert document["customers"] == [SUBJECT, TWIN]
        assert p.email_local in json.dumps(document)
    request = erase_subject(
        store, SUBJECT, at=AT.add(days=30), by=UserId("u-dpo"), request_id="er-1"
    )
    assert request.done
    assert [s.name for s in request.steps] == list(ERASURE_STEPS)
    assert leaked(json.dumps(json_value(request), ensure_ascii=False), p) == []
    check_erasure(store, dump(), p)
    with store.unit_of_work() as uow:
        assert totals(uow) == before  # ids and amounts survive: KPIs do
        assert uow.audit.head() is not None
        assert uow.audit.head().action == "erase"  # type: ignore[union-attr]
    again = erase_subject(store, SUBJECT, at=AT.add(days=31))
    assert again == request  # idempotent: nothing ran twice


def test_memory_erasure_leaves_nothing() -> None:
    store = MemoryStore()
    run_scenario(store, lambda: memory_dump(store), Personal())


def test_sql_erasure_leaves_nothing_in_a_full_dump(sql_engine: Engine) -> None:
    store = SqlStore(sql_engine)
    run_scenario(store, lambda: sql_dump(sql_engine), Personal())


def test_every_table_is_a_subject_source_or_holds_nothing_personal() -> None:
    sources = {s.name for s in SUBJECT_SOURCES}
    assert set(SUBJECT_TABLES) == set(metadata.tables), "map every new table in SUBJECT_TABLES"
    assert {v for v in SUBJECT_TABLES.values() if v is not None} <= sources | {"erasures", "keys"}


def test_every_unit_of_work_repository_is_registered() -> None:
    store = MemoryStore()
    uow = store.unit_of_work()
    public = {n for n in vars(uow) if not n.startswith("_")}
    registered = {s.repository for s in SUBJECT_SOURCES}
    # the rest hold no subject's data or are the register itself (issued actions: rule names,
    # record ids and instants; time rules: queries over the repositories above, storing nothing)
    assert public - registered == {"erasures", "issued_actions", "time_rules"}, (
        "register the new repository in SUBJECT_SOURCES"
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_an_interrupted_erasure_resumes(backend: str, tmp_path: Path) -> None:
    if backend == "memory":
        store: Store = MemoryStore()
    else:
        engine = create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
        create_schema(engine)
        store = SqlStore(engine)
    populate(store, Personal())
    partial = erase_subject(store, SUBJECT, at=AT.add(days=30), stop_after="cases")
    assert not partial.done
    assert [s.name for s in partial.steps] == list(ERASURE_STEPS[:4])
    with store.unit_of_work() as uow:
        assert uow.customers.get(SUBJECT).points.emails  # not reached yet
        assert uow.cases.get(CaseId("k-1")).description == ""
    finished = erase_subject(store, SUBJECT, at=AT.add(days=31))
    assert finished.id == partial.id
    assert finished.done
    with store.unit_of_work() as uow:
        assert not uow.customers.get(SUBJECT).points.emails
        assert uow.erasures.find_by_subject(SUBJECT) == [finished]


def test_erasure_replays_after_a_backup_restore(tmp_path: Path) -> None:
    live, backup = tmp_path / "live.db", tmp_path / "backup.db"
    engine = create_engine(f"sqlite:///{live}")
    create_schema(engine)
    store = SqlStore(engine)
    populate(store, Personal())
    engine.dispose()
    shutil.copy(live, backup)  # the nightly backup, taken before the erasure
    erase_subject(store, SUBJECT, at=AT.add(days=30), request_id="er-1")
    with store.unit_of_work() as uow:
        register = list(uow.erasures.iter_all())  # kept apart from the backups
    engine.dispose()
    restored = create_engine(f"sqlite:///{backup}")
    assert leaked(sql_dump(restored), Personal()) != []
    replayed = replay_erasures(SqlStore(restored), register, at=AT.add(days=60))
    assert [r.id for r in replayed] == ["er-1"]
    assert replayed[0].done
    check_erasure(SqlStore(restored), sql_dump(restored), Personal())
    restored.dispose()


def test_erasure_shreds_the_subjects_keys() -> None:
    store, keys = MemoryStore(), MemoryKeyStore()
    populate(store, Personal())
    keys.get_or_create(SUBJECT, b"k" * 32)
    keys.get_or_create(BYSTANDER, b"b" * 32)
    request = erase_subject(store, SUBJECT, at=AT.add(days=30), keys=keys)
    assert request.steps[-1].name == "keys"
    assert request.steps[-1].changed == 1
    assert keys.get(SUBJECT) is None
    assert keys.get(BYSTANDER) is not None


_names = st.text(st.characters(categories=["Ll", "Lo"]), min_size=6, max_size=12).filter(
    lambda s: s.strip() == s and "erased" not in s and "bystanderia" not in s
)


@st.composite
def personals(draw: st.DrawFn) -> Personal:
    word = st.from_regex(r"[a-z]{8,12}", fullmatch=True)
    return Personal(
        given=draw(_names),
        latin=draw(word).capitalize() + "x",
        email_local=draw(word) + ".q",
        street=f"{draw(word)} street 9",
        note=f"note {draw(word)}",
    )


@pytest.fixture
def fresh_sqlite() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    create_schema(engine)
    yield engine
    engine.dispose()


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=personals())
def test_no_personal_string_survives_erasure_property(p: Personal) -> None:
    memory = MemoryStore()
    run_scenario(memory, lambda: memory_dump(memory), p)
    engine = create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    create_schema(engine)
    try:
        sql = SqlStore(engine)
        run_scenario(sql, lambda: sqlite_dump(engine), p)
    finally:
        engine.dispose()
