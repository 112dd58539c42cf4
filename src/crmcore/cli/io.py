"""Reading import files and opening the database for the ``crmcore`` command.

Files are read by :func:`crmcore.adapters.tabular.read_table` (CSV with any
delimiter, JSON lines, spreadsheets; encoding and delimiter detected); this
module turns its rows into the dict rows the import cleans.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

from crmcore.adapters.memory import MemoryStore
from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql.tables import missing_tables
from crmcore.adapters.tabular import (
    JSON_LINES_SUFFIXES,
    SAMPLE_BYTES,
    SPREADSHEET_SUFFIXES,
    Table,
    TableError,
    read_table,
)
from crmcore.adapters.tabular import detect_encoding as detect_sample_encoding
from crmcore.errors import ConfigurationError, CrmError
from crmcore.ports import Encryptor, KeyStore, Store
from crmcore.services.cleaning import ROW_ERROR, ROW_LINE

__all__ = [
    "KEY_DB_HELP",
    "InputError",
    "add_key_db_argument",
    "count_rows",
    "database_url",
    "detect_encoding",
    "import_rows",
    "key_store_of",
    "open_encryptor",
    "open_store",
    "open_table",
    "read_rows",
    "require_database_file",
    "sqlite_file",
]


class InputError(CrmError, ValueError):
    """An input file cannot be read (missing, empty, no header, not a table)."""


def detect_encoding(path: Path) -> str:
    """Return the encoding :func:`open_table` would read ``path`` with (from its first megabyte).

    Raises:
        InputError: If the file cannot be opened.
    """
    try:
        with path.open("rb") as handle:
            sample = handle.read(SAMPLE_BYTES)
            complete = not handle.read(1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return detect_sample_encoding(sample, complete=complete)


def open_table(path: Path, encoding: str | None = None, delimiter: str | None = None) -> Table:
    """Open an import file: its headers, what was found opening it, and its rows.

    Args:
        path: A CSV (any delimiter), JSON-lines or spreadsheet file.
        encoding: The text encoding; None detects UTF-8, UTF-16 or GB18030.
        delimiter: The cell delimiter; None detects comma, semicolon, tab or pipe.

    Returns:
        The table (see :class:`crmcore.adapters.tabular.Table`).

    Raises:
        InputError: If the file is missing, empty, has no header or is not a table.
        ConfigurationError: If the encoding or delimiter given is not usable.
        MissingExtraError: If the file is a spreadsheet and the ``xlsx`` extra is missing.
    """
    try:
        return read_table(path, encoding=encoding, delimiter=delimiter)
    except TableError as exc:
        raise InputError(str(exc)) from exc


def import_rows(table: Table) -> Generator[dict[str, str | None], None, None]:
    """Yield the table's rows as the import reads them: header -> text, plus the line.

    Each row carries :data:`~crmcore.services.cleaning.ROW_LINE` (the line it
    starts on). A row the reader could not take (more cells than headers, a
    cell too long, a broken JSON line) also carries
    :data:`~crmcore.services.cleaning.ROW_ERROR` ``"line N: reason"``, so the
    cleaner rejects and reports it; the rows after it are read as usual.

    Args:
        table: An opened table.

    Yields:
        One dict per record of the file, in file order.

    Raises:
        InputError: If the file can no longer be read.
    """
    headers = table.headers
    try:
        for _, line, cells, problem in table.records():
            # cells are exactly as many as headers (padded or trimmed), or none
            row: dict[str, str | None] = dict(zip(headers, cells))  # noqa: B905
            row[ROW_LINE] = str(line)
            if problem is not None:
                row[ROW_ERROR] = f"line {line}: {problem}"
            yield row
    except TableError as exc:
        raise InputError(str(exc)) from exc


def read_rows(
    path: Path, *, encoding: str | None = None, delimiter: str | None = None
) -> tuple[list[str], Iterator[dict[str, str | None]]]:
    """Open an import file and return its headers and its rows (see :func:`import_rows`).

    Repeated headers come back renamed (``邮箱``, ``邮箱 (2)``); use
    :func:`open_table` to see each renaming as an issue.

    Raises:
        InputError: If the file is missing, empty, has no header or is not a table.
        ConfigurationError: If the encoding or delimiter given is not usable.
        MissingExtraError: If the file is a spreadsheet and the ``xlsx`` extra is missing.
    """
    table = open_table(path, encoding, delimiter)
    return list(table.headers), import_rows(table)


def count_rows(path: Path) -> int | None:
    """Return roughly how many rows the file has (lines minus the header), for progress bars.

    None for a spreadsheet (rows are not lines) or a file that cannot be read.
    """
    suffix = path.suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES:
        return None
    try:
        with path.open("rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None
    return lines if suffix in JSON_LINES_SUFFIXES else max(lines - 1, 0)


def sqlite_file(url: str) -> str:
    """Return the file path of an ``sqlite:///FILE`` URL, or "" for any other database.

    >>> sqlite_file("sqlite:////tmp/crm.db"), sqlite_file("postgresql+psycopg://db/crm")
    ('/tmp/crm.db', '')
    """
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""


def require_database_file(url: str) -> None:
    """Refuse an ``sqlite:///FILE`` URL whose file does not exist (reading must not create it).

    Raises:
        InputError: If the URL names an SQLite file that does not exist.
    """
    local = sqlite_file(url)
    if local and not Path(local).is_file():
        raise InputError(f"no such database file: {local}")


def database_url(value: str) -> str:
    """Accept a SQLAlchemy URL, or a file path meaning an SQLite database there."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


KEY_DB_HELP = (
    "the key database of an encrypted store (SQLAlchemy URL or SQLite file path, "
    "another database than --db): sensitive fields are sealed and opened under each "
    "customer's key kept there (needs the crypto extra)"
)
"""The help of ``--key-db`` (every command that reads or writes customers has it)."""


def add_key_db_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--key-db URL`` to a command that reads or writes customers."""
    parser.add_argument("--key-db", metavar="URL", default=None, help=KEY_DB_HELP)


@contextmanager
def open_encryptor(
    key_db: str | None, *, db: str, create: bool
) -> Generator[Encryptor | None, None, None]:
    """Open the key database ``key_db`` as an AES-GCM encryptor for the block (``None``: none).

    With ``create`` the key table is made if missing (an import); otherwise
    the key database must exist and hold crmcore's key table, so that a
    wrong path is an error and not a store whose sealed fields read blank.

    Args:
        key_db: The ``--key-db`` value, or ``None`` for a store without encryption.
        db: The ``--db`` value: the keys must live in another database.
        create: Create the key table when it is missing.

    Raises:
        ConfigurationError: If ``key_db`` names the data database itself, or
            has no key table when reading.
        InputError: If ``key_db`` names an SQLite file that does not exist when reading.
        MissingExtraError: If the ``crypto`` extra is not installed.
        StorageError: If the key database fails.

    >>> with open_encryptor(None, db="crm.db", create=False) as encryptor:
    ...     print(encryptor)
    None
    >>> with open_encryptor("crm.db", db="crm.db", create=True) as encryptor:
    ...     pass
    Traceback (most recent call last):
    ...
    crmcore.errors.ConfigurationError: --key-db names the data database itself: ...
    """
    if key_db is None:
        yield None
        return
    url = database_url(key_db)
    if url == database_url(db):
        raise ConfigurationError(
            "--key-db names the data database itself: keep the keys in another database, "
            "so that a backup of the data holds only ciphertext and an erased key stays erased"
        )
    if not create:
        require_database_file(url)
    from crmcore.adapters.crypto import AesGcmEncryptor  # noqa: PLC0415 - the crypto extra
    from crmcore.adapters.sql.keys import SqlKeyStore  # noqa: PLC0415
    from crmcore.adapters.sql.tables import subject_keys  # noqa: PLC0415

    engine = create_engine(url)
    try:
        if not create and subject_keys.name in missing_tables(engine):
            raise ConfigurationError(
                f"--key-db {key_db} holds no key table ({subject_keys.name}): "
                "it is not the key database of an encrypted store"
            )
        yield AesGcmEncryptor(SqlKeyStore(engine, create=create))
    finally:
        engine.dispose()


def key_store_of(store: Store) -> KeyStore | None:
    """Return the key store of a store opened with ``--key-db`` (for erasure's crypto-shredding).

    >>> print(key_store_of(MemoryStore()))
    None
    """
    if isinstance(store, SqlStore) and store.encryption is not None:
        keys: KeyStore | None = getattr(store.encryption.encryptor, "keys", None)
        return keys
    return None


@contextmanager
def open_store(db: str, *, dry_run: bool, key_db: str | None = None) -> Iterator[Store]:
    """Open the database at ``db`` (a URL or an SQLite file path) for the length of the block.

    Its tables are created if missing, except in a dry run, which creates
    nothing: no SQLite file, no table. A dry run on a database without
    crmcore's tables gets an empty in-memory store (nothing is stored there
    to compare with).

    Args:
        db: The ``--db`` value.
        dry_run: Create nothing.
        key_db: The ``--key-db`` value: the store seals and opens customers'
            sensitive fields with the keys there (see :func:`open_encryptor`).

    Raises:
        ConfigurationError: If the URL is not usable, or ``key_db`` is not
            a key database (see :func:`open_encryptor`).
        StorageError: If the database fails.
    """
    url = database_url(db)
    local = sqlite_file(url)
    if dry_run and local and not Path(local).exists():
        yield MemoryStore()  # nothing stored yet: nothing to compare with
        return
    engine = create_engine(url)
    try:
        if not dry_run:
            create_schema(engine)
        elif missing_tables(engine):
            yield MemoryStore()
            return
        with open_encryptor(key_db, db=db, create=not dry_run) as encryptor:
            yield SqlStore(engine, encryptor=encryptor)
    finally:
        engine.dispose()
