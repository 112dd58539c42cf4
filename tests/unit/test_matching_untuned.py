"""Issue 20 (brief 20q): ambiguous nicknames, two companies of one name, rules that yield."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from crmcore.matching import (
    NICKNAMES,
    CompanyComparison,
    MailboxComparison,
    MatchModel,
    MatchRecord,
    NameComparison,
    build_features,
    canonical_given_name,
    cluster_pairs,
    compare_pairs,
    dedupe,
    name_key,
)
from crmcore.matching.cluster import _evidence_linkage
from crmcore.matching.comparison import nickname_readings, numbered_mailboxes
from crmcore.matching.model import other_work_domains, work_domain
from crmcore.matching.nickname import AMBIGUOUS

NAME = NameComparison()


def name_level(one: str, other: str) -> str:
    table = build_features(
        [MatchRecord(id="a", full_name=one), MatchRecord(id="b", full_name=other)], workers=1
    )
    found = int(NAME.compare(table, np.array([0]), np.array([1]))[0])
    return NAME.level_labels[found - 1]


# --------------------------------------------------------------------------- nicknames


def test_a_nickname_of_two_names_is_folded_to_neither() -> None:
    assert canonical_given_name("chris") == "chris"
    assert "chris" not in NICKNAMES
    assert AMBIGUOUS["chris"] == ("christina", "christopher")
    chris = name_key(given="Chris", family="Young").signature
    assert chris != name_key(given="Christina", family="Young").signature
    assert chris != name_key(given="Christopher", family="Young").signature


def test_chris_is_christophers_name_and_christinas_but_they_are_two_names() -> None:
    assert name_level("Chris Young", "Christopher Young") == "exact"
    assert name_level("Chris Young", "Christina Young") == "exact"
    assert name_level("Young Chris", "Christopher Young") == "exact"
    assert name_level("Christina Young", "Christopher Young") != "exact"
    assert name_level("Chris Young", "Christopher Yang") != "exact"
    assert name_level("Ted Jones", "Edward Jones") == "exact"
    assert name_level("Ted Jones", "Theodore Jones") == "exact"


def test_a_one_nickname_name_still_folds() -> None:
    assert canonical_given_name("bill") == "william"
    # Katherine is Catherine written with a K, and so is Kate's full name.
    assert canonical_given_name("katherine") == canonical_given_name("kate") == "catherine"
    assert name_level("Kate Smith", "Katherine Smith") == "exact"


def test_nickname_readings_are_the_names_signatures() -> None:
    young = name_key(full="Chris Young")
    expected = {
        name_key(full="Christina Young").signature,
        name_key(full="Christopher Young").signature,
    }
    assert nickname_readings(young.family_first, young.given_first) == expected
    plain = name_key(full="William Young")
    assert nickname_readings(plain.family_first, plain.given_first) == frozenset()


@given(
    st.sampled_from(sorted(AMBIGUOUS)),
    st.sampled_from(["Young", "Li", "Schmidt", "García López"]),
    st.booleans(),
)
def test_a_nickname_reads_as_each_of_its_names_either_way_round(
    nickname: str, family: str, family_first: bool
) -> None:
    written = f"{family} {nickname}" if family_first else f"{nickname} {family}"
    for name in AMBIGUOUS[nickname]:
        full = f"{name} {family}"
        assert name_level(written, full) == name_level(full, written) == "exact"


# --------------------------------------------------------------------------- work domains


def test_work_domain_is_the_domain_named_after_the_company() -> None:
    assert work_domain("acme", ["jo@gmail.com", "jo.lee@acme24.cn"]) == "acme24.cn"
    assert work_domain("oakmontlogistics", ["s@oakmont.com"]) == "oakmont.com"
    assert work_domain("acme", ["jo@gmail.com"]) == ""
    assert work_domain("acme", ["jo@acme.cn", "jo@acme.de"]) == ""  # which one is not known
    assert work_domain("", ["jo@acme.cn"]) == ""


def colleague(record_id: str, email: str) -> MatchRecord:
    return MatchRecord(
        id=record_id,
        full_name="Ryo Watanabe",
        company="Brightwater Analytics",
        emails=[email],
        country="JP",
    )


def company_contribution(one: MatchRecord, other: MatchRecord) -> tuple[str, float, float]:
    pair = next(iter(dedupe([one, other]).pairs(min_probability=0.0)))
    found = next(c for c in pair.contributions if c.comparison == "company")
    return found.label, found.weight, found.tf_adjustment


def test_one_company_name_at_two_domains_is_no_evidence() -> None:
    one = colleague("a", "ryow@brightwateranalytics41.co.jp")
    other = colleague("b", "ryo.watanabe@brightwateranalytics72.co.jp")
    label, weight, adjustment = company_contribution(one, other)
    assert label == "exact"
    assert weight == 0.0
    assert adjustment < 0.0  # shown in the explanation


def test_one_company_at_one_domain_or_a_typod_copy_of_it_keeps_its_weight() -> None:
    one = colleague("a", "ryow@brightwater.co.jp")
    for email in ("ryow@brightwater.co.jp", "ryow@brightwater.co.jo"):
        label, weight, _ = company_contribution(one, colleague("b", email))
        assert label == "exact"
        assert weight > 0.0


def test_other_work_domains_needs_both_records_work_mailboxes() -> None:
    records = [
        colleague("a", "ryow@brightwateranalytics41.co.jp"),
        colleague("b", "ryo.watanabe@brightwateranalytics72.co.jp"),
        colleague("c", "ryo.watanabe@gmail.com"),
        colleague("d", "ryow@brightwateranalytic41.co.jp"),  # a letter dropped: a typo
    ]
    table = build_features(records, workers=1)
    left, right = np.array([0, 0, 1, 0]), np.array([1, 2, 2, 3])
    assert other_work_domains(table, left, right).tolist() == [True, False, False, False]
    assert other_work_domains(table, right, left).tolist() == [True, False, False, False]


def test_company_comparison_is_unchanged_by_the_domains() -> None:
    table = build_features(
        [
            colleague("a", "ryow@brightwateranalytics41.co.jp"),
            colleague("b", "ryo.watanabe@brightwateranalytics72.co.jp"),
        ],
        workers=1,
    )
    assert CompanyComparison().compare(table, np.array([0]), np.array([1])).tolist() == [1]


# --------------------------------------------------------------------------- rules


def test_a_rule_does_not_make_a_pair_certain_against_the_rest_of_the_evidence() -> None:
    model = MatchModel.default()
    names = [c.name for c in model.comparisons]
    levels = np.zeros((1, len(names)), dtype=np.int8)
    for name, label in [
        ("name", "exact"),
        ("email", "exact"),
        ("phone", "different"),
    ]:
        k = names.index(name)
        levels[0, k] = model.comparisons[k].level_labels.index(label) + 1
    tf = np.zeros(levels.shape)
    weights, probability, fired = model.score(levels, tf)
    assert fired.tolist() == [0]  # same name, same mailbox: certain
    tf[0, names.index("name")] = -12.0  # ... but a very common name, and another phone
    weights, probability, fired = model.score(levels, tf)
    assert weights[0] < 0.0
    assert fired.tolist() == [-1]
    assert probability[0] < 0.5


@given(st.lists(st.integers(0, 6), min_size=9, max_size=9), st.floats(-12.0, 6.0))
def test_a_fired_rule_never_overrides_a_negative_weight(levels: list[int], name_tf: float) -> None:
    model = MatchModel.default()
    sizes = [len(c.level_labels) for c in model.comparisons]
    row = np.array([[min(v, size) for v, size in zip(levels, sizes, strict=True)]], dtype=np.int8)
    tf = np.zeros(row.shape)
    tf[0, 0] = name_tf if row[0, 0] == 1 else 0.0
    weights, probability, fired = model.score(row, tf)
    if fired[0] >= 0:
        assert weights[0] >= 0.0
        assert probability[0] == 1.0


def test_namesakes_given_one_mailbox_are_not_matched_by_the_rule() -> None:
    # Enough records that term frequencies count: a common name, and two
    # namesakes whose CRM records give one mailbox but nothing else alike.
    records = [
        MatchRecord(id=f"x{k:04d}", full_name=f"Person{k} Other", emails=[f"p{k}@mail{k}.com"])
        for k in range(1200)
    ]
    records += [
        MatchRecord(id=f"w{k:02d}", full_name="李伟", phones=[f"1380013{k:04d}"], country="CN")
        for k in range(40)
    ]
    one = MatchRecord(
        id="n1",
        full_name="李伟",
        emails=["wei.li@huitongyi.com.cn"],
        phones=["+86 178 5146 2179"],
        city="厦门",
        birth_date="1960-12-23",
        country="CN",
    )
    other = MatchRecord(
        id="n2",
        full_name="李伟",
        emails=["wei.li@huitongyi.com.cn"],
        phones=["+86 177 9683 2566"],
        city="Wuhan",
        birth_date="1979-04-02",
        country="CN",
    )
    result = dedupe([*records, one, other])
    table = result.table
    ids = table.ids.tolist()
    left, right = np.array([ids.index("n1")]), np.array([ids.index("n2")])
    levels = compare_pairs(table, result.model.comparisons, left, right)
    tf = result.model.tf_adjustments(table, levels, left, right)
    weights, _, fired = result.model.score(levels, tf)
    assert weights[0] < 0.0
    assert fired.tolist() == [-1]
    assert result.cluster_of()["n1"] != result.cluster_of()["n2"]


# --------------------------------------------------------------------------- mailboxes


def test_a_mailbox_named_by_the_holders_nickname_only_repeats_the_name() -> None:
    mailbox = MailboxComparison()
    one = MatchRecord(id="a", full_name="Steven Brown", emails=["steven@crescentlogistics51.com"])
    other = MatchRecord(id="b", full_name="Steve Brown", emails=["steven@granitefoods59.com"])
    table = build_features([one, other], workers=1)
    level = int(mailbox.compare(table, np.array([0]), np.array([1]))[0])
    assert mailbox.level_labels[level - 1] == "another mailbox"
    # A mailbox name that is not the name keeps its level.
    one = MatchRecord(id="a", full_name="Steven Brown", emails=["coolsb1984@gmail.com"])
    other = MatchRecord(id="b", full_name="Steve Brown", emails=["coolsb1984@qq.com"])
    table = build_features([one, other], workers=1)
    level = int(mailbox.compare(table, np.array([0]), np.array([1]))[0])
    assert mailbox.level_labels[level - 1] == "same mailbox name, another domain"


# --------------------------------------------------------------------------- clustering


def _probability(weight: float) -> float:
    return float(1.0 / (1.0 + 2.0 ** (-weight)))


def test_evidence_against_keeps_a_bridge_record_to_one_side() -> None:
    # Two colleagues of one name (1, 2): their pair is no match, and says why
    # (two mailboxes at one organisation); record 0 resembles both.
    left, right = np.array([0, 0]), np.array([1, 2])
    probability = np.array([_probability(3.42), _probability(3.42)])
    colleagues = _probability(-5.27)

    def score(a: np.ndarray, _b: np.ndarray) -> np.ndarray:
        return np.full(len(a), colleagues)

    def against(a: np.ndarray, _b: np.ndarray) -> np.ndarray:
        return np.full(len(a), -5.0)

    ids = ["a", "b", "c"]
    common = {"threshold": 0.5, "score_pairs": score, "prior_weight": -16.0}
    lacking = cluster_pairs(ids, left, right, probability, **common)  # type: ignore[arg-type]
    assert lacking == ["a", "a", "a"]  # the pair only lacks evidence: one cluster
    told = cluster_pairs(ids, left, right, probability, **common, evidence_against=against)  # type: ignore[arg-type]
    assert told == ["a", "a", "c"]


@given(
    st.lists(st.floats(-40.0, 40.0), min_size=4, max_size=4),
    st.lists(st.floats(-20.0, 0.0), min_size=4, max_size=4),
    st.floats(-30.0, -1.0),
)
def test_evidence_against_only_ever_lowers_a_non_matching_pair(
    weights: list[float], against: list[float], prior: float
) -> None:
    matrix = np.array(weights).reshape(2, 2)
    contrary = np.array(against).reshape(2, 2)
    before = _evidence_linkage(matrix, prior, 0.0)
    after = _evidence_linkage(matrix, prior, 0.0, contrary)
    assert np.all(after <= before + 1e-9)
    matched = matrix >= 0.0
    assert np.array_equal(after[matched], matrix[matched])  # matched pairs keep their weight
    assert np.array_equal(_evidence_linkage(matrix, prior, 0.0, np.zeros((2, 2))), before)


def test_contradiction_is_the_weight_of_levels_that_say_another_person() -> None:
    model = MatchModel.default()
    records = [
        MatchRecord(id="a", full_name="Wei Han", emails=["wei.han@acme.cn"]),
        MatchRecord(id="b", full_name="Wei Han", emails=["wei.han9@acme.cn"]),  # numbered
        MatchRecord(id="c", full_name="Wei Han", emails=["whan@acme.cn"]),  # an alias
        MatchRecord(id="d", full_name="Wei Han", emails=["wei.han@gmail.com"]),
        MatchRecord(id="e", full_name="Wei Han", birth_date="1980-01-02"),
        MatchRecord(id="f", full_name="Wei Han", birth_date="1991-11-12"),
    ]
    table = build_features(records, workers=1)
    left, right = np.array([0, 0, 0, 4]), np.array([1, 2, 3, 5])
    levels = compare_pairs(table, model.comparisons, left, right)
    email = [c.name for c in model.comparisons].index("email")
    labels = model.comparisons[email].level_labels
    assert [labels[v - 1] for v in levels[:3, email]] == [
        "another mailbox at the same domain",
        "another mailbox at the same domain",
        "another mailbox",
    ]
    found = model.contradiction(table, levels, left, right)
    assert found[0] == model.weight_tables()[email][levels[0, email]] < 0.0
    assert found[1] == 0.0  # one person's alias at their organisation lacks evidence only
    assert found[2] == 0.0  # a person's other mailbox
    assert found[3] == 0.0  # two birth dates: one may be mistyped


def test_mailboxes_of_digits_only_are_not_numbered_apart() -> None:
    records = [
        MatchRecord(id="a", full_name="Qi Sun", emails=["422174560@qq.com"]),
        MatchRecord(id="b", full_name="孙琪", emails=["1264355099@qq.com"]),
        MatchRecord(id="c", full_name="Bjoern Meyer", emails=["bjoern.meyer@crescent9.de"]),
        MatchRecord(id="d", full_name="Bjoern Meyer", emails=["bjoern_meyer@crescent9.de"]),
    ]
    table = build_features(records, workers=1)
    found = numbered_mailboxes(table, np.array([0, 2]), np.array([1, 3]))
    assert found.tolist() == [False, True]
