"""Index the team of opportunities and cases.

Revision ``crmcore_0005`` (after ``crmcore_0004``): ``ix_opportunities_team`` and
``ix_cases_team``, for the team-scope access filters.

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

from alembic import op

revision = "crmcore_0005"
down_revision = "crmcore_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two indexes."""
    op.create_index("ix_cases_team", "cases", ["team"], unique=False)
    op.create_index("ix_opportunities_team", "opportunities", ["team"], unique=False)


def downgrade() -> None:
    """Drop the two indexes."""
    op.drop_index("ix_opportunities_team", table_name="opportunities")
    op.drop_index("ix_cases_team", table_name="cases")
