"""Issue 20 (session 12): names with a part left out, namesakes' mailboxes, mailbox names
made of the holder's name, typo'd mailboxes blocked by name, and a shared phone's place."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from crmcore.matching import (
    DEFAULT_OVERLAPS,
    MailboxComparison,
    MatchModel,
    MatchRecord,
    NameComparison,
    block_on,
    build_features,
    candidate_pairs,
    compare_pairs,
    feature_row,
)
from crmcore.matching.blocking import rule_keys
from crmcore.matching.comparison import _two_stretches, _whole_form

NAME = NameComparison()
MAILBOX = MailboxComparison()


def label(comparison: NameComparison | MailboxComparison, a: MatchRecord, b: MatchRecord) -> str:
    table = build_features([a, b], workers=1)
    found = int(comparison.compare(table, np.array([0]), np.array([1]))[0])
    return "missing" if found == 0 else comparison.level_labels[found - 1]


def rec(record_id: str, **fields: object) -> MatchRecord:
    return MatchRecord(id=record_id, **fields)


def test_a_dropped_middle_name_or_second_surname_is_a_part_left_out() -> None:
    pairs = [
        (rec("a", full_name="Anna Maria Schmidt"),
         rec("b", given_name="Anna", family_name="Schmidt")),
        (rec("a", given_name="Javier", family_name="Sánchez González"),
         rec("b", given_name="Javier", family_name="Sánchez")),
        (rec("a", full_name="Ramírez Navarro, Isabel"),
         rec("b", given_name="Isabel", family_name="Ramírez")),
        (rec("a", full_name="Luis Gonzalez Garcia"),
         rec("b", given_name="Luis", family_name="González")),
    ]  # fmt: skip
    for a, b in pairs:
        assert label(NAME, a, b) == "part left out"
        assert label(NAME, b, a) == "part left out"


def test_a_dropped_middle_name_and_second_surname_are_two_parts_left_out() -> None:
    a = rec("a", full_name="Díaz Flores, Carmen Ana")
    b = rec("b", given_name="Carmen", family_name="Díaz")
    assert label(NAME, a, b) == label(NAME, b, a) == "two parts left out"
    assert _two_stretches("diazcarmen", "diazflorescarmenana")
    assert not _two_stretches("diazcarmen", "diazfloresramonana")


def test_a_typo_or_a_one_part_name_is_no_part_left_out() -> None:
    typo = label(NAME, rec("a", full_name="Jonathan Smith"), rec("b", full_name="Jonathon Smith"))
    assert typo == "jaro-winkler ≥ 0.94"
    alone = label(NAME, rec("a", full_name="Anna"), rec("b", full_name="Anna Schmidt"))
    assert "part" not in alone
    same = label(
        NAME, rec("a", full_name="Anna Maria Schmidt"), rec("b", full_name="Schmidt, Anna Maria")
    )
    assert same == "exact"


def test_the_level_can_be_turned_off() -> None:
    plain = NameComparison(part_left_out=False)
    assert plain.level_labels == (
        "exact",
        "jaro-winkler ≥ 0.94",
        "jaro-winkler ≥ 0.86",
        "different",
    )
    a, b = rec("a", full_name="Anna Maria Schmidt"), rec("b", full_name="Anna Schmidt")
    assert "part" not in label(plain, a, b)


def test_the_explanation_names_the_part_left_out() -> None:
    a = rec("a", full_name="Javier Sánchez González", phones=["+34 612 345 678"])
    b = rec("b", given_name="Javier", family_name="Sánchez", phones=["+34 612345678"])
    model = MatchModel.default()
    table = build_features([a, b], workers=1)
    one, other = np.array([0]), np.array([1])
    levels = compare_pairs(table, model.comparisons, one, other)
    tf = model.tf_adjustments(table, levels, one, other)
    pair = model.explain("a", "b", levels[0], tf[0])
    assert ("name", "part left out") in [(c.comparison, c.label) for c in pair.contributions]
    assert "name: part left out" in pair.explain()


_PART = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)


@given(st.lists(_PART, min_size=1, max_size=4), st.lists(_PART, min_size=1, max_size=4))
def test_name_levels_are_symmetric_and_a_name_is_exact_with_itself(
    one: list[str], other: list[str]
) -> None:
    a = rec("a", given_name=" ".join(one[:-1]) or one[0], family_name=one[-1])
    b = rec("b", given_name=" ".join(other[:-1]) or other[0], family_name=other[-1])
    assert label(NAME, a, b) == label(NAME, b, a)
    assert label(NAME, a, rec("c", given_name=a.given_name, family_name=a.family_name)) == "exact"


_WHOLE_PART = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8)


@given(
    # Parts of distinct initials: a name such as "Abc Abc" reads the same in both orders,
    # and a name whose two readings agree has no parts to leave out.
    st.lists(_WHOLE_PART, min_size=3, max_size=4, unique_by=lambda part: part[0]),
    st.integers(0, 3),
)
def test_a_name_with_one_part_dropped_is_never_below_a_part_left_out(
    parts: list[str], drop: int
) -> None:
    full = rec("a", full_name=" ".join(parts))
    kept = [p for k, p in enumerate(parts) if k != drop % len(parts)]
    short = rec("b", full_name=" ".join(kept))
    found = NAME.level_labels.index(label(NAME, full, short))
    assert found <= NAME.level_labels.index("part left out")


def test_two_whole_forms_of_one_name_at_one_domain_are_namesakes_not_a_typo() -> None:
    a = rec("a", full_name="Watanabe Yoko", emails=["yoko@harbor.co.jp"])
    b = rec("b", full_name="Watanabe Yoko", emails=["yokow@harbor.co.jp"])
    assert label(MAILBOX, a, b) == "another mailbox at the same domain"
    cut = rec("c", full_name="Anna Schmidt", emails=["schmidtann390@t-online.de"])
    whole = rec("d", full_name="Anna Schmidt", emails=["schmidtanna390@t-online.de"])
    assert label(MAILBOX, cut, whole) == "one edit apart"
    assert _whole_form("weiz", ("zhangwei", "weizhang"))
    assert not _whole_form("stewartda", ("stewartdaniel", "danielstewart"))


def test_a_mailbox_name_of_the_holders_letters_is_no_mailbox_name_match() -> None:
    a = rec("a", full_name="Dan Li", emails=["dan.li@huaxing.com.cn"])
    b = rec("b", full_name="Li Dan", emails=["dan.li@haina.com.cn"])
    assert label(MAILBOX, a, b) == "another mailbox"
    c = rec("c", full_name="Bo Li", emails=["coolbo2620@gmail.com"])
    d = rec("d", full_name="Bo Li", emails=["coolbo2620@qq.com"])
    assert label(MAILBOX, c, d) == "same mailbox name, another domain"


def test_email_typo_name_pairs_a_typoed_mailbox_of_a_common_name() -> None:
    common = [rec(f"z{k}", full_name="张伟", emails=[f"zw{k:04d}@qq.com"]) for k in range(30)]
    a = rec("a", full_name="张伟", emails=["chozhang1995@foxmail.com"])
    b = rec("b", full_name="Wei Zhang", emails=["chaozhang1995@foxmail.com"])
    table = build_features([*common, a, b], workers=1)
    rule = block_on("email_typo_name")
    left, right, _ = candidate_pairs(table, [rule])
    ids = table.ids.tolist()
    assert {(ids[x], ids[y]) for x, y in zip(left.tolist(), right.tolist(), strict=True)} >= {
        ("a", "b")
    }
    assert set(rule_keys(rule, feature_row(a))) & set(rule_keys(rule, feature_row(b)))
    stranger = rec("s", full_name="Li Na", emails=["chaozhang1995@foxmail.com"])
    assert not set(rule_keys(rule, feature_row(stranger))) & set(rule_keys(rule, feature_row(b)))


def test_a_shared_phone_makes_the_shared_city_and_postcode_no_extra_evidence() -> None:
    assert [(o.comparison, o.given) for o in DEFAULT_OVERLAPS][-2:] == [
        ("city", "phone"),
        ("postcode", "phone"),
    ]
    a = rec(
        "a", full_name="熊伟", phones=["13070663683"], city="厦门", postcode="361482", country="CN"
    )
    b = rec(
        "b",
        full_name="熊丽",
        phones=["130 7066 3683"],
        city="Xiamen",
        postcode="361482",
        country="CN",
    )
    model = MatchModel.default()
    table = build_features([a, b], workers=1)
    one, other = np.array([0]), np.array([1])
    levels = compare_pairs(table, model.comparisons, one, other)
    pair = model.explain("a", "b", levels[0], model.tf_adjustments(table, levels, one, other)[0])
    weights = {c.comparison: c.weight for c in pair.contributions if c.level}
    assert weights["city"] == 0.0
    assert weights["postcode"] == 0.0
    assert weights["phone"] > 0
