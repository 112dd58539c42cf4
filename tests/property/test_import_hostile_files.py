"""``crmcore import`` on hostile files: every good row stored once, every bad one at its line.

The files are what migrations meet: any of UTF-8 (with or without BOM),
UTF-16 and GB18030; comma, semicolon or tab; ``\\n`` or ``\\r\\n``; quoted
notes full of delimiters, quotes and line breaks; a repeated header; blank
lines; and bad rows — more cells than headers, a cell over the size limit,
no name, a name that is not text in the file's encoding, a phone that is not
a number. The rows go through the same path as the command (the tabular
reader, :func:`crmcore.cli.io.import_rows`, the import service) into the
in-memory store.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pendulum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.tabular import read_table
from crmcore.cli.io import import_rows
from crmcore.clock import FixedClock
from crmcore.services.cleaning import ColumnMapping, IssueKind
from crmcore.services.importing import import_customers

MAX_CELL = 64
SOURCE = "hostile.csv"

note_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', ",", ";", "\t", "\n", " ", "é", "张", "😀", "\\"]),
        st.characters(
            exclude_categories=["Cs", "Cc", "Zl", "Zp"],
            exclude_characters="\x00\r\u0085",
        ),
    ),
    max_size=12,
)


@dataclass(frozen=True)
class Row:
    """One written row: its external id, cells, and what the import must do with it."""

    key: str
    cells: list[str]
    outcome: str  # "stored", "rejected" (reported at its line) or "blank" (not a row)
    raw_name: bytes | None = None  # bytes written in place of the name (not in the encoding)


@st.composite
def rows(draw: st.DrawFn, index: int, width: int, utf8: bool) -> Row:
    kinds = ["good", "good", "good", "bad_phone", "no_name", "ragged", "oversized", "blank"]
    if utf8:
        kinds.append("undecodable")
    kind = draw(st.sampled_from(kinds), label=f"row {index}")
    key = f"K{index:04d}"
    notes = [draw(note_text) for _ in range(width - 3)]
    cells = [key, f"客户{index}", f"139{index:08d}", *notes]
    if kind == "blank":
        return Row(key, [], "blank")
    if kind == "bad_phone":  # dropped, the customer kept (the default policy)
        cells[2] = draw(st.sampled_from(["12345", "not a phone", "+86 1"]))
    elif kind == "no_name":
        cells[1] = ""
        return Row(key, cells, "rejected")
    elif kind == "ragged":
        return Row(key, [*cells, draw(note_text) or "extra"], "rejected")
    elif kind == "oversized":
        cells[-1] = "长" * (MAX_CELL + draw(st.integers(1, 30)))
        return Row(key, cells, "rejected")
    elif kind == "undecodable":
        return Row(key, cells, "rejected", raw_name=f"客户{index}".encode("gbk"))
    return Row(key, cells, "stored")


@dataclass(frozen=True)
class HostileFile:
    encoding: str
    delimiter: str
    newline: str
    headers: list[str]
    rows: list[Row]


@st.composite
def hostile_files(draw: st.DrawFn) -> HostileFile:
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "gb18030"]))
    repeated = draw(st.booleans())
    headers = ["客户编号", "姓名", "手机", "备注", *(["备注"] if repeated else [])]
    count = draw(st.integers(1, 14))
    utf8 = encoding == "utf-8"
    written = [draw(rows(i, len(headers), utf8)) for i in range(count)]
    return HostileFile(
        encoding=encoding,
        delimiter=draw(st.sampled_from([",", ";", "\t"])),
        newline=draw(st.sampled_from(["\n", "\r\n"])),
        headers=headers,
        rows=written,
    )


def write(file: HostileFile, path: Path) -> dict[str, int]:
    """Write the file; return the line each row (by key) starts on."""
    chunks: list[bytes] = []
    starts: dict[str, int] = {}
    line = 1

    def emit(cells: list[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=file.delimiter, lineterminator=file.newline).writerow(cells)
        return buffer.getvalue()

    bom = "\ufeff" if file.encoding == "utf-8-sig" else ""
    text = bom + emit(file.headers)
    chunks.append(text.encode("utf-16" if file.encoding == "utf-16" else _codec(file)))
    line += text.count("\n")
    codec = "utf-16-le" if file.encoding == "utf-16" else _codec(file)
    for row in file.rows:
        if row.outcome == "blank":
            text = file.newline
            chunks.append(text.encode(codec))
        else:
            starts[row.key] = line
            text = emit(row.cells)
            data = text.encode(codec)
            if row.raw_name is not None:
                data = data.replace(row.cells[1].encode(codec), row.raw_name)
            chunks.append(data)
        line += text.count("\n")
    path.write_bytes(b"".join(chunks))
    return starts


def _codec(file: HostileFile) -> str:
    return "utf-8" if file.encoding == "utf-8-sig" else file.encoding


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(file=hostile_files())
def test_every_good_row_is_stored_once_and_every_bad_one_reported_at_its_line(
    file: HostileFile,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / SOURCE
        starts = write(file, path)
        table = read_table(path, max_cell=MAX_CELL)
        mapping = ColumnMapping.detect(list(table.headers))
        store = MemoryStore()
        report = import_customers(
            store,
            import_rows(table),
            mapping,
            source=SOURCE,
            clock=FixedClock(pendulum.datetime(2026, 12, 1)),
            region="CN",
            batch_size=4,
        )

    expected_stored = {r.key for r in file.rows if r.outcome == "stored"}
    with store.unit_of_work() as uow:
        stored = [external.value for c in uow.customers.iter_all() for external in c.external_ids]
    assert sorted(k for k in stored if k.startswith("K")) == sorted(expected_stored)

    rejected_lines = {i.line for i in report.issues if i.kind is IssueKind.REJECTED}
    expected_lines = {starts[r.key] for r in file.rows if r.outcome == "rejected"}
    assert rejected_lines == expected_lines
    assert report.rejected == len(expected_lines)
    assert report.rows == sum(1 for r in file.rows if r.outcome != "blank")
