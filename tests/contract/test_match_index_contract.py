"""The persistent match index against the in-memory MatchIndex, on SQLite, PostgreSQL, MariaDB.

The reference is a :class:`~crmcore.matching.MatchIndex` (the memory
implementation) fed the same customers in the same order: every customer
not merged into another, re-added when its match record changes. After any
sequence of registrations, updates, merges, unmerges and erasures, both
must give the same candidates, scores and explanations for every query;
and the registration service's duplicate rules must decide the same.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from tests.contract.conftest import postgres_schema_url

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import (
    MatchIndexSettings,
    SqlStore,
    backfill_match_index,
    create_engine,
    create_schema,
)
from crmcore.adapters.sql.tables import (
    customers,
    match_counts,
    match_keys,
    match_records,
    metadata,
)
from crmcore.domain import (
    Customer,
    CustomerId,
    EmailAddress,
    Person,
    PersonName,
    PhoneNumber,
    register_customer,
)
from crmcore.errors import ConcurrencyError, ConfigurationError, DuplicateError, StorageError
from crmcore.matching import (
    DuplicateAction,
    DuplicatePolicy,
    MatchIndex,
    MatchRecord,
    block_on,
)
from crmcore.services.registration import register_customers

AT = pendulum.datetime(2026, 3, 1, 9, tz="UTC")
NAMES = ["张伟", "Zhang Wei", "王芳", "Wang Fang", "John Smith", "Jon Smith", "李娜", "Li Na"]
EMAILS = [f"{u}@example.com" for u in ("zw", "wf", "john", "lina", "shared")]
EMAILS += ["john.smith@gmail.com", "johnsmith+crm@gmail.com"]  # one key: folded dots and tag
PHONES = [f"+86 138 0013 800{d}" for d in range(5)]
SETTINGS = MatchIndexSettings()


@attrs.frozen
class Profile:
    name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]


profiles = st.builds(
    Profile,
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(EMAILS), max_size=3, unique=True).map(tuple),
    st.lists(st.sampled_from(PHONES), max_size=2, unique=True).map(tuple),
)


def customer(number: int, profile: Profile) -> Customer:
    made, _ = register_customer(
        id=CustomerId(f"c-{number:04d}"),
        person=Person(name=PersonName.parse(profile.name)),
        emails=[EmailAddress(e) for e in profile.emails],
        phones=[PhoneNumber.parse(p) for p in profile.phones],
        at=AT,
    )
    return made


def revised(current: Customer, profile: Profile) -> Customer:
    fresh = customer(0, profile)
    return attrs.evolve(fresh, id=current.id, version=current.version)


class Reference:
    """The in-memory index, fed as the store feeds its own."""

    def __init__(self) -> None:
        self.index: MatchIndex = SETTINGS.reference()
        self.records: dict[str, MatchRecord] = {}

    def saved(self, customers: list[Customer]) -> None:
        for c in customers:
            record = MatchRecord.from_customer(c)
            if c.merged_into is None:
                if self.records.get(c.id) != record:
                    self.index.add(record)
                    self.records[c.id] = record
            elif c.id in self.records:
                self.index.remove(c.id)
                del self.records[c.id]


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def _probes(stored: dict[str, Customer]) -> list[MatchRecord]:
    probes = [MatchRecord.from_customer(c) for c in stored.values()]
    probes += [
        MatchRecord(id="probe-1", full_name="Zhang Wei", phones=[PHONES[0]]),
        MatchRecord(id="probe-2", full_name="王芳", emails=[EMAILS[1], EMAILS[4]]),
        MatchRecord(id="probe-3", full_name="Jon Smith", emails=[EMAILS[2]], phones=[PHONES[3]]),
    ]
    return probes


def assert_same_answers(store: SqlStore, reference: Reference, probes: list[MatchRecord]) -> None:
    with store.unit_of_work() as uow:
        assert uow.match_index is not None
        assert len(uow.match_index) == len(reference.index)
        for probe in probes:
            expected = reference.index.candidates(probe, min_probability=0.0, limit=50)
            assert uow.match_index.candidates(probe, min_probability=0.0, limit=50) == expected
            assert (probe.id in uow.match_index) == (probe.id in reference.index)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("register"), st.lists(profiles, min_size=1, max_size=3)),
        st.tuples(st.just("update"), st.integers(0, 50), profiles),
        st.tuples(st.just("merge"), st.integers(0, 50), st.integers(0, 50)),
        st.tuples(st.just("unmerge"), st.integers(0, 50)),
        st.tuples(st.just("erase"), st.integers(0, 50)),
    ),
    min_size=1,
    max_size=12,
)


def run_operations(engine: Engine, steps: list[tuple[object, ...]]) -> None:
    _empty(engine)
    store = SqlStore(engine)
    reference = Reference()
    stored: dict[str, Customer] = {}
    number = 0
    for step in steps:
        kind = step[0]
        ids = sorted(stored)
        changed: list[Customer] = []
        if kind == "register":
            new = []
            for profile in step[1]:  # type: ignore[attr-defined]
                number += 1
                new.append(customer(number, profile))
            changed = new
        elif ids and kind == "update":
            target = stored[ids[int(step[1]) % len(ids)]]  # type: ignore[call-overload]
            changed = [revised(target, step[2])]  # type: ignore[arg-type]
        elif ids and kind == "merge":
            loser = stored[ids[int(step[1]) % len(ids)]]  # type: ignore[call-overload]
            survivor = ids[int(step[2]) % len(ids)]  # type: ignore[call-overload]
            if survivor != loser.id and loser.merged_into is None:
                changed = [attrs.evolve(loser, merged_into=CustomerId(survivor))]
        elif ids and kind == "unmerge":
            target = stored[ids[int(step[1]) % len(ids)]]  # type: ignore[call-overload]
            if target.merged_into is not None:
                changed = [attrs.evolve(target, merged_into=None)]
        elif ids and kind == "erase":
            target = stored[ids[int(step[1]) % len(ids)]]  # type: ignore[call-overload]
            changed = [revised(target, Profile("已删除", (), ()))]
        if changed:
            save(store, reference, stored, changed)
    assert_same_answers(store, reference, _probes(stored))


def save(
    store: SqlStore, reference: Reference, stored: dict[str, Customer], changed: list[Customer]
) -> None:
    """Save ``changed`` in one unit of work; feed the reference and ``stored`` what was saved."""
    with store.unit_of_work() as uow:
        saved = uow.customers.save_many(changed)
        uow.commit()
    reference.saved(saved)
    stored.update({c.id: c for c in saved})


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = {"sqlite": "sqlite_engine", "postgresql": "postgres_engine", "mariadb": "mysql_engine"}
    found: Engine = request.getfixturevalue(name[request.param])
    return found


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_the_stored_index_answers_as_the_memory_index(
    engine: Engine, steps: list[tuple[object, ...]]
) -> None:
    run_operations(engine, steps)


def _crowd(count: int) -> list[Customer]:
    """``count`` customers of a few common names, each with a mailbox of their own."""
    return [
        customer(n, Profile(NAMES[n % len(NAMES)], (f"p{n}@example.com",), ()))
        for n in range(1, count + 1)
    ]


def _save_both(
    engine: Engine, people: list[Customer]
) -> tuple[SqlStore, Reference, list[Customer]]:
    """Save ``people`` into an emptied store and into the in-memory reference."""
    _empty(engine)
    store = SqlStore(engine)
    reference = Reference()
    with store.unit_of_work() as uow:
        saved = uow.customers.save_many(people)
        uow.commit()
    reference.saved(saved)
    return store, reference, list(saved)


def test_term_frequencies_over_a_thousand_customers_agree(engine: Engine) -> None:
    """From 1,000 records on, the model adjusts for common values: the counters must agree."""
    store, reference, saved = _save_both(engine, _crowd(1100))
    probes = [
        MatchRecord(id="q1", full_name="Zhang Wei", emails=["p2@example.com"]),
        MatchRecord(id="q2", full_name="王芳", emails=["p3@example.com"]),
        MatchRecord.from_customer(saved[10]),
    ]
    assert_same_answers(store, reference, probes)


def test_counts_of_candidates_agreeing_on_another_value_agree(engine: Engine) -> None:
    """A candidate agreeing exactly under another value (Chris and Christopher) is counted too.

    The store reads the record's own term-frequency counts with its blocks and a
    candidate's only when the pair agrees exactly on a value the record does not
    hold: Chris Young reads as Christopher Young (the exact name level) but their
    name signatures differ, so the adjustment needs the count of Christopher's.
    """
    people = _crowd(1000)
    people += [
        customer(1000 + n, Profile("Christopher Young", (f"cy{n}@corp.example",), ()))
        for n in range(1, 7)
    ]
    people.append(
        customer(1100, Profile("Chris Young", ("chris@home.example", "cy1@corp.example"), ()))
    )
    store, reference, saved = _save_both(engine, people)
    probes = [
        MatchRecord(id="q1", full_name="Chris Young", emails=["cy2@corp.example"]),
        MatchRecord(id="q2", full_name="Young Chris", emails=["cy3@corp.example", "x@y.example"]),
        MatchRecord.from_customer(saved[-1]),
        MatchRecord(id="q3", full_name="Zhang Wei", emails=["p2@example.com"]),
    ]
    assert_same_answers(store, reference, probes)
    first = reference.index.candidates(probes[0])
    assert first[0].right == saved[1001].id
    name = next(c for c in first[0].contributions if c.comparison == "name")
    assert name.label == "exact"
    assert name.tf_adjustment != 0.0


ODD_IDS = ("a,b", 'quote"d', "back\\slash", "{braces}", "客户-7", "tab\there", "[1]", "")


def test_ids_of_any_text_are_written_and_found(engine: Engine) -> None:
    """Ids with commas, quotes, backslashes, braces and CJK go through every write path.

    PostgreSQL sends a page's records as one JSON array and its keys as joined text:
    an id must arrive as written and be found again, updated and removed.
    """
    _empty(engine)
    store = SqlStore(engine)
    reference = Reference()
    people = [
        attrs.evolve(customer(n, Profile(NAMES[n % len(NAMES)], (EMAILS[n % 3],), ())), id=cid)
        for n, cid in enumerate(ODD_IDS[:-1], start=1)
    ]
    stored: dict[str, Customer] = {}
    save(store, reference, stored, people)
    assert_same_answers(store, reference, _probes(stored))
    changed = [revised(stored[cid], Profile("John Smith", (EMAILS[4],), ())) for cid in ODD_IDS[:3]]
    save(store, reference, stored, changed)
    assert_same_answers(store, reference, _probes(stored))
    with store.unit_of_work() as uow:
        assert uow.match_index is not None
        assert uow.match_index.remove(list(ODD_IDS)) == len(ODD_IDS) - 1
        uow.commit()
        assert len(uow.match_index) == 0


def test_registration_rules_agree_within_a_batch(engine: Engine) -> None:
    _empty(engine)
    store = SqlStore(engine)
    reference = SETTINGS.reference()
    policy = DuplicatePolicy(alert_at=0.5, block_at=0.95)
    first = [customer(1, Profile("张伟", (EMAILS[0],), (PHONES[0],)))]
    batch = [
        customer(2, Profile("Zhang Wei", (), (PHONES[0],))),  # blocked: same phone and name
        customer(3, Profile("王芳", (EMAILS[1],), ())),
        customer(4, Profile("Wang Fang", (EMAILS[1],), ())),  # a duplicate of 3, same batch
        customer(5, Profile("John Smith", (), ())),
    ]
    for people in (first, batch):
        uow = store.unit_of_work()
        assert uow.match_index is not None
        stored = register_customers(uow, people, index=uow.match_index, policy=policy)
        memory = register_customers(
            MemoryStore().unit_of_work(), people, index=reference, policy=policy
        )
        assert [r.check for r in stored] == [r.check for r in memory]
        assert [r.stored for r in stored] == [r.stored for r in memory]
    assert [r.check.action for r in stored] == [
        DuplicateAction.BLOCK,
        DuplicateAction.ALLOW,
        DuplicateAction.BLOCK,
        DuplicateAction.ALLOW,
    ]
    with store.unit_of_work() as uow:
        assert uow.customers.count() == 3
    uow = store.unit_of_work()
    with pytest.raises(DuplicateError):
        register_customers(
            uow,
            [customer(9, Profile("Zhang Wei", (), (PHONES[0],)))],
            index=uow.match_index,  # type: ignore[arg-type]
            policy=policy,
            raise_on_block=True,
        )


def test_backfill_indexes_what_was_stored_without_the_index(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmcore.adapters.sql import match_index  # noqa: PLC0415

    monkeypatch.setattr(match_index, "_ANALYZE_FROM", 2)  # PostgreSQL: refresh statistics midway
    _empty(engine)
    sqlite_engine = engine  # each backend in turn
    without = SqlStore(sqlite_engine, match_index=False)
    people = [customer(n, Profile(NAMES[n % 8], (EMAILS[n % 5],), ())) for n in range(1, 30)]
    with without.unit_of_work() as uow:
        assert uow.match_index is None
        saved = uow.customers.save_many(people)
        merged = attrs.evolve(saved[0], merged_into=CustomerId(saved[1].id))
        saved[0] = uow.customers.save(merged)
        uow.commit()
    reads: list[int] = []
    assert backfill_match_index(sqlite_engine, batch=7, progress=reads.append) == 28
    assert reads == [7, 14, 21, 28, 29]
    assert backfill_match_index(sqlite_engine) == 0  # nothing left to do
    reference = Reference()
    reference.saved(saved)
    assert_same_answers(SqlStore(sqlite_engine), reference, _probes({c.id: c for c in saved}))
    with pytest.raises(ConfigurationError, match="batch must be positive"):
        backfill_match_index(sqlite_engine, batch=0)


def test_removing_customers_from_the_index(sqlite_engine: Engine) -> None:
    store = SqlStore(sqlite_engine)
    people = [customer(n, Profile(NAMES[n % 8], (EMAILS[n % 5],), ())) for n in range(1, 9)]
    with store.unit_of_work() as uow:
        saved = uow.customers.save_many(people)
        assert uow.match_index is not None
        assert uow.match_index.remove([saved[0].id, saved[1].id, "c-unknown"]) == 2
        uow.commit()
    reference = Reference()
    reference.saved(saved[2:])
    assert_same_answers(store, reference, _probes({c.id: c for c in saved}))
    with sqlite_engine.connect() as conn:
        negative = conn.execute(
            sa.select(sa.func.count()).select_from(match_counts).where(match_counts.c.n < 0)
        ).scalar_one()
    assert negative == 0


def test_changed_settings_are_rewritten_by_the_backfill(sqlite_engine: Engine) -> None:
    people = [customer(n, Profile(NAMES[n % 8], (EMAILS[n % 5],), ())) for n in range(1, 12)]
    with SqlStore(sqlite_engine).unit_of_work() as uow:
        uow.customers.save_many(people)
        uow.commit()
    narrow = MatchIndexSettings(blocking_rules=SETTINGS.blocking_rules[:2])  # email, phone
    assert backfill_match_index(sqlite_engine, narrow) == 11
    with sqlite_engine.connect() as conn:
        keys = conn.execute(sa.select(sa.func.count()).select_from(match_keys)).scalar_one()
        records = conn.execute(sa.select(sa.func.count()).select_from(match_records)).scalar_one()
        negative = conn.execute(
            sa.select(sa.func.count()).select_from(match_counts).where(match_counts.c.n < 0)
        ).scalar_one()
    assert (records, keys, negative) == (11, 11, 0)  # one email each, no phone
    reference = narrow.reference()
    reference.add_many(MatchRecord.from_customer(c) for c in people)
    probe = MatchRecord(id="q", full_name="Wang Fang", emails=[EMAILS[1]])
    with SqlStore(sqlite_engine, match_index=narrow).unit_of_work() as uow:
        assert uow.match_index is not None
        assert uow.match_index.candidates(probe, min_probability=0.0) == reference.candidates(
            probe, min_probability=0.0
        )


def test_a_derived_blocking_key_is_stored_and_answered_like_the_reference(
    sqlite_engine: Engine,
) -> None:
    """``block_on("email_typo")`` (a key derived from the mailbox): saves and queries agree."""
    typo = MatchIndexSettings(blocking_rules=(*SETTINGS.blocking_rules, block_on("email_typo")))
    mailboxes = ("zichen64@163.com", "zcihen64@163.com", "chenzi.work@163.com")
    people = [
        customer(n, Profile(("Chen Zi", "陈子", "Zi Chen")[n % 3], (mailboxes[n % 3],), ()))
        for n in range(1, 10)
    ]
    with SqlStore(sqlite_engine, match_index=typo).unit_of_work() as uow:
        uow.customers.save_many(people)
        uow.commit()
    with sqlite_engine.connect() as conn:
        keys = conn.execute(sa.select(sa.func.count()).select_from(match_keys)).scalar_one()
    reference = typo.reference()
    reference.add_many(MatchRecord.from_customer(c) for c in people)
    probe = MatchRecord(id="q", full_name="Chen Zi", emails=["zichen46@163.com"])
    with SqlStore(sqlite_engine, match_index=typo).unit_of_work() as uow:
        assert uow.match_index is not None
        found = uow.match_index.candidates(probe, min_probability=0.0)
    assert found == reference.candidates(probe, min_probability=0.0)
    assert keys > 0
    assert found  # the typo'd mailbox met its original through the derived key


# -- several processes registering near-duplicates at once --------------------------------------


def _register_worker(url: str, number: int, barrier: object, out: object) -> None:
    engine = create_engine(url)
    store = SqlStore(engine)
    person = customer(number, Profile("张伟" if number % 2 else "Zhang Wei", (), (PHONES[0],)))
    barrier.wait()  # type: ignore[attr-defined]
    for _attempt in range(50):
        uow = store.unit_of_work()
        try:
            result = register_customers(
                uow,
                [person],
                index=uow.match_index,  # type: ignore[arg-type]
                policy=DuplicatePolicy(alert_at=0.5, block_at=None),
            )
        except ConcurrencyError:
            continue
        out.put((number, [m.right for m in result[0].check.matches]))  # type: ignore[attr-defined]
        break
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL every worker process can open, on an empty crmcore schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        engine = create_engine(url)
        create_schema(engine)
        engine.dispose()
        yield url
        return
    if request.param == "mariadb":
        found: Engine = request.getfixturevalue("mysql_engine")
        _empty(found)
        yield found.url.render_as_string(hide_password=False)
        return
    yield from postgres_schema_url("crm_conc")


def test_concurrent_near_duplicates_are_each_detected(shared_url: str) -> None:
    workers = 5
    context: Any = multiprocessing.get_context(
        "fork" if sys.platform.startswith("linux") else "spawn"
    )
    barrier = context.Barrier(workers)
    out = context.Queue()
    processes = [
        context.Process(target=_register_worker, args=(shared_url, n, barrier, out))
        for n in range(1, workers + 1)
    ]
    for p in processes:
        p.start()
    results = dict(out.get(timeout=120) for _ in processes)
    for p in processes:
        p.join(timeout=60)
    assert sorted(results) == list(range(1, workers + 1))  # none lost
    # Registered one after another: each sees every one committed before it, so exactly one
    # saw none and, in commit order, the k-th saw k - 1.
    assert sorted(len(matches) for matches in results.values()) == list(range(workers))
    engine = create_engine(shared_url)
    with SqlStore(engine).unit_of_work() as uow:
        assert uow.customers.count() == workers
        assert uow.match_index is not None
        assert len(uow.match_index) == workers
    engine.dispose()


def _index_rows(engine: Engine) -> tuple[dict[str, Any], set[tuple[str, str]], dict[str, int]]:
    """The index tables by customer id (not by seq, which follows the order of writing)."""
    r, k, c = match_records.c, match_keys.c, match_counts.c
    with engine.connect() as conn:
        records = {
            row.customer_id: (row.features, row.digest, row.counters)
            for row in conn.execute(sa.select(r.customer_id, r.features, r.digest, r.counters))
        }
        keys = {
            (row.key_hash, row.customer_id)
            for row in conn.execute(
                sa.select(k.key_hash, r.customer_id).join(match_records, r.seq == k.seq)
            )
        }
        counts = {
            row.name: int(row.n) for row in conn.execute(sa.select(c.name, c.n)) if int(row.n)
        }
    return records, keys, counts


@settings(max_examples=10, deadline=None)
@given(st.lists(profiles, min_size=1, max_size=12), st.integers(1, 6), st.booleans())
def test_the_backfill_writes_what_the_saves_write(
    people: list[Profile], batch: int, merge: bool
) -> None:
    saving, backfilled = create_engine("sqlite://"), create_engine("sqlite://")
    try:
        for engine, indexed in ((saving, True), (backfilled, False)):
            create_schema(engine)
            store = SqlStore(engine, match_index=indexed)
            with store.unit_of_work() as uow:
                saved = uow.customers.save_many([customer(n, p) for n, p in enumerate(people)])
                if merge and len(saved) > 1:
                    uow.customers.save(attrs.evolve(saved[0], merged_into=saved[1].id))
                uow.commit()
        assert backfill_match_index(backfilled, batch=batch, workers=1) == len(people) - (
            merge and len(people) > 1
        )
        assert _index_rows(backfilled) == _index_rows(saving)
    finally:
        saving.dispose()
        backfilled.dispose()


def test_backfill_in_workers_rereads_customers_saved_meanwhile(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmcore.adapters.sql import match_index  # noqa: PLC0415

    monkeypatch.setattr(match_index, "_POOL_FROM", 1)  # workers even for pages of 5
    without = SqlStore(sqlite_engine, match_index=False)
    people = [customer(n, Profile(NAMES[n % 8], (EMAILS[n % 7],), ())) for n in range(1, 21)]
    with without.unit_of_work() as uow:
        saved = uow.customers.save_many(people)
        uow.commit()
    store = SqlStore(sqlite_engine)
    later = revised(saved[12], Profile("Li Na", (EMAILS[3],), (PHONES[2],)))

    def change_a_page_already_read(done: int) -> None:
        if done == 5:  # the pages up to customer 15 are read: customer 13 changes after that
            with store.unit_of_work() as uow:
                saved[12] = uow.customers.save(later)
                uow.commit()

    changed = change_a_page_already_read
    assert backfill_match_index(sqlite_engine, batch=5, progress=changed, workers=2) == 19
    reference = Reference()  # in the order the store indexed them: 13 by its own save
    reference.saved(saved[:5])
    reference.saved([saved[12]])
    reference.saved(saved[5:12] + saved[13:])
    assert_same_answers(store, reference, _probes({c.id: c for c in saved}))
    with pytest.raises(ConfigurationError, match="workers must be positive"):
        backfill_match_index(sqlite_engine, workers=0)


# -- a bulk backfill (PostgreSQL): one locked transaction, the key index built at the end ------


def _primary_keys(engine: Engine) -> list[str]:
    """The primary key constraints of ``match_keys`` and ``match_counts``, in that order."""
    found: list[str] = []
    with engine.connect() as conn:
        schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
        for table in (match_keys, match_counts):
            name = conn.dialect.identifier_preparer.quote(table.name)
            rows = conn.exec_driver_sql(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype = 'p'",
                (f'"{schema}".{name}' if schema else name,),
            )
            found.extend(row[0] for row in rows)
    return found


def _stored_without_index(engine: Engine, people: list[Profile], merge: bool) -> list[Customer]:
    with SqlStore(engine, match_index=False).unit_of_work() as uow:
        saved = uow.customers.save_many([customer(n, p) for n, p in enumerate(people, 1)])
        if merge and len(saved) > 1:
            saved[0] = uow.customers.save(attrs.evolve(saved[0], merged_into=saved[1].id))
        uow.commit()
    return saved


def _empty_index(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (match_keys, match_records, match_counts):
            conn.execute(table.delete())


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(profiles, min_size=1, max_size=25), st.integers(1, 9), st.booleans())
def test_a_bulk_backfill_writes_what_the_page_backfill_writes(
    postgres_engine: Engine, people: list[Profile], batch: int, merge: bool
) -> None:
    _empty(postgres_engine)
    saved = _stored_without_index(postgres_engine, people, merge)
    expected = len(people) - (merge and len(people) > 1)
    assert backfill_match_index(postgres_engine, batch=batch, workers=1) == expected
    by_pages = _index_rows(postgres_engine)
    _empty_index(postgres_engine)
    with SqlStore(postgres_engine).unit_of_work() as uow:  # a duplicate check left a zero count
        uow.match_index.check_batch(  # type: ignore[union-attr]
            [MatchRecord(id="probe", full_name=people[0].name)], DuplicatePolicy()
        )
        uow.commit()
    assert backfill_match_index(postgres_engine, batch=batch, workers=1, bulk=True) == expected
    assert _index_rows(postgres_engine) == by_pages
    assert _primary_keys(postgres_engine) == ["PRIMARY KEY (key_hash, seq)", "PRIMARY KEY (name)"]
    reference = Reference()
    reference.saved(saved)
    assert_same_answers(SqlStore(postgres_engine), reference, _probes({c.id: c for c in saved}))


def test_a_bulk_backfill_takes_only_an_empty_index_on_postgresql(
    postgres_engine: Engine, sqlite_engine: Engine
) -> None:
    _empty(postgres_engine)
    people = [Profile(NAMES[n % 8], (EMAILS[n % 5],), ()) for n in range(6)]
    _stored_without_index(postgres_engine, people, merge=False)
    with SqlStore(postgres_engine).unit_of_work() as uow:  # one customer indexed by its save
        uow.customers.save(customer(99, Profile("李娜", (), (PHONES[1],))))
        uow.commit()
    before = _index_rows(postgres_engine)
    with pytest.raises(ConfigurationError, match="empty match index, and this one has customers"):
        backfill_match_index(postgres_engine, bulk=True)
    assert _index_rows(postgres_engine) == before  # nothing written, nothing dropped
    assert _primary_keys(postgres_engine) == ["PRIMARY KEY (key_hash, seq)", "PRIMARY KEY (name)"]
    assert backfill_match_index(postgres_engine) == 6  # the page backfill does the rest
    with pytest.raises(ConfigurationError, match="needs PostgreSQL, not sqlite"):
        backfill_match_index(sqlite_engine, bulk=True)


@pytest.mark.parametrize("bulk", [False, True])
def test_a_backfill_vacuums_the_index_tables_on_postgresql(
    postgres_engine: Engine, bulk: bool
) -> None:
    """Issue 16: VACUUM after a backfill, so block members come from an index-only scan.

    Whether VACUUM can mark the new pages all-visible depends on the transactions
    other sessions hold open (the tests running beside this one): what is checked
    is that the backfill asks for it, outside a transaction, naming the three tables.
    """
    _empty(postgres_engine)
    people = [Profile(NAMES[n % 8], (EMAILS[n % 5],), (PHONES[n % 5],)) for n in range(40)]
    _stored_without_index(postgres_engine, people, merge=False)
    seen: list[str] = []

    def record(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.startswith(("VACUUM", "ANALYZE")):
            level = conn.get_execution_options().get("isolation_level", "")
            seen.append(f"{level} {statement}")

    sa.event.listen(postgres_engine, "before_cursor_execute", record)
    try:
        assert backfill_match_index(postgres_engine, batch=16, workers=1, bulk=bulk) == 40
    finally:
        sa.event.remove(postgres_engine, "before_cursor_execute", record)
    assert len(seen) == 1, seen
    assert seen[0].startswith("AUTOCOMMIT VACUUM (ANALYZE) ")
    for table in ("match_records", "match_keys", "match_counts"):
        assert table in seen[0]


def test_a_bulk_backfill_copies_ids_of_any_text(postgres_engine: Engine) -> None:
    _empty(postgres_engine)
    odd = ["a,b", 'q"uote', "back\\slash", "{brace}", "王伟", "tab\there", "new\nline", "\\N"]
    with SqlStore(postgres_engine, match_index=False).unit_of_work() as uow:
        for n, cid in enumerate(odd):
            made = customer(n, Profile(NAMES[n % 8], (EMAILS[n % 5],), (PHONES[n % 5],)))
            uow.customers.save(attrs.evolve(made, id=CustomerId(cid)))
        uow.commit()
    assert backfill_match_index(postgres_engine, batch=3, workers=1) == len(odd)
    by_pages = _index_rows(postgres_engine)
    _empty_index(postgres_engine)
    assert backfill_match_index(postgres_engine, batch=3, workers=1, bulk=True) == len(odd)
    assert _index_rows(postgres_engine) == by_pages
    assert set(by_pages[0]) == set(odd)


def test_a_failed_bulk_backfill_leaves_the_index_as_it_was(postgres_engine: Engine) -> None:
    _empty(postgres_engine)
    people = [Profile(NAMES[n % 8], (EMAILS[n % 5],), (PHONES[n % 5],)) for n in range(12)]
    _stored_without_index(postgres_engine, people, merge=False)
    with postgres_engine.begin() as conn:  # the last page holds a document that is no customer
        conn.execute(customers.update().where(customers.c.id == "c-0012").values(document=[1]))
    with pytest.raises(StorageError, match="customer c-0012: its stored document is not"):
        backfill_match_index(postgres_engine, batch=5, workers=1, bulk=True)
    assert _index_rows(postgres_engine) == ({}, set(), {})  # the first pages rolled back too
    assert _primary_keys(postgres_engine) == ["PRIMARY KEY (key_hash, seq)", "PRIMARY KEY (name)"]


def test_a_save_during_a_bulk_backfill_waits_and_is_indexed(postgres_engine: Engine) -> None:
    _empty(postgres_engine)
    people = [Profile(NAMES[n % 8], (EMAILS[n % 7],), ()) for n in range(20)]
    saved = _stored_without_index(postgres_engine, people, merge=False)
    before = list(saved)
    store = SqlStore(postgres_engine)
    later = revised(saved[3], Profile("Li Na", (EMAILS[3],), (PHONES[2],)))  # a page written
    saving: list[threading.Thread] = []
    outcome: list[Customer] = []

    def save_later() -> None:
        with store.unit_of_work() as uow:
            outcome.append(uow.customers.save(later))
            uow.commit()

    def start_a_save(done: int) -> None:
        if done == 10:  # customers 1-10 are written, uncommitted: the save must wait
            saving.append(threading.Thread(target=save_later))
            saving[0].start()
            saving[0].join(timeout=1.0)
            assert saving[0].is_alive()  # still waiting for the backfill's lock

    assert backfill_match_index(postgres_engine, batch=5, progress=start_a_save, bulk=True) == 20
    saving[0].join(timeout=30)
    assert not saving[0].is_alive()
    saved[3] = outcome[0]
    reference = Reference()  # the backfill's 20, then customer 4 again by its own save
    reference.saved(before)
    reference.saved([saved[3]])
    assert_same_answers(store, reference, _probes({c.id: c for c in saved}))
