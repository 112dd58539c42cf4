"""The default case workflow (投诉处理), escalation levels, and closing the loop with feedback.

received (接收) → acknowledged → in_progress (处理) ⇄ waiting_on_customer →
resolved → closed; ``reopen`` (with a reason) takes a resolved case back to
work, ``withdraw`` closes an open case that needs no resolution. Effects
keep the SLA timestamps right: the first ``acknowledge``/``start`` stamps
``first_response_at``, ``resolve`` stamps ``resolved_at``, ``close`` and
``withdraw`` stamp ``closed_at``, and waiting on the customer opens and
ends a :class:`~crmcore.domain.case.WaitingPeriod` (the SLA clock pauses).

Escalation (:func:`escalate`) is a separate axis from the status: the level
goes up by hand or because a time rule said an SLA is at risk. Customer
feedback on a resolved case closes it or, if the customer is not
satisfied, reopens it (:func:`close_with_feedback`, 反馈闭环).

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.case import Case, CaseStatus, WaitingPeriod
from crmcore.domain.entity import touch
from crmcore.domain.events import StageChanged
from crmcore.domain.ids import UserId
from crmcore.domain.survey import SurveyResponse
from crmcore.errors import InvalidValueError, TransitionNotAllowedError
from crmcore.lifecycle.engine import fire
from crmcore.lifecycle.workflow import Firing, Policy, State, Transition, Workflow

__all__ = [
    "CASE_WORKFLOW",
    "ESCALATION_LEVELS",
    "ESCALATION_WORKFLOW_NAME",
    "close_with_feedback",
    "escalate",
]

_OPEN = (
    CaseStatus.RECEIVED,
    CaseStatus.ACKNOWLEDGED,
    CaseStatus.IN_PROGRESS,
    CaseStatus.WAITING_ON_CUSTOMER,
)


def _respond(case: Case, firing: Firing[Any]) -> Mapping[str, Any]:
    if case.first_response_at is not None:
        return {}
    return {"first_response_at": firing.at}


def _pause(case: Case, firing: Firing[Any]) -> Mapping[str, Any]:
    return {"waiting": (*case.waiting, WaitingPeriod(start=firing.at))}


def _unpause(case: Case, firing: Firing[Any]) -> Mapping[str, Any]:
    if not case.waiting or case.waiting[-1].end is not None:
        return {}
    last = attrs.evolve(case.waiting[-1], end=firing.at)
    return {"waiting": (*case.waiting[:-1], last)}


def _resolve(_case: Case, firing: Firing[Any]) -> Mapping[str, Any]:
    return {"resolved_at": firing.at}


def _reopen(_case: Case, _firing: Firing[Any]) -> Mapping[str, Any]:
    return {"resolved_at": None}


def _close(_case: Case, firing: Firing[Any]) -> Mapping[str, Any]:
    return {"closed_at": firing.at}


CASE_WORKFLOW: Workflow[Case, CaseStatus] = Workflow(
    name="case",
    entity="case",
    attribute="status",
    policy=Policy.FREE,
    states=(
        State(name=CaseStatus.RECEIVED, label="已接收", initial=True),
        State(name=CaseStatus.ACKNOWLEDGED, label="已确认"),
        State(name=CaseStatus.IN_PROGRESS, label="处理中"),
        State(name=CaseStatus.WAITING_ON_CUSTOMER, label="等待客户"),
        State(name=CaseStatus.RESOLVED, label="已解决"),
        State(name=CaseStatus.CLOSED, label="已关闭", final=True),
    ),
    transitions=(
        Transition(
            name="acknowledge",
            sources=(CaseStatus.RECEIVED,),
            target=CaseStatus.ACKNOWLEDGED,
            effects=("respond",),
        ),
        Transition(
            name="start",
            sources=(CaseStatus.RECEIVED, CaseStatus.ACKNOWLEDGED),
            target=CaseStatus.IN_PROGRESS,
            effects=("respond",),
        ),
        Transition(
            name="wait_on_customer",
            sources=(CaseStatus.IN_PROGRESS,),
            target=CaseStatus.WAITING_ON_CUSTOMER,
            effects=("pause",),
        ),
        Transition(
            name="resume",
            sources=(CaseStatus.WAITING_ON_CUSTOMER,),
            target=CaseStatus.IN_PROGRESS,
            effects=("unpause",),
        ),
        Transition(
            name="resolve",
            sources=(CaseStatus.IN_PROGRESS, CaseStatus.WAITING_ON_CUSTOMER),
            target=CaseStatus.RESOLVED,
            effects=("unpause", "resolve"),
        ),
        Transition(
            name="reopen",
            sources=(CaseStatus.RESOLVED,),
            target=CaseStatus.IN_PROGRESS,
            regress=True,
            effects=("reopen",),
        ),
        Transition(
            name="close",
            sources=(CaseStatus.RESOLVED,),
            target=CaseStatus.CLOSED,
            effects=("close",),
        ),
        Transition(
            name="withdraw",
            sources=_OPEN,
            target=CaseStatus.CLOSED,
            requires_reason=True,
            effects=("unpause", "close"),
        ),
    ),
    effect_functions={
        "respond": _respond,
        "pause": _pause,
        "unpause": _unpause,
        "resolve": _resolve,
        "reopen": _reopen,
        "close": _close,
    },
)
"""The case workflow; ``reopen`` and ``withdraw`` need a reason."""

ESCALATION_WORKFLOW_NAME: Final = "case-escalation"
"""The ``workflow`` that :func:`escalate` events carry (levels as ``"0"``, ``"1"`` ...)."""

ESCALATION_LEVELS: Final[tuple[str, ...]] = (
    "frontline",  # 0 一线客服
    "team lead",  # 1 主管
    "manager",  # 2 经理
    "director",  # 3 总监
)
"""Default names of escalation levels 0..3; hosts may use up to level 10."""


def escalate(
    case: Case,
    *,
    at: pendulum.DateTime,
    reason: str,
    by: UserId | None = None,
    to_level: int | None = None,
) -> tuple[Case, StageChanged]:
    """Raise the escalation level of an open case (by one, or to ``to_level``).

    The event is a :class:`~crmcore.domain.events.StageChanged` of the
    ``case-escalation`` workflow, from the old level to the new one, so
    escalations show in the same history as status moves.

    Raises:
        TransitionNotAllowedError: If the case is closed, the level would not
            go up, or no reason is given.
        InvalidValueError: If the level is above 10 or ``at`` is before the last update.
    """
    target = case.escalation_level + 1 if to_level is None else to_level
    why = reason.strip()
    refusal = ""
    if not case.is_open:
        refusal = "the case is closed"
    elif target <= case.escalation_level:
        refusal = f"already at level {case.escalation_level}"
    elif not why:
        refusal = "a reason is required"
    if refusal:
        raise TransitionNotAllowedError(
            ESCALATION_WORKFLOW_NAME, "escalate", str(case.escalation_level), [], refusal
        )
    new = touch(case, at, escalation_level=target)
    return new, StageChanged(
        entity="case",
        entity_id=case.id,
        workflow=ESCALATION_WORKFLOW_NAME,
        transition="escalate",
        from_stage=str(case.escalation_level),
        to_stage=str(target),
        reason=why,
        at=utc(at),
        by=by,
    )


def close_with_feedback(
    case: Case,
    feedback: SurveyResponse,
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    min_csat: int = 4,
    min_nps: int = 7,
) -> tuple[Case, StageChanged]:
    """Close a resolved case on the customer's feedback, or reopen it if they are not satisfied.

    The customer is satisfied when every score they gave reaches its
    threshold (CSAT ≥ ``min_csat``, NPS ≥ ``min_nps``; CES is not judged).
    The scores are kept in the event's reason.

    Raises:
        InvalidValueError: If the feedback is about another case.
        TransitionNotAllowedError: If the case is not resolved.
    """
    if feedback.case_id != case.id:
        raise InvalidValueError(
            "feedback.case_id", feedback.case_id, f"the feedback is not about case {case.id!r}"
        )
    scores = ", ".join(
        f"{name} {value}"
        for name, value in (("CSAT", feedback.csat), ("NPS", feedback.nps), ("CES", feedback.ces))
        if value is not None
    )
    unhappy = (feedback.csat is not None and feedback.csat < min_csat) or (
        feedback.nps is not None and feedback.nps < min_nps
    )
    if unhappy:
        return fire(
            CASE_WORKFLOW,
            case,
            "reopen",
            at=at,
            by=by,
            reason=f"customer not satisfied ({scores})",
        )
    return fire(CASE_WORKFLOW, case, "close", at=at, by=by, reason=f"customer feedback ({scores})")
