"""SQL straight into polars: the frames of ``to_frame`` without building records.

:func:`read_frame` selects the columns of one aggregate's table (and, for
the few frame columns the table has no column for, simple JSON paths of its
``document``), fetches the rows in one query and types them in polars: the
frame equals ``to_frame(records, documents=False)`` of the same records,
sorted by id, on SQLite, PostgreSQL and MariaDB alike. No domain object is
built, which is what makes it fast (see ``benchmarks/bench_frames.py``).

A store that encrypts sensitive fields at rest (``SqlStore(engine,
encryptor=...)``) keeps the postal addresses and sensitive custom fields in
each customer's sealed ciphertext: give :func:`read_frame` the same
``encryptor`` and it opens them (one batch per read) so that ``city`` and
``custom`` are those of the records; without it they read as stored (no
city, no sensitive custom field).

Needs the ``frames`` extra (polars) beside ``sql``.

May import: ``crmcore.adapters.sql``, ``crmcore.adapters.frames``,
``crmcore.domain``, ``crmcore.errors``, ``crmcore.ports``; SQLAlchemy, polars.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from crmcore.errors import InvalidValueError, MissingExtraError, StorageError

try:
    import polars as pl
except ModuleNotFoundError as exc:  # the extra is missing: say which one installs it
    if (exc.name or "").partition(".")[0] != "polars":
        raise
    raise MissingExtraError("frames", "crmcore.adapters.sql.frames", "polars") from exc

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crmcore.adapters.frames.records import (
    ACTIVITY_SCHEMA,
    CASE_SCHEMA,
    CONSENT_SCHEMA,
    CUSTOMER_SCHEMA,
    LEAD_SCHEMA,
    OPPORTUNITY_SCHEMA,
    ORDER_SCHEMA,
    SURVEY_SCHEMA,
    custom_columns,
    custom_json,
)
from crmcore.adapters.sql import tables as t
from crmcore.adapters.sql.encryption import SEALED_KEY, open_documents
from crmcore.adapters.sql.engine import configure_engine
from crmcore.adapters.sql.session import translating
from crmcore.domain import CustomFieldSchema
from crmcore.ports import Encryptor

__all__ = ["FRAME_TABLES", "frame_query", "read_frame"]


@attrs.frozen
class _Source:
    """Where one frame column comes from.

    ``how`` is ``"column"`` (the table's column ``name``), ``"json"`` (the
    text at ``path`` in ``document``) or ``"document"`` (the JSON text of the
    object at ``path``); ``empty_is_null`` turns ``""`` into null.
    """

    how: str
    path: tuple[str, ...] = ()
    empty_is_null: bool = False


_COLUMN = _Source("column")
_NULLABLE_TEXT = _Source("column", empty_is_null=True)


def _json(*path: str, empty_is_null: bool = False) -> _Source:
    return _Source("json", path, empty_is_null)


@attrs.frozen
class _Layout:
    table: sa.Table
    schema: Mapping[str, pl.DataType]
    sources: Mapping[str, _Source]


_CUSTOMER_EXTRA = ("company", "city", "primary_email", "primary_phone", "tags")

FRAME_TABLES: Mapping[str, _Layout] = {
    "customers": _Layout(
        t.customers,
        CUSTOMER_SCHEMA,
        {
            "legal_name": _json("organization", "legal_name"),
            "employer": _json("person", "employer"),
            "points": _Source("document", ("points",)),
        },
    ),
    "leads": _Layout(
        t.leads,
        LEAD_SCHEMA,
        {
            "company": _NULLABLE_TEXT,
            "converted_opportunity_id": _json("converted_opportunity_id"),
        },
    ),
    "opportunities": _Layout(
        t.opportunities,
        OPPORTUNITY_SCHEMA,
        {
            "amount": _json("amount", "amount"),
            "lost_reason": _json("lost_reason", empty_is_null=True),
        },
    ),
    "activities": _Layout(
        t.activities, ACTIVITY_SCHEMA, {"outcome": _json("outcome", empty_is_null=True)}
    ),
    "cases": _Layout(t.cases, CASE_SCHEMA, {"category": _NULLABLE_TEXT}),
    "orders": _Layout(t.orders, ORDER_SCHEMA, {"amount": _json("amount", "amount")}),
    "survey_responses": _Layout(t.survey_responses, SURVEY_SCHEMA, {}),
    "consents": _Layout(
        t.consents, CONSENT_SCHEMA, {"source": _json("source", empty_is_null=True)}
    ),
}
"""The frames :func:`read_frame` loads: table name -> its layout (the ``to_frame`` schema)."""


def _json_expression(dialect: str, column: Any, source: _Source) -> sa.ColumnElement[Any]:
    path = source.path
    if dialect == "postgresql":
        if source.how == "document":
            return sa.cast(sa.func.json_extract_path(column, *path), sa.Text)
        return sa.func.json_extract_path_text(column, *path)
    json_path = "$." + ".".join(path)
    if dialect == "sqlite":  # json_extract gives the text of a string, JSON of an object
        return sa.type_coerce(sa.func.json_extract(column, json_path), sa.Text)
    if source.how == "document":
        return sa.type_coerce(sa.func.json_extract(column, json_path), sa.Text)
    return sa.type_coerce(sa.func.json_value(column, json_path), sa.Text)


def _raw(dialect: str, column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """The column without crmcore's result processing (no pendulum, no Decimal per value)."""
    kind = type(column.type).__name__
    if kind == "UtcDateTime":
        if dialect == "sqlite":
            return sa.type_coerce(column, sa.Text)
        return sa.type_coerce(column, sa.DateTime(timezone=dialect == "postgresql"))
    if kind == "JSON":
        return (
            sa.cast(column, sa.Text) if dialect == "postgresql" else sa.type_coerce(column, sa.Text)
        )
    if kind == "Date" and dialect == "sqlite":
        return sa.type_coerce(column, sa.Text)
    if kind in ("Text", "CHAR", "String"):
        return sa.type_coerce(column, sa.Text)
    return column


def frame_query(
    dialect: str,
    name: str,
    where: sa.ColumnElement[bool] | None = None,
    *,
    sealed: bool = False,
) -> tuple[sa.Select[Any], list[str]]:
    """Return the query :func:`read_frame` runs for table ``name`` and its result columns.

    Args:
        dialect: The engine's dialect name (``sqlite``, ``postgresql``, ``mysql``, ``mariadb``).
        name: A key of :data:`FRAME_TABLES`.
        where: A condition on the table's columns, or ``None`` for every row.
        sealed: Also select the customers' sealed ciphertext (JSON text,
            column ``sealed``) for an encrypting store.

    Raises:
        InvalidValueError: If ``name`` has no frame.

    >>> statement, columns = frame_query("sqlite", "orders")
    >>> columns
    ['id', 'customer_id', 'amount', 'currency', 'status', 'ordered_at', 'opportunity_id']
    """
    layout = FRAME_TABLES.get(name)
    if layout is None:
        raise InvalidValueError("frame table", name, f"one of {sorted(FRAME_TABLES)}")
    table = layout.table
    wanted = [c for c in layout.schema if c not in _CUSTOMER_EXTRA or name != "customers"]
    wanted += [c for c in layout.sources if c not in wanted]
    selected = []
    for column in wanted:
        source = layout.sources.get(column, _COLUMN)
        if source.how == "column":
            selected.append(_raw(dialect, table.c[column]).label(column))
        else:
            selected.append(_json_expression(dialect, table.c.document, source).label(column))
    if sealed and name == "customers":
        token = _Source("document", (SEALED_KEY,))
        selected.append(_json_expression(dialect, table.c.document, token).label(SEALED_KEY))
        wanted.append(SEALED_KEY)
    statement = sa.select(*selected)
    if where is not None:
        statement = statement.where(where)
    return statement, wanted


def _raw_dtype(dialect: str, dtype: pl.DataType) -> pl.DataType:
    if isinstance(dtype, pl.Datetime):
        if dialect == "sqlite":
            return pl.String()
        return pl.Datetime("us", "UTC") if dialect == "postgresql" else pl.Datetime("us")
    if isinstance(dtype, pl.Date) and dialect == "sqlite":
        return pl.String()
    if isinstance(dtype, pl.Decimal):
        return pl.String()
    return dtype


def _typed(dialect: str, name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dialect == "sqlite":
            return column.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")
        if dialect != "postgresql":
            return column.dt.replace_time_zone("UTC")
        return column
    if isinstance(dtype, pl.Date) and dialect == "sqlite":
        return column.str.to_date("%Y-%m-%d")
    if isinstance(dtype, pl.Decimal):
        return column.cast(dtype)
    return column


_POINTS = pl.Struct(
    {
        "emails": pl.List(pl.Struct({"address": pl.String(), "primary": pl.Boolean()})),
        "phones": pl.List(pl.Struct({"number": pl.String(), "primary": pl.Boolean()})),
        "addresses": pl.List(
            pl.Struct({"address": pl.Struct({"city": pl.String()}), "primary": pl.Boolean()})
        ),
    }
)


def _primary(items: str, value: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    element = pl.element()
    chosen = (
        pl.col("points")
        .struct.field(items)
        .list.eval(value(element.filter(element.struct.field("primary"))))
        .list.first()
    )
    return pl.when(chosen == "").then(None).otherwise(chosen)


def _null_if_empty(name: str) -> pl.Expr:
    return pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name)).alias(name)


def _canonical_custom(texts: Sequence[str | None]) -> tuple[list[str], list[dict[str, Any]]]:
    cache: dict[str, tuple[str, dict[str, Any]]] = {}
    canonical, values = [], []
    for text in texts:
        key = text or "{}"
        hit = cache.get(key)
        if hit is None:
            parsed = json.loads(key)
            hit = (custom_json(parsed), parsed)
            if len(cache) < 10_000:
                cache[key] = hit
        canonical.append(hit[0])
        values.append(hit[1])
    return canonical, values


def _customers(frame: pl.DataFrame, tags: pl.DataFrame) -> pl.DataFrame:
    employer = pl.when(pl.col("employer") == "").then(None).otherwise(pl.col("employer"))
    grouped = tags.group_by("customer_id").agg(pl.col("tag").sort().alias("tags"))
    frame = frame.with_columns(
        pl.col("points").str.json_decode(_POINTS),
        pl.coalesce(pl.col("legal_name"), employer).alias("company"),
    ).with_columns(
        _primary("emails", lambda e: e.struct.field("address")).alias("primary_email"),
        _primary("phones", lambda e: e.struct.field("number"))  # E.164: no extension
        .str.replace(";ext=.*$", "")
        .alias("primary_phone"),
        _primary("addresses", lambda e: e.struct.field("address").struct.field("city")).alias(
            "city"
        ),
    )
    frame = frame.join(grouped, left_on="id", right_on="customer_id", how="left")
    return frame.with_columns(pl.col("tags").fill_null(pl.lit([], dtype=pl.List(pl.String()))))


def _fetch(conn: Connection, statement: sa.Executable) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(statement).all()]


def read_frame(
    engine: Engine | Connection,
    name: str,
    *,
    where: sa.ColumnElement[bool] | None = None,
    custom_schema: CustomFieldSchema | None = None,
    encryptor: Encryptor | None = None,
) -> pl.DataFrame:
    """Load one aggregate's frame straight from SQL, without building records.

    The frame has the columns and dtypes of ``to_frame(records,
    documents=False, custom_schema=custom_schema)`` and equals it for the
    same records, rows sorted by id.

    Args:
        engine: The store's engine (or an open connection, to read inside a
            transaction of your own).
        name: The table: ``customers``, ``leads``, ``opportunities``,
            ``activities``, ``cases``, ``orders``, ``survey_responses`` or
            ``consents``.
        where: Only the rows matching this condition on the table's columns
            (e.g. ``tables.customers.c.owner == "u-ana"``).
        custom_schema: Add typed ``custom_<name>`` columns (customers and leads).
        encryptor: The encryptor of a store that encrypts sensitive fields at
            rest: the customers' sealed addresses (``city``) and sensitive
            custom fields are opened with it. A crypto-shredded customer
            keeps them blank.

    Returns:
        The frame.

    Raises:
        InvalidValueError: If ``name`` has no frame, a schema is given for a
            table without custom fields, or a custom value is not of its type.
        DecryptionError: If a sealed ciphertext was tampered with.
        StorageError: If the database (or the key store) fails, or a stored
            value has a form crmcore does not write (rows written by other means).

    >>> from crmcore.adapters.sql import create_engine, create_schema
    >>> engine = create_engine("sqlite://")
    >>> create_schema(engine)
    >>> read_frame(engine, "orders").columns[:4]
    ['id', 'customer_id', 'amount', 'currency']
    >>> engine.dispose()
    """
    if name not in FRAME_TABLES:
        raise InvalidValueError("frame table", name, f"one of {sorted(FRAME_TABLES)}")
    layout = FRAME_TABLES[name]
    if custom_schema is not None and "custom" not in layout.schema:
        raise InvalidValueError(
            "custom_schema", name, "only customers and leads have custom fields"
        )
    if isinstance(engine, Engine):
        configure_engine(engine)
    dialect = engine.dialect.name
    sealed = encryptor is not None and name == "customers"
    statement, columns = frame_query(dialect, name, where, sealed=sealed)
    with translating(f"read {name} frame"):
        if isinstance(engine, Connection):
            rows = _fetch(engine, statement)
            tags = _tags(engine, where) if name == "customers" else None
        else:
            with engine.connect() as conn:
                rows = _fetch(conn, statement)
                tags = _tags(conn, where) if name == "customers" else None
    if sealed:
        rows, columns = _opened(rows, columns, encryptor)
    raw = {
        c: _raw_dtype(dialect, layout.schema[c]) if c in layout.schema else pl.String()
        for c in columns
    }
    try:
        frame = _typed_frame(
            rows, raw=raw, columns=columns, layout=layout, dialect=dialect, tags=tags
        )
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(
            f"read {name} frame", f"a stored value has another form: {reason}"
        ) from exc
    values: list[dict[str, Any]] = []
    if "custom" in layout.schema:
        try:
            canonical, values = _canonical_custom(frame.get_column("custom").to_list())
        except ValueError as exc:
            raise StorageError(f"read {name} frame", f"not JSON: {exc}", field="custom") from exc
        frame = frame.with_columns(pl.Series("custom", canonical, pl.String()))
    frame = frame.select(list(layout.schema))
    if custom_schema is not None:
        ids = frame.get_column("id").to_list()
        frame = frame.with_columns(custom_columns(ids, values, custom_schema))
    return frame.sort("id")


def _json_text(value: Any) -> Any:
    """The text of a JSON string selected as JSON (quoted on PostgreSQL and MariaDB) or as text."""
    if isinstance(value, str) and value.startswith('"'):
        return json.loads(value)
    return value


def _opened(
    rows: list[tuple[Any, ...]], columns: list[str], encryptor: Encryptor | None
) -> tuple[list[tuple[Any, ...]], list[str]]:
    """Put the sealed addresses and custom fields of customer rows back; drop ``sealed``."""
    at = {c: i for i, c in enumerate(columns)}
    ident, points, custom, token = at["id"], at["points"], at["custom"], at[SEALED_KEY]
    sealed = [i for i, row in enumerate(rows) if _json_text(row[token])]
    try:
        documents = [
            {
                "id": rows[i][ident],
                "points": json.loads(rows[i][points] or "{}"),
                "custom": json.loads(rows[i][custom] or "{}"),
                SEALED_KEY: _json_text(rows[i][token]),
            }
            for i in sealed
        ]
    except ValueError as exc:
        raise StorageError("read customers frame", f"not JSON: {exc}") from exc
    opened = open_documents(documents, encryptor)
    out = [row[:token] + row[token + 1 :] for row in rows]
    for i, document in zip(sealed, opened, strict=True):
        row = list(out[i])
        row[points] = json.dumps(document["points"], ensure_ascii=False)
        row[custom] = json.dumps(document["custom"], ensure_ascii=False)
        out[i] = tuple(row)
    return out, columns[:token] + columns[token + 1 :]


def _typed_frame(
    rows: list[tuple[Any, ...]],
    *,
    raw: dict[str, pl.DataType],
    columns: list[str],
    layout: _Layout,
    dialect: str,
    tags: pl.DataFrame | None,
) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=raw, orient="row")
    frame = frame.with_columns(
        _typed(dialect, c, layout.schema[c]).alias(c) for c in columns if c in layout.schema
    )
    empties = [c for c, s in layout.sources.items() if s.empty_is_null and c in layout.schema]
    if empties:
        frame = frame.with_columns(_null_if_empty(c) for c in empties)
    if tags is not None:
        frame = _customers(frame, tags)
    return frame


def _tags(conn: Connection, where: sa.ColumnElement[bool] | None) -> pl.DataFrame:
    tag = t.customer_tags.c
    statement = sa.select(
        sa.type_coerce(tag.customer_id, sa.Text), sa.type_coerce(tag.tag, sa.Text)
    )
    if where is not None:
        statement = statement.where(tag.customer_id.in_(sa.select(t.customers.c.id).where(where)))
    rows = _fetch(conn, statement)
    return pl.DataFrame(rows, schema={"customer_id": pl.String(), "tag": pl.String()}, orient="row")
