"""Export stored records as JSON lines (lossless) or CSV (a flat view), in id order.

May import: ``crmcore.ports``, ``crmcore.errors``, ``crmcore.serialization``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Literal, Protocol

from crmcore.adapters.transfer.flat import csv_columns, csv_values
from crmcore.adapters.transfer.kinds import ProgressCallback, RecordKind, parse_kinds
from crmcore.adapters.transfer.lines import header_line, record_line
from crmcore.errors import ConfigurationError
from crmcore.ports import DEFAULT_PAGE_SIZE, Store

__all__ = [
    "Format",
    "TextSink",
    "count_records",
    "export_kinds",
    "export_lines",
    "export_records",
]

Format = Literal["jsonl", "csv"]
"""``jsonl``: every field of every record; ``csv``: flat columns, one kind per file."""

PROGRESS_EVERY = 1000
"""How many records go by between two progress calls."""


class TextSink(Protocol):
    """Where exported text goes: an open text file, ``sys.stdout``, a ``StringIO``."""

    def write(self, text: str, /) -> object:
        """Write ``text``."""
        ...


def count_records(store: Store, kinds: str | Iterable[str]) -> int:
    """Return how many records of ``kinds`` are stored (a progress total).

    Args:
        store: The store to count in.
        kinds: Kind names or :class:`RecordKind` values; ``all`` for every kind.

    Returns:
        The number of records.

    Raises:
        ConfigurationError: If a kind name is unknown.
        StorageError: If the backend fails.
    """
    wanted = parse_kinds(kinds)
    with store.unit_of_work() as uow:
        return sum(kind.repository(uow).count() for kind in wanted)


def export_lines(
    store: Store, kinds: str | Iterable[str], *, page_size: int = DEFAULT_PAGE_SIZE
) -> Iterator[str]:
    """Yield the lines of a JSON-lines export (without line breaks): the header, then records.

    Kinds come in :data:`~crmcore.adapters.transfer.kinds.ALL` order, the
    records of each kind by id, read in one unit of work a page at a time.

    >>> from crmcore.adapters.memory import MemoryStore
    >>> list(export_lines(MemoryStore(), "all"))
    ['{"crmcore":"export","format":1}']

    Args:
        store: The store to read.
        kinds: Kind names or :class:`RecordKind` values; ``all`` for every kind.
        page_size: How many records are read at a time.

    Yields:
        The header line, then one line per record.

    Raises:
        ConfigurationError: If a kind name is unknown.
        InvalidValueError: If ``page_size`` is not positive.
        StorageError: If the backend fails.
    """
    wanted = parse_kinds(kinds)
    yield header_line()
    with store.unit_of_work() as uow:
        for kind in wanted:
            for record in kind.repository(uow).iter_all(page_size=page_size):
                yield record_line(kind, record)


def export_kinds(kinds: str | Iterable[str], format: Format) -> tuple[RecordKind, ...]:
    """Check that ``kinds`` can be exported as ``format``; return them in export order.

    :func:`export_records` checks the same before writing anything; call this
    first to refuse a request before opening files or connections.

    >>> [kind.value for kind in export_kinds("orders,customers", "jsonl")]
    ['customers', 'orders']
    >>> export_kinds("customers,orders", "csv")
    Traceback (most recent call last):
    ...
    crmcore.errors.ConfigurationError: CSV holds one kind of record per file, not customers, ...

    Args:
        kinds: Kind names or :class:`RecordKind` values; ``all`` for every kind.
        format: ``"jsonl"`` or ``"csv"``.

    Returns:
        The kinds, in export order.

    Raises:
        ConfigurationError: If a kind name or the format is unknown, or CSV is
            asked for several kinds or a kind it does not support.
    """
    wanted = parse_kinds(kinds)
    if format not in ("jsonl", "csv"):
        raise ConfigurationError(f"unknown export format {format!r}: use jsonl or csv")
    if format == "csv":
        if len(wanted) != 1:
            names = ", ".join(kind.value for kind in wanted)
            raise ConfigurationError(
                f"CSV holds one kind of record per file, not {names};"
                " export each kind to its own file, or use format jsonl for several"
            )
        csv_columns(wanted[0])
    return wanted


def export_records(
    store: Store,
    kinds: str | Iterable[str],
    sink: TextSink,
    *,
    format: Format = "jsonl",
    progress: ProgressCallback | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> dict[RecordKind, int]:
    r"""Write every stored record of ``kinds`` to ``sink``; return how many of each.

    ``jsonl`` writes :func:`export_lines`, each line ended by ``\n``: the
    lossless format that :func:`~crmcore.adapters.transfer.import_records`
    reads back, several kinds in one file. ``csv`` writes one kind's flat
    columns (:func:`~crmcore.adapters.transfer.csv_columns`), a header row
    first, rows ended by ``\r\n`` as RFC 4180 says. Either way the output
    depends only on what is stored: export, import into an empty store and
    export again give the same text.

    >>> import io
    >>> from crmcore.adapters.memory import MemoryStore
    >>> out = io.StringIO()
    >>> export_records(MemoryStore(), "orders", out, format="csv")
    {<RecordKind.ORDERS: 'orders'>: 0}
    >>> out.getvalue().split(",")[:3]
    ['id', 'customer_id', 'status']

    Args:
        store: The store to read.
        kinds: Kind names or :class:`RecordKind` values; ``all`` for every kind.
            CSV takes exactly one kind.
        sink: An open text stream (open files with ``newline=""`` for CSV).
        format: ``"jsonl"`` or ``"csv"``.
        progress: Called with the number of records written so far, every
            thousand records and once at the end.
        page_size: How many records are read at a time.

    Returns:
        The number of records written, by kind, in export order.

    Raises:
        ConfigurationError: If a kind name or the format is unknown, or CSV is
            asked for several kinds or a kind it does not support.
        InvalidValueError: If ``page_size`` is not positive.
        StorageError: If the backend fails. What ``sink.write`` raises (an
            ``OSError`` of your file) reaches you unchanged.
    """
    wanted = export_kinds(kinds, format)
    counts = dict.fromkeys(wanted, 0)
    done = 0
    if format == "csv":
        (kind,) = wanted
        writer = csv.writer(sink)
        writer.writerow(csv_columns(kind))
        with store.unit_of_work() as uow:
            for record in kind.repository(uow).iter_all(page_size=page_size):
                writer.writerow(csv_values(kind, record))
                done += 1
                if progress is not None and done % PROGRESS_EVERY == 0:
                    progress(done)
        counts[kind] = done
    else:
        sink.write(header_line() + "\n")
        with store.unit_of_work() as uow:
            for kind in wanted:
                for record in kind.repository(uow).iter_all(page_size=page_size):
                    sink.write(record_line(kind, record) + "\n")
                    counts[kind] += 1
                    done += 1
                    if progress is not None and done % PROGRESS_EVERY == 0:
                        progress(done)
    if progress is not None:
        progress(done)
    return counts
