"""Spark dedupe == in-process dedupe: same clusters on the same input and settings."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.adapters.arrow import (
    BLOCK_SCHEMA,
    PairKernel,
    block_key_batches,
    key_batches,
    tf_columns,
)
from crmcore.errors import ConfigurationError, InvalidValueError
from crmcore.matching import (
    MatchModel,
    MatchRecord,
    MatchSettings,
    block_on,
    build_features,
    connected_components,
    dedupe,
    recognise_columns,
)
from crmcore.matching.model import CONTACT_COLUMNS, SHARED_HOLDERS, contact_holders
from crmcore.sample import generate_contacts


def _rows(count: int, seed: int) -> tuple[list[str], list[dict[str, str]]]:
    rows = list(generate_contacts(count, seed=seed))
    header = [k for k in rows[0] if k != "cluster"]
    return header, rows


def _in_process(
    header: list[str], rows: list[dict[str, str]], match: MatchSettings | None = None
) -> dict[str, str]:
    columns = recognise_columns(header)
    records = [
        MatchRecord.from_row([r[h] for h in header], id=r["id"], columns=columns) for r in rows
    ]
    return dedupe(records, match).cluster_of()


def _frame(spark: Any, header: list[str], rows: list[dict[str, str]]) -> Any:
    return spark.createDataFrame(pa.table({h: [r[h] for r in rows] for h in header}))


def _on_spark(frame: Any, match: MatchSettings | None = None, **kw: Any) -> Any:
    from crmcore.adapters.spark import dedupe as spark_dedupe  # noqa: PLC0415

    result = spark_dedupe(frame, match, **kw)
    clusters = {r["id"]: r["cluster_id"] for r in result.clusters.toArrow().to_pylist()}
    return result, clusters


def test_spark_dedupe_gives_the_in_process_clusters_on_sample_data(spark: Any) -> None:
    header, rows = _rows(300, seed=5)
    result, clusters = _on_spark(_frame(spark, header, rows), explain=True)
    expected = _in_process(header, rows)
    assert clusters == expected
    assert len(set(expected.values())) < len(expected)  # there were duplicates to find
    explained = result.pairs.where("explanation is not null").toArrow().to_pylist()
    assert len(explained) == result.matched_pairs > 0
    assert all(p["explanation"].startswith(f"{p['left']} ~ {p['right']}") for p in explained)


def test_spark_estimates_the_in_process_model_when_the_data_fit_the_sample(spark: Any) -> None:
    # 1,000 records: both train a model (EM, u-sampling) on all of them: the same model.
    header, rows = _rows(1_000, seed=9)
    result, clusters = _on_spark(_frame(spark, header, rows))
    columns = recognise_columns(header)
    records = [
        MatchRecord.from_row([r[h] for h in header], id=r["id"], columns=columns) for r in rows
    ]
    expected = dedupe(records)
    assert clusters == expected.cluster_of()
    assert result.model.prior == pytest.approx(expected.model.prior, rel=1e-12)
    assert [p.m for p in result.model.parameters] == [p.m for p in expected.model.parameters]
    assert result.blocking.pairs == expected.blocking.pairs


def test_oversized_blocks_are_skipped_before_they_are_gathered(spark: Any) -> None:
    # 300 records on one phone: a block past max_block_size is counted, never paired.
    rows = [
        {"id": f"r{i:03d}", "name": f"Person {i}", "phone": "+8613800138000", "city": "北京"}
        for i in range(300)
    ]
    rows += [
        {"id": "x1", "name": "Li Na", "phone": "", "city": "上海"},
        {"id": "x2", "name": "Li Na", "phone": "", "city": "上海"},
    ]
    header = ["id", "name", "phone", "city"]
    rules = (block_on("phone"), block_on("name_sig", "city"))
    # attrs' `tuple` converter types the field as an Iterable of an unbound type variable.
    match = MatchSettings(blocking_rules=rules)  # type: ignore[arg-type]
    result, clusters = _on_spark(_frame(spark, header, rows), match)
    assert clusters == _in_process(header, rows, match)
    assert result.blocking.skipped_blocks["block_on(phone)"] == 1
    assert clusters["x2"] == "x1"


def test_link_only_pairs_records_of_different_sources(spark: Any) -> None:
    header = ["id", "name", "email", "source"]
    rows = [
        {"id": "a1", "name": "Anna Smith", "email": "anna@example.com", "source": "crm"},
        {"id": "a2", "name": "Anna Smith", "email": "anna@example.com", "source": "crm"},
        {"id": "b1", "name": "Anna Smith", "email": "anna@example.com", "source": "shop"},
    ]
    match = MatchSettings(link_only=True)
    _, clusters = _on_spark(_frame(spark, header, rows), match)
    assert clusters == _in_process(header, rows, match)


def test_a_bad_cell_read_on_an_executor_is_a_crmcore_error(spark: Any) -> None:
    frame = spark.createDataFrame(pa.table({"id": ["r1", None], "name": ["Anna", "Bo"]}))
    with pytest.raises(InvalidValueError, match="match record id"):
        _on_spark(frame)


def test_repeated_ids_and_missing_id_columns_are_refused(spark: Any) -> None:
    frame = spark.createDataFrame(pa.table({"id": ["1", "1"], "name": ["a", "b"]}))
    with pytest.raises(ConfigurationError, match="unique"):
        _on_spark(frame)
    with pytest.raises(ConfigurationError, match="no id column"):
        _on_spark(spark.createDataFrame(pa.table({"name": ["a"]})))


def test_clusters_cut_at_max_cluster_size_are_the_in_process_ones(spark: Any) -> None:
    # A cap of 2 cuts every larger component at its weakest links, edge order deciding:
    # the cut is made inside Spark's groups exactly as in one process.
    header, rows = _rows(1_000, seed=13)
    capped = MatchSettings(max_cluster_size=2)
    _, clusters = _on_spark(_frame(spark, header, rows), capped)
    expected = _in_process(header, rows, capped)
    assert clusters == expected
    uncapped = collections.Counter(_in_process(header, rows).values())
    assert max(uncapped.values()) > 2  # the cap had components to cut
    assert max(collections.Counter(expected.values()).values()) == 2


def test_spark_counts_contact_holders_over_the_whole_data_as_in_process(spark: Any) -> None:
    # A switchboard and a role mailbox several different people hold weigh nothing
    # in process; Spark counts their holders over all records (not per block), so
    # every block scores a pair alike and the kept score is the in-process one.
    from crmcore.adapters.spark import key_frame  # noqa: PLC0415
    from crmcore.adapters.spark.dedupe import _contact_holders  # noqa: PLC0415

    header, rows = _rows(1_200, seed=21)
    people = [r for r in rows if r["first_name"] and r["last_name"]][:6]
    for row in people:
        row.update(phone="+1 212 555 0100", email="info@acmeholdings.com")
    people[0].update(last_name=people[1]["last_name"], first_name=people[1]["first_name"] + "e")
    columns = recognise_columns(header)
    records = [
        MatchRecord.from_row([r[h] for h in header], id=r["id"], columns=columns) for r in rows
    ]
    table = dedupe(records).table
    expected = {
        c: {v: n for v, n in contact_holders(table, c).items() if n >= SHARED_HOLDERS}
        for c in sorted(CONTACT_COLUMNS)
    }
    found = _contact_holders(key_frame(_frame(spark, header, rows), MatchSettings()))
    assert {
        c: {v: n for v, n in held.items() if n >= SHARED_HOLDERS} for c, held in found.items()
    } == expected
    # One name written two ways is one holder: six records, five people.
    assert [n for held in expected.values() for n in held.values()].count(5) == 2


edge_lists = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=60
).map(lambda pairs: [*pairs, *((k, k + 1) for k in range(41, 60))])  # and a 20-long chain


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edges=edge_lists)
def test_spark_components_are_connected_components(
    spark: Any, edges: list[tuple[int, int]]
) -> None:
    from crmcore.adapters.spark.dedupe import _components  # noqa: PLC0415

    ids = [f"r{k:02d}" for k in range(61)]
    left = [ids[a] for a, _ in edges]
    right = [ids[b] for _, b in edges]
    frame = spark.createDataFrame(pa.table({"left": left, "right": right}))
    found = {r["id"]: r["component"] for r in _components(frame).toArrow().to_pylist()}
    labels = connected_components(
        len(ids), np.array([a for a, _ in edges]), np.array([b for _, b in edges])
    )
    linked = {a for a, b in edges if a != b} | {b for a, b in edges if a != b}
    assert found == {ids[k]: ids[labels[k]] for k in sorted(linked)}


# --------------------------------------------------------------------------- the kernel, no Spark

names = st.sampled_from(["张伟", "Zhang Wei", "Wei Zhang", "李娜", "Li Na", "Anna Smith", "", " "])
phones = st.sampled_from(["138 0013 8000", "+86 138-0013-8000", "139 1234 5678", "", "12"])
emails = st.sampled_from(["a@x.com", "A@X.com", "a+tag@x.com", "b@y.org", "", "bad"])
records = st.lists(
    st.fixed_dictionaries(
        {
            "full_name": names,
            "emails": st.lists(emails, max_size=2),
            "phones": st.lists(phones, max_size=2),
            "city": st.sampled_from(["北京", "Beijing", "", "上海"]),
            "country": st.sampled_from(["CN", "", "US"]),
        }
    ),
    max_size=12,
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(records, st.integers(1, 5))
def test_the_kernel_keys_rows_as_build_features_does(rows: list[dict[str, Any]], cut: int) -> None:
    data = [{"id": f"r{i}", **row} for i, row in enumerate(rows)]
    batches = [pa.RecordBatch.from_pylist(data[k : k + cut]) for k in range(0, len(data), cut)]
    if not data:
        return
    keyed = pa.Table.from_batches(list(key_batches(batches)))
    table = build_features(
        [MatchRecord(id=r["id"], **{k: v for k, v in r.items() if k != "id"}) for r in data]
    )
    for name in ("name_sig", "email", "phone", "city"):
        assert keyed.column(name).to_pylist() == table.values[name].tolist()
    entries = pa.Table.from_batches(
        list(block_key_batches(keyed.to_batches(), [block_on("email"), block_on("phone")]))
    )
    # every email and phone key of a record is a blocking key of it
    for i, record_id in enumerate(table.ids.tolist()):
        _, record_emails, record_phones = table.row(i)
        mine = {
            (r, k)
            for r, k, who in zip(
                entries.column("rule").to_pylist(),
                entries.column("key").to_pylist(),
                entries.column("id").to_pylist(),
                strict=True,
            )
            if who == record_id
        }
        assert mine == {(0, f"\x1f{e}") for e in record_emails} | {
            (1, f"\x1f{p}") for p in record_phones
        }


def test_a_cell_that_is_not_text_names_its_row() -> None:
    batch = pa.RecordBatch.from_pylist([{"id": "r1", "city": 5}])
    with pytest.raises(InvalidValueError, match="row 0 \\(id 'r1'\\)"):
        list(key_batches([batch]))
    with pytest.raises(ConfigurationError, match="id column"):
        list(key_batches([pa.RecordBatch.from_pylist([{"city": "x"}])]))


def _kernel_pairs(data: list[dict[str, Any]], match: MatchSettings) -> dict[tuple[str, str], float]:
    """Run the kernel's steps with plain Python in between (what Spark does, on one machine)."""
    model = MatchModel.default(match.comparisons)
    keyed = pa.Table.from_batches(list(key_batches([pa.RecordBatch.from_pylist(data)])))
    tf = tf_columns(model)
    rows = keyed.to_pylist()
    for column in tf:
        counts = collections.Counter(r[column] for r in rows if r[column])
        for r in rows:
            r[f"tf_{column}"] = counts.get(r[column], 0)
    by_id = {r["id"]: r for r in rows}
    entries = pa.Table.from_batches(
        list(block_key_batches(keyed.to_batches(), match.blocking_rules))
    ).to_pylist()
    blocks: dict[tuple[int, str], list[str]] = {}
    for e in entries:
        blocks.setdefault((e["rule"], e["key"]), []).append(e["id"])
    kept = [
        {"rule": rule, "key": key, "rows": [by_id[i] for i in ids]}
        for (rule, key), ids in blocks.items()
        if 2 <= len(ids) <= match.blocking_rules[rule].max_block_size
    ]
    kernel = PairKernel(model, len(rows), link_only=match.link_only)
    out: dict[tuple[str, str], float] = {}
    if kept:
        batch = pa.RecordBatch.from_pylist(kept, schema=BLOCK_SCHEMA)
        for scored in kernel.score_blocks([batch]):
            for p in scored.to_pylist():
                out[(p["left"], p["right"])] = p["probability"]
    return out


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(records, st.booleans(), st.integers(2, 4))
def test_the_kernel_scores_the_pairs_in_process_dedupe_scores(
    rows: list[dict[str, Any]], link_only: bool, block_size: int
) -> None:
    sources = ["a", "b"]
    data = [{"id": f"r{i:02d}", "source": sources[i % 2], **row} for i, row in enumerate(rows)]
    rules = (block_on("email"), block_on("phone"), block_on("name_sig", max_block_size=block_size))
    match = MatchSettings(blocking_rules=rules, link_only=link_only)  # type: ignore[arg-type]
    got = _kernel_pairs(data, match) if data else {}
    if not data:
        return
    result = dedupe(
        [MatchRecord(id=r["id"], **{k: v for k, v in r.items() if k != "id"}) for r in data], match
    )
    ids = result.table.ids
    expected = {
        (str(ids[a]), str(ids[b])): float(p)
        for a, b, p in zip(result.left, result.right, result.probability, strict=True)
    }
    assert got == expected
