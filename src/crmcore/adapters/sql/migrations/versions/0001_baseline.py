"""Baseline: the oldest released layout of crmcore's tables.

Revision ``crmcore_0001`` (the first): the customer, lead, opportunity, activity, case,
survey, order, consent and merge tables, the child tables of customers and leads, and the
event outbox, as the SQL adapter first shipped them.

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crmcore.adapters.sql import tables

revision = "crmcore_0001"
down_revision = None
branch_labels = ("crmcore",)
depends_on = None


def upgrade() -> None:  # noqa: PLR0915 - a statement per table and index
    """Create every table of the first layout."""
    op.create_table(
        "activities",
        sa.Column("id", tables.Text(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", tables.Text(length=32), nullable=False),
        sa.Column("customer_id", tables.Text(length=128), nullable=True),
        sa.Column("lead_id", tables.Text(length=128), nullable=True),
        sa.Column("opportunity_id", tables.Text(length=128), nullable=True),
        sa.Column("case_id", tables.Text(length=128), nullable=True),
        sa.Column("owner", tables.Text(length=128), nullable=True),
        sa.Column("occurred_at", tables.UtcDateTime(), nullable=False),
        sa.Column("due_at", tables.UtcDateTime(), nullable=True),
        sa.Column("completed_at", tables.UtcDateTime(), nullable=True),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_activities_case_id", "activities", ["case_id"], unique=False)
    op.create_index(
        "ix_activities_customer_id_occurred_at",
        "activities",
        ["customer_id", "occurred_at"],
        unique=False,
    )
    op.create_index("ix_activities_kind", "activities", ["kind"], unique=False)
    op.create_index("ix_activities_lead_id", "activities", ["lead_id"], unique=False)
    op.create_index("ix_activities_opportunity_id", "activities", ["opportunity_id"], unique=False)
    op.create_index("ix_activities_owner", "activities", ["owner"], unique=False)
    op.create_index("ix_activities_updated_at", "activities", ["updated_at"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", tables.Text(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("kind", tables.Text(length=32), nullable=False),
        sa.Column("severity", tables.Text(length=32), nullable=False),
        sa.Column("status", tables.Text(length=32), nullable=False),
        sa.Column("channel", tables.Text(length=32), nullable=False),
        sa.Column("category", tables.Text(length=100), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("owner", tables.Text(length=128), nullable=True),
        sa.Column("team", tables.Text(length=128), nullable=True),
        sa.Column("opened_at", tables.UtcDateTime(), nullable=False),
        sa.Column("first_response_at", tables.UtcDateTime(), nullable=True),
        sa.Column("resolved_at", tables.UtcDateTime(), nullable=True),
        sa.Column("closed_at", tables.UtcDateTime(), nullable=True),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_cases_customer_id_opened_at", "cases", ["customer_id", "opened_at"], unique=False
    )
    op.create_index("ix_cases_owner", "cases", ["owner"], unique=False)
    op.create_index("ix_cases_status", "cases", ["status"], unique=False)
    op.create_index("ix_cases_updated_at", "cases", ["updated_at"], unique=False)
    op.create_table(
        "consents",
        sa.Column("id", tables.Text(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("purpose", tables.Text(length=100), nullable=False),
        sa.Column("channel", tables.Text(length=32), nullable=False),
        sa.Column("granted_at", tables.UtcDateTime(), nullable=False),
        sa.Column("withdrawn_at", tables.UtcDateTime(), nullable=True),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_consents_customer_id_purpose", "consents", ["customer_id", "purpose"], unique=False
    )
    op.create_index("ix_consents_updated_at", "consents", ["updated_at"], unique=False)
    op.create_table(
        "customer_emails",
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("address", tables.Text(length=254), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "address"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_customer_emails_address", "customer_emails", ["address"], unique=False)
    op.create_table(
        "customer_external_ids",
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("system", tables.Text(length=64), nullable=False),
        sa.Column("value", tables.Text(length=255), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "system"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_customer_external_ids_system_value",
        "customer_external_ids",
        ["system", "value"],
        unique=False,
    )
    op.create_table(
        "customer_phones",
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("e164", tables.Text(length=20), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "e164"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_customer_phones_e164", "customer_phones", ["e164"], unique=False)
    op.create_table(
        "customer_tags",
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("tag", tables.Text(length=64), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "tag"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_customer_tags_tag", "customer_tags", ["tag"], unique=False)
    op.create_table(
        "customers",
        sa.Column("id", tables.Text(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", tables.Text(length=16), nullable=False),
        sa.Column("display_name", tables.Text(length=300), nullable=False),
        sa.Column("tier", tables.Text(length=32), nullable=False),
        sa.Column("priority", tables.Text(length=32), nullable=False),
        sa.Column("lifecycle_stage", tables.Text(length=32), nullable=False),
        sa.Column("source", tables.Text(length=32), nullable=False),
        sa.Column("owner", tables.Text(length=128), nullable=True),
        sa.Column("team", tables.Text(length=128), nullable=True),
        sa.Column("country", tables.Text(length=2), nullable=True),
        sa.Column("merged_into", tables.Text(length=128), nullable=True),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("child_digest", tables.Text(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_customers_country", "customers", ["country"], unique=False)
    op.create_index("ix_customers_created_at", "customers", ["created_at"], unique=False)
    op.create_index("ix_customers_display_name", "customers", ["display_name"], unique=False)
    op.create_index("ix_customers_kind", "customers", ["kind"], unique=False)
    op.create_index("ix_customers_lifecycle_stage", "customers", ["lifecycle_stage"], unique=False)
    op.create_index("ix_customers_merged_into", "customers", ["merged_into"], unique=False)
    op.create_index("ix_customers_owner", "customers", ["owner"], unique=False)
    op.create_index("ix_customers_priority", "customers", ["priority"], unique=False)
    op.create_index("ix_customers_source", "customers", ["source"], unique=False)
    op.create_index("ix_customers_team", "customers", ["team"], unique=False)
    op.create_index("ix_customers_tier", "customers", ["tier"], unique=False)
    op.create_index("ix_customers_updated_at", "customers", ["updated_at"], unique=False)
    op.create_table(
        "event_outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", tables.Text(length=128), nullable=False),
        sa.Column("event_type", tables.Text(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("recorded_at", tables.UtcDateTime(), nullable=False),
        sa.Column("delivered_at", tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_event_outbox_delivered_at_seq", "event_outbox", ["delivered_at", "seq"], unique=False
    )
    op.create_table(
        "lead_emails",
        sa.Column("lead_id", tables.Text(length=128), nullable=False),
        sa.Column("address", tables.Text(length=254), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", "address"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_lead_emails_address", "lead_emails", ["address"], unique=False)
    op.create_table(
        "lead_phones",
        sa.Column("lead_id", tables.Text(length=128), nullable=False),
        sa.Column("e164", tables.Text(length=20), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", "e164"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_lead_phones_e164", "lead_phones", ["e164"], unique=False)
    op.create_table(
        "leads",
        sa.Column("id", tables.Text(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", tables.Text(length=32), nullable=False),
        sa.Column("source", tables.Text(length=32), nullable=False),
        sa.Column("owner", tables.Text(length=128), nullable=True),
        sa.Column("team", tables.Text(length=128), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("company", tables.Text(length=300), nullable=False),
        sa.Column("converted_customer_id", tables.Text(length=128), nullable=True),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("child_digest", tables.Text(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_leads_converted_customer_id", "leads", ["converted_customer_id"], unique=False
    )
    op.create_index("ix_leads_owner", "leads", ["owner"], unique=False)
    op.create_index("ix_leads_status", "leads", ["status"], unique=False)
    op.create_index("ix_leads_team", "leads", ["team"], unique=False)
    op.create_index("ix_leads_updated_at", "leads", ["updated_at"], unique=False)
    op.create_table(
        "merge_members",
        sa.Column("merge_id", tables.Text(length=128), nullable=False),
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.PrimaryKeyConstraint("merge_id", "customer_id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_merge_members_customer_id", "merge_members", ["customer_id"], unique=False)
    op.create_table(
        "merges",
        sa.Column("id", tables.Text(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("survivor_id", tables.Text(length=128), nullable=False),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("child_digest", tables.Text(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_merges_survivor_id", "merges", ["survivor_id"], unique=False)
    op.create_index("ix_merges_updated_at", "merges", ["updated_at"], unique=False)
    op.create_table(
        "opportunities",
        sa.Column("id", tables.Text(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("title", tables.Text(length=300), nullable=False),
        sa.Column("stage", tables.Text(length=32), nullable=False),
        sa.Column("amount", tables.Amount(precision=20, scale=6), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("owner", tables.Text(length=128), nullable=True),
        sa.Column("team", tables.Text(length=128), nullable=True),
        sa.Column("lead_id", tables.Text(length=128), nullable=True),
        sa.Column("closed_at", tables.UtcDateTime(), nullable=True),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_opportunities_customer_id_created_at",
        "opportunities",
        ["customer_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_opportunities_lead_id", "opportunities", ["lead_id"], unique=False)
    op.create_index("ix_opportunities_owner", "opportunities", ["owner"], unique=False)
    op.create_index("ix_opportunities_stage", "opportunities", ["stage"], unique=False)
    op.create_index("ix_opportunities_updated_at", "opportunities", ["updated_at"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", tables.Text(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("amount", tables.Amount(precision=20, scale=6), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("status", tables.Text(length=32), nullable=False),
        sa.Column("ordered_at", tables.UtcDateTime(), nullable=False),
        sa.Column("opportunity_id", tables.Text(length=128), nullable=True),
        sa.Column("external_id", tables.Text(length=128), nullable=False),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_orders_customer_id_ordered_at", "orders", ["customer_id", "ordered_at"], unique=False
    )
    op.create_index("ix_orders_external_id", "orders", ["external_id"], unique=False)
    op.create_index("ix_orders_status", "orders", ["status"], unique=False)
    op.create_index("ix_orders_updated_at", "orders", ["updated_at"], unique=False)
    op.create_table(
        "survey_responses",
        sa.Column("id", tables.Text(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", tables.Text(length=128), nullable=False),
        sa.Column("case_id", tables.Text(length=128), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("ces", sa.Integer(), nullable=True),
        sa.Column("responded_at", tables.UtcDateTime(), nullable=False),
        sa.Column("created_at", tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tables.UtcDateTime(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_survey_responses_case_id", "survey_responses", ["case_id"], unique=False)
    op.create_index(
        "ix_survey_responses_customer_id_responded_at",
        "survey_responses",
        ["customer_id", "responded_at"],
        unique=False,
    )
    op.create_index(
        "ix_survey_responses_updated_at", "survey_responses", ["updated_at"], unique=False
    )


def downgrade() -> None:  # noqa: PLR0915 - a statement per table and index
    """Drop every table of the first layout."""
    op.drop_index("ix_survey_responses_updated_at", table_name="survey_responses")
    op.drop_index("ix_survey_responses_customer_id_responded_at", table_name="survey_responses")
    op.drop_index("ix_survey_responses_case_id", table_name="survey_responses")
    op.drop_table("survey_responses")
    op.drop_index("ix_orders_updated_at", table_name="orders")
    op.drop_index("ix_orders_status", table_name="orders")
    op.drop_index("ix_orders_external_id", table_name="orders")
    op.drop_index("ix_orders_customer_id_ordered_at", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_opportunities_updated_at", table_name="opportunities")
    op.drop_index("ix_opportunities_stage", table_name="opportunities")
    op.drop_index("ix_opportunities_owner", table_name="opportunities")
    op.drop_index("ix_opportunities_lead_id", table_name="opportunities")
    op.drop_index("ix_opportunities_customer_id_created_at", table_name="opportunities")
    op.drop_table("opportunities")
    op.drop_index("ix_merges_updated_at", table_name="merges")
    op.drop_index("ix_merges_survivor_id", table_name="merges")
    op.drop_table("merges")
    op.drop_index("ix_merge_members_customer_id", table_name="merge_members")
    op.drop_table("merge_members")
    op.drop_index("ix_leads_updated_at", table_name="leads")
    op.drop_index("ix_leads_team", table_name="leads")
    op.drop_index("ix_leads_status", table_name="leads")
    op.drop_index("ix_leads_owner", table_name="leads")
    op.drop_index("ix_leads_converted_customer_id", table_name="leads")
    op.drop_table("leads")
    op.drop_index("ix_lead_phones_e164", table_name="lead_phones")
    op.drop_table("lead_phones")
    op.drop_index("ix_lead_emails_address", table_name="lead_emails")
    op.drop_table("lead_emails")
    op.drop_index("ix_event_outbox_delivered_at_seq", table_name="event_outbox")
    op.drop_table("event_outbox")
    op.drop_index("ix_customers_updated_at", table_name="customers")
    op.drop_index("ix_customers_tier", table_name="customers")
    op.drop_index("ix_customers_team", table_name="customers")
    op.drop_index("ix_customers_source", table_name="customers")
    op.drop_index("ix_customers_priority", table_name="customers")
    op.drop_index("ix_customers_owner", table_name="customers")
    op.drop_index("ix_customers_merged_into", table_name="customers")
    op.drop_index("ix_customers_lifecycle_stage", table_name="customers")
    op.drop_index("ix_customers_kind", table_name="customers")
    op.drop_index("ix_customers_display_name", table_name="customers")
    op.drop_index("ix_customers_created_at", table_name="customers")
    op.drop_index("ix_customers_country", table_name="customers")
    op.drop_table("customers")
    op.drop_index("ix_customer_tags_tag", table_name="customer_tags")
    op.drop_table("customer_tags")
    op.drop_index("ix_customer_phones_e164", table_name="customer_phones")
    op.drop_table("customer_phones")
    op.drop_index("ix_customer_external_ids_system_value", table_name="customer_external_ids")
    op.drop_table("customer_external_ids")
    op.drop_index("ix_customer_emails_address", table_name="customer_emails")
    op.drop_table("customer_emails")
    op.drop_index("ix_consents_updated_at", table_name="consents")
    op.drop_index("ix_consents_customer_id_purpose", table_name="consents")
    op.drop_table("consents")
    op.drop_index("ix_cases_updated_at", table_name="cases")
    op.drop_index("ix_cases_status", table_name="cases")
    op.drop_index("ix_cases_owner", table_name="cases")
    op.drop_index("ix_cases_customer_id_opened_at", table_name="cases")
    op.drop_table("cases")
    op.drop_index("ix_activities_updated_at", table_name="activities")
    op.drop_index("ix_activities_owner", table_name="activities")
    op.drop_index("ix_activities_opportunity_id", table_name="activities")
    op.drop_index("ix_activities_lead_id", table_name="activities")
    op.drop_index("ix_activities_kind", table_name="activities")
    op.drop_index("ix_activities_customer_id_occurred_at", table_name="activities")
    op.drop_index("ix_activities_case_id", table_name="activities")
    op.drop_table("activities")
