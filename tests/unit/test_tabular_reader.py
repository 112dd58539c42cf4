from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from crmcore.adapters.tabular import (
    SourceRow,
    TableError,
    TableIssue,
    read_table,
)
from crmcore.cli.io import InputError, count_rows, import_rows, open_table, read_rows
from crmcore.errors import ConfigurationError, MissingExtraError
from crmcore.services.cleaning import ROW_ERROR, ROW_LINE

ROWS = [["张伟", "13800138000", "zhang@example.com"], ["Li, Na", 'say "hi"', "li@example.com"]]
HEADERS = ["姓名", "手机", "邮箱"]


def write(
    path: Path, rows: Sequence[Sequence[str]], *, encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    with path.open("w", encoding=encoding, newline="") as stream:
        csv.writer(stream, delimiter=delimiter).writerows(rows)
    return path


def good(table_rows: object) -> list[tuple[int, dict[str, str]]]:
    return [(r.line, r.values) for r in table_rows if r.problem is None]  # type: ignore[attr-defined]


def as_values(rows: Sequence[Sequence[str]]) -> list[dict[str, str]]:
    return [dict(zip(HEADERS, row, strict=True)) for row in rows]


# --- encodings and delimiters -------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),
        ("utf-16-be", "utf-16-be"),
        ("utf-32", "utf-32"),
        ("gb18030", "gb18030"),
        ("gbk", "gb18030"),
    ],
)
def test_each_encoding_is_detected_and_read(tmp_path: Path, encoding: str, detected: str) -> None:
    path = write(tmp_path / "in.csv", [HEADERS, *ROWS], encoding=encoding)
    table = read_table(path)
    assert (table.encoding, table.headers) == (detected, tuple(HEADERS))
    assert [r.values for r in table.rows()] == as_values(ROWS)


def test_utf16_with_a_bom_is_read_when_the_data_is_mostly_ascii(tmp_path: Path) -> None:
    rows = [["name", "email"], *[[f"user {i}", f"u{i}@example.com"] for i in range(50)]]
    path = write(tmp_path / "in.csv", rows, encoding="utf-16")
    table = read_table(path)
    assert (table.encoding, table.headers, len(list(table.rows()))) == (
        "utf-16",
        ("name", "email"),
        50,
    )


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_detected_with_quoted_cells_holding_the_others(
    tmp_path: Path, delimiter: str
) -> None:
    rows = [*ROWS, ["a,b;c\td|e", "x", "y"]]
    path = write(tmp_path / "in.csv", [HEADERS, *rows], delimiter=delimiter)
    table = read_table(path)
    assert (table.delimiter, [r.values for r in table.rows()]) == (delimiter, as_values(rows))


def test_a_semicolon_file_with_commas_in_unquoted_cells_is_semicolon_separated(
    tmp_path: Path,
) -> None:
    path = tmp_path / "in.csv"
    path.write_text("name;address\nAnn;1 Main St, Springfield\nBob;2 High St, Oxford\n", "utf-8")
    table = read_table(path)
    assert (table.delimiter, [r.values["address"] for r in table.rows()]) == (
        ";",
        ["1 Main St, Springfield", "2 High St, Oxford"],
    )


def test_a_given_encoding_and_delimiter_override_detection(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", [["a;b", "c"], ["1;2", "3"]], encoding="latin-1")
    table = read_table(path, encoding="latin-1", delimiter=";")
    assert (table.headers, [r.values for r in table.rows()]) == (
        ("a", "b,c"),
        [{"a": "1", "b,c": "2,3"}],
    )


@pytest.mark.parametrize("name", ["\\t", "tab", "TAB"])
def test_a_delimiter_may_be_given_by_name(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / "in.csv", [["a", "b"], ["1", "2"]], delimiter="\t")
    assert read_table(path, delimiter=name).delimiter == "\t"


def test_a_one_column_file_is_read_with_the_comma(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("email\na@example.com\n", "utf-8")
    table = read_table(path)
    assert (table.delimiter, table.headers, [r.values for r in table.rows()]) == (
        ",",
        ("email",),
        [{"email": "a@example.com"}],
    )


def test_undecodable_bytes_become_replacement_characters_for_the_cleaner(tmp_path: Path) -> None:
    lines = [b"name,city"] + [f"user {i},Paris".encode() for i in range(40)] + [b"Jos\xe9,Lyon"]
    path = tmp_path / "in.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    last = list(read_table(path).rows())[-1]
    assert (last.values, last.problem) == ({"name": "Jos\ufffd", "city": "Lyon"}, None)


# --- lines, blanks, short and ragged rows ---------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_lines_count_blank_lines_and_quoted_line_breaks(tmp_path: Path, newline: str) -> None:
    text = newline.join(
        ["name,notes", "", "Ann,one", '"Bob","two', 'lines"', "", "", "Cy,three", ""]
    )
    path = tmp_path / "in.csv"
    path.write_text(text, "utf-8", newline="")
    rows = list(read_table(path).rows())
    assert [(r.number, r.line, r.values["name"], r.problem) for r in rows] == [
        (1, 3, "Ann", None),
        (2, 4, "Bob", None),
        (3, 8, "Cy", None),
    ]
    assert rows[1].values["notes"] == f"two{newline}lines"


def test_leading_blank_lines_move_the_header_down(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("\n\nname\nAnn\n", "utf-8")
    assert [(r.number, r.line) for r in read_table(path).rows()] == [(1, 4)]


def test_a_short_row_is_padded_and_a_row_of_empty_cells_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b,c\n1\n,,\n2,3\n", "utf-8")
    assert [(r.number, r.line, r.values, r.problem) for r in read_table(path).rows()] == [
        (1, 2, {"a": "1", "b": "", "c": ""}, None),
        (2, 4, {"a": "2", "b": "3", "c": ""}, None),
    ]


def test_a_row_with_more_cells_than_headers_is_reported_with_the_extra_cells(
    tmp_path: Path,
) -> None:
    path = tmp_path / "in.csv"
    path.write_text("name,phone\nAnn,1,,VIP customer\nBob,2,,\nCy,3\n", "utf-8")
    rows = list(read_table(path).rows())
    assert [(r.number, r.line, r.problem) for r in rows] == [
        (1, 2, "a cell beyond the 2 columns of the header: column 4 'VIP customer'"),
        (2, 3, None),  # trailing empty cells lose nothing
        (3, 4, None),
    ]


def test_duplicate_headers_are_renamed_and_reported_and_no_value_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("姓名,邮箱,邮箱,\n张伟,a@example.com,b@example.com,x\n", "utf-8")
    table = read_table(path)
    assert table.headers == ("姓名", "邮箱", "邮箱 (2)", "column 4")
    assert table.issues == (
        TableIssue(1, 3, "header '邮箱' repeats column 2: read as '邮箱 (2)'"),
        TableIssue(1, 4, "empty header: read as 'column 4'"),
    )
    assert [r.values for r in table.rows()] == [
        {"姓名": "张伟", "邮箱": "a@example.com", "邮箱 (2)": "b@example.com", "column 4": "x"}
    ]


# --- oversized cells, broken quoting ----------------------------------------------------------


def big_file(path: Path, rows: int, bad_row: int, cell: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["name", "email", "notes"])
        for n in range(1, rows + 1):
            writer.writerow([f"user {n}", f"u{n}@example.com", cell if n == bad_row else ""])
    return path


def test_a_cell_over_csvs_own_limit_is_read_when_under_max_cell(tmp_path: Path) -> None:
    path = big_file(tmp_path / "in.csv", 20, 7, "x" * 200_000)
    rows = list(read_table(path).rows())
    assert [len(r.values["notes"]) for r in rows if r.number == 7] == [200_000]
    assert [r for r in rows if r.problem] == []


@pytest.mark.parametrize(
    "cell", ["x" * 1_200_000, "line\n" * 240_000], ids=["one-line", "multi-line"]
)
def test_a_huge_cell_at_row_15000_of_25000_rejects_that_row_only(tmp_path: Path, cell: str) -> None:
    path = big_file(tmp_path / "in.csv", 25_000, 15_000, cell)
    rows = list(read_table(path).rows())
    bad = [(r.number, r.line, r.problem) for r in rows if r.problem]
    assert bad == [(15_000, 15_001, "a cell is longer than 1,000,000 characters")]
    readable = [r for r in rows if r.problem is None]
    assert [r.values["name"] for r in readable] == [
        f"user {n}" for n in range(1, 25_001) if n != 15_000
    ]
    extra = cell.count("\n")
    assert [r.line for r in readable[-2:]] == [24_999 + 1 + extra, 25_000 + 1 + extra]
    assert csv.field_size_limit() == 131_072


def test_max_cell_is_the_callers_choice(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b\n12345,x\n123456,y\n", "utf-8")
    assert [(r.line, r.problem) for r in read_table(path, max_cell=5).rows()] == [
        (2, None),
        (3, "a cell is longer than 5 characters"),
    ]


def test_a_line_too_long_for_the_header_is_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n" + ",".join(["abc"] * 100) + "\n3,4\n", "utf-8")
    rows = list(read_table(path, max_cell=5).rows())
    assert [(r.line, r.values, r.problem) for r in rows] == [
        (2, {"a": "1", "b": "2"}, None),
        (3, {}, "a line is longer than 39 characters"),
        (4, {"a": "3", "b": "4"}, None),
    ]


def test_a_quoted_cell_never_closed_is_reported_with_the_lines_it_swallowed(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('a,b\n1,2\n3,"open\n4,5\n6,7\n', "utf-8")
    rows = list(read_table(path).rows())
    assert [(r.line, r.problem) for r in rows] == [
        (2, None),
        (
            3,
            "a quoted cell opened here is never closed: "
            "lines 3–5 (the end of the file) read as one row",
        ),
    ]


def test_the_csv_field_limit_is_the_hosts_between_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", [HEADERS, *ROWS])
    rows = read_table(path, max_cell=50).rows()
    next(rows)
    between = csv.field_size_limit()
    rest = list(rows)
    assert (between, len(rest), csv.field_size_limit()) == (131_072, 1, 131_072)


def test_rows_can_be_read_again(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "in.csv", [HEADERS, *ROWS]))
    assert list(table.rows()) == list(table.rows())


# --- whole-file errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        (b"", "the file is empty: a header row is required"),
        (b"\n \n\r\n", "the file is empty: a header row is required"),
    ],
)
def test_a_file_without_a_header_is_an_error_naming_the_path(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TableError) as caught:
        read_table(path)
    assert (caught.value.path, caught.value.reason, str(caught.value)) == (
        path,
        reason,
        f"{path}: {reason}",
    )


def test_a_directory_is_not_a_table(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="is a directory"):
        read_table(tmp_path)


def test_an_unknown_encoding_or_a_bad_delimiter_is_a_configuration_error(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", [HEADERS, *ROWS])
    with pytest.raises(ConfigurationError, match="unknown encoding 'klingon'"):
        read_table(path, encoding="klingon")
    with pytest.raises(ConfigurationError, match="delimiter"):
        read_table(path, delimiter='"')
    with pytest.raises(ConfigurationError, match="max_cell"):
        read_table(path, max_cell=0)


def test_binary_garbage_reads_without_a_decoding_error(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(bytes(range(256)) * 40)
    table = read_table(path)
    assert all(isinstance(r, SourceRow) for r in table.rows())


# --- JSON lines --------------------------------------------------------------------------------


def test_json_lines_keep_non_text_values_as_json_and_report_broken_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"name": "张伟", "phone": 13800138000, "vip": True}, ensure_ascii=False),
        "",
        "{broken",
        json.dumps({"name": "Li", "tags": {"a": [1, 2]}, "phone": None}),
        "[1, 2]",
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    table = read_table(path)
    assert (table.format, table.headers) == ("jsonl", ("name", "phone", "vip", "tags"))
    rows = [(r.number, r.line, r.values, r.problem) for r in table.rows()]
    assert rows[0] == (
        1,
        1,
        {"name": "张伟", "phone": "13800138000", "vip": "true", "tags": ""},
        None,
    )
    assert rows[1][:3] == (2, 3, {})
    assert str(rows[1][3]).startswith("not valid JSON: ")
    assert rows[2] == (3, 4, {"name": "Li", "phone": "", "vip": "", "tags": '{"a": [1, 2]}'}, None)
    assert rows[3] == (4, 5, {}, "not a JSON object: [1, 2]")


def test_json_lines_without_an_object_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "in.ndjson"
    path.write_text("[1]\n2\n", "utf-8")
    with pytest.raises(TableError, match="no line is a JSON object"):
        read_table(path)


# --- spreadsheets ------------------------------------------------------------------------------


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(ref: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if isinstance(value, dt.date):
        serial = (value - dt.date(1899, 12, 30)).days
        return f'<c r="{ref}" s="1"><v>{serial}</v></c>'
    text = escape(str(value))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def write_xlsx(path: Path, rows: Sequence[Sequence[object]], sheets: int = 1) -> Path:
    """Write a minimal .xlsx by hand (it is zipped XML): inline strings, numbers, dates."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    data = "".join(
        f'<row r="{r}">'
        + "".join(_cell(f"{_column(c)}{r}", v) for c, v in enumerate(row))
        + "</row>"
        for r, row in enumerate(rows, start=1)
        if row
    )
    sheet = f'<worksheet xmlns="{main}"><sheetData>{data}</sheetData></worksheet>'
    names = "".join(
        f'<sheet name="Sheet{i}" sheetId="{i}" r:id="rId{i}"/>' for i in range(1, sheets + 1)
    )
    links = "".join(
        f'<Relationship Id="rId{i}" Type="{rel}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, sheets + 1)
    )
    kinds = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{kinds}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{kinds}.styles+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            f'ContentType="{kinds}.worksheet+xml"/>'
            for i in range(1, sheets + 1)
        )
        + "</Types>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>{names}</sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{pkg}">{links}<Relationship Id="rId{sheets + 1}" '
            f'Type="{rel}/styles" Target="styles.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/styles.xml",
            f'<styleSheet xmlns="{main}"><cellXfs count="2"><xf numFmtId="0"/>'
            '<xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>',
        )
        for i in range(1, sheets + 1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", sheet)
    return path


def test_a_spreadsheet_reads_numbers_dates_and_duplicate_headers_as_text(tmp_path: Path) -> None:
    pytest.importorskip("python_calamine")
    path = write_xlsx(
        tmp_path / "客户.xlsx",
        [
            [],
            ["姓名", "手机", "邮箱", "邮箱", "生日", "VIP", "积分"],
            [
                "张伟",
                13800138000,
                "a@example.com",
                "b@example.com",
                dt.date(1990, 5, 17),
                True,
                1.5,
            ],
            [],
            ["李娜", 13912345678.0, None, None, None, False, 2],
        ],
        sheets=2,
    )
    table = read_table(path)
    assert (table.format, table.encoding, table.delimiter) == ("xlsx", None, None)
    assert table.headers == ("姓名", "手机", "邮箱", "邮箱 (2)", "生日", "VIP", "积分")
    assert table.issues == (
        TableIssue(1, None, "the workbook has 2 sheets: read the first, 'Sheet1'"),
        TableIssue(2, 4, "header '邮箱' repeats column 3: read as '邮箱 (2)'"),
    )
    first = {"姓名": "张伟", "手机": "13800138000", "邮箱": "a@example.com"}
    first |= {"邮箱 (2)": "b@example.com", "生日": "1990-05-17", "VIP": "TRUE", "积分": "1.5"}
    second = {"姓名": "李娜", "手机": "13912345678", "邮箱": "", "邮箱 (2)": ""}
    second |= {"生日": "", "VIP": "FALSE", "积分": "2"}
    assert [(r.number, r.line, r.values, r.problem) for r in table.rows()] == [
        (1, 3, first, None),
        (2, 5, second, None),
    ]


def test_a_spreadsheet_row_wider_than_the_header_is_reported(tmp_path: Path) -> None:
    pytest.importorskip("python_calamine")
    path = write_xlsx(
        tmp_path / "in.xlsx", [["name", "phone"], ["Ann", 1, None, "note"], ["Bob", 2]]
    )
    assert [(r.line, r.problem) for r in read_table(path).rows()] == [
        (2, "a cell beyond the 2 columns of the header: column 4 'note'"),
        (3, None),
    ]


def test_a_broken_or_empty_spreadsheet_is_an_error_naming_the_path(tmp_path: Path) -> None:
    pytest.importorskip("python_calamine")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    empty = write_xlsx(tmp_path / "empty.xlsx", [])
    with pytest.raises(TableError, match="not a readable spreadsheet"):
        read_table(broken)
    with pytest.raises(TableError, match="is empty: a header row is required"):
        read_table(empty)


def test_reading_a_spreadsheet_without_the_extra_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "python_calamine", None)
    path = write_xlsx(tmp_path / "in.xlsx", [["name"], ["Ann"]])
    with pytest.raises(MissingExtraError) as caught:
        read_table(path)
    assert (caught.value.extra, caught.value.missing) == ("xlsx", "python_calamine")
    assert "pip install 'crmcore[xlsx]'" in str(caught.value)
    assert str(caught.value).startswith("reading .xlsx")


# --- the command's view: dict rows for the import ------------------------------------------------


def test_import_rows_carry_their_line_and_unreadable_rows_carry_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('name,phone\nAnn,1\n\n"Bob\nSmith",2,extra\nCy,3\n', "utf-8")
    headers, rows = read_rows(path)
    assert headers == ["name", "phone"]
    assert list(rows) == [
        {"name": "Ann", "phone": "1", ROW_LINE: "2"},
        {
            "name": "Bob\nSmith",
            "phone": "2",
            ROW_LINE: "4",
            ROW_ERROR: "line 4: a cell beyond the 2 columns of the header: column 3 'extra'",
        },
        {"name": "Cy", "phone": "3", ROW_LINE: "6"},
    ]


def test_open_table_shows_the_issues_and_import_rows_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("email,email\na@example.com,b@example.com\n", "utf-8")
    table = open_table(path)
    assert [str(i) for i in table.issues] == [
        "line 1, column 2: header 'email' repeats column 1: read as 'email (2)'"
    ]
    assert list(import_rows(table)) == [
        {"email": "a@example.com", "email (2)": "b@example.com", ROW_LINE: "2"}
    ]


def test_a_missing_file_is_an_input_error_for_the_command(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_rows(tmp_path / "missing.csv")


def test_count_rows_counts_lines_of_text_files_only(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "in.csv", [HEADERS, *ROWS])
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"a": 1}\n{"a": 2}\n', "utf-8")
    assert (count_rows(csv_path), count_rows(jsonl), count_rows(tmp_path / "in.xlsx")) == (
        2,
        2,
        None,
    )
