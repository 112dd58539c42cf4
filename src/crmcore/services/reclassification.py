"""Re-derive customers' lifecycle stages and value tiers through the storage ports (重新分级).

:func:`reclassify_customers` runs in one unit of work: it loads the customers
and their orders, activities and survey answers, moves each customer to the
lifecycle stage :func:`crmcore.lifecycle.apply_derived_stage` derives, sets
the value tier a :class:`crmcore.segments.TierPolicy` decides
(:func:`crmcore.domain.classify`), saves the customers that changed and
collects one event per change. A second run at the same time changes
nothing: a customer already in its stage and tier is neither saved nor
reported.

May import: ``crmcore.domain``, ``crmcore.lifecycle``, ``crmcore.segments``,
``crmcore.ports``, ``crmcore.errors``, ``crmcore.clock``; attrs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from crmcore.domain import Customer, CustomerClassified, CustomerId, StageChanged, UserId, classify
from crmcore.lifecycle import StagePolicy, apply_derived_stage
from crmcore.segments import SegmentContext, TierPolicy

if TYPE_CHECKING:
    from crmcore.clock import Clock
    from crmcore.domain import DomainEvent
    from crmcore.ports import UnitOfWork

__all__ = ["Reclassification", "ReclassificationReport", "reclassify_customers"]


@attrs.frozen(kw_only=True)
class Reclassification:
    """What one run did to one customer.

    Attributes:
        customer: The customer after the run, with its stored version.
        moves: The lifecycle stage moves, in order (none when the stage held).
        classified: The tier change, or ``None`` when the tier held (or no
            tier policy was given).
    """

    customer: Customer
    moves: tuple[StageChanged, ...] = ()
    classified: CustomerClassified | None = None

    @property
    def changed(self) -> bool:
        """Whether the customer was saved: its stage or its tier changed."""
        return bool(self.moves) or self.classified is not None

    @property
    def events(self) -> tuple[DomainEvent, ...]:
        """The events collected for this customer: the stage moves, then the tier change."""
        return (*self.moves, *(() if self.classified is None else (self.classified,)))


@attrs.frozen(kw_only=True)
class ReclassificationReport:
    """The outcome of :func:`reclassify_customers`: one entry per customer, in load order.

    >>> ReclassificationReport().stage_moves
    0
    """

    results: tuple[Reclassification, ...] = ()

    @property
    def customers(self) -> tuple[Customer, ...]:
        """Every customer considered, as stored after the run."""
        return tuple(r.customer for r in self.results)

    @property
    def changed(self) -> tuple[Customer, ...]:
        """The customers saved by the run."""
        return tuple(r.customer for r in self.results if r.changed)

    @property
    def events(self) -> tuple[DomainEvent, ...]:
        """Every event collected, customer by customer."""
        return tuple(e for r in self.results for e in r.events)

    @property
    def stage_moves(self) -> int:
        """How many lifecycle stage moves were saved."""
        return sum(len(r.moves) for r in self.results)

    @property
    def tier_changes(self) -> int:
        """How many customers got a new value tier."""
        return sum(r.classified is not None for r in self.results)


def _load(uow: UnitOfWork, ids: Iterable[CustomerId] | None) -> list[Customer]:
    if ids is None:
        return [c for c in uow.customers.iter_all() if c.is_active]
    return [c for c in (uow.customers.get(i) for i in dict.fromkeys(ids)) if c.is_active]


def _context(uow: UnitOfWork) -> SegmentContext:
    return SegmentContext.of(
        orders=uow.orders.iter_all(),
        activities=uow.activities.iter_all(),
        surveys=uow.survey_responses.iter_all(),
    )


def reclassify_customers(
    uow: UnitOfWork,
    *,
    clock: Clock,
    by: UserId | None = None,
    tiers: TierPolicy | None = None,
    tz: str = "UTC",
    stages: StagePolicy | None = None,
    ids: Iterable[CustomerId] | None = None,
    context: SegmentContext | None = None,
) -> ReclassificationReport:
    """Derive every active customer's lifecycle stage and value tier, and save the changes.

    For each customer, in order: :func:`~crmcore.lifecycle.apply_derived_stage`
    from its orders and activities, then, with ``tiers``, the policy's
    decision applied with :func:`~crmcore.domain.classify` (``automatic``,
    the rule's reason kept) when the tier differs. Customers that changed
    are saved together and their events collected, all in one unit of work;
    if anything fails, nothing is saved.

    Example:
        >>> import pendulum
        >>> from crmcore.adapters.memory import MemoryStore
        >>> from crmcore.clock import FixedClock
        >>> from crmcore.domain import CustomerId, Person, PersonName, register_customer
        >>> store = MemoryStore()
        >>> ada, _ = register_customer(id=CustomerId("c-1"),
        ...     person=Person(name=PersonName.parse("张伟")), at=pendulum.datetime(2026, 1, 1))
        >>> with store.unit_of_work() as uow:
        ...     _ = uow.customers.save(ada)
        ...     uow.commit()
        >>> clock = FixedClock(pendulum.datetime(2026, 3, 1))
        >>> report = reclassify_customers(store.unit_of_work(), clock=clock)
        >>> [c.lifecycle_stage.value for c in report.customers], report.stage_moves
        (['potential'], 0)

    Args:
        uow: The unit of work to load and save through (committed here).
        clock: Where "now" comes from: stages and tiers are derived as of it.
        by: Who reclassifies (recorded on the events).
        tiers: The value tier policy; ``None`` leaves tiers alone. A rule
            without a reason is recorded as ``"tier policy: <tier>"``.
        tz: The time zone the tier rules' calendar words (days, months) use.
        stages: The stage derivation thresholds (the defaults when ``None``).
        ids: The customers to reclassify, in this order; ``None`` means every
            customer in the store (by id). Merged customers are left alone.
        context: The customers' orders, activities and survey answers, when
            the host has them in memory; loaded from the store when ``None``.

    Returns:
        One entry per active customer, in order, with the stored snapshots.

    Raises:
        NotFoundError: If a customer of ``ids`` does not exist.
        InvalidValueError: If ``clock`` says a time before a customer's last update.
        StaleVersionError: If a customer changed concurrently; nothing was saved.
    """
    at = clock.now()
    with uow:
        customers = _load(uow, ids)
        related = _context(uow) if context is None else context
        decide = None if tiers is None else tiers.compile(at=at, tz=tz).decide
        results: list[Reclassification] = []
        for customer in customers:
            new, moves = apply_derived_stage(
                customer,
                related.orders_of(customer.id),
                related.activities_of(customer.id),
                at=at,
                by=by,
                policy=stages,
            )
            classified = None
            if decide is not None:
                decision = decide(new, related)
                if decision.tier is not new.tier:
                    reason = decision.reason or f"tier policy: {decision.tier.value}"
                    new, classified = classify(
                        new, tier=decision.tier, reason=reason, at=at, by=by, automatic=True
                    )
            results.append(Reclassification(customer=new, moves=moves, classified=classified))
        saved = iter(uow.customers.save_many([r.customer for r in results if r.changed]))
        results = [attrs.evolve(r, customer=next(saved)) if r.changed else r for r in results]
        for result in results:
            uow.collect(*result.events)
        uow.commit()
    return ReclassificationReport(results=tuple(results))
