"""Issue 20 (helper 20r): a Chinese name and an English given name of one family name.

王伟 at home and David Wang at work: the name comparison's *English given name, same
family name* level, and a mailbox or number only those two names hold is one person's.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from crmcore.matching import (
    DEFAULT_BLOCKING_RULES,
    DEFAULT_COMPARISONS,
    MatchModel,
    MatchRecord,
    NameComparison,
    build_features,
    candidate_pairs,
    compare_pairs,
    contact_holders,
)
from crmcore.matching.blocking import email_domain_keys
from crmcore.matching.comparison import ENGLISH_NAME, english_name_reading

NAME = NameComparison(english_name=True)


def rec(record_id: str, **fields: object) -> MatchRecord:
    return MatchRecord(id=record_id, **fields)


def label(comparison: NameComparison, a: MatchRecord, b: MatchRecord) -> str:
    table = build_features([a, b], workers=1)
    found = int(comparison.compare(table, np.array([0]), np.array([1]))[0])
    return "missing" if found == 0 else comparison.level_labels[found - 1]


def test_the_default_name_comparison_reads_english_names() -> None:
    assert ENGLISH_NAME in DEFAULT_COMPARISONS[0].level_labels
    assert DEFAULT_COMPARISONS[0].level_labels[-2:] == (ENGLISH_NAME, "different")
    assert ENGLISH_NAME not in NameComparison().level_labels


def test_a_chinese_name_and_an_english_given_name_of_its_family_name() -> None:
    pairs = [
        (rec("a", full_name="王伟"), rec("b", given_name="David", family_name="Wang")),
        (rec("a", full_name="梁洋"), rec("b", given_name="Frank", family_name="Liang")),
        (rec("a", full_name="Li Fang"), rec("b", given_name="Eric", family_name="Li")),
    ]
    for a, b in pairs:
        assert label(NAME, a, b) == ENGLISH_NAME
        assert label(NAME, b, a) == ENGLISH_NAME
        # Turned off, the pair is what it was before: a weak band or different.
        assert label(NameComparison(), a, b) != ENGLISH_NAME


def test_a_family_or_two_english_names_is_not_read_so() -> None:
    pairs = [
        (rec("a", full_name="潘波"), rec("b", full_name="潘艳")),
        (rec("a", full_name="Michael Wilson"), rec("b", full_name="Margaret Wilson")),
        (rec("a", full_name="王伟"), rec("b", given_name="David", family_name="Li")),
        (rec("a", full_name="王伟"), rec("b", full_name="Wang Wei")),
    ]
    for a, b in pairs:
        assert label(NAME, a, b) != ENGLISH_NAME


def test_the_level_shows_in_the_explanation() -> None:
    a = rec("a", full_name="王伟", phones=["+86 138 0013 8000"], country="CN")
    b = rec("b", given_name="David", family_name="Wang", phones=["+86 13800138000"])
    model = MatchModel.default()
    table = build_features([a, b], workers=1)
    levels = compare_pairs(table, model.comparisons, np.array([0]), np.array([1]))
    explained = model.explain("a", "b", levels[0])
    name = next(c for c in explained.contributions if c.comparison == "name")
    assert name.label == ENGLISH_NAME
    assert name.weight > 0


def _phone_weight(other: MatchRecord) -> tuple[float, float]:
    records = [
        rec("a", full_name="李芳", phones=["+86 138 0013 8000"], country="CN"),
        other,
        *(
            rec(f"x{k}", full_name=f"Person {k}", phones=[f"+86 139 0000 {k:04d}"])
            for k in range(1200)
        ),
    ]
    table = build_features(records, workers=1)
    model = MatchModel.default()
    left, right = np.array([0]), np.array([1])
    levels = compare_pairs(table, model.comparisons, left, right)
    holders = {"phone": contact_holders(table, "phone"), "email": contact_holders(table, "email")}
    tf = model.tf_adjustments(table, levels, left, right, holders=holders)
    phone = [c.name for c in model.comparisons].index("phone")
    return float(tf[0, phone]), float(model.weight_tables()[phone][1])


def test_a_number_only_those_two_names_hold_is_not_a_household_phone() -> None:
    # A number two different names hold weighs nothing (a household's phone: 李芳
    # and 李伟); 李芳 and Eric Li are one professional, whose number weighs.
    family, exact = _phone_weight(rec("b", full_name="李伟", phones=["+86 13800138000"]))
    assert family == -exact
    english, _ = _phone_weight(
        rec("b", given_name="Eric", family_name="Li", phones=["+86 13800138000"])
    )
    assert english > -exact


_PINYIN_NAMES = st.sampled_from(["wang", "li", "zhang", "liang", "chen", "fang", "wei", "na"])
_ENGLISH = st.sampled_from(["david", "frank", "eric", "cindy", "sunny", "margaret", "peter"])


@given(_PINYIN_NAMES, _PINYIN_NAMES, _PINYIN_NAMES, _ENGLISH, st.booleans())
def test_the_reading_is_symmetric_and_needs_a_shared_part(
    family: str, given_one: str, other_family: str, english: str, swap: bool
) -> None:
    chinese = (family + given_one, given_one + family)
    other = (other_family + english, english + other_family)
    one, two = (chinese, other) if not swap else (other, chinese)
    assert english_name_reading(one, two) == english_name_reading(two, one)
    if english_name_reading(one, two):
        assert other_family in {family, given_one}
    # Two Chinese names are never read as one person's English name.
    assert not english_name_reading(chinese, (other_family + given_one, given_one + other_family))


def test_a_typo_d_mailbox_of_a_common_name_meets_its_original() -> None:
    # 25 namesakes: the name alone is too common a key (blocks of at most 20), and no
    # record gives a city or a birth year; the domain and the name bring the two together.
    people = [rec(f"n{k}", full_name="王伟", emails=[f"wei{k:02d}x@mail{k}.cn"]) for k in range(25)]
    a = rec("a", full_name="王伟", emails=["gang.wei@xinrui59.com.cn"])
    b = rec("b", full_name="Wang Wei", emails=["gagn.wei@xinrui59.com.cn"])
    table = build_features([a, b, *people], workers=1)
    left, right, _ = candidate_pairs(table)
    pairs = set(zip(left.tolist(), right.tolist(), strict=True))
    assert (0, 1) in pairs
    without = [r for r in DEFAULT_BLOCKING_RULES if r.columns != ("email_domain_name",)]
    left, right, _ = candidate_pairs(table, without)
    assert (0, 1) not in set(zip(left.tolist(), right.tolist(), strict=True))


@given(
    st.lists(
        st.sampled_from(["a.b@x.cn", "info@x.cn", "c@y.com", "nodomain", "d@x.cn"]), max_size=4
    ),
    st.sampled_from(["", "agnwz", "ab"]),
)
def test_domain_keys_are_one_per_personal_domain(emails: list[str], name: str) -> None:
    keys = email_domain_keys(emails, name)
    assert len(keys) == len(set(keys)) <= 3
    assert all(key.endswith("\x1f" + name) for key in keys)
    if not name:
        assert keys == []
    assert not any(key.startswith("info") for key in keys)
