"""The customer lifecycle (生命周期): manual moves and stages derived from behaviour.

potential (潜在) → new (获取/新客户) → growth (成长期) → mature (成熟期) →
decline (衰退期) → churned (流失), with ``recover`` (decline → growth) and
``win_back`` (挽回/重新激活, churned → new). Every move needs a reason, so
the history says who moved the customer, when and why.

:func:`derive_stage` reads purchases and activities and says which stage
the behaviour points to, using a :class:`StagePolicy` of recency and
frequency thresholds; :func:`apply_derived_stage` fires the moves that get
the customer there.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.activity import Activity
from crmcore.domain.customer import Customer, LifecycleStage
from crmcore.domain.events import StageChanged
from crmcore.domain.ids import UserId
from crmcore.domain.order import Order
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.engine import advance_to
from crmcore.lifecycle.workflow import Policy, State, Transition, Workflow

__all__ = [
    "CUSTOMER_WORKFLOW",
    "DerivedStage",
    "StagePolicy",
    "apply_derived_stage",
    "derive_stage",
]

L = LifecycleStage

CUSTOMER_WORKFLOW: Workflow[Customer, LifecycleStage] = Workflow(
    name="customer-lifecycle",
    entity="customer",
    attribute="lifecycle_stage",
    policy=Policy.FORWARD_ONLY,
    states=(
        State(name=L.POTENTIAL, label="潜在客户", initial=True),
        State(name=L.NEW, label="新客户"),
        State(name=L.GROWTH, label="成长期"),
        State(name=L.MATURE, label="成熟期"),
        State(name=L.DECLINE, label="衰退期"),
        State(name=L.CHURNED, label="流失"),
    ),
    transitions=(
        Transition(name="acquire", sources=(L.POTENTIAL,), target=L.NEW, requires_reason=True),
        Transition(name="grow", sources=(L.NEW,), target=L.GROWTH, requires_reason=True),
        Transition(name="mature", sources=(L.GROWTH,), target=L.MATURE, requires_reason=True),
        Transition(
            name="decline",
            sources=(L.NEW, L.GROWTH, L.MATURE),
            target=L.DECLINE,
            requires_reason=True,
        ),
        Transition(
            name="churn",
            sources=(L.NEW, L.GROWTH, L.MATURE, L.DECLINE),
            target=L.CHURNED,
            requires_reason=True,
        ),
        Transition(name="recover", sources=(L.DECLINE,), target=L.GROWTH, regress=True),
        Transition(name="win_back", sources=(L.CHURNED,), target=L.NEW, regress=True),
    ),
)
"""The customer lifecycle; every move needs a reason."""


def _positive(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(attribute.name, value, "a whole number of at least 1")


def _policy_order(instance: StagePolicy, _attribute: attrs.Attribute[int], _value: int) -> None:
    if instance.churn_after_days <= instance.decline_after_days:
        raise InvalidValueError(
            "churn_after_days", instance.churn_after_days, "must exceed decline_after_days"
        )
    if instance.mature_min_orders <= instance.growth_min_orders:
        raise InvalidValueError(
            "mature_min_orders", instance.mature_min_orders, "must exceed growth_min_orders"
        )


@attrs.frozen(kw_only=True)
class StagePolicy:
    """Recency and frequency thresholds that map behaviour to a lifecycle stage.

    Attributes:
        decline_after_days: No purchase for this many days: decline (衰退期).
        churn_after_days: No purchase *and* no activity for this many days: churned (流失).
        frequency_window_days: The window purchases are counted in.
        growth_min_orders: Purchases in the window that make a growth customer.
        mature_min_orders: Purchases in the window that make a mature customer...
        mature_min_tenure_days: ...who has also been buying for at least this long.
    """

    decline_after_days: int = attrs.field(default=180, validator=_positive)
    churn_after_days: int = attrs.field(default=365, validator=_positive)
    frequency_window_days: int = attrs.field(default=365, validator=_positive)
    growth_min_orders: int = attrs.field(default=2, validator=_positive)
    mature_min_orders: int = attrs.field(default=5, validator=_positive)
    mature_min_tenure_days: int = attrs.field(default=365, validator=[_positive, _policy_order])


@attrs.frozen(kw_only=True)
class DerivedStage:
    """The stage behaviour points to, and why."""

    stage: LifecycleStage
    reason: str


def derive_stage(
    customer: Customer,
    orders: Iterable[Order],
    activities: Iterable[Activity],
    *,
    at: pendulum.DateTime,
    policy: StagePolicy | None = None,
) -> DerivedStage:
    """Return the lifecycle stage the customer's behaviour points to at ``at``.

    Only paid orders and activities of this customer up to ``at`` count.
    Recency decides first (no purchase for ``churn_after_days`` and no
    activity either: churned; no purchase for ``decline_after_days``:
    decline), then purchase frequency in the window (new, growth, mature).
    The current stage is respected where behaviour alone would move the
    customer backwards: a growth customer with one recent purchase stays in
    growth, a mature customer whose purchases thin out declines, a customer
    with no purchases keeps the stage they have.

    >>> from crmcore.domain import CustomerId, Money, Person, PersonName, record_order
    >>> from crmcore.domain import OrderId, register_customer
    >>> at = pendulum.datetime(2026, 6, 1)
    >>> c, _ = register_customer(id=CustomerId("c1"), person=Person(name=PersonName.parse("王芳")),
    ...                          at=at.subtract(years=2))
    >>> orders = [record_order(id=OrderId(f"o{i}"), customer_id=c.id, amount=Money(100, "CNY"),
    ...                        ordered_at=at.subtract(days=30 * i), at=at)[0] for i in range(1, 4)]
    >>> derived = derive_stage(c, orders, [], at=at)
    >>> derived.stage.value, derived.reason
    ('growth', '3 purchases in 365 days, last 30 days ago')
    """
    rules = policy if policy is not None else StagePolicy()
    when = utc(at)
    paid = sorted(
        o.ordered_at
        for o in orders
        if o.customer_id == customer.id and o.counts and o.ordered_at <= when
    )
    current = customer.lifecycle_stage
    if not paid:
        return DerivedStage(stage=current, reason="no purchases recorded; stage kept")
    touches = [
        a.occurred_at for a in activities if a.customer_id == customer.id and a.occurred_at <= when
    ]
    last = paid[-1]
    idle = (when - last).days
    last_touch = max([last, *touches])
    if idle >= rules.churn_after_days and (when - last_touch).days >= rules.churn_after_days:
        return DerivedStage(
            stage=L.CHURNED,
            reason=f"no purchase for {idle} days and no activity for "
            f"{(when - last_touch).days} days",
        )
    if idle >= rules.decline_after_days:
        return DerivedStage(stage=L.DECLINE, reason=f"no purchase for {idle} days")
    window_start = when.subtract(days=rules.frequency_window_days)
    count = sum(1 for t in paid if t > window_start)
    tenure = (when - paid[0]).days
    summary = f"{count} purchases in {rules.frequency_window_days} days, last {idle} days ago"
    if count >= rules.mature_min_orders and tenure >= rules.mature_min_tenure_days:
        level = L.MATURE
    elif count >= rules.growth_min_orders:
        level = L.GROWTH
    else:
        level = L.NEW
    return DerivedStage(stage=_respect_current(current, level), reason=summary)


def _respect_current(current: LifecycleStage, level: LifecycleStage) -> LifecycleStage:
    if current is L.GROWTH and level is L.NEW:
        return L.GROWTH
    if current is L.MATURE:
        return {L.NEW: L.DECLINE, L.GROWTH: L.MATURE}.get(level, level)
    if current is L.DECLINE and level is L.NEW:
        return L.DECLINE
    return level


def apply_derived_stage(
    customer: Customer,
    orders: Iterable[Order],
    activities: Iterable[Activity],
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    policy: StagePolicy | None = None,
) -> tuple[Customer, tuple[StageChanged, ...]]:
    """Move the customer to the stage :func:`derive_stage` gives, one event per move.

    Each move carries the derivation as its reason (``"derived: ..."``); no
    event is returned when the customer is already there.

    Raises:
        InvalidValueError: If ``at`` is before the customer's last update.
    """
    derived = derive_stage(customer, orders, activities, at=at, policy=policy)
    return advance_to(
        CUSTOMER_WORKFLOW,
        customer,
        derived.stage,
        at=at,
        by=by,
        reason=f"derived: {derived.reason}",
    )
