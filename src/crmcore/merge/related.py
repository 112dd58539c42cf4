"""The records that point at a customer and follow it into a merge.

Activities, opportunities, cases, orders, survey responses and consents
each carry a ``customer_id``; a merge moves those of the merged customers
to the survivor and an unmerge moves them back.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.merge``; attrs, pendulum.
"""

from __future__ import annotations

from typing import TypeAlias

import pendulum

from crmcore.domain.activity import Activity
from crmcore.domain.case import Case
from crmcore.domain.consent import Consent
from crmcore.domain.entity import touch
from crmcore.domain.ids import CustomerId
from crmcore.domain.opportunity import Opportunity
from crmcore.domain.order import Order
from crmcore.domain.survey import SurveyResponse
from crmcore.merge.record import RelatedKind

__all__ = ["RelatedRecord", "related_key", "related_kind", "repoint"]

RelatedRecord: TypeAlias = Activity | Opportunity | Case | Order | SurveyResponse | Consent
"""Any record that belongs to a customer and moves with it in a merge."""

_KINDS: dict[type[RelatedRecord], RelatedKind] = {
    Activity: RelatedKind.ACTIVITY,
    Opportunity: RelatedKind.OPPORTUNITY,
    Case: RelatedKind.CASE,
    Order: RelatedKind.ORDER,
    SurveyResponse: RelatedKind.SURVEY_RESPONSE,
    Consent: RelatedKind.CONSENT,
}


def related_kind(record: RelatedRecord) -> RelatedKind:
    """Return the kind of a related record.

    Args:
        record: An activity, opportunity, case, order, survey response or consent.

    Returns:
        Its kind.
    """
    return _KINDS[type(record)]


def related_key(record: RelatedRecord) -> tuple[RelatedKind, str]:
    """Return ``(kind, id)``: what identifies a related record among all kinds.

    Args:
        record: A related record.

    Returns:
        The key, which also sorts related records deterministically.
    """
    return (related_kind(record), record.id)


def repoint(record: RelatedRecord, to: CustomerId, *, at: pendulum.DateTime) -> RelatedRecord:
    """Return ``record`` moved to customer ``to``, touched at ``at``.

    Args:
        record: The related record.
        to: The customer it now belongs to.
        at: When it moved.

    Returns:
        The moved snapshot (same version; the repository bumps it on save).

    Raises:
        InvalidValueError: If ``at`` is before the record's last update.
    """
    return touch(record, at, customer_id=to)
