"""The kinds of record a transfer file holds: one per stored aggregate.

Contact persons are not a kind of their own: they live inside their customer
(``Customer.contacts``, with their contact points) and travel with it.

May import: ``crmcore.ports``, ``crmcore.domain``, ``crmcore.errors``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any

from crmcore.domain import (
    Activity,
    Case,
    Consent,
    Customer,
    Lead,
    Opportunity,
    Order,
    SurveyResponse,
)
from crmcore.errors import ConfigurationError
from crmcore.ports import MergeRecord, Repository, UnitOfWork

__all__ = ["ALL", "ProgressCallback", "RecordKind", "parse_kinds"]

ProgressCallback = Callable[[int], None]
"""Called with the number of records (export) or lines (import) done so far."""


class RecordKind(enum.StrEnum):
    """An aggregate that can be exported and imported; its value names its repository.

    >>> RecordKind("orders").record_type.__name__
    'Order'
    >>> [kind.value for kind in RecordKind][:3]
    ['customers', 'leads', 'opportunities']
    """

    CUSTOMERS = "customers"
    LEADS = "leads"
    OPPORTUNITIES = "opportunities"
    ACTIVITIES = "activities"
    CASES = "cases"
    ORDERS = "orders"
    SURVEY_RESPONSES = "survey_responses"
    CONSENTS = "consents"
    MERGES = "merges"

    @property
    def record_type(self) -> type[Any]:
        """The snapshot class stored under this kind."""
        return _TYPES[self]

    def repository(self, uow: UnitOfWork) -> Repository[Any, Any]:
        """Return this kind's repository in ``uow`` (the attribute named like the kind).

        Args:
            uow: An entered unit of work.

        Returns:
            The repository, e.g. ``uow.orders`` for :attr:`ORDERS`.
        """
        repository: Repository[Any, Any] = getattr(uow, self.value)
        return repository


_TYPES: dict[RecordKind, type[Any]] = {
    RecordKind.CUSTOMERS: Customer,
    RecordKind.LEADS: Lead,
    RecordKind.OPPORTUNITIES: Opportunity,
    RecordKind.ACTIVITIES: Activity,
    RecordKind.CASES: Case,
    RecordKind.ORDERS: Order,
    RecordKind.SURVEY_RESPONSES: SurveyResponse,
    RecordKind.CONSENTS: Consent,
    RecordKind.MERGES: MergeRecord,
}

ALL: tuple[RecordKind, ...] = tuple(RecordKind)
"""Every kind, in export order (customers first)."""


def parse_kinds(names: str | Iterable[str]) -> tuple[RecordKind, ...]:
    """Read kind names (``"customers,orders"``, ``["leads", "all"]``) into kinds.

    Names may be comma-separated and repeated; ``all`` means every kind. The
    result keeps the export order of :data:`ALL`, each kind once.

    >>> [k.value for k in parse_kinds(["orders,customers", "orders"])]
    ['customers', 'orders']
    >>> len(parse_kinds("all")) == len(RecordKind)
    True
    >>> parse_kinds("contacts")
    Traceback (most recent call last):
    ...
    crmcore.errors.ConfigurationError: unknown record kind 'contacts': choose among all, ...

    Args:
        names: One name or several; each may be a comma-separated list.

    Returns:
        The kinds, in export order, without repeats.

    Raises:
        ConfigurationError: If a name is not a kind (nor ``all``), or none is given.
    """
    items = [names] if isinstance(names, str) else list(names)
    wanted: set[RecordKind] = set()
    for item in items:
        for part in item.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name == "all":
                wanted.update(ALL)
                continue
            try:
                wanted.add(RecordKind(name))
            except ValueError:
                choices = ", ".join(("all", *(k.value for k in ALL)))
                raise ConfigurationError(
                    f"unknown record kind {name!r}: choose among {choices}"
                    " (contact persons are exported inside their customers)"
                ) from None
    if not wanted:
        raise ConfigurationError("no record kind given: name at least one, or all")
    return tuple(kind for kind in ALL if kind in wanted)
