"""The SQL schema of crmcore: one :class:`sqlalchemy.MetaData` and its tables.

Hosts include :data:`metadata` in their own Alembic migrations, or call
:func:`crmcore.adapters.sql.create_schema` in the embedded case. Table names
carry no prefix; to place them in a schema (PostgreSQL) or database
(MariaDB) of your choice, use SQLAlchemy's ``schema_translate_map``
execution option (``{None: "crm"}``) on the engine you give the adapter.

Every aggregate table keeps the **full snapshot** in ``document`` (JSON
written by :mod:`crmcore.serialization`, so round trips are exact) plus
real, indexed columns for everything a lookup, a segment rule or an
aggregate needs. The columns are *derived* from the snapshot on every save;
``document`` is the truth. The segment rule compiler queries the columns.

Portable column types (identical behaviour on SQLite, PostgreSQL, MariaDB):

- :class:`UtcDateTime` — an aware UTC instant. Binds any aware
  :class:`datetime.datetime` (naive values are rejected), returns aware UTC
  :class:`pendulum.DateTime`. Stored as ``TIMESTAMP WITH TIME ZONE`` on
  PostgreSQL, ``DATETIME(6)`` (naive UTC, microseconds) on MariaDB/MySQL and
  the ISO text of naive UTC on SQLite (sorts and compares correctly).
- :class:`Amount` — ``NUMERIC(20, 6)``; returns :class:`decimal.Decimal` on
  every backend (SQLite keeps it as a float internally: exact to ~15
  significant digits, which is fine for aggregates; the exact amount is in
  ``document``). Always paired with a ``currency`` ``CHAR(3)`` column.
- ``JSON`` — :class:`sqlalchemy.JSON` (``JSON`` on PostgreSQL and MariaDB,
  text on SQLite).
- :class:`Text` — ``VARCHAR(n)`` compared exactly (binary ``utf8mb4``
  collation on MariaDB/MySQL, as SQLite and PostgreSQL already do), so
  ``"A1"`` and ``"a1"`` are different ids on every backend.
- Ids are ``Text(128)``; enum values are ``Text(32)`` holding the
  enum's ``.value`` (``"vip"``, ``"high"``, ``"mature"``...).

Tables and columns
------------------

``customers`` — one row per :class:`~crmcore.domain.Customer`.
    ``id`` PK; ``version`` (optimistic lock, ≥ 1 once stored);
    ``kind`` (``person``/``organization``); ``display_name`` (person's full
    name or organisation's legal name, ≤ 300 chars, indexed);
    ``tier``, ``priority``, ``lifecycle_stage``, ``source`` (enum values,
    indexed); ``owner``, ``team`` (user/team ids, nullable, indexed);
    ``country`` (ISO 3166 alpha-2, nullable, indexed); ``merged_into``
    (survivor id once merged, nullable, indexed); ``created_at``,
    ``updated_at`` (:class:`UtcDateTime`, indexed); ``custom`` (JSON object
    of the canonical custom field values, see
    :class:`~crmcore.domain.CustomFields`); ``document`` (JSON snapshot);
    ``child_digest`` (a hash of the rows last written to the child tables
    below, so an update that leaves emails, phones, tags and external ids
    alone does not rewrite them; internal; NULL for rows written by other
    means, whose next save rewrites the child rows).
    ``touched_at`` (:class:`UtcDateTime`, nullable; internal): the customer's last
    touch as :class:`~crmcore.lifecycle.rules.FollowUpOverdue` counts it — the latest
    of its creation and the ``occurred_at`` of every activity on it or on one of its
    opportunities (future-dated ones included). Derived from those rows, not from
    the document: the repositories recompute it in the unit of work that saves a
    customer, or saves, moves or deletes an activity or an opportunity; NULL for
    rows written by other means, which the time-rule query then checks the slow
    way. Indexed with ``(touched_at, owner, merged_into, id)`` so the follow-up
    rule is one index range.

``customer_emails`` — ``customer_id``, ``address`` (canonical lower-case
    address, ≤ 254 chars); PK (customer_id, address); index on ``address``.
``customer_phones`` — ``customer_id``, ``e164`` (``+8613800138000``);
    PK (customer_id, e164); index on ``e164``.
``customer_tags`` — ``customer_id``, ``tag`` (canonical tag name, ≤ 64);
    PK (customer_id, tag); index on ``tag``.
``customer_external_ids`` — ``customer_id``, ``system`` (lower-case),
    ``value``; PK (customer_id, system); index on (system, value).

``leads`` — ``id``, ``version``, ``status``, ``source``, ``owner``,
    ``team``, ``score`` (integer), ``company`` (≤ 300),
    ``converted_customer_id``, ``created_at``, ``updated_at``, ``custom``,
    ``document``, ``child_digest``. Indexed: status, owner, team, updated_at,
    converted_customer_id.
``lead_emails`` (``lead_id``, ``address``) and ``lead_phones``
    (``lead_id``, ``e164``) — as for customers.

``opportunities`` — ``id``, ``version``, ``customer_id``, ``title``,
    ``stage``, ``amount`` + ``currency``, ``expected_close`` (DATE),
    ``owner``, ``team``, ``lead_id``, ``closed_at``, ``created_at``,
    ``updated_at``, ``document``. Indexed: (customer_id, created_at), stage,
    owner, updated_at, lead_id.
``activities`` — ``id``, ``version``, ``kind``, ``customer_id``,
    ``lead_id``, ``opportunity_id``, ``case_id`` (all nullable), ``owner``,
    ``occurred_at``, ``due_at``, ``completed_at``, ``created_at``,
    ``updated_at``, ``document``. Indexed: (customer_id, occurred_at), kind,
    lead_id, opportunity_id, case_id, owner, updated_at.
``cases`` — ``id``, ``version``, ``customer_id``, ``kind``, ``severity``,
    ``status``, ``channel``, ``category``, ``escalation_level``, ``owner``,
    ``team``, ``opened_at``, ``first_response_at``, ``resolved_at``,
    ``closed_at``, ``created_at``, ``updated_at``, ``document``. Indexed:
    (customer_id, opened_at), status, owner, updated_at.
``survey_responses`` — ``id``, ``version``, ``customer_id``, ``case_id``,
    ``csat``, ``nps``, ``ces`` (nullable integers), ``responded_at``,
    ``created_at``, ``updated_at``, ``document``. Indexed: (customer_id,
    responded_at), case_id, updated_at.
``orders`` — ``id``, ``version``, ``customer_id``, ``amount`` +
    ``currency``, ``status``, ``ordered_at``, ``opportunity_id``,
    ``external_id`` (≤ 128, empty string when none), ``created_at``,
    ``updated_at``, ``document``. Indexed: (customer_id, ordered_at),
    status, external_id, updated_at.
``consents`` — ``id``, ``version``, ``customer_id``, ``purpose``,
    ``channel``, ``granted_at``, ``withdrawn_at`` (nullable), ``created_at``,
    ``updated_at``, ``document``. Indexed: (customer_id, purpose), updated_at.

``merges`` — ``id``, ``version``, ``survivor_id``, ``created_at``,
    ``updated_at``, ``document`` (the merge record, reversible),
    ``child_digest``.
    Indexed: survivor_id, updated_at.
``merge_members`` — ``merge_id``, ``customer_id`` (every customer a merge
    touched: survivor and merged); PK (merge_id, customer_id); index on
    ``customer_id``.

``event_outbox`` — domain events written in the same transaction as the
    change that caused them: ``seq`` (auto-increment PK, delivery order),
    ``event_id`` (unique), ``event_type`` (class name), ``payload`` (JSON
    of the event via :mod:`crmcore.serialization`), ``recorded_at``,
    ``delivered_at`` (NULL until the relay published it). Index on
    (delivered_at, seq).

``event_history`` — every committed domain event, kept for reading back
    (:class:`~crmcore.ports.EventHistory`), appended in the same transaction
    as the change that caused it and never updated or deleted: ``seq``
    (auto-increment PK, commit order), ``event_id`` (unique), ``type``
    (class name), ``aggregate`` and ``aggregate_id`` (the record the event
    is about, from :data:`crmcore.ports.EVENT_AGGREGATES`), ``at`` (when it
    happened), ``actor`` (the event's ``by``, nullable), ``payload`` (JSON
    of the event via :mod:`crmcore.serialization`), ``recorded_at`` (the
    commit's instant). Indexed: (aggregate, aggregate_id, at, seq), (type,
    at, seq), (at, seq). The outbox is a delivery queue a host may prune;
    this table is the history.

``audit_entries`` — the tamper-evident audit chain
    (:mod:`crmcore.privacy.audit`), never updated or deleted: ``sequence``
    (PK, from 1, no gaps), ``at`` (the canonical UTC text the hash covers,
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: stored as hashed, so no database type
    conversion can change it; sorts as time does), ``actor``, ``action``,
    ``record_type``, ``record_id``, ``subject`` (the data subject, nullable),
    ``payload_digest``, ``previous_hash``, ``hash`` (64 hex characters).
    Indexed: subject, (record_type, record_id).
``audit_payloads`` — the erasable side of each entry: ``sequence`` (PK),
    ``subject`` (indexed), ``payload`` (canonical JSON text, exactly as
    digested; NULL once erased), ``salt`` (NULL once erased), ``erased_at``.
``audit_chain`` — one row per chain (``chain`` PK, ``"main"``), the lock an
    append takes (``SELECT … FOR UPDATE`` on PostgreSQL and MariaDB; SQLite
    has one writer) before it reads the last entry, so concurrent units of
    work queue instead of forking the chain.

``consent_ledger`` — the append-only consent ledger
    (:mod:`crmcore.privacy.consent`): ``seq`` (auto-increment PK, append
    order), ``kind`` (``record`` or ``withdrawal``), ``record_id`` (the
    record's id, or the one withdrawn), ``subject``; for records ``purpose``,
    ``channel``, ``legal_basis``, ``jurisdiction``, ``captured_at``,
    ``captured_from``, ``valid_from``, ``valid_until``, ``sensitive``,
    ``provision_recipient``, ``publication``, ``cross_border_recipient``,
    ``guardian``; for withdrawals ``withdrawn_at`` and ``reason``; both
    ``recorded_by``. Unique (kind, record_id): one record per id, one
    withdrawal per record, whoever commits first. Index on (subject, seq).

``match_records``, ``match_keys``, ``match_counts`` — the persistent match
    index (:mod:`crmcore.adapters.sql.match_index`), written in the same
    transaction as the customers it indexes (every customer not merged into
    another). ``match_records``: ``seq`` (auto-increment PK: insertion order,
    the order candidates are met in), ``customer_id`` (unique), ``features``
    (JSON: the matching keys, column values, email keys and phone keys),
    ``digest`` (of the match record and the index settings: an unchanged
    customer is not rewritten), ``counters`` (JSON: the ``match_counts`` rows
    it adds one to, so it is removed exactly even after a settings change).
    ``match_keys``: ``key_hash`` (32 hex characters: the blocking rule and
    its key; :class:`KeyText`, ``COLLATE "C"`` on PostgreSQL) and ``seq``;
    PK (key_hash, seq), so a block's members are one index range in
    insertion order.
    ``match_counts``: ``name`` (PK, :class:`KeyText`: ``b`` + a block's key hash, ``t`` + a
    term-frequency value's hash, ``n`` + a shard of the record total) and
    ``n``; a block's row is also the lock concurrent registrations of records
    sharing it queue on.

May import: ``crmcore.clock``, ``crmcore.errors``; SQLAlchemy, pendulum.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Final

import pendulum
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from crmcore.errors import StorageError

__all__ = [
    "ID_LENGTH",
    "Amount",
    "KeyText",
    "Text",
    "UtcDateTime",
    "activities",
    "audit_chain",
    "audit_entries",
    "audit_payloads",
    "cases",
    "consent_ledger",
    "consents",
    "customer_emails",
    "customer_external_ids",
    "customer_phones",
    "customer_tags",
    "customers",
    "event_history",
    "event_outbox",
    "lead_emails",
    "lead_phones",
    "leads",
    "match_counts",
    "match_keys",
    "match_records",
    "merge_members",
    "merges",
    "metadata",
    "missing_tables",
    "opportunities",
    "orders",
    "survey_responses",
    "utc_instant",
]

ID_LENGTH = 128
"""Maximum length of any id stored by the SQL adapter."""

_ENUM_LENGTH = 32
_UTC = pendulum.UTC


def utc_instant(value: dt.datetime) -> pendulum.DateTime:
    """Return what the driver gave for a :class:`UtcDateTime` as an aware UTC pendulum instant.

    Drivers give aware values (PostgreSQL) or naive UTC ones (SQLite, MariaDB). Built
    directly: ``pendulum.instance(value).in_timezone(UTC)`` gives the same value ten
    times slower, which counts when a query returns 50,000 rows.

    >>> utc_instant(dt.datetime(2026, 3, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    DateTime(2026, 3, 1, 0, 0, 0, tzinfo=Timezone('UTC'))
    """
    offset = value.utcoffset()
    if offset:
        value = value - offset
    return pendulum.DateTime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=_UTC,
    )


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """An aware UTC instant, stored portably (see the module docstring).

    Binds aware datetimes (any zone; converted to UTC) and returns aware UTC
    :class:`pendulum.DateTime` values.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Pick the storage type of ``dialect``."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Convert an aware datetime to what ``dialect`` stores.

        Raises:
            ValueError: If ``value`` is naive (the adapter checks before binding).
        """
        if value is None:
            return None
        if value.utcoffset() is None:
            msg = f"naive datetime {value.isoformat()}: a time zone is required"
            raise ValueError(msg)
        offset = value.utcoffset() or dt.timedelta()
        plain = (
            dt.datetime(  # a plain datetime: drivers do not all accept subclasses
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
                tzinfo=dt.UTC,
            )
            - offset
        )
        return plain if dialect.name == "postgresql" else plain.replace(tzinfo=None)

    def process_result_value(
        self,
        value: Any,
        dialect: Dialect,  # noqa: ARG002 - SQLAlchemy's signature
    ) -> pendulum.DateTime | None:
        """Return the stored instant as an aware UTC :class:`pendulum.DateTime`."""
        if value is None:
            return None
        return utc_instant(value)


class Amount(sa.types.TypeDecorator[Decimal]):
    """A money amount: ``NUMERIC(20, 6)``, read back as :class:`~decimal.Decimal` everywhere."""

    impl = sa.Numeric(20, 6)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Pick the storage type of ``dialect`` (SQLite has no native decimal)."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Numeric(20, 6, asdecimal=False))
        return dialect.type_descriptor(sa.Numeric(20, 6))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Bind a :class:`~decimal.Decimal` (a string on SQLite, to keep every digit it can)."""
        if value is None:
            return None
        if dialect.name == "sqlite":
            return str(value)
        return value

    def process_result_value(
        self,
        value: Any,
        dialect: Dialect,  # noqa: ARG002 - SQLAlchemy's signature
    ) -> Decimal | None:
        """Return the stored amount as a :class:`~decimal.Decimal`."""
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))


class Text(sa.types.TypeDecorator[str]):
    """A ``VARCHAR(length)`` compared exactly (case- and accent-sensitive) on every backend.

    SQLite and PostgreSQL compare strings by code point already; on
    MariaDB/MySQL the column gets a binary ``utf8mb4`` collation
    (``utf8mb4_nopad_bin`` on MariaDB, ``utf8mb4_bin`` on MySQL), so ids
    ``"A1"`` and ``"a1"`` or emails differing in case stay distinct.
    """

    impl = sa.String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.max_length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Pick the storage type of ``dialect``."""
        if dialect.name in ("mysql", "mariadb"):
            collation = (
                "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_bin"
            )
            return dialect.type_descriptor(mysql.VARCHAR(self.max_length, collation=collation))
        return dialect.type_descriptor(sa.String(self.max_length))


class KeyText(Text):
    """A :class:`Text` of ASCII keys (hex digests), sorted byte by byte on PostgreSQL too.

    Its values are letters and digits, so every collation orders them alike;
    ``COLLATE "C"`` lets PostgreSQL's b-trees compare them with ``memcmp``
    instead of the locale's rules (``C.UTF-8`` calls ``strcoll``), which
    builds and searches their indexes two to three times as fast. SQLite
    and MariaDB compare :class:`Text` byte by byte already.
    """

    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Pick the storage type of ``dialect``."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.String(self.max_length, collation="C"))
        return super().load_dialect_impl(dialect)


def _id(name: str, *, nullable: bool = True, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(
        name, Text(ID_LENGTH), nullable=nullable and not primary_key, primary_key=primary_key
    )


def _enum(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, Text(_ENUM_LENGTH), nullable=nullable)


def _at(name: str, *, nullable: bool = False) -> sa.Column[dt.datetime]:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


def _entity_columns() -> list[sa.Column[Any]]:
    return [
        _id("id", primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    ]


def _stamps() -> list[sa.Column[Any]]:
    return [_at("created_at"), _at("updated_at")]


def _document() -> sa.Column[Any]:
    return sa.Column("document", sa.JSON, nullable=False)


def _child_digest() -> sa.Column[str]:
    return sa.Column("child_digest", Text(32), nullable=True)


KEY_BYTES: Final = sa.LargeBinary(64).with_variant(mysql.VARBINARY(64), "mysql", "mariadb")
"""The column type of a data key: at most 64 bytes."""

_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}

metadata = sa.MetaData()
"""Every table of the SQL adapter (include it in your Alembic ``target_metadata``)."""

customers = sa.Table(
    "customers",
    metadata,
    *_entity_columns(),
    sa.Column("kind", Text(16), nullable=False),
    sa.Column("display_name", Text(300), nullable=False),
    _enum("tier"),
    _enum("priority"),
    _enum("lifecycle_stage"),
    _enum("source"),
    _id("owner"),
    _id("team"),
    sa.Column("country", Text(2), nullable=True),
    _id("merged_into"),
    *_stamps(),
    sa.Column("custom", sa.JSON, nullable=False),
    _document(),
    _child_digest(),
    _at("touched_at", nullable=True),
    sa.Index("ix_customers_display_name", "display_name"),
    sa.Index("ix_customers_tier", "tier"),
    sa.Index("ix_customers_priority", "priority"),
    sa.Index("ix_customers_lifecycle_stage", "lifecycle_stage"),
    sa.Index("ix_customers_source", "source"),
    sa.Index("ix_customers_kind", "kind"),
    sa.Index("ix_customers_owner", "owner"),
    sa.Index("ix_customers_team", "team"),
    sa.Index("ix_customers_country", "country"),
    sa.Index("ix_customers_merged_into", "merged_into"),
    sa.Index("ix_customers_created_at", "created_at"),
    sa.Index("ix_customers_updated_at", "updated_at"),
    sa.Index("ix_customers_touched_at", "touched_at", "owner", "merged_into", "id"),
    **_OPTIONS,
)

customer_emails = sa.Table(
    "customer_emails",
    metadata,
    _id("customer_id", primary_key=True),
    sa.Column("address", Text(254), primary_key=True),
    sa.Index("ix_customer_emails_address", "address"),
    **_OPTIONS,
)

customer_phones = sa.Table(
    "customer_phones",
    metadata,
    _id("customer_id", primary_key=True),
    sa.Column("e164", Text(20), primary_key=True),
    sa.Index("ix_customer_phones_e164", "e164"),
    **_OPTIONS,
)

customer_tags = sa.Table(
    "customer_tags",
    metadata,
    _id("customer_id", primary_key=True),
    sa.Column("tag", Text(64), primary_key=True),
    sa.Index("ix_customer_tags_tag", "tag"),
    **_OPTIONS,
)

customer_external_ids = sa.Table(
    "customer_external_ids",
    metadata,
    _id("customer_id", primary_key=True),
    sa.Column("system", Text(64), primary_key=True),
    sa.Column("value", Text(255), nullable=False),
    sa.Index("ix_customer_external_ids_system_value", "system", "value"),
    **_OPTIONS,
)

leads = sa.Table(
    "leads",
    metadata,
    *_entity_columns(),
    _enum("status"),
    _enum("source"),
    _id("owner"),
    _id("team"),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("company", Text(300), nullable=False),
    _id("converted_customer_id"),
    *_stamps(),
    sa.Column("custom", sa.JSON, nullable=False),
    _document(),
    _child_digest(),
    sa.Index("ix_leads_status", "status"),
    sa.Index("ix_leads_owner", "owner"),
    sa.Index("ix_leads_team", "team"),
    sa.Index("ix_leads_converted_customer_id", "converted_customer_id"),
    sa.Index("ix_leads_updated_at", "updated_at"),
    sa.Index("ix_leads_created_at", "created_at"),
    **_OPTIONS,
)

lead_emails = sa.Table(
    "lead_emails",
    metadata,
    _id("lead_id", primary_key=True),
    sa.Column("address", Text(254), primary_key=True),
    sa.Index("ix_lead_emails_address", "address"),
    **_OPTIONS,
)

lead_phones = sa.Table(
    "lead_phones",
    metadata,
    _id("lead_id", primary_key=True),
    sa.Column("e164", Text(20), primary_key=True),
    sa.Index("ix_lead_phones_e164", "e164"),
    **_OPTIONS,
)

opportunities = sa.Table(
    "opportunities",
    metadata,
    *_entity_columns(),
    _id("customer_id", nullable=False),
    sa.Column("title", Text(300), nullable=False),
    _enum("stage"),
    sa.Column("amount", Amount(), nullable=False),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("expected_close", sa.Date, nullable=True),
    _id("owner"),
    _id("team"),
    _id("lead_id"),
    _at("closed_at", nullable=True),
    *_stamps(),
    _document(),
    sa.Index("ix_opportunities_customer_id_created_at", "customer_id", "created_at"),
    sa.Index("ix_opportunities_stage", "stage"),
    sa.Index("ix_opportunities_owner", "owner"),
    sa.Index("ix_opportunities_team", "team"),
    sa.Index("ix_opportunities_lead_id", "lead_id"),
    sa.Index("ix_opportunities_updated_at", "updated_at"),
    sa.Index("ix_opportunities_closed_at", "closed_at"),
    **_OPTIONS,
)

activities = sa.Table(
    "activities",
    metadata,
    *_entity_columns(),
    _enum("kind"),
    _id("customer_id"),
    _id("lead_id"),
    _id("opportunity_id"),
    _id("case_id"),
    _id("owner"),
    _at("occurred_at"),
    _at("due_at", nullable=True),
    _at("completed_at", nullable=True),
    *_stamps(),
    _document(),
    sa.Index("ix_activities_customer_id_occurred_at", "customer_id", "occurred_at"),
    sa.Index("ix_activities_kind", "kind"),
    sa.Index("ix_activities_lead_id_occurred_at", "lead_id", "occurred_at"),
    sa.Index("ix_activities_opportunity_id_occurred_at", "opportunity_id", "occurred_at"),
    sa.Index("ix_activities_case_id", "case_id"),
    sa.Index("ix_activities_owner", "owner"),
    sa.Index("ix_activities_updated_at", "updated_at"),
    sa.Index("ix_activities_occurred_at", "occurred_at"),
    **_OPTIONS,
)

cases = sa.Table(
    "cases",
    metadata,
    *_entity_columns(),
    _id("customer_id", nullable=False),
    _enum("kind"),
    _enum("severity"),
    _enum("status"),
    _enum("channel"),
    sa.Column("category", Text(100), nullable=False),
    sa.Column("escalation_level", sa.Integer, nullable=False),
    _id("owner"),
    _id("team"),
    _at("opened_at"),
    _at("first_response_at", nullable=True),
    _at("resolved_at", nullable=True),
    _at("closed_at", nullable=True),
    *_stamps(),
    _document(),
    sa.Index("ix_cases_customer_id_opened_at", "customer_id", "opened_at"),
    sa.Index("ix_cases_status", "status"),
    sa.Index("ix_cases_owner", "owner"),
    sa.Index("ix_cases_team", "team"),
    sa.Index("ix_cases_updated_at", "updated_at"),
    sa.Index("ix_cases_status_opened_at", "status", "opened_at"),
    sa.Index("ix_cases_closed_at", "closed_at"),
    **_OPTIONS,
)

survey_responses = sa.Table(
    "survey_responses",
    metadata,
    *_entity_columns(),
    _id("customer_id", nullable=False),
    _id("case_id"),
    sa.Column("csat", sa.Integer, nullable=True),
    sa.Column("nps", sa.Integer, nullable=True),
    sa.Column("ces", sa.Integer, nullable=True),
    _at("responded_at"),
    *_stamps(),
    _document(),
    sa.Index("ix_survey_responses_customer_id_responded_at", "customer_id", "responded_at"),
    sa.Index("ix_survey_responses_case_id", "case_id"),
    sa.Index("ix_survey_responses_updated_at", "updated_at"),
    sa.Index("ix_survey_responses_responded_at", "responded_at"),
    **_OPTIONS,
)

orders = sa.Table(
    "orders",
    metadata,
    *_entity_columns(),
    _id("customer_id", nullable=False),
    sa.Column("amount", Amount(), nullable=False),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    _enum("status"),
    _at("ordered_at"),
    _id("opportunity_id"),
    sa.Column("external_id", Text(ID_LENGTH), nullable=False),
    *_stamps(),
    _document(),
    sa.Index("ix_orders_customer_id_ordered_at", "customer_id", "ordered_at"),
    sa.Index("ix_orders_status", "status"),
    sa.Index("ix_orders_external_id", "external_id"),
    sa.Index("ix_orders_updated_at", "updated_at"),
    sa.Index("ix_orders_ordered_at", "ordered_at"),
    **_OPTIONS,
)

consents = sa.Table(
    "consents",
    metadata,
    *_entity_columns(),
    _id("customer_id", nullable=False),
    sa.Column("purpose", Text(100), nullable=False),
    _enum("channel"),
    _at("granted_at"),
    _at("withdrawn_at", nullable=True),
    *_stamps(),
    _document(),
    sa.Index("ix_consents_customer_id_purpose", "customer_id", "purpose"),
    sa.Index("ix_consents_updated_at", "updated_at"),
    **_OPTIONS,
)

merges = sa.Table(
    "merges",
    metadata,
    *_entity_columns(),
    _id("survivor_id", nullable=False),
    *_stamps(),
    _document(),
    _child_digest(),
    sa.Index("ix_merges_survivor_id", "survivor_id"),
    sa.Index("ix_merges_updated_at", "updated_at"),
    **_OPTIONS,
)

merge_members = sa.Table(
    "merge_members",
    metadata,
    _id("merge_id", primary_key=True),
    _id("customer_id", primary_key=True),
    sa.Index("ix_merge_members_customer_id", "customer_id"),
    **_OPTIONS,
)

event_outbox = sa.Table(
    "event_outbox",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("event_id", Text(ID_LENGTH), nullable=False, unique=True),
    sa.Column("event_type", Text(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    _at("recorded_at"),
    _at("delivered_at", nullable=True),
    sa.Index("ix_event_outbox_delivered_at_seq", "delivered_at", "seq"),
    **_OPTIONS,
)

event_history = sa.Table(
    "event_history",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("event_id", Text(ID_LENGTH), nullable=False, unique=True),
    sa.Column("type", Text(64), nullable=False),
    sa.Column("aggregate", Text(64), nullable=False),
    _id("aggregate_id", nullable=False),
    _at("at"),
    _id("actor"),
    sa.Column("payload", sa.JSON, nullable=False),
    _at("recorded_at"),
    sa.Index("ix_event_history_aggregate", "aggregate", "aggregate_id", "at", "seq"),
    sa.Index("ix_event_history_type_at", "type", "at", "seq"),
    sa.Index("ix_event_history_at", "at", "seq"),
    **_OPTIONS,
)

_SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_HASH_LENGTH = 64

audit_entries = sa.Table(
    "audit_entries",
    metadata,
    sa.Column("sequence", _SEQUENCE, primary_key=True, autoincrement=False),
    sa.Column("at", Text(27), nullable=False),
    sa.Column("actor", Text(ID_LENGTH), nullable=False),
    sa.Column("action", Text(_ENUM_LENGTH), nullable=False),
    sa.Column("record_type", Text(64), nullable=False),
    _id("record_id", nullable=False),
    _id("subject"),
    sa.Column("payload_digest", Text(_HASH_LENGTH), nullable=False),
    sa.Column("previous_hash", Text(_HASH_LENGTH), nullable=False),
    sa.Column("hash", Text(_HASH_LENGTH), nullable=False),
    sa.Index("ix_audit_entries_subject", "subject"),
    sa.Index("ix_audit_entries_record", "record_type", "record_id"),
    **_OPTIONS,
)

audit_payloads = sa.Table(
    "audit_payloads",
    metadata,
    sa.Column("sequence", _SEQUENCE, primary_key=True, autoincrement=False),
    _id("subject"),
    sa.Column("payload", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")),
    sa.Column("salt", Text(32), nullable=True),
    _at("erased_at", nullable=True),
    sa.Index("ix_audit_payloads_subject", "subject"),
    **_OPTIONS,
)

audit_chain = sa.Table(
    "audit_chain",
    metadata,
    sa.Column("chain", Text(16), primary_key=True),
    **_OPTIONS,
)

consent_ledger = sa.Table(
    "consent_ledger",
    metadata,
    sa.Column("seq", _SEQUENCE, primary_key=True, autoincrement=True),
    sa.Column("kind", Text(16), nullable=False),
    _id("record_id", nullable=False),
    _id("subject", nullable=False),
    sa.Column("purpose", Text(100), nullable=True),
    _enum("channel", nullable=True),
    _enum("legal_basis", nullable=True),
    _enum("jurisdiction", nullable=True),
    _at("captured_at", nullable=True),
    sa.Column("captured_from", Text(200), nullable=True),
    _at("valid_from", nullable=True),
    _at("valid_until", nullable=True),
    sa.Column("sensitive", sa.Boolean, nullable=True),
    sa.Column("provision_recipient", Text(200), nullable=True),
    sa.Column("publication", sa.Boolean, nullable=True),
    sa.Column("cross_border_recipient", Text(200), nullable=True),
    sa.Column("guardian", Text(200), nullable=True),
    _id("recorded_by"),
    _at("withdrawn_at", nullable=True),
    sa.Column("reason", Text(200), nullable=True),
    sa.UniqueConstraint("kind", "record_id", name="uq_consent_ledger_kind_record_id"),
    sa.Index("ix_consent_ledger_subject_seq", "subject", "seq"),
    **_OPTIONS,
)

match_records = sa.Table(
    "match_records",
    metadata,
    sa.Column("seq", _SEQUENCE, primary_key=True, autoincrement=True),
    _id("customer_id", nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("digest", Text(32), nullable=False),
    sa.Column("counters", sa.JSON, nullable=False),
    sa.Index("ix_match_records_customer_id", "customer_id", unique=True),
    **_OPTIONS,
)

match_keys = sa.Table(
    "match_keys",
    metadata,
    sa.Column("key_hash", KeyText(32), primary_key=True),
    sa.Column("seq", _SEQUENCE, primary_key=True, autoincrement=False),
    **_OPTIONS,
)

match_counts = sa.Table(
    "match_counts",
    metadata,
    sa.Column("name", KeyText(33), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    **_OPTIONS,
)


erasure_requests = sa.Table(
    "erasure_requests",
    metadata,
    *_entity_columns(),
    _id("subject", nullable=False),
    _at("requested_at"),
    _at("completed_at", nullable=True),
    *_stamps(),
    _document(),
    sa.Index("ix_erasure_requests_subject", "subject"),
    sa.Index("ix_erasure_requests_updated_at", "updated_at"),
    **_OPTIONS,
)
"""The erasure register: progress of each erasure, no personal data (kept forever)."""

subject_keys = sa.Table(
    "subject_keys",
    metadata,
    _id("subject", primary_key=True),
    # VARBINARY on MariaDB (its BLOB(64) would become a TINYBLOB that migrations compare unequal)
    sa.Column("key", KEY_BYTES, nullable=False),
    _at("created_at"),
    **_OPTIONS,
)
"""Per-subject data keys of :class:`~crmcore.adapters.sql.keys.SqlKeyStore` (crypto-shredding).

Create it in another database than the data it protects (see ``SqlKeyStore``)."""


issued_actions = sa.Table(
    "issued_actions",
    metadata,
    # the SHA-256 of the action's id: a unique key of fixed width whatever the id's length
    sa.Column("key", Text(64), primary_key=True),
    sa.Column("action_id", sa.Text, nullable=False),
    _enum("kind"),
    sa.Column("rule", Text(ID_LENGTH), nullable=False),
    sa.Column("subject", Text(ID_LENGTH), nullable=False),
    _id("subject_id", nullable=False),
    _at("due_at"),
    _at("issued_at"),
    sa.Index("ix_issued_actions_subject_id", "subject_id"),
    **_OPTIONS,
)
"""Time-rule actions already issued (ids only): each is issued once, across processes."""


SUBJECT_TABLES: dict[str, str | None] = {
    "customers": "customer",
    "customer_emails": "customer",
    "customer_phones": "customer",
    "customer_tags": "customer",
    "customer_external_ids": "customer",
    "leads": "leads",
    "lead_emails": "leads",
    "lead_phones": "leads",
    "opportunities": "opportunities",
    "activities": "activities",
    "cases": "cases",
    "survey_responses": "survey_responses",
    "orders": "orders",
    "consents": "consents",
    "consent_ledger": "consent_ledger",
    "merges": "merges",
    "merge_members": "merges",
    "event_outbox": "events",
    "event_history": "events",
    "audit_entries": "audit",
    "audit_payloads": "audit",
    "audit_chain": None,
    "erasure_requests": "erasures",
    "subject_keys": "keys",
    # the match index: a customer's matching features, rewritten by every save of the
    # customer (erasure included); keys and counters are hashes
    "match_records": "customer",
    "match_keys": None,
    "match_counts": None,
    # issued time-rule actions: rule names, record ids and instants, nothing personal
    "issued_actions": None,
}
"""Every table -> the subject source (:data:`crmcore.privacy.subject.SUBJECT_SOURCES`) that
exports and erases what it holds of a person, or ``None`` if it holds nothing personal.

A test fails when a table is added without an entry here: export and erasure stay complete."""


def missing_tables(engine: sa.Engine) -> list[str]:
    """Return the names of crmcore's tables that ``engine``'s database lacks (read only).

    A rehearsal (``crmcore import --dry-run``) uses this to avoid creating
    anything: with no tables, nothing is stored to compare against.

    >>> engine = sa.create_engine("sqlite://")
    >>> "customers" in missing_tables(engine)
    True
    >>> metadata.create_all(engine)
    >>> missing_tables(engine)
    []

    Raises:
        StorageError: If the database cannot be read.
    """
    try:
        present = set(sa.inspect(engine).get_table_names())
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError("inspect schema", str(exc).splitlines()[0]) from exc
    return sorted(set(metadata.tables) - present)
