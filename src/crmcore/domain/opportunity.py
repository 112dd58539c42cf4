"""Opportunities (商机): a potential deal with a customer, its amount, stage and expected close.

The seven-stage sales workflow, with win probabilities and forecast
categories, is defined in :mod:`crmcore.lifecycle`; this module holds the
snapshot and how an opportunity is opened.

May import: ``crmcore.errors``, ``crmcore.clock``, ``crmcore.domain``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL, PUBLIC
from crmcore.domain.entity import not_before, require_id, require_text, require_version
from crmcore.domain.events import OpportunityOpened
from crmcore.domain.ids import CustomerId, LeadId, OpportunityId, TeamId, UserId
from crmcore.domain.values import Money
from crmcore.errors import InvalidValueError

__all__ = ["Opportunity", "OpportunityStage", "open_opportunity"]


class OpportunityStage(enum.StrEnum):
    """Sales stages (销售阶段)."""

    LEAD = "lead"  # 线索
    FIRST_CONTACT = "first_contact"  # 初步沟通
    NEEDS_ANALYSIS = "needs_analysis"  # 需求分析
    PROPOSAL = "proposal"  # 方案提交
    NEGOTIATION = "negotiation"  # 谈判
    WON = "won"  # 成交
    LOST = "lost"  # 输单
    AFTER_SALES = "after_sales"  # 售后维护


def _title(value: str) -> str:
    text = require_text("title", value, max_length=300)
    if not text:
        raise InvalidValueError("title", value, "required")
    return text


def _non_negative(_instance: Opportunity, _: attrs.Attribute[Money], value: Money) -> None:
    if value.amount < 0:
        raise InvalidValueError("amount", str(value), "must not be negative")


def _optional_date(value: dt.date | str | None) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise InvalidValueError("expected_close", value, "expected a date YYYY-MM-DD") from exc
    raise InvalidValueError("expected_close", value, "expected a date")


@attrs.frozen(kw_only=True)
class Opportunity:
    """A deal in progress: customer, amount (Money, never float), stage, expected close."""

    id: OpportunityId = attrs.field(converter=require_id, metadata=INTERNAL)
    version: int = attrs.field(default=0, converter=require_version, metadata=INTERNAL)
    customer_id: CustomerId = attrs.field(converter=require_id, metadata=INTERNAL)
    title: str = attrs.field(converter=_title, metadata=PUBLIC)
    amount: Money = attrs.field(validator=_non_negative, metadata=INTERNAL)
    stage: OpportunityStage = attrs.field(default=OpportunityStage.LEAD, metadata=INTERNAL)
    expected_close: dt.date | None = attrs.field(
        default=None, converter=_optional_date, metadata=INTERNAL
    )
    owner: UserId | None = attrs.field(default=None, metadata=INTERNAL)
    team: TeamId | None = attrs.field(default=None, metadata=INTERNAL)
    lead_id: LeadId | None = attrs.field(default=None, metadata=INTERNAL)
    lost_reason: str = attrs.field(default="", metadata=INTERNAL)
    closed_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=attrs.converters.optional(utc), metadata=INTERNAL
    )
    created_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    updated_at: pendulum.DateTime = attrs.field(
        converter=utc, validator=not_before("created_at"), metadata=INTERNAL
    )

    @property
    def is_open(self) -> bool:
        """Whether the deal is neither won, lost nor in after-sales."""
        return self.stage not in (
            OpportunityStage.WON,
            OpportunityStage.LOST,
            OpportunityStage.AFTER_SALES,
        )


def open_opportunity(
    *,
    id: OpportunityId,
    customer_id: CustomerId,
    title: str,
    amount: Money,
    at: pendulum.DateTime,
    by: UserId | None = None,
    stage: OpportunityStage = OpportunityStage.LEAD,
    expected_close: dt.date | None = None,
    owner: UserId | None = None,
    team: TeamId | None = None,
    lead_id: LeadId | None = None,
) -> tuple[Opportunity, OpportunityOpened]:
    """Open an opportunity for a customer.

    Raises:
        InvalidValueError: If the title is empty or the amount negative.
    """
    when = utc(at)
    opp = Opportunity(
        id=id,
        customer_id=customer_id,
        title=title,
        amount=amount,
        stage=stage,
        expected_close=expected_close,
        owner=owner,
        team=team,
        lead_id=lead_id,
        created_at=when,
        updated_at=when,
    )
    return opp, OpportunityOpened(
        opportunity_id=opp.id, customer_id=customer_id, amount=amount, at=when, by=by
    )
