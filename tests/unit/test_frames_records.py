"""The frames of every aggregate and of the event history, checked row by row by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pendulum
import polars as pl
import pytest

from crmcore.adapters.frames.records import (
    CUSTOMER_SCHEMA,
    EVENT_SCHEMA,
    STAGE_CHANGE_SCHEMA,
    events_frame,
    from_frame,
    schema_of,
    stage_changes_frame,
    to_frame,
)
from crmcore.domain import (
    Activity,
    ActivityKind,
    Case,
    CaseChannel,
    CaseId,
    CaseKind,
    Consent,
    ConsentChannel,
    ContactKind,
    CountryCode,
    Customer,
    CustomerId,
    CustomersMerged,
    CustomFields,
    CustomFieldSchema,
    DomainEvent,
    EmailAddress,
    EventId,
    FieldDef,
    Lead,
    LeadCaptured,
    LeadId,
    MergeId,
    Money,
    Opportunity,
    OpportunityStage,
    Order,
    Organization,
    Person,
    PersonName,
    PhoneNumber,
    PostalAddress,
    Severity,
    StageChanged,
    SurveyResponse,
    UserId,
    register_customer,
)
from crmcore.errors import InvalidValueError
from crmcore.serialization import loads_event

AT = pendulum.datetime(2026, 3, 1, 9, 30)
UTC_AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def _org_customer() -> Customer:
    customer, _ = register_customer(
        id=CustomerId("c-1"),
        organization=Organization(legal_name="杭州云帆科技有限公司"),
        emails=[EmailAddress("Sales@YunFan.cn"), EmailAddress("ceo@yunfan.cn")],
        phones=[PhoneNumber.parse("+8613800138000")],
        addresses=[PostalAddress(country="CN", province="浙江省", city="杭州市")],
        country=CountryCode("CN"),
        owner=UserId("u-ana"),
        tags=["vip", "b2b"],
        custom=CustomFields({"budget": "1200.5", "visits": 3}),
        at=AT,
    )
    return customer


def test_a_customer_row_has_company_primary_contacts_and_city() -> None:
    customer = _org_customer()
    row = to_frame([customer], documents=False).row(0, named=True)
    assert row == {
        "id": "c-1",
        "kind": "organization",
        "display_name": "杭州云帆科技有限公司",
        "company": "杭州云帆科技有限公司",
        "tier": "potential",
        "priority": "medium",
        "lifecycle_stage": "potential",
        "source": "other",
        "owner": "u-ana",
        "team": None,
        "country": "CN",
        "city": "杭州市",
        "primary_email": "sales@yunfan.cn",
        "primary_phone": "+8613800138000",
        "merged_into": None,
        "created_at": UTC_AT,
        "updated_at": UTC_AT,
        "tags": ["b2b", "vip"],
        "custom": '{"budget":"1200.5","visits":3}',
    }


def test_a_person_s_company_is_the_employer_and_missing_contacts_are_null() -> None:
    customer, _ = register_customer(
        id=CustomerId("c-2"), person=Person(name=PersonName.parse("李娜"), employer="Acme"), at=AT
    )
    row = to_frame([customer], documents=False).row(0, named=True)
    assert (row["company"], row["city"], row["primary_email"], row["primary_phone"]) == (
        "Acme",
        None,
        None,
        None,
    )


def test_the_primary_phone_is_e164_without_extension_and_follows_the_primary_flag() -> None:
    customer, _ = register_customer(
        id=CustomerId("c-3"),
        person=Person(name=PersonName.parse("王伟")),
        phones=[PhoneNumber.parse("+14155552671"), PhoneNumber.parse("+8613900139000 ext. 12")],
        at=AT,
    )
    points = customer.points.with_phone(
        PhoneNumber.parse("+8613900139000 ext. 12"), kind=ContactKind.WORK, primary=True
    )
    moved = attrs.evolve(customer, points=points)
    assert to_frame([moved], documents=False)["primary_phone"].to_list() == ["+8613900139000"]


def test_custom_fields_become_typed_columns_by_schema() -> None:
    schema = CustomFieldSchema(
        (
            FieldDef(name="budget", type="decimal"),
            FieldDef(name="visits", type="integer"),
            FieldDef(name="since", type="date"),
        )
    )
    frame = to_frame([_org_customer()], documents=False, custom_schema=schema)
    assert frame.select("custom_budget", "custom_visits", "custom_since").row(0) == (
        Decimal("1200.500000"),
        3,
        None,
    )
    assert frame.schema["custom_budget"] == pl.Decimal(38, 6)
    assert frame.schema["custom_since"] == pl.Date()


def test_a_custom_value_not_of_its_schema_type_is_an_invalid_value() -> None:
    schema = CustomFieldSchema((FieldDef(name="visits", type="boolean"),))
    with pytest.raises(InvalidValueError, match="visits of c-1"):
        to_frame([_org_customer()], custom_schema=schema)


def test_a_schema_for_records_without_custom_fields_is_an_invalid_value() -> None:
    order = Order(
        id="o-1",
        customer_id=CustomerId("c-1"),
        amount=Money("1", "CNY"),
        ordered_at=AT,
        created_at=AT,
        updated_at=AT,
    )
    with pytest.raises(InvalidValueError, match="custom_schema"):
        to_frame([order], custom_schema=CustomFieldSchema(()))


def test_a_lead_row() -> None:
    lead = Lead(
        id=LeadId("l-1"),
        name=PersonName.parse("孙浩然"),
        score=40,
        owner=UserId("u-bo"),
        created_at=AT,
        updated_at=AT,
    )
    assert to_frame([lead], documents=False).row(0) == (
        "l-1",
        "new",
        "other",
        "u-bo",
        None,
        40,
        None,
        None,
        None,
        UTC_AT,
        UTC_AT,
        "{}",
    )


def test_an_opportunity_row_keeps_money_exact_with_its_currency() -> None:
    opportunity = Opportunity(
        id="p-1",
        customer_id=CustomerId("c-1"),
        title="ERP",
        amount=Money("12345.67", "USD"),
        stage=OpportunityStage.PROPOSAL,
        expected_close=dt.date(2026, 6, 30),
        lost_reason="",
        created_at=AT,
        updated_at=AT,
    )
    row = to_frame([opportunity], documents=False).row(0, named=True)
    assert (row["amount"], row["currency"], row["stage"], row["expected_close"]) == (
        Decimal("12345.670000"),
        "USD",
        "proposal",
        dt.date(2026, 6, 30),
    )
    assert row["lost_reason"] is None


def test_activity_case_survey_and_consent_rows() -> None:
    activity = Activity(
        id="a-1",
        kind=ActivityKind.CALL,
        subject="回访",
        customer_id=CustomerId("c-1"),
        case_id=CaseId("k-1"),
        occurred_at=AT,
        completed_at=AT.add(minutes=5),
        outcome="resolved",
        created_at=AT,
        updated_at=AT,
    )
    case = Case(
        id="k-1",
        customer_id=CustomerId("c-1"),
        kind=CaseKind.COMPLAINT,
        subject="退款未到账",
        severity=Severity.HIGH,
        channel=CaseChannel.PHONE,
        escalation_level=1,
        opened_at=AT,
        created_at=AT,
        updated_at=AT,
    )
    survey = SurveyResponse(
        id="s-1", customer_id=CustomerId("c-1"), case_id=CaseId("k-1"), nps=9, responded_at=AT,
        created_at=AT, updated_at=AT,
    )  # fmt: skip
    consent = Consent(
        id="g-1",
        customer_id=CustomerId("c-1"),
        purpose="marketing",
        channel=ConsentChannel.EMAIL,
        granted_at=AT,
        created_at=AT,
        updated_at=AT,
    )
    assert to_frame([activity], documents=False).row(0) == (
        "a-1", "c-1", "call", UTC_AT, None, None, "k-1", None, None,
        UTC_AT + dt.timedelta(minutes=5), "resolved",
    )  # fmt: skip
    assert to_frame([case], documents=False).row(0) == (
        "k-1", "c-1", "complaint", None, "high", "phone", "received", 1, None, None,
        UTC_AT, None, None, None, UTC_AT, UTC_AT,
    )  # fmt: skip
    assert to_frame([survey], documents=False).row(0) == (
        "s-1", "c-1", 9, None, None, UTC_AT, "k-1",
    )  # fmt: skip
    assert to_frame([consent], documents=False).row(0) == (
        "g-1", "c-1", "marketing", "email", None, UTC_AT, None, UTC_AT, UTC_AT,
    )  # fmt: skip


def test_every_frame_round_trips_through_its_document_column() -> None:
    customer = _org_customer()
    frame = to_frame([customer])
    assert from_frame(frame) == [customer]


def test_an_empty_frame_has_the_schema_of_its_type() -> None:
    assert to_frame([], record_type=Case, documents=False).schema == dict(schema_of(Case))


def test_the_customer_frame_converts_to_pandas() -> None:
    pandas = to_frame([_org_customer()]).to_pandas()
    assert list(pandas.columns) == [*CUSTOMER_SCHEMA, "document"]
    assert pandas.loc[0, "primary_email"] == "sales@yunfan.cn"
    assert str(pandas.loc[0, "created_at"]) == "2026-03-01 09:30:00+00:00"


def _stage(id: str, entity: str, to: str, reason: str = "") -> StageChanged:
    return StageChanged(
        id=EventId(id),
        entity=entity,
        entity_id=f"{entity[0]}-1",
        workflow=entity,
        transition=f"to_{to}",
        from_stage="new",
        to_stage=to,
        reason=reason,
        at=AT,
        by=UserId("u-ana"),
    )


def test_the_events_frame_names_each_event_s_aggregate_and_keeps_its_json() -> None:
    merged = CustomersMerged(
        id=EventId("e-2"),
        merge_id=MergeId("m-1"),
        survivor_id=CustomerId("c-1"),
        merged_ids=(CustomerId("c-9"),),
        at=AT,
    )
    events: list[DomainEvent] = [
        LeadCaptured(id=EventId("e-1"), lead_id=LeadId("l-1"), source="web", at=AT),
        merged,
    ]
    frame = events_frame(events)
    assert frame.schema == dict(EVENT_SCHEMA)
    assert frame.drop("payload").rows() == [
        ("e-1", "LeadCaptured", "lead", "l-1", UTC_AT, None),
        ("e-2", "CustomersMerged", "customer", "c-1", UTC_AT, None),
    ]
    assert [loads_event(p) for p in frame["payload"]] == events


def test_the_stage_changes_frame_keeps_only_stage_changes_flattened() -> None:
    events: list[DomainEvent] = [
        _stage("e-1", "lead", "qualified"),
        LeadCaptured(id=EventId("e-2"), lead_id=LeadId("l-1"), source="web", at=AT),
        _stage("e-3", "opportunity", "won", reason="signed"),
    ]
    frame = stage_changes_frame(events)
    assert frame.schema == dict(STAGE_CHANGE_SCHEMA)
    assert frame.rows() == [
        ("e-1", "lead", "l-1", "lead", "to_qualified", "new", "qualified", UTC_AT, "u-ana", None),
        (
            "e-3", "opportunity", "o-1", "opportunity", "to_won", "new", "won", UTC_AT,
            "u-ana", "signed",
        ),
    ]  # fmt: skip


def test_an_events_frame_of_something_else_is_an_invalid_value() -> None:
    with pytest.raises(InvalidValueError):
        events_frame(["not an event"])  # type: ignore[list-item]
