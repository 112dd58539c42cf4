"""write_csv: every kind of target a user hands it, and what it says when it cannot write."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from crmcore.errors import InvalidValueError
from crmcore.sample import SAMPLE_COLUMNS, generate_contacts, write_csv


@pytest.mark.parametrize("as_text", [True, False], ids=["str", "Path"])
def test_a_path_given_as_text_or_path_is_written(tmp_path: Path, as_text: bool) -> None:
    target = tmp_path / "sample.csv"
    assert write_csv(generate_contacts(20, seed=3), str(target) if as_text else target) == 20
    with target.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["id"] for r in rows] == [r["id"] for r in generate_contacts(20, seed=3)]
    assert list(rows[0]) == list(SAMPLE_COLUMNS)


def test_a_path_that_cannot_be_written_names_the_target(tmp_path: Path) -> None:
    missing = tmp_path / "no such folder" / "sample.csv"
    with pytest.raises(InvalidValueError, match="cannot write: No such file") as caught:
        write_csv(generate_contacts(2, seed=1), missing)
    assert caught.value.field == "target"


@pytest.mark.parametrize("target", [io.BytesIO(), 42, None], ids=["bytes", "int", "None"])
def test_a_target_that_is_no_text_stream_is_refused(target: object) -> None:
    with pytest.raises(InvalidValueError) as caught:
        write_csv(generate_contacts(2, seed=1), target)  # type: ignore[arg-type]
    assert caught.value.field == "target"


def test_a_binary_file_object_is_refused(tmp_path: Path) -> None:
    with (tmp_path / "x.csv").open("wb") as stream, pytest.raises(InvalidValueError) as caught:
        write_csv(generate_contacts(2, seed=1), stream)  # type: ignore[arg-type]
    assert caught.value.field == "target"


def test_a_bad_row_is_named_and_the_rows_before_it_are_written() -> None:
    out = io.StringIO()
    good = list(generate_contacts(2, seed=1))
    with pytest.raises(InvalidValueError, match="row 3") as caught:
        write_csv([*good, "not a row"], out)  # type: ignore[list-item]
    assert caught.value.field == "row 3"
    assert [r["id"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == [r["id"] for r in good]
