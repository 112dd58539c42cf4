from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crmcore.errors import ConfigurationError, InvalidValueError
from crmcore.matching import (
    DEFAULT_COMPARISONS,
    MatchRecord,
    MatchSettings,
    StartMethod,
    build_features,
    build_features_from_rows,
    candidate_pairs,
    cluster_pairs,
    compare_pairs,
    dedupe,
    estimate_model,
    recognise_columns,
)
from crmcore.sample import SAMPLE_COLUMNS, generate_contacts, write_csv


def sample_records(count: int, seed: int = 3) -> tuple[list[MatchRecord], dict[str, str]]:
    columns = recognise_columns(list(SAMPLE_COLUMNS))
    rows = list(generate_contacts(count, seed=seed))
    records = [
        MatchRecord.from_row([r[c] for c in SAMPLE_COLUMNS], id=r["id"], columns=columns)
        for r in rows
    ]
    return records, {r["id"]: r["cluster"] for r in rows}


@pytest.fixture(scope="module")
def sample() -> tuple[list[MatchRecord], dict[str, str]]:
    return sample_records(3000)


def pair_f1(truth: dict[str, str], found: dict[str, str]) -> float:
    def pairs(labels: list[object]) -> int:
        counts: dict[object, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        return sum(v * (v - 1) // 2 for v in counts.values())

    ids = sorted(truth)
    tp = pairs([(truth[i], found[i]) for i in ids])
    precision = tp / pairs([found[i] for i in ids])
    recall = tp / pairs([truth[i] for i in ids])
    return 2 * precision * recall / (precision + recall)


def test_dedupe_finds_the_sample_clusters(sample: tuple[list[MatchRecord], dict[str, str]]) -> None:
    records, truth = sample
    assert pair_f1(truth, dedupe(records).cluster_of()) > 0.95


def test_cluster_ids_do_not_depend_on_input_order(
    sample: tuple[list[MatchRecord], dict[str, str]],
) -> None:
    records, _ = sample
    shuffled = list(records)
    random.Random(5).shuffle(shuffled)
    assert dedupe(shuffled).cluster_of() == dedupe(records).cluster_of()


def test_cluster_id_is_the_smallest_member_id(
    sample: tuple[list[MatchRecord], dict[str, str]],
) -> None:
    result = dedupe(sample[0])
    assert all(cluster_id == members[0] for cluster_id, members in result.clusters().items())


def test_em_learns_that_exact_phones_are_strong_evidence(
    sample: tuple[list[MatchRecord], dict[str, str]],
) -> None:
    model = dedupe(sample[0]).model
    phone = next(p for p in model.parameters if p.name == "phone")
    assert phone.weights[0] > 8 > phone.weights[-1]
    assert abs(sum(phone.m) - 1) < 1e-9


def test_em_converges_to_the_same_model_from_the_same_pairs(
    sample: tuple[list[MatchRecord], dict[str, str]],
) -> None:
    table = build_features(sample[0])
    left, right, _ = candidate_pairs(table)
    levels = compare_pairs(table, DEFAULT_COMPARISONS, left, right)
    first = estimate_model(table, levels, left=left, right=right)
    again = estimate_model(table, levels, left=left, right=right, max_iterations=400)
    for a, b in zip(first.parameters, again.parameters, strict=True):
        assert np.allclose(a.m, b.m, atol=1e-3)


def test_every_scored_pair_explains_its_weight(
    sample: tuple[list[MatchRecord], dict[str, str]],
) -> None:
    pair = next(dedupe(sample[0]).pairs())
    total = pair.prior_weight + sum(c.weight for c in pair.contributions)
    assert total == pytest.approx(pair.weight)
    assert "prior" in pair.explain()


def test_same_email_and_same_name_is_a_match_by_rule() -> None:
    records = [
        MatchRecord(id="1", full_name="王芳", emails="wf@example.com"),
        MatchRecord(id="2", full_name="Wang Fang", emails="WF@example.com"),
    ]
    pairs = list(dedupe(records).pairs())
    assert [(p.rule, p.probability) for p in pairs] == [("exact email + name", 1.0)]


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ConfigurationError):
        dedupe([MatchRecord(id="1", full_name="a"), MatchRecord(id="1", full_name="b")])


def test_a_bridge_record_does_not_merge_two_clusters() -> None:
    ids = ["a1", "a2", "x", "b1", "b2"]
    strong = {(0, 1), (3, 4), (0, 2), (2, 3)}  # x links to a1 and to b1

    def probability(a: int, b: int) -> float:
        return 0.99 if (min(a, b), max(a, b)) in strong else 0.01

    left = np.array([0, 3, 0, 2], dtype=np.int64)
    right = np.array([1, 4, 2, 3], dtype=np.int64)
    scores = np.array([probability(a, b) for a, b in zip(left, right, strict=True)])
    clusters = cluster_pairs(
        ids,
        left,
        right,
        scores,
        threshold=0.5,
        score_pairs=lambda a, b: np.array(
            [probability(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
        ),
    )
    assert clusters[0] == clusters[1] != clusters[3] == clusters[4]
    assert clusters[2] in {clusters[0], clusters[3]}


def test_no_cluster_grows_past_the_size_guard() -> None:
    count = 30
    left = np.arange(count - 1, dtype=np.int64)
    right = left + 1
    clusters = cluster_pairs(
        [f"r{i:02d}" for i in range(count)],
        left,
        right,
        np.full(count - 1, 0.99),
        threshold=0.5,
        score_pairs=lambda a, _: np.full(len(a), 0.99),
        max_cluster_size=10,
    )
    assert max(clusters.count(c) for c in set(clusters)) <= 10


def test_link_only_never_pairs_records_of_one_source() -> None:
    records = [
        MatchRecord(id="a1", full_name="张伟", phones="13800138000", country="CN", source="a"),
        MatchRecord(id="a2", full_name="张伟", phones="13800138000", country="CN", source="a"),
        MatchRecord(id="b1", full_name="Zhang Wei", phones="13800138000", country="CN", source="b"),
    ]
    result = dedupe(records, MatchSettings(link_only=True))
    table_ids = result.table.ids
    sources = {
        (str(table_ids[a])[0], str(table_ids[b])[0])
        for a, b in zip(result.left, result.right, strict=True)
    }
    assert sources == {("a", "b")}


def test_records_from_csv_rows_with_chinese_headers() -> None:
    columns = recognise_columns(["编号", "姓名", "手机", "邮箱", "公司", "城市"])
    record = MatchRecord.from_row(
        ["9", "张伟", "13800138000", "zw@x.com", "腾达科技", "北京"], id="9", columns=columns
    )
    assert (record.full_name, record.phones, record.emails, record.company, record.city) == (
        "张伟", ("13800138000",), ("zw@x.com",), "腾达科技", "北京"
    )  # fmt: skip


def test_sample_csv_round_trips_through_the_csv_module(tmp_path: object) -> None:
    path = Path(str(tmp_path)) / "s.csv"
    assert write_csv(generate_contacts(50, seed=1), path) == 50
    with path.open(encoding="utf-8", newline="") as stream:
        assert len(list(csv.DictReader(stream))) == 50


def test_keys_built_in_worker_processes_equal_keys_built_here(
    sample: tuple[list[MatchRecord], dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmcore.matching import feature  # noqa: PLC0415 - the private chunk size is patched

    records = sample[0][:400]
    # A field holding the packing separators travels as tuples instead.
    records.append(MatchRecord(id="odd", full_name="Zhang\x1fWei\x1d", emails=["a\x1eb@x.cn"]))
    monkeypatch.setattr(feature, "_CHUNK", 60)
    monkeypatch.setattr(feature, "_PARALLEL_FROM", 100)
    here = build_features(records, workers=1)
    there = build_features(records, workers=2)
    assert here.ids.tolist() == there.ids.tolist()
    for name in here.values:
        assert here.values[name].tolist() == there.values[name].tolist(), name
        assert here.codes[name].tolist() == there.codes[name].tolist(), name
        assert here.counts[name].tolist() == there.counts[name].tolist(), name
    assert dict(here.emails) == dict(there.emails)
    assert dict(here.phones) == dict(there.phones)


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_csv_rows_keyed_in_workers_equal_their_records_keyed_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_method: StartMethod
) -> None:
    from crmcore.matching import feature  # noqa: PLC0415 - the private chunk size is patched

    path = tmp_path / "s.csv"
    write_csv(generate_contacts(300, seed=3), path)
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        columns = recognise_columns(next(reader))
        rows = [(row[0], row) for row in reader]
    records = [MatchRecord.from_row(row, id=i, columns=columns) for i, row in rows]
    monkeypatch.setattr(feature, "_CHUNK", 40)
    monkeypatch.setattr(feature, "_PARALLEL_FROM", 100)
    monkeypatch.setattr(feature, "_FORK_FROM", 100)
    plan = {field: [int(p) for p in places] for field, places in columns.items()}
    there = build_features_from_rows(rows, plan, workers=2, start_method=start_method)
    here = build_features(records, workers=1)
    assert here.ids.tolist() == there.ids.tolist()
    for name in here.values:
        assert here.values[name].tolist() == there.values[name].tolist(), name
        assert here.codes[name].tolist() == there.codes[name].tolist(), name
    assert dict(here.emails) == dict(there.emails)
    assert dict(here.phones) == dict(there.phones)


def test_records_from_list_rows_match_the_general_path() -> None:
    columns = {"id": [0], "full_name": [1, 2], "phones": [3, 4], "emails": [4], "country": [5]}
    rows = [
        ["1", " 张伟 ", "x", " 138 0013 8000 ", "a@b.cn", " cn "],
        ["2", "", "  Wei  ", "", "", ""],
        ["3", "   ", "Li", "139", "  ", "us"],
        ["4"],
    ]
    for row in rows:
        fast = MatchRecord.from_row(row, id=row[0], columns=columns)
        general = MatchRecord.from_row(tuple(row), id=row[0], columns=columns)
        assert fast == general
        assert hash(fast) == hash(general)


KEYING_IN_A_FRESH_INTERPRETER = """
import gc
from crmcore.matching import MatchRecord, build_features, recognise_columns
from crmcore.sample import SAMPLE_COLUMNS, generate_contacts

columns = recognise_columns(list(SAMPLE_COLUMNS))
records = [
    MatchRecord.from_row([r[c] for c in SAMPLE_COLUMNS], id=r["id"], columns=columns)
    for r in generate_contacts(300, seed=3)
]
records.append(MatchRecord(id="bad", phones=["12", "+86 999"], emails=["not an email", "a@@b"]))
gc.collect()
gc.disable()
build_features(records, workers=1)
print(gc.collect())
"""


def test_keying_leaves_no_cyclic_garbage() -> None:
    """Keying runs with the cyclic collector paused: garbage cycles would hold whole chunks.

    Counted in an interpreter of its own: in the test process, threads other tests
    leave running (a Spark gateway, a connection pool) make garbage of their own while
    the collector is paused.
    """
    done = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed snippet
        [sys.executable, "-c", KEYING_IN_A_FRESH_INTERPRETER],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"


def test_the_u_sample_size_setting_is_used(
    sample: tuple[list[MatchRecord], dict[str, str]],
) -> None:
    records = sample[0]
    small = dedupe(records, MatchSettings(u_sample_size=2_000)).model
    large = dedupe(records, MatchSettings(u_sample_size=200_000)).model
    assert [p.u for p in small.parameters] != [p.u for p in large.parameters]
    again = dedupe(records, MatchSettings(u_sample_size=2_000)).model
    assert [p.u for p in small.parameters] == [p.u for p in again.parameters]


def test_a_row_cell_that_is_not_text_is_rejected_naming_it() -> None:
    columns = recognise_columns(["id", "name", "phone"])
    row: list[object] = ["1", 5, "138 0013 8000"]
    with pytest.raises(InvalidValueError, match="expected a string"):
        MatchRecord.from_row(row, id="1", columns=columns)  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [3, 2])  # every cell present / a short row (padded)
def test_rows_with_a_cell_that_is_not_text_are_rejected_naming_it(width: int) -> None:
    plan = {f: [int(p) for p in ps] for f, ps in recognise_columns(["id", "name", "phone"]).items()}
    rows: list[tuple[str, list[object]]] = [
        ("1", ["1", "张伟", "138 0013 8000"]),
        ("2", ["2", 5, "139 1234 5678"][:width]),
    ]
    with pytest.raises(InvalidValueError, match="expected a string"):
        build_features_from_rows(rows, plan, workers=1)  # type: ignore[arg-type]
