"""Lead conversion: the pure plan and the service on the in-memory adapter."""

from __future__ import annotations

import pendulum
import pytest

from crmcore.adapters.memory import MemoryEventPublisher, MemoryStore, SequentialIdFactory
from crmcore.clock import FixedClock
from crmcore.domain import (
    ContactId,
    Customer,
    CustomerId,
    CustomerKind,
    EmailAddress,
    Lead,
    LeadId,
    LeadStatus,
    Money,
    OpportunityId,
    Organization,
    Person,
    PersonName,
    PhoneNumber,
    UserId,
    capture_lead,
    register_customer,
)
from crmcore.errors import TransitionNotAllowedError
from crmcore.lifecycle import LEAD_WORKFLOW, advance_to, match_existing_customer, plan_conversion
from crmcore.services.lead_conversion import convert_lead

AT = pendulum.datetime(2026, 3, 2, 9, tz="Asia/Shanghai")
SALES = UserId("u-sales")


def qualified_lead(*, company: str = "腾达科技", email: str = "zhang.wei@tengda.cn") -> Lead:
    lead, _ = capture_lead(
        id=LeadId("l-1"),
        name=PersonName.parse("张伟"),
        company=company,
        emails=[EmailAddress(email)],
        phones=[PhoneNumber.parse("13800138000", region="CN")],
        owner=SALES,
        at=AT,
    )
    lead, _ = advance_to(LEAD_WORKFLOW, lead, LeadStatus.QUALIFIED, at=AT)
    return lead


def existing_organisation(email: str = "ZHANG.WEI@tengda.cn") -> Customer:
    customer, _ = register_customer(
        id=CustomerId("c-old"),
        organization=Organization(legal_name="腾达科技有限公司"),
        emails=[EmailAddress(email)],
        at=AT.subtract(years=1),
    )
    return customer


def test_converting_a_company_lead_creates_an_organisation_with_the_person_as_contact() -> None:
    result = plan_conversion(
        qualified_lead(),
        existing=None,
        customer_id=CustomerId("c-new"),
        contact_id=ContactId("p-1"),
        opportunity_id=OpportunityId("o-1"),
        amount=Money("80000.00", "CNY"),
        at=AT,
    )
    assert result.customer_is_new
    assert result.customer.kind is CustomerKind.ORGANIZATION
    assert [c.name.full for c in result.customer.contacts] == ["张伟"]
    assert (result.opportunity.customer_id, result.opportunity.lead_id) == ("c-new", "l-1")
    assert (result.lead.status, result.lead.converted_customer_id) == (
        LeadStatus.CONVERTED,
        "c-new",
    )
    assert [type(e).__name__ for e in result.events] == [
        "StageChanged",
        "CustomerRegistered",
        "OpportunityOpened",
    ]


def test_converting_a_person_lead_creates_a_person_customer() -> None:
    result = plan_conversion(
        qualified_lead(company=""),
        existing=None,
        customer_id=CustomerId("c-new"),
        contact_id=ContactId("p-1"),
        opportunity_id=OpportunityId("o-1"),
        amount=Money("80000.00", "CNY"),
        at=AT,
    )
    assert result.customer.person == Person(name=PersonName.parse("张伟"))


def test_converting_into_an_existing_customer_adds_the_contact_and_no_new_customer() -> None:
    existing = existing_organisation()
    result = plan_conversion(
        qualified_lead(),
        existing=existing,
        customer_id=CustomerId("c-new"),
        contact_id=ContactId("p-1"),
        opportunity_id=OpportunityId("o-1"),
        amount=Money("80000.00", "CNY"),
        at=AT,
    )
    assert not result.customer_is_new
    assert result.customer.id == "c-old"
    assert [c.id for c in result.customer.contacts] == ["p-1"]
    assert result.opportunity.customer_id == "c-old"


def test_an_unqualified_lead_cannot_be_converted() -> None:
    lead, _ = capture_lead(id=LeadId("l-2"), name=PersonName.parse("李娜"), at=AT)
    with pytest.raises(TransitionNotAllowedError, match="can't convert when in new"):
        plan_conversion(
            lead,
            existing=None,
            customer_id=CustomerId("c-new"),
            contact_id=ContactId("p-1"),
            opportunity_id=OpportunityId("o-1"),
            amount=Money(1, "CNY"),
            at=AT,
        )


def test_an_existing_customer_matches_on_email_whatever_its_case() -> None:
    assert match_existing_customer(qualified_lead(), [existing_organisation()]) is not None


def test_a_customer_sharing_no_email_or_phone_does_not_match() -> None:
    other = existing_organisation(email="someone@else.cn")
    assert match_existing_customer(qualified_lead(), [other]) is None


def store_with(*records: object) -> tuple[MemoryStore, MemoryEventPublisher]:
    publisher = MemoryEventPublisher()
    store = MemoryStore(publisher)
    with store.unit_of_work() as uow:
        for record in records:
            if isinstance(record, Lead):
                uow.leads.save(record)
            elif isinstance(record, Customer):
                uow.customers.save(record)
        uow.commit()
    publisher.published.clear()
    return store, publisher


def test_the_service_saves_the_customer_opportunity_and_lead_and_publishes_events() -> None:
    store, publisher = store_with(qualified_lead(email="new.person@example.com"))
    result = convert_lead(
        store.unit_of_work(),
        LeadId("l-1"),
        amount=Money("80000.00", "CNY"),
        clock=FixedClock(AT),
        ids=SequentialIdFactory("x"),
        by=SALES,
    )
    with store.unit_of_work() as uow:
        assert uow.customers.count() == 1
        assert uow.opportunities.get(result.opportunity.id).lead_id == "l-1"
        assert uow.leads.get(LeadId("l-1")).status is LeadStatus.CONVERTED
    assert len(publisher.published) == 3


def test_the_service_never_creates_a_duplicate_customer() -> None:
    existing, _ = register_customer(
        id=CustomerId("c-old"),
        organization=Organization(legal_name="腾达科技有限公司"),
        phones=[PhoneNumber.parse("+86 138-0013-8000")],
        at=AT.subtract(years=1),
    )
    store, _ = store_with(qualified_lead(), existing)
    result = convert_lead(
        store.unit_of_work(),
        LeadId("l-1"),
        amount=Money("80000.00", "CNY"),
        clock=FixedClock(AT),
        ids=SequentialIdFactory("x"),
    )
    with store.unit_of_work() as uow:
        assert uow.customers.count() == 1
        assert [c.name.full for c in uow.customers.get(CustomerId("c-old")).contacts] == ["张伟"]
    assert result.customer.id == "c-old"
