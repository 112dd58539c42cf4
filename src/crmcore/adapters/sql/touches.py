"""``customers.touched_at``: each customer's last touch, kept in step by the repositories.

:class:`~crmcore.lifecycle.rules.FollowUpOverdue` reminds the supervisor of a customer
whose last touch — the latest of its creation and of every activity on it or on one of
its opportunities — lies ``days`` or more before the instant of evaluation. Finding them
by an anti-join of a million customers against their activities takes seconds, so the
SQL adapter keeps that instant in the customer's row (``customers.touched_at``), and the
rule becomes one range of ``ix_customers_touched_at`` (see
:mod:`crmcore.adapters.sql.time_rules`).

The column holds the touch over *every* activity, future-dated ones included (the rule
at an instant ignores activities after it; the query checks the rows touched after the
instant the slow way). It is derived from the stored rows: :func:`refresh_touches`
recomputes it, in one ``UPDATE`` per 500 customers, for the customers a write may have
changed — the repositories call it in the same transaction when a customer is inserted,
an activity is saved or deleted, or an opportunity is inserted or moves to another
customer. Merging and unmerging move activities and opportunities through those
repositories, so the survivor's and the merged customers' touches follow.

>>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
>>> from crmcore.adapters.sql.tables import customers
>>> import pendulum, sqlalchemy as sa
>>> from crmcore.domain import ActivityId, ActivityKind, CustomerId, Organization, UserId
>>> from crmcore.domain import log_activity, register_customer
>>> engine = create_engine("sqlite://")
>>> create_schema(engine)
>>> store = SqlStore(engine)
>>> customer, _ = register_customer(id=CustomerId("c-1"), owner=UserId("u-li"),
...     organization=Organization(legal_name="腾达科技"), at=pendulum.datetime(2026, 3, 1))
>>> call, _ = log_activity(id=ActivityId("a-1"), kind=ActivityKind.CALL,
...     at=pendulum.datetime(2026, 3, 4, 9), customer_id=CustomerId("c-1"))
>>> def touched() -> str:
...     with engine.connect() as conn:
...         return conn.execute(sa.select(customers.c.touched_at)).scalar_one().isoformat()
>>> with store.unit_of_work() as uow:
...     _ = uow.customers.save(customer)
...     uow.commit()
>>> touched()
'2026-03-01T00:00:00+00:00'
>>> with store.unit_of_work() as uow:
...     call = uow.activities.save(call)
...     uow.commit()
>>> touched()
'2026-03-04T09:00:00+00:00'
>>> with store.unit_of_work() as uow:
...     uow.activities.delete(call)
...     uow.commit()
>>> touched()
'2026-03-01T00:00:00+00:00'
>>> engine.dispose()

May import: ``crmcore.adapters.sql.tables``; SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmcore.adapters.sql.tables import activities, customers, opportunities

__all__ = ["CHUNK", "last_touch", "refresh_touches"]

CHUNK: Final = 500
"""Customers (or opportunities) per ``IN (...)`` clause."""


def last_touch(dialect: str) -> sa.ColumnElement[Any]:
    """The SQL value of ``customers.touched_at`` for the customer row being read or updated.

    ``GREATEST`` of the creation and two correlated ``MAX`` subqueries (the customer's
    own activities, by ``ix_activities_customer_id_occurred_at``; its opportunities'
    activities, by ``ix_opportunities_customer_id`` then
    ``ix_activities_opportunity_id_occurred_at``); SQLite's multi-argument ``max`` on
    SQLite. Every argument is non-null (a missing ``MAX`` falls back to the creation),
    since MariaDB's ``GREATEST`` and SQLite's ``max`` return NULL on a NULL argument.
    """
    a, c, o = activities.c, customers.c, opportunities.c
    direct = sa.select(sa.func.max(a.occurred_at)).where(a.customer_id == c.id).scalar_subquery()
    through_deals = (
        sa.select(sa.func.max(a.occurred_at))
        .select_from(opportunities.join(activities, a.opportunity_id == o.id))
        .where(o.customer_id == c.id)
        .scalar_subquery()
    )
    greatest = sa.func.max if dialect == "sqlite" else sa.func.greatest
    return greatest(
        c.created_at,
        sa.func.coalesce(direct, c.created_at),
        sa.func.coalesce(through_deals, c.created_at),
    )


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def refresh_touches(
    conn: Connection,
    *,
    customer_ids: Iterable[str | None] = (),
    opportunity_ids: Iterable[str | None] = (),
) -> None:
    """Recompute ``touched_at`` of the customers given and of the opportunities' customers.

    Ids of records not stored are skipped; nothing is sent when both are empty.
    Exceptions of the driver propagate (the repositories translate them).
    """
    wanted = sorted({i for i in customer_ids if i is not None})
    deals = sorted({i for i in opportunity_ids if i is not None})
    if not wanted and not deals:
        return
    touch = last_touch(conn.dialect.name)
    c, o = customers.c, opportunities.c
    for chunk in _chunks(wanted):
        conn.execute(customers.update().where(c.id.in_(chunk)).values(touched_at=touch))
    for chunk in _chunks(deals):
        owners = sa.select(o.customer_id).where(o.id.in_(chunk))
        conn.execute(customers.update().where(c.id.in_(owners)).values(touched_at=touch))
