"""What a SQL repository needs from its unit of work: a :class:`SqlSession`.

The unit of work (:class:`~crmcore.adapters.sql.store.SqlUnitOfWork`) owns
the connection and the transaction; it builds one :class:`SqlSession` and
hands it to each repository, as a unit of work hands a session to its
repositories. Repositories know nothing else of the unit of work, and this
module imports neither, so there is no import circle.

:func:`translating` is the one edge where SQLAlchemy and driver exceptions
become crmcore errors; repositories, the unit of work and the outbox relay
all use it.

May import: ``crmcore.errors``; SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmcore.errors import ConcurrencyError, StorageError

__all__ = ["SqlSession", "translating"]


@dataclass(frozen=True, slots=True)
class SqlSession:
    """The connection and the converter a repository works with.

    Attributes:
        connection: Returns the unit of work's open connection for
            ``operation`` (a description such as ``"save customer"``), or
            raises :class:`~crmcore.errors.StorageError` naming it when the
            unit of work is not active.
        converter: The cattrs JSON converter of the store, typed loosely:
            adapters do not import cattrs.
    """

    connection: Callable[[str], Connection]
    converter: Any


_COLUMN = re.compile(r"column [`'\"]?(?:\w+[`'\"]?\.[`'\"]?)*(\w+)[`'\"]?", re.IGNORECASE)
_CONCURRENCY_CODES = {"40001", "40P01"}  # PostgreSQL: serialization failure, deadlock
_MYSQL_CONCURRENCY = {1205, 1213}  # lock wait timeout, deadlock
# SQLite: another writer holds the lock, or a commit made this transaction's snapshot stale
_SQLITE_CONCURRENCY = {"SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED"}


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def _race(exc: BaseException) -> sa.exc.DBAPIError | None:
    """The error that lost a race: ``exc`` or one it was raised while handling.

    MariaDB rolls the whole transaction back on a deadlock: leaving a savepoint
    then fails with "SAVEPOINT ... does not exist", raised while handling the
    deadlock. The deadlock is what the caller must hear of, so the chain of
    errors is searched, not only the last.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa.exc.DBAPIError) and _lost_race(current):
            return current
        current = current.__cause__ or current.__context__
    return None


def _lost_race(exc: sa.exc.DBAPIError) -> bool:
    orig = getattr(exc, "orig", None)
    if orig is None:
        return False
    if getattr(orig, "sqlstate", None) in _CONCURRENCY_CODES:
        return True
    if getattr(orig, "sqlite_errorname", None) in _SQLITE_CONCURRENCY:
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in _MYSQL_CONCURRENCY


@contextlib.contextmanager
def translating(operation: str) -> Iterator[None]:
    """Translate SQLAlchemy and driver exceptions raised in the block into crmcore errors.

    Args:
        operation: What was being done (``"save customer"``), for the message.

    Raises:
        ConcurrencyError: For deadlocks, lock timeouts and serialization failures.
        StorageError: For every other database failure, naming the column
            when the database says which.
    """
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        race = _race(exc)
        if race is not None:
            raise ConcurrencyError(f"{operation} failed: {_reason(race)}") from exc
        reason = _reason(exc)
        match = _COLUMN.search(reason)
        raise StorageError(operation, reason, field=match.group(1) if match else None) from exc
