"""``crmcore export`` and ``crmcore import`` of an export: every kind, round trip, byte for byte."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pendulum
import pytest

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.transfer import CSV_KINDS, RecordKind
from crmcore.cli import main
from crmcore.cli.console import Console
from crmcore.cli.transfer import is_crmcore_export, run_records_import
from crmcore.domain import (
    ConsentChannel,
    ConsentId,
    CustomerId,
    EmailAddress,
    MergeId,
    Person,
    PersonName,
    grant_consent,
    register_customer,
)
from crmcore.errors import ConfigurationError
from crmcore.merge import apply_merge, plan_merge
from crmcore.sample.crm import generate_crm

AT = pendulum.datetime(2026, 6, 1, tz="Asia/Shanghai")
NAMES = ["李娜", "王伟", "张伟", "Li Na", "刘洋", "陈静", "Zhang Wei", "杨帆"]


def crmcore(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), console=Console(out, err))
    return code, out.getvalue(), err.getvalue()


def seeded_database(path: Path) -> str:
    """An SQLite database with records of every kind, each saved once (version 1)."""
    people = [
        register_customer(
            id=CustomerId(f"c-{n:03d}"),
            person=Person(name=PersonName.parse(NAMES[n % len(NAMES)])),
            emails=[EmailAddress(f"user{n}@example.cn")],
            at=AT.subtract(years=2),
        )[0]
        for n in range(40)
    ]
    merged = apply_merge(plan_merge(people[:2], at=AT.subtract(years=1), merge_id=MergeId("m-1")))
    people = [merged.survivor, *merged.merged, *people[2:]]
    crm = generate_crm(people, at=AT, seed=3)
    consent, _ = grant_consent(
        id=ConsentId("g-1"),
        customer_id=CustomerId("c-005"),
        purpose="marketing",
        channel=ConsentChannel.EMAIL,
        source="web form",
        at=AT.subtract(days=3),
    )
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    create_schema(engine)
    with SqlStore(engine).unit_of_work() as uow:
        uow.customers.save_many(people)
        uow.merges.save(merged.record)
        uow.consents.save(consent)
        uow.orders.save_many(crm.orders)
        uow.activities.save_many(crm.activities)
        uow.opportunities.save_many(crm.opportunities)
        uow.cases.save_many(crm.cases)
        uow.survey_responses.save_many(crm.survey_responses)
        uow.leads.save_many(crm.leads)
        uow.commit()
    engine.dispose()
    return url


def kinds_in(path: Path) -> set[str]:
    lines = path.read_text("utf-8").splitlines()
    return {json.loads(line)["kind"] for line in lines[1:]}


def test_export_of_every_kind_imports_into_an_empty_database_and_exports_the_same_bytes(
    tmp_path: Path,
) -> None:
    source = seeded_database(tmp_path / "source.sqlite")
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"

    exported = crmcore(
        "export", "--db", source, "--kind", "all", "--format", "jsonl", "--out", str(first)
    )
    imported = crmcore("import", str(first), "--db", target)
    again = crmcore(
        "export", "--db", target, "--kind", "all", "--format", "jsonl", "--out", str(second)
    )

    assert (exported[0], imported[0], again[0]) == (0, 0, 0)
    assert kinds_in(first) == {kind.value for kind in RecordKind}
    assert second.read_bytes() == first.read_bytes()


def test_importing_an_export_twice_stores_nothing_the_second_time(tmp_path: Path) -> None:
    source = seeded_database(tmp_path / "source.sqlite")
    dump = tmp_path / "dump.jsonl"
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"
    crmcore("export", "--db", source, "--kind", "all", "--format", "jsonl", "--out", str(dump))
    crmcore("import", str(dump), "--db", target)

    code, out, _ = crmcore("import", str(dump), "--db", target, "--report", str(tmp_path / "r.csv"))

    with (tmp_path / "r.csv").open(encoding="utf-8", newline="") as handle:
        report = list(csv.reader(handle))
    assert (code, report) == (0, [["line", "kind", "id", "path", "problem"]])
    assert "already stored" in out


def args_for(db: str, **options: object) -> argparse.Namespace:
    """The arguments ``crmcore import`` parses, with the defaults of its options."""
    defaults: dict[str, object] = {
        "db": db,
        "mapping": None,
        "region": None,
        "dry_run": False,
        "sample": None,
        "report": None,
        "encoding": None,
        "batch_size": 10_000,
    }
    return argparse.Namespace(**{**defaults, **options})


def test_the_records_import_stores_an_export_and_reports_its_bad_line(tmp_path: Path) -> None:
    source = seeded_database(tmp_path / "source.sqlite")
    dump = tmp_path / "dump.jsonl"
    crmcore("export", "--db", source, "--kind", "orders", "--format", "jsonl", "--out", str(dump))
    lines = dump.read_text("utf-8").splitlines()
    broken = json.loads(lines[2])
    broken["record"]["amount"]["currency"] = "CNYX"
    dump.write_text("\n".join([*lines[:2], json.dumps(broken), *lines[3:]]) + "\n", "utf-8")
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"
    out, err = io.StringIO(), io.StringIO()

    code = run_records_import(dump, args_for(target), Console(out, err))

    report = (tmp_path / "dump.report.csv").read_text("utf-8").splitlines()
    engine = create_engine(target)
    with SqlStore(engine).unit_of_work() as uow:
        stored = uow.orders.count()
    engine.dispose()
    assert (code, stored) == (0, len(lines) - 2)
    assert report[1].startswith(f"3,orders,{broken['record']['id']},$.record.amount,")


def test_a_dry_run_of_the_records_import_writes_nothing(tmp_path: Path) -> None:
    source = seeded_database(tmp_path / "source.sqlite")
    dump = tmp_path / "dump.jsonl"
    crmcore("export", "--db", source, "--kind", "all", "--format", "jsonl", "--out", str(dump))
    target = tmp_path / "target.sqlite"
    out = io.StringIO()

    code = run_records_import(dump, args_for(f"sqlite:///{target}", dry_run=True), Console(out))

    assert (code, target.exists()) == (0, False)  # not even an empty database
    assert "would store" in out.getvalue()


def test_contact_file_options_are_refused_for_an_export(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text('{"crmcore":"export","format":1}\n', "utf-8")

    with pytest.raises(ConfigurationError, match="--region apply to contact files"):
        run_records_import(dump, args_for("sqlite://", region="CN"), Console(io.StringIO()))


@pytest.mark.parametrize(
    ("first_line", "expected"),
    [
        ('{"crmcore":"export","format":1}', True),
        ('{"kind":"orders","record":{"id":"r-1"}}', True),
        ('{"id":"c-1","kind":"person"}', False),
        ("name,email", False),
    ],
)
def test_an_export_is_recognised_by_its_first_line(
    tmp_path: Path, first_line: str, expected: bool
) -> None:
    path = tmp_path / "file.jsonl"
    path.write_text(f"\n{first_line}\n", "utf-8")

    assert is_crmcore_export(path) == expected


def test_a_missing_file_is_not_an_export(tmp_path: Path) -> None:
    assert is_crmcore_export(tmp_path / "none.jsonl") is False


def test_csv_export_of_orders_has_the_order_columns(tmp_path: Path) -> None:
    source = seeded_database(tmp_path / "source.sqlite")

    code, out, _ = crmcore("export", "--db", source, "--kind", "orders")

    header = out.splitlines()[0]
    assert (code, header) == (
        0,
        "id,customer_id,status,amount,currency,ordered_at,"
        "opportunity_id,external_id,created_at,updated_at",
    )


def test_csv_export_of_a_kind_without_columns_exits_2_naming_the_kinds_with_columns(
    tmp_path: Path,
) -> None:
    code, _, err = crmcore("export", "--db", str(tmp_path / "crm.sqlite"), "--kind", "leads")

    assert code == 2
    assert err.startswith("crmcore export: error: CSV export does not support leads")
    assert all(kind.value in err for kind in CSV_KINDS)


def test_an_unknown_kind_exits_2_and_says_where_contacts_are(tmp_path: Path) -> None:
    code, _, err = crmcore("export", "--db", str(tmp_path / "crm.sqlite"), "--kind", "contacts")

    assert (code, "exported inside their customers" in err) == (2, True)


def test_export_of_a_missing_database_file_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "typo.sqlite"
    code, _, err = crmcore("export", "--db", str(db))
    assert (code, db.exists()) == (2, False)
    assert err.startswith("crmcore export: error: no such database file")
