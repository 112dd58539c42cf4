"""Alembic migrations of crmcore's tables, with a version table of crmcore's own.

Every layout of :mod:`crmcore.adapters.sql.tables` that was released has a
revision (one file per revision in ``versions/``, ids ``crmcore_0001``,
``crmcore_0002``...; the first carries the branch label ``crmcore``). The
revision applied is kept in :data:`VERSION_TABLE`
(``crmcore_alembic_version``), never in the host's ``alembic_version``, so
crmcore's migrations and the host's own live side by side in one database.

Three ways to run them (see ``docs/migrations.md``):

- :func:`upgrade` on an engine or a connection — from the host's own
  Alembic ``env.py`` (on the connection it migrates with), at start-up, or
  in a test;
- ``crmcore db upgrade --db URL`` / ``crmcore db current --db URL``;
- Alembic's own command line, with ``script_location =
  crmcore.adapters.sql:migrations`` in an ini file (:func:`alembic_config`
  builds the same configuration in code).

A database whose tables were made by
:func:`~crmcore.adapters.sql.create_schema` (or by an older crmcore) has no
version table: :func:`upgrade` recognises its layout
(:func:`detect_revision`), stamps it and upgrades from there.

>>> from crmcore.adapters.sql import create_engine
>>> engine = create_engine("sqlite://")
>>> print(current(engine))
None
>>> result = upgrade(engine)
>>> result.before is None, result.after == head()
(True, True)
>>> current(engine) == head()
True
>>> engine.dispose()

May import: ``crmcore.adapters.sql.tables``, ``crmcore.adapters.sql.engine``,
``crmcore.errors``; Alembic, SQLAlchemy, attrs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import alembic.context
import alembic.op
import attrs
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from crmcore.adapters.sql.engine import configure_engine
from crmcore.adapters.sql.tables import metadata
from crmcore.errors import ConfigurationError, StorageError

__all__ = [
    "SCRIPT_LOCATION",
    "VERSION_TABLE",
    "UpgradeResult",
    "alembic_config",
    "current",
    "detect_revision",
    "head",
    "include_object",
    "revisions",
    "run_environment",
    "stamp",
    "upgrade",
]

VERSION_TABLE = "crmcore_alembic_version"
"""The table holding the crmcore revision a database is at (one row)."""

SCRIPT_LOCATION = "crmcore.adapters.sql:migrations"
"""Alembic's ``script_location`` of crmcore's migrations (a package resource)."""

_CONNECTION = "crmcore_connection"


@attrs.frozen
class UpgradeResult:
    """What :func:`upgrade` did.

    Attributes:
        before: The revision the database was at (``None``: no crmcore table).
        after: The revision it is at now.
        adopted: Whether the database had crmcore's tables but no version
            table, so ``before`` was recognised from its layout and stamped.
    """

    before: str | None
    after: str
    adopted: bool


def alembic_config(bind: Engine | Connection | None = None) -> Config:
    """Return an Alembic :class:`~alembic.config.Config` for crmcore's migrations.

    Args:
        bind: The engine or connection the migrations run on (kept in
            ``config.attributes``; ``env.py`` uses it). ``None``: Alembic's
            own ``sqlalchemy.url`` option must be set instead.

    Returns:
        A configuration usable with :mod:`alembic.command`.
    """
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("version_table", VERSION_TABLE)
    if bind is not None:
        config.attributes[_CONNECTION] = bind
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def revisions() -> list[str]:
    """Return every crmcore revision id, oldest first.

    >>> revisions()[:2]
    ['crmcore_0001', 'crmcore_0002']
    """
    return [r.revision for r in reversed(list(_script().walk_revisions()))]


def head() -> str:
    """Return the newest crmcore revision (the layout of :data:`~crmcore.adapters.sql.metadata`)."""
    found = _script().get_heads()
    if len(found) != 1:  # pragma: no cover - a packaging mistake
        raise ConfigurationError(f"crmcore's migrations have {len(found)} heads: {found}")
    return found[0]


def include_object(
    obj: Any,
    name: str | None,
    type_: str,
    reflected: bool,
    compare_to: Any,
) -> bool:
    """Tell a host's Alembic autogenerate to leave crmcore's tables alone.

    Pass it as ``include_object`` to ``context.configure`` in the host's
    ``env.py``: tables (and their indexes) that crmcore's migrations own are
    skipped, everything else is compared as usual.

    >>> include_object(None, "customers", "table", True, None)
    False
    >>> include_object(None, "invoices", "table", True, None)
    True
    """
    del reflected, compare_to
    if type_ == "table":
        return name not in metadata.tables and name != VERSION_TABLE
    table = getattr(obj, "table", None)
    return table is None or table.name not in metadata.tables


@contextmanager
def _nested() -> Iterator[None]:
    """Run Alembic inside another Alembic run (a host's ``env.py``) without breaking it.

    Alembic keeps the running environment in module-level proxies
    (``alembic.context``, ``alembic.op``); a nested run replaces and then
    deletes them, so the host's run would fail as it ends. Put its back.
    """
    outer = [getattr(module, "_proxy", None) for module in (alembic.context, alembic.op)]
    try:
        yield
    finally:
        for proxy in outer:
            if proxy is not None:
                proxy._install_proxy()  # Alembic's own way back (a private method)


@contextmanager
def _connected(bind: Engine | Connection, operation: str) -> Iterator[Connection]:
    """A connection in a transaction: ``bind`` itself, or one of ``bind``'s committed at the end."""
    try:
        if isinstance(bind, Connection):
            yield bind
            return
        with configure_engine(bind).begin() as conn:
            yield conn
    except CommandError as exc:
        raise StorageError(operation, str(exc).splitlines()[0]) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(operation, str(exc).splitlines()[0]) from exc


def _current(conn: Connection) -> str | None:
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    found = context.get_current_heads()
    return found[0] if found else None


def current(bind: Engine | Connection) -> str | None:
    """Return the crmcore revision ``bind``'s database is at (``None``: never stamped).

    Raises:
        StorageError: If the database cannot be read.
    """
    with _connected(bind, "read the crmcore revision") as conn:
        return _current(conn)


def detect_revision(bind: Engine | Connection) -> str | None:
    """Recognise which crmcore revision an unstamped database's tables have.

    For databases made by :func:`~crmcore.adapters.sql.create_schema` (of
    this crmcore or an older one), which have no version table.

    Returns:
        The newest revision whose layout the tables have, or ``None`` when
        there is no ``customers`` table (nothing of crmcore's).

    Raises:
        StorageError: If the database cannot be read.
    """
    with _connected(bind, "inspect the schema") as conn:
        return _detect(conn)


def _detect(conn: Connection) -> str | None:
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    if "customers" not in present:
        return None
    if "audit_entries" not in present:
        return "crmcore_0001"
    if "event_history" not in present:
        return "crmcore_0002"
    if "hash" in {c["name"] for c in inspector.get_columns("audit_chain")}:
        return "crmcore_0003"
    if "ix_cases_team" not in {i["name"] for i in inspector.get_indexes("cases")}:
        return "crmcore_0004"
    if "match_records" not in present:
        return "crmcore_0005"
    if "erasure_requests" not in present:
        return "crmcore_0006"
    if "issued_actions" not in present:
        return "crmcore_0007"
    if "ix_cases_status_opened_at" not in {i["name"] for i in inspector.get_indexes("cases")}:
        return "crmcore_0008"
    if "touched_at" not in {c["name"] for c in inspector.get_columns("customers")}:
        return "crmcore_0009"
    if conn.dialect.name == "postgresql":  # elsewhere crmcore_0011 changed nothing
        key_hash = {c["name"]: c["type"] for c in inspector.get_columns("match_keys")}["key_hash"]
        if getattr(key_hash, "collation", None) != "C":
            return "crmcore_0010"
    return "crmcore_0011"


def stamp(bind: Engine | Connection, revision: str) -> None:
    """Record that ``bind``'s database is at ``revision`` without running anything.

    Raises:
        ConfigurationError: If ``revision`` is not a crmcore revision.
        StorageError: If the database fails.
    """
    _known(revision)
    with _connected(bind, "stamp the crmcore revision") as conn, _nested():
        command.stamp(alembic_config(conn), revision, purge=True)


def _known(revision: str) -> None:
    if revision not in ("head", "heads", *revisions()):
        known = ", ".join(revisions())
        raise ConfigurationError(f"unknown crmcore revision {revision!r}; known: {known}, head")


def upgrade(bind: Engine | Connection, revision: str = "head") -> UpgradeResult:
    """Bring crmcore's tables in ``bind``'s database up to ``revision``.

    On an engine, everything runs in one transaction (PostgreSQL and
    SQLite roll all of it back on failure; MariaDB commits each DDL
    statement). On a connection (a host's ``env.py``), it runs in that
    connection's transaction. A database with crmcore's tables but no
    version table is stamped with :func:`detect_revision`'s answer first.

    Args:
        bind: The engine or connection.
        revision: The target (default: the newest).

    Returns:
        Where the database was and is.

    Raises:
        ConfigurationError: If ``revision`` is not a crmcore revision.
        StorageError: If the database fails or refuses a step.
    """
    _known(revision)
    with _connected(bind, "upgrade crmcore's tables") as conn, _nested():
        before = _current(conn)
        adopted = False
        if before is None:
            before = _detect(conn)
            if before is not None:
                command.stamp(alembic_config(conn), before)
                adopted = True
        command.upgrade(alembic_config(conn), revision)
        after = _current(conn)
    if after is None:  # pragma: no cover - Alembic always stamps
        raise StorageError("upgrade crmcore's tables", "no revision recorded after upgrading")
    return UpgradeResult(before=before, after=after, adopted=adopted)


def run_environment(context: ModuleType) -> None:
    """Run the migrations Alembic asked for; the body of crmcore's ``env.py``.

    Uses the connection :func:`alembic_config` was given, or else an engine
    on the configuration's ``sqlalchemy.url``; offline (``--sql``) it writes
    the SQL for that URL's dialect. Imported outside Alembic (a doctest
    collector), there is nothing to run and it returns.
    """
    config: Config | None = getattr(context, "config", None)
    if config is None:
        return
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": VERSION_TABLE,
        "render_as_batch": True,
        "compare_type": True,
    }
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    bind = config.attributes.get(_CONNECTION)
    if bind is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise ConfigurationError("set sqlalchemy.url, or pass a connection to alembic_config")
        bind = configure_engine(sa.create_engine(url))
    with _connected(bind, "run crmcore's migrations") as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()
