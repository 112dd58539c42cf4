from __future__ import annotations

import attrs
import numpy as np
import pytest

from crmcore.errors import ConfigurationError
from crmcore.matching import (
    DEFAULT_COMPARISONS,
    CompanyComparison,
    Comparison,
    ComparisonWeights,
    DateOfBirthComparison,
    EmailComparison,
    ExactMatch,
    JaroWinklerAtThresholds,
    LevenshteinAtThresholds,
    MatchRecord,
    NameComparison,
    PhoneComparison,
    TokenSetAtThresholds,
    block_on,
    build_features,
    candidate_pairs,
    compare_pairs,
    comparison_columns,
    estimate_model,
    recognise_columns,
)
from crmcore.matching import model as model_module
from crmcore.matching.comparison import Levels, Rows
from crmcore.matching.feature import FeatureTable
from crmcore.sample import SAMPLE_COLUMNS, generate_contacts

SAMPLE_PLAN = recognise_columns(list(SAMPLE_COLUMNS))


def levels_of(comparison: object, a: MatchRecord, b: MatchRecord) -> int:
    table = build_features([a, b])
    left = np.array([0], dtype=np.int64)
    right = np.array([1], dtype=np.int64)
    return int(comparison.compare(table, left, right)[0])  # type: ignore[attr-defined]


def rec(record_id: str, **fields: object) -> MatchRecord:
    return MatchRecord(id=record_id, **fields)


def test_name_comparison_matches_characters_and_pinyin_exactly() -> None:
    assert (
        levels_of(NameComparison(), rec("a", full_name="张伟"), rec("b", full_name="Wei Zhang"))
        == 1
    )


def test_name_comparison_grades_a_typo_below_exact() -> None:
    level = levels_of(NameComparison(), rec("a", full_name="Jonathan Smith"),
                      rec("b", full_name="Jonathon Smith"))  # fmt: skip
    assert NameComparison().level_labels[level - 1] == "jaro-winkler ≥ 0.94"


def test_missing_values_give_level_zero() -> None:
    assert levels_of(NameComparison(), rec("a", full_name="张伟"), rec("b", emails="x@y.com")) == 0


def test_email_comparison_levels() -> None:
    comparison = EmailComparison()
    assert (
        levels_of(comparison, rec("a", emails="A.B@gmail.com"), rec("b", emails="ab@gmail.com"))
        == 1
    )
    assert levels_of(comparison, rec("a", emails="ab@x.com"), rec("b", emails="ac@x.com")) == 2
    assert levels_of(comparison, rec("a", emails="ab@x.com"), rec("b", emails="zz@q.com")) == 3


def test_any_shared_email_is_an_exact_match() -> None:
    a = rec("a", emails=["one@x.com", "two@x.com"])
    b = rec("b", emails=["two@x.com"])
    assert levels_of(EmailComparison(), a, b) == 1


def test_phone_comparison_sees_one_digit_off() -> None:
    a = rec("a", phones="13800138000", country="CN")
    b = rec("b", phones="13800138001", country="CN")
    assert levels_of(PhoneComparison(), a, b) == 2


def test_company_comparison_levels() -> None:
    comparison = CompanyComparison()
    a = rec("a", company="腾达科技有限公司")
    assert levels_of(comparison, a, rec("b", company="深圳市腾达科技股份有限公司")) == 1
    assert levels_of(comparison, a, rec("b", company="腾达贸易有限公司")) == 2


def test_birth_date_with_swapped_day_and_month_is_close() -> None:
    a = rec("a", birth_date="1990-03-05")
    b = rec("b", birth_date="1990-05-03")
    assert levels_of(DateOfBirthComparison(), a, b) == 2


def test_generic_comparisons_produce_their_levels() -> None:
    a, b = rec("a", city="Springfield"), rec("b", city="Springfeld")
    assert levels_of(ExactMatch("city"), a, b) == 2
    assert levels_of(JaroWinklerAtThresholds("city", (0.95, 0.8)), a, b) == 2
    assert levels_of(LevenshteinAtThresholds("city", (1, 2)), a, b) == 2
    assert levels_of(TokenSetAtThresholds("city", (0.9,)), a, b) == 2


def test_level_labels_describe_the_levels() -> None:
    assert JaroWinklerAtThresholds("city", (0.9,)).level_labels == (
        "exact", "jaro-winkler ≥ 0.9", "different"
    )  # fmt: skip


def test_unknown_columns_and_bad_thresholds_fail_when_built() -> None:
    with pytest.raises(ConfigurationError):
        ExactMatch("shoe_size")
    with pytest.raises(ConfigurationError):
        JaroWinklerAtThresholds("city", (0.8, 0.9))
    with pytest.raises(ConfigurationError):
        block_on("shoe_size")


def test_blocking_skips_oversized_blocks() -> None:
    records = [rec(str(i), full_name="张伟") for i in range(5)]
    _, _, stats = candidate_pairs(build_features(records), [block_on("name_sig", max_block_size=3)])
    assert (stats.pairs, stats.skipped_blocks["block_on(name_sig)"]) == (0, 1)


def test_blocking_pairs_each_pair_once() -> None:
    records = [rec(str(i), full_name="张伟", phones="13800138000", country="CN") for i in range(3)]
    left, right, stats = candidate_pairs(
        build_features(records), [block_on("name_sig"), block_on("phone")]
    )
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]
    assert stats.pairs == 3


@attrs.frozen
class HostCityComparison(Comparison):
    """A host's own comparison: the same city or not, written from scratch."""

    name: str = "host_city"
    tf_column: str | None = None

    @property
    def columns(self) -> frozenset[str]:
        return frozenset({"city"})

    @property
    def exact_column(self) -> str:
        return "city"

    @property
    def level_labels(self) -> tuple[str, ...]:
        return ("same city", "other city")

    def compare(self, table: FeatureTable, left: Rows, right: Rows) -> Levels:
        codes = table.codes["city"]
        a, b = codes[left], codes[right]
        return np.where((a < 0) | (b < 0), 0, np.where(a == b, 1, 2)).astype(np.int8)


def city_model(comparison: Comparison) -> ComparisonWeights:
    records = [
        MatchRecord.from_row([r[c] for c in SAMPLE_COLUMNS], id=r["id"], columns=SAMPLE_PLAN)
        for r in generate_contacts(1500, seed=5)
    ]
    table = build_features(records, workers=1)
    rules = [block_on("city"), block_on("phone")]
    left, right, _ = candidate_pairs(table, rules)
    comparisons = (comparison, NameComparison(), PhoneComparison(), EmailComparison())
    levels = compare_pairs(table, comparisons, left, right)
    model = estimate_model(
        table,
        levels,
        comparisons,
        left=left,
        right=right,
        blocking_columns=[("city",), ("phone",)],
        rules=(),
    )
    return model.parameters[0]


def test_a_host_comparison_declares_the_columns_it_reads() -> None:
    assert (comparison_columns(HostCityComparison()), HostCityComparison().exact_column) == (
        frozenset({"city"}),
        "city",
    )


def test_em_treats_a_host_comparison_on_a_blocked_column_as_a_built_in_one() -> None:
    host = city_model(HostCityComparison())
    built_in = city_model(ExactMatch("city", name="host_city"))
    assert (host.m, host.u) == (built_in.m, built_in.u)


def test_every_built_in_comparison_reads_its_exact_column() -> None:
    comparisons = [*DEFAULT_COMPARISONS, ExactMatch("email_user"), JaroWinklerAtThresholds("city")]
    assert [c.exact_column in c.columns for c in comparisons] == [True] * len(comparisons)


def test_the_weight_bound_in_the_docstring_is_the_bound_in_the_code() -> None:
    assert f"±{model_module._WEIGHT_BOUND:g} bits" in (ComparisonWeights.weights.__doc__ or "")


def test_a_default_model_on_custom_comparisons_keeps_the_default_rules_it_can_apply() -> None:
    defaults = model_module.DEFAULT_RULES
    without_email = [c for c in model_module.DEFAULT_COMPARISONS if c.name != "email"]
    # used to raise: the rule "exact email + name" names an unknown comparison
    model = model_module.MatchModel.default(without_email)
    assert [r.name for r in model.rules] == [r.name for r in defaults if "email" not in r.requires]
    assert [r.name for r in model_module.MatchModel.default().rules] == [r.name for r in defaults]
