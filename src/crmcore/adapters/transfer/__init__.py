"""Export and import every stored aggregate: JSON lines (lossless) and CSV (a flat view).

JSON lines is the transfer and backup format: a header line, then one record
per line in an envelope naming its kind, every field written by the one
serialization converter. Export, import into an empty store and export
again, and the two files are the same, byte for byte::

    {"crmcore":"export","format":1}
    {"kind":"customers","record":{"id":"c-1","version":1,...}}

CSV is a flat view of customers, orders and activities for spreadsheets; it
leaves nested data out by design. See ``docs/transfer.md``.

>>> import io
>>> import pendulum
>>> from crmcore.adapters.memory import MemoryStore
>>> from crmcore.domain import CustomerId, Person, PersonName, register_customer
>>> store = MemoryStore()
>>> li_na, _ = register_customer(id=CustomerId("c-1"), person=Person(name=PersonName.parse("李娜")),
...                              at=pendulum.datetime(2026, 3, 1))
>>> with store.unit_of_work() as uow:
...     _ = uow.customers.save(li_na)
...     uow.commit()
>>> dump = io.StringIO()
>>> export_records(store, ["all"], dump)
{<RecordKind.CUSTOMERS: 'customers'>: 1, ...}
>>> copy = MemoryStore()
>>> import_records(copy, io.StringIO(dump.getvalue())).stored
1
>>> again = io.StringIO()
>>> _ = export_records(copy, "all", again)
>>> again.getvalue() == dump.getvalue()
True

Contact persons are not a kind of their own: they live inside their
customer and travel with it.

May import: ``crmcore.ports``, ``crmcore.domain``, ``crmcore.serialization``,
``crmcore.errors``, ``crmcore.clock``; the standard library only.
"""

from crmcore.adapters.transfer.exporting import (
    Format,
    TextSink,
    count_records,
    export_kinds,
    export_lines,
    export_records,
)
from crmcore.adapters.transfer.flat import (
    ACTIVITY_COLUMNS,
    CSV_KINDS,
    CUSTOMER_COLUMNS,
    ORDER_COLUMNS,
    csv_columns,
    csv_row,
    csv_values,
)
from crmcore.adapters.transfer.importing import (
    DEFAULT_BATCH_SIZE,
    LineIssue,
    TransferReport,
    import_records,
)
from crmcore.adapters.transfer.kinds import ALL, ProgressCallback, RecordKind, parse_kinds
from crmcore.adapters.transfer.lines import (
    FORMAT,
    HEADER,
    ParsedLine,
    header_line,
    is_header,
    parse_line,
    record_line,
)

__all__ = [
    "ACTIVITY_COLUMNS",
    "ALL",
    "CSV_KINDS",
    "CUSTOMER_COLUMNS",
    "DEFAULT_BATCH_SIZE",
    "FORMAT",
    "HEADER",
    "ORDER_COLUMNS",
    "Format",
    "LineIssue",
    "ParsedLine",
    "ProgressCallback",
    "RecordKind",
    "TextSink",
    "TransferReport",
    "count_records",
    "csv_columns",
    "csv_row",
    "csv_values",
    "export_kinds",
    "export_lines",
    "export_records",
    "header_line",
    "import_records",
    "is_header",
    "parse_kinds",
    "parse_line",
    "record_line",
]
