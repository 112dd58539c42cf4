"""``crmcore import`` end to end, on SQLite and PostgreSQL: broken rows, re-runs, kill -9."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmcore.adapters.sql import SqlStore, create_engine
from crmcore.cli import main
from crmcore.cli.console import Console
from crmcore.errors import StorageError

POSTGRES_VAR = "CRMCORE_TEST_POSTGRES_URL"
# Tests that count "good" rows reject a row for any bad value; the default policy
# (drop-value) has tests of its own.
STRICT = ("--on-invalid", "reject-row")
HEADER = ["客户编号", "姓名", "手机", "邮箱", "生日", "城市", "备注"]


def write_csv(path: Path, good: int, *, broken_every: int = 10) -> tuple[int, int]:
    """Write ``good`` good rows with a broken row after every ``broken_every - 1`` good ones.

    Returns (good rows, broken rows). Broken rows cycle through: bad phone, bad
    email, impossible date, missing name, and bytes that are not UTF-8.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    lines = [buffer.getvalue().encode()]
    broken = 0
    for n in range(good):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            [f"K{n:06d}", f"客户{n}", f"139{n:08d}", f"user{n}@example.com", "1990/1/2", "深圳", ""]
        )
        lines.append(buffer.getvalue().encode())
        if n % (broken_every - 1) == 0:
            kind = broken % 5
            broken += 1
            row = [f"B{n:06d}", f"坏{n}", f"138{n:08d}", f"bad{n}@example.com", "", "", ""]
            if kind == 0:
                row[2] = "12345"
            elif kind == 1:
                row[3] = "not-an-email"
            elif kind == 2:
                row[4] = "1990-02-30"
            elif kind == 3:
                row[1] = ""
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(row)
            data = buffer.getvalue().encode()
            if kind == 4:
                data = data.replace(f"坏{n}".encode(), f"坏{n}".encode("gbk"))
            lines.append(data)
    path.write_bytes(b"".join(lines))
    return good, broken


def customer_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with SqlStore(engine).unit_of_work() as uow:
            return uow.customers.count()
    except StorageError:  # the schema is not created yet
        return 0
    finally:
        engine.dispose()


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), console=Console(out, err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}"
        return
    url = os.environ.get(POSTGRES_VAR, "").strip()
    if not url:
        pytest.skip(f"set {POSTGRES_VAR} to a SQLAlchemy URL to run these tests")
    schema = f"crm_cli_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"{POSTGRES_VAR} is set but the database is unreachable: {exc}", pytrace=False)
    try:
        yield str(
            sa.make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def test_every_good_row_is_loaded_and_every_bad_one_reported(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    good, broken = write_csv(source, 300)
    report = tmp_path / "report.csv"
    code, out, _ = run_cli(
        "import", str(source), "--db", db_url, "--region", "CN", "--report", str(report), *STRICT
    )
    assert code == 0
    assert customer_count(db_url) == good
    with report.open(encoding="utf-8") as handle:
        rejected_rows = {int(r["row"]) for r in csv.DictReader(handle) if r["kind"] == "rejected"}
    assert len(rejected_rows) == broken
    assert "report:" in out


def test_a_second_run_adds_nothing(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    good, _ = write_csv(source, 120)
    assert run_cli("import", str(source), "--db", db_url, "--region", "CN", *STRICT)[0] == 0
    code, _, _ = run_cli("import", str(source), "--db", db_url, "--region", "CN", *STRICT)
    assert code == 0
    assert customer_count(db_url) == good


def test_a_dry_run_writes_nothing(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    write_csv(source, 50)
    assert run_cli("import", str(source), "--db", db_url, "--region", "CN", "--dry-run")[0] == 0
    assert customer_count(db_url) == 0


def test_a_dry_run_creates_no_database_file(tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    write_csv(source, 20)
    db = tmp_path / "never.sqlite"
    code, out, _ = run_cli("import", str(source), "--db", str(db), "--region", "CN", "--dry-run")
    assert (code, db.exists(), "would store" in out) == (0, False, True)


def test_a_dry_run_on_a_database_without_tables_creates_none(tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    write_csv(source, 20)
    db = tmp_path / "empty.sqlite"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE host_table (id INTEGER)")
    assert run_cli("import", str(source), "--db", str(db), "--region", "CN", "--dry-run")[0] == 0
    assert sa.inspect(engine).get_table_names() == ["host_table"]
    engine.dispose()


def test_by_default_a_bad_value_costs_the_value_not_the_customer(
    db_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "customers.csv"
    good, broken = write_csv(source, 90)
    assert broken == 10  # 2 of each kind
    report = tmp_path / "report.csv"
    code, out, _ = run_cli(
        "import", str(source), "--db", db_url, "--region", "CN", "--report", str(report)
    )
    assert code == 0
    # A bad phone, email or date is dropped; no name, or a name that is not text, rejects.
    assert customer_count(db_url) == good + 6
    with report.open(encoding="utf-8") as handle:
        kinds = [(r["field"], r["kind"]) for r in csv.DictReader(handle)]
    assert sorted(k for k in kinds if k[1] == "dropped") == [
        ("birth_date", "dropped"),
        ("birth_date", "dropped"),
        ("email", "dropped"),
        ("email", "dropped"),
        ("phone", "dropped"),
        ("phone", "dropped"),
    ]
    assert "completeness of the customers stored" in out


def test_rejected_rows_are_quarantined_in_the_input_columns_to_fix_and_reimport(
    db_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "customers.csv"
    good, _ = write_csv(source, 90)
    assert run_cli("import", str(source), "--db", db_url, "--region", "CN")[0] == 0
    quarantine = tmp_path / "customers.rejected.csv"
    with quarantine.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [list(r) for r in rows[:1]] == [[*HEADER, "reason"]]
    assert len(rows) == 4
    assert {r["客户编号"][0] for r in rows} == {"B"}
    for row in rows:  # the user fixes each row's name and imports just those
        row["姓名"] = "补录" + row["客户编号"]
        del row["reason"]
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    code, out, _ = run_cli("import", str(fixed), "--db", db_url, "--region", "CN")
    assert (code, "quarantine:" in out) == (0, False)
    assert customer_count(db_url) == good + 10


def test_national_phones_without_a_region_get_a_hint(tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    write_csv(source, 30)
    code, out, _ = run_cli("import", str(source), "--db", str(tmp_path / "crm.sqlite"))
    assert code == 0
    assert "run again with --region CN" in out


def test_a_mapping_can_be_given_inline_as_json(tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_text("Who,Mobile\n张伟,13800138000\n", encoding="utf-8")
    code, _, err = run_cli(
        "import",
        str(source),
        "--db",
        str(tmp_path / "crm.sqlite"),
        "--region",
        "CN",
        "--mapping",
        '{"name": "Who", "phone": "Mobile"}',
    )
    assert (code, err) == (0, "")
    assert customer_count(f"sqlite:///{tmp_path / 'crm.sqlite'}") == 1


def test_a_mapping_that_is_not_json_exits_2_naming_it(tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_text("Who,Mobile\n张伟,13800138000\n", encoding="utf-8")
    code, _, err = run_cli(
        "import", str(source), "--db", str(tmp_path / "c.sqlite"), "--mapping", "{name: Who}"
    )
    assert (code, "--mapping is not valid JSON" in err) == (2, True)


def test_a_sample_loads_only_the_first_rows(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    write_csv(source, 200, broken_every=1000)
    assert (
        run_cli(
            "import", str(source), "--db", db_url, "--region", "CN", "--sample", "100", *STRICT
        )[0]
        == 0
    )
    assert customer_count(db_url) == 99  # row 1 is a broken row (broken_every counts from 0)


def test_an_import_killed_half_way_and_rerun_stores_each_good_row_once(
    db_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "customers.csv"
    good, _ = write_csv(source, 6_000)
    command = [
        sys.executable,
        "-m",
        "crmcore",
        "import",
        str(source),
        "--db",
        db_url,
        "--region",
        "CN",
        "--batch-size",
        "100",
        *STRICT,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603 - fixed command
    try:
        deadline = time.monotonic() + 60
        while customer_count(db_url) < 500 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    stored_before = customer_count(db_url)
    assert 0 < stored_before < good
    assert run_cli("import", str(source), "--db", db_url, "--region", "CN", *STRICT)[0] == 0
    assert customer_count(db_url) == good


def test_an_unreadable_input_exits_2_with_a_message(tmp_path: Path) -> None:
    code, _, err = run_cli("import", str(tmp_path / "missing.csv"), "--db", str(tmp_path / "x.db"))
    assert (code, "no such file" in err) == (2, True)


def test_a_usage_error_exits_1() -> None:
    assert run_cli("import")[0] == 1


def test_two_email_columns_keep_every_email_and_say_so(tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    lines = ["姓名,邮箱,手机,邮箱"]
    lines += [f"客户{n},,139{n:08d},c{n}@example.com" for n in range(1000)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "crm.sqlite"
    code, out, err = run_cli("import", str(source), "--db", str(db), "--region", "CN")
    assert code == 0
    assert "邮箱 (2)" in err  # the repeated header is renamed, and said
    engine = create_engine(f"sqlite:///{db}")
    with SqlStore(engine).unit_of_work() as uow:
        emails = {str(c.points.primary_email) for c in uow.customers.iter_all()}
    engine.dispose()
    assert emails == {f"c{n}@example.com" for n in range(1000)}
    assert re.search(r"│ email\s+│ 1000\s+│ 100%", out), out  # completeness after the load


def test_a_utf16_tab_separated_file_is_read_without_options(tmp_path: Path) -> None:
    source = tmp_path / "customers.txt"
    text = (
        "姓名\t手机\t邮箱\n张伟\t13800138000\tzw@example.com\n李娜\t13912345678\tln@example.com\n"
    )
    source.write_bytes(text.encode("utf-16"))
    db = tmp_path / "crm.sqlite"
    code, _, err = run_cli("import", str(source), "--db", str(db), "--region", "CN")
    assert (code, err) == (0, "")
    assert customer_count(f"sqlite:///{db}") == 2


def test_an_oversized_cell_costs_its_row_only_and_is_reported_at_its_line(
    tmp_path: Path,
) -> None:
    source = tmp_path / "customers.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["客户编号", "姓名", "手机", "备注"])
        for n in range(2_500):
            note = "x" * 1_200_000 if n == 1_499 else "备注"
            writer.writerow([f"K{n:06d}", f"客户{n}", f"139{n:08d}", note])
    report = tmp_path / "report.csv"
    db = tmp_path / "crm.sqlite"
    code, _, _ = run_cli(
        "import",
        str(source),
        "--db",
        str(db),
        "--region",
        "CN",
        "--report",
        str(report),
        # the oversized row lies in the second of three batches
        "--batch-size",
        "1000",
    )
    assert code == 0
    assert customer_count(f"sqlite:///{db}") == 2_499
    with report.open(encoding="utf-8") as handle:
        rejected = [r for r in csv.DictReader(handle) if r["kind"] == "rejected"]
    assert [(r["row"], r["line"]) for r in rejected] == [("1500", "1501")]


def test_a_json_lines_file_quarantines_its_rejected_rows_as_json_lines(tmp_path: Path) -> None:
    source = tmp_path / "leads.jsonl"
    source.write_text(
        '{"name": "张伟", "phone": "13800138000", "vip": true}\n'
        '{"name": "", "phone": "13900139000", "vip": false}\n'
        "not json\n",
        encoding="utf-8",
    )
    code, out, _ = run_cli("import", str(source), "--db", str(tmp_path / "c.db"), "--region", "CN")
    assert (code, "2 rejected rows" in out) == (0, True)
    lines = (tmp_path / "leads.rejected.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"name": "", "phone": "13900139000", "vip": "false",
         "reason": "name: a name or a company is required"},
        {"name": "", "phone": "", "vip": "",
         "reason": "row: line 3: not valid JSON: Expecting value: line 1 column 1 (char 0)"},
    ]  # fmt: skip
