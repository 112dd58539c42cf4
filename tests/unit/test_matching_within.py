"""Issue 20: role mailboxes are shared whoever holds them; a city is weighed within a country."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.matching import ExactMatch, MatchModel, MatchRecord, build_features, compare_pairs
from crmcore.matching.comparison import is_role_mailbox
from crmcore.matching.model import (
    CONTACT_COLUMNS,
    _exact_u,
    _exact_u_within,
    contact_holders,
)

ONE, OTHER = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)


def test_a_role_mailbox_two_names_share_weighs_nothing() -> None:
    # Only two names hold office@: not a switchboard by its holders, a role mailbox by its name.
    records = [
        MatchRecord(id="1", full_name="Sneha Iyer", emails="office@oakmont.com"),
        MatchRecord(id="2", full_name="Rahul Nair", emails="office@oakmont.com"),
    ]
    table = build_features(records, workers=1)
    model = MatchModel.default()
    levels = compare_pairs(table, model.comparisons, ONE, OTHER)
    holders = {c: contact_holders(table, c) for c in CONTACT_COLUMNS}
    tf = model.tf_adjustments(table, levels, ONE, OTHER, total=10_000, holders=holders)
    pair = model.explain("1", "2", levels[0], tf[0])
    email = next(c for c in pair.contributions if c.comparison == "email")
    assert (email.level, email.weight) == (1, 0.0)
    assert is_role_mailbox("sales@x.com")
    assert not is_role_mailbox("sneha.iyer@x.com")


def test_a_personal_mailbox_two_names_share_still_counts() -> None:
    records = [
        MatchRecord(id="1", full_name="Wei Zhang", emails="wz@acme.cn"),
        MatchRecord(id="2", full_name="Zhang Wei", emails="wz@acme.cn"),
    ]
    table = build_features(records, workers=1)
    model = MatchModel.default()
    levels = compare_pairs(table, model.comparisons, ONE, OTHER)
    holders = {c: contact_holders(table, c) for c in CONTACT_COLUMNS}
    tf = model.tf_adjustments(table, levels, ONE, OTHER, total=10_000, holders=holders)
    email = next(c for c in model.explain("1", "2", levels[0], tf[0]).contributions
                 if c.comparison == "email")  # fmt: skip
    assert email.weight > 0


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["CN", "US", "DE"]), st.sampled_from(["a", "b", "c", ""])),
        min_size=2,
        max_size=30,
    )
)
def test_city_agreement_within_a_country_is_never_rarer_than_overall(
    rows: list[tuple[str, str]],
) -> None:
    # Two records of one country share a city at least as often as two records do
    # overall when every city lies in one country; with one country the two are equal.
    records = [
        MatchRecord(id=str(k), full_name="x", city=f"{country}{city}" if city else "",
                    country=country)
        for k, (country, city) in enumerate(rows)
    ]  # fmt: skip
    table = build_features(records, workers=1)
    overall, within = _exact_u(table, "city"), _exact_u_within(table, "city", "country")
    if overall is None:
        assert within is None
        return
    assert within is not None
    assert within >= overall - 1e-12
    if len({country for country, city in rows if city}) == 1:
        assert abs(within - overall) < 1e-12
    assert ExactMatch("city", within="country").within == "country"


def test_a_pair_lacking_evidence_counts_half_the_prior_and_never_for_a_merge() -> None:
    from crmcore.matching.cluster import _evidence_linkage  # noqa: PLC0415 - private helper

    out = _evidence_linkage(np.array([[2.0, -6.0, -30.0]]), -12.0, 0.0)
    assert out.tolist() == [[2.0, 0.0, -24.0]]
