"""``crmcore schema`` and ``crmcore --lang``: in process, on a pseudo-terminal and piped."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import select
import struct
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from crmcore.cli import main
from crmcore.cli.console import Console
from crmcore.domain import Customer
from crmcore.lifecycle.rules import ActionKind
from crmcore.segments import HasTag
from crmcore.segments.rfm import RfmSegment
from crmcore.serialization import SCHEMA_TYPES, json_schema, unstructure
from crmcore.services.cleaning import IssueKind

TIMEOUT = 60.0


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), console=Console(out, err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_language_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMCORE_LANG", raising=False)


def test_without_a_type_every_payload_type_is_listed() -> None:
    code, out, err = run_cli("schema")
    assert (code, err) == (0, "")
    assert "payload types" in out
    assert [name for name in SCHEMA_TYPES if name not in out] == []


def test_the_list_is_in_chinese_with_lang_zh_cn() -> None:
    code, out, _ = run_cli("--lang", "zh_CN", "schema")
    assert code == 0
    for word in ("数据类型", "类型", "名称", "客户", "细分规则", "访问策略", "同意记录"):
        assert word in out


def test_crmcore_lang_in_the_environment_switches_the_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRMCORE_LANG", "zh-CN")
    assert "数据类型" in run_cli("schema")[1]
    assert "payload types" in run_cli("--lang", "en", "schema")[1]  # the option wins


def test_an_unsupported_language_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_cli("--lang", "fr", "schema")
    assert code == 1
    assert "argument --lang: supported locales are en, zh_CN" in err
    monkeypatch.setenv("CRMCORE_LANG", "klingon")
    code, out, err = run_cli("schema")
    assert (code, out) == (1, "")
    assert err == "crmcore: error: $CRMCORE_LANG: supported locales are en, zh_CN\n"


@pytest.mark.parametrize("name", ["Customer", "customer", "CUSTOMER"])
def test_a_type_prints_its_schema_as_json(name: str) -> None:
    code, out, err = run_cli("schema", name)
    assert (code, err) == (0, "")
    schema = json.loads(out)
    assert schema == json_schema(Customer)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_a_schema_in_chinese_has_chinese_titles() -> None:
    code, out, _ = run_cli("--lang", "zh_CN", "schema", "Rule")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "细分规则"
    assert schema["$defs"]["HasTag"]["title"] == "带有标签"
    jsonschema.validate(unstructure(HasTag("vip")), schema)


def test_a_schema_is_written_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "workflow.schema.json"
    code, out, _ = run_cli("schema", "Workflow", "--out", str(target))
    assert code == 0
    assert str(target) in out
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == "workflow"


def test_an_unknown_type_is_an_input_error_listing_the_types() -> None:
    code, out, err = run_cli("schema", "Invoice")
    assert (code, out) == (2, "")
    assert err.startswith("crmcore schema: error: invalid schema type 'Invoice': expected one of")
    assert "AccessPolicy" in err
    assert "Workflow" in err
    code, _, err = run_cli("--lang", "zh_CN", "schema", "Invoice")
    assert code == 2
    assert err.startswith("crmcore schema: 错误: 无效的数据类型 'Invoice'")


def test_an_unwritable_out_file_is_an_input_error(tmp_path: Path) -> None:
    code, _, err = run_cli("schema", "Money", "--out", str(tmp_path / "missing" / "x.json"))
    assert code == 2
    assert "cannot write" in err


def test_other_commands_tables_switch_language(tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [("姓名", "手机"), ("张伟", "13800138000"), ("李娜", "not a phone")]
        )
    db = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    code, out, err = run_cli("--lang", "zh_CN", "import", str(source), "--db", db, "--dry-run")
    assert code == 0, err
    for heading in ("导入（试运行：未写入）", "行数", "将存储", "已拒绝"):
        assert heading in out
    code, out, _ = run_cli("import", str(source), "--db", db, "--dry-run")
    assert "import (dry run: nothing written)" in out


def test_a_payload_error_reads_in_chinese(tmp_path: Path) -> None:
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"type": "HasTag"}), encoding="utf-8")
    db = tmp_path / "crm.sqlite"
    source = tmp_path / "one.csv"
    source.write_text("姓名\n张伟\n", encoding="utf-8")
    assert run_cli("import", str(source), "--db", f"sqlite:///{db}")[0] == 0
    code, _, err = run_cli("--lang", "zh_CN", "segment", "--db", str(db), "--rule", str(rule))
    assert code == 2
    assert f"crmcore segment: 错误: 无效的细分规则 {rule}（1 个问题）" in err
    assert "缺少必填字段 @ $.tag" in err


# -- as the user runs it: the real process on a pseudo-terminal and piped ------------------


def _on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    import fcntl  # noqa: PLC0415 - POSIX only
    import termios  # noqa: PLC0415

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    try:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-m", "crmcore", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], TIMEOUT)
            if not ready:
                pytest.fail("the command hangs")
            try:
                chunk = os.read(master, 1 << 16)
            except OSError as exc:
                if exc.errno == errno.EIO:
                    break
                raise
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=TIMEOUT)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "CRMCORE_LANG"}}
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="30", PYTHONIOENCODING="utf-8")
    env.update(extra)
    return env


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="needs a pty")
def test_the_chinese_list_on_a_terminal() -> None:
    code, output = _on_terminal(["--lang", "zh_CN", "schema"], _environment())
    assert code == 0, output
    assert "Traceback" not in output
    for word in ("数据类型", "客户", "流程", "访问策略"):
        assert word in output


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="needs a pty")
def test_an_error_on_a_terminal_is_one_chinese_line() -> None:
    code, output = _on_terminal(["schema", "Invoice"], _environment(CRMCORE_LANG="zh_CN"))
    assert code == 2
    assert "Traceback" not in output
    assert output.strip().startswith("crmcore schema: 错误: 无效的数据类型 'Invoice'")


def test_a_schema_piped_to_another_program_is_plain_json() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crmcore", "--lang", "zh_CN", "schema", "TimeRule"],
        capture_output=True,
        env=_environment(),
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0
    assert b"\x1b" not in done.stdout
    schema = json.loads(done.stdout.decode("utf-8"))
    assert schema["title"] == "时间规则"


def test_enum_cells_show_their_chinese_labels() -> None:
    out = io.StringIO()
    zh = Console(out, io.StringIO(), locale="zh_CN")
    en = Console(io.StringIO(), io.StringIO())
    assert (zh.value(RfmSegment.AT_RISK), en.value(RfmSegment.AT_RISK)) == ("流失预警", "at_risk")
    assert zh.value(ActionKind.REMIND_SUPERVISOR) == "提醒主管"
    zh.table("problems", ["row", "kind"], [[1, zh.value(IssueKind.DROPPED)]])
    shown = out.getvalue()
    assert "问题" in shown
    assert "已丢弃" in shown
