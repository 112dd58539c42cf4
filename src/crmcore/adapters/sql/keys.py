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
from crmcore.errors import ConcurrencyError, InvalidValueError, StorageError

__all__ = ["SqlKeyStore"]

_K = subject_keys.c
_MAX_KEY = 64
_READ_CHUNK = 500  # subjects per IN (...) clause
_ATTEMPTS = 3  # inserts of missing keys racing with other creators (deadlock retries)

_T = TypeVar("_T")

# Built once: building a statement costs more than running a key lookup.
_ONE = sa.select(_K.subject, _K.key).where(_K.subject == sa.bindparam("subject"))
_SOME = sa.select(_K.subject, _K.key).where(
    _K.subject.in_(sa.bindparam("subjects", expanding=True))
)


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_key(new_key: object) -> bytes:
    if not isinstance(new_key, bytes) or not 0 < len(new_key) <= _MAX_KEY:
        raise InvalidValueError("key", "<bytes>", f"a key must be 1 to {_MAX_KEY} bytes")
    return new_key


# Built once per dialect (SQLAlchemy then caches the compiled form); run as executemany.
# An INSERT that skips a subject already stored: no error, no change.
_INSERT_SKIPPING: dict[str, Any] = {
    "postgresql": postgresql.insert(subject_keys).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(subject_keys).on_conflict_do_nothing(),
    # MySQL / MariaDB: the values are checked before (ids and key lengths fit their
    # columns), so IGNORE only skips duplicate subjects.
    "mysql": subject_keys.insert().prefix_with("IGNORE"),
}


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
        with translating("read subject key"), self.engine.connect() as conn:
            row = conn.execute(_ONE, {"subject": _subject(subject)}).one_or_none()
        return None if row is None else bytes(row[1])

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
            if len(chunk) == 1:
                rows = conn.execute(_ONE, {"subject": chunk[0]})
            else:
                rows = conn.execute(_SOME, {"subjects": list(chunk)})
            found.update((str(row[0]), bytes(row[1])) for row in rows)
        return found

    def get_or_create_many(self, new_keys: Mapping[str, bytes]) -> dict[str, bytes]:
        """Return every subject's key, storing its new key from ``new_keys`` when it has none.

        One query (per 500 subjects) reads the stored keys; the missing ones
        are inserted in one short transaction, in subject order, by an insert
        that skips a subject a concurrent caller stored meanwhile; then they
        are read back, so racing callers end with the key stored first. A
        deadlock with another creator is retried.

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
        missing = sorted(s for s in wanted if s not in found)  # one lock order for everyone
        for attempt in range(_ATTEMPTS):
            if not missing:
                break
            try:
                if self._insert_skipping({s: wanted[s] for s in missing}):
                    found.update((s, wanted[s]) for s in missing)
                    return found
            except ConcurrencyError:  # a deadlock with a concurrent creator: read, then retry
                if attempt == _ATTEMPTS - 1:
                    raise
            # Read back what is stored: ours, or the key of a caller that stored it first.
            with translating("read subject keys"), self.engine.connect() as conn:
                found.update(self._read(conn, missing))
            missing = [s for s in missing if s not in found]
        if missing:
            raise StorageError(
                "store subject keys",
                f"the key of subject {missing[0]!r} was deleted while it was being made",
            )
        return found

    def _insert_skipping(self, new_keys: Mapping[str, bytes]) -> bool:
        """Insert keys in one transaction, skipping the subjects stored meanwhile.

        Return whether the one key of ``new_keys`` was surely stored: a
        one-row insert's row count says so on SQLite and MariaDB (psycopg
        reports none here). Otherwise, and for a batch (whose count is not
        reliable on every driver), the caller reads the keys back.
        """
        now = self._clock.now()
        rows = [{"subject": s, "key": k, "created_at": now} for s, k in new_keys.items()]
        with translating("store subject keys"), self.engine.begin() as conn:
            name = "mysql" if conn.dialect.name == "mariadb" else conn.dialect.name
            if len(rows) == 1:
                return conn.execute(_INSERT_SKIPPING[name], rows[0]).rowcount == 1
            conn.execute(_INSERT_SKIPPING[name], rows)
        return False

    def delete(self, subject: str) -> bool:
        """Delete the subject's key; return whether there was one.

        Raises:
            StorageError: If the database fails.
        """
        statement = subject_keys.delete().where(_K.subject == _subject(subject))
        with translating("delete subject key"), self.engine.begin() as conn:
            return bool(conn.execute(statement).rowcount)
