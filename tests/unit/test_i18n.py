"""The label catalogue: both languages for every key, and a key for everything a person reads.

The enums, workflows, payload fields and KPI names are discovered from the code, so a
new enum value, stage, transition, field or KPI without a label fails here.
"""

from __future__ import annotations

import ast
import enum
import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crmcore
from crmcore import errors
from crmcore.domain import LifecycleStage, OpportunityStage
from crmcore.errors import (
    CrmError,
    InvalidValueError,
    NotFoundError,
    PayloadError,
    Problem,
    TransitionNotAllowedError,
)
from crmcore.i18n import (
    LOCALES,
    describe,
    enum_key,
    keys,
    label,
    label_of,
    parse_locale,
    text,
)
from crmcore.i18n._catalogue import ENTRIES
from crmcore.lifecycle.diagram import to_mermaid
from crmcore.lifecycle.workflow import Workflow
from crmcore.serialization import SCHEMA_TYPES, json_schema, structure

SRC = Path(crmcore.__file__).parent
CJK = re.compile(r"[\u4e00-\u9fff]")


def _modules() -> list[ModuleType]:
    found = []
    for info in pkgutil.walk_packages(crmcore.__path__, "crmcore."):
        if info.name.endswith("__main__") or info.name.startswith("crmcore.testing"):
            continue
        found.append(importlib.import_module(info.name))
    return found


MODULES = _modules()


def _public_enums() -> list[type[enum.Enum]]:
    seen: dict[type[enum.Enum], None] = {}
    for module in MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, enum.Enum)
                and value.__module__.startswith("crmcore.")
                and not value.__name__.startswith("_")
            ):
                seen[value] = None
    return sorted(seen, key=lambda cls: (cls.__module__, cls.__name__))


ENUMS = _public_enums()


def _workflows() -> list[Workflow[Any, Any]]:
    seen: dict[str, Workflow[Any, Any]] = {}
    for module in MODULES:
        for value in vars(module).values():
            if isinstance(value, Workflow):
                seen[value.name] = value
    return [seen[name] for name in sorted(seen)]


WORKFLOWS = _workflows()


def _schema_names(schema: object, fields: set[str], classes: set[str]) -> None:
    """Collect every property name and every definition name of a JSON Schema."""
    if isinstance(schema, dict):
        for name, value in schema.items():
            if name == "properties" and isinstance(value, dict):
                fields.update(value)
            if name == "$defs" and isinstance(value, dict):
                classes.update(value)
            _schema_names(value, fields, classes)
    elif isinstance(schema, list):
        for item in schema:
            _schema_names(item, fields, classes)


def _payload_names() -> tuple[set[str], set[str]]:
    """Every field and every class name in the JSON Schema of a payload type."""
    fields: set[str] = set()
    classes: set[str] = set(SCHEMA_TYPES)
    for tp in SCHEMA_TYPES.values():
        _schema_names(json_schema(tp), fields, classes)
    fields.discard("type")  # the tag of tagged unions; labelled as field.type all the same
    return fields, {c.partition("_")[0] for c in classes}


def _kpi_names() -> set[str]:
    """Every literal ``name="..."`` a KPI function gives its result, plus funnels."""
    names: set[str] = set()
    for path in sorted((SRC / "analytics").glob("*.py")):
        if path.name.startswith("_") or path.name in {"clv.py", "kpi.py", "summary.py"}:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "name":
                if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    names.add(node.value.value)
                elif isinstance(node.value, ast.JoinedStr):
                    tail = node.value.values[-1]
                    if isinstance(tail, ast.Constant) and str(tail.value).strip() == "funnel":
                        names.add("funnel")
    return names


def test_every_key_has_both_languages() -> None:
    assert LOCALES == ("en", "zh_CN")
    for key, texts in ENTRIES.items():
        assert len(texts) == len(LOCALES), key
        english, chinese = texts
        assert english, key
        assert chinese, key
        assert english.strip() == english, key
        assert chinese.strip() == chinese, key
        assert re.fullmatch(r"[a-z]+\.\S.*", key), key


_NAMES = {"polars", "Python", "PostgreSQL", "MariaDB"}  # product names stay as they are


def test_chinese_labels_are_chinese_where_the_english_is_words() -> None:
    # Codes, brand names and abbreviations stay the same in Chinese; everything else translates.
    for key, (english, chinese) in ENTRIES.items():
        if re.search(r"[a-z]{3}", english) and english not in _NAMES:
            assert CJK.search(chinese), f"{key}: {chinese!r} is not Chinese"


def test_labels_are_found_in_each_locale() -> None:
    for key in keys():
        assert label(key, "en") == ENTRIES[key][0]
        assert label(key, "zh_CN") == ENTRIES[key][1]


@pytest.mark.parametrize("cls", ENUMS, ids=lambda c: c.__name__)
def test_every_enum_value_has_a_label(cls: type[enum.Enum]) -> None:
    missing = [m.value for m in cls if enum_key(m) not in ENTRIES]
    assert missing == [], f"{cls.__module__}.{cls.__name__}: add labels for {missing}"


def test_enum_class_names_are_unique_so_keys_are() -> None:
    names = [cls.__name__ for cls in ENUMS]
    assert len(names) == len(set(names))
    assert len(ENUMS) >= 50


def test_no_enum_label_is_left_over_from_a_removed_value() -> None:
    live = {enum_key(m) for cls in ENUMS for m in cls}
    stale = sorted(k for k in ENTRIES if k.startswith("enum.") and k not in live)
    assert stale == []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_every_workflow_stage_and_transition_has_a_label(workflow: Workflow[Any, Any]) -> None:
    prefix = f"workflow.{workflow.name}"
    states = [str(s.name) for s in workflow.states if f"{prefix}.state.{s.name}" not in ENTRIES]
    moves = sorted(
        {t.name for t in workflow.transitions if f"{prefix}.transition.{t.name}" not in ENTRIES}
    )
    assert (states, moves) == ([], [])


def test_the_default_workflows_are_all_discovered() -> None:
    assert [w.name for w in WORKFLOWS] == ["case", "customer-lifecycle", "lead", "opportunity"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_workflow_state_labels_agree_with_the_catalogue(workflow: Workflow[Any, Any]) -> None:
    for state in workflow.states:
        if state.label:
            assert label(f"workflow.{workflow.name}.state.{state.name}", "zh_CN") == state.label


def test_every_payload_field_has_a_label() -> None:
    fields, _ = _payload_names()
    assert len(fields) > 150
    assert sorted(name for name in fields if f"field.{name}" not in ENTRIES) == []


def test_every_payload_type_has_a_label() -> None:
    _, classes = _payload_names()
    assert {"Customer", "Rule", "Within", "AccessPolicy"} <= classes
    assert sorted(name for name in classes if f"type.{name}" not in ENTRIES) == []


def test_every_kpi_has_a_label() -> None:
    names = _kpi_names()
    assert {"churn rate", "net promoter score", "funnel", "win rate"} <= names
    assert sorted(n for n in names if f"kpi.{n}" not in ENTRIES) == []


def test_every_error_class_has_a_label() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, CrmError)
    ]
    assert len(classes) >= 12
    assert [c.__name__ for c in classes if f"error.{c.__name__}" not in ENTRIES] == []


def test_the_manuals_terms_are_used() -> None:
    zh = {chinese for _, chinese in ENTRIES.values()}
    assert {"潜在客户", "成交", "流失预警", "净推荐值", "客户流失率", "复购率", "投诉"} <= zh


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("zh_CN", "zh_CN"), ("zh-CN", "zh_CN"), ("ZH", "zh_CN"), ("zh_CN.UTF-8", "zh_CN"),
     ("en", "en"), ("en_US.UTF-8", "en"), ("C", "en")],
)  # fmt: skip
def test_locales_are_read_in_their_common_spellings(raw: str, expected: str) -> None:
    assert parse_locale(raw) == expected


@pytest.mark.parametrize("bad", ["fr", "", "zh_TW", None, 3, ["zh"]])
def test_an_unsupported_locale_is_a_clear_error(bad: object) -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_locale(bad)
    assert info.value.field == "locale"
    with pytest.raises(InvalidValueError):
        label("field.owner", bad)  # type: ignore[arg-type]  # deliberately wrong


@given(st.text(max_size=30))
def test_an_unknown_key_is_a_clear_error_and_text_falls_back(key: str) -> None:
    if key in ENTRIES:
        return
    with pytest.raises(InvalidValueError, match="not in the catalogue"):
        label(key, "zh_CN")
    assert text(key, "fallback", "zh_CN") == "fallback"


def test_enum_members_have_labels_in_both_locales() -> None:
    assert label_of(OpportunityStage.NEEDS_ANALYSIS, "zh_CN") == "需求分析"
    assert label_of(LifecycleStage.CHURNED) == "churned"


def test_errors_are_described_in_chinese_from_their_fields() -> None:
    payload = PayloadError(
        "Customer",
        [Problem("$.birth_date", "no such date"), Problem("$.id", "required field missing")],
    )
    assert describe(payload, "zh_CN") == (
        "无效的客户（2 个问题）：\n  日期不存在 @ $.birth_date\n  缺少必填字段 @ $.id"
    )
    assert describe(payload) == str(payload)
    moved = TransitionNotAllowedError("lead", "convert", "new", ["contact", "qualify"])
    assert describe(moved, "zh_CN") == "lead：处于「新线索」时不能「转化」；允许：联系、确认"
    assert describe(NotFoundError("customer_id", "c-9"), "zh_CN") == "未找到客户 'c-9'"


@given(st.text(max_size=50), st.text(max_size=50), st.text(max_size=50))
def test_every_error_is_describable_in_every_locale(field: str, value: str, reason: str) -> None:
    samples: list[CrmError] = [
        InvalidValueError(field, value, reason),
        PayloadError(field, [Problem("$", reason)] * 25),
        errors.DuplicateError(field, value, [reason]),
        errors.StaleVersionError(field, value, 1, None),
        TransitionNotAllowedError(field, value, reason, []),
        errors.WorkflowDefinitionError(field, [reason]),
        errors.PermissionDeniedError(field, "view", value, reason),
        errors.StorageError(field, reason, value or None),
        errors.MissingExtraError(field, value),
        errors.ModelFitError(field, reason),
        errors.ConfigurationError(reason),
        errors.ConcurrencyError(reason),
        NotFoundError(field, value),
    ]
    for error in samples:
        for locale in LOCALES:
            message = describe(error, locale)
            assert isinstance(message, str)
        assert describe(error, "en") == str(error)
        assert describe(error, "zh_CN") != str(error)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
@pytest.mark.parametrize("locale", LOCALES)
def test_diagrams_label_every_stage_and_transition_in_the_locale(
    workflow: Workflow[Any, Any], locale: str
) -> None:
    diagram = to_mermaid(workflow, locale=locale)
    prefix = f"workflow.{workflow.name}"
    for state in workflow.states:
        shown = label(f"{prefix}.state.{state.name}", locale)
        assert shown == str(state.name) or f'state "{shown}" as' in diagram
    for transition in workflow.transitions:
        assert f": {label(f'{prefix}.transition.{transition.name}', locale)}" in diagram
    assert to_mermaid(workflow, locale=locale, labels=False) == to_mermaid(workflow, labels=False)


def test_a_host_pipeline_keeps_its_own_labels_in_any_locale() -> None:
    pipeline = structure(
        {
            "name": "renewal",
            "entity": "Opportunity",
            "attribute": "stage",
            "states": [
                {"name": "due", "label": "待续约", "initial": True},
                {"name": "renewed", "final": True},
            ],
            "transitions": [{"name": "renew", "sources": ["due"], "target": "renewed"}],
        },
        Workflow,
    )
    assert to_mermaid(pipeline, locale="zh_CN") == to_mermaid(pipeline)
    assert 'state "待续约" as due' in to_mermaid(pipeline, locale="en")
    with pytest.raises(InvalidValueError, match="supported locales"):
        to_mermaid(pipeline, locale="de")
