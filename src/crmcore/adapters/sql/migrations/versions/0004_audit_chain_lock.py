"""The audit chain row becomes a plain lock.

Revision ``crmcore_0004`` (after ``crmcore_0003``): ``audit_chain`` loses ``sequence`` and
``hash`` (an append now reads the last entry under the lock instead); the chain rows are
kept.

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crmcore.adapters.sql import tables

revision = "crmcore_0004"
down_revision = "crmcore_0003"
branch_labels = None
depends_on = None

_SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Drop ``audit_chain.sequence`` and ``.hash`` (batch mode: SQLite copies the table)."""
    with op.batch_alter_table("audit_chain") as batch:
        batch.drop_column("sequence")
        batch.drop_column("hash")


def downgrade() -> None:
    """Put the columns back, filled from the last audit entry (0 and the genesis hash if none)."""
    with op.batch_alter_table("audit_chain") as batch:
        batch.add_column(
            sa.Column("sequence", _SEQUENCE, nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("hash", tables.Text(64), nullable=False, server_default="0" * 64)
        )
    entries = sa.table(
        "audit_entries", sa.column("sequence", sa.BigInteger), sa.column("hash", sa.String)
    )
    chain = sa.table(
        "audit_chain", sa.column("sequence", sa.BigInteger), sa.column("hash", sa.String)
    )
    last = sa.select(sa.func.max(entries.c.sequence)).scalar_subquery()
    op.execute(
        chain.update().values(
            sequence=sa.func.coalesce(last, 0),
            hash=sa.func.coalesce(
                sa.select(entries.c.hash).where(entries.c.sequence == last).scalar_subquery(),
                "0" * 64,
            ),
        )
    )
    with op.batch_alter_table("audit_chain") as batch:
        batch.alter_column("sequence", server_default=None)
        batch.alter_column("hash", server_default=None)
