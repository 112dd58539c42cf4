"""The match index's keys sorted byte by byte on PostgreSQL.

Revision ``crmcore_0011`` (after ``crmcore_0010``): on PostgreSQL,
``match_keys.key_hash`` and ``match_counts.name`` (hex digests behind a letter) get
``COLLATE "C"`` (:class:`~crmcore.adapters.sql.tables.KeyText`), so their primary keys
compare them with ``memcmp`` rather than the database locale's rules: building and
searching those indexes is two to three times as fast, and the order of their values is
the same under every collation. PostgreSQL rebuilds both primary keys (about 20 s for an
index of a million customers). SQLite and MariaDB compare these columns byte by byte
already: nothing changes there. The downgrade gives the columns the database's default
collation again.

May import: Alembic, SQLAlchemy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "crmcore_0011"
down_revision = "crmcore_0010"
branch_labels = None
depends_on = None

_COLUMNS = (("match_keys", "key_hash", 32), ("match_counts", "name", 33))


def _collate(collation: str | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in _COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.String(length, collation=collation),
            existing_type=sa.String(length),
            existing_nullable=False,
        )


def upgrade() -> None:
    """On PostgreSQL, give the two key columns ``COLLATE "C"``."""
    _collate("C")


def downgrade() -> None:
    """On PostgreSQL, give the two key columns the database's default collation again."""
    _collate("default")
