"""The backfill reads match records straight from stored documents: as from_customer does."""

from __future__ import annotations

from hypothesis import given

from crmcore.adapters.sql.match_index import record_of_document
from crmcore.domain import Customer
from crmcore.matching import MatchRecord
from crmcore.serialization import make_converter
from crmcore.testing.strategies import customers

CONVERTER = make_converter()


@given(customers())
def test_the_record_of_a_document_is_the_record_of_its_customer(customer: Customer) -> None:
    document = CONVERTER.unstructure(customer, unstructure_as=Customer)
    assert record_of_document(document) == MatchRecord.from_customer(customer)
