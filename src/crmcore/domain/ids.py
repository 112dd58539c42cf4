"""Typed identifiers.

Ids are plain strings at run time and distinct types for mypy, so a
``CaseId`` cannot be passed where a ``CustomerId`` is expected. Hosts choose
the format (UUIDs, database keys, external CRM ids); :func:`new_id` makes a
random one for hosts that do not care.

May import: nothing from crmcore; stdlib only.
"""

from __future__ import annotations

import os
from typing import NewType

__all__ = [
    "ActivityId",
    "CaseId",
    "ConsentId",
    "ContactId",
    "CustomerId",
    "EventId",
    "LeadId",
    "MergeId",
    "OpportunityId",
    "OrderId",
    "SurveyResponseId",
    "TeamId",
    "UserId",
    "new_id",
]

CustomerId = NewType("CustomerId", str)
ContactId = NewType("ContactId", str)
LeadId = NewType("LeadId", str)
OpportunityId = NewType("OpportunityId", str)
ActivityId = NewType("ActivityId", str)
CaseId = NewType("CaseId", str)
SurveyResponseId = NewType("SurveyResponseId", str)
OrderId = NewType("OrderId", str)
ConsentId = NewType("ConsentId", str)
MergeId = NewType("MergeId", str)
EventId = NewType("EventId", str)
UserId = NewType("UserId", str)
TeamId = NewType("TeamId", str)


def new_id() -> str:
    """Return a new random id (32 lower-case hex characters).

    >>> len(new_id())
    32
    """
    return os.urandom(16).hex()
