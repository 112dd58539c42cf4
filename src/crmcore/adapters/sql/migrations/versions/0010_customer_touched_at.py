"""Each customer's last touch, for the follow-up time rule.

Revision ``crmcore_0010`` (after ``crmcore_0009``): ``customers.touched_at``, the latest
of the customer's creation and of the ``occurred_at`` of every activity on it or on one of
its opportunities (see :mod:`crmcore.adapters.sql.touches`), indexed with
``(touched_at, owner, merged_into, id)`` so "not followed up for 3 days" is one index
range. The upgrade fills it for every stored customer in one ``UPDATE`` (two index probes
per customer); the downgrade drops it.

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crmcore.adapters.sql import tables

revision = "crmcore_0010"
down_revision = "crmcore_0009"
branch_labels = None
depends_on = None

_INDEX = "ix_customers_touched_at"

# The tables as this revision knows them (frozen here, not taken from today's metadata).
_customers = sa.table(
    "customers", sa.column("id"), sa.column("created_at"), sa.column("touched_at")
)
_activities = sa.table(
    "activities", sa.column("customer_id"), sa.column("opportunity_id"), sa.column("occurred_at")
)
_opportunities = sa.table("opportunities", sa.column("id"), sa.column("customer_id"))


def _last_touch(dialect: str) -> sa.ColumnElement[object]:
    c, a, o = _customers.c, _activities.c, _opportunities.c
    direct = sa.select(sa.func.max(a.occurred_at)).where(a.customer_id == c.id).scalar_subquery()
    through_deals = (
        sa.select(sa.func.max(a.occurred_at))
        .select_from(_opportunities.join(_activities, a.opportunity_id == o.id))
        .where(o.customer_id == c.id)
        .scalar_subquery()
    )
    greatest = sa.func.max if dialect == "sqlite" else sa.func.greatest
    return greatest(
        c.created_at,
        sa.func.coalesce(direct, c.created_at),
        sa.func.coalesce(through_deals, c.created_at),
    )


def upgrade() -> None:
    """Add the column, fill it for every customer, and index it."""
    op.add_column("customers", sa.Column("touched_at", tables.UtcDateTime(), nullable=True))
    bind = op.get_bind()
    op.execute(_customers.update().values(touched_at=_last_touch(bind.dialect.name)))
    op.create_index(_INDEX, "customers", ["touched_at", "owner", "merged_into", "id"], unique=False)


def downgrade() -> None:
    """Drop the index and the column."""
    op.drop_index(_INDEX, table_name="customers")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("touched_at")
