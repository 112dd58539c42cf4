"""Satisfaction surveys (满意度调查): CSAT 1–5, NPS 0–10 (净推荐值), CES 1–7, with a comment.

May import: ``crmcore.errors``, ``crmcore.clock``, ``crmcore.domain``; attrs, pendulum.
"""

from __future__ import annotations

import enum

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL
from crmcore.domain.entity import not_before, require_id, require_text, require_version
from crmcore.domain.events import SurveyResponded
from crmcore.domain.ids import CaseId, CustomerId, SurveyResponseId, UserId
from crmcore.errors import InvalidValueError

__all__ = ["NpsGroup", "SurveyResponse", "record_survey_response"]


class NpsGroup(enum.StrEnum):
    """NPS respondent group."""

    PROMOTER = "promoter"  # 9–10
    PASSIVE = "passive"  # 7–8
    DETRACTOR = "detractor"  # 0–6


def _score(name: str, value: int | None, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValueError(name, value, f"an integer from {low} to {high}")
    return value


def _csat(value: int | None) -> int | None:
    return _score("csat", value, 1, 5)


def _nps(value: int | None) -> int | None:
    return _score("nps", value, 0, 10)


def _ces(value: int | None) -> int | None:
    return _score("ces", value, 1, 7)


def _some_score(instance: SurveyResponse, _: attrs.Attribute[object], __: object) -> None:
    if instance.csat is None and instance.nps is None and instance.ces is None:
        raise InvalidValueError("survey response", instance.id, "needs a CSAT, NPS or CES score")


def _comment(value: str) -> str:
    return require_text("comment", value, max_length=5_000)


@attrs.frozen(kw_only=True)
class SurveyResponse:
    """One customer's answer to a satisfaction survey, optionally about a case."""

    id: SurveyResponseId = attrs.field(converter=require_id, metadata=INTERNAL)
    version: int = attrs.field(default=0, converter=require_version, metadata=INTERNAL)
    customer_id: CustomerId = attrs.field(converter=require_id, metadata=INTERNAL)
    case_id: CaseId | None = attrs.field(default=None, metadata=INTERNAL)
    csat: int | None = attrs.field(default=None, converter=_csat, metadata=INTERNAL)
    nps: int | None = attrs.field(default=None, converter=_nps, metadata=INTERNAL)
    ces: int | None = attrs.field(default=None, converter=_ces, metadata=INTERNAL)
    comment: str = attrs.field(default="", converter=_comment, metadata=INTERNAL)
    responded_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    created_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    updated_at: pendulum.DateTime = attrs.field(
        converter=utc, validator=[not_before("created_at"), _some_score], metadata=INTERNAL
    )

    @property
    def nps_group(self) -> NpsGroup | None:
        """The NPS group of the answer, if it has an NPS score."""
        if self.nps is None:
            return None
        if self.nps >= 9:
            return NpsGroup.PROMOTER
        if self.nps >= 7:
            return NpsGroup.PASSIVE
        return NpsGroup.DETRACTOR


def record_survey_response(
    *,
    id: SurveyResponseId,
    customer_id: CustomerId,
    at: pendulum.DateTime,
    by: UserId | None = None,
    case_id: CaseId | None = None,
    csat: int | None = None,
    nps: int | None = None,
    ces: int | None = None,
    comment: str = "",
) -> tuple[SurveyResponse, SurveyResponded]:
    """Record a survey answer received at ``at``.

    Raises:
        InvalidValueError: If a score is out of range or none is given.
    """
    when = utc(at)
    response = SurveyResponse(
        id=id,
        customer_id=customer_id,
        case_id=case_id,
        csat=csat,
        nps=nps,
        ces=ces,
        comment=comment,
        responded_at=when,
        created_at=when,
        updated_at=when,
    )
    return response, SurveyResponded(
        response_id=response.id,
        customer_id=customer_id,
        case_id=case_id,
        csat=csat,
        nps=nps,
        ces=ces,
        at=when,
        by=by,
    )
