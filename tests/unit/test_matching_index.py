from __future__ import annotations

import numpy as np
import pytest

from crmcore.errors import NotFoundError
from crmcore.matching import (
    DuplicateAction,
    DuplicatePolicy,
    MatchIndex,
    MatchRecord,
    check_batch,
    dedupe,
    recognise_columns,
)
from crmcore.sample import SAMPLE_COLUMNS, generate_contacts


def zhang(record_id: str, name: str = "张伟", phone: str = "13800138000") -> MatchRecord:
    return MatchRecord(id=record_id, full_name=name, phones=[phone], country="CN")


def test_candidates_finds_the_pinyin_duplicate_of_a_chinese_record() -> None:
    index = MatchIndex()
    index.add(zhang("c1"))
    index.add(zhang("c2", "李娜", "13912345678"))
    found = index.candidates(zhang("new", "Zhang Wei", "+86 138 0013 8000"))
    assert [p.right for p in found] == ["c1"]
    assert found[0].probability > 0.95


def test_removed_records_are_no_longer_candidates() -> None:
    index = MatchIndex()
    index.add(zhang("c1"))
    index.remove("c1")
    assert (len(index), index.candidates(zhang("new"))) == (0, [])


def test_removing_an_unknown_record_raises() -> None:
    with pytest.raises(NotFoundError):
        MatchIndex().remove("nope")


def test_adding_a_record_again_replaces_it() -> None:
    index = MatchIndex()
    index.add(zhang("c1"))
    index.add(zhang("c1", "李娜", "13912345678"))
    assert (len(index), index.candidates(zhang("new"))) == (1, [])


def test_online_index_agrees_with_batch_on_the_same_data() -> None:
    columns = recognise_columns(list(SAMPLE_COLUMNS))
    records = [
        MatchRecord.from_row([r[c] for c in SAMPLE_COLUMNS], id=r["id"], columns=columns)
        for r in generate_contacts(1500, seed=11)
    ]
    result = dedupe(records)
    index = MatchIndex(result.model)
    index.add_many(records)
    ids = result.table.ids
    batch = {
        (str(ids[a]), str(ids[b])): p
        for a, b, p in zip(result.left, result.right, result.probability, strict=True)
        if p >= 0.5
    }
    online: dict[tuple[str, str], float] = {}
    for record in records:
        for pair in index.candidates(record, min_probability=0.5, limit=1000):
            key = (min(pair.left, pair.right), max(pair.left, pair.right))
            online[key] = pair.probability
    assert set(online) == set(batch)
    assert np.allclose([online[k] for k in batch], [batch[k] for k in batch])


def test_policy_blocks_likely_duplicates_and_alerts_on_possible_ones() -> None:
    policy = DuplicatePolicy(alert_at=0.5, block_at=0.95)
    assert [policy.action_for(p) for p in (0.1, 0.6, 0.99)] == [
        DuplicateAction.ALLOW,
        DuplicateAction.ALERT,
        DuplicateAction.BLOCK,
    ]


def test_check_batch_checks_records_of_one_batch_against_each_other() -> None:
    index = MatchIndex()
    index.add(zhang("c1"))
    batch = [
        zhang("n1", "Zhang Wei", "138-0013-8000"),
        MatchRecord(id="n2", full_name="李娜", emails="lina@example.com"),
        MatchRecord(id="n3", full_name="Li Na", emails="LiNa@Example.com"),
    ]
    checks = check_batch(batch, index, DuplicatePolicy())
    assert [(c.record_id, c.action) for c in checks] == [
        ("n1", DuplicateAction.BLOCK),
        ("n2", DuplicateAction.ALLOW),
        ("n3", DuplicateAction.BLOCK),
    ]
    assert [m.right for m in checks[2].matches] == ["n2"]
    assert len(index) == 1  # the index itself is not changed
