"""The register of issued time-rule actions.

Revision ``crmcore_0008`` (after ``crmcore_0007``): ``issued_actions``, one row per
:class:`~crmcore.lifecycle.rules.DueAction` issued through ``uow.issued_actions``, keyed by
the SHA-256 of the action's id so that two processes issuing the same action at once
record it once (no personal data: rule names, record ids and instants).

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from crmcore.adapters.sql import tables

revision = "crmcore_0008"
down_revision = "crmcore_0007"
branch_labels = None
depends_on = None

_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the table."""
    op.create_table(
        "issued_actions",
        sa.Column("key", tables.Text(length=64), nullable=False),
        sa.Column("action_id", sa.Text(), nullable=False),
        sa.Column("kind", tables.Text(length=32), nullable=False),
        sa.Column("rule", tables.Text(length=tables.ID_LENGTH), nullable=False),
        sa.Column("subject", tables.Text(length=tables.ID_LENGTH), nullable=False),
        sa.Column("subject_id", tables.Text(length=tables.ID_LENGTH), nullable=False),
        sa.Column("due_at", tables.UtcDateTime(), nullable=False),
        sa.Column("issued_at", tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        **_OPTIONS,
    )
    op.create_index("ix_issued_actions_subject_id", "issued_actions", ["subject_id"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_index("ix_issued_actions_subject_id", table_name="issued_actions")
    op.drop_table("issued_actions")
