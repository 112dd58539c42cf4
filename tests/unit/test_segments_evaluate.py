"""In-memory evaluation and explanations of segment rules."""

from __future__ import annotations

import linecache
import traceback

import pendulum
import pytest

from crmcore.domain import (
    Activity,
    ActivityKind,
    Customer,
    CustomerId,
    CustomFields,
    Money,
    Order,
    OrderStatus,
    Organization,
    SurveyResponse,
    Tier,
)
from crmcore.errors import InvalidValueError
from crmcore.segments import (
    MAX_RULE_DEPTH,
    HasTag,
    Rule,
    SegmentContext,
    activities,
    compile_rule,
    custom,
    evaluate,
    explain,
    field,
    last_activity,
    last_purchase,
    latest_survey,
    purchases,
)

AT = pendulum.datetime(2026, 3, 15, 10, 30)


def customer(cid: str = "c1", **kw: object) -> Customer:
    return Customer(
        id=cid,
        kind="organization",
        organization=Organization(legal_name="Acme"),
        created_at=AT.subtract(days=10),
        updated_at=AT.subtract(days=10),
        **kw,  # type: ignore[arg-type]  # test fixture passes Customer fields through
    )


def order(days_ago: float, amount: str = "100", status: str = "paid", cid: str = "c1") -> Order:
    t = AT.subtract(seconds=int(days_ago * 86_400))
    return Order(
        id=f"o{days_ago}-{amount}",
        customer_id=cid,
        amount=Money(amount, "CNY"),
        status=OrderStatus(status),
        ordered_at=t,
        created_at=t,
        updated_at=t,
    )


def test_a_comparison_on_a_missing_owner_is_false_even_for_not_equal() -> None:
    assert not evaluate(field("owner") != "u-li", customer(), at=AT)


def test_not_is_plain_negation_so_it_includes_missing_values() -> None:
    assert evaluate(~(field("owner") == "u-li"), customer(), at=AT)


def test_is_empty_holds_for_a_missing_owner() -> None:
    assert evaluate(field("owner").is_empty(), customer(), at=AT)


def test_text_comparisons_are_case_sensitive() -> None:
    assert not evaluate(field("owner") == "U-LI", customer(owner="u-li"), at=AT)


def test_tags_compare_in_canonical_form() -> None:
    assert evaluate(HasTag("VIP"), customer(tags={"vip"}), at=AT)


def test_a_custom_value_of_another_type_counts_as_missing() -> None:
    c = customer(custom=CustomFields({"budget": 5000}))
    assert not evaluate(custom("budget", "decimal") > "10", c, at=AT)


def test_decimal_custom_fields_compare_numerically() -> None:
    c = customer(custom=CustomFields({"budget": "900.5"}))
    assert evaluate(custom("budget", "decimal") < "1000", c, at=AT)


def test_multi_choice_contains_tests_membership() -> None:
    c = customer(custom=CustomFields({"flags": ("a", "b")}))
    assert evaluate(custom("flags", "multi_choice").contains("b"), c, at=AT)


def test_last_purchase_ignores_refunded_orders() -> None:
    context = SegmentContext.of(orders=[order(200), order(5, status="refunded")])
    assert not evaluate(last_purchase().within(days=90), customer(), context, at=AT)


def test_orders_after_at_do_not_count() -> None:
    context = SegmentContext.of(orders=[order(-1)])
    assert not evaluate(purchases().count() >= 1, customer(), context, at=AT)


def test_within_includes_an_order_exactly_at_the_window_start() -> None:
    context = SegmentContext.of(orders=[order(90)])
    assert evaluate(last_purchase().within(days=90), customer(), context, at=AT)


def test_average_order_compares_exactly() -> None:
    context = SegmentContext.of(orders=[order(1, "0.1"), order(2, "0.2")])
    rule = purchases(currency="CNY").average() == "0.15"
    assert evaluate(rule, customer(), context, at=AT)


def test_average_is_false_without_orders() -> None:
    assert not evaluate(purchases(currency="CNY").average() <= "100", customer(), at=AT)


def test_activity_count_filters_by_kind() -> None:
    def activity(i: int, kind: ActivityKind) -> Activity:
        t = AT.subtract(days=i)
        return Activity(
            id=f"a{i}",
            kind=kind,
            customer_id=CustomerId("c1"),
            occurred_at=t,
            created_at=t,
            updated_at=t,
        )

    context = SegmentContext.of(
        activities=[activity(1, ActivityKind.CALL), activity(2, ActivityKind.NOTE)]
    )
    assert evaluate(activities("call").count() == 1, customer(), context, at=AT)
    assert not evaluate(last_activity().not_within(days=3), customer(), context, at=AT)


def test_the_latest_survey_decides_nps() -> None:
    def answer(i: int, nps: int) -> SurveyResponse:
        t = AT.subtract(days=i)
        return SurveyResponse(
            id=f"s{i}", customer_id="c1", nps=nps, responded_at=t, created_at=t, updated_at=t
        )

    context = SegmentContext.of(surveys=[answer(30, 10), answer(2, 3)])
    assert evaluate(latest_survey().nps <= 6, customer(), context, at=AT)


def test_explain_reports_each_clause_with_the_value_it_saw() -> None:
    rule = (field("tier") == "vip") & last_purchase().within(days=90)
    context = SegmentContext.of(orders=[order(120)])
    explanation = explain(rule, customer(tier=Tier.VIP), context, at=AT)
    assert str(explanation) == (
        "✗ all of\n"
        "  ✓ tier = vip  [vip]\n"
        "  ✗ last purchase within the last 90 days  [2025-11-15T10:30:00+00:00]"
    )


def test_held_clauses_lists_the_reasons_a_customer_is_in() -> None:
    rule = HasTag("vip") | (field("tier") == "vip")
    explanation = explain(rule, customer(tags={"vip"}), at=AT)
    assert [e.clause for e in explanation.held_clauses] == ["has tag vip"]


def test_a_compiled_rule_filters_many_customers() -> None:
    compiled = compile_rule(field("tier").is_in("vip", "strategic"), at=AT)
    people = [customer("a", tier="vip"), customer("b"), customer("c", tier="strategic")]
    assert compiled.ids(people) == ["a", "c"]


def test_rules_as_deep_as_the_limit_still_compile() -> None:
    rule: Rule = HasTag("x")
    for _ in range(MAX_RULE_DEPTH - 1):  # 31 negations over the tag: 32 levels
        rule = ~rule
    assert compile_rule(rule, at=AT)(customer(tags=set()))


def test_a_naive_at_is_rejected() -> None:
    import datetime as dt  # noqa: PLC0415 - only this test needs a naive datetime

    with pytest.raises(InvalidValueError, match="naive"):
        compile_rule(HasTag("x"), at=dt.datetime(2026, 1, 1))  # noqa: DTZ001 - naive on purpose


class _CustomerWithoutTier:
    """Stands in for a customer whose ``tier`` cannot be read."""

    @property
    def tier(self) -> Tier:
        raise LookupError("tier unavailable")


def test_a_traceback_through_an_evaluated_rule_shows_the_generated_line() -> None:
    rule = compile_rule(field("tier") == "vip", at=AT)
    with pytest.raises(LookupError) as caught:
        rule(_CustomerWithoutTier())  # type: ignore[arg-type]  # a customer whose tier raises
    generated = [
        frame.line
        for frame in traceback.extract_tb(caught.value.__traceback__)
        if frame.filename.startswith("<crmcore segment rule")
    ]
    assert generated == ["return lambda c, x: (c.tier == _k0)"]


def test_rules_of_the_same_shape_share_one_generated_source() -> None:
    before = {name for name in linecache.cache if name.startswith("<crmcore segment rule")}
    compile_rule(field("tier") == "vip", at=AT)
    compile_rule(field("tier") == "strategic", at=AT)
    after = {name for name in linecache.cache if name.startswith("<crmcore segment rule")}
    assert len(after - before) <= 1
