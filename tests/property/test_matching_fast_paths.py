"""Issue 20 (1M in 60 s): the vectorised paths of the comparisons equal their scalar readings."""

from __future__ import annotations

import re
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.matching import (
    EmailComparison,
    FeatureTable,
    MailboxComparison,
    MatchModel,
    MatchRecord,
    NameComparison,
    PhoneComparison,
    blocking,
    build_features,
)
from crmcore.matching import comparison as comparison_module
from crmcore.matching.comparison import _left_out, _two_stretches, is_role_mailbox
from crmcore.matching.model import (
    CONTACT_COLUMNS,
    _alike,
    _shared_contact,
    _unique_patterns,
    contact_holders,
    distinct_names,
)

MAILBOX = MailboxComparison()

letters = st.text(alphabet="abcé张", max_size=12)


def _left_out_one(one: str, other: str) -> int:
    """The one-pair reading of ``_left_out``: one stretch cut out, two, or none."""
    short, long = (one, other) if len(one) <= len(other) else (other, one)
    if len(long) - len(short) < 3:  # _MIN_PART
        return 0
    head = next((k for k, (x, y) in enumerate(zip(short, long)) if x != y), len(short))  # noqa: B905
    tail = next(
        (k for k, (x, y) in enumerate(zip(short[::-1], long[::-1])) if x != y),  # noqa: B905
        len(short),
    )
    if head + tail >= len(short):
        return 1
    return 2 if _two_stretches(one, other) else 0


@given(st.lists(st.tuples(letters, letters), max_size=60))
def test_left_out_equals_its_one_pair_reading(pairs: list[tuple[str, str]]) -> None:
    one = [a for a, _ in pairs]
    other = [b for _, b in pairs]
    assert _left_out(one, other).tolist() == [_left_out_one(a, b) for a, b in pairs]


names = st.sampled_from(
    ["Wei Zhang", "Zhang Wei", "Anna Meyer", "Anna Koehler", "Günter Braun", ""]
)
mailboxes = st.sampled_from(
    ["wei.zhang", "weiz", "annam", "annak", "guenter", "coolbo", "info", "zhangwei", "x9"]
)
domains = st.sampled_from(["acme.com", "163.com", "gmail.com"])
addresses = st.builds(lambda m, d: f"{m}@{d}", mailboxes, domains)
records = st.lists(st.tuples(names, st.lists(addresses, max_size=4)), min_size=2, max_size=24)


@settings(max_examples=60, deadline=None)
@given(records, st.data())
def test_mailbox_levels_of_many_pairs_equal_those_of_one_pair(
    people: list[tuple[str, list[str]]], data: st.DataObject
) -> None:
    table = build_features(
        [MatchRecord(id=str(k), full_name=n, emails=e) for k, (n, e) in enumerate(people)],
        workers=1,
    )
    n = len(people)
    left = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=64, max_size=150)))
    right = (left + np.array(data.draw(st.lists(st.integers(1, n - 1), min_size=len(left),
                                                 max_size=len(left))))) % n  # fmt: skip
    one_by_one = [int(MAILBOX.compare(table, left[k : k + 1], right[k : k + 1])[0])
                  for k in range(len(left))]  # fmt: skip
    share = comparison_module._ALL_ROWS_SHARE
    try:
        for every_row in (True, False):  # the whole table coded once, or only the pairs' rows
            setattr(comparison_module, "_ALL_ROWS_SHARE", share if every_row else 0)  # noqa: B010 - a Final patched for the test
            assert MAILBOX.compare(table, left, right).tolist() == one_by_one
    finally:
        setattr(comparison_module, "_ALL_ROWS_SHARE", share)  # noqa: B010 - restored


phones = st.sampled_from(["+8613800138000", "+8613900000001", "+14155550100", "+14155550101"])
contacts = st.lists(
    st.tuples(names, st.lists(addresses, max_size=3), st.lists(phones, max_size=3)),
    min_size=2,
    max_size=24,
)


def _holders_one_by_one(table: FeatureTable, column: str) -> dict[str, int]:
    """``contact_holders`` read record by record: each value's set of names."""
    values = table.values[column]
    ff, gf = table.values["name_ff"], table.values["name_gf"]
    extra = table.emails if column == "email" else table.phones
    held: dict[str, set[tuple[str, str]]] = {}
    for row in range(len(table)):
        for value in extra.get(row) or ((values[row],) if values[row] else ()):
            held.setdefault(value, set()).add((ff[row], gf[row]))
    return {v: len(h) if len(h) < 2 else distinct_names(h) for v, h in held.items()}


def _shared_one_by_one(
    table: FeatureTable, column: str, left: list[int], right: list[int], holders: dict[str, int]
) -> list[bool]:
    """``_shared_contact`` read pair by pair."""
    values = table.values[column]
    extra = table.emails if column == "email" else table.phones
    ff, gf = table.values["name_ff"], table.values["name_gf"]
    out = []
    for a, b in zip(left, right, strict=True):
        mine = extra.get(a) or ((values[a],) if values[a] else ())
        theirs = extra.get(b) or ((values[b],) if values[b] else ())
        common = set(mine) & set(theirs)
        two_names = (
            (ff[a] or gf[a]) and (ff[b] or gf[b]) and not _alike((ff[a], gf[a]), (ff[b], gf[b]))
        )
        least = 2 if two_names else 3
        out.append(
            bool(common)
            and all(
                holders.get(v, 0) >= least or (column == "email" and is_role_mailbox(v))
                for v in common
            )
        )
    return out


@settings(max_examples=60, deadline=None)
@given(contacts, st.data())
def test_contact_holders_and_shared_contacts_equal_their_one_by_one_reading(
    people: list[tuple[str, list[str], list[str]]], data: st.DataObject
) -> None:
    table = build_features(
        [
            MatchRecord(id=str(k), full_name=n, emails=e, phones=p)
            for k, (n, e, p) in enumerate(people)
        ],
        workers=1,
    )
    n = len(people)
    left = data.draw(st.lists(st.integers(0, n - 1), max_size=80))
    right = [(a + data.draw(st.integers(1, n - 1))) % n for a in left]
    for column in CONTACT_COLUMNS:
        holders = contact_holders(table, column)
        assert holders == _holders_one_by_one(table, column)
        found = _shared_contact(
            table, column, np.array(left, dtype=np.int64), np.array(right, dtype=np.int64), holders
        )
        assert found.tolist() == _shared_one_by_one(table, column, left, right, holders)


def _patterns_by_sorting(levels: np.ndarray) -> tuple[list[list[int]], list[int]]:
    """``_unique_patterns`` as it sorted packed rows before counting them by code."""
    packed = np.zeros(len(levels), dtype=np.int64)
    for k in range(levels.shape[1]):
        packed = packed * 16 + levels[:, k].astype(np.int64)
    order = np.argsort(packed)
    ordered = packed[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, len(ordered)])
    return levels[order[starts]].tolist(), counts.tolist()


@given(
    st.integers(1, 9).flatmap(
        lambda width: st.lists(
            st.lists(st.integers(0, 6), min_size=width, max_size=width), min_size=1, max_size=200
        )
    )
)
def test_level_patterns_counted_by_code_come_out_as_sorting_gives(rows: list[list[int]]) -> None:
    levels = np.array(rows, dtype=np.int8)
    patterns, counts = _unique_patterns(levels)
    assert (patterns.tolist(), counts.tolist()) == _patterns_by_sorting(levels)
    assert patterns.dtype == np.int8


@settings(max_examples=15, deadline=None)
@given(contacts, st.integers(0, 2**32 - 1))
def test_distinct_pairs_compared_once_give_every_pair_its_level(
    people: list[tuple[str, list[str], list[str]]], seed: int
) -> None:
    table = build_features(
        [
            MatchRecord(id=str(k), full_name=n, emails=e, phones=p)
            for k, (n, e, p) in enumerate(people)
        ],
        workers=1,
    )
    rng = np.random.default_rng(seed)
    n = len(people)
    left = rng.integers(0, n, size=comparison_module._PARALLEL_FROM, dtype=np.int64)
    right = (left + rng.integers(1, n, size=len(left), dtype=np.int64)) % n
    every_pair = {
        "name": NameComparison()._compare,
        "email": MAILBOX._compare,
        "plain email": comparison_module._email_levels,
        "phone": comparison_module._phone_levels,
    }
    once = {
        "name": NameComparison().compare,
        "email": MAILBOX.compare,
        "plain email": EmailComparison().compare,
        "phone": PhoneComparison().compare,
    }
    for name, compare in every_pair.items():
        assert np.array_equal(once[name](table, left, right), compare(table, left, right)), name


# Online queries (issue 16: candidates() p99): a small table skips the grouping by name.
nickname_names = st.sampled_from(
    ["Chris Young", "Christopher Young", "Christina Young", "Young Chris", "Pat Li",
     "Patricia Li", "Patrick Li", "Sam Wu", "Samuel Wu", "Samantha Wu", "Wei Zhang",
     "Bill Smith", "William Smith", "Ted Cho", "Edward Cho", "Theodore Cho", "王伟"]
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(nickname_names, min_size=2, max_size=30), st.integers(0, 2**32 - 1))
def test_a_small_tables_nickname_readings_equal_those_of_a_large_one(
    names: list[str], seed: int
) -> None:
    def reads(few_rows: int) -> list[bool]:
        table = build_features(
            [MatchRecord(id=str(k), full_name=n) for k, n in enumerate(names)], workers=1
        )
        original = comparison_module._FEW_ROWS
        setattr(comparison_module, "_FEW_ROWS", few_rows)  # noqa: B010 - a Final name
        try:
            return comparison_module._nickname_reads(table, left, right).tolist()  # type: ignore[no-any-return]
        finally:
            setattr(comparison_module, "_FEW_ROWS", original)  # noqa: B010

    rng = np.random.default_rng(seed)
    left = rng.integers(0, len(names), size=40, dtype=np.int64)
    right = (left + rng.integers(1, len(names), size=40, dtype=np.int64)) % len(names)
    assert reads(few_rows=len(names)) == reads(few_rows=0)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), min_size=9, max_size=9), min_size=1, max_size=40))
def test_overlaps_and_rules_read_by_position_as_they_are_written(rows: list[list[int]]) -> None:
    model = MatchModel.default()
    sizes = [len(c.level_labels) for c in model.comparisons]
    levels = np.array([[v % (s + 1) for v, s in zip(row, sizes, strict=False)] for row in rows],
                      dtype=np.int8)  # fmt: skip
    tf = np.zeros(levels.shape, dtype=np.float64)
    model._discount_overlaps(levels, tf)
    weights = model.weight_tables()
    position = {c.name: k for k, c in enumerate(model.comparisons)}
    expected = np.zeros(levels.shape, dtype=np.float64)
    for overlap in model.overlaps or ():
        k, g = position[overlap.comparison], position[overlap.given]
        for r in range(len(levels)):
            if levels[r, g] in overlap.given_levels and levels[r, k] in overlap.levels:
                expected[r, k] -= max(weights[k][levels[r, k]] + expected[r, k], 0.0)
    assert np.allclose(tf, expected)
    score, _, fired = model.score(levels, tf)
    for r in range(len(levels)):
        firing = [
            n
            for n, rule in enumerate(model.rules)
            if score[r] >= 0.0
            and all(
                1 <= levels[r, position[name]] <= weakest
                and weights[position[name]][levels[r, position[name]]] + tf[r, position[name]] > 0
                for name, weakest in rule.requires.items()
            )
        ]
        assert fired[r] == (firing[0] if firing else -1)


# The 1M dedupe: the email_domain_name blocks are numbered from codes, not built as strings.
domain_people = st.lists(
    st.tuples(
        st.sampled_from(["Zhang Wei", "Wei Zhang", "Li Na", "Anna Müller", ""]),
        st.lists(
            st.builds(
                lambda m, d: f"{m}@{d}",
                st.sampled_from(["wei.zhang", "info", "sales", "na.li", "x", "zhangwei"]),
                st.sampled_from(["acme.com", "163.com", "qq.com"]),
            ),
            max_size=5,
        ),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(domain_people)
def test_domain_name_blocks_by_codes_are_the_blocks_of_the_string_keys(
    people: list[tuple[str, list[str]]],
) -> None:
    table = build_features(
        [MatchRecord(id=str(k), full_name=n, emails=e) for k, (n, e) in enumerate(people)],
        workers=1,
    )
    rows, codes = blocking._domain_name_codes(table)
    by_codes: dict[int, set[int]] = {}
    for row, code in zip(rows.tolist(), codes.tolist(), strict=True):
        by_codes.setdefault(code, set()).add(row)
    by_strings: dict[str, set[int]] = {}
    values, names = table.values["email"], table.values["name_sig"]
    for row in np.flatnonzero(table.codes["email"] >= 0).tolist():
        emails = table.emails.get(row) or (values[row],)
        for key in blocking.email_domain_keys(emails, names[row]):
            by_strings.setdefault(key, set()).add(row)
    assert len(rows) == sum(map(len, by_strings.values()))  # a row once per block
    assert sorted(map(sorted, by_codes.values())) == sorted(map(sorted, by_strings.values()))


_FLAT_PINYIN = re.compile(
    "(?:" + "|".join(sorted(comparison_module._PINYIN_SYLLABLES, key=lambda s: (-len(s), s))) + ")+"
)


@given(
    st.one_of(
        st.lists(st.sampled_from(sorted(comparison_module._PINYIN_SYLLABLES)), max_size=4).map(
            "".join
        ),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzü", max_size=14),
    )
)
def test_the_pinyin_trie_reads_as_the_syllables_side_by_side(text: str) -> None:
    trie = comparison_module._PINYIN.fullmatch(text) is not None
    assert trie == (_FLAT_PINYIN.fullmatch(text) is not None)


keys = st.sampled_from(["", "a", "b", "zhangwei", "weizhang", "x@y.cn"])


@given(st.lists(st.lists(keys, min_size=17, max_size=17), max_size=20), st.booleans())
def test_a_table_from_rows_codes_as_the_general_table(
    columns_of_rows: list[list[str]], few: bool
) -> None:
    """Issue 16: ``from_rows`` codes its tuples directly: the codes and counts of ``_table``.

    Both of its paths: a few rows in one array each (``few``), or column by column.
    """
    from crmcore.matching import feature  # noqa: PLC0415 - private helpers of this test only

    rows = [(tuple(r), (r[4], "second@y.cn") if r[4] else (), ()) for r in columns_of_rows]
    ids = [f"r{n}" for n in range(len(rows))]
    with mock.patch.object(feature, "_FEW_ROWS", 512 if few else 0):
        fast = FeatureTable.from_rows(ids, rows)
    values = {
        name: feature._object_array([r[0][i] for r in rows])
        for i, name in enumerate(feature.FEATURE_COLUMNS)
    }
    emails = {i: r[1] for i, r in enumerate(rows) if len(r[1]) > 1}
    general = feature._table(feature._object_array(ids), values, emails, {})
    assert len(feature.FEATURE_COLUMNS) == 17
    assert fast.ids.tolist() == general.ids.tolist()
    assert fast.emails == general.emails
    assert sorted(fast.counts) == sorted(general.counts)
    for name in feature.FEATURE_COLUMNS:
        assert fast.values[name].tolist() == general.values[name].tolist()
        assert fast.codes[name].dtype == general.codes[name].dtype
        assert fast.codes[name].tolist() == general.codes[name].tolist()
        assert fast.counts[name].dtype == general.counts[name].dtype
        assert fast.counts[name].tolist() == general.counts[name].tolist()
