"""Issue 20: a contact two names hold, the phone overlap, leave-one-out term frequencies."""

from __future__ import annotations

import math
import string

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import ConfigurationError
from crmcore.matching import (
    DEFAULT_BLOCKING_RULES,
    MatchIndex,
    MatchModel,
    MatchRecord,
    block_on,
    build_features,
    candidate_pairs,
    compare_pairs,
)
from crmcore.matching.feature import FeatureTable


def _letters(k: int) -> str:
    """A distinct name part per ``k`` (letters only, as name keys keep)."""
    out = ""
    for _ in range(4):
        k, digit = divmod(k, 26)
        out += string.ascii_lowercase[digit]
    return out.capitalize()


def filler(count: int = 1200) -> list[MatchRecord]:
    """People with names and numbers no one else has (enough for term frequencies)."""
    return [
        MatchRecord(id=f"f{k:04d}", full_name=f"{_letters(k)} Filler", phones=f"+1415{k:07d}")
        for k in range(count)
    ]


def explained(table: FeatureTable, left: str, right: str) -> dict[str, tuple[str, float]]:
    """Each comparison's label and weight for one pair, as the batch scores it."""
    model = MatchModel.default()
    ids = table.ids.tolist()
    one = np.array([ids.index(left)], dtype=np.int64)
    other = np.array([ids.index(right)], dtype=np.int64)
    levels = compare_pairs(table, model.comparisons, one, other)
    tf = model.tf_adjustments(table, levels, one, other)
    pair = model.explain(left, right, levels[0], tf[0])
    return {c.comparison: (c.label, c.weight) for c in pair.contributions if c.level}


def test_a_number_only_two_different_names_hold_is_theirs_both_not_one_persons() -> None:
    household = [
        MatchRecord(id="h1", full_name="Ann Lee", phones="+14155550100", city="Leeds"),
        MatchRecord(id="h2", full_name="Bo Chan", phones="+1 415 555 0100", city="Leeds"),
    ]
    table = build_features([*filler(), *household], workers=1)
    assert explained(table, "h1", "h2")["phone"] == ("exact", 0.0)
    # One person's two records holding their own number keep its weight.
    own = [
        MatchRecord(id="m1", full_name="Ann Lee", phones="+14155550100"),
        MatchRecord(id="m2", full_name="Lee Ann", phones="+1 415 555 0100"),
    ]
    table = build_features([*filler(), *own], workers=1)
    label, weight = explained(table, "m1", "m2")["phone"]
    assert label == "exact"
    assert weight > 10.0


def test_a_shared_phone_makes_the_company_agreement_no_extra_evidence() -> None:
    colleagues = [
        MatchRecord(id="a", full_name="Ann Lee", phones="+14155550100", company="Acme Inc"),
        MatchRecord(id="b", full_name="Ann Lee", phones="+14155550100", company="Acme Ltd"),
    ]
    table = build_features(colleagues, workers=1)
    weights = explained(table, "a", "b")
    assert weights["company"] == ("exact", 0.0)
    assert weights["phone"][1] > 0.0


def test_term_frequencies_leave_the_record_itself_out() -> None:
    people = filler()
    pair = [
        MatchRecord(id="p1", full_name="Qiu Zhiyuan", emails="qzy1983@example.org"),
        MatchRecord(id="p2", full_name="Zhiyuan Qiu", emails="qzy1983@example.org"),
    ]
    table = build_features([*people, *pair], workers=1)
    model = MatchModel.default()
    name_m = model.parameters[[c.name for c in model.comparisons].index("name")].m[0]
    others = len(table) - 1
    # Only the pair holds the name: the chance another record holds it is 1 / (n - 1).
    label, weight = explained(table, "p1", "p2")["name"]
    assert label == "exact"
    assert math.isclose(weight, min(math.log2(name_m * others), 14.0), abs_tol=1e-6)
    # So does a mailbox only the pair holds: log2(m / tf), bounded as a whole (the
    # trained average mailbox weighs more than 14 bits, and used to be cut there first).
    email_m = model.parameters[[c.name for c in model.comparisons].index("email")].m[0]
    label, weight = explained(table, "p1", "p2")["email"]
    assert label == "exact"
    assert math.isclose(weight, min(math.log2(email_m * others), 14.0), abs_tol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.sampled_from(["Ann Lee", "Bo Chan"]))
def test_an_adjusted_exact_weight_stays_within_the_bound(holders: int, name: str) -> None:
    shared = [
        MatchRecord(id=f"s{k}", full_name=name, emails="ann@example.org") for k in range(holders)
    ]
    table = build_features([*filler(1000), *shared], workers=1)
    weights = explained(table, "s0", "s1")
    for comparison in ("name", "email"):
        assert -14.0 <= weights[comparison][1] <= 14.0


def test_a_typod_copy_of_a_mailbox_meets_the_original_in_batch_and_online() -> None:
    # A name too common to block on alone: only the mailbox brings the two together.
    namesakes = [
        MatchRecord(id=f"n{k:02d}", full_name="Wang Min", city=f"C{_letters(k)}") for k in range(30)
    ]
    original = MatchRecord(id="o", full_name="Wang Min", emails="wangmin2769@foxmail.com")
    copy = MatchRecord(id="t", full_name="王敏", emails="wangmni2769@foxmail.com")
    table = build_features([*namesakes, original, copy], workers=1)
    ids = table.ids.tolist()
    pair = (ids.index("o"), ids.index("t"))
    left, right, _ = candidate_pairs(table, [block_on("email_typo")])
    assert tuple(sorted(pair)) in set(zip(left.tolist(), right.tolist(), strict=True))
    index = MatchIndex(blocking_rules=(*DEFAULT_BLOCKING_RULES, block_on("email_typo")))
    index.add_many([*namesakes, original])
    assert "o" in {p.right for p in index.candidates(copy, min_probability=0.0)}


def test_a_rule_on_a_derived_key_names_no_other_column() -> None:
    with pytest.raises(ConfigurationError, match="email_typo"):
        block_on("email_typo", "initials")
