"""JSON Schemas agree with the converter.

1. Everything ``unstructure`` writes validates against the schema of its type.
2. A payload the schema rejects is rejected by ``structure`` too: valid payloads are
   mutated (a value of the wrong JSON type, a required field removed, an extra field,
   an unknown tag) and every mutant the schema refuses must raise a PayloadError.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore import domain
from crmcore.errors import PayloadError
from crmcore.lifecycle import CASE_WORKFLOW, CUSTOMER_WORKFLOW, LEAD_WORKFLOW, OPPORTUNITY_WORKFLOW
from crmcore.lifecycle.business_calendar import (
    available_calendars,
    load_calendar,
    weekday_calendar,
)
from crmcore.lifecycle.rules import FollowUpOverdue, LeadIdle, SlaEscalation, SurveyAfterClose
from crmcore.lifecycle.workflow import Workflow
from crmcore.privacy.access import AccessPolicy, Action, Grant, RecordType, Role, Scope, TeamTree
from crmcore.privacy.consent import ConsentRecord, Jurisdiction
from crmcore.segments.rule import Rule
from crmcore.segments.window import Window
from crmcore.serialization import SCHEMA_TYPES, json_schema, structure, unstructure
from crmcore.testing import strategies as cst

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies for the payload types crmcore.testing has none for ----------------------

_DAYS = st.integers(min_value=1, max_value=400)
_WINDOWS: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.builds(lambda d: {"type": "Within", "days": d}, _DAYS),
    st.builds(lambda d: {"type": "NotWithin", "days": d}, _DAYS),
    st.builds(
        lambda u, o: {"type": "CalendarPeriod", "unit": u, "offset": o},
        st.sampled_from(["day", "week", "month", "quarter", "year"]),
        st.integers(min_value=-3, max_value=0),
    ),
    st.builds(lambda d: {"type": "Before", "date": d}, st.just("2026-01-01")),
    st.just({"type": "Between", "start": "2025-01-01", "end": "2025-12-31"}),
)
_LEAVES: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.builds(lambda t: {"type": "HasTag", "tag": str(t)}, cst.tags()),
    st.builds(
        lambda op, v: {"type": "Compare", "field": "tier", "op": op, "value": v},
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(["vip", "ordinary", "potential"]),
    ),
    st.builds(
        lambda v: {"type": "Compare", "field": "tier", "op": "in", "value": v},
        st.lists(st.sampled_from(["vip", "strategic"]), min_size=1, max_size=2, unique=True),
    ),
    st.builds(lambda w: {"type": "LastOrder", "window": w}, _WINDOWS),
    st.builds(
        lambda n, w: {"type": "OrderCount", "op": "ge", "value": n, "window": w},
        st.integers(min_value=0, max_value=50),
        st.none() | _WINDOWS,
    ),
    st.builds(
        lambda v: {"type": "OrderTotal", "op": "gt", "value": v, "currency": "CNY"},
        st.sampled_from(["100", "99.5", "0"]),
    ),
    st.builds(
        lambda n: {"type": "LatestSurveyScore", "metric": "nps", "op": "ge", "value": n},
        st.integers(min_value=0, max_value=10),
    ),
    st.builds(lambda w: {"type": "InWindow", "field": "created_at", "window": w}, _WINDOWS),
)
_RULE_JSON = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda rs: {"type": "And", "rules": rs}),
        st.lists(children, max_size=3).map(lambda rs: {"type": "Or", "rules": rs}),
        children.map(lambda r: {"type": "Not", "rule": r}),
    ),
    max_leaves=6,
)
_WORKFLOWS = (CASE_WORKFLOW, CUSTOMER_WORKFLOW, LEAD_WORKFLOW, OPPORTUNITY_WORKFLOW)
_HOST_PIPELINE: Workflow[Any, str] = structure(
    {
        "name": "renewal",
        "entity": "Opportunity",
        "attribute": "stage",
        "policy": "forward_only",
        "states": [
            {"name": "due", "label": "待续约", "initial": True, "probability": "0.5"},
            {"name": "renewed", "final": True, "forecast": "closed"},
            {"name": "lapsed", "final": True},
        ],
        "transitions": [
            {"name": "renew", "sources": ["due"], "target": "renewed", "guards": ["paid"]},
            {"name": "lapse", "sources": ["due"], "target": "lapsed", "requires_reason": True},
        ],
    },
    Workflow,
)
_ALL_WORKFLOWS: st.SearchStrategy[Workflow[Any, Any]] = st.sampled_from(
    [*_WORKFLOWS, _HOST_PIPELINE]
)
_GRANTS = [
    Grant(a, t, s)
    for a in Action
    for t in RecordType
    for s in Scope
    if not (s in (Scope.OWN, Scope.UNASSIGNED) and not t.has_owner)
    and not (s in (Scope.TEAM, Scope.TEAM_TREE) and not t.has_team)
]


@st.composite
def _policies(draw: st.DrawFn) -> AccessPolicy:
    names = draw(st.lists(st.sampled_from(["rep", "manager", "admin"]), min_size=1, unique=True))
    roles = [
        Role(
            name=name,
            grants=draw(st.frozensets(st.sampled_from(_GRANTS), max_size=8)),
            mask_sensitive=draw(st.booleans()),
        )
        for name in names
    ]
    parents = draw(st.sampled_from([{}, {"east-1": "east"}, {"a": "b", "b": "c"}]))
    return AccessPolicy(roles=roles, teams=TeamTree(parents=parents))


def _ledger_entries(index: int) -> st.SearchStrategy[Any]:
    return st.builds(
        lambda consent, jurisdiction: ConsentRecord.from_consent(
            consent, jurisdiction=jurisdiction
        )[min(index, 1) if consent.withdrawn_at is not None else 0],
        cst.consents().filter(lambda c: index == 0 or c.withdrawn_at is not None),
        st.sampled_from(list(Jurisdiction)),
    )


STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "Customer": cst.customers(),
    "Lead": cst.leads(),
    "Opportunity": cst.opportunities(),
    "Activity": cst.activities(),
    "Case": cst.cases(),
    "Order": cst.orders(),
    "SurveyResponse": cst.survey_responses(),
    "Consent": cst.consents(),
    "MergeRecord": cst.merge_records(),
    "DomainEvent": cst.events(),
    "Rule": _RULE_JSON.map(lambda d: structure(d, Rule)),  # type: ignore[arg-type]  # a Union alias
    "Window": _WINDOWS.map(lambda d: structure(d, Window)),  # type: ignore[arg-type]  # a Union alias
    "Workflow": _ALL_WORKFLOWS,
    "State": _ALL_WORKFLOWS.flatmap(lambda w: st.sampled_from(w.states)),
    "Transition": _ALL_WORKFLOWS.flatmap(lambda w: st.sampled_from(w.transitions)),
    "TimeRule": st.one_of(
        st.builds(
            lambda d, c, o: FollowUpOverdue(days=d, customers=c, opportunities=o),
            _DAYS,
            st.booleans(),
            st.booleans(),
        ),
        st.builds(lambda d: LeadIdle(days=d), _DAYS),
        st.builds(lambda h: SurveyAfterClose(delay=dt.timedelta(hours=h)), st.integers(1, 240)),
        st.builds(lambda risk: SlaEscalation(at_risk=risk), st.booleans()),
    ),
    "BusinessCalendar": st.one_of(
        st.sampled_from(available_calendars()).map(load_calendar),
        st.builds(
            lambda tz, hours: weekday_calendar(tz, hours=hours),
            st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin"]),
            st.sampled_from([("09:00-17:00",), ("09:00-12:00", "13:00-18:00")]),
        ),
    ),
    "CustomFieldSchema": st.lists(cst.field_defs(), max_size=4, unique_by=lambda f: f.name).map(
        lambda fields: domain.CustomFieldSchema(fields=tuple(fields))
    ),
    "FieldDef": cst.field_defs(),
    "CustomFields": cst.custom_fields(),
    "AccessPolicy": _policies(),
    "ConsentRecord": _ledger_entries(0),
    "ConsentWithdrawal": _ledger_entries(1),
    "Money": cst.money(),
    "PersonName": cst.person_names(),
    "PostalAddress": cst.postal_addresses(),
    "ContactPoints": cst.contact_points(),
    "Person": cst.persons(),
    "Organization": cst.organizations(),
}

VALIDATORS = {
    name: jsonschema.Draft202012Validator(json_schema(tp)) for name, tp in SCHEMA_TYPES.items()
}


def test_every_schema_type_has_a_strategy_and_a_valid_schema() -> None:
    assert sorted(STRATEGIES) == sorted(SCHEMA_TYPES)
    for tp in SCHEMA_TYPES.values():
        for locale in ("en", "zh_CN"):
            jsonschema.Draft202012Validator.check_schema(json_schema(tp, locale))
        assert json_schema(tp)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", sorted(SCHEMA_TYPES))
def test_everything_unstructure_writes_validates_against_its_schema(name: str) -> None:
    validator = VALIDATORS[name]

    @SETTINGS
    @given(STRATEGIES[name])
    def check(value: Any) -> None:
        payload = unstructure(value)
        errors = [e.message for e in validator.iter_errors(payload)]
        assert errors == [], payload
        assert structure(payload, SCHEMA_TYPES[name]) == value

    check()


# -- mutations -----------------------------------------------------------------------------

_WRONG = [None, True, 0, 1.5, "x", [], {}, [1], {"k": 1}]


def _places(payload: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value inside ``payload`` (the root is ``()``)."""
    found = [path]
    if isinstance(payload, dict):
        for key, value in payload.items():
            found.extend(_places(value, (*path, key)))
    elif isinstance(payload, list):
        for index, value in enumerate(payload):
            found.extend(_places(value, (*path, index)))
    return found


def _at(payload: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        payload = payload[step]
    return payload


@st.composite
def mutants(draw: st.DrawFn, name: str) -> tuple[Any, str]:
    payload = unstructure(draw(STRATEGIES[name]))
    mutant = copy.deepcopy(payload)
    place = draw(st.sampled_from(_places(mutant)))
    kind = draw(st.sampled_from(["wrong type", "drop key", "extra key", "bad tag"]))
    target = _at(mutant, place)
    if kind == "drop key" and isinstance(target, dict) and target:
        del target[draw(st.sampled_from(sorted(target)))]
    elif kind == "extra key" and isinstance(target, dict):
        target[draw(st.sampled_from(["zz_extra", "Colour", "备注"]))] = 1
    elif kind == "bad tag" and isinstance(target, dict) and "type" in target:
        target["type"] = draw(st.sampled_from(["Nope", "", "customer"]))
    elif place:
        parent = _at(mutant, place[:-1])
        parent[place[-1]] = draw(st.sampled_from([v for v in _WRONG if v != target]))
    else:
        mutant = draw(st.sampled_from([v for v in _WRONG if v != target]))
    return mutant, kind


@pytest.mark.parametrize("name", sorted(SCHEMA_TYPES))
def test_payloads_the_schema_rejects_are_rejected_by_structure(name: str) -> None:
    validator = VALIDATORS[name]

    @SETTINGS
    @given(mutants(name))
    def check(case: tuple[Any, str]) -> None:
        mutant, _ = case
        if not validator.is_valid(mutant):
            with pytest.raises(PayloadError):
                structure(mutant, SCHEMA_TYPES[name])

    check()


@pytest.mark.parametrize("name", sorted(SCHEMA_TYPES))
def test_an_extra_key_is_refused_by_schema_and_converter(name: str) -> None:
    @settings(max_examples=5, deadline=None)
    @given(STRATEGIES[name])
    def check(value: Any) -> None:
        payload = unstructure(value)
        if name == "CustomFields":  # custom fields are the one open object
            return
        payload["zz_extra"] = 1
        assert not VALIDATORS[name].is_valid(payload)
        with pytest.raises(PayloadError):
            structure(payload, SCHEMA_TYPES[name])

    check()
