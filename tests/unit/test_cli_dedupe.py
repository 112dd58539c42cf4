from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from crmcore.cli import main
from crmcore.sample import generate_contacts, write_csv


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_dedupe_writes_a_cluster_for_every_row(tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    write_csv(generate_contacts(300, seed=2), source)
    out, pairs = tmp_path / "out.csv", tmp_path / "pairs.csv"
    code = main(["dedupe", str(source), "--out", str(out), "--explain", str(pairs), "--quiet"])
    rows = read(out)
    assert code == 0
    assert [r["id"] for r in rows] == [r["id"] for r in read(source)]
    assert len({r["cluster_id"] for r in rows}) < len(rows)
    assert {"left_id", "right_id", "match_probability", "name_weight"} <= set(read(pairs)[0])


def test_dedupe_reads_chinese_headers_and_numbers_rows_without_ids(tmp_path: Path) -> None:
    source = tmp_path / "客户.csv"
    source.write_text(
        "姓名,手机,邮箱,备注\n张伟,138 0013 8000,,\nZhang Wei,+86 138-0013-8000,,VIP\n"
        "李娜,13912345678,lina@example.com,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert main(["dedupe", str(source), "--out", str(out), "--region", "CN", "--quiet"]) == 0
    assert [(r["id"], r["cluster_id"]) for r in read(out)] == [("1", "1"), ("2", "1"), ("3", "3")]


def test_dedupe_uses_the_given_id_column(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("key,name,phone\nk2,张伟,13800138000\nk1,Zhang Wei,13800138000\n", "utf-8")
    out = tmp_path / "out.csv"
    code = main(["dedupe", str(source), "--out", str(out), "--id-column", "key", "--region", "CN",
                 "--quiet"])  # fmt: skip
    assert code == 0
    assert [(r["id"], r["cluster_id"]) for r in read(out)] == [("k2", "k1"), ("k1", "k1")]


def test_unreadable_input_exits_non_zero_with_a_message(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "crmcore", "dedupe", str(missing), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "cannot read" in done.stderr


def test_csv_without_recognisable_columns_exits_non_zero(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["dedupe", str(source), "--out", str(tmp_path / "o.csv"), "--quiet"]) == 2


def test_binary_input_exits_non_zero(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_bytes(b"\xff\xfe\x00name\x00\n\x00\x01")
    assert main(["dedupe", str(source), "--out", str(tmp_path / "o.csv"), "--quiet"]) == 2


def test_duplicate_ids_exit_non_zero(tmp_path: Path) -> None:
    source = tmp_path / "dup.csv"
    source.write_text("id,name\n1,张伟\n1,李娜\n", encoding="utf-8")
    assert main(["dedupe", str(source), "--out", str(tmp_path / "o.csv"), "--quiet"]) == 2


CHINESE = (
    "姓名;手机;邮箱\n张伟;138 0013 8000;\nZhang Wei;+86 138-0013-8000;\n"
    "李娜;13912345678;lina@example.com\n"
)


def test_dedupe_reads_a_gb18030_semicolon_file(tmp_path: Path) -> None:
    source = tmp_path / "客户.csv"
    source.write_bytes(CHINESE.encode("gb18030"))
    out = tmp_path / "out.csv"
    assert main(["dedupe", str(source), "--out", str(out), "--region", "CN", "--quiet"]) == 0
    assert [(r["id"], r["cluster_id"]) for r in read(out)] == [("1", "1"), ("2", "1"), ("3", "3")]


def test_dedupe_reads_a_utf16_tab_separated_file(tmp_path: Path) -> None:
    source = tmp_path / "export.txt"
    source.write_text(CHINESE.replace(";", "\t"), encoding="utf-16")
    out = tmp_path / "out.csv"
    assert main(["dedupe", str(source), "--out", str(out), "--region", "CN", "--quiet"]) == 0
    assert [(r["id"], r["cluster_id"]) for r in read(out)] == [("1", "1"), ("2", "1"), ("3", "3")]


def test_dedupe_takes_the_encoding_and_delimiter_it_is_given(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("name|city\nJosé Müller|Köln\nJose Muller|Köln\n".encode("latin-1"))
    out = tmp_path / "out.csv"
    code = main(["dedupe", str(source), "--out", str(out), "--encoding", "latin-1",
                 "--delimiter", "|", "--quiet"])  # fmt: skip
    assert code == 0
    assert [r["id"] for r in read(out)] == ["1", "2"]


def test_dedupe_leaves_out_unreadable_rows_and_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "姓名,邮箱,邮箱\n张伟,a@example.com,\n李娜,b@example.com,,stray\n王芳,c@example.com,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert main(["dedupe", str(source), "--out", str(out), "--quiet"]) == 0
    assert [r["id"] for r in read(out)] == ["1", "3"]
    assert capsys.readouterr().err.splitlines() == [
        f"crmcore dedupe: warning: {source}: line 1, column 3: header '邮箱' repeats column 2: "
        "read as '邮箱 (2)'",
        "crmcore dedupe: warning: 1 row left out (unreadable):",
        "  line 3: a cell beyond the 3 columns of the header: column 4 'stray'",
    ]


def test_an_unknown_encoding_exits_non_zero_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("name\nAnn\n", encoding="utf-8")
    code = main(["dedupe", str(source), "--out", str(tmp_path / "o.csv"), "--encoding", "klingon"])
    assert code == 2
    assert capsys.readouterr().err == "crmcore dedupe: error: unknown encoding 'klingon'\n"


def test_an_empty_file_exits_non_zero_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "empty.csv"
    source.write_bytes(b"")
    assert main(["dedupe", str(source), "--out", str(tmp_path / "o.csv"), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"crmcore dedupe: error: {source}: the file is empty: a header row is required\n"
    )
