"""Issue 20: several mailboxes per person, shared contact points, names in any split,
and clustering that lets certain links outweigh pairs lacking evidence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.errors import ConfigurationError
from crmcore.matching import (
    DEFAULT_COMPARISONS,
    DEFAULT_OVERLAPS,
    MailboxComparison,
    MatchModel,
    MatchRecord,
    NameComparison,
    Overlap,
    build_features,
    cluster_pairs,
    compare_pairs,
    dedupe,
)
from crmcore.matching.comparison import ROLE_MAILBOXES
from crmcore.matching.model import CONTACT_COLUMNS, _capped, contact_holders, distinct_names


def level(comparison: object, a: MatchRecord, b: MatchRecord) -> int:
    table = build_features([a, b], workers=1)
    one, other = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    return int(comparison.compare(table, one, other)[0])  # type: ignore[attr-defined]


def rec(record_id: str, **fields: object) -> MatchRecord:
    return MatchRecord(id=record_id, **fields)


MAILBOX = MailboxComparison()


def test_mailbox_levels_tell_another_mailbox_from_a_typo() -> None:
    labels = ("exact", *MAILBOX.level_labels[1:])
    pairs = {
        "exact": (["a.b@x.com", "ab@gmail.com"], ["AB@gmail.com"]),
        "one edit apart": (["jonathan@x.com"], ["jonahtan@x.com"]),
        "same mailbox name, another domain": (["coolbob2620@gmail.com"], ["coolbob2620@qq.com"]),
        # A namesake's numbered mailbox is not a typo of the first one: it is a
        # second mailbox at the one domain, a colleague's.
        "another mailbox at the same domain": (["wei.han@acme.cn"], ["wei.han9@acme.cn"]),
        "another mailbox": (["bob.lee@acme.cn"], ["bob.lee@outlook.com"]),
        # ... and a digit apart in the domain is another organisation's domain.
        "another mailbox ": (["bob.lee@tiancheng24.cn"], ["bob.lee@tiancheng25.cn"]),
    }
    for label, (mine, theirs) in pairs.items():
        got = level(MAILBOX, rec("a", full_name="Bob Lee", emails=mine),
                    rec("b", full_name="Bob Lee", emails=theirs))  # fmt: skip
        assert labels[got - 1] == label.strip(), (label, got)


def test_two_mailboxes_named_after_their_own_holders_are_not_a_typo() -> None:
    meyer = rec("a", full_name="Anna Meyer", emails="annam@crescent.de")
    koehler = rec("b", full_name="Anna Koehler", emails="annak@crescent.de")
    assert (
        MAILBOX.level_labels[level(MAILBOX, meyer, koehler) - 1]
        == "another mailbox at the same domain"
    )
    typo = rec("c", full_name="Anna Meyer", emails="annma@crescent.de")
    assert MAILBOX.level_labels[level(MAILBOX, meyer, typo) - 1] == "one edit apart"


def test_a_mailbox_named_after_the_person_on_another_domain_only_repeats_the_name() -> None:
    a = rec("a", full_name="Wei Zhang", emails="wei.zhang@acme.cn")
    b = rec("b", full_name="Zhang Wei", emails="wei.zhang@gmail.com")
    assert MAILBOX.level_labels[level(MAILBOX, a, b) - 1] == "another mailbox"
    # A nickname or ü written as ue in the mailbox is still only the name.
    trish = rec("t", given_name="Patricia", family_name="Anderson", emails="trish.anderson@x.com")
    also = rec("u", full_name="Trish Anderson", emails="trish.anderson@icloud.com")
    assert MAILBOX.level_labels[level(MAILBOX, trish, also) - 1] == "another mailbox"
    gunter = rec("g", full_name="Günter Groß", emails="guenter.gross@acme.de")
    again = rec("h", full_name="Günter Groß", emails="guenter.gross@web.de")
    assert MAILBOX.level_labels[level(MAILBOX, gunter, again) - 1] == "another mailbox"
    c = rec("c", full_name="Wei Zhang", emails="wzhang@acme.cn")
    d = rec("d", full_name="Zhang Wei", emails="wzhang@qq.com")
    assert MAILBOX.level_labels[level(MAILBOX, c, d) - 1] == "another mailbox"


def test_role_mailboxes_are_never_a_shared_mailbox_name() -> None:
    assert "info" in ROLE_MAILBOXES
    a = rec("a", full_name="Ann Lee", emails="info@acme.com")
    b = rec("b", full_name="Bo Chan", emails="info@other.com")
    assert MAILBOX.level_labels[level(MAILBOX, a, b) - 1] == "another mailbox"


def test_the_explanation_shows_another_mailbox_as_weak_evidence_against() -> None:
    model = MatchModel.default()
    names = [c.name for c in model.comparisons]
    weights = dict(zip(names, model.weight_tables(), strict=True))
    labels = model.parameters[names.index("email")].labels
    another = weights["email"][labels.index("another mailbox") + 1]
    same_name = weights["email"][labels.index("same mailbox name, another domain") + 1]
    assert -4.0 < another < 0.0  # weak, not the -14 bits of a different person
    assert same_name > 0.0
    table = build_features(
        [
            rec("w", full_name="Steven Campbell", emails="steven.campbell@falcon.com",
                phones="+12139774247"),
            rec("p", full_name="Steven Campbell", emails="steve.campbell@gmail.com",
                phones="+1 213 977 4247"),
        ],
        workers=1,
    )  # fmt: skip
    one, other = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    levels = compare_pairs(table, model.comparisons, one, other)
    explained = model.explain("w", "p", levels[0])
    email = next(c for c in explained.contributions if c.comparison == "email")
    assert (email.label, email.weight < 0) == ("another mailbox", True)
    assert explained.probability > 0.9
    assert "email: another mailbox -" in explained.explain()


def test_a_name_in_one_field_equals_the_same_name_in_two() -> None:
    # "Maria Navarro Alvarez" split as given "Maria Navarro" + family "Alvarez".
    a = rec("a", full_name="Maria Navarro Alvarez")
    b = rec("b", given_name="María", family_name="Navarro Álvarez")
    assert level(NameComparison(), a, b) == 1


def switchboard_records() -> list[MatchRecord]:
    """1,200 filler people, plus four colleagues behind one switchboard."""
    filler = [
        rec(f"f{k:04d}", full_name=f"Filler{k:04d} Person", phones=f"+1415{k:07d}")
        for k in range(1200)
    ]
    colleagues = [
        rec(f"c{k}", full_name=name, phones="+14155550100", company="Acme Inc")
        for k, name in enumerate(["Ann Lee", "Bo Chan", "Cy Diaz", "Di Eng"])
    ]
    return filler + colleagues


def test_a_number_several_names_hold_weighs_nothing() -> None:
    records = switchboard_records()
    table = build_features(records, workers=1)
    ids = table.ids.tolist()
    one = np.array([ids.index("c0")], dtype=np.int64)
    other = np.array([ids.index("c1")], dtype=np.int64)
    model = MatchModel.default()
    levels = compare_pairs(table, model.comparisons, one, other)
    tf = model.tf_adjustments(table, levels, one, other)
    explained = model.explain("c0", "c1", levels[0], tf[0])
    phone = next(c for c in explained.contributions if c.comparison == "phone")
    assert (phone.label, phone.weight) == ("exact", 0.0)
    assert phone.tf_adjustment < 0.0
    assert "phone" in CONTACT_COLUMNS
    # The same number held by one name (a person's own mobile) still counts.
    own = [*records[:1200], rec("m1", full_name="Ann Lee", phones="+14155550100"),
           rec("m2", full_name="Ann Lee", phones="+1 415 555 0100")]  # fmt: skip
    table = build_features(own, workers=1)
    ids = table.ids.tolist()
    one = np.array([ids.index("m1")], dtype=np.int64)
    other = np.array([ids.index("m2")], dtype=np.int64)
    levels = compare_pairs(table, model.comparisons, one, other)
    tf = model.tf_adjustments(table, levels, one, other)
    phone = next(
        c for c in model.explain("m1", "m2", levels[0], tf[0]).contributions
        if c.comparison == "phone"
    )  # fmt: skip
    assert phone.weight > 5.0


def test_a_switchboard_given_as_a_second_number_weighs_nothing_either() -> None:
    filler = switchboard_records()[:1200]
    colleagues = [
        rec(f"c{k}", full_name=name, phones=[f"+1650555{k:04d}", "+14155550100"])
        for k, name in enumerate(["Ann Lee", "Bo Chan", "Cy Diaz"])
    ]
    table = build_features([*filler, *colleagues], workers=1)
    ids = table.ids.tolist()
    one = np.array([ids.index("c0")], dtype=np.int64)
    other = np.array([ids.index("c1")], dtype=np.int64)
    model = MatchModel.default()
    levels = compare_pairs(table, model.comparisons, one, other)
    tf = model.tf_adjustments(table, levels, one, other)
    phone = next(
        c for c in model.explain("c0", "c1", levels[0], tf[0]).contributions
        if c.comparison == "phone"
    )  # fmt: skip
    assert (phone.label, phone.weight) == ("exact", 0.0)
    assert contact_holders(table, "phone")["+14155550100"] == 3


def test_a_shared_role_mailbox_does_not_fire_the_same_email_and_name_rule() -> None:
    filler = switchboard_records()[:1200]
    namesakes = [
        rec("v1", full_name="Victoria Stewart", emails="hello@meridian.com"),
        rec("v2", full_name="Victoria Stewart", emails="hello@meridian.com"),
        rec("o1", full_name="Ann Lee", emails="hello@meridian.com"),
        rec("o2", full_name="Bo Chan", emails="hello@meridian.com"),
    ]
    table = build_features([*filler, *namesakes], workers=1)
    ids = table.ids.tolist()
    one = np.array([ids.index("v1")], dtype=np.int64)
    other = np.array([ids.index("v2")], dtype=np.int64)
    model = MatchModel.default()
    levels = compare_pairs(table, model.comparisons, one, other)
    tf = model.tf_adjustments(table, levels, one, other)
    _, probability, fired = model.score(levels, tf)
    assert (int(fired[0]), float(probability[0]) < 1.0) == (-1, True)
    # Without the holders' adjustment (no term frequencies) the rule fires as before.
    assert int(model.score(levels)[2][0]) == 0


def test_colleagues_behind_one_switchboard_stay_apart() -> None:
    found = dedupe(switchboard_records()).cluster_of()
    assert len({found[f"c{k}"] for k in range(4)}) == 4


def test_certain_links_outweigh_pairs_that_only_lack_evidence() -> None:
    # One person: a1, a2 (work records) and b1, b2 (personal records); a2 and b1
    # share a mobile (certain), every other cross pair shares only the name.
    ids = ["a1", "a2", "b1", "b2"]
    certain = {(0, 1), (2, 3), (1, 2)}

    def probability(x: int, y: int) -> float:
        return 0.999 if (min(x, y), max(x, y)) in certain else 0.1

    left = np.array([0, 2, 1], dtype=np.int64)
    right = np.array([1, 3, 2], dtype=np.int64)
    scores = np.array([probability(a, b) for a, b in zip(left, right, strict=True)])

    def score_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array([probability(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)])

    def run(linkage: str) -> list[str]:
        return cluster_pairs(
            ids, left, right, scores, threshold=0.5, score_pairs=score_pairs,
            linkage=linkage,  # type: ignore[arg-type]
        )  # fmt: skip

    assert run("log-odds") == ["a1"] * 4
    assert run("probability") == ["a1", "a1", "b1", "b1"]  # the mean probability is 0.33
    with pytest.raises(ConfigurationError, match="linkage"):
        run("median")


addresses = st.lists(
    st.sampled_from(
        ["ann.lee@acme.com", "ann.lee@gmail.com", "annlee@acme.com", "ann.lee9@acme.com",
         "info@acme.com", "zz9@qq.com", "zz9@163.com", "bo@acme.com", ""]
    ),
    max_size=3,
)  # fmt: skip
names = st.sampled_from(["Ann Lee", "Lee Ann", "Bo Chan", ""])


@given(addresses, addresses, names, names)
def test_mailbox_levels_are_symmetric_and_missing_is_level_zero(
    mine: list[str], theirs: list[str], my_name: str, their_name: str
) -> None:
    a = rec("a", full_name=my_name, emails=mine)
    b = rec("b", full_name=their_name, emails=theirs)
    forward, backward = level(MAILBOX, a, b), level(MAILBOX, b, a)
    assert forward == backward
    assert (forward == 0) == (not any(mine) or not any(theirs))


@given(addresses, addresses, names, names)
def test_a_pair_scores_the_same_both_ways_and_missing_email_adds_nothing(
    mine: list[str], theirs: list[str], my_name: str, their_name: str
) -> None:
    model = MatchModel.default()
    table = build_features(
        [rec("a", full_name=my_name, emails=mine), rec("b", full_name=their_name, emails=theirs)],
        workers=1,
    )
    zero, one = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    forward = compare_pairs(table, DEFAULT_COMPARISONS, zero, one)
    backward = compare_pairs(table, DEFAULT_COMPARISONS, one, zero)
    assert forward.tolist() == backward.tolist()
    explained = model.explain("a", "b", forward[0])
    email = next(c for c in explained.contributions if c.comparison == "email")
    if not any(mine) or not any(theirs):
        assert (email.level, email.weight) == (0, 0.0)


@given(st.lists(st.tuples(names, addresses), min_size=12, max_size=16))
def test_many_pairs_and_one_pair_at_a_time_get_the_same_mailbox_level(
    people: list[tuple[str, list[str]]],
) -> None:
    # Over 64 pairs take the vectorised path, one pair the plain one (online lookups).
    records = [rec(f"r{k:02d}", full_name=n, emails=e) for k, (n, e) in enumerate(people)]
    table = build_features(records, workers=1)
    left, right = (x.astype(np.int64) for x in np.triu_indices(len(records), k=1))
    assert len(left) >= 64
    together = MAILBOX.compare(table, left, right).tolist()
    alone = [
        int(MAILBOX.compare(table, left[k : k + 1], right[k : k + 1])[0]) for k in range(len(left))
    ]
    assert together == alone


def test_one_persons_name_written_several_ways_is_one_holder() -> None:
    # A typo'd surname, ue for ü and a swapped order are one person, not a switchboard.
    records = [
        rec("a", given_name="Christopher", family_name="Phillips", emails="cp@granite.co.uk"),
        rec("b", given_name="Christopher", family_name="Philllips", emails="cp@granite.co.uk"),
        rec("c", full_name="Phillips Christopher", emails="cp@granite.co.uk"),
        rec("d", given_name="Jörg", family_name="Hoffmann", phones="+4916055230078"),
        rec("e", given_name="Joerg", family_name="Hoffmann", phones="+4916055230078"),
        rec("f", given_name="Jörg", family_name="Hoffmmann", phones="+4916055230078"),
    ]
    table = build_features(records, workers=1)
    assert contact_holders(table, "email") == {"cp@granite.co.uk": 1}
    assert contact_holders(table, "phone") == {"+4916055230078": 1}
    assert distinct_names([("leeann", "annlee"), ("chanbo", "bochan"), ("", "")]) == 3


@given(st.lists(st.sampled_from(["annlee", "bochan", "cydiaz", "dieng", "wangwei"]), max_size=8))
def test_distinct_names_counts_each_different_name_once(parts: list[str]) -> None:
    names = [(p[::-1], p) for p in parts]
    assert distinct_names(names) == len(set(parts))
    assert distinct_names(names + names) == distinct_names(names)


def test_colleagues_agreement_on_a_city_adds_nothing_to_the_company() -> None:
    model = MatchModel.default()
    names = [c.name for c in model.comparisons]
    table = build_features(
        [
            rec("a", full_name="Jung Hyun-woo", emails="hyunwoo.jung@lakeside.com",
                company="Lakeside Foods", city="Busan"),
            rec("b", full_name="Jung Hyun-woo", emails="hyunwooj@lakeside.com",
                company="Lakeside Foods Corp.", city="Busan"),
        ],
        workers=1,
    )  # fmt: skip
    one, other = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    levels = compare_pairs(table, model.comparisons, one, other)
    assert (
        model.comparisons[names.index("email")].level_labels[levels[0, names.index("email")] - 1]
        == "another mailbox at the same domain"
    )
    tf = model.tf_adjustments(table, levels, one, other)
    explained = model.explain("a", "b", levels[0], tf[0])
    weight = {c.comparison: c.weight for c in explained.contributions if c.level}
    # Two mailboxes at one domain already say "the same organisation", and
    # colleagues share a city: neither agreement is counted again.
    assert weight["company"] == 0.0
    assert weight["city"] == 0.0
    assert weight["email"] < 0.0
    assert explained.probability < 0.5
    # Without the overlaps the same pair would be a match: the rule is what parts them.
    plain = MatchModel(model.comparisons, model.parameters, model.prior, model.rules, ())
    unadjusted = plain.tf_adjustments(table, levels, one, other)[0]
    assert plain.explain("a", "b", levels[0], unadjusted).probability > 0.5


def test_an_overlap_naming_a_missing_level_is_refused() -> None:
    model = MatchModel.default()
    with pytest.raises(ConfigurationError, match="overlap of 'city' given 'company'"):
        MatchModel(model.comparisons, model.parameters, model.prior, model.rules,
                   (Overlap("city", (1,), "company", (9,)),))  # fmt: skip
    custom = MatchModel.default((NameComparison(), *DEFAULT_COMPARISONS[2:]))
    # no mailbox levels: the overlap given email's fifth level is left out, the others kept
    assert custom.overlaps == (DEFAULT_OVERLAPS[0], *DEFAULT_OVERLAPS[2:])


@given(st.lists(st.integers(0, 5), min_size=9, max_size=9))
def test_overlaps_never_raise_a_weight(row: list[int]) -> None:
    model = MatchModel.default()
    sizes = [len(c.level_labels) for c in model.comparisons]
    levels = np.array([[min(v, s) for v, s in zip(row, sizes, strict=True)]], dtype=np.int8)
    plain = MatchModel(model.comparisons, model.parameters, model.prior, model.rules, ())
    table = build_features([rec("a", full_name="A B"), rec("b", full_name="A B")], workers=1)
    rows = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    with_overlaps = model.score(levels, model.tf_adjustments(table, levels, *rows))[0][0]
    without = plain.score(levels, plain.tf_adjustments(table, levels, *rows))[0][0]
    assert with_overlaps <= without


def test_another_mailbox_at_the_same_domain_is_never_estimated_as_evidence_for() -> None:
    mailbox = MailboxComparison()
    m = np.array([0.6, 0.05, 0.01, 0.14, 0.2])
    u = np.array([1e-5, 1e-5, 1e-5, 0.97, 0.03])
    capped = _capped(m, u, mailbox.weaker_levels)
    assert capped[4] / u[4] <= capped[3] / u[3] * (1 + 1e-9)
    assert np.isclose(capped.sum(), 1.0)
