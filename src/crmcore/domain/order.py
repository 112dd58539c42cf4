"""Orders (购买记录): what a customer bought, for how much and when.

Orders are what recency / frequency / monetary (RFM), repeat-purchase
rate and CLV are computed from.

May import: ``crmcore.errors``, ``crmcore.clock``, ``crmcore.domain``; attrs, pendulum.
"""

from __future__ import annotations

import enum

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL
from crmcore.domain.entity import not_before, require_id, require_version
from crmcore.domain.events import OrderRecorded
from crmcore.domain.ids import CustomerId, OpportunityId, OrderId, UserId
from crmcore.domain.values import Money
from crmcore.errors import InvalidValueError

__all__ = ["Order", "OrderStatus", "record_order"]


class OrderStatus(enum.StrEnum):
    """Whether an order counts as a purchase."""

    PAID = "paid"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


def _non_negative(_instance: Order, _: attrs.Attribute[Money], value: Money) -> None:
    if value.amount < 0:
        raise InvalidValueError("amount", str(value), "must not be negative")


@attrs.frozen(kw_only=True)
class Order:
    """A purchase record."""

    id: OrderId = attrs.field(converter=require_id, metadata=INTERNAL)
    version: int = attrs.field(default=0, converter=require_version, metadata=INTERNAL)
    customer_id: CustomerId = attrs.field(converter=require_id, metadata=INTERNAL)
    amount: Money = attrs.field(validator=_non_negative, metadata=INTERNAL)
    status: OrderStatus = attrs.field(
        default=OrderStatus.PAID, converter=OrderStatus, metadata=INTERNAL
    )
    ordered_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    opportunity_id: OpportunityId | None = attrs.field(default=None, metadata=INTERNAL)
    external_id: str = attrs.field(default="", metadata=INTERNAL)
    created_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    updated_at: pendulum.DateTime = attrs.field(
        converter=utc, validator=not_before("created_at"), metadata=INTERNAL
    )

    @property
    def counts(self) -> bool:
        """Whether the order counts as a purchase (paid, not refunded or cancelled)."""
        return self.status is OrderStatus.PAID


def record_order(
    *,
    id: OrderId,
    customer_id: CustomerId,
    amount: Money,
    ordered_at: pendulum.DateTime,
    at: pendulum.DateTime,
    by: UserId | None = None,
    status: OrderStatus = OrderStatus.PAID,
    opportunity_id: OpportunityId | None = None,
    external_id: str = "",
) -> tuple[Order, OrderRecorded]:
    """Record a purchase that happened at ``ordered_at`` (recorded at ``at``).

    Raises:
        InvalidValueError: If the amount is negative.
    """
    when = utc(at)
    order = Order(
        id=id,
        customer_id=customer_id,
        amount=amount,
        status=status,
        ordered_at=ordered_at,
        opportunity_id=opportunity_id,
        external_id=external_id,
        created_at=when,
        updated_at=when,
    )
    return order, OrderRecorded(
        order_id=order.id, customer_id=customer_id, amount=amount, at=when, by=by
    )
