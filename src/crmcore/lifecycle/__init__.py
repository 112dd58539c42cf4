"""Lifecycles: the workflow engine, the default workflows, business calendars, SLAs and time rules.

- :mod:`~crmcore.lifecycle.workflow` — workflows as data (states, transitions,
  named guards and effects, a policy), validated when built;
- :mod:`~crmcore.lifecycle.engine` — :func:`fire`, :func:`allowed`, :func:`advance_to`;
- :mod:`~crmcore.lifecycle.history` — history, replay and time in stage from events;
- :mod:`~crmcore.lifecycle.diagram` — Mermaid diagrams;
- the default workflows: :data:`CUSTOMER_WORKFLOW` (with :func:`derive_stage`),
  :data:`LEAD_WORKFLOW`, :data:`OPPORTUNITY_WORKFLOW`, :data:`CASE_WORKFLOW`;
- :mod:`~crmcore.lifecycle.conversion` — the pure part of lead conversion;
- :mod:`~crmcore.lifecycle.business_calendar` and :mod:`~crmcore.lifecycle.sla` —
  business calendars (mainland China 2026, provisional 2027) and SLA deadlines;
- :mod:`~crmcore.lifecycle.rules` — :func:`due_actions`.

JSON forms live in :mod:`crmcore.serialization` (``structure(data, Workflow)``).

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from crmcore.lifecycle.business_calendar import (
    BusinessCalendar,
    CalendarDay,
    WorkingHours,
    always_open,
    available_calendars,
    china_mainland,
    load_calendar,
    weekday_calendar,
)
from crmcore.lifecycle.case import (
    CASE_WORKFLOW,
    ESCALATION_LEVELS,
    ESCALATION_WORKFLOW_NAME,
    close_with_feedback,
    escalate,
)
from crmcore.lifecycle.conversion import ConversionPlan, match_existing_customer, plan_conversion
from crmcore.lifecycle.customer import (
    CUSTOMER_WORKFLOW,
    DerivedStage,
    StagePolicy,
    apply_derived_stage,
    derive_stage,
)
from crmcore.lifecycle.diagram import to_mermaid
from crmcore.lifecycle.engine import advance_to, allowed, can_fire, current_stage, fire, route
from crmcore.lifecycle.history import StageHistory, StagePeriod, history, replay, time_in_stage
from crmcore.lifecycle.lead import LEAD_WORKFLOW
from crmcore.lifecycle.opportunity import (
    OPPORTUNITY_WORKFLOW,
    forecast_category,
    weighted_amount,
    win_probability,
)
from crmcore.lifecycle.rules import (
    DEFAULT_RULES,
    ActionKind,
    CustomTimeRule,
    DueAction,
    FollowUpOverdue,
    LeadIdle,
    RuleSnapshot,
    SlaEscalation,
    SurveyAfterClose,
    TimeRule,
    due_actions,
)
from crmcore.lifecycle.sla import (
    DEFAULT_SLA_POLICY,
    CaseSla,
    Deadlines,
    SlaPolicy,
    SlaState,
    SlaTarget,
    TargetStatus,
    deadline,
    status,
)
from crmcore.lifecycle.workflow import (
    Effect,
    Firing,
    ForecastCategory,
    Guard,
    Policy,
    State,
    Transition,
    Workflow,
)

__all__ = [
    "CASE_WORKFLOW",
    "CUSTOMER_WORKFLOW",
    "DEFAULT_RULES",
    "DEFAULT_SLA_POLICY",
    "ESCALATION_LEVELS",
    "ESCALATION_WORKFLOW_NAME",
    "LEAD_WORKFLOW",
    "OPPORTUNITY_WORKFLOW",
    "ActionKind",
    "BusinessCalendar",
    "CalendarDay",
    "CaseSla",
    "ConversionPlan",
    "CustomTimeRule",
    "Deadlines",
    "DerivedStage",
    "DueAction",
    "Effect",
    "Firing",
    "FollowUpOverdue",
    "ForecastCategory",
    "Guard",
    "LeadIdle",
    "Policy",
    "RuleSnapshot",
    "SlaEscalation",
    "SlaPolicy",
    "SlaState",
    "SlaTarget",
    "StageHistory",
    "StagePeriod",
    "StagePolicy",
    "State",
    "SurveyAfterClose",
    "TargetStatus",
    "TimeRule",
    "Transition",
    "Workflow",
    "WorkingHours",
    "advance_to",
    "allowed",
    "always_open",
    "apply_derived_stage",
    "available_calendars",
    "can_fire",
    "china_mainland",
    "close_with_feedback",
    "current_stage",
    "deadline",
    "derive_stage",
    "due_actions",
    "escalate",
    "fire",
    "forecast_category",
    "history",
    "load_calendar",
    "match_existing_customer",
    "plan_conversion",
    "replay",
    "route",
    "status",
    "time_in_stage",
    "to_mermaid",
    "weekday_calendar",
    "weighted_amount",
    "win_probability",
]
