"""Activities (跟进记录): calls, emails, meetings, visits, notes and tasks.

Each activity is linked to at least one of a customer, lead, opportunity or
case, and carries its outcome and next step. Tasks have a due date and are
completed later.

May import: ``crmcore.errors``, ``crmcore.clock``, ``crmcore.domain``; attrs, pendulum.
"""

from __future__ import annotations

import enum

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL
from crmcore.domain.entity import not_before, require_id, require_text, require_version, touch
from crmcore.domain.events import ActivityCompleted, ActivityLogged
from crmcore.domain.ids import ActivityId, CaseId, CustomerId, LeadId, OpportunityId, UserId
from crmcore.errors import InvalidValueError

__all__ = ["Activity", "ActivityKind", "complete_activity", "log_activity"]


class ActivityKind(enum.StrEnum):
    """What kind of follow-up an activity is."""

    CALL = "call"  # 电话
    EMAIL = "email"  # 邮件
    MEETING = "meeting"  # 会议
    VISIT = "visit"  # 拜访
    NOTE = "note"  # 备注
    TASK = "task"  # 任务


def _subject(value: str) -> str:
    return require_text("subject", value, max_length=500)


def _body(value: str) -> str:
    return require_text("body", value, max_length=20_000)


def _linked(instance: Activity, _: attrs.Attribute[object], __: object) -> None:
    if not (
        instance.customer_id or instance.lead_id or instance.opportunity_id or instance.case_id
    ):
        raise InvalidValueError(
            "activity", instance.id, "link it to a customer, lead, opportunity or case"
        )


@attrs.frozen(kw_only=True)
class Activity:
    """One follow-up: what happened (or must happen), with whom, its outcome and next step."""

    id: ActivityId = attrs.field(converter=require_id, metadata=INTERNAL)
    version: int = attrs.field(default=0, converter=require_version, metadata=INTERNAL)
    kind: ActivityKind = attrs.field(converter=ActivityKind, metadata=INTERNAL)
    subject: str = attrs.field(default="", converter=_subject, metadata=INTERNAL)
    body: str = attrs.field(default="", converter=_body, metadata=INTERNAL)
    customer_id: CustomerId | None = attrs.field(default=None, metadata=INTERNAL)
    lead_id: LeadId | None = attrs.field(default=None, metadata=INTERNAL)
    opportunity_id: OpportunityId | None = attrs.field(default=None, metadata=INTERNAL)
    case_id: CaseId | None = attrs.field(default=None, metadata=INTERNAL)
    owner: UserId | None = attrs.field(default=None, metadata=INTERNAL)
    occurred_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    due_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=attrs.converters.optional(utc), metadata=INTERNAL
    )
    completed_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=attrs.converters.optional(utc), metadata=INTERNAL
    )
    outcome: str = attrs.field(default="", converter=_subject, metadata=INTERNAL)
    next_step: str = attrs.field(default="", converter=_subject, metadata=INTERNAL)
    created_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    updated_at: pendulum.DateTime = attrs.field(
        converter=utc, validator=[not_before("created_at"), _linked], metadata=INTERNAL
    )

    @property
    def is_open_task(self) -> bool:
        """Whether this is a task not yet completed."""
        return self.kind is ActivityKind.TASK and self.completed_at is None


def log_activity(
    *,
    id: ActivityId,
    kind: ActivityKind,
    at: pendulum.DateTime,
    by: UserId | None = None,
    occurred_at: pendulum.DateTime | None = None,
    subject: str = "",
    body: str = "",
    customer_id: CustomerId | None = None,
    lead_id: LeadId | None = None,
    opportunity_id: OpportunityId | None = None,
    case_id: CaseId | None = None,
    outcome: str = "",
    next_step: str = "",
    due_at: pendulum.DateTime | None = None,
) -> tuple[Activity, ActivityLogged]:
    """Log a follow-up that happened (or schedule a task); the actor ``by`` owns it.

    Raises:
        InvalidValueError: If it is linked to nothing.
    """
    when = utc(at)
    activity = Activity(
        id=id,
        kind=kind,
        subject=subject,
        body=body,
        customer_id=customer_id,
        lead_id=lead_id,
        opportunity_id=opportunity_id,
        case_id=case_id,
        owner=by,
        occurred_at=occurred_at if occurred_at is not None else when,
        due_at=due_at,
        outcome=outcome,
        next_step=next_step,
        created_at=when,
        updated_at=when,
    )
    return activity, ActivityLogged(
        activity_id=activity.id,
        kind=activity.kind.value,
        customer_id=customer_id,
        lead_id=lead_id,
        opportunity_id=opportunity_id,
        case_id=case_id,
        at=when,
        by=by,
    )


def complete_activity(
    activity: Activity,
    *,
    outcome: str,
    at: pendulum.DateTime,
    by: UserId | None = None,
    next_step: str = "",
) -> tuple[Activity, ActivityCompleted]:
    """Mark a task (or scheduled activity) done with its outcome.

    Raises:
        InvalidValueError: If it is already completed.
    """
    if activity.completed_at is not None:
        raise InvalidValueError(
            "activity", activity.id, f"already completed at {activity.completed_at.isoformat()}"
        )
    new = touch(activity, at, completed_at=utc(at), outcome=outcome, next_step=next_step)
    return new, ActivityCompleted(
        activity_id=activity.id, outcome=new.outcome, at=new.updated_at, by=by
    )
