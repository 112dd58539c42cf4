"""The audit chain and the consent ledger.

Revision ``crmcore_0002`` (after ``crmcore_0001``): ``audit_entries``, ``audit_payloads``,
``audit_chain`` (with the chain head's ``sequence`` and ``hash``) and ``consent_ledger``.

May import: ``crmcore.adapters.sql.tables``; Alembic, SQLAlchemy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from crmcore.adapters.sql import tables

revision = "crmcore_0002"
down_revision = "crmcore_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the audit and consent ledger tables."""
    op.create_table(
        "audit_chain",
        sa.Column("chain", tables.Text(length=16), nullable=False),
        sa.Column("sequence", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", tables.Text(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "audit_entries",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("at", tables.Text(length=27), nullable=False),
        sa.Column("actor", tables.Text(length=128), nullable=False),
        sa.Column("action", tables.Text(length=32), nullable=False),
        sa.Column("record_type", tables.Text(length=64), nullable=False),
        sa.Column("record_id", tables.Text(length=128), nullable=False),
        sa.Column("subject", tables.Text(length=128), nullable=True),
        sa.Column("payload_digest", tables.Text(length=64), nullable=False),
        sa.Column("previous_hash", tables.Text(length=64), nullable=False),
        sa.Column("hash", tables.Text(length=64), nullable=False),
        sa.PrimaryKeyConstraint("sequence"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_audit_entries_record", "audit_entries", ["record_type", "record_id"], unique=False
    )
    op.create_index("ix_audit_entries_subject", "audit_entries", ["subject"], unique=False)
    op.create_table(
        "audit_payloads",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("subject", tables.Text(length=128), nullable=True),
        sa.Column(
            "payload",
            sa.Text()
            .with_variant(mysql.LONGTEXT(), "mariadb")
            .with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=True,
        ),
        sa.Column("salt", tables.Text(length=32), nullable=True),
        sa.Column("erased_at", tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("sequence"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_audit_payloads_subject", "audit_payloads", ["subject"], unique=False)
    op.create_table(
        "consent_ledger",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", tables.Text(length=16), nullable=False),
        sa.Column("record_id", tables.Text(length=128), nullable=False),
        sa.Column("subject", tables.Text(length=128), nullable=False),
        sa.Column("purpose", tables.Text(length=100), nullable=True),
        sa.Column("channel", tables.Text(length=32), nullable=True),
        sa.Column("legal_basis", tables.Text(length=32), nullable=True),
        sa.Column("jurisdiction", tables.Text(length=32), nullable=True),
        sa.Column("captured_at", tables.UtcDateTime(), nullable=True),
        sa.Column("captured_from", tables.Text(length=200), nullable=True),
        sa.Column("valid_from", tables.UtcDateTime(), nullable=True),
        sa.Column("valid_until", tables.UtcDateTime(), nullable=True),
        sa.Column("sensitive", sa.Boolean(), nullable=True),
        sa.Column("provision_recipient", tables.Text(length=200), nullable=True),
        sa.Column("publication", sa.Boolean(), nullable=True),
        sa.Column("cross_border_recipient", tables.Text(length=200), nullable=True),
        sa.Column("guardian", tables.Text(length=200), nullable=True),
        sa.Column("recorded_by", tables.Text(length=128), nullable=True),
        sa.Column("withdrawn_at", tables.UtcDateTime(), nullable=True),
        sa.Column("reason", tables.Text(length=200), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("kind", "record_id", name="uq_consent_ledger_kind_record_id"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "ix_consent_ledger_subject_seq", "consent_ledger", ["subject", "seq"], unique=False
    )


def downgrade() -> None:
    """Drop the audit and consent ledger tables."""
    op.drop_index("ix_consent_ledger_subject_seq", table_name="consent_ledger")
    op.drop_table("consent_ledger")
    op.drop_index("ix_audit_payloads_subject", table_name="audit_payloads")
    op.drop_table("audit_payloads")
    op.drop_index("ix_audit_entries_subject", table_name="audit_entries")
    op.drop_index("ix_audit_entries_record", table_name="audit_entries")
    op.drop_table("audit_entries")
    op.drop_table("audit_chain")
