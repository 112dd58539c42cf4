"""The event history.

Revision ``crmcore_0003`` (after ``crmcore_0002``): ``event_history``, every committed
domain event kept for reading back.

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crmcore.adapters.sql import tables

revision = "crmcore_0003"
down_revision = "crmcore_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``event_history``."""
    op.create_table(
        "event_history",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", tables.Text(length=128), nullable=False),
        sa.Column("type", tables.Text(length=64), nullable=False),
        sa.Column("aggregate", tables.Text(length=64), nullable=False),
        sa.Column("aggregate_id", tables.Text(length=128), nullable=False),
        sa.Column("at", tables.UtcDateTime(), nullable=False),
        sa.Column("actor", tables.Text(length=128), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("recorded_at", tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_event_history_aggregate",
        "event_history",
        ["aggregate", "aggregate_id", "at", "seq"],
        unique=False,
    )
    op.create_index("ix_event_history_at", "event_history", ["at", "seq"], unique=False)
    op.create_index(
        "ix_event_history_type_at", "event_history", ["type", "at", "seq"], unique=False
    )


def downgrade() -> None:
    """Drop ``event_history``."""
    op.drop_index("ix_event_history_type_at", table_name="event_history")
    op.drop_index("ix_event_history_at", table_name="event_history")
    op.drop_index("ix_event_history_aggregate", table_name="event_history")
    op.drop_table("event_history")
