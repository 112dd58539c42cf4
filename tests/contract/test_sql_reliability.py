"""Reliability of the SQL adapter: concurrency, atomicity, the outbox, bad input, large data."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
import tracemalloc
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pendulum
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crmcore.adapters.memory import MemoryEventPublisher
from crmcore.adapters.sql import SqlStore, create_engine, relay_outbox
from crmcore.adapters.sql import tables as t
from crmcore.adapters.sql.mapping import check_custom
from crmcore.adapters.sql.session import translating
from crmcore.domain import (
    Customer,
    CustomerId,
    CustomerRegistered,
    DomainEvent,
    EmailAddress,
    Person,
    PersonName,
    UserId,
    classify,
    register_customer,
)
from crmcore.errors import ConcurrencyError, StaleVersionError, StorageError
from crmcore.serialization import unstructure

AT = pendulum.datetime(2026, 3, 1, 9)


def person(id: str, name: str = "李娜", **kw: object) -> tuple[Customer, CustomerRegistered]:
    return register_customer(
        id=CustomerId(id),
        person=Person(name=PersonName.parse(name)),
        at=AT,
        **kw,  # type: ignore[arg-type]  # keyword pass-through to register_customer
    )


class FailingPublisher:
    """A publisher that fails, as if the process died between commit and publish."""

    def publish(self, events: Sequence[DomainEvent]) -> None:
        raise ConnectionError(f"message broker down; {len(events)} events not delivered")


def count_rows(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# -- concurrency ----------------------------------------------------------------------

THREADS = 8
CYCLES = 500  # 8 threads on 4 customers: 4,000 contended saves per backend
CUSTOMERS = ("c-1", "c-2", "c-3", "c-4")


def hammer(engine: Engine) -> tuple[int, int, list[str]]:
    """Run THREADS x CYCLES read-modify-save cycles; return (saves, retries, errors)."""
    with engine.begin() as conn:
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(table.delete())
    store = SqlStore(engine)
    with store.unit_of_work() as uow:
        uow.customers.save_many([person(id)[0] for id in CUSTOMERS])
        uow.commit()
    saves = [0] * THREADS
    retries = [0] * THREADS
    errors: list[str] = []

    def work(n: int) -> None:
        try:
            for cycle in range(CYCLES):
                id = CustomerId(CUSTOMERS[(n + cycle) % len(CUSTOMERS)])
                while True:
                    try:
                        with store.unit_of_work() as uow:
                            current = uow.customers.get(id)
                            counter = int(current.tier_reason or "0") + 1
                            new, _ = classify(
                                current,
                                tier=current.tier,
                                reason=str(counter),
                                at=current.updated_at,
                            )
                            uow.customers.save(new)
                            uow.commit()
                        saves[n] += 1
                        break
                    except StaleVersionError:
                        retries[n] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(saves), sum(retries), errors


def final_counters(engine: Engine) -> int:
    with SqlStore(engine).unit_of_work() as uow:
        return sum(int(uow.customers.get(CustomerId(id)).tier_reason) for id in CUSTOMERS)


Outcome = tuple[int, int, list[str], int]


def hammer_in_a_process(url: str, options: dict[str, Any]) -> Outcome:
    """Hammer the database at ``url`` from a fresh process (its own interpreter lock)."""
    engine = create_engine(url).execution_options(**options)
    try:
        saves, retries, errors = hammer(engine)
        return saves, retries, errors, final_counters(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def hammered(request: pytest.FixtureRequest) -> dict[str, Outcome | str]:
    """Hammer PostgreSQL and MariaDB at the same time, each from a process of its own.

    The two servers are independent, and one Python process per server keeps the
    interpreter lock from serialising 16 threads. Returns backend -> (saves,
    retries, errors, final counter sum), or the skip message when the backend's
    variable is unset.
    """
    outcomes: dict[str, Outcome | str] = {}
    jobs: dict[str, tuple[str, dict[str, Any]]] = {}
    for backend, fixture in (("postgresql", "postgres_engine"), ("mariadb", "mysql_engine")):
        try:
            engine: Engine = request.getfixturevalue(fixture)
        except pytest.skip.Exception as skipped:
            outcomes[backend] = str(skipped)
            continue
        url = engine.url.render_as_string(hide_password=False)
        jobs[backend] = (url, dict(engine.get_execution_options()))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(len(jobs), 1), mp_context=context) as pool:
        futures = {b: pool.submit(hammer_in_a_process, *job) for b, job in jobs.items()}
        outcomes.update({b: future.result() for b, future in futures.items()})
    return outcomes


def check_no_update_lost(outcome: Outcome | str) -> None:
    if isinstance(outcome, str):
        pytest.skip(outcome)
    saves, _, errors, counters = outcome
    assert (errors, saves, counters) == ([], THREADS * CYCLES, saves)


@pytest.mark.slow
def test_concurrent_read_modify_save_cycles_lose_no_update_on_postgresql(
    hammered: dict[str, Outcome | str],
) -> None:
    check_no_update_lost(hammered["postgresql"])


@pytest.mark.slow
def test_concurrent_read_modify_save_cycles_lose_no_update_on_mariadb(
    hammered: dict[str, Outcome | str],
) -> None:
    check_no_update_lost(hammered["mariadb"])


# -- atomicity and the outbox ----------------------------------------------------------


def test_an_exception_in_a_unit_of_work_leaves_no_row_and_no_outbox_event(
    sql_engine: Engine,
) -> None:
    publisher = MemoryEventPublisher()
    store = SqlStore(sql_engine, publisher=publisher)
    customer, event = person("c-1", emails=[EmailAddress("li.na@example.com")])

    def fail_halfway() -> None:
        with store.unit_of_work() as uow:
            uow.customers.save(customer)
            uow.collect(event)
            raise RuntimeError(customer.id)

    with pytest.raises(RuntimeError):
        fail_halfway()
    assert (count_rows(sql_engine, t.customers), count_rows(sql_engine, t.customer_emails)) == (
        0,
        0,
    )
    assert (count_rows(sql_engine, t.event_outbox), publisher.published) == (0, [])


def test_a_commit_writes_its_events_to_the_outbox_marked_delivered(sql_engine: Engine) -> None:
    publisher = MemoryEventPublisher()
    customer, event = person("c-1")
    with SqlStore(sql_engine, publisher=publisher).unit_of_work() as uow:
        uow.customers.save(customer)
        uow.collect(event)
        uow.commit()
    with sql_engine.connect() as conn:
        row = conn.execute(sa.select(t.event_outbox)).one()
    assert (row.event_id, row.event_type, row.delivered_at is not None) == (
        event.id,
        "CustomerRegistered",
        True,
    )


def test_events_whose_publishing_failed_after_commit_are_relayed_later(
    sql_engine: Engine,
) -> None:
    customer, event = person("c-1")
    with SqlStore(sql_engine, publisher=FailingPublisher()).unit_of_work() as uow:
        uow.customers.save(customer)
        uow.collect(event)
        with pytest.raises(ConnectionError):
            uow.commit()
    publisher = MemoryEventPublisher()
    delivered = relay_outbox(sql_engine, publisher)
    assert (count_rows(sql_engine, t.customers), delivered, publisher.published) == (
        1,
        1,
        [event],
    )


def test_the_relay_delivers_each_event_once_when_nothing_fails(sql_engine: Engine) -> None:
    store = SqlStore(sql_engine)  # no publisher: everything waits in the outbox
    events = []
    with store.unit_of_work() as uow:
        for n in range(7):
            customer, event = person(f"c-{n}")
            uow.customers.save(customer)
            uow.collect(event)
            events.append(event)
        uow.commit()
    publisher = MemoryEventPublisher()
    first = relay_outbox(sql_engine, publisher, batch=3)
    second = relay_outbox(sql_engine, publisher, batch=3)
    assert (first, second, publisher.published) == (7, 0, events)


def test_a_failing_relay_leaves_the_batch_undelivered(sql_engine: Engine) -> None:
    customer, event = person("c-1")
    with SqlStore(sql_engine).unit_of_work() as uow:
        uow.customers.save(customer)
        uow.collect(event)
        uow.commit()
    with pytest.raises(ConnectionError):
        relay_outbox(sql_engine, FailingPublisher())
    publisher = MemoryEventPublisher()
    assert (relay_outbox(sql_engine, publisher), publisher.published) == (1, [event])


# -- bad input ---------------------------------------------------------------------------


def rows_stored(engine: Engine) -> int:
    return sum(count_rows(engine, table) for table in t.metadata.sorted_tables)


def test_an_id_longer_than_its_column_names_the_field_and_stores_nothing(
    sql_engine: Engine,
) -> None:
    customer, _ = person("c-" + "x" * 200)
    with SqlStore(sql_engine).unit_of_work() as uow:
        with pytest.raises(StorageError) as caught:
            uow.customers.save_many([person("c-ok")[0], customer])
        uow.commit()
    assert (caught.value.field, rows_stored(sql_engine)) == ("id", 0)


def test_a_name_longer_than_its_column_names_the_field(sql_engine: Engine) -> None:
    # An organisation's legal name is refused past 300 characters by the domain; a
    # person's full name (family and given together) may outgrow the 300-character column.
    long_name = PersonName(family="欧阳" * 100, given="明" * 150)
    customer, _ = register_customer(id=CustomerId("c-1"), person=Person(name=long_name), at=AT)
    with SqlStore(sql_engine).unit_of_work() as uow, pytest.raises(StorageError) as caught:
        uow.customers.save(customer)
    assert caught.value.field == "display_name"


def test_an_owner_longer_than_its_column_names_the_field(sql_engine: Engine) -> None:
    customer, _ = person("c-1", owner=UserId("u" * 129))
    with SqlStore(sql_engine).unit_of_work() as uow, pytest.raises(StorageError) as caught:
        uow.customers.save(customer)
    assert caught.value.field == "owner"


def test_a_custom_value_that_is_not_json_names_the_custom_field() -> None:
    with pytest.raises(StorageError) as caught:
        check_custom("customer", {"ok": 1, "score": float("nan")})
    assert caught.value.field == "custom.score"


def test_a_naive_timestamp_is_rejected_before_querying(sql_engine: Engine) -> None:
    with SqlStore(sql_engine).unit_of_work() as uow, pytest.raises(ValueError, match="naive"):
        uow.customers.find_updated_since(pendulum.naive(2026, 1, 1))


# -- large data ------------------------------------------------------------------------

LARGE = 4_000  # the 1M-row measurement is in benchmarks/bench_storage.py --large


def bulk_insert_raw(engine: Engine, count: int) -> None:
    """Insert ``count`` minimal customers with raw Core (fast), documents included."""
    template, _ = person("c-0", owner=UserId("u-ana"))
    document = unstructure(template)
    base = {
        "version": 1,
        "kind": "person",
        "display_name": "李娜",
        "tier": "potential",
        "priority": "medium",
        "lifecycle_stage": "potential",
        "source": "other",
        "owner": "u-ana",
        "team": None,
        "country": None,
        "merged_into": None,
        "created_at": AT,
        "updated_at": AT,
        "custom": {},
    }
    with engine.begin() as conn:
        chunk = 20_000
        for start in range(0, count, chunk):
            rows = []
            for n in range(start, min(start + chunk, count)):
                id = f"c-{n:07d}"
                rows.append({**base, "id": id, "document": {**document, "id": id, "version": 1}})
            conn.execute(t.customers.insert(), rows)


@pytest.mark.slow
def test_iterating_many_customers_keeps_memory_flat(sqlite_engine: Engine) -> None:
    bulk_insert_raw(sqlite_engine, LARGE)
    with SqlStore(sqlite_engine).unit_of_work() as uow:
        records = uow.customers.iter_all(page_size=200)
        tracemalloc.start()
        try:
            for _ in range(LARGE // 10):
                next(records)
            _, early_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            seen = LARGE // 10 + sum(1 for _ in records)
            _, late_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert seen == LARGE
    # Loading everything would make the late peak ~9x the early one; streaming keeps it flat.
    assert late_peak < early_peak * 1.5


# -- a deadlock inside a savepoint ------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_deadlock_inside_a_savepoint_is_a_concurrency_error(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """The loser of a deadlock hears "retry", even when it was inside a savepoint.

    MariaDB rolls the loser's whole transaction back, so leaving the savepoint
    fails with "SAVEPOINT ... does not exist" while the deadlock is handled;
    that second error once came out as a ``StorageError`` (not retried).
    """
    engine: Engine = request.getfixturevalue(
        f"{'postgres' if backend == 'postgresql' else 'mysql'}_engine"
    )
    table = sa.Table(
        "deadlock_probe",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("v", sa.Integer),
    )
    table.drop(engine, checkfirst=True)
    table.create(engine)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": i, "v": 0} for i in range(100)])
        heavy, light = engine.connect(), engine.connect()
        heavy.begin()
        light.begin()
        # the heavy transaction has changed many rows: the database picks the light one to lose
        heavy.execute(table.update().where(table.c.id >= 2).values(v=1))
        caught: list[BaseException] = []
        started = threading.Event()

        def lose() -> None:
            try:
                with translating("probe"), light.begin_nested():
                    light.execute(table.update().where(table.c.id == 1).values(v=2))
                    started.set()
                    light.execute(table.update().where(table.c.id == 2).values(v=2))
            except BaseException as exc:  # noqa: BLE001 - checked by the test thread
                caught.append(exc)
            finally:
                started.set()

        loser = threading.Thread(target=lose)
        loser.start()
        started.wait(10)
        time.sleep(0.3)  # the light transaction now waits on row 2
        with contextlib.suppress(sa.exc.DBAPIError):
            heavy.execute(table.update().where(table.c.id == 1).values(v=1))
        loser.join(30)
        heavy.rollback()
        light.rollback()
        heavy.close()
        light.close()
        assert [type(e) for e in caught] == [ConcurrencyError], caught
        assert "does not exist" not in str(caught[0])  # the deadlock is named, not the savepoint
    finally:
        table.drop(engine, checkfirst=True)
