"""Issue 20 (session 18): a German name written with ue for ü is one name, a name with a
part left out holds a mailbox or number as the same person's, and titles, suffixes,
middle initials and Chinese forms of address are not part of a name; the company of a
shared switchboard keeps its weight, and a name only two records hold may outweigh the
prior alone."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.errors import ConfigurationError
from crmcore.matching import (
    DEFAULT_COMPARISONS,
    Comparison,
    ExactMatch,
    MatchModel,
    MatchRecord,
    NameComparison,
    build_features,
    compare_pairs,
    contact_holders,
    dedupe,
    distinct_names,
    name_key,
)
from crmcore.matching.comparison import name_cut_short
from crmcore.matching.key import NAME_SUFFIXES, TITLES

NAME = NameComparison(english_name=True)


def level(a: MatchRecord, b: MatchRecord) -> str:
    table = build_features([a, b], workers=1)
    found = int(NAME.compare(table, np.array([0]), np.array([1]))[0])
    return NAME.level_labels[found - 1]


def test_a_name_written_with_ue_for_an_umlaut_is_the_same_name() -> None:
    pairs = [
        (MatchRecord(id="a", given_name="Jürgen", family_name="Müller"),
         MatchRecord(id="b", full_name="Juergen Mueller")),
        (MatchRecord(id="a", given_name="Jörg", family_name="Köhler"),
         MatchRecord(id="b", full_name="KOEHLER, Joerg")),
        (MatchRecord(id="a", full_name="Sören Schäfer"),
         MatchRecord(id="b", given_name="Soeren", family_name="Schaefer")),
    ]  # fmt: skip
    for a, b in pairs:
        assert level(a, b) == level(b, a) == "exact"


def test_dots_dropped_stay_the_same_name_too() -> None:
    a = MatchRecord(id="a", given_name="Jürgen", family_name="Müller")
    assert level(a, MatchRecord(id="b", full_name="Jurgen Muller")) == "exact"


def test_two_pinyin_names_one_ue_apart_are_two_names() -> None:
    # 薛伟 and 徐伟: xue is a syllable of its own, not xu written with an umlaut.
    xue = MatchRecord(id="a", full_name="Xue Wei")
    assert level(xue, MatchRecord(id="b", full_name="Xu Wei")) != "exact"
    assert (
        level(MatchRecord(id="a", full_name="Yue Li"), MatchRecord(id="b", full_name="Yu Li"))
        != "exact"
    )


def test_a_name_without_the_digraph_is_not_read_as_one() -> None:
    a = MatchRecord(id="a", full_name="Anna Berg")
    assert level(a, MatchRecord(id="b", full_name="Anne Berg")) != "exact"


@given(
    st.sampled_from(["mueller", "koehler", "schaefer", "juergen", "boerg", "grueber"]),
    st.sampled_from(["peter", "stefan", "klaus"]),  # "juergen anna" reads as pinyin
)
def test_the_umlaut_reading_is_symmetric_and_reads_every_digraph(family: str, given_: str) -> None:
    folded = family.replace("ue", "u").replace("oe", "o").replace("ae", "a")
    a = MatchRecord(id="a", given_name=given_, family_name=family)
    b = MatchRecord(id="b", given_name=given_, family_name=folded)
    assert level(a, b) == level(b, a) == "exact"


def test_matching_reads_the_german_spelling_as_one_person() -> None:
    records = [
        MatchRecord(id="a", given_name="Jörg", family_name="Köhler", phones=["0171-0504-4617"],
                    country="DE"),
        MatchRecord(id="b", given_name="Joerg", family_name="Koehler",
                    phones=["+49 171 05044617"]),
    ]  # fmt: skip
    assert dedupe(records, model=MatchModel.default()).cluster_of() == {"a": "a", "b": "a"}


def test_a_name_with_a_part_left_out_is_one_holder() -> None:
    long = ("romerodiegocarlosflores", "diegocarlosfloresromero")
    short = ("floresdiego", "diegoflores")
    assert name_cut_short(short, long)
    assert name_cut_short(long, short)
    assert distinct_names([short, long]) == 1
    records = [
        MatchRecord(id="a", full_name="Diego Carlos Flores Romero",
                    emails=["dflores@blueriver23.com.mx"]),
        MatchRecord(id="b", given_name="Diego", family_name="Flores",
                    emails=["dflores@blueriver23.com.mx"]),
    ]  # fmt: skip
    table = build_features(records, workers=1)
    assert contact_holders(table, "email") == {"dflores@blueriver23.com.mx": 1}


def test_a_one_part_name_or_another_given_name_is_not_cut_short() -> None:
    assert not name_cut_short(("diego", "diego"), ("floresdiego", "diegoflores"))
    assert not name_cut_short(("floresdiego", "diegoflores"), ("floresana", "anaflores"))
    assert distinct_names([("floresdiego", "diegoflores"), ("floresana", "anaflores")]) == 2


# --------------------------------------------------------------------------- titles


def test_titles_suffixes_and_middle_initials_are_not_part_of_the_name() -> None:
    plain = name_key(full="John Smith")
    for written in ("Dr. John Smith", "John Smith Jr.", "John A. Smith", "Mr John Smith PhD",
                    "SMITH, John A.", "Prof. Dr. John Smith"):  # fmt: skip
        assert name_key(full=written) == plain, written
    assert name_key(given="John A.", family="Smith Jr.") == plain
    assert name_key(given="Dr.", family="Smith") == name_key(full="Smith")


def test_a_name_part_that_looks_like_a_title_stays_when_nothing_else_would() -> None:
    assert name_key(full="J. Smith").given_first == "jsmith"  # an initial alone is the given name
    assert name_key(full="John II").given_first == "johnii"  # two parts stay two parts
    assert name_key(full="Mr. Smith").given_first == "smith"


def test_a_chinese_form_of_address_is_not_part_of_the_name() -> None:
    assert name_key(full="张伟先生") == name_key(full="张伟")
    assert name_key(full="欧阳娜娜女士") == name_key(full="欧阳娜娜")
    assert name_key(full="王先生") == name_key(full="王")
    assert name_key(full="先生").given_first  # nothing before it: the text is the name


@given(
    st.sampled_from(["john smith", "maria navarro", "wei zhang", "anna schmidt"]),
    st.sampled_from(sorted(TITLES)),
    st.sampled_from(sorted(NAME_SUFFIXES)),
    st.sampled_from([*"abcdefghijklmnopqrstuvwxyz"]),
)
def test_a_title_a_suffix_and_a_middle_initial_leave_the_key_as_it_was(
    name: str, title: str, suffix: str, initial: str
) -> None:
    given_, family = name.split()
    plain = name_key(full=name)
    assert name_key(full=f"{title}. {given_} {initial}. {family} {suffix}") == plain
    assert name_key(given=f"{title} {given_} {initial}", family=f"{family} {suffix}") == plain


def test_a_titled_record_is_matched_to_its_plain_twin() -> None:
    records = [
        MatchRecord(id="a", full_name="Dr. Jennifer Lopez DDS", phones=["+1 212 555 0188"]),
        MatchRecord(id="b", given_name="Jennifer", family_name="Lopez", phones=["2125550188"],
                    country="US"),
    ]  # fmt: skip
    result = dedupe(records, model=MatchModel.default())
    assert result.cluster_of() == {"a": "a", "b": "a"}
    pair = next(result.pairs())
    assert next((c.comparison, c.label) for c in pair.contributions if c.level) == ("name", "exact")


# --------------------------------------------------------------------------- weights


def _weights(
    model: MatchModel, records: list[MatchRecord], **counted: Any
) -> tuple[dict[str, float], float]:
    table = build_features(records, workers=1)
    one, other = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    levels = compare_pairs(table, model.comparisons, one, other)
    tf = model.tf_adjustments(table, levels, one, other, **counted)
    explained = model.explain("a", "b", levels[0], tf[0])
    return {
        c.comparison: c.weight for c in explained.contributions if c.level
    }, explained.probability


def test_the_company_of_a_shared_switchboard_keeps_its_weight() -> None:
    model = MatchModel.default()
    board = "+18025562972"
    records = [
        MatchRecord(id="a", given_name="Beverly", family_name="Clayton", company="Barton PLC",
                    phones=[board], emails=["beverly.clayton@gmail.com"]),
        MatchRecord(id="b", full_name="Beverly Clayton", company="Barton PLC", phones=[board]),
    ]  # fmt: skip
    counts = {"phone": np.array([40, 40]), "name_sig": np.array([2, 2])}
    shared, _ = _weights(
        model, records, counts=counts, total=100_000, holders={"phone": {board: 12}, "email": {}}
    )
    # The switchboard weighs nothing, and the company is then the organisation's evidence.
    assert shared["phone"] == 0.0
    assert shared["company"] > 0.0
    # A number only this person holds says "the same place" already: the company adds nothing.
    own, _ = _weights(
        model, records, counts=counts, total=100_000, holders={"phone": {board: 1}, "email": {}}
    )
    assert own["phone"] > 0.0
    assert own["company"] == 0.0


def test_a_name_only_two_records_hold_may_outweigh_the_prior() -> None:
    model = MatchModel.default()
    records = [
        MatchRecord(id="a", given_name="Harriet", family_name="Juncken"),
        MatchRecord(id="b", full_name="Harriet Juncken"),
    ]
    rare, probability = _weights(
        model, records, counts={"name_sig": np.array([2, 2])}, total=100_000
    )
    assert rare["name"] > 14.0
    assert probability > 0.5
    common, probability = _weights(
        model, records, counts={"name_sig": np.array([40, 40])}, total=100_000
    )
    assert common["name"] < rare["name"]
    assert probability < 0.5


def test_a_contact_only_two_records_hold_stays_below_the_prior_alone() -> None:
    model = MatchModel.default()
    records = [
        MatchRecord(id="a", emails=["harriet.juncken@gmx.de"]),
        MatchRecord(id="b", emails=["harriet.juncken@gmx.de"]),
    ]
    weights, probability = _weights(
        model,
        records,
        counts={"email": np.array([2, 2])},
        total=100_000,
        holders={"email": {"harriet.juncken@gmx.de": 1}, "phone": {}},
    )
    assert weights["email"] <= 14.0
    assert probability < 0.5


@attrs.frozen
class _NameBoundAsAContact(NameComparison):
    """A host's name comparison that bounds a rare name as the contacts are bounded."""

    @property
    def tf_weight_bound(self) -> float:
        return 14.0


def test_each_comparison_declares_the_bound_of_its_adjusted_weight() -> None:
    assert ExactMatch("email").tf_weight_bound == 14.0
    assert NameComparison().tf_weight_bound == 24.0
    records = [
        MatchRecord(id="a", given_name="Harriet", family_name="Juncken"),
        MatchRecord(id="b", full_name="Harriet Juncken"),
    ]
    rare = {"counts": {"name_sig": np.array([2, 2])}, "total": 100_000}
    declared, _ = _weights(MatchModel.default(), records, **rare)
    comparisons: list[Comparison] = [
        _NameBoundAsAContact(english_name=True) if c.name == "name" else c
        for c in DEFAULT_COMPARISONS
    ]
    capped, probability = _weights(MatchModel.default(comparisons), records, **rare)
    # The same name, the same m and u: only the declared bound differs.
    assert declared["name"] > 14.0
    assert capped["name"] == 14.0
    assert probability < 0.5


@attrs.frozen
class _NameOfNoBound(NameComparison):
    bound: float = attrs.field(default=math.nan, kw_only=True)

    @property
    def tf_weight_bound(self) -> float:
        return self.bound


@pytest.mark.parametrize("bound", [math.nan, math.inf, -1.0])
def test_a_bound_that_is_no_number_of_bits_is_refused_by_name(bound: float) -> None:
    comparisons = [_NameOfNoBound(bound=bound), *DEFAULT_COMPARISONS[1:]]
    with pytest.raises(ConfigurationError, match="'name' declares tf_weight_bound"):
        MatchModel.default(comparisons)
    # Without term frequencies the bound is never read, so nothing is refused.
    unread = [_NameOfNoBound(bound=bound, term_frequency=False), *DEFAULT_COMPARISONS[1:]]
    assert MatchModel.default(unread).comparisons[0].tf_weight_bound is bound
