"""The persistent match index: :class:`~crmcore.matching.MatchIndex` in the host's database.

Every customer not merged into another has its matching keys in
``match_records`` / ``match_keys`` / ``match_counts`` (see
:mod:`crmcore.adapters.sql.tables`), written by
:class:`~crmcore.adapters.sql.SqlCustomerRepository` in the same transaction
as the customer: registering, updating, merging (the merged customer
leaves), unmerging (it comes back) and erasing (its keys are rebuilt from
what is left) keep the index in step, and every process of a host sees the
same index with nothing to rebuild at start-up.

:meth:`SqlMatchIndex.candidates` blocks a record with the same rules as
the in-memory index, reads the blocks' members with indexed queries (a
block's size is a counter, so an oversized block is skipped unread), and
compares and scores them in process with
:func:`~crmcore.matching.rank_candidates`: the same candidates, scores and
explanations as a :class:`~crmcore.matching.MatchIndex` holding the same
records added in the same order (:meth:`MatchIndexSettings.reference`).

>>> from crmcore.adapters.sql import SqlStore, create_engine, create_schema
>>> from crmcore.domain import CustomerId, Person, PersonName, PhoneNumber, register_customer
>>> import pendulum
>>> engine = create_engine("sqlite://")
>>> create_schema(engine)
>>> store = SqlStore(engine)
>>> zhang, _ = register_customer(id=CustomerId("c1"), person=Person(name=PersonName.parse("张伟")),
...     phones=[PhoneNumber.parse("13800138000", region="CN")], at=pendulum.datetime(2026, 1, 5))
>>> with store.unit_of_work() as uow:
...     _ = uow.customers.save(zhang)
...     uow.commit()
>>> with store.unit_of_work() as uow:
...     [(p.right, p.probability > 0.99) for p in uow.match_index.candidates(
...         MatchRecord(id="new", full_name="Zhang Wei", phones=["+86 138 0013 8000"]))]
[('c1', True)]
>>> engine.dispose()

May import: ``crmcore.adapters.sql``, ``crmcore.matching``, ``crmcore.domain``,
``crmcore.errors``; SQLAlchemy, attrs.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import hashlib
import itertools
import json
import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, NamedTuple, TypeAlias

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crmcore.adapters.sql.session import SqlSession, translating
from crmcore.adapters.sql.tables import customers, match_counts, match_keys, match_records
from crmcore.domain import Customer
from crmcore.errors import ConfigurationError, StorageError
from crmcore.matching import (
    DEFAULT_BLOCKING_RULES,
    FEATURE_COLUMNS,
    BlockingRule,
    DuplicateCheck,
    DuplicatePolicy,
    FeatureRow,
    KeyOptions,
    MatchIndex,
    MatchModel,
    MatchRecord,
    ScoredPair,
    rank_candidates,
)
from crmcore.matching import workers as pool_policy
from crmcore.matching.blocking import DERIVED_COLUMNS, rule_keys
from crmcore.matching.feature import RAW_FIELD_NAMES, FieldView, RawFields, fields_row
from crmcore.matching.nickname import NICKNAMES

__all__ = ["MatchIndexSettings", "SqlMatchIndex", "backfill_match_index", "record_of_document"]

TOTAL_SHARDS: Final = 16
"""The record total is kept in this many counter rows, so concurrent writers rarely meet."""

_COLUMN: Final = {name: i for i, name in enumerate(FEATURE_COLUMNS)}
_CHUNK: Final = 500
_WRITE_CHUNK: Final = 5_000  # rows per write statement (or per executemany)
_RECORD_CHUNK: Final = 1_000  # records per multi-row INSERT (4 parameters each)
_FEW_ARRIVING: Final = 100  # PostgreSQL: up to this many new records, one statement writes all


def _hash(*parts: str) -> str:
    return hashlib.blake2b("\x1e".join(parts).encode(), digest_size=16).hexdigest()


def _rules(value: Iterable[BlockingRule]) -> tuple[BlockingRule, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class MatchIndexSettings:
    """How the persistent index builds keys, blocks and scores (as :class:`MatchIndex` does).

    Changing ``keys`` or ``blocking_rules`` changes the stored keys: run
    :func:`backfill_match_index` afterwards (it rewrites what differs).

    Attributes:
        model: The scoring model (default: hand-set m/u).
        blocking_rules: Which records are compared with a query.
        keys: How keys are built.
        max_candidates: Compare a query with at most this many records.
    """

    model: MatchModel = attrs.field(factory=MatchModel.default)
    blocking_rules: tuple[BlockingRule, ...] = attrs.field(
        default=DEFAULT_BLOCKING_RULES, converter=_rules
    )
    keys: KeyOptions = attrs.field(factory=KeyOptions)
    max_candidates: int = 200

    @property
    def tf_columns(self) -> tuple[str, ...]:
        """The columns whose value counts the model's term-frequency adjustments read."""
        found = {c.tf_column for c in self.model.comparisons if c.tf_column is not None}
        return tuple(sorted(found))

    @property
    def fingerprint(self) -> str:
        """A hash of everything that decides the stored keys."""
        rules = [f"{r.columns}/{r.max_block_size}" for r in self.blocking_rules]
        return _hash(repr(self.keys), *rules, *self.tf_columns)

    def reference(self) -> MatchIndex:
        """Return an empty in-memory index with these settings (the reference implementation)."""
        return MatchIndex(
            self.model,
            blocking_rules=self.blocking_rules,
            keys=self.keys,
            max_candidates=self.max_candidates,
        )


@attrs.frozen
class _Entry:
    """One record's index rows, computed in process."""

    customer_id: str
    features: FeatureRow
    digest: str
    blocks: tuple[tuple[str, ...], ...]  # per rule, the key hashes
    tf: tuple[str, ...]  # counter names of its term-frequency values (one per column)
    row: tuple[str, str, str, str] | None = None  # its match_records row, if built
    # Built with the row (in a backfill's worker process, not in the writing one):
    counted: tuple[str, ...] = ()  # the counters it adds one to (see counter_names)
    keys: tuple[str, ...] = ()  # its distinct key hashes (its match_keys rows)

    @property
    def block_names(self) -> list[str]:
        """Its blocks' counter names, once per key (twice if two emails fold to one key)."""
        return [f"b{h}" for hashes in self.blocks for h in hashes]

    def counter_names(self) -> tuple[str, ...]:
        """The counters it adds one to: per key its block's, its term frequencies', a shard."""
        return self.counted or (*self.block_names, *self.tf, _shard(self.customer_id))

    def key_hashes(self) -> tuple[str, ...]:
        """Its distinct key hashes, in rule order."""
        return self.keys or tuple(dict.fromkeys(h for hashes in self.blocks for h in hashes))


def _tf_name(column: str, value: str) -> str:
    return f"t{_hash(column, value)}"


def _shard(customer_id: str) -> str:
    return f"n{int(_hash(customer_id)[:8], 16) % TOTAL_SHARDS:02d}"


_SHARDS: Final = [f"n{k:02d}" for k in range(TOTAL_SHARDS)]

# Built once: building a statement costs about as much as running a lookup.
_r, _k, _c = match_records.c, match_keys.c, match_counts.c
_STORED: Final = sa.select(_r.customer_id, _r.seq, _r.digest, _r.counters).where(
    _r.customer_id.in_(sa.bindparam("ids", expanding=True))
)
_COUNTS: Final = sa.select(_c.name, _c.n).where(_c.name.in_(sa.bindparam("names", expanding=True)))


@attrs.frozen
class _KeyPlan:
    """What building one record's index rows needs from the settings, computed once."""

    keys: KeyOptions
    rules: tuple[tuple[BlockingRule, str], ...]  # each rule and the prefix of its key hashes
    tf: tuple[tuple[str, int], ...]  # term-frequency columns and their places
    fingerprint: str
    # Per rule, what _entry reads: its prefix, its single-valued columns' places (a key only if
    # all are set) and every column as (is multi-valued, place) in order; see _rule_spec.
    specs: tuple[_RuleSpec, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: tuple(_rule_spec(rule, prefix) for rule, prefix in self.rules),
            takes_self=True,
        ),
    )

    @classmethod
    def of(cls, settings: MatchIndexSettings) -> _KeyPlan:
        return cls(
            settings.keys,
            tuple((r, f"{r.name}\x1e{r.max_block_size}\x1e") for r in settings.blocking_rules),
            tuple((c, _COLUMN[c]) for c in settings.tf_columns),
            settings.fingerprint,
        )


_MULTI_PLACE: Final = {"email": 1, "phone": 2}  # where a FeatureRow keeps every value


_RuleSpec: TypeAlias = tuple[
    str, tuple[int, ...], tuple[tuple[bool, int], ...], BlockingRule | None
]
"""A rule's prefix, single-valued places, columns, and the rule itself when its key is derived."""


def _rule_spec(rule: BlockingRule, prefix: str) -> _RuleSpec:
    """What :func:`_rule_hashes` needs of ``rule``: its columns as places in a feature row.

    A rule on a derived key (:data:`~crmcore.matching.DERIVED_COLUMNS`) has no places:
    its keys come from :func:`~crmcore.matching.rule_keys`.
    """
    if rule.columns[0] in DERIVED_COLUMNS:
        return prefix, (), (), rule
    columns = tuple(
        (True, _MULTI_PLACE[c]) if c in _MULTI_PLACE else (False, _COLUMN[c]) for c in rule.columns
    )
    return prefix, tuple(place for multi, place in columns if not multi), columns, None


def _rule_hashes(spec: _RuleSpec, features: FeatureRow) -> tuple[str, ...]:
    """The hashes of ``rule_keys(rule, features)`` (same keys, without its lookups).

    Most rules miss a column of most records: that is found before any key is built.
    """
    prefix, singles, columns, derived = spec
    blake2b = hashlib.blake2b
    if derived is not None:
        return tuple(
            blake2b((prefix + key).encode(), digest_size=16).hexdigest()
            for key in rule_keys(derived, features)
        )
    values = features[0]
    for place in singles:
        if not values[place]:
            return ()
    if singles and len(singles) == len(columns):  # single-valued columns only: one key
        key = prefix + "\x1f" + "\x1f".join([values[place] for place in singles])
        return (blake2b(key.encode(), digest_size=16).hexdigest(),)
    keys = [prefix]
    for multi, place in columns:
        if multi:
            found = features[place]
            if not found:
                return ()
            keys = [f"{k}\x1f{v}" for k in keys for v in found]
        else:
            value = values[place]
            keys = [f"{k}\x1f{value}" for k in keys]
    return tuple(blake2b(key.encode(), digest_size=16).hexdigest() for key in keys)


_FIELDS: Final = operator.attrgetter(*(f.name for f in attrs.fields(MatchRecord)))
"""A record's fields in order (``attrs.astuple(record, recurse=False)``, without its overhead)."""


# json.dumps with options builds an encoder per call: these are built once (same output).
_FEATURES_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_COUNTERS_JSON: Final = json.JSONEncoder(separators=(",", ":")).encode
_ID_JSON: Final = json.JSONEncoder(ensure_ascii=False).encode


def _digest(record: MatchRecord, fingerprint: str) -> str:
    return _hash(fingerprint, *(str(f) for f in _FIELDS(record)))


def _entry(plan: _KeyPlan, record: MatchRecord, *, stored: bool = False) -> _Entry:
    """Build a record's index rows (``stored``: with its ``match_records`` row, to be written)."""
    return _fields_entry(plan, record.id, RawFields(*_RAW_FIELDS(record)), stored=stored)


_RAW_FIELDS: Final = operator.attrgetter(*RAW_FIELD_NAMES)
"""A record's fields after its id, in order (``_FIELDS(record)`` is its id, then these)."""

_TF_NAMES: dict[tuple[str, str], str] = {}
"""(column, value) → its counter name: cities, companies and names repeat a lot."""
_TF_NAMES_MAX: Final = 200_000


def _tf_names(plan: _KeyPlan, values: tuple[str, ...]) -> tuple[str, ...]:
    """``_tf_name`` of each term-frequency column that has a value (kept for values that repeat)."""
    out = []
    for column, place in plan.tf:
        value = values[place]
        if value:
            name = _TF_NAMES.get((column, value))
            if name is None:
                if len(_TF_NAMES) >= _TF_NAMES_MAX:
                    _TF_NAMES.clear()
                name = _TF_NAMES[column, value] = _tf_name(column, value)
            out.append(name)
    return tuple(out)


def _fields_entry(plan: _KeyPlan, record_id: str, fields: FieldView, *, stored: bool) -> _Entry:
    """:func:`_entry` of a record given as its id and fields (as a document is read)."""
    features = fields_row(fields, plan.keys)
    values = features[0]
    blake2b = hashlib.blake2b
    found: list[tuple[str, ...]] = []
    for spec in plan.specs:
        prefix, singles, columns, derived = spec
        if derived is not None or not singles or len(singles) != len(columns):
            found.append(_rule_hashes(spec, features))
            continue
        # Single-valued columns only (most rules): _rule_hashes' one key, inline.
        for place in singles:
            if not values[place]:
                found.append(())
                break
        else:
            key = prefix + "\x1f" + "\x1f".join([values[place] for place in singles])
            found.append((blake2b(key.encode(), digest_size=16).hexdigest(),))
    blocks = tuple(found)
    tf = _tf_names(plan, values)
    # _digest: the fields are the record's after its id, in order.
    digest = _hash(plan.fingerprint, record_id, *map(str, fields))
    if not stored:
        return _Entry(record_id, features, digest, blocks, tf)
    hashes = list(itertools.chain.from_iterable(found))
    counters = ["b" + h for h in hashes]
    counters += tf
    counters.sort()
    # Counter names are ASCII letters and digits: their JSON needs no escaping.
    counters_json = '["' + '","'.join(counters) + '"]' if counters else "[]"
    row = (record_id, _FEATURES_JSON(features), digest, counters_json)
    keys = tuple(dict.fromkeys(hashes))
    counters.append(_shard(record_id))
    return _Entry(record_id, features, digest, blocks, tf, row, tuple(counters), keys)


def _row(entry: _Entry) -> tuple[str, str, str, str]:
    """The ``match_records`` row of an entry built without one."""
    counters = _COUNTERS_JSON(sorted([*entry.block_names, *entry.tf]))
    return (entry.customer_id, _FEATURES_JSON(entry.features), entry.digest, counters)


def record_of_document(document: Mapping[str, Any]) -> MatchRecord:
    """Return ``MatchRecord.from_customer`` of the customer stored as ``document``, unparsed.

    The backfill reads a million documents: building each
    :class:`~crmcore.domain.Customer` (validating every field again) would
    cost more than indexing it. A property test checks this against
    :meth:`MatchRecord.from_customer` on every kind of customer.
    """
    stored = _stored_values(document)
    return MatchRecord(
        id=stored.id,
        given_name=stored.given,
        family_name=stored.family,
        emails=stored.emails,
        phones=[number.partition(";")[0] for number in stored.phones],
        company=stored.company,
        city=stored.city,
        postcode=stored.postcode,
        country=stored.country,
        birth_date=stored.birth,
        address=stored.street,
        national_id=stored.national_id,
    )


class _Stored(NamedTuple):
    """A stored customer's match values as stored (unchecked); ``""`` for what it has not."""

    id: Any
    given: Any
    family: Any
    emails: list[Any]  # addresses, primary first
    phones: list[Any]  # numbers as stored (with any ``;ext=``), primary first
    company: Any
    city: Any
    postcode: Any
    country: Any  # the primary address's when the customer has none
    birth: Any
    street: Any
    national_id: Any


def _not_primary(point: Mapping[str, Any]) -> bool:
    return not point["primary"]


def _stored_values(document: Mapping[str, Any]) -> _Stored:
    """Read the match values of a stored customer's document (what both readers share)."""
    points = document["points"]
    emails = sorted(points["emails"], key=_not_primary)
    phones = sorted(points["phones"], key=_not_primary)
    address = next((a["address"] for a in points["addresses"] if a["primary"]), None)
    person = document["person"]
    organization = document["organization"]
    country = document["country"] or ""
    if address is not None and not country:
        country = address["country"]
    record_id = document["id"]
    if person:
        name = person["name"]
        given, family = name["given"], name["family"]
        birth, national_id = person["birth_date"] or "", person["national_id"]
    else:
        given = family = birth = national_id = ""
    company = organization["legal_name"] if organization else ""
    if address:
        city, postcode, street = address["city"], address["postcode"], " ".join(address["street"])
    else:
        city = postcode = street = ""
    return _Stored(
        record_id,
        given,
        family,
        [e["address"] for e in emails],
        [p["number"] for p in phones],
        company,
        city,
        postcode,
        country,
        birth,
        street,
        national_id,
    )


def _features(value: Any) -> FeatureRow:
    if isinstance(value, str | bytes):  # driver SQL: the JSON as stored
        value = json.loads(value)
    columns, emails, phones = value
    return (tuple(columns), tuple(emails), tuple(phones))


def _indexed(customer: Customer) -> bool:
    return customer.merged_into is None


def _quoted_names(conn: Connection) -> dict[str, str]:
    """The index tables' names as raw SQL must spell them (with the engine's schema, if any)."""
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    quote = conn.dialect.identifier_preparer.quote
    return {
        table.name: f"{quote(schema)}.{quote(table.name)}" if schema else quote(table.name)
        for table in (match_records, match_keys, match_counts)
    }


# The index writes as driver SQL, per dialect; {r}, {k}, {c}: the quoted table names, {rows}:
# the multi-row VALUES list. SQLite and MariaDB take rows (executemany or multi-row VALUES).
# PostgreSQL takes whole columns in one statement however many rows: counter names, key
# hashes and seqs (hex digits and a letter, or digits: nothing to escape) as one
# comma-separated text each, split by string_to_array; records (ids and JSON of any text) as
# one JSON array. psycopg escapes a Python list for an array parameter element by element,
# which cost the backfill more than the database's own work.
_PG_ADD_COUNTS: Final = (
    "INSERT INTO {c} (name, n) SELECT u.name, u.n FROM "
    "unnest(string_to_array(%s, ','), string_to_array(%s, ',')::bigint[]) "
    "WITH ORDINALITY AS u(name, n, o) ORDER BY u.o "
    "ON CONFLICT (name) DO UPDATE SET n = {c}.n + excluded.n"
)
_PG_SQL: Final = {
    "add_counts": _PG_ADD_COUNTS,
    "delete_keys": "DELETE FROM {k} AS m "
    "USING unnest(string_to_array(%s, ','), string_to_array(%s, ',')::bigint[]) AS u(h, s) "
    "WHERE m.key_hash = u.h AND m.seq = u.s",
    "delete_records": "DELETE FROM {r} WHERE seq = ANY(string_to_array(%s, ',')::bigint[])",
    "insert_records": "INSERT INTO {r} (customer_id, features, digest, counters) "
    "SELECT u.e->>0, u.e->1, u.e->>2, u.e->3 FROM json_array_elements(%s::json) "
    "WITH ORDINALITY AS u(e, o) ORDER BY u.o RETURNING customer_id, seq",
    "insert_keys": "INSERT INTO {k} (key_hash, seq) "
    "SELECT * FROM unnest(string_to_array(%s, ','), string_to_array(%s, ',')::bigint[])",
    # A few new records with their keys and counters, in one statement (one round trip for
    # a registration instead of three). Each record's element carries its key hashes
    # fifth; the keys take their seqs from the records' RETURNING. Of the three inserts
    # only the counters' upsert locks rows others write, in name order as add_counts.
    "insert_all": "WITH input AS MATERIALIZED ("  # noqa: S608 - constants only
    "SELECT u.e, u.o FROM json_array_elements(%s::json) WITH ORDINALITY AS u(e, o)"
    "), counted AS (" + _PG_ADD_COUNTS + "), stored AS ("
    "INSERT INTO {r} (customer_id, features, digest, counters) "
    "SELECT e->>0, e->1, e->>2, e->3 FROM input ORDER BY o RETURNING customer_id, seq"
    "), keyed AS ("
    "INSERT INTO {k} (key_hash, seq) SELECT h.h, s.seq FROM input "
    "JOIN stored AS s ON s.customer_id = input.e->>0 "
    "CROSS JOIN LATERAL json_array_elements_text(input.e->4) AS h(h)"
    ") SELECT customer_id, seq FROM stored",
}
_ROW_SQL: Final = {
    "add_counts": "INSERT INTO {c} (name, n) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET n = n + excluded.n",
    "delete_keys": "DELETE FROM {k} WHERE key_hash = ? AND seq = ?",
    "delete_records": "DELETE FROM {r} WHERE seq = ?",
    "insert_records": "INSERT INTO {r} (customer_id, features, digest, counters) VALUES {rows} "
    "RETURNING customer_id, seq",
    "insert_keys": "INSERT INTO {k} (key_hash, seq) VALUES (?, ?)",
    # candidates() reads: driver SQL, as SQLAlchemy's expanding IN lists cost more than the query.
    "counts": "SELECT name, n FROM {c} WHERE name IN ({list})",
    # The block sizes and the total with, on every row, the seq of the record asked about.
    "counts_and_own": "SELECT name, n, (SELECT seq FROM {r} WHERE customer_id = ?) "
    "FROM {c} WHERE name IN ({list})",
    "members": "SELECT m.key_hash, m.seq, r.customer_id, r.features "
    "FROM {k} AS m JOIN {r} AS r ON r.seq = m.seq "
    "WHERE m.key_hash IN ({list}) ORDER BY m.key_hash, m.seq",
}
_MARIADB_COUNTS: Final = (
    "INSERT INTO {c} (name, n) VALUES (?, ?) ON DUPLICATE KEY UPDATE n = n + VALUES(n)"
)


@attrs.frozen
class _Statements:
    """The index writes of one dialect and schema: no statement is compiled per call."""

    dialect: str
    sql: Mapping[str, str]

    @classmethod
    def of(cls, conn: Connection) -> _Statements:
        dialect = conn.dialect.name
        key = (dialect, (conn.get_execution_options().get("schema_translate_map") or {}).get(None))
        found = _STATEMENTS.get(key)
        if found is None:
            names = _quoted_names(conn)
            templates = dict(_PG_SQL if dialect == "postgresql" else _ROW_SQL)
            if dialect not in ("postgresql", "sqlite"):
                templates["add_counts"] = _MARIADB_COUNTS
            tables = {
                "r": names["match_records"],
                "k": names["match_keys"],
                "c": names["match_counts"],
                "rows": "{rows}",
                "list": "{list}",
            }
            mark = "?" if dialect == "sqlite" else "%s"  # PostgreSQL's templates have no "?"
            sql = {
                name: text.format(**tables).replace("?", mark) for name, text in templates.items()
            }
            found = cls(dialect, sql)
            _STATEMENTS[key] = found
        return found

    @property
    def _whole_columns(self) -> bool:
        return self.dialect == "postgresql"

    def add_counts(self, conn: Connection, rows: Sequence[tuple[str, int]]) -> None:
        """Add ``n`` to each named counter (creating it), in the order given."""
        if self._whole_columns:
            conn.exec_driver_sql(self.sql["add_counts"], _columns(rows))
        else:
            conn.exec_driver_sql(self.sql["add_counts"], list(rows))

    def delete_keys(self, conn: Connection, pairs: Sequence[tuple[str, int]]) -> None:
        """Delete the ``(key_hash, seq)`` rows."""
        if self._whole_columns:
            conn.exec_driver_sql(self.sql["delete_keys"], _columns(pairs))
        else:
            conn.exec_driver_sql(self.sql["delete_keys"], list(pairs))

    def delete_records(self, conn: Connection, seqs: Sequence[int]) -> None:
        """Delete the records with these ``seq``."""
        if self._whole_columns:
            conn.exec_driver_sql(self.sql["delete_records"], (",".join(map(str, seqs)),))
        else:
            conn.exec_driver_sql(self.sql["delete_records"], [(seq,) for seq in seqs])

    def insert_records(
        self, conn: Connection, rows: Sequence[tuple[str, str, str, str]]
    ) -> dict[str, int]:
        """Insert ``(customer_id, features, digest, counters)`` rows in order; return their seqs."""
        if self._whole_columns:
            result = conn.exec_driver_sql(self.sql["insert_records"], (_records_json(rows),))
        else:
            mark = "?" if self.dialect == "sqlite" else "%s"
            values = ", ".join([f"({mark}, {mark}, {mark}, {mark})"] * len(rows))
            result = conn.exec_driver_sql(
                self.sql["insert_records"].replace("{rows}", values),
                tuple(itertools.chain.from_iterable(rows)),
            )
        return {row[0]: int(row[1]) for row in result}

    def select(self, conn: Connection, name: str, values: Sequence[str], *first: str) -> Any:
        """Run the read ``name`` (not on PostgreSQL) with ``values`` as its ``IN`` list."""
        mark = "?" if self.dialect == "sqlite" else "%s"
        sql = self.sql[name].replace("{list}", ", ".join([mark] * len(values)))
        return conn.exec_driver_sql(sql, (*first, *values))

    def insert_all(
        self,
        conn: Connection,
        counts: Sequence[tuple[str, int]],
        rows: Sequence[tuple[str, str, str, str]],
        keys: Sequence[Sequence[str]],
    ) -> dict[str, int]:
        """PostgreSQL: add ``counts``, insert ``rows`` and each row's ``keys``, in one statement.

        Returns:
            The inserted records' seqs, by customer id.
        """
        names, deltas = _columns(counts)
        records = _records_json(rows, keys)
        result = conn.exec_driver_sql(self.sql["insert_all"], (records, names, deltas))
        return {row[0]: int(row[1]) for row in result}

    def insert_keys(self, conn: Connection, rows: Sequence[tuple[str, int]]) -> None:
        """Insert ``(key_hash, seq)`` rows."""
        if self._whole_columns:
            conn.exec_driver_sql(self.sql["insert_keys"], _columns(rows))
        else:
            conn.exec_driver_sql(self.sql["insert_keys"], list(rows))


_STATEMENTS: dict[tuple[str, str | None], _Statements] = {}  # by dialect and schema


def _records_json(
    rows: Sequence[tuple[str, str, str, str]], keys: Sequence[Sequence[str]] | None = None
) -> str:
    """PostgreSQL's records parameter: one JSON array of ``[id, features, digest, counters]``.

    The features and counters are JSON already: spliced in, not encoded again. With
    ``keys``, each element carries its record's key hashes fifth (hex digits: spliced
    in as they are).
    """
    if keys is None:
        elements = [
            f'[{_ID_JSON(cid)},{f},"{digest}",{counters}]' for cid, f, digest, counters in rows
        ]
    else:
        elements = [
            f'[{_ID_JSON(cid)},{f},"{digest}",{counters},{_hex_list(hashes)}]'
            for (cid, f, digest, counters), hashes in zip(rows, keys, strict=True)
        ]
    return f"[{','.join(elements)}]"


def _hex_list(hashes: Sequence[str]) -> str:
    return '["' + '","'.join(hashes) + '"]' if hashes else "[]"


def _columns(rows: Sequence[tuple[str, int]]) -> tuple[str, str]:
    """PostgreSQL's parameters for ``(name or key hash, number)`` rows: two joined columns.

    The names are counter names and key hashes (a letter and hex digits): never a comma.
    """
    return ",".join([r[0] for r in rows]), ",".join([str(r[1]) for r in rows])


class _Counts:
    """Adds to and subtracts from ``match_counts`` rows, in one sorted statement."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._dialect = conn.dialect.name

    def upsert(self, deltas: dict[str, int]) -> None:
        """Add each delta to its counter (creating missing ones); rows are locked in name order."""
        if not deltas:
            return
        rows = sorted(deltas.items())  # names are unique: sorted by name
        statements = _Statements.of(self._conn)
        for chunk in _chunks(rows, _WRITE_CHUNK):
            statements.add_counts(self._conn, chunk)

    def read(self, names: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(names))
        found: dict[str, int] = {}
        statements = _Statements.of(self._conn)
        for chunk in _chunks(wanted):
            if statements.dialect == "postgresql":
                result = self._conn.execute(_COUNTS, {"names": list(chunk)})
            else:
                result = statements.select(self._conn, "counts", chunk)
            found.update({row[0]: int(row[1]) for row in result})
        return found


# candidates() on PostgreSQL in one round trip (see _read_postgresql). Its text never changes
# (the lists are array parameters), so psycopg prepares it after a few calls: no planning.
_PG_CANDIDATES: Final = """
WITH sizes AS (
    SELECT name, n FROM {c} WHERE name = ANY(string_to_array(%(names)s, ','))
    UNION ALL
    SELECT name, n FROM {c} WHERE name BETWEEN '{first}' AND '{last}'
), members AS (
    SELECT m.key_hash, m.seq FROM unnest(
        string_to_array(%(hashes)s, ','), string_to_array(%(limits)s, ',')::bigint[]
    ) AS u(h, lim)
    JOIN sizes AS s ON s.name = 'b' || u.h AND s.n > 0 AND s.n <= u.lim
    JOIN {k} AS m ON m.key_hash = u.h
)
SELECT 0, name, n, NULL::bigint, NULL::text, NULL::json FROM sizes
UNION ALL
SELECT 1, NULL, NULL, seq, NULL, NULL FROM {r} WHERE customer_id = %(own)s
UNION ALL
SELECT 2, key_hash, NULL, seq, NULL, NULL FROM members
UNION ALL
SELECT 3, NULL, NULL, r.seq, r.customer_id, r.features
FROM {r} AS r WHERE r.seq IN (SELECT seq FROM members)
"""
# The candidates' own term-frequency counts are not read here: only a candidate agreeing
# exactly with the record on an adjusted column needs its count (rank_candidates' prefetch),
# and when its value is the record's own, that count is already read with the sizes.
_PG_CANDIDATE_SQL: dict[str, str] = {}


def _read_postgresql(
    conn: Connection,
    own_id: str,
    names: Sequence[str],
    accepted: Sequence[tuple[str, BlockingRule]],
    rows: dict[int, tuple[str, FeatureRow]],
) -> tuple[dict[str, int], int | None, dict[str, list[int]], dict[str, int]]:
    """Read what candidates() needs in one statement; return sizes, own seq, members, tf counts.

    ``names``: the counters whose values are wanted (blocks and term-frequency
    values); the total's shards are read too, in one range (every counter
    name from ``n00`` to ``n15`` is a shard). The members of the blocks small enough to be
    read (their ``seq`` in order, per key hash) are returned; their ids and
    keys go to ``rows``. The term-frequency counts asked for are returned
    (0 for a counter no one holds).
    """
    quoted = _quoted_names(conn)
    sql = _PG_CANDIDATE_SQL.get(quoted["match_records"])
    if sql is None:
        sql = _PG_CANDIDATES.format(
            r=quoted["match_records"],
            k=quoted["match_keys"],
            c=quoted["match_counts"],
            first=_SHARDS[0],
            last=_SHARDS[-1],
        )
        _PG_CANDIDATE_SQL[quoted["match_records"]] = sql
    # The lists go as comma-separated text (counter names and key hashes are a letter and
    # hex digits): dumping three short texts costs less than dumping three arrays.
    params = {
        "names": ",".join(names),
        "hashes": ",".join([h for h, _ in accepted]),
        "limits": ",".join([str(rule.max_block_size) for _, rule in accepted]),
        "own": own_id,
    }
    sizes: dict[str, int] = {}
    tf: dict[str, int] = {}
    own: int | None = None
    found: dict[str, list[int]] = {}
    for kind, name, n, seq, customer_id, features in conn.exec_driver_sql(sql, params).fetchall():
        if kind == 0:
            sizes[name] = int(n)
            if name[0] == "t":
                tf[name] = int(n)
        elif kind == 1:
            own = int(seq)
        elif kind == 2:
            found.setdefault(name, []).append(int(seq))
        elif seq not in rows:
            rows[int(seq)] = (customer_id, _features(features))
    for name in names:  # a term-frequency counter asked for and not found: no one holds it
        if name[0] == "t":
            tf.setdefault(name, 0)
    for members in found.values():
        members.sort()
    return sizes, own, found, tf


_PLANS: dict[int, tuple[MatchIndexSettings, _KeyPlan]] = {}


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlMatchIndex:
    """The match index of a unit of work's connection; see the module docstring.

    Use it inside the unit of work's ``with`` block (``uow.match_index``).

    Args:
        session: The connection of the unit of work that owns it.
        settings: How keys are built, blocked and scored.
    """

    def __init__(self, session: SqlSession, settings: MatchIndexSettings) -> None:
        self._session = session
        self.settings = settings
        # One per unit of work: build the plan (hashing the settings) once per settings.
        cached = _PLANS.get(id(settings))
        if cached is None or cached[0] is not settings:
            if len(_PLANS) > 64:
                _PLANS.clear()
            cached = _PLANS[id(settings)] = (settings, _KeyPlan.of(settings))
        self._plan = cached[1]

    @property
    def plan(self) -> _KeyPlan:
        """The key plan of the index's settings (which keys a record gets), built once."""
        return self._plan

    # -- writing (called by the customer repository) ---------------------------------------

    def sync(
        self,
        conn: Connection,
        saved: Sequence[Customer],
        *,
        new: bool = False,
        records: Sequence[tuple[MatchRecord, bool]] | None = None,
    ) -> int:
        """Bring the index rows of ``saved`` customers in step with them (same transaction).

        A customer merged into another leaves the index; any other is
        (re)written when its match record or the settings changed. ``new``:
        the customers were just inserted, so none is indexed yet. ``records``
        (instead of ``saved``): each customer's match record and whether it is
        indexed (not merged), as the backfill reads them.

        Returns:
            How many customers' rows were written or removed.
        """
        if records is None:
            records = [(MatchRecord.from_customer(c), _indexed(c)) for c in saved]
        plan = self._plan
        prepared = [(r.id, _entry(plan, r, stored=True) if ok else None) for r, ok in records]
        return self.apply_prepared(conn, prepared, new=new)

    def apply_prepared(
        self, conn: Connection, prepared: Sequence[tuple[str, _Entry | None]], *, new: bool = False
    ) -> int:
        """Write what :meth:`sync` computes: ids with their entries (``None``: not indexed)."""
        if not prepared:
            return 0
        wanted = {cid: e for cid, e in prepared if e is not None}
        ids = list(dict.fromkeys(cid for cid, _ in prepared))
        stored = {} if new else self._stored(conn, ids)
        leaving = [
            (cid, stored[cid][0], stored[cid][2])
            for cid in ids
            if cid in stored and (cid not in wanted or wanted[cid].digest != stored[cid][1])
        ]
        arriving = [
            e for cid, e in wanted.items() if cid not in stored or stored[cid][1] != e.digest
        ]
        self._apply(conn, leaving, arriving)
        return len({cid for cid, _, _ in leaving} | {e.customer_id for e in arriving})

    def remove(self, customer_ids: Iterable[str]) -> int:
        """Take customers out of the index (for code that deletes customer rows); return how many.

        Saves keep the index in step by themselves; a customer deleted by other
        means (an erasure that removes the row) must leave it in the same unit
        of work. Ids not in the index are ignored.

        Raises:
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "remove from the match index"
        conn = self._connection(operation)
        with translating(operation):
            stored = self._stored(conn, list(customer_ids))
            self._apply(conn, [(cid, s[0], s[2]) for cid, s in stored.items()], [])
        return len(stored)

    def _stored(self, conn: Connection, ids: Sequence[str]) -> dict[str, tuple[int, str, Any]]:
        """Return customer id -> (seq, digest, counter names) of the indexed ones."""
        found: dict[str, tuple[int, str, Any]] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            result = conn.execute(_STORED, {"ids": list(chunk)})
            found.update({row[0]: (int(row[1]), row[2], row[3]) for row in result})
        return found

    def _apply(
        self,
        conn: Connection,
        leaving: Sequence[tuple[str, int, Any]],
        arriving: Sequence[_Entry],
    ) -> None:
        deltas: collections.Counter[str] = collections.Counter()
        gone: list[tuple[str, int]] = []
        for customer_id, seq, names in leaving:
            # The names stored with the row: right even when the settings changed since.
            deltas.subtract((*names, _shard(customer_id)))
            blocks = dict.fromkeys(name[1:] for name in names if name.startswith("b"))
            gone.extend((key_hash, seq) for key_hash in blocks)
        # One count per name (Counter counts an iterable in C).
        deltas.update(itertools.chain.from_iterable(e.counter_names() for e in arriving))
        statements = _Statements.of(conn)
        changed = {k: v for k, v in deltas.items() if v}
        if not leaving and statements.dialect == "postgresql" and len(arriving) <= _FEW_ARRIVING:
            # A registration: counters (in name order, as upsert), record and keys at once.
            rows = [e.row or _row(e) for e in arriving]
            keys = [e.key_hashes() for e in arriving]
            statements.insert_all(conn, sorted(changed.items()), rows, keys)
            return
        # Counters first, in name order: the lock order every writer follows.
        _Counts(conn).upsert(changed)
        for chunk in _chunks(gone, _WRITE_CHUNK):
            statements.delete_keys(conn, chunk)
        for chunk in _chunks([seq for _, seq, _ in leaving], _WRITE_CHUNK):
            statements.delete_records(conn, chunk)
        if arriving:
            self._insert(conn, statements, arriving)

    @staticmethod
    def _insert(conn: Connection, statements: _Statements, arriving: Sequence[_Entry]) -> None:
        rows = [e.row or _row(e) for e in arriving]
        seqs: dict[str, int] = {}
        for chunk in _chunks(rows, _RECORD_CHUNK):
            seqs.update(statements.insert_records(conn, chunk))
        keys = [
            (h, seq) for e in arriving for seq in (seqs[e.customer_id],) for h in e.key_hashes()
        ]
        keys.sort()  # in index order: a bulk load touches each index page once
        for chunk in _chunks(keys, _WRITE_CHUNK):
            statements.insert_keys(conn, chunk)

    # -- reading -----------------------------------------------------------------------------

    def _connection(self, operation: str) -> Connection:
        return self._session.connection(operation)

    def __len__(self) -> int:
        """Return how many customers the index holds (the sum of the total's shards)."""
        conn = self._connection("count the match index")
        with translating("count the match index"):
            return sum(_Counts(conn).read(_SHARDS).values())

    def __contains__(self, customer_id: object) -> bool:
        """Return whether the customer with ``customer_id`` is indexed."""
        if not isinstance(customer_id, str):
            return False
        conn = self._connection("read the match index")
        with translating("read the match index"):
            return bool(self._stored(conn, [customer_id]))

    def candidates(
        self, record: MatchRecord, *, min_probability: float = 0.5, limit: int = 10
    ) -> list[ScoredPair]:
        """Return the indexed customers that may be the same as ``record``, best first.

        Same contract as :meth:`crmcore.matching.MatchIndex.candidates`.

        Raises:
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "find match candidates"
        conn = self._connection(operation)
        with translating(operation):
            return self._candidates(conn, record, (), min_probability, limit)

    def _candidates(
        self,
        conn: Connection,
        record: MatchRecord,
        pending: Sequence[_Entry],
        min_probability: float,
        limit: int,
    ) -> list[ScoredPair]:
        settings = self.settings
        entry = _entry(self._plan, record)
        accepted: list[tuple[str, BlockingRule]] = []
        for rule, hashes in zip(settings.blocking_rules, entry.blocks, strict=True):
            accepted.extend((h, rule) for h in hashes)
        pending_members: dict[str, list[int]] = {}
        pending_rows: dict[int, tuple[str, FeatureRow]] = {}
        base = 1 << 62  # pending records come after every stored one, in order
        for n, other in enumerate(pending):
            pending_rows[base + n] = (other.customer_id, other.features)
            for hashes in other.blocks:
                for h in hashes:  # as MatchIndex.add: a key met twice counts twice
                    pending_members.setdefault(h, []).append(base + n)
        rows: dict[int, tuple[str, FeatureRow]] = dict(pending_rows)
        sharing = {slot - base for h, _ in accepted for slot in pending_members.get(h, [])}
        sizes, own, stored_members, stored_tf = self._read(
            conn,
            record.id,
            entry,
            sharing=[pending[n] for n in sorted(sharing)],
            accepted=accepted,
            rows=rows,
        )
        total = sum(sizes.get(s, 0) for s in _SHARDS) + len(pending)
        own_slot = own
        for n, other in enumerate(pending):
            if other.customer_id == record.id:
                own_slot = base + n
        seen: dict[int, None] = {}
        for h, rule in accepted:
            members = [*stored_members.get(h, []), *pending_members.get(h, [])]
            size = sizes.get(f"b{h}", 0) + len(pending_members.get(h, []))
            size += 0 if own_slot is not None and own_slot in members else 1
            if size > rule.max_block_size:
                continue
            for slot in members:
                seen.setdefault(slot, None)
        slots = [s for s in seen if rows[s][0] != record.id][: settings.max_candidates]
        found = [rows[s] for s in slots]
        present = own is not None or any(p.customer_id == record.id for p in pending)
        known: dict[str, int] = {} if stored_tf is None else stored_tf
        pending_tf: dict[str, int] = {}
        for other in pending:
            for name in other.tf:
                pending_tf[name] = pending_tf.get(name, 0) + 1

        def prefetch(values: Collection[tuple[str, str]]) -> None:
            # The counts not read with the blocks, in one statement: only the values of
            # candidates agreeing exactly with the record are asked for.
            missing = {_tf_name(c, v) for c, v in values} - known.keys()
            if missing:
                read = _Counts(conn).read(missing)
                known.update({name: read.get(name, 0) for name in missing})

        def count(column: str, value: str) -> int:
            name = _tf_name(column, value)
            if name not in known:
                prefetch(((column, value),))
            return known[name] + pending_tf.get(name, 0)

        return rank_candidates(
            settings.model,
            record.id,
            entry.features,
            found,
            count=count,
            total=total,
            present=present,
            min_probability=min_probability,
            limit=limit,
            prefetch=prefetch,
        )

    def _read(
        self,
        conn: Connection,
        record_id: str,
        entry: _Entry,
        *,
        sharing: Sequence[_Entry],
        accepted: Sequence[tuple[str, BlockingRule]],
        rows: dict[int, tuple[str, FeatureRow]],
    ) -> tuple[dict[str, int], int | None, dict[str, list[int]], dict[str, int] | None]:
        """Read block sizes, the record's own seq and the readable blocks' members.

        On PostgreSQL one round trip also reads the term-frequency counts of
        the record's values and of the pending records sharing a block with
        it (else ``None``); a candidate's own values are counted only when
        needed (see :func:`~crmcore.matching.index.rank_candidates`).
        """
        blocks = {f"b{h}" for hashes in entry.blocks for h in hashes}
        if conn.dialect.name == "postgresql":
            tf_names = set(entry.tf)
            for other in sharing:
                tf_names.update(other.tf)
            return _read_postgresql(conn, record_id, sorted(blocks | tf_names), accepted, rows)
        names = sorted(blocks | set(_SHARDS))
        sizes: dict[str, int] = {}
        own: int | None = None
        statements = _Statements.of(conn)
        for name, n, seq in statements.select(conn, "counts_and_own", names, record_id):
            sizes[name] = int(n)
            own = None if seq is None else int(seq)
        return sizes, own, self._members(conn, sizes, accepted, rows), None

    @staticmethod
    def _members(
        conn: Connection,
        sizes: dict[str, int],
        accepted: Sequence[tuple[str, BlockingRule]],
        rows: dict[int, tuple[str, FeatureRow]],
    ) -> dict[str, list[int]]:
        """Read the members (seqs, in order) of the blocks small enough to be used.

        Their ids and keys go to ``rows``: one indexed join reads both.
        """
        limit = {h: rule.max_block_size for h, rule in accepted}
        readable = sorted(h for h in limit if 0 < sizes.get(f"b{h}", 0) <= limit[h])
        found: dict[str, list[int]] = {}
        statements = _Statements.of(conn)
        for chunk in _chunks(readable):
            for key_hash, seq, customer_id, features in statements.select(conn, "members", chunk):
                found.setdefault(key_hash, []).append(int(seq))
                if seq not in rows:
                    rows[int(seq)] = (customer_id, _features(features))
        return found

    # -- duplicate rules -------------------------------------------------------------------

    def check_batch(
        self, records: Sequence[MatchRecord], policy: DuplicatePolicy
    ) -> tuple[DuplicateCheck, ...]:
        """Check new records against the index and each other, like :func:`.check_batch`.

        First locks the blocks the records fall in (their ``match_counts``
        rows, in name order), so a concurrent registration of a record
        sharing a block waits for this unit of work to end and then sees
        what it stored: near-duplicates registered at once are each
        detected. Call it at the start of the unit of work (before other
        reads, so MariaDB's snapshot is taken after the locks). Nothing is
        written to the index; saving the allowed customers does that.

        Raises:
            ConcurrencyError: On a deadlock (retry the unit of work).
            StorageError: If the database fails or the unit of work is not active.
        """
        operation = "check duplicates"
        conn = self._connection(operation)
        entries = [_entry(self._plan, r) for r in records]
        out: list[DuplicateCheck] = []
        with translating(operation):
            _Counts(conn).upsert({name: 0 for e in entries for name in e.block_names})
            for number, record in enumerate(records):
                matches = tuple(self._candidates(conn, record, entries[:number], policy.floor, 10))
                best = matches[0].probability if matches else 0.0
                out.append(DuplicateCheck(record.id, policy.action_for(best), matches))
        return tuple(out)


def backfill_match_index(
    engine: Engine,
    settings: MatchIndexSettings | None = None,
    *,
    batch: int = 10_000,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    bulk: bool = False,
) -> int:
    """Index every stored customer whose index rows are missing or out of date; return how many.

    For a database that had customers before the index existed (or whose
    settings changed). Reads the customers in pages of ``batch`` by id and
    writes each page's rows in a transaction of its own, so it can be stopped
    and run again; customers saved meanwhile are indexed by their own save (a
    page's customers whose version changed since it was read are read again
    in the writing transaction). Merged customers are left out (and removed
    if indexed). When it wrote anything, it refreshes the database's
    statistics of the index tables (``ANALYZE``), so queries use their
    indexes at once; on PostgreSQL it vacuums them too (``VACUUM (ANALYZE)``,
    about 3 s at a million customers), so a block's members are read from
    the key index alone (an index-only scan) instead of from one table page
    each, until autovacuum would have got round to them.

    The keys of large backfills are built in worker processes (started once
    a full page of at least 1,000 customers was read) while this process
    reads and writes; the cyclic garbage collector is paused meanwhile
    (process-wide, see :func:`crmcore.matching.workers.paused_gc`).

    ``bulk=True`` (PostgreSQL only) fills an *empty* index 1.6 to 1.9 times
    as fast (at a million customers), for a first backfill at deployment: one transaction locks the
    three index tables (saves of customers and duplicate checks wait until
    it commits, then see the whole index), copies the pages in with the
    primary keys of the keys and counters dropped, adds up the counters
    once and builds both keys once at the end. It cannot be stopped and
    resumed: an error or interruption rolls all of it back.

    Args:
        engine: The store's engine.
        settings: The index settings (default: the store's default).
        batch: Customers per page (and per transaction).
        progress: Called with how many customers were read so far.
        workers: Worker processes building the keys (default: one per
            core, at most two; ``1`` builds them in this process).
        bulk: Fill an empty index in one locked transaction (see above).

    Returns:
        How many customers' rows were written or removed.

    Raises:
        StorageError: If the database fails.
        ConfigurationError: If ``batch`` or ``workers`` is not positive, or
            ``bulk`` is asked of another database than PostgreSQL or of an
            index that is not empty.
    """
    from crmcore.adapters.sql.engine import configure_engine  # noqa: PLC0415 - no cycle at import
    from crmcore.serialization import make_converter  # noqa: PLC0415

    if batch < 1:
        raise ConfigurationError(f"backfill batch must be positive, got {batch}")
    if workers is not None and workers < 1:
        raise ConfigurationError(f"backfill workers must be positive, got {workers}")
    if bulk and engine.dialect.name != "postgresql":
        raise ConfigurationError(
            f"a bulk backfill needs PostgreSQL, not {engine.dialect.name}: run it without bulk"
        )
    configure_engine(engine)
    settings = settings if settings is not None else MatchIndexSettings()
    index = SqlMatchIndex(
        SqlSession(connection=_no_connection, converter=make_converter()), settings
    )
    workers_used = pool_policy.default_workers(workers)
    run = _Backfill(engine, index, batch, progress, workers_used, bulk=bulk)
    try:
        with pool_policy.paused_gc():
            changed = run.run()
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError("backfill the match index", str(exc).splitlines()[0]) from exc
    if changed:
        _analyze(engine, vacuum=True)
    return changed


_POOL_FROM: Final = 1_000
"""Worker processes start only for pages at least this large: below, starting them costs more."""

_Page: TypeAlias = list[tuple[str, int, str]]  # (id, version, document as JSON text)
_Prepared: TypeAlias = list[tuple[str, "_Entry | None"]]  # (id, its entry; None: not indexed)


def _prepare(page: Sequence[tuple[str, int, str]], plan: _KeyPlan) -> _Prepared:
    """Build the index rows of a page of stored documents (in a worker, or here).

    A document is read straight into its record's fields (:func:`_document_fields`);
    one that is not plainly a customer's goes through :func:`_read_document`,
    which builds the record (or says what is wrong with the document).
    """
    out: _Prepared = []
    loads = json.loads
    for customer_id, _, text in page:
        try:
            document = loads(text) if isinstance(text, str) else text
            read = _document_fields(document)
            indexed = document["merged_into"] is None
        except Exception:  # noqa: BLE001 - _read_document below says what is wrong
            read = None
        if read is None:
            record, indexed = _read_document(customer_id, text)
            out.append((customer_id, _entry(plan, record, stored=True) if indexed else None))
        elif indexed:
            out.append((customer_id, _fields_entry(plan, read[0], read[1], stored=True)))
        else:
            out.append((customer_id, None))
    return out


def _document_fields(document: Mapping[str, Any]) -> tuple[str, FieldView] | None:
    """The id and fields of ``record_of_document(document)``, without building the record.

    ``None`` when a value is not a plain string (the record's converters then
    decide); a property test checks the rest against :func:`record_of_document`.
    """
    v = _stored_values(document)
    singles = (v.id, v.given, v.family, v.company, v.city, v.postcode, v.country, v.birth)
    if not all(type(x) is str for x in (*singles, v.national_id, *v.emails, *v.phones)):
        return None
    record_id = v.id.strip()
    if not record_id:
        return None
    texts = [t.strip() for t in v.emails]
    numbers = [n.partition(";")[0].strip() for n in v.phones]
    return record_id, RawFields(
        "",
        v.given.strip(),
        v.family.strip(),
        tuple([t for t in texts if t]),
        tuple([n for n in numbers if n]),
        v.company.strip(),
        v.city.strip(),
        v.postcode.strip(),
        v.country.strip().upper(),
        v.birth.strip(),
        v.street.strip(),
        v.national_id.strip(),
        "",
    )


def _plan_args(plan: _KeyPlan) -> tuple[object, ...]:
    """What :func:`_plan_state` needs to rebuild ``plan`` in a worker (all of it picklable)."""
    keys = plan.keys
    nicknames = None if keys.nicknames is NICKNAMES else dict(keys.nicknames)
    options = (keys.fold_email_tags, keys.fold_gmail_dots, nicknames, keys.region)
    return options, plan.rules, plan.tf, plan.fingerprint


def _plan_state(  # pragma: no cover - runs in worker processes
    options: tuple[bool, bool, dict[str, str] | None, str | None],
    rules: tuple[tuple[BlockingRule, str], ...],
    tf: tuple[tuple[str, int], ...],
    fingerprint: str,
) -> _KeyPlan:
    fold_tags, fold_dots, nicknames, region = options
    keys = KeyOptions(
        fold_email_tags=fold_tags,
        fold_gmail_dots=fold_dots,
        nicknames=NICKNAMES if nicknames is None else nicknames,
        region=region,
    )
    return _KeyPlan(keys, rules, tf, fingerprint)


_ANALYZE_FROM: Final = 20_000
"""On PostgreSQL the backfill refreshes the index statistics whenever its rows doubled past this."""

_BULK_CACHE_KIB: Final = 256 * 1024
"""SQLite page cache of the backfill's writing connection: the index b-trees' pages it meets."""


@contextlib.contextmanager
def _bulk_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, give ``conn`` a large page cache until the block ends (then restore it).

    The backfill inserts keys all over the index b-trees; with SQLite's default
    2 MiB cache a million customers' pages are read again and again.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{_BULK_CACHE_KIB}")
    conn.commit()
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")
        conn.commit()


class _Backfill:
    """One backfill: pages read ahead, keyed by workers, written in order, a transaction each."""

    def __init__(
        self,
        engine: Engine,
        index: SqlMatchIndex,
        batch: int,
        progress: Callable[[int], None] | None,
        workers: int,
        *,
        bulk: bool = False,
    ) -> None:
        self.engine = engine
        self.index = index
        self.plan = index.plan
        self.batch = batch
        self.progress = progress
        self.workers = workers
        self.bulk: _BulkLoad | None = None  # while a bulk backfill runs
        self.wants_bulk = bulk
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.pending: collections.deque[
            tuple[_Page, concurrent.futures.Future[_Prepared] | None]
        ] = collections.deque()
        self.changed = 0
        self.read = 0
        self.analyzed = _ANALYZE_FROM  # rows written when the statistics were last refreshed
        c = customers.c
        self.page_sql = (
            sa.select(c.id, c.version, sa.cast(c.document, sa.Text))
            .where(c.id > sa.bindparam("after"))
            .order_by(c.id)
            .limit(batch)
        )
        self.versions_sql = sa.select(c.id, c.version).where(
            c.id >= sa.bindparam("first"), c.id <= sa.bindparam("last")
        )
        self.again_sql = sa.select(c.id, c.version, sa.cast(c.document, sa.Text)).where(
            c.id.in_(sa.bindparam("ids", expanding=True))
        )

    def run(self) -> int:
        with self.engine.connect() as writer, _bulk_cache(writer):
            self.writer = writer
            if not self.wants_bulk:
                return self._run()
            with writer.begin():
                self.bulk = _BulkLoad.start(writer)
                changed = self._run()
                self.bulk.finish(writer)
            return changed

    def _run(self) -> int:
        after = ""
        try:
            while True:
                with self.engine.connect() as conn:
                    page: _Page = [
                        (row[0], int(row[1]), row[2])
                        for row in conn.execute(self.page_sql, {"after": after})
                    ]
                if page:
                    after = page[-1][0]
                    self._dispatch(page)
                last = len(page) < self.batch
                while self.pending and (last or len(self.pending) > 2 * self.workers):
                    self._write_next()
                if last:
                    return self.changed
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self, page: _Page) -> None:
        if self.pool is None and self.workers > 1 and len(page) >= max(self.batch, _POOL_FROM):
            self.pool = pool_policy.start_pool(
                self.workers, "spawn", (_plan_state, _plan_args(self.plan)), collect_cycles=False
            )
        job = None
        if self.pool is not None:
            job = pool_policy.submit(self.pool, pool_policy.in_worker, _prepare, page)
        self.pending.append((page, job))

    def _write_next(self) -> None:
        page, job = self.pending.popleft()
        prepared = pool_policy.result_or_here(job, lambda: _prepare(page, self.plan))
        conn = self.writer
        # A bulk backfill writes every page in its one transaction.
        with conn.begin() if self.bulk is None else contextlib.nullcontext():
            # A customer saved since the page was read indexed itself: read it again.
            sql, bounds = self.versions_sql, {"first": page[0][0], "last": page[-1][0]}
            now = {row[0]: int(row[1]) for row in conn.execute(sql, bounds)}
            stale = {cid for cid, version, _ in page if now.get(cid) != version}
            if stale:
                again = dict(self._read_again(conn, sorted(stale)))
                prepared = [
                    (cid, again[cid] if cid in stale else entry)
                    for cid, entry in prepared
                    if cid in now
                ]
            if self.bulk is None:
                self.changed += self.index.apply_prepared(conn, prepared)
            else:
                self.changed += self.bulk.write(conn, prepared)
        self.read += len(page)
        if (
            self.bulk is None
            and conn.dialect.name == "postgresql"
            and self.changed >= 2 * self.analyzed
        ):
            # The statements psycopg prepared (looking up a page's stored rows) keep the plan
            # made for the small index they first met: a sequential scan, which grows with
            # the index. Fresh statistics make PostgreSQL plan them again, with the indexes.
            _analyze(self.engine)
            self.analyzed = max(self.changed, _ANALYZE_FROM)
        if self.progress is not None:
            self.progress(self.read)

    def _read_again(self, conn: Connection, ids: Sequence[str]) -> _Prepared:
        rows: _Page = []
        for chunk in _chunks(ids):
            rows.extend(
                (row[0], int(row[1]), row[2])
                for row in conn.execute(self.again_sql, {"ids": list(chunk)})
            )
        return _prepare(rows, self.plan)


_BULK_SQL: Final = {
    # Saves read the index before writing it: they wait at its first read, not half-way.
    "lock": "LOCK TABLE {r}, {k}, {c} IN ACCESS EXCLUSIVE MODE",
    "any": "SELECT 1 FROM {r} LIMIT 1",
    "primary_key": "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass"
    " AND contype = 'p'",
    "sequence": "SELECT pg_get_serial_sequence(%s, 'seq')",
    # With no record, every count is zero: the rows left are duplicate checks' lock rows.
    "truncate": "TRUNCATE {r}, {k}, {c}",
    "drop_keys_pk": "ALTER TABLE {k} DROP CONSTRAINT {kpk}",
    "drop_counts_pk": "ALTER TABLE {c} DROP CONSTRAINT {cpk}",
    "names": "CREATE TEMPORARY TABLE crmcore_bulk_names (name text) ON COMMIT DROP",
    "seqs": "SELECT setval(%(s)s, nextval(%(s)s) + %(n)s - 1)",
    "copy_records": "COPY {r} (seq, customer_id, features, digest, counters) FROM STDIN",
    "copy_keys": "COPY {k} (key_hash, seq) FROM STDIN",
    "copy_names": "COPY crmcore_bulk_names (name) FROM STDIN",
    "add_keys_pk": "ALTER TABLE {k} ADD CONSTRAINT {kpk} PRIMARY KEY (key_hash, seq)",
    # Hashed, not sorted: the primary key built next sorts the rows anyway.
    "counts": "INSERT INTO {c} (name, n) SELECT name, count(*) FROM crmcore_bulk_names"
    " GROUP BY name",
    "add_counts_pk": "ALTER TABLE {c} ADD CONSTRAINT {cpk} PRIMARY KEY (name)",
}
_BULK_MEMORY: Final = "512MB"
"""Sort memory of a bulk backfill's transaction: building the indexes and adding up counters."""


class _BulkLoad:
    """A bulk backfill's transaction on PostgreSQL: tables locked, indexes built at the end.

    Inserting a million customers' keys into the ``(key_hash, seq)`` b-tree
    and upserting their counters one page at a time touches random pages of
    indexes larger than the server's buffers; building each index once from
    the finished table is one sort. So the two primary keys are dropped
    while the pages are copied in (``COPY``: records with seqs taken from
    their sequence in one call per page, keys, and every counter name a
    record adds one to, into a temporary table), and at the end the
    counters are added up in one ``GROUP BY`` and both keys built again.
    """

    def __init__(self, sql: Mapping[str, str], sequence: str) -> None:
        self.sql = sql  # _BULK_SQL for this connection's tables
        self.sequence = sequence

    @classmethod
    def start(cls, conn: Connection) -> _BulkLoad:
        """Lock the index tables, check they are empty and drop their primary keys."""
        names = _quoted_names(conn)
        r, k, c = (names[t.name] for t in (match_records, match_keys, match_counts))
        conn.exec_driver_sql(_BULK_SQL["lock"].format(r=r, k=k, c=c))
        if conn.exec_driver_sql(_BULK_SQL["any"].format(r=r)).first():
            raise ConfigurationError(
                "a bulk backfill fills an empty match index, and this one has customers:"
                " run it without bulk (it writes only what is missing or out of date)"
            )
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{_BULK_MEMORY}'")
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{_BULK_MEMORY}'")
        quote = conn.dialect.identifier_preparer.quote

        def primary_key(table: str) -> str:
            return quote(conn.exec_driver_sql(_BULK_SQL["primary_key"], (table,)).scalar_one())

        tables = {"r": r, "k": k, "c": c, "kpk": primary_key(k), "cpk": primary_key(c)}
        sql = {name: text.format(**tables) for name, text in _BULK_SQL.items()}
        sequence = conn.exec_driver_sql(sql["sequence"], (r,)).scalar_one()
        for step in ("truncate", "drop_keys_pk", "drop_counts_pk", "names"):
            conn.exec_driver_sql(sql[step])
        return cls(sql, sequence)

    def write(self, conn: Connection, prepared: Sequence[tuple[str, _Entry | None]]) -> int:
        """Copy in a page's records, keys and counter names; return how many customers."""
        arriving = [entry for _, entry in prepared if entry is not None]
        if not arriving:
            return 0
        last = conn.exec_driver_sql(
            self.sql["seqs"], {"s": self.sequence, "n": len(arriving)}
        ).scalar_one()
        first = int(last) - len(arriving) + 1
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(self.sql["copy_records"]) as copy:
            for seq, e in enumerate(arriving, first):
                copy.write_row((seq, *(e.row or _row(e))))
        # Key hashes and counter names are a letter and hex digits: nothing to escape.
        keys = "".join(
            f"{h}\t{seq}\n" for seq, e in enumerate(arriving, first) for h in e.key_hashes()
        )
        counted = "\n".join(itertools.chain.from_iterable(e.counter_names() for e in arriving))
        for statement, data in (("copy_keys", keys), ("copy_names", counted + "\n")):
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor, cursor.copy(self.sql[statement]) as copy:
                copy.write(data)
        return len(arriving)

    def finish(self, conn: Connection) -> None:
        """Build the keys' primary key, add up the counters and build theirs."""
        for step in ("add_keys_pk", "counts", "add_counts_pk"):
            conn.exec_driver_sql(self.sql[step])


def _analyze(engine: Engine, *, vacuum: bool = False) -> None:
    """Refresh the planner's statistics of the index tables after a bulk load.

    Without them PostgreSQL plans the block lookups as sequential scans
    until autovacuum gets round to the new rows (milliseconds per query at
    100,000 customers instead of a fraction of one). With ``vacuum``,
    PostgreSQL also marks the new rows' pages all-visible (``VACUUM``, which
    cannot run in a transaction): an index-only scan of the keys then skips
    the table.
    """
    dialect = engine.dialect.name
    try:
        if vacuum and dialect == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                listed = ", ".join(_quoted_names(conn).values())
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {listed}")
            return
        with engine.begin() as conn:
            names = list(_quoted_names(conn).values())
            if dialect == "postgresql":
                conn.exec_driver_sql(f"ANALYZE {', '.join(names)}")
            elif dialect == "sqlite":
                conn.exec_driver_sql("ANALYZE")
            else:
                conn.exec_driver_sql(f"ANALYZE TABLE {', '.join(names)}").all()
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError("analyze the match index", str(exc).splitlines()[0]) from exc


def _read_document(customer_id: str, document: Any) -> tuple[MatchRecord, bool]:
    """The match record of a stored document (or its JSON) and whether it is indexed."""
    try:
        if isinstance(document, str):
            document = json.loads(document)
        return record_of_document(document), document["merged_into"] is None
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise StorageError(
            "backfill the match index",
            f"customer {customer_id}: its stored document is not a customer ({exc!r})",
        ) from exc


def _no_connection(operation: str) -> Connection:
    raise StorageError(operation, "the backfill passes its connection explicitly")
