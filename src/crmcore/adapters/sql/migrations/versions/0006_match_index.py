"""The persistent match index.

Revision ``crmcore_0006`` (after ``crmcore_0005``): ``match_records``, ``match_keys`` and
``match_counts``, the matching keys of every customer not merged into another. The tables
start empty: run ``crmcore db backfill-match-index`` (or
:func:`crmcore.adapters.sql.backfill_match_index`) to index the customers already stored.

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from crmcore.adapters.sql import tables

revision = "crmcore_0006"
down_revision = "crmcore_0005"
branch_labels = None
depends_on = None

_SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the three tables of the match index."""
    op.create_table(
        "match_records",
        sa.Column("seq", _SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("digest", tables.Text(length=32), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        **_OPTIONS,
    )
    op.create_index("ix_match_records_customer_id", "match_records", ["customer_id"], unique=True)
    op.create_table(
        "match_keys",
        sa.Column("key_hash", tables.Text(length=32), nullable=False),
        sa.Column("seq", _SEQUENCE, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", "seq"),
        **_OPTIONS,
    )
    op.create_table(
        "match_counts",
        sa.Column("name", tables.Text(length=33), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        **_OPTIONS,
    )


def downgrade() -> None:
    """Drop the match index."""
    op.drop_table("match_counts")
    op.drop_table("match_keys")
    op.drop_index("ix_match_records_customer_id", table_name="match_records")
    op.drop_table("match_records")
