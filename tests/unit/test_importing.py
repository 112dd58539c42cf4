from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pendulum
import pytest

from crmcore.adapters.memory import MemoryStore
from crmcore.clock import FixedClock
from crmcore.domain import EmailAddress
from crmcore.matching import workers as pool_policy
from crmcore.services.cleaning import ColumnMapping, clean_rows
from crmcore.services.importing import ImportReport, OnDuplicate, OnInvalid, import_customers

ROWS = [
    {"姓名": "张伟", "手机": "138 0013 8000", "邮箱": "zhang.wei@example.com"},
    {"姓名": "李娜", "手机": "12345", "邮箱": "li.na@example.com"},
    {"姓名": "Zhang Wei", "手机": "+86 13800138000", "邮箱": "zw@work.example.cn"},
    {"姓名": "王芳", "手机": "13912345678", "邮箱": ""},
]


def run(store: MemoryStore, rows: list[dict[str, str]] = ROWS, **options: object) -> ImportReport:
    # These tests count rows: with reject-row, 李娜's phone 12345 costs her row. The
    # default policy (drop-value) has tests of its own below.
    options.setdefault("on_invalid", OnInvalid.REJECT_ROW)
    return import_customers(
        store,
        rows,
        ColumnMapping.detect(list(rows[0])),
        source="old-crm.csv",
        clock=FixedClock(pendulum.datetime(2026, 11, 1)),
        region="CN",
        batch_size=2,
        **options,  # type: ignore[arg-type]
    )


def stored_count(store: MemoryStore) -> int:
    with store.unit_of_work() as uow:
        return uow.customers.count()


def test_good_rows_are_stored_and_bad_rows_reported() -> None:
    store = MemoryStore()
    report = run(store)
    assert (report.stored, report.rejected, report.duplicates) == (2, 1, 1)
    assert stored_count(store) == 2


def test_running_the_same_import_twice_stores_nothing_new() -> None:
    store = MemoryStore()
    run(store)
    again = run(store)
    assert (again.stored, again.already_imported, stored_count(store)) == (0, 2, 2)


def test_a_dry_run_writes_nothing_but_reports_everything() -> None:
    store = MemoryStore()
    report = run(store, dry_run=True)
    assert (report.stored, report.rejected, stored_count(store)) == (2, 1, 0)


def test_a_sample_imports_only_the_first_rows() -> None:
    store = MemoryStore()
    report = run(store, limit=2)
    assert (report.rows, report.stored) == (2, 1)


def test_merging_duplicates_adds_their_contact_points_to_the_first() -> None:
    store = MemoryStore()
    report = run(store, on_duplicate=OnDuplicate.MERGE)
    assert report.merged == 1
    with store.unit_of_work() as uow:
        (zhang,) = uow.customers.find_by_email(EmailAddress("zw@work.example.cn"))
    assert {str(e.address) for e in zhang.points.emails} == {
        "zhang.wei@example.com",
        "zw@work.example.cn",
    }


def test_keeping_duplicates_stores_them_separately() -> None:
    store = MemoryStore()
    report = run(store, on_duplicate=OnDuplicate.KEEP)
    assert (report.stored, stored_count(store)) == (3, 3)


def test_an_import_interrupted_after_a_batch_completes_on_rerun_exactly_once() -> None:
    store = MemoryStore()
    with pytest.raises(RuntimeError, match="killed"):
        run(store, progress=_die_after_first_batch)
    assert stored_count(store) == 1
    report = run(store)
    assert (report.stored, report.already_imported, stored_count(store)) == (1, 1, 2)


def _die_after_first_batch(rows_done: int) -> None:
    raise RuntimeError(f"killed after {rows_done} rows")


def test_cleaning_in_worker_processes_gives_the_same_rows() -> None:
    rows = [
        {"name": f"客户{n}", "phone": f"139{n % 40:08d}", "email": f"u{n % 55}@example.com"}
        for n in range(300)
    ]
    mapping = ColumnMapping.detect(list(rows[0]))
    at = pendulum.datetime(2026, 11, 1)
    serial = list(clean_rows(rows, mapping, source="s.csv", at=at, region="CN", chunk=64))
    parallel = list(
        clean_rows(rows, mapping, source="s.csv", at=at, region="CN", chunk=64, workers=2)
    )
    assert parallel == serial


def test_an_import_restores_the_garbage_collector_settings_even_when_it_fails() -> None:
    import gc  # noqa: PLC0415 - only this test looks at the collector
    import threading  # noqa: PLC0415

    from crmcore.services import importing  # noqa: PLC0415 - the private helper is tested

    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    entered = threading.Barrier(2)
    release = threading.Event()

    def slow_import() -> None:
        with importing._bulk_collection():
            entered.wait()
            release.wait()

    other = threading.Thread(target=slow_import)
    other.start()
    during: list[tuple[int, int, int]] = []

    def failing_import() -> None:
        with importing._bulk_collection():
            entered.wait()
            during.append(gc.get_threshold())
            raise RuntimeError("a failing import")

    with pytest.raises(RuntimeError, match="a failing import"):
        failing_import()
    assert during[0] != before
    assert gc.get_threshold() != before  # the other import still runs
    release.set()
    other.join()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_by_default_an_invalid_value_is_dropped_and_the_customer_kept() -> None:
    store = MemoryStore()
    report = run(store, on_invalid=OnInvalid.DROP_VALUE)
    assert (report.stored, report.rejected, report.dropped) == (3, 0, 1)
    with store.unit_of_work() as uow:
        (li,) = uow.customers.find_by_email(EmailAddress("li.na@example.com"))
    assert li.points.phones == ()
    (dropped,) = [i for i in report.issues if i.kind.value == "dropped"]
    assert (dropped.row, dropped.field, dropped.value) == (2, "phone", "12345")


def test_every_rejected_row_is_handed_over_as_it_was_read() -> None:
    rejected: list[tuple[int, dict[str, str | None]]] = []
    rows = [*ROWS, {"姓名": "", "手机": "13912345670", "邮箱": "x@example.com"}]
    run(MemoryStore(), rows, on_reject=lambda row: rejected.append((row.row, dict(row.source))))
    assert rejected == [(2, ROWS[1]), (5, rows[4])]


def test_completeness_counts_the_stored_customers_having_each_field() -> None:
    report = run(MemoryStore(), on_invalid=OnInvalid.DROP_VALUE)
    completeness = report.completeness()
    assert (report.filled["phone"], report.filled["email"], report.filled["name"]) == (2, 2, 3)
    assert completeness["phone"] == pytest.approx(2 / 3)


def test_national_phones_without_a_region_suggest_one() -> None:
    rows = [{"姓名": f"客户{i}", "手机": f"1391234{i:04d}"} for i in range(20)]
    report = import_customers(
        MemoryStore(),
        rows,
        ColumnMapping.detect(list(rows[0])),
        source="s.csv",
        clock=FixedClock(pendulum.datetime(2026, 11, 1)),
    )
    assert (report.phones_without_country_code, report.suggested_region) == (20, "CN")
    assert report.stored == 20  # each kept, without its phone


def test_no_region_is_suggested_when_the_phones_carry_their_country_code() -> None:
    rows = [{"name": f"N{i}", "phone": f"+86 1391234{i:04d}"} for i in range(5)]
    rows.append({"name": "odd", "phone": "12345"})
    report = import_customers(
        MemoryStore(),
        rows,
        ColumnMapping.detect(list(rows[0])),
        source="s.csv",
        clock=FixedClock(pendulum.datetime(2026, 11, 1)),
    )
    assert (report.phones_without_country_code, report.suggested_region) == (1, None)


def _broken_pool(workers: int, start_method: str = "spawn") -> ProcessPoolExecutor:
    """A pool whose every worker dies as it starts (as with an unguarded __main__)."""
    del workers
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context(start_method),
        initializer=os._exit,
        initargs=(3,),
    )


def test_rows_whose_worker_dies_are_cleaned_here_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [
        {"姓名": f"客户{i}", "手机": f"139{i:08d}", "邮箱": f"c{i}@example.com"} for i in range(300)
    ]
    mapping = ColumnMapping.detect(list(rows[0]))
    at = pendulum.datetime(2026, 11, 1)
    serial = list(clean_rows(rows, mapping, source="s.csv", at=at, region="CN", chunk=64))
    monkeypatch.setattr(pool_policy, "start_pool", _broken_pool)
    broken = list(
        clean_rows(rows, mapping, source="s.csv", at=at, region="CN", chunk=64, workers=2)
    )
    assert broken == serial
