"""Data-quality KPIs and the quality gate on tiny hand-built frames."""

from __future__ import annotations

import pendulum
import polars as pl
import pytest

from crmcore.analytics.quality import (
    QualityThresholds,
    completeness,
    duplicate_rate,
    freshness,
    quality_gate,
    validity,
)
from crmcore.errors import InvalidValueError, PayloadError

AT = pendulum.datetime(2026, 6, 1)
UTC = pl.Datetime("us", "UTC")

PEOPLE = pl.DataFrame(
    {
        "id": ["a", "b", "c", "m"],
        "display_name": ["张伟", "Zhang Wei", "李娜", "merged away"],
        "owner": ["u1", "u1", None, None],
        "source": ["wechat", "", "event", None],
        "tags": [["vip"], [], None, []],
        "primary_email": ["zw@example.com", None, "lina@example", None],
        "primary_phone": ["138 0013 8000", "+86 138-0013-8000", "139 1234 5678", "1"],
        "country": ["CN", None, "CN", "CN"],
        "merged_into": [None, None, None, "a"],
        "updated_at": [AT.subtract(days=1), AT.subtract(days=200), None, AT],
    },
    schema_overrides={"merged_into": pl.String, "updated_at": UTC},
)


def test_completeness_counts_blank_text_and_empty_lists_as_missing_and_skips_merged() -> None:
    # Three active customers. owner: a, b -> 2/3; source: a, c ("" is blank) -> 2/3;
    # tags: only a has one -> 1/3. Overall 5 / 9.
    kpi = completeness(PEOPLE, fields=["owner", "source", "tags"])
    assert kpi.table is not None
    assert kpi.table.select("field", "filled", "customers").rows() == [
        ("owner", 2, 3),
        ("source", 2, 3),
        ("tags", 1, 3),
    ]
    assert (kpi.numerator, kpi.denominator) == (5, 9)


def test_completeness_names_a_missing_field() -> None:
    with pytest.raises(PayloadError, match=r"missing column @ \$\.company"):
        completeness(PEOPLE, fields=["company"])


def test_validity_parses_with_crmcore_value_objects_in_the_row_s_region() -> None:
    # Emails: zw@example.com valid, lina@example not (no dot in the domain) -> 1 / 2.
    # Phones: a national CN, b international, c national CN: all valid -> 3 / 3.
    kpi = validity(PEOPLE)
    assert kpi.table is not None
    assert kpi.table.select("field", "filled", "valid").rows() == [
        ("primary_email", 2, 1),
        ("primary_phone", 3, 3),
    ]
    assert kpi.value == pytest.approx(4 / 5)


def test_validity_without_a_region_reads_national_numbers_as_invalid() -> None:
    # Without the country, "138 0013 8000" has no country code: only b's number parses.
    kpi = validity(PEOPLE, fields={"primary_phone": "phone"}, region_column=None)
    assert (kpi.numerator, kpi.denominator) == (1, 3)


def test_validity_refuses_an_unknown_kind_and_a_non_text_column() -> None:
    with pytest.raises(InvalidValueError, match="email or phone"):
        validity(PEOPLE, fields={"primary_email": "url"})  # type: ignore[dict-item]
    with pytest.raises(PayloadError, match="tags"):
        validity(PEOPLE, fields={"tags": "email"})


def test_duplicate_rate_from_given_clusters_treats_missing_ids_as_singletons() -> None:
    clusters = pl.DataFrame({"id": ["a", "b"], "cluster_id": ["a", "a"]})
    # a and b are one cluster; c alone (not listed); m merged: 2 of 3.
    kpi = duplicate_rate(PEOPLE, clusters=clusters)
    assert (kpi.numerator, kpi.denominator) == (2, 3)
    assert kpi.table is not None
    assert kpi.table.rows() == [(1, 1, 1), (2, 1, 2)]


def test_duplicate_rate_runs_crmcore_matching_when_no_clusters_are_given() -> None:
    # 张伟 and Zhang Wei share the phone +8613800138000: one cluster of two.
    kpi = duplicate_rate(PEOPLE)
    assert (kpi.numerator, kpi.denominator) == (2, 3)


def test_freshness_counts_records_updated_within_the_window() -> None:
    # a 1 day old, b 200 days, c never: within 365 days 2 of 3; within 100 days 1 of 3.
    assert freshness(PEOPLE, at=AT).numerator == 2
    kpi = freshness(PEOPLE, at=AT, within_days=100)
    assert (kpi.numerator, kpi.denominator) == (1, 3)
    assert kpi.table is not None
    assert kpi.table.select("min", "max", "stale").row(0) == (1.0, 200.0, 1)
    with pytest.raises(InvalidValueError, match="within_days"):
        freshness(PEOPLE, at=AT, within_days=0)


def test_quality_gate_passes_with_thresholds_the_data_meets() -> None:
    rules = QualityThresholds(
        required_fields=("display_name",),
        min_validity=0.8,
        max_duplicate_rate=0.7,
        min_fresh=0.6,
    )
    report = quality_gate(PEOPLE, at=AT, thresholds=rules, clusters={"a": "a", "b": "a"})
    assert report.passed
    assert report.to_frame()["check"].to_list() == [
        "completeness of display_name",
        "validity (accuracy)",
        "duplicate rate",
        "freshness (365 days)",
    ]


def test_quality_gate_fails_the_manuals_95_percent_and_lists_the_failures() -> None:
    report = quality_gate(PEOPLE, at=AT, clusters={"a": "a", "b": "a"})
    # owner 2/3, source 2/3, validity 4/5, duplicates 2/3 all miss the defaults.
    assert not report.passed
    assert [c.name for c in report.failures] == [
        "completeness of owner",
        "completeness of source",
        "validity (accuracy)",
        "duplicate rate",
    ]
    assert str(report).splitlines()[0] == "data quality: 4 failed"


def test_an_empty_import_does_not_pass_the_gate() -> None:
    report = quality_gate(PEOPLE.head(0), at=AT, clusters={})
    assert not report.passed
    assert "undefined" in str(report)


def test_thresholds_are_shares() -> None:
    with pytest.raises(InvalidValueError, match="min_validity"):
        QualityThresholds(min_validity=95)
