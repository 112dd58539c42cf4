from __future__ import annotations

import unicodedata
from unittest import mock

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler

from crmcore.matching import (
    MatchRecord,
    cluster_pairs,
    dedupe,
    feature,
    name_key,
    recognise_columns,
)
from crmcore.matching.comparison import _bands, _distance_bands, _similarity
from crmcore.matching.feature import build_features, build_features_from_rows, feature_row
from crmcore.matching.key import KeyOptions, _name_key_general
from crmcore.matching.nickname import NICKNAMES

SURNAMES = ["张", "王", "李", "欧阳"]
GIVEN = ["伟", "娜", "晓明", "芳"]
PINYIN = {"张": "Zhang", "王": "Wang", "李": "Li", "欧阳": "Ouyang", "伟": "Wei", "娜": "Na",
          "晓明": "Xiaoming", "芳": "Fang"}  # fmt: skip


@given(st.sampled_from(SURNAMES), st.sampled_from(GIVEN), st.booleans())
def test_a_chinese_name_matches_its_pinyin_in_either_order(
    family: str, given_name: str, given_first: bool
) -> None:
    latin = (
        f"{PINYIN[given_name]} {PINYIN[family]}"
        if given_first
        else f"{PINYIN[family]} {PINYIN[given_name]}"
    )
    chinese, pinyin = name_key(full=family + given_name), name_key(full=latin)
    assert chinese.signature == pinyin.signature
    assert {chinese.family_first, chinese.given_first} == {pinyin.family_first, pinyin.given_first}


@given(st.text(max_size=30))
def test_name_keys_never_fail_and_hold_only_letters(text: str) -> None:
    """Letters, and the marks some scripts write vowels with (हि): no digits, spaces or signs."""
    key = name_key(full=text)
    for part in (key.family_first, key.given_first, key.signature):
        assert all(ch.isalpha() or unicodedata.category(ch)[0] == "M" for ch in part), part


@given(
    st.integers(min_value=2, max_value=12),
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11), st.floats(0, 1)), max_size=30),
    st.randoms(use_true_random=False),
)
def test_cluster_ids_are_member_ids_and_do_not_depend_on_edge_order(
    n: int, edges: list[tuple[int, int, float]], rng: object
) -> None:
    edges = [(a % n, b % n, p) for a, b, p in edges if a % n != b % n]
    unique = {(min(a, b), max(a, b)): p for a, b, p in edges}
    ids = [f"r{i:02d}" for i in range(n)]

    def run(order: list[tuple[int, int]]) -> list[str]:
        left = np.array([a for a, _ in order], dtype=np.int64)
        right = np.array([b for _, b in order], dtype=np.int64)
        scores = np.array([unique[k] for k in order], dtype=np.float64)
        return cluster_pairs(
            ids,
            left,
            right,
            scores,
            threshold=0.5,
            score_pairs=lambda a, b: np.array(
                [
                    unique.get((min(x, y), max(x, y)), 0.0)
                    for x, y in zip(a.tolist(), b.tolist(), strict=True)
                ]
            ),
        )

    keys = sorted(unique)
    first = run(keys)
    shuffled = list(keys)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert run(shuffled) == first
    assert all(c in ids for c in first)
    for member, cluster in zip(ids, first, strict=True):
        assert cluster <= member


@given(st.permutations(list(range(8))))
def test_dedupe_cluster_ids_do_not_depend_on_record_order(order: list[int]) -> None:
    base = [
        MatchRecord(id="1", full_name="张伟", phones="13800138000", country="CN"),
        MatchRecord(id="2", full_name="Zhang Wei", phones="+86 138 0013 8000"),
        MatchRecord(id="3", full_name="李娜", emails="lina@example.com"),
        MatchRecord(id="4", full_name="Li Na", emails="LiNa@example.com"),
        MatchRecord(id="5", full_name="王芳", phones="13912345678", country="CN"),
        MatchRecord(id="6", given_name="Bill", family_name="Gates", emails="bill@example.com"),
        MatchRecord(id="7", given_name="William", family_name="Gates", emails="bill@example.com"),
        MatchRecord(id="8", full_name="欧阳娜娜", company="腾达科技有限公司"),
    ]
    expected = {"1": "1", "2": "1", "3": "3", "4": "3", "5": "5", "6": "6", "7": "6", "8": "8"}
    assert dedupe([base[i] for i in order]).cluster_of() == expected


# --------------------------------------------------------------------------- keys

_CJK = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=5)
_NAMEISH = st.one_of(
    _CJK,
    st.sampled_from(["Zhang Wei", "Bill Gates", "O'Brien, Mary", "欧阳 娜", "Zoë  Ångström", ""]),
    st.text(max_size=12),
)
_EMAILS = st.sampled_from(
    ["zhang.wei@example.com", "Zhang.Wei+crm@GoogleMail.com", "not an email", "li@qq.com", ""]
)
_PHONES = st.sampled_from(
    ["138 0013 8000", "+86 138-0013-8000", "(415) 555-2671", "+44 20 7946 0958", "12", ""]
)


@st.composite
def match_records(draw: st.DrawFn) -> list[MatchRecord]:
    """Records whose fields repeat across rows, as CRM data does (so keying by value matters)."""
    size = draw(st.integers(1, 12))
    return [
        MatchRecord(
            id=f"r{i}",
            full_name=draw(_NAMEISH),
            given_name=draw(st.sampled_from(["", "Wei", "Bill", "晓明", "Ana-María"])),
            family_name=draw(st.sampled_from(["", "Zhang", "GATES", "欧阳"])),
            emails=draw(st.lists(_EMAILS, max_size=3)),
            phones=draw(st.lists(_PHONES, max_size=3)),
            company=draw(
                st.sampled_from(["", "青岛博雅海网络有限公司", "Black Company Inc.", "ACME"])
            ),
            city=draw(st.sampled_from(["", "Tianjin", "天津", "Austin"])),
            postcode=draw(st.sampled_from(["", "300245", "SW1A 1AA"])),
            country=draw(st.sampled_from(["", "CN", "US", "GB", "xx"])),
            birth_date=draw(st.sampled_from(["", "1958-06-18", "18/06/1958", "not a date"])),
            address=draw(st.sampled_from(["", "1 Main St", "  1 MAIN st "])),
            national_id=draw(st.sampled_from(["", "A-123", "a123"])),
            source=draw(st.sampled_from(["", "a", "b"])),
        )
        for i in range(size)
    ]


@given(match_records(), st.sampled_from([None, "CN", "US"]))
def test_batch_keys_equal_the_online_keys_of_every_record(
    records: list[MatchRecord], region: str | None
) -> None:
    options = KeyOptions(region=region)
    table = build_features(records, options, workers=1)
    for i, record in enumerate(records):
        assert table.row(i) == feature_row(record, options)


@given(_CJK)
def test_the_chinese_name_fast_path_gives_the_general_key(name: str) -> None:
    assert name_key(full=name) == _name_key_general(
        full=name, given="", family="", nicknames=NICKNAMES
    )


_CELLS = st.one_of(st.sampled_from(["", "  ", " 张伟 ", "a@b.cn", "cn", "x"]), st.text(max_size=6))
_HEADER = ["id", "name", "first_name", "last_name", "email", "email2", "phone", "city", "country"]


@given(st.lists(_CELLS, min_size=0, max_size=len(_HEADER) + 1))
def test_a_csv_row_gives_the_record_its_mapping_gives(row: list[str]) -> None:
    by_place = recognise_columns(_HEADER)
    by_name = {field: [_HEADER[int(p)] for p in places] for field, places in by_place.items()}
    mapping = dict(zip(_HEADER, row, strict=False))
    fast = MatchRecord.from_row(row, id="r1", columns=by_place)
    general = MatchRecord.from_row(mapping, id="r1", columns=by_name)
    assert fast == general


_WORDS = st.lists(st.text("abcdeéz 张伟", max_size=8), min_size=1, max_size=20)


@given(_WORDS, _WORDS, st.lists(st.floats(0.05, 0.99), min_size=1, max_size=3, unique=True))
def test_a_score_cutoff_never_changes_a_similarity_level(
    left: list[str], right: list[str], thresholds: list[float]
) -> None:
    size = min(len(left), len(right))
    left, right = left[:size], right[:size]
    bands = tuple(sorted(thresholds, reverse=True))
    todo = np.arange(size, dtype=np.int64)
    for scorer, scale in ((JaroWinkler.normalized_similarity, 1.0), (fuzz.token_set_ratio, 100.0)):
        fast = np.zeros(size, dtype=np.int8)
        slow = np.zeros(size, dtype=np.int8)
        cut = _similarity(scorer, left, right, cutoff=bands[-1] * scale - 1e-9) / scale
        full = _similarity(scorer, left, right, cutoff=0.0) / scale
        _bands(fast, todo, cut, bands)
        _bands(slow, todo, full, bands)
        assert fast.tolist() == slow.tolist()


@given(_WORDS, _WORDS, st.lists(st.integers(1, 4), min_size=1, max_size=3, unique=True))
def test_a_distance_cutoff_never_changes_a_distance_level(
    left: list[str], right: list[str], thresholds: list[int]
) -> None:
    size = min(len(left), len(right))
    left, right = left[:size], right[:size]
    bands = tuple(sorted(thresholds))
    todo = np.arange(size, dtype=np.int64)
    fast = np.zeros(size, dtype=np.int8)
    slow = np.zeros(size, dtype=np.int8)
    _distance_bands(fast, todo, _similarity(OSA.distance, left, right, cutoff=bands[-1]), bands)
    _distance_bands(slow, todo, _similarity(OSA.distance, left, right, cutoff=10**6), bands)
    assert fast.tolist() == slow.tolist()


# Several columns for one field: the first non-empty one wins (emails and phones: all).
_WIDE = ["id", "name", "contact", "first_name", "email", "email2", "phone", "mobile", "country",
         "country_code", "city"]  # fmt: skip


def _assert_rows_key_as_their_records(rows: list[list[str]]) -> None:
    by_place = recognise_columns(_WIDE)
    plan = {field: [int(p) for p in places] for field, places in by_place.items()}
    pairs = [(f"r{i}", row) for i, row in enumerate(rows)]
    by_rows = build_features_from_rows(pairs, plan, workers=1)
    records = [MatchRecord.from_row(row, id=i, columns=by_place) for i, row in pairs]
    by_records = build_features(records, workers=1)
    for name in by_records.values:
        assert by_rows.values[name].tolist() == by_records.values[name].tolist(), name
    assert dict(by_rows.emails) == dict(by_records.emails)
    assert dict(by_rows.phones) == dict(by_records.phones)


@given(st.lists(st.lists(_CELLS, min_size=0, max_size=len(_WIDE) + 1), min_size=1, max_size=8))
def test_csv_rows_keyed_by_column_equal_their_records_keyed(rows: list[list[str]]) -> None:
    by_place = recognise_columns(_WIDE)
    assert len(by_place["full_name"]) == len(by_place["country"]) == 2
    _assert_rows_key_as_their_records(rows)


@given(
    st.lists(st.lists(_CELLS, min_size=len(_WIDE), max_size=len(_WIDE) + 2), min_size=1, max_size=8)
)
def test_full_width_rows_take_the_column_path_and_key_as_their_records(
    rows: list[list[str]],
) -> None:
    # Every row holds every mapped cell: the C-level column reader is used, and the
    # record-by-record fallback is not.
    with (
        mock.patch.object(feature, "_columns_of_rows", wraps=feature._columns_of_rows) as columns,
        mock.patch.object(feature, "_records_of", wraps=feature._records_of) as fallback,
    ):
        _assert_rows_key_as_their_records(rows)
    assert (columns.call_count >= 1, fallback.call_count) == (True, 0)
