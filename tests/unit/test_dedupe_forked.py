"""Issue 20: ``dedupe(start_method="fork")`` shares comparisons, estimation and scoring with a
forked process, and its result is the serial one to the bit."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from crmcore.matching import MatchRecord, batch, dedupe, model, recognise_columns, workers
from crmcore.matching.comparison import Comparison, Rows
from crmcore.matching.feature import FeatureTable, build_features
from crmcore.sample import SAMPLE_COLUMNS, generate_contacts

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="forked processes are used on Linux only"
)


@pytest.fixture(scope="module")
def table() -> FeatureTable:
    columns = recognise_columns(list(SAMPLE_COLUMNS))
    records = [
        MatchRecord.from_row([r[c] for c in SAMPLE_COLUMNS], id=r["id"], columns=columns)
        for r in generate_contacts(2500, seed=5)
    ]
    return build_features(records, workers=1)


def _small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "_FORK_PAIRS_FROM", 100)
    monkeypatch.setattr(batch, "_SHARED_CHUNK", 300)


def _same(serial: batch.DedupeResult, forked: batch.DedupeResult) -> None:
    assert forked.cluster_ids == serial.cluster_ids
    assert np.array_equal(forked.left, serial.left)
    assert np.array_equal(forked.levels, serial.levels)
    assert forked.probability.tobytes() == serial.probability.tobytes()
    assert forked.model.prior == serial.model.prior
    assert forked.model.parameters == serial.model.parameters


def test_a_forked_process_compares_pieces_and_the_result_is_the_serial_one(
    table: FeatureTable, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _small_pieces(monkeypatch)
    serial = dedupe(table)
    compare = model.compare_pairs
    seen = tmp_path / "pids"

    def recording(
        table: FeatureTable, comparisons: Sequence[Comparison], left: Rows, right: Rows
    ) -> npt.NDArray[np.int8]:
        with seen.open("a") as stream:  # the forked process inherits this patch
            stream.write(f"{os.getpid()}\n")
        return compare(table, comparisons, left, right)

    monkeypatch.setattr(batch, "compare_pairs", recording)
    forked = dedupe(table, start_method="fork")
    _same(serial, forked)
    assert len(set(seen.read_text().split())) == 2  # this process and the forked one


def test_pieces_a_forked_process_cannot_take_are_worked_here(
    table: FeatureTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_pieces(monkeypatch)
    serial = dedupe(table)
    monkeypatch.setattr(workers, "submit", lambda *_: None)  # as if the pool were broken
    _same(serial, dedupe(table, start_method="fork"))


def test_spawn_and_small_runs_stay_in_this_process(
    table: FeatureTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(*_: object) -> None:
        raise AssertionError("no process may start")

    monkeypatch.setattr(workers, "start_pool", no_pool)
    dedupe(table, start_method="spawn")
    dedupe(table, start_method="fork")  # fewer pairs than _FORK_PAIRS_FROM
