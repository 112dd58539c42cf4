"""The engine's fast paths: resolved moves, record and event construction, effects."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs
import pendulum
import pytest
from cattrs.strategies import include_subclasses

from crmcore.domain import (
    Case,
    CaseId,
    CaseKind,
    Customer,
    CustomerId,
    EmailAddress,
    Lead,
    LeadId,
    LeadStatus,
    Money,
    Opportunity,
    OpportunityId,
    OpportunityStage,
    Organization,
    PersonName,
    capture_lead,
    open_case,
    open_opportunity,
    register_customer,
)
from crmcore.domain.customer import assemble_customer
from crmcore.domain.events import StageChanged
from crmcore.domain.slots import compile_builder, slot_setter
from crmcore.errors import ConfigurationError, InvalidValueError, TransitionNotAllowedError
from crmcore.lifecycle import (
    CASE_WORKFLOW,
    CUSTOMER_WORKFLOW,
    LEAD_WORKFLOW,
    OPPORTUNITY_WORKFLOW,
    State,
    Transition,
    Workflow,
    allowed,
    fire,
)
from crmcore.lifecycle.engine import _compile_copy
from crmcore.lifecycle.workflow import Firing
from crmcore.serialization import dumps, loads, make_converter

AT = pendulum.datetime(2026, 3, 2, 9, tz="UTC")


def new_lead() -> Lead:
    lead, _ = capture_lead(
        id=LeadId("l-1"),
        name=PersonName.parse("张伟"),
        emails=[EmailAddress("zhang.wei@example.com")],
        at=AT,
    )
    return lead


def lead_drop(*, guards: tuple[str, ...] = (), effects: tuple[str, ...] = ()) -> Workflow[Any, Any]:
    """A one-move lead workflow (new -> disqualified) with the given guard and effect names."""
    return Workflow(
        name="drop",
        entity="lead",
        attribute="status",
        states=(
            State(name=LeadStatus.NEW, initial=True),
            State(name=LeadStatus.DISQUALIFIED, final=True),
        ),
        transitions=(
            Transition(
                name="drop",
                sources=(LeadStatus.NEW,),
                target=LeadStatus.DISQUALIFIED,
                guards=guards,
                effects=effects,
            ),
        ),
    )


@attrs.frozen(kw_only=True)
class Ticket:
    id: int
    stage: str = "open"


TICKETS: Workflow[Ticket, str] = Workflow(
    name="tickets",
    entity="ticket",
    attribute="stage",
    states=(State(name="open", initial=True), State(name="done", final=True)),
    transitions=(Transition(name="finish", sources=("open",), target="done"),),
)


# --------------------------------------------------------------------------- built objects


def test_the_record_event_and_firing_are_exactly_their_own_frozen_classes() -> None:
    seen: list[Firing[Any]] = []

    def note(_lead: Lead, firing: Firing[Any]) -> Mapping[str, Any]:
        seen.append(firing)
        return {"disqualified_reason": firing.reason}

    workflow = LEAD_WORKFLOW.with_effects(record_disqualified_reason=note)
    lead, event = fire(workflow, new_lead(), "disqualify", at=AT, reason="no budget")
    (firing,) = seen
    for made, cls in ((lead, Lead), (event, StageChanged), (firing, Firing)):
        assert type(made) is cls
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            made.__setattr__("reason", "changed")
    assert firing == Firing(
        transition=firing.transition, source=LeadStatus.NEW, at=AT, by=None, reason="no budget"
    )
    assert lead == attrs.evolve(
        new_lead(), status=LeadStatus.DISQUALIFIED, disqualified_reason="no budget"
    )
    assert hash(lead) == hash(attrs.evolve(lead))


def built_by_the_fast_paths() -> list[Any]:
    """Fire a move on each default workflow's record, one with an effect; assemble a customer."""
    built: list[Any] = []

    def note(_lead: Lead, firing: Firing[Any]) -> Mapping[str, Any]:
        built.append(firing)
        return {"disqualified_reason": firing.reason}

    customer, _ = register_customer(
        id=CustomerId("c-1"), organization=Organization(legal_name="腾达科技"), at=AT
    )
    opportunity, _ = open_opportunity(
        id=OpportunityId("o-1"),
        customer_id=CustomerId("c-1"),
        title="ERP",
        amount=Money(Decimal("1000"), "CNY"),
        at=AT,
    )
    case, _ = open_case(
        id=CaseId("k-1"), customer_id=CustomerId("c-1"), kind=CaseKind.COMPLAINT, subject="x", at=AT
    )
    moves: list[tuple[Workflow[Any, Any], Any]] = [
        (LEAD_WORKFLOW, new_lead()),
        (OPPORTUNITY_WORKFLOW, opportunity),
        (CASE_WORKFLOW, case),
        (CUSTOMER_WORKFLOW, customer),
    ]
    for workflow, record in moves:
        move = allowed(workflow, record)[0]
        built.extend(fire(workflow, record, move.name, at=AT, reason="because"))
    noting = LEAD_WORKFLOW.with_effects(record_disqualified_reason=note)
    built.extend(fire(noting, new_lead(), "disqualify", at=AT, reason="because"))
    built.append(assemble_customer(id=CustomerId("c-2"), at=AT, organization=customer.organization))
    return built


def test_the_fast_paths_build_exactly_the_domain_classes_and_subclass_none_of_them() -> None:
    built = built_by_the_fast_paths()
    classes = {type(made) for made in built}
    assert classes == {Lead, Opportunity, Case, Customer, StageChanged, Firing}
    for cls in classes:
        assert cls.__subclasses__() == []


def test_cattrs_include_subclasses_works_on_stage_changed_after_firing() -> None:
    _, event = fire(LEAD_WORKFLOW, new_lead(), "contact", at=AT)
    converter = make_converter()
    include_subclasses(StageChanged, converter)
    assert converter.structure(converter.unstructure(event, StageChanged), StageChanged) == event


def test_a_builder_must_set_every_field_exactly() -> None:
    with pytest.raises(ConfigurationError, match="must set exactly its fields"):
        compile_builder(Ticket, "id", {"id": "id"})
    make = compile_builder(Ticket, "id, stage", {"id": "id", "stage": "stage"})
    assert make(3, "done") == Ticket(id=3, stage="done")


def test_a_slot_setter_writes_a_frozen_instance_and_refuses_what_is_not_a_slot() -> None:
    ticket = Ticket(id=1)
    slot_setter(Ticket, "stage")(ticket, "done")
    assert ticket == Ticket(id=1, stage="done")
    with pytest.raises(ConfigurationError, match=r"Ticket\.__init__ is not a slot"):
        slot_setter(Ticket, "__init__")


SUBCLASSED: list[type[Any]] = []


@attrs.frozen(kw_only=True)
class Hooked:
    a: int
    b: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        SUBCLASSED.append(cls)


@attrs.frozen(kw_only=True)
class Renewed:
    a: int
    b: str

    def __new__(cls, *_args: Any, **_kwargs: Any) -> Renewed:
        return super().__new__(cls)


@pytest.mark.parametrize("cls", [Hooked, Renewed])
def test_a_class_with_a_subclass_hook_or_its_own_new_is_copied_without_a_subclass(
    cls: Any,
) -> None:
    copy = _compile_copy(cls, ("a", "b"), "b", False)
    made = copy(cls(a=1, b="x"), "y", AT)
    assert made == cls(a=1, b="y")
    assert type(made) is cls
    assert SUBCLASSED == []


# --------------------------------------------------------------------------- events


def test_event_fields_are_plain_strings_whatever_the_stage_types() -> None:
    lead = new_lead()
    # Enum states on both sides.
    _, event = fire(LEAD_WORKFLOW, lead, "contact", at=AT)
    # String states (a pipeline loaded from JSON) on a record holding enum members.
    strings = loads(dumps(LEAD_WORKFLOW), Workflow).with_guards(reachable=lambda _lead: True)
    moved, loaded_event = fire(strings, lead, "qualify", at=AT)
    # A plain-string stage on the record while the workflow has enum states.
    new_as_str: Any = "new"
    plain = attrs.evolve(lead, status=new_as_str)
    _, plain_event = fire(LEAD_WORKFLOW, plain, "contact", at=AT)
    for e, source, target in (
        (event, "new", "contacted"),
        (loaded_event, "new", "qualified"),
        (plain_event, "new", "contacted"),
    ):
        for value in (e.entity_id, e.workflow, e.transition, e.from_stage, e.to_stage):
            assert type(value) is str
        assert (e.from_stage, e.to_stage) == (source, target)
    assert moved.status == "qualified"


def test_a_record_id_that_is_not_a_string_is_written_as_one() -> None:
    ticket, event = fire(TICKETS, Ticket(id=7), "finish", at=AT)
    assert ticket == Ticket(id=7, stage="done")
    assert event.entity_id == "7"
    assert (event.from_stage, event.to_stage, event.entity) == ("open", "done", "ticket")


# --------------------------------------------------------------------------- binding


def test_a_missing_effect_is_reported_when_fired_and_binding_it_makes_a_new_workflow() -> None:
    bare = loads(dumps(LEAD_WORKFLOW), Workflow[Lead, LeadStatus])
    message = (
        "workflow 'lead': effect 'record_disqualified_reason' of transition 'disqualify' "
        "has no implementation; bind it with with_effects()"
    )
    with pytest.raises(ConfigurationError) as caught:
        fire(bare, new_lead(), "disqualify", at=AT, reason="no budget")
    assert str(caught.value) == str(ConfigurationError(message))
    bound = bare.with_effects(
        record_disqualified_reason=lambda _l, _f: {"disqualified_reason": "x"}
    )
    lead, _ = fire(bound, new_lead(), "disqualify", at=AT, reason="no budget")
    assert lead.disqualified_reason == "x"
    with pytest.raises(ConfigurationError, match="effect 'record_disqualified_reason'"):
        fire(bare, new_lead(), "disqualify", at=AT, reason="no budget")


def test_effects_before_a_missing_one_run_and_the_missing_one_raises() -> None:
    calls: list[str] = []

    def first(_lead: Lead, _firing: Firing[Any]) -> Mapping[str, Any]:
        calls.append("first")
        return {}

    workflow = lead_drop(effects=("first", "second")).with_effects(first=first)
    with pytest.raises(ConfigurationError, match="effect 'second' of transition 'drop'"):
        fire(workflow, new_lead(), "drop", at=AT)
    assert calls == ["first"]


def test_a_guard_that_fails_before_a_missing_one_makes_the_move_not_allowed() -> None:
    refusing = lead_drop(guards=("no", "missing")).with_guards(no=lambda _lead: False)
    with pytest.raises(TransitionNotAllowedError, match="guard no not met"):
        fire(refusing, new_lead(), "drop", at=AT)
    passing = lead_drop(guards=("yes", "missing")).with_guards(yes=lambda _lead: True)
    with pytest.raises(ConfigurationError, match="guard 'missing' of transition 'drop'"):
        fire(passing, new_lead(), "drop", at=AT)


# --------------------------------------------------------------------------- effects


def test_later_effects_win_and_only_the_winning_value_is_converted() -> None:
    workflow = lead_drop(effects=("long", "short")).with_effects(
        long=lambda _l, _f: {"company": "x" * 1000, "disqualified_reason": "a"},
        short=lambda _l, _f: {"company": "  ACME  "},
    )
    lead, _ = fire(workflow, new_lead(), "drop", at=AT)
    assert lead.company == attrs.evolve(new_lead(), company="  ACME  ").company
    assert lead.disqualified_reason == "a"


def test_an_effect_may_return_any_mapping() -> None:
    workflow = lead_drop(effects=("note",)).with_effects(
        note=lambda _l, _f: MappingProxyType({"disqualified_reason": "read only"})
    )
    lead, _ = fire(workflow, new_lead(), "drop", at=AT)
    assert lead.disqualified_reason == "read only"


def test_an_effect_on_a_field_with_a_converter_and_a_validator_runs_both() -> None:
    later = AT.add(hours=1)
    workflow = lead_drop(effects=("stamp",)).with_effects(
        stamp=lambda _l, f: {"updated_at": f.at.in_timezone("Asia/Shanghai")}
    )
    lead, _ = fire(workflow, new_lead(), "drop", at=later)
    assert lead.updated_at == later
    assert lead.updated_at.timezone_name == "UTC"
    backdated = lead_drop(effects=("stamp",)).with_effects(
        stamp=lambda old, _f: {"updated_at": old.created_at.subtract(days=1)}
    )
    with pytest.raises(InvalidValueError, match="updated_at"):
        fire(backdated, new_lead(), "drop", at=later)


# ---------------------------------------------------------------- text stages on enum records


def test_a_workflow_read_without_its_stage_type_still_stores_the_records_enum() -> None:
    """A plain ``Workflow`` names stages as text; an Opportunity's stage stays an enum."""
    plain = loads(dumps(OPPORTUNITY_WORKFLOW), Workflow)
    assert type(plain.initial.name) is str
    deal, _ = open_opportunity(
        id=OpportunityId("o-1"),
        customer_id=CustomerId("c-1"),
        title="ERP rollout",
        amount=Money(Decimal("1000"), "CNY"),
        at=AT,
    )
    moved, event = fire(plain, deal, "contact", at=AT)
    assert moved.stage is OpportunityStage.FIRST_CONTACT
    assert event.to_stage == "first_contact"
    again, _ = fire(plain, moved, "analyse_needs", at=AT)
    assert again.stage is OpportunityStage.NEEDS_ANALYSIS
    assert fire(OPPORTUNITY_WORKFLOW, deal, "contact", at=AT)[0] == moved


class Phase(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


@attrs.frozen(kw_only=True)
class Job:
    """A host's own record (outside crmcore.domain: moved by attrs.evolve) with an enum stage."""

    id: int
    phase: Phase = Phase.OPEN


def test_the_evolve_path_turns_text_targets_into_the_records_enum_too() -> None:
    jobs: Workflow[Job, str] = Workflow(
        name="jobs",
        entity="job",
        attribute="phase",
        states=(State(name="open", initial=True), State(name="done", final=True)),
        transitions=(Transition(name="finish", sources=("open",), target="done"),),
    )
    finished, _ = fire(jobs, Job(id=1), "finish", at=AT)
    assert finished.phase is Phase.DONE


def test_a_text_target_that_is_not_a_value_of_the_records_enum_is_refused_by_name() -> None:
    definition = dumps(OPPORTUNITY_WORKFLOW).replace('"first_contact"', '"first_call"')
    plain = loads(definition, Workflow)
    deal, _ = open_opportunity(
        id=OpportunityId("o-2"),
        customer_id=CustomerId("c-1"),
        title="CRM pilot",
        amount=Money(Decimal("10"), "CNY"),
        at=AT,
    )
    with pytest.raises(InvalidValueError) as caught:
        fire(plain, deal, "contact", at=AT)
    assert caught.value.field == "opportunity.stage"
    assert "OpportunityStage" in caught.value.reason


def test_text_stages_on_a_record_with_text_stages_stay_text() -> None:
    finished, _ = fire(TICKETS, Ticket(id=1), "finish", at=AT)
    assert finished.stage == "done"
    assert type(finished.stage) is str
