"""Rule nodes, the builder, windows and the JSON form of rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pendulum
import pytest

from crmcore.domain import CustomFieldSchema, FieldDef, FieldType
from crmcore.errors import InvalidValueError, PayloadError
from crmcore.segments import (
    ActivityCount,
    And,
    Between,
    CalendarPeriod,
    Compare,
    CustomCompare,
    HasTag,
    LastOrder,
    LatestSurveyScore,
    Not,
    Op,
    Or,
    OrderTotal,
    Rule,
    Within,
    activities,
    custom,
    field,
    last_purchase,
    latest_survey,
    purchases,
    resolve,
)
from crmcore.segments.rule import RULE_TYPES
from crmcore.serialization import structure, unstructure

AT = pendulum.datetime(2026, 3, 15, 10, 30)


def test_field_equality_builds_a_compare_node() -> None:
    assert (field("tier") == "vip") == Compare("tier", Op.EQ, "vip")


def test_ampersand_flattens_nested_ands() -> None:
    rule = HasTag("a") & HasTag("b") & HasTag("c")
    assert rule == And((HasTag("a"), HasTag("b"), HasTag("c")))


def test_pipe_and_tilde_build_or_and_not() -> None:
    assert (HasTag("a") | ~HasTag("b")) == Or((HasTag("a"), Not(HasTag("b"))))


def test_an_unknown_field_is_rejected_when_the_rule_is_built() -> None:
    with pytest.raises(InvalidValueError, match="field 'colour'"):
        field("colour") == "red"  # noqa: B015 - building the node is the test


def test_an_enum_field_rejects_a_value_outside_the_enum() -> None:
    with pytest.raises(InvalidValueError, match="not one of"):
        Compare("lifecycle_stage", Op.EQ, "dormant")


def test_an_enum_field_does_not_support_ordering() -> None:
    with pytest.raises(InvalidValueError, match="tier supports"):
        Compare("tier", Op.LT, "vip")


def test_timestamps_are_kept_as_canonical_utc_text() -> None:
    rule = field("created_at") >= pendulum.datetime(2026, 1, 1, 8, tz="Asia/Shanghai")
    assert rule == Compare("created_at", Op.GE, "2026-01-01T00:00:00+00:00")


def test_a_naive_timestamp_value_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="no UTC offset"):
        Compare("created_at", Op.GE, "2026-01-01T00:00:00")


def test_matches_rejects_patterns_outside_the_portable_subset() -> None:
    with pytest.raises(InvalidValueError, match=r"'\\w' is not supported"):
        field("display_name").matches(r"\w+")


def test_custom_fields_take_their_type_from_the_host_schema() -> None:
    schema = CustomFieldSchema((FieldDef(name="budget", type="decimal"),))
    assert (custom("budget", schema=schema) > "12.50") == CustomCompare(
        "budget", FieldType.DECIMAL, Op.GT, "12.5"
    )


def test_a_custom_field_type_that_contradicts_the_schema_is_rejected() -> None:
    schema = CustomFieldSchema((FieldDef(name="budget", type="decimal"),))
    with pytest.raises(InvalidValueError, match="the schema says decimal"):
        custom("budget", "text", schema=schema)


def test_a_boolean_custom_field_supports_only_equality_and_emptiness() -> None:
    with pytest.raises(InvalidValueError, match="boolean custom field supports"):
        CustomCompare("active", FieldType.BOOLEAN, Op.GT, True)


def test_money_aggregates_need_a_currency() -> None:
    with pytest.raises(InvalidValueError, match="need a currency"):
        purchases().total()


def test_money_values_may_have_at_most_six_decimals() -> None:
    with pytest.raises(InvalidValueError, match="at most 6 decimals"):
        OrderTotal(Op.GT, Decimal("0.0000001"), "CNY")


def test_builders_read_like_the_segment() -> None:
    assert last_purchase().within(days=90) == LastOrder(Within(90))
    assert (activities("call").count() >= 2) == ActivityCount(Op.GE, 2, None, ("call",))
    assert (latest_survey().nps <= 6) == LatestSurveyScore("nps", Op.LE, 6)


def test_within_the_last_days_ends_at_at_inclusive() -> None:
    span = resolve(Within(1), at=AT)
    assert (span.start, span.end, span.end_inclusive) == (AT.subtract(days=1), AT, True)


def test_this_calendar_month_is_counted_in_the_given_time_zone() -> None:
    at = pendulum.datetime(2026, 2, 28, 17)  # already March 1st in Shanghai
    span = resolve(CalendarPeriod("month"), at=at, tz="Asia/Shanghai")
    assert span.start == pendulum.datetime(2026, 3, 1, tz="Asia/Shanghai")


def test_last_quarter_starts_three_months_before_this_one() -> None:
    span = resolve(CalendarPeriod("quarter", -1), at=AT)
    assert (span.start, span.end) == (pendulum.datetime(2025, 10, 1), pendulum.datetime(2026, 1, 1))


def test_between_includes_both_days() -> None:
    span = resolve(Between(dt.date(2026, 1, 1), dt.date(2026, 1, 31)), at=AT)
    assert span.contains(pendulum.datetime(2026, 1, 31, 23, 59, 59))


def test_between_rejects_an_end_before_its_start() -> None:
    with pytest.raises(InvalidValueError, match="before start"):
        Between("2026-02-01", "2026-01-01")


def test_an_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="time zone"):
        resolve(Within(1), at=AT, tz="Mars/Olympus")


def test_a_rule_round_trips_through_json() -> None:
    rule = (field("tier") == "vip") & (purchases(currency="CNY").total() > "1000")
    data = unstructure(rule)
    assert data["type"] == "And"
    assert structure(data, Rule) == rule  # type: ignore[arg-type]  # a Union alias


def test_an_invalid_json_rule_reports_every_problem_with_its_path() -> None:
    data = {
        "type": "And",
        "rules": [
            {"type": "Nope"},
            {"type": "LastOrder", "window": {"type": "Within", "days": "x"}},
        ],
    }
    with pytest.raises(PayloadError) as caught:
        structure(data, Rule)  # type: ignore[arg-type]  # a Union alias
    assert caught.value.paths == ("$.rules[0]", "$.rules[1].window.days")


def test_a_json_rule_with_an_invalid_value_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="not one of"):
        structure({"type": "Compare", "field": "tier", "op": "eq", "value": "gold"}, Rule)  # type: ignore[arg-type]  # a Union alias


def test_rule_types_list_every_node_of_the_rule_union() -> None:
    assert [t.__name__ for t in RULE_TYPES] == [
        "Compare",
        "CustomCompare",
        "InWindow",
        "HasTag",
        "HasConsent",
        "OrderCount",
        "OrderTotal",
        "OrderAverage",
        "LastOrder",
        "ActivityCount",
        "LastActivity",
        "LatestSurveyScore",
        "And",
        "Or",
        "Not",
    ]


def test_evolving_a_comparison_canonicalises_the_new_value() -> None:
    rule = Compare("created_at", Op.GE, "2026-01-01T08:00:00+08:00")
    assert attrs.evolve(rule, value="2026-02-01T08:00:00+08:00").value == (
        "2026-02-01T00:00:00+00:00"
    )


def test_an_operator_the_field_does_not_support_is_reported_before_its_value() -> None:
    with pytest.raises(InvalidValueError, match="tier supports"):
        Compare("tier", Op.GT, 3)
