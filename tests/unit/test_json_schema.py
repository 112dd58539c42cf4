"""``json_schema``: what each schema says, in which language, and what it refuses."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from crmcore.domain import Customer, CustomerKind, LeadStatus, LifecycleStage, Money, Tag
from crmcore.errors import InvalidValueError, PayloadError
from crmcore.lifecycle import LEAD_WORKFLOW
from crmcore.lifecycle.rules import SurveyAfterClose, TimeRule
from crmcore.lifecycle.workflow import Workflow
from crmcore.privacy import DEFAULT_POLICY, AccessPolicy
from crmcore.segments.rule import Rule
from crmcore.serialization import (
    SCHEMA_DIALECT,
    SCHEMA_TYPES,
    json_schema,
    structure,
    unstructure,
)


def valid(payload: object, tp: Any) -> bool:
    return jsonschema.Draft202012Validator(json_schema(tp)).is_valid(payload)


def test_a_class_is_a_reference_to_its_definition_with_required_fields() -> None:
    schema = json_schema(Money)
    assert schema["$schema"] == SCHEMA_DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$ref"] == "#/$defs/Money"
    money = schema["$defs"]["Money"]
    assert money["required"] == ["amount", "currency"]
    assert money["additionalProperties"] is False
    assert money["description"].startswith("An amount of one currency")


def test_titles_are_labels_in_the_locale_and_descriptions_come_from_docstrings() -> None:
    en = json_schema(Customer)["$defs"]["Customer"]["properties"]["lifecycle_stage"]
    zh = json_schema(Customer, "zh_CN")["$defs"]["Customer"]["properties"]["lifecycle_stage"]
    assert (en["title"], zh["title"]) == ("lifecycle stage", "生命周期阶段")
    assert en["description"] == zh["description"]
    assert "`" not in en["description"]
    assert en["enum"] == [s.value for s in LifecycleStage]
    assert {o["const"]: o["title"] for o in zh["oneOf"]}["potential"] == "潜在客户"
    assert json_schema(Customer, "zh-CN")["title"] == "客户"


def test_an_unsupported_locale_and_an_unknown_type_are_clear_errors() -> None:
    with pytest.raises(InvalidValueError, match="supported locales"):
        json_schema(Money, "fr")
    with pytest.raises(InvalidValueError, match="no JSON form known"):
        json_schema(complex)


def test_plain_types_have_inline_schemas() -> None:
    assert json_schema(tuple[Tag, ...]) == {
        "$schema": SCHEMA_DIALECT,
        "type": "array",
        "items": {"type": "string"},
        "maxItems": 10_000,
    }
    assert json_schema(int | None)["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    kinds = json_schema(CustomerKind)
    assert kinds["title"] == "CustomerKind"
    assert kinds["enum"] == ["person", "organization"]


def test_rules_are_a_recursive_tagged_union() -> None:
    schema = json_schema(Rule, "zh_CN")
    assert schema["title"] == "细分规则"
    union = schema["$defs"]["Rule"]
    assert union["required"] == ["type"]
    assert "HasTag" in union["properties"]["type"]["enum"]
    assert schema["$defs"]["Not"]["properties"]["rule"]["$ref"] == "#/$defs/Rule"
    nested = {"type": "Not", "rule": {"type": "And", "rules": [{"type": "HasTag", "tag": "vip"}]}}
    assert valid(nested, Rule)
    assert not valid({"type": "Not", "rule": {"type": "HasTag"}}, Rule)  # tag missing
    assert not valid({"type": "Nand", "rules": []}, Rule)
    assert not valid({"tag": "vip"}, Rule)  # the union needs its tag


def test_a_workflow_schema_has_no_functions_and_string_states() -> None:
    schema = json_schema(Workflow)
    props = schema["$defs"]["Workflow"]["properties"]
    assert "guard_functions" not in props
    assert "effect_functions" not in props
    state = schema["$defs"]["State_str"]["properties"]
    assert state["name"]["type"] == "string"
    assert valid(unstructure(LEAD_WORKFLOW), Workflow)


def test_a_workflow_with_enum_states_lists_them() -> None:
    schema = json_schema(Workflow[Any, LeadStatus])
    state = schema["$defs"]["State_LeadStatus"]["properties"]["name"]
    assert state["enum"] == [s.value for s in LeadStatus]
    assert valid(unstructure(LEAD_WORKFLOW), Workflow[Any, LeadStatus])
    host = unstructure(LEAD_WORKFLOW)
    host["states"][0]["name"] = "triage"
    assert valid(host, Workflow)
    assert not valid(host, Workflow[Any, LeadStatus])


def test_an_access_policy_schema_follows_its_to_dict_form() -> None:
    payload = unstructure(DEFAULT_POLICY)
    assert payload == DEFAULT_POLICY.to_dict()
    assert valid(payload, AccessPolicy)
    assert structure(payload, AccessPolicy) == DEFAULT_POLICY
    bad = {"roles": {"rep": {"grants": {"fly": {"customer": ["own"]}}}}}
    assert not valid(bad, AccessPolicy)
    with pytest.raises(PayloadError):
        structure(bad, AccessPolicy)


@pytest.mark.parametrize(
    "payload",
    [
        {"amount": 12.5, "currency": "CNY"},  # never a float
        {"amount": "12.50"},  # currency missing
        {"amount": "1", "currency": "CNY", "note": "x"},  # unknown key
        {"amount": True, "currency": "CNY"},
        ["12.50", "CNY"],
    ],
)
def test_what_the_money_schema_refuses_the_converter_refuses(payload: object) -> None:
    assert not valid(payload, Money)
    with pytest.raises(PayloadError):
        structure(payload, Money)


def test_amounts_the_converter_reads_pass_the_schema() -> None:
    for amount in ("12.50", "1E+3", " 7 ", "1_000", 12, "-0.5"):
        payload = {"amount": amount, "currency": "CNY"}
        assert valid(payload, Money), amount


def test_durations_follow_the_converter() -> None:
    schema = json_schema(TimeRule)
    assert valid(unstructure(SurveyAfterClose()), TimeRule)
    payload = {"type": "SurveyAfterClose", "delay": "1 day"}
    assert not valid(payload, TimeRule)
    with pytest.raises(PayloadError):
        structure(payload, TimeRule)  # type: ignore[arg-type]  # a Union alias
    assert schema["$defs"]["SurveyAfterClose"]["properties"]["delay"]["pattern"].startswith("^")


def test_every_schema_type_is_listed_by_its_own_name() -> None:
    for name, tp in SCHEMA_TYPES.items():
        if name not in {"DomainEvent", "Rule", "Window", "TimeRule"}:
            assert tp.__name__ == name
        assert json_schema(tp)["title"]
