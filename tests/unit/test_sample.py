from __future__ import annotations

import collections

import pytest

from crmcore.errors import InvalidValueError
from crmcore.sample import SAMPLE_COLUMNS, SampleOptions, generate_contacts


def test_the_same_seed_gives_the_same_rows() -> None:
    assert list(generate_contacts(200, seed=9)) == list(generate_contacts(200, seed=9))


def test_another_seed_gives_other_rows() -> None:
    assert list(generate_contacts(50, seed=1)) != list(generate_contacts(50, seed=2))


def test_rows_have_every_column_and_unique_ids() -> None:
    rows = list(generate_contacts(500, seed=3))
    assert all(tuple(r) == SAMPLE_COLUMNS for r in rows)
    assert len({r["id"] for r in rows}) == 500


def test_sample_mixes_chinese_and_english_and_has_duplicates() -> None:
    rows = list(generate_contacts(2000, seed=4))
    chinese = sum(1 for r in rows if any("\u4e00" <= ch <= "\u9fff" for ch in r["name"]))
    sizes = collections.Counter(r["cluster"] for r in rows)
    assert 0.2 < chinese / len(rows) < 0.6
    assert 1 < max(sizes.values()) <= 6
    assert sum(1 for s in sizes.values() if s > 1) > 200


def test_options_change_the_mix() -> None:
    rows = list(generate_contacts(300, seed=4, options=SampleOptions(chinese_share=0.0)))
    assert not any(any("\u4e00" <= ch <= "\u9fff" for ch in r["name"]) for r in rows)


def test_negative_count_is_rejected() -> None:
    with pytest.raises(InvalidValueError):
        list(generate_contacts(-1))
