"""Register customers with a duplicate check (查重), like Salesforce's duplicate rules.

Each new customer is compared with the customers already known to a
:class:`~crmcore.matching.MatchIndex` and with the customers before it in the
same batch; a :class:`~crmcore.matching.DuplicatePolicy` decides whether a
likely duplicate is allowed, allowed with an alert, or blocked. Allowed
customers are saved in one unit of work and added to the index after the
commit, so the index never holds a customer the store does not.

With the store's own index (:class:`~crmcore.ports.StoredMatchIndex`,
``uow.match_index`` of the SQL store) the check runs inside the unit of
work, which locks the blocks the new customers fall in, and the save itself
writes the index: processes registering near-duplicates at the same time
each see the other's.

May import: ``crmcore.domain``, ``crmcore.matching``, ``crmcore.ports``,
``crmcore.privacy``, ``crmcore.services``, ``crmcore.errors``; attrs.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from crmcore.domain import Customer, CustomerRegistered, UserId
from crmcore.errors import DuplicateError
from crmcore.matching import (
    DuplicateAction,
    DuplicateCheck,
    DuplicatePolicy,
    MatchIndex,
    MatchRecord,
    check_batch,
)
from crmcore.ports import StoredMatchIndex, UnitOfWork
from crmcore.privacy.audit import AuditAction
from crmcore.services import auditing

__all__ = ["Registration", "register_customers"]


def _registered(customer: Customer) -> dict[str, object]:
    """The personal data an audit entry of a registration keeps (erasable)."""
    return {
        "display_name": customer.display_name,
        "kind": customer.kind.value,
        "owner": customer.owner,
        "emails": [e.address.address for e in customer.points.emails],
        "phones": [p.number.e164 for p in customer.points.phones],
    }


@attrs.frozen
class Registration:
    """The outcome for one customer: stored (with its version) or blocked, and why.

    Attributes:
        customer: The stored snapshot, or the rejected draft when blocked.
        check: The duplicate verdict, with the likely duplicates and their explanations.
        stored: Whether the customer was saved.
    """

    customer: Customer
    check: DuplicateCheck
    stored: bool

    @property
    def alerted(self) -> bool:
        """Whether it was saved but flagged as a likely duplicate."""
        return self.check.action is DuplicateAction.ALERT


def register_customers(
    uow: UnitOfWork,
    customers: Sequence[Customer],
    *,
    index: MatchIndex | StoredMatchIndex,
    policy: DuplicatePolicy,
    by: UserId | None = None,
    raise_on_block: bool = False,
    audit: bool = False,
) -> tuple[Registration, ...]:
    """Save new customers unless the duplicate policy blocks them.

    Args:
        uow: The unit of work to save through (committed here).
        customers: New customer snapshots (version 0), e.g. from
            :func:`~crmcore.domain.register_customer`.
        index: The online index of existing customers; allowed customers are
            added to it after the commit. Or the store's own index
            (``uow.match_index``), checked inside the unit of work and kept
            by the store.
        policy: When a likely duplicate alerts and when it blocks.
        by: Who registers them (recorded on the events).
        raise_on_block: Raise instead of returning blocked registrations.
        audit: Append a ``create`` audit entry per stored customer (its name,
            emails, phones and owner as the erasable payload), in the same
            unit of work.

    Returns:
        One registration per customer, in order.

    Raises:
        DuplicateError: If ``raise_on_block`` and any customer is blocked
            (nothing is saved then).
        StaleVersionError: If a customer with the same id exists.
    """
    records = [MatchRecord.from_customer(c) for c in customers]
    if isinstance(index, MatchIndex):
        checks = check_batch(records, index, policy)
        _refuse_blocked(customers, checks, raise_on_block=raise_on_block)
    results: list[Registration] = []
    with uow:
        if not isinstance(index, MatchIndex):
            checks = index.check_batch(records, policy)
            _refuse_blocked(customers, checks, raise_on_block=raise_on_block)
        allowed = [
            c
            for c, check in zip(customers, checks, strict=True)
            if check.action is not DuplicateAction.BLOCK
        ]
        stored = iter(uow.customers.save_many(allowed))
        for customer, check in zip(customers, checks, strict=True):
            if check.action is DuplicateAction.BLOCK:
                results.append(Registration(customer, check, stored=False))
                continue
            saved = next(stored)
            results.append(Registration(saved, check, stored=True))
            if audit:
                auditing.record(
                    uow,
                    actor=by,
                    action=AuditAction.CREATE,
                    record=saved,
                    at=saved.created_at,
                    payload=_registered(saved),
                )
            uow.collect(
                CustomerRegistered(
                    customer_id=saved.id,
                    kind=saved.kind.value,
                    display_name=saved.display_name,
                    owner=saved.owner,
                    at=saved.created_at,
                    by=by,
                )
            )
        uow.commit()
    if isinstance(index, MatchIndex):
        for registration, record in zip(results, records, strict=True):
            if registration.stored:
                index.add(record)
    return tuple(results)


def _refuse_blocked(
    customers: Sequence[Customer], checks: Sequence[DuplicateCheck], *, raise_on_block: bool
) -> None:
    """Raise for the first blocked customer when the caller asked to."""
    if not raise_on_block:
        return
    for customer, check in zip(customers, checks, strict=True):
        if check.action is DuplicateAction.BLOCK:
            raise DuplicateError("customer", customer.id, [m.right for m in check.matches])
