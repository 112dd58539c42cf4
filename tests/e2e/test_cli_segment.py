"""``crmcore segment`` end to end on SQLite: rules as JSON files, ids or CSV out, exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pendulum
import pytest

from crmcore.adapters.sql import SqlStore, create_engine
from crmcore.adapters.sql.segments import select_customer_ids
from crmcore.cli import main
from crmcore.cli.console import Console
from crmcore.cli.segment import existed_at
from crmcore.clock import utc
from crmcore.segments import HasTag, evaluate, field
from crmcore.serialization import dumps

CONTACTS = [
    ("姓名", "手机", "邮箱", "负责人", "标签"),
    ("张伟", "13800138000", "zhang.wei@example.cn", "u-li", "vip;深圳"),
    ("李娜", "13912345678", "li.na@example.cn", "u-wang", "上海"),
    ("王芳", "13700001111", "wang.fang@example.cn", "u-li", ""),
    ("John Smith", "+1 415 555 2671", "john@example.com", "u-smith", "vip"),
]


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), console=Console(out, err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("segment")
    source = folder / "contacts.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(CONTACTS)
    url = f"sqlite:///{folder / 'crm.sqlite'}"
    code, _, err = run_cli("import", str(source), "--db", url, "--region", "CN")
    assert code == 0, err
    return url


def rule_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rule.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


def names_in_csv(text: str) -> list[str]:
    return sorted(row["name"] for row in csv.DictReader(io.StringIO(text)))


def test_a_tag_rule_selects_the_tagged_customers_as_csv(db: str, tmp_path: Path) -> None:
    rule = rule_file(tmp_path, dumps(HasTag("vip")))
    code, out, _ = run_cli("segment", "--db", db, "--rule", rule, "--format", "csv")
    assert code == 0
    assert names_in_csv(out) == ["John Smith", "张伟"]


def test_an_owner_rule_lists_one_id_per_line(db: str, tmp_path: Path) -> None:
    rule = rule_file(tmp_path, dumps(field("owner") == "u-li"))
    code, out, _ = run_cli("segment", "--db", db, "--rule", rule)
    csv_code, csv_out, _ = run_cli("segment", "--db", db, "--rule", rule, "--format", "csv")
    assert (code, csv_code) == (0, 0)
    assert out.split() == sorted(r["id"] for r in csv.DictReader(io.StringIO(csv_out)))
    assert names_in_csv(csv_out) == ["张伟", "王芳"]


def test_or_and_not_combine_in_json(db: str, tmp_path: Path) -> None:
    rule = (HasTag("上海") | HasTag("深圳")) & ~(field("owner") == "u-wang")
    path = rule_file(tmp_path, dumps(rule))
    code, out, _ = run_cli("segment", "--db", db, "--rule", path, "--format", "csv")
    assert code == 0
    assert names_in_csv(out) == ["张伟"]


def test_out_writes_the_ids_to_a_file_and_says_how_many(db: str, tmp_path: Path) -> None:
    rule = rule_file(tmp_path, dumps(HasTag("vip")))
    target = tmp_path / "ids.txt"
    tomorrow = pendulum.tomorrow("Asia/Shanghai").to_date_string()  # after the import
    code, out, _ = run_cli(
        "segment", "--db", db, "--rule", rule, "--at", tomorrow, "--tz", "Asia/Shanghai",
        "--out", str(target),
    )  # fmt: skip
    assert code == 0
    assert len(target.read_text(encoding="utf-8").split()) == 2
    assert "2 customers selected" in out


def test_an_invalid_rule_exits_2_naming_each_problem_with_its_path(db: str, tmp_path: Path) -> None:
    gold = {"type": "Compare", "field": "tier", "op": "eq", "value": "gold"}
    bad = {"type": "And", "rules": [gold, {"type": "HasTag"}]}
    code, out, err = run_cli("segment", "--db", db, "--rule", rule_file(tmp_path, json.dumps(bad)))
    assert (code, out) == (2, "")
    assert "invalid tier value 'gold'" in err
    assert "@ $.rules[0]" in err
    assert "@ $.rules[1].tag" in err


def test_a_rule_file_that_is_not_json_exits_2(db: str, tmp_path: Path) -> None:
    code, _, err = run_cli("segment", "--db", db, "--rule", rule_file(tmp_path, "{tier: vip"))
    assert code == 2
    assert "not valid JSON" in err


def test_a_missing_rule_file_exits_2(db: str, tmp_path: Path) -> None:
    code, _, err = run_cli("segment", "--db", db, "--rule", str(tmp_path / "nope.json"))
    assert code == 2
    assert "nope.json" in err


def test_a_missing_database_file_exits_2(tmp_path: Path) -> None:
    rule = rule_file(tmp_path, dumps(HasTag("vip")))
    code, _, err = run_cli("segment", "--db", str(tmp_path / "none.sqlite"), "--rule", rule)
    assert code == 2
    assert "no such database file" in err


def test_a_timestamp_without_offset_or_zone_exits_2(db: str, tmp_path: Path) -> None:
    rule = rule_file(tmp_path, dumps(HasTag("vip")))
    code, _, err = run_cli("segment", "--db", db, "--rule", rule, "--at", "2026-03-01T09:00")
    assert code == 2
    assert "no UTC offset" in err


def test_a_missing_option_is_a_usage_error(db: str) -> None:
    assert run_cli("segment", "--db", db)[0] == 1


# --------------------------------------------------------------------------- --at and creation time
EVERYONE = field("owner").is_empty() | ~field("owner").is_empty()


def import_contacts(folder: Path, url: str, name: str, rows: list[tuple[str, ...]]) -> None:
    source = folder / name
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([CONTACTS[0], *rows])
    code, _, err = run_cli("import", str(source), "--db", url, "--region", "CN")
    assert code == 0, err


def test_a_segment_at_an_instant_before_any_customer_existed_is_empty(
    db: str, tmp_path: Path
) -> None:
    rule = rule_file(tmp_path, dumps(EVERYONE))
    code, out, _ = run_cli("segment", "--db", db, "--rule", rule, "--at", "2000-01-01T00:00Z")
    assert (code, out) == (0, "")


def test_a_segment_at_an_instant_leaves_out_customers_created_after_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    import_contacts(tmp_path, url, "first.csv", [CONTACTS[1], CONTACTS[2]])
    between = pendulum.now("UTC")
    import_contacts(tmp_path, url, "second.csv", [CONTACTS[3], CONTACTS[4]])
    rule = rule_file(tmp_path, dumps(EVERYONE))
    args = ("segment", "--db", url, "--rule", rule, "--format", "csv")
    then = run_cli(*args, "--at", between.isoformat())
    now = run_cli(*args)
    assert (then[0], names_in_csv(then[1])) == (0, ["张伟", "李娜"])
    assert (now[0], names_in_csv(now[1])) == (0, ["John Smith", "张伟", "李娜", "王芳"])


def test_the_creation_clause_selects_the_same_customers_in_memory_and_in_sql(
    db: str,
) -> None:
    engine = create_engine(db)
    try:
        with SqlStore(engine).unit_of_work() as uow:
            stored = list(uow.customers.iter_all())
        created = sorted(c.created_at for c in stored)
        at = utc(pendulum.instance(created[1]))
        rule = existed_at(EVERYONE, at)
        in_memory = sorted(c.id for c in stored if evaluate(rule, c, at=at))
        with engine.connect() as connection:
            in_sql = select_customer_ids(connection, rule, at=at)
    finally:
        engine.dispose()
    assert in_sql == in_memory
    assert len(in_sql) == sum(1 for t in created if t <= at)
