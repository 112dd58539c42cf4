"""Storage adapters: implementations of :mod:`crmcore.ports` for real infrastructure.

- :mod:`crmcore.adapters.memory` — the in-memory reference (stdlib only).
- :mod:`crmcore.adapters.sql` — SQLAlchemy Core for SQLite, PostgreSQL and
  MySQL/MariaDB (extra ``sql``).

Nothing is imported here, so importing one adapter never pulls in another's
third-party dependencies. Hosts pick adapters in their composition root.

May import: ``crmcore.ports``, ``crmcore.domain``, ``crmcore.serialization``,
``crmcore.segments``, ``crmcore.errors``, ``crmcore.clock``.
"""
