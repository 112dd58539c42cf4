"""The default sales workflow (销售流程) for opportunities, with win probabilities and forecasts.

Seven sales stages — lead (线索), first contact (初步沟通), needs analysis
(需求分析), proposal (方案提交), negotiation (谈判), won (成交), lost (输单) —
then after-sales (售后维护). Each stage carries a default win probability
and forecast category (:func:`win_probability`, :func:`forecast_category`,
:func:`weighted_amount`). The workflow is forward-only: moving back is an
explicit, reasoned ``revisit_needs`` / ``revise_proposal`` / ``reopen``.
``lose`` needs the lost reason; ``win`` and ``lose`` stamp ``closed_at``;
``reopen`` clears both.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from crmcore.domain.opportunity import Opportunity, OpportunityStage
from crmcore.domain.values import Money
from crmcore.lifecycle.workflow import (
    Firing,
    ForecastCategory,
    Policy,
    State,
    Transition,
    Workflow,
)

__all__ = [
    "OPPORTUNITY_WORKFLOW",
    "forecast_category",
    "weighted_amount",
    "win_probability",
]

_OPEN = (
    OpportunityStage.LEAD,
    OpportunityStage.FIRST_CONTACT,
    OpportunityStage.NEEDS_ANALYSIS,
    OpportunityStage.PROPOSAL,
    OpportunityStage.NEGOTIATION,
)


def _has_amount(opp: Opportunity) -> bool:
    """A proposal names a price: the amount must be above zero."""
    return opp.amount.amount > 0


def _close(_opp: Opportunity, firing: Firing[Any]) -> Mapping[str, Any]:
    return {"closed_at": firing.at}


def _record_lost_reason(_opp: Opportunity, firing: Firing[Any]) -> Mapping[str, Any]:
    return {"lost_reason": firing.reason}


def _reopen(_opp: Opportunity, _firing: Firing[Any]) -> Mapping[str, Any]:
    return {"closed_at": None, "lost_reason": ""}


P = ForecastCategory

OPPORTUNITY_WORKFLOW: Workflow[Opportunity, OpportunityStage] = Workflow(
    name="opportunity",
    entity="opportunity",
    attribute="stage",
    policy=Policy.FORWARD_ONLY,
    states=(
        State(
            name=OpportunityStage.LEAD,
            label="线索",
            initial=True,
            probability=Decimal("0.10"),
            forecast=P.PIPELINE,
        ),
        State(
            name=OpportunityStage.FIRST_CONTACT,
            label="初步沟通",
            probability=Decimal("0.20"),
            forecast=P.PIPELINE,
        ),
        State(
            name=OpportunityStage.NEEDS_ANALYSIS,
            label="需求分析",
            probability=Decimal("0.40"),
            forecast=P.PIPELINE,
        ),
        State(
            name=OpportunityStage.PROPOSAL,
            label="方案提交",
            probability=Decimal("0.60"),
            forecast=P.BEST_CASE,
        ),
        State(
            name=OpportunityStage.NEGOTIATION,
            label="谈判",
            probability=Decimal("0.80"),
            forecast=P.COMMIT,
        ),
        State(name=OpportunityStage.WON, label="成交", probability=Decimal(1), forecast=P.CLOSED),
        State(name=OpportunityStage.LOST, label="输单", probability=Decimal(0), forecast=P.OMITTED),
        State(
            name=OpportunityStage.AFTER_SALES,
            label="售后维护",
            final=True,
            probability=Decimal(1),
            forecast=P.CLOSED,
        ),
    ),
    transitions=(
        Transition(
            name="contact", sources=(OpportunityStage.LEAD,), target=OpportunityStage.FIRST_CONTACT
        ),
        Transition(
            name="analyse_needs",
            sources=(OpportunityStage.FIRST_CONTACT,),
            target=OpportunityStage.NEEDS_ANALYSIS,
        ),
        Transition(
            name="propose",
            sources=(OpportunityStage.NEEDS_ANALYSIS,),
            target=OpportunityStage.PROPOSAL,
            guards=("has_amount",),
        ),
        Transition(
            name="negotiate",
            sources=(OpportunityStage.PROPOSAL,),
            target=OpportunityStage.NEGOTIATION,
        ),
        Transition(
            name="win",
            sources=(OpportunityStage.PROPOSAL, OpportunityStage.NEGOTIATION),
            target=OpportunityStage.WON,
            guards=("has_amount",),
            effects=("close",),
        ),
        Transition(
            name="lose",
            sources=_OPEN,
            target=OpportunityStage.LOST,
            requires_reason=True,
            effects=("close", "record_lost_reason"),
        ),
        Transition(
            name="hand_over",
            sources=(OpportunityStage.WON,),
            target=OpportunityStage.AFTER_SALES,
        ),
        Transition(
            name="revisit_needs",
            sources=(OpportunityStage.PROPOSAL, OpportunityStage.NEGOTIATION),
            target=OpportunityStage.NEEDS_ANALYSIS,
            regress=True,
        ),
        Transition(
            name="revise_proposal",
            sources=(OpportunityStage.NEGOTIATION,),
            target=OpportunityStage.PROPOSAL,
            regress=True,
        ),
        Transition(
            name="reopen",
            sources=(OpportunityStage.WON, OpportunityStage.LOST),
            target=OpportunityStage.NEGOTIATION,
            regress=True,
            effects=("reopen",),
        ),
    ),
    guard_functions={"has_amount": _has_amount},
    effect_functions={
        "close": _close,
        "record_lost_reason": _record_lost_reason,
        "reopen": _reopen,
    },
)
"""The sales workflow; ``propose`` and ``win`` need an amount above zero, ``lose`` a reason."""


def win_probability(
    opp: Opportunity, workflow: Workflow[Opportunity, OpportunityStage] = OPPORTUNITY_WORKFLOW
) -> Decimal:
    """Return the default win probability (0..1) of the opportunity's stage.

    >>> OPPORTUNITY_WORKFLOW.state(OpportunityStage.PROPOSAL).probability
    Decimal('0.60')
    """
    probability = workflow.state(opp.stage).probability
    return probability if probability is not None else Decimal(0)


def forecast_category(
    opp: Opportunity, workflow: Workflow[Opportunity, OpportunityStage] = OPPORTUNITY_WORKFLOW
) -> ForecastCategory:
    """Return the forecast category of the opportunity's stage (pipeline when unset)."""
    category = workflow.state(opp.stage).forecast
    return category if category is not None else ForecastCategory.PIPELINE


def weighted_amount(
    opp: Opportunity, workflow: Workflow[Opportunity, OpportunityStage] = OPPORTUNITY_WORKFLOW
) -> Money:
    """Return amount × win probability, rounded to the currency's minor unit (half-even)."""
    return opp.amount.times(win_probability(opp, workflow))
