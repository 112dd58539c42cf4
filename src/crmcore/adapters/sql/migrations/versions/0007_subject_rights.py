"""The erasure register and the per-subject key store.

Revision ``crmcore_0007`` (after ``crmcore_0006``): ``erasure_requests`` (the progress of
each subject erasure, no personal data, kept forever) and ``subject_keys`` (the data keys of
:class:`~crmcore.adapters.sql.keys.SqlKeyStore`; a host keeps them in another database than
the data they protect, but the table is created here too so one database can hold both).

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from crmcore.adapters.sql import tables

revision = "crmcore_0007"
down_revision = "crmcore_0006"
branch_labels = None
depends_on = None

_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the two tables."""
    op.create_table(
        "erasure_requests",
        sa.Column("id", tables.Text(length=tables.ID_LENGTH), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject", tables.Text(length=tables.ID_LENGTH), nullable=False),
        sa.Column("requested_at", tables.UtcDateTime(), nullable=False),
        sa.Column("completed_at", tables.UtcDateTime(), nullable=True),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **_OPTIONS,
    )
    op.create_index("ix_erasure_requests_subject", "erasure_requests", ["subject"])
    op.create_index("ix_erasure_requests_updated_at", "erasure_requests", ["updated_at"])
    op.create_table(
        "subject_keys",
        sa.Column("subject", tables.Text(length=tables.ID_LENGTH), nullable=False),
        sa.Column("key", tables.KEY_BYTES, nullable=False),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
        **_OPTIONS,
    )


def downgrade() -> None:
    """Drop the two tables."""
    op.drop_table("subject_keys")
    op.drop_index("ix_erasure_requests_updated_at", table_name="erasure_requests")
    op.drop_index("ix_erasure_requests_subject", table_name="erasure_requests")
    op.drop_table("erasure_requests")
