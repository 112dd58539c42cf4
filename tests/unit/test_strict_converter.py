"""The converter takes a value only if it already has the right JSON type, and says why not."""

from __future__ import annotations

from typing import Any, cast

import pytest

from crmcore import domain
from crmcore.domain.events import CustomersMerged
from crmcore.errors import PayloadError, Problem
from crmcore.segments.rule import MAX_RULE_DEPTH, MAX_RULE_NODES, HasTag, Not, Or, Rule
from crmcore.serialization import MAX_PAYLOAD_CHARS, dumps, loads, structure, unstructure
from crmcore.serialization._strict import MAX_ITEMS

AT = "2026-03-01T08:00:00+00:00"


def survey(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "s-1",
        "version": 2,
        "customer_id": "c-1",
        "case_id": None,
        "csat": 5,
        "nps": None,
        "ces": None,
        "comment": "fast",
        "responded_at": AT,
        "created_at": AT,
        "updated_at": AT,
    }
    return payload | changes


def customer(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "c-1",
        "kind": "organization",
        "organization": {"legal_name": "Acme"},
        "created_at": AT,
        "updated_at": AT,
    }
    return payload | changes


def problems(data: object, cls: Any) -> tuple[Problem, ...]:
    with pytest.raises(PayloadError) as caught:
        structure(data, cls)
    return caught.value.problems


def test_text_fields_take_neither_null_nor_objects() -> None:
    actual = problems({"family": None, "given": {"a": 1}}, domain.PersonName)
    expected = (
        Problem("$.family", "required, got null"),
        Problem("$.given", "expected a string, got an object"),
    )
    assert actual == expected


def test_survey_fields_are_neither_truncated_nor_coerced() -> None:
    data = survey(version=1.9, csat=True, id=None, comment=["x"])
    actual = problems(data, domain.SurveyResponse)
    expected = (
        Problem("$.id", "required, got null"),
        Problem("$.version", "expected an integer, got a number (1.9)"),
        Problem("$.csat", "expected an integer, got a boolean (True)"),
        Problem("$.comment", "expected a string, got a list"),
    )
    assert actual == expected


def test_integer_fields_refuse_numeric_strings() -> None:
    actual = problems(survey(nps="7"), domain.SurveyResponse)
    expected = (Problem("$.nps", "expected an integer, got a string '7'"),)
    assert actual == expected


def test_optional_fields_take_null() -> None:
    actual = structure(survey(csat=None, nps=9), domain.SurveyResponse).csat
    expected = None
    assert actual == expected


def test_boolean_fields_take_only_booleans() -> None:
    data = {"address": "li.na@example.com", "kind": "work", "primary": "false"}
    actual = problems(data, domain.EmailContact)
    expected = (Problem("$.primary", "expected true or false, got a string 'false'"),)
    assert actual == expected


def test_an_unknown_enum_value_lists_the_allowed_ones() -> None:
    data = {"address": "li.na@example.com", "kind": "cell"}
    actual = problems(data, domain.EmailContact)
    expected = (Problem("$.kind", "expected one of: work, home, mobile, other; got 'cell'"),)
    assert actual == expected


def test_a_string_is_not_split_into_a_set_of_tags() -> None:
    actual = problems(customer(tags="vip"), domain.Customer)
    expected = (Problem("$.tags", "expected a list, got a string 'vip'"),)
    assert actual == expected


def test_a_string_is_not_split_into_merged_ids() -> None:
    data = {"at": AT, "merge_id": "m-1", "survivor_id": "c-1", "merged_ids": "c-22"}
    actual = problems(data, CustomersMerged)
    expected = (Problem("$.merged_ids", "expected a list, got a string 'c-22'"),)
    assert actual == expected


def test_a_bad_list_item_is_reported_at_its_index() -> None:
    actual = problems(customer(tags=["vip", 7]), domain.Customer)
    expected = (Problem("$.tags[1]", "expected a string, got a number (7)"),)
    assert actual == expected


def test_a_megabyte_string_in_a_list_field_is_one_short_problem() -> None:
    with pytest.raises(PayloadError) as caught:
        structure(customer(tags="v" * 1_000_000), domain.Customer)
    actual = (len(caught.value.problems), len(str(caught.value)) < 200)
    expected = (1, True)
    assert actual == expected


def test_a_megabyte_email_is_quoted_by_a_short_prefix() -> None:
    data = {"address": "x" * 1_000_000, "kind": "work"}
    with pytest.raises(PayloadError) as caught:
        structure(data, domain.EmailContact)
    message = str(caught.value)
    actual = (caught.value.paths, len(message) < 400, "(1,000,000 characters)" in message)
    expected = (("$.address",), True, True)
    assert actual == expected


def test_a_list_longer_than_the_limit_is_refused_before_its_items_are_read() -> None:
    actual = problems(customer(tags=[7] * (MAX_ITEMS + 1)), domain.Customer)
    expected = (Problem("$.tags", "too many items: 10,001; at most 10,000 are allowed"),)
    assert actual == expected


def test_the_message_lists_twenty_problems_and_counts_the_rest() -> None:
    with pytest.raises(PayloadError) as caught:
        structure(customer(tags=list(range(25))), domain.Customer)
    lines = str(caught.value).splitlines()
    actual = (len(caught.value.problems), len(lines), lines[0], lines[-1])
    expected = (25, 22, "invalid Customer (25 problems):", "  … and 5 more")
    assert actual == expected


def test_extra_fields_are_listed_briefly() -> None:
    data = {"family": "李", "given": "娜"} | {f"k{i:03d}": 1 for i in range(100)}
    actual = problems(data, domain.PersonName)
    expected = (
        Problem(
            "$",
            "extra fields found (k000, k001, k002, k003, k004, k005, k006, k007, k008, k009"
            " and 90 more)",
        ),
    )
    assert actual == expected


# --------------------------------------------------------------------------- size and depth


RULE = cast(type[Any], Rule)  # a Union alias is not a type[T] to mypy


def _nested_not(depth: int) -> str:
    leaf = '{"type": "HasTag", "tag": "a"}'
    return '{"type": "Not", "rule": ' * depth + leaf + "}" * depth


@pytest.mark.parametrize("depth", [MAX_RULE_DEPTH, MAX_RULE_DEPTH + 5, 3_000, 100_000])
def test_rule_json_beyond_the_depth_limit_is_refused_before_structuring(depth: int) -> None:
    # 3,000 levels raised RecursionError from json and cattrs; 40 levels were accepted.
    text = _nested_not(depth - 1)
    if depth == MAX_RULE_DEPTH:
        assert isinstance(loads(text, RULE), Not)
        return
    with pytest.raises(PayloadError) as caught:
        loads(text, RULE)
    assert caught.value.subject == "segment rule"
    assert "levels of nesting" in str(caught.value) or "nested too deeply" in str(caught.value)


def test_rule_json_beyond_the_node_limit_is_refused() -> None:
    wide = Or(tuple(HasTag(f"t{n}") for n in range(MAX_RULE_NODES + 1)))
    with pytest.raises(PayloadError, match="at most 1000 nodes"):
        loads(dumps(wide), RULE)
    with pytest.raises(PayloadError, match="at most 1000 nodes"):
        structure(unstructure(wide), Or)


def test_deeply_nested_json_of_any_payload_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="nested too deeply"):
        loads("[" * 100_000 + "]" * 100_000, domain.Customer)


def test_a_payload_longer_than_the_limit_is_refused_before_parsing() -> None:
    text = '"' + "x" * MAX_PAYLOAD_CHARS + '"'
    with pytest.raises(PayloadError, match="characters; at most"):
        loads(text, domain.Money)
