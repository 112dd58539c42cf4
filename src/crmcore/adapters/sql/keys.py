"""Per-subject data keys in SQL: the ``subject_keys`` table (crypto-shredding).

:class:`SqlKeyStore` implements :class:`~crmcore.ports.KeyStore` with its
own short transactions on an engine. Give it an engine on *another*
database than the data it protects: a backup of the data then holds only
ciphertext, and a key deleted for an erasure does not come back when that
backup is restored.

>>> from crmcore.adapters.sql import create_engine
>>> keys = SqlKeyStore(create_engine("sqlite://"), create=True)
>>> key = keys.get_or_create("c-1", b"k" * 32)
>>> keys.get("c-1") == key, keys.delete("c-1"), keys.get("c-1")
(True, True, None)

The batch forms read or make the keys of many subjects in one or a few
statements (a unit of work seals or opens a whole batch of customers with them):

>>> made = keys.get_or_create_many({"c-2": b"a" * 32, "c-3": b"b" * 32})
>>> keys.get_or_create_many({"c-2": b"x" * 32}) == {"c-2": made["c-2"]}
True
>>> sorted(keys.get_many(["c-2", "c-3", "c-4"]))
['c-2', 'c-3']
>>> keys.engine.dispose()

May import: ``crmcore.adapters.sql``, ``crmcore.errors``, ``crmcore.clock``; SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from crmcore.adapters.sql.engine import configure_engine
from crmcore.adapters.sql.session import translating
from crmcore.adapters.sql.tables import ID_LENGTH, subject_keys
from crmcore.clock import Clock, SystemClock
from crmcore.errors import InvalidValueError, StorageError

__all__ = ["SqlKeyStore"]

_K = subject_keys.c
_MAX_KEY = 64
_READ_CHUNK = 500  # subjects per IN (...) clause
_WRITE_CHUNK = 300  # rows per multi-row INSERT (3 parameters each: under SQLite's 999)

_T = TypeVar("_T")


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_key(new_key: object) -> bytes:
    if not isinstance(new_key, bytes) or not 0 < len(new_key) <= _MAX_KEY:
        raise InvalidValueError("key", "<bytes>", f"a key must be 1 to {_MAX_KEY} bytes")
    return new_key


def _insert_missing(dialect: str, rows: list[dict[str, Any]]) -> Any:
    """An INSERT of ``rows`` that skips a subject already stored (no error, no change)."""
    if dialect == "postgresql":
        return postgresql.insert(subject_keys).values(rows).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(subject_keys).values(rows).on_conflict_do_nothing()
    # MySQL / MariaDB: the values are checked before (ids and key lengths fit their columns),
    # so IGNORE only skips duplicate subjects.
    return subject_keys.insert().values(rows).prefix_with("IGNORE")


def _subject(subject: str) -> str:
    if not isinstance(subject, str) or not subject or len(subject) > ID_LENGTH:
        raise InvalidValueError("subject", subject, f"an id of 1 to {ID_LENGTH} characters")
    return subject


class SqlKeyStore:
    """A :class:`~crmcore.ports.KeyStore` on a SQLAlchemy engine (SQLite, PostgreSQL, MariaDB).

    Args:
        engine: The engine of the key database.
        create: Create the ``subject_keys`` table if it is missing.
        clock: Where creation times come from.
    """

    def __init__(self, engine: Engine, *, create: bool = False, clock: Clock | None = None) -> None:
        self.engine = configure_engine(engine)
        self._clock: Clock = clock if clock is not None else SystemClock()
        if create:
            with translating("create key table"):
                subject_keys.create(self.engine, checkfirst=True)

    def get(self, subject: str) -> bytes | None:
        """Return the subject's key, or ``None``.

        Raises:
            StorageError: If the database fails.
        """
        statement = sa.select(_K.key).where(_K.subject == _subject(subject))
        with translating("read subject key"), self.engine.connect() as conn:
            key = conn.execute(statement).scalar_one_or_none()
        return None if key is None else bytes(key)

    def get_or_create(self, subject: str, new_key: bytes) -> bytes:
        """Return the subject's key, storing ``new_key`` when it has none.

        Raises:
            InvalidValueError: If ``new_key`` is empty or longer than 64 bytes.
            StorageError: If the database fails.
        """
        _check_key(new_key)
        return self.get_or_create_many({_subject(subject): new_key})[subject]

    def get_many(self, subjects: Iterable[str]) -> dict[str, bytes]:
        """Return the keys of those of ``subjects`` that have one (a query per 500 subjects).

        Raises:
            InvalidValueError: If a subject is not an id.
            StorageError: If the database fails.
        """
        wanted = list(dict.fromkeys(_subject(s) for s in subjects))
        if not wanted:
            return {}
        with translating("read subject keys"), self.engine.connect() as conn:
            return self._read(conn, wanted)

    def _read(self, conn: Connection, wanted: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for chunk in _chunks(wanted, _READ_CHUNK):
            statement = sa.select(_K.subject, _K.key).where(_K.subject.in_(chunk))
            found.update((str(row[0]), bytes(row[1])) for row in conn.execute(statement))
        return found

    def get_or_create_many(self, new_keys: Mapping[str, bytes]) -> dict[str, bytes]:
        """Return every subject's key, storing its new key from ``new_keys`` when it has none.

        One query reads the stored keys; the missing ones are inserted in one
        short transaction (a multi-row insert per 300 subjects) that skips a
        subject a concurrent caller stored meanwhile — then that caller's key
        is read back, so racing callers end with one key per subject.

        Raises:
            InvalidValueError: If a subject is not an id or a new key is empty
                or longer than 64 bytes.
            StorageError: If the database fails.
        """
        wanted = {_subject(s): _check_key(k) for s, k in new_keys.items()}
        if not wanted:
            return {}
        with translating("read subject keys"), self.engine.connect() as conn:
            found = self._read(conn, list(wanted))
        missing = [s for s in wanted if s not in found]
        if not missing:
            return found
        now = self._clock.now()
        stored = 0
        with translating("store subject keys"), self.engine.begin() as conn:
            dialect = conn.dialect.name
            for chunk in _chunks(missing, _WRITE_CHUNK):
                rows = [{"subject": s, "key": wanted[s], "created_at": now} for s in chunk]
                stored += max(conn.execute(_insert_missing(dialect, rows)).rowcount, 0)
        if stored == len(missing):  # every insert applied: the new keys are the stored ones
            found.update((s, wanted[s]) for s in missing)
            return found
        # A concurrent caller stored some of them first: theirs are the keys.
        with translating("read subject keys"), self.engine.connect() as conn:
            found.update(self._read(conn, missing))
        lost = [s for s in missing if s not in found]
        if lost:
            raise StorageError(
                "store subject keys",
                f"the key of subject {lost[0]!r} was deleted while it was being made; try again",
            )
        return found

    def delete(self, subject: str) -> bool:
        """Delete the subject's key; return whether there was one.

        Raises:
            StorageError: If the database fails.
        """
        statement = subject_keys.delete().where(_K.subject == _subject(subject))
        with translating("delete subject key"), self.engine.begin() as conn:
            return bool(conn.execute(statement).rowcount)
