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
>>> keys.engine.dispose()

May import: ``crmcore.adapters.sql``, ``crmcore.errors``, ``crmcore.clock``; SQLAlchemy.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crmcore.adapters.sql.engine import configure_engine
from crmcore.adapters.sql.session import translating
from crmcore.adapters.sql.tables import ID_LENGTH, subject_keys
from crmcore.clock import Clock, SystemClock
from crmcore.errors import InvalidValueError, StorageError

__all__ = ["SqlKeyStore"]

_K = subject_keys.c
_MAX_KEY = 64


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
        if not isinstance(new_key, bytes) or not 0 < len(new_key) <= _MAX_KEY:
            raise InvalidValueError("key", "<bytes>", f"a key must be 1 to {_MAX_KEY} bytes")
        found = self.get(subject)
        if found is not None:
            return found
        try:
            with translating("store subject key"), self.engine.begin() as conn:
                conn.execute(
                    subject_keys.insert().values(
                        subject=subject, key=new_key, created_at=self._clock.now()
                    )
                )
        except StorageError:  # a concurrent insert may have won: read its key
            found = self.get(subject)
            if found is None:
                raise
            return found
        return new_key

    def delete(self, subject: str) -> bool:
        """Delete the subject's key; return whether there was one.

        Raises:
            StorageError: If the database fails.
        """
        statement = subject_keys.delete().where(_K.subject == _subject(subject))
        with translating("delete subject key"), self.engine.begin() as conn:
            return bool(conn.execute(statement).rowcount)
