"""The default lead workflow (线索): new → contacted → qualified → converted | disqualified.

A lead that went nowhere is recycled back to ``new`` (with a reason) for
another salesperson; ``converted`` is final. Conversion itself (creating
the customer, contact and opportunity) is :func:`crmcore.lifecycle.conversion.plan_conversion`.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmcore.domain.lead import Lead, LeadStatus
from crmcore.lifecycle.workflow import Firing, Policy, State, Transition, Workflow

__all__ = ["LEAD_WORKFLOW"]


def _reachable(lead: Lead) -> bool:
    """A lead can be qualified only if there is a way to reach it (email or phone)."""
    return bool(lead.points.emails or lead.points.phones)


def _record_disqualified_reason(_lead: Lead, firing: Firing[Any]) -> Mapping[str, Any]:
    return {"disqualified_reason": firing.reason}


def _clear_disqualified_reason(_lead: Lead, _firing: Firing[Any]) -> Mapping[str, Any]:
    return {"disqualified_reason": ""}


LEAD_WORKFLOW: Workflow[Lead, LeadStatus] = Workflow(
    name="lead",
    entity="lead",
    attribute="status",
    policy=Policy.FORWARD_ONLY,
    states=(
        State(name=LeadStatus.NEW, label="新线索", initial=True),
        State(name=LeadStatus.CONTACTED, label="已联系"),
        State(name=LeadStatus.QUALIFIED, label="已确认"),
        State(name=LeadStatus.CONVERTED, label="已转化", final=True),
        State(name=LeadStatus.DISQUALIFIED, label="无效"),
    ),
    transitions=(
        Transition(name="contact", sources=(LeadStatus.NEW,), target=LeadStatus.CONTACTED),
        Transition(
            name="qualify",
            sources=(LeadStatus.NEW, LeadStatus.CONTACTED),
            target=LeadStatus.QUALIFIED,
            guards=("reachable",),
        ),
        Transition(name="convert", sources=(LeadStatus.QUALIFIED,), target=LeadStatus.CONVERTED),
        Transition(
            name="disqualify",
            sources=(LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED),
            target=LeadStatus.DISQUALIFIED,
            requires_reason=True,
            effects=("record_disqualified_reason",),
        ),
        Transition(
            name="recycle",
            sources=(LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED),
            target=LeadStatus.NEW,
            regress=True,
            effects=("clear_disqualified_reason",),
        ),
    ),
    guard_functions={"reachable": _reachable},
    effect_functions={
        "record_disqualified_reason": _record_disqualified_reason,
        "clear_disqualified_reason": _clear_disqualified_reason,
    },
)
"""Lead workflow; ``qualify`` needs an email or phone, ``disqualify`` and ``recycle`` a reason."""
