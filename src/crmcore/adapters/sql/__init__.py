"""SQLAlchemy Core storage for SQLite, PostgreSQL and MySQL/MariaDB (extra ``sql``).

>>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
>>> engine = create_engine("sqlite://")
>>> create_schema(engine)
>>> store = SqlStore(engine)
>>> with store.unit_of_work() as uow:
...     uow.customers.count()
0
>>> engine.dispose()

- :mod:`~crmcore.adapters.sql.tables` — the schema (:data:`metadata`), documented column by column;
- :mod:`~crmcore.adapters.sql.engine` — :func:`create_engine`, :func:`create_schema`;
- :mod:`~crmcore.adapters.sql.store` — :class:`SqlStore`, :class:`SqlUnitOfWork`,
  :func:`relay_outbox`;
- :mod:`~crmcore.adapters.sql.repository` — ``Sql<Aggregate>Repository``;
- :mod:`~crmcore.adapters.sql.history` — :class:`SqlEventHistory`, the event history.
- :mod:`~crmcore.adapters.sql.match_index` — :class:`SqlMatchIndex` (``uow.match_index``), the
  persistent duplicate index, and :func:`backfill_match_index`;
- :mod:`~crmcore.adapters.sql.migrations` — Alembic migrations of these tables (not imported
  here; ``crmcore db upgrade``).
- :mod:`~crmcore.adapters.sql.audit` and :mod:`~crmcore.adapters.sql.consent_ledger` —
  :class:`SqlAuditLog` (the hash-chained audit log) and :class:`SqlConsentLedger`.
- :mod:`~crmcore.adapters.sql.frames` — ``read_frame``: polars frames straight from the
  tables (needs the ``frames`` extra too; not imported here).

Drivers: SQLite (stdlib), PostgreSQL through psycopg 3 (``postgresql+psycopg://``),
MySQL/MariaDB through PyMySQL (``mysql+pymysql://``).

May import: ``crmcore.ports``, ``crmcore.domain``, ``crmcore.serialization``,
``crmcore.errors``, ``crmcore.clock``; SQLAlchemy.
"""

from crmcore.errors import MissingExtraError

try:
    import sqlalchemy
except ModuleNotFoundError as exc:  # the extra is missing: say which one installs it
    if (exc.name or "").partition(".")[0] != "sqlalchemy":
        raise
    raise MissingExtraError("sql", "crmcore.adapters.sql", "sqlalchemy") from exc
else:
    del sqlalchemy

from crmcore.adapters.sql.audit import SqlAuditLog
from crmcore.adapters.sql.consent_ledger import SqlConsentLedger
from crmcore.adapters.sql.engine import configure_engine, create_engine, create_schema, drop_schema
from crmcore.adapters.sql.history import SqlEventHistory
from crmcore.adapters.sql.issued import SqlIssuedActions
from crmcore.adapters.sql.keys import SqlKeyStore
from crmcore.adapters.sql.match_index import (
    MatchIndexSettings,
    SqlMatchIndex,
    backfill_match_index,
)
from crmcore.adapters.sql.repository import (
    SqlActivityRepository,
    SqlCaseRepository,
    SqlConsentRepository,
    SqlCustomerRepository,
    SqlErasureRepository,
    SqlLeadRepository,
    SqlMergeRepository,
    SqlOpportunityRepository,
    SqlOrderRepository,
    SqlRepository,
    SqlSurveyResponseRepository,
)
from crmcore.adapters.sql.session import SqlSession
from crmcore.adapters.sql.store import SqlStore, SqlUnitOfWork, relay_outbox
from crmcore.adapters.sql.tables import metadata

__all__ = [
    "MatchIndexSettings",
    "SqlActivityRepository",
    "SqlAuditLog",
    "SqlCaseRepository",
    "SqlConsentLedger",
    "SqlConsentRepository",
    "SqlCustomerRepository",
    "SqlErasureRepository",
    "SqlEventHistory",
    "SqlIssuedActions",
    "SqlKeyStore",
    "SqlLeadRepository",
    "SqlMatchIndex",
    "SqlMergeRepository",
    "SqlOpportunityRepository",
    "SqlOrderRepository",
    "SqlRepository",
    "SqlSession",
    "SqlStore",
    "SqlSurveyResponseRepository",
    "SqlUnitOfWork",
    "backfill_match_index",
    "configure_engine",
    "create_engine",
    "create_schema",
    "drop_schema",
    "metadata",
    "relay_outbox",
]
