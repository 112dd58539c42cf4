"""Indexes for the time rules answered by queries.

Revision ``crmcore_0009`` (after ``crmcore_0008``): the columns the time-rule queries of
:mod:`crmcore.adapters.sql.time_rules` filter on — the SLA escalation's open cases by
``(status, opened_at)``, the survey's and the retention rules' closing, answering,
ordering and activity instants, and the creation of leads. The activities of a lead or
an opportunity are indexed with their instant (``(lead_id, occurred_at)``,
``(opportunity_id, occurred_at)``, replacing the single-column indexes), so "touched
since the cutoff" is one index range per record.

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

from alembic import op

revision = "crmcore_0009"
down_revision = "crmcore_0008"
branch_labels = None
depends_on = None

_REPLACED = (
    ("ix_activities_lead_id", "ix_activities_lead_id_occurred_at", "lead_id"),
    ("ix_activities_opportunity_id", "ix_activities_opportunity_id_occurred_at", "opportunity_id"),
)
_INDEXES = (
    ("ix_activities_occurred_at", "activities", ["occurred_at"]),
    ("ix_cases_closed_at", "cases", ["closed_at"]),
    ("ix_cases_status_opened_at", "cases", ["status", "opened_at"]),
    ("ix_leads_created_at", "leads", ["created_at"]),
    ("ix_opportunities_closed_at", "opportunities", ["closed_at"]),
    ("ix_orders_ordered_at", "orders", ["ordered_at"]),
    ("ix_survey_responses_responded_at", "survey_responses", ["responded_at"]),
)


def upgrade() -> None:
    """Create the indexes (the composite activity indexes replace the single-column ones)."""
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)
    for old, new, column in _REPLACED:
        op.create_index(new, "activities", [column, "occurred_at"], unique=False)
        op.drop_index(old, table_name="activities")


def downgrade() -> None:
    """Drop the indexes (and bring back the single-column activity indexes)."""
    for old, new, column in reversed(_REPLACED):
        op.create_index(old, "activities", [column], unique=False)
        op.drop_index(new, table_name="activities")
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
