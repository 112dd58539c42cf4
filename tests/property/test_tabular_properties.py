"""The tabular reader on hostile files: every good row once, every bad row reported, true lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.adapters.tabular import read_table

MAX_CELL = 30
BREAK = re.compile(r"\r\n|\r|\n")

header_names = st.text(alphabet="abcdefxyz姓名邮箱手机", min_size=1, max_size=6)
cell_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', ",", ";", "\t", "|", "\n", "\r", " ", "é", "张", "😀"]),
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    ),
    max_size=8,
)


@dataclass(frozen=True)
class Record:
    """One record as written: its cells, and whether the reader must reject it."""

    cells: list[str]
    bad: bool


@st.composite
def records(draw: st.DrawFn, width: int) -> Record:
    kind = draw(st.sampled_from(["good", "good", "good", "short", "ragged", "oversized"]))
    if kind == "short" and width > 1:
        cells = draw(st.lists(cell_text, min_size=1, max_size=width - 1))
        cells[0] = cells[0] or "x"
        return Record(cells, bad=False)
    cells = draw(st.lists(cell_text, min_size=width, max_size=width))
    if kind == "ragged":
        extra = draw(st.lists(cell_text, min_size=1, max_size=3))
        extra[-1] = extra[-1] or "extra"
        return Record(cells + extra, bad=True)
    if kind == "oversized":
        big = draw(st.text(alphabet='ab"\n,;', min_size=MAX_CELL + 1, max_size=MAX_CELL + 40))
        cells[draw(st.integers(0, width - 1))] = big
        return Record(cells, bad=True)
    if not any(cells):
        cells[0] = "x"
    return Record(cells, bad=False)


@dataclass(frozen=True)
class File:
    headers: list[str]
    records: list[Record]
    blanks: list[int]  # blank lines before each record
    delimiter: str
    encoding: str
    newline: str
    quote_all: bool


@st.composite
def files(draw: st.DrawFn) -> File:
    headers = draw(st.lists(header_names, min_size=1, max_size=5, unique=True))
    if draw(st.booleans()):
        headers.insert(draw(st.integers(0, len(headers))), draw(st.sampled_from(headers)))
    rows = draw(st.lists(records(len(headers)), max_size=12))
    return File(
        headers=headers,
        records=rows,
        blanks=draw(st.lists(st.integers(0, 2), min_size=len(rows), max_size=len(rows))),
        delimiter=draw(st.sampled_from([",", ";", "\t", "|"])),
        encoding=draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "gb18030"])),
        newline=draw(st.sampled_from(["\n", "\r\n"])),
        quote_all=draw(st.booleans()),
    )


def encode_cell(cell: str, delimiter: str, quote_all: bool) -> str:
    if quote_all or any(c in cell for c in (delimiter, '"', "\r", "\n")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def write(path: Path, file: File) -> list[int]:
    """Write the file; return the line each record starts on."""
    parts = [file.delimiter.join(encode_cell(h, file.delimiter, False) for h in file.headers)]
    text = parts[0] + file.newline
    starts = []
    for record, blanks in zip(file.records, file.blanks, strict=True):
        text += file.newline * blanks
        starts.append(1 + len(BREAK.findall(text)))
        text += file.delimiter.join(
            encode_cell(c, file.delimiter, file.quote_all) for c in record.cells
        )
        text += file.newline
    path.write_bytes(text.encode(file.encoding))
    return starts


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=files())
def test_every_good_row_comes_back_once_and_every_bad_row_is_reported_at_its_line(
    tmp_path_factory: pytest.TempPathFactory, file: File
) -> None:
    path = tmp_path_factory.mktemp("hostile") / "in.csv"
    starts = write(path, file)
    width = len(file.headers)
    # GB18030 is detected on Chinese text; random text is told. A one-column header
    # names no delimiter, so it is told too.
    table = read_table(
        path,
        encoding="gb18030" if file.encoding == "gb18030" else None,
        delimiter=file.delimiter if width == 1 else None,
        max_cell=MAX_CELL,
    )
    assert (table.delimiter, len(table.headers), len(set(table.headers))) == (
        file.delimiter,
        width,
        width,
    )
    assert len(table.issues) == width - len(set(file.headers))
    expected = [
        (
            number,
            line,
            None
            if record.bad
            else dict(zip(table.headers, record.cells + [""] * width, strict=False)),
            record.bad,
        )
        for number, (record, line) in enumerate(zip(file.records, starts, strict=True), start=1)
    ]
    actual = [
        (row.number, row.line, None if row.problem else row.values, row.problem is not None)
        for row in table.rows()
    ]
    assert actual == expected
