r"""The engine-neutral matching kernel over Arrow record batches.

Spark's ``mapInArrow``, Dask's ``map_partitions`` (through
``pyarrow.RecordBatch.from_pandas``) or a plain loop all hand over data as
Arrow record batches; the functions here turn them into matching results
with exactly the in-process code of :mod:`crmcore.matching` — one
definition of every key, blocking key, comparison and score:

1. :func:`key_batches` — raw rows → matching keys (one row per record: the
   :data:`~crmcore.matching.FEATURE_COLUMNS` plus every email and phone key),
   built by :func:`~crmcore.matching.build_features`;
2. :func:`block_key_batches` — keys → ``(rule, key, id)``: the blocking keys
   :func:`~crmcore.matching.blocking.rule_keys` files each record under, as
   :func:`~crmcore.matching.candidate_pairs` reads them;
3. :meth:`PairKernel.score_blocks` — whole blocks (one row per block, its
   records as a list) → every candidate pair within each block with its
   comparison levels (:func:`~crmcore.matching.compare_pairs`), term-frequency
   adjustments and match probability (:class:`~crmcore.matching.MatchModel`).

Term frequencies are those of the whole data set, not of one batch: each
keyed record carries, per adjusted column, how many records share its value
(``tf_<column>``), and the kernel is told the total.

>>> import pyarrow as pa
>>> raw = pa.RecordBatch.from_pylist([
...     {"id": "1", "full_name": "张伟", "phones": "138 0013 8000", "country": "CN"},
...     {"id": "2", "full_name": "Zhang Wei", "phones": "+86 138-0013-8000", "country": ""},
... ])
>>> keys = next(key_batches([raw]))
>>> keys.column("phone").to_pylist()
['+8613800138000', '+8613800138000']
>>> from crmcore.matching import block_on
>>> entries = next(block_key_batches([keys], [block_on("phone")]))
>>> entries.column("key").to_pylist()
['\x1f+8613800138000', '\x1f+8613800138000']

May import: ``crmcore.matching``, ``crmcore.errors``; pyarrow, numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Final

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from crmcore.errors import ConfigurationError, InvalidValueError
from crmcore.matching import (
    FEATURE_COLUMNS,
    BlockingRule,
    FeatureRow,
    FeatureTable,
    KeyOptions,
    MatchModel,
    MatchRecord,
    build_features,
    compare_pairs,
)
from crmcore.matching.blocking import rule_keys

__all__ = [
    "BLOCK_SCHEMA",
    "ENTRY_SCHEMA",
    "KEY_SCHEMA",
    "RAW_FIELDS",
    "PairKernel",
    "block_key_batches",
    "block_schema",
    "feature_table",
    "key_batches",
    "pair_schema",
    "tf_columns",
]

RAW_FIELDS: Final = tuple(name for name in attrs.fields_dict(MatchRecord) if name != "id")
"""The :class:`~crmcore.matching.MatchRecord` fields a raw batch may hold (besides ``id``)."""

_MULTI: Final = frozenset({"emails", "phones"})

KEY_SCHEMA: Final = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        *(pa.field(name, pa.string(), nullable=False) for name in FEATURE_COLUMNS),
        pa.field("emails", pa.list_(pa.string()), nullable=False),
        pa.field("phones", pa.list_(pa.string()), nullable=False),
    ]
)
"""One keyed record: its id, every feature column, every email and phone key."""

ENTRY_SCHEMA: Final = pa.schema(
    [
        pa.field("rule", pa.int32(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
    ]
)
"""One blocking entry: the rule's position, the key, the record's id."""


def tf_columns(model: MatchModel) -> tuple[str, ...]:
    """Return the columns ``model`` adjusts for term frequency (each once, in model order).

    >>> columns = tf_columns(MatchModel.default())
    >>> "city" in columns, "postcode" in columns
    (True, False)
    """
    return tuple(dict.fromkeys(c.tf_column for c in model.comparisons if c.tf_column))


def block_schema(model: MatchModel) -> pa.Schema:
    """Return the schema of the blocks :meth:`PairKernel.score_blocks` reads for ``model``.

    Each block is one row: the rule's position, the key, and its records as a
    list of keyed records (:data:`KEY_SCHEMA`) with a ``tf_<column>`` count for
    each of ``model``'s term-frequency columns (:func:`tf_columns`).
    """
    tf = tf_columns(model)
    fields = [*KEY_SCHEMA, *(pa.field(f"tf_{c}", pa.int64(), nullable=False) for c in tf)]
    return pa.schema(
        [
            pa.field("rule", pa.int32(), nullable=False),
            pa.field("key", pa.string(), nullable=False),
            pa.field("rows", pa.list_(pa.struct(fields)), nullable=False),
        ]
    )


BLOCK_SCHEMA: Final = block_schema(MatchModel.default())
"""One block for the default comparisons: rule, key and its records (keys + ``tf_`` counts)."""


def pair_schema(*, explain: bool = False) -> pa.Schema:
    """Return the schema of scored pairs.

    Args:
        explain: Whether an ``explanation`` column is included.

    Returns:
        ``left``, ``right`` (ids, ``left < right``), ``levels`` (one ``int8``
        level per comparison of the model), ``weight``, ``probability`` and
        optionally ``explanation`` (text, for pairs at or above the threshold).
    """
    fields = [
        pa.field("left", pa.string(), nullable=False),
        pa.field("right", pa.string(), nullable=False),
        pa.field("levels", pa.list_(pa.int8()), nullable=False),
        pa.field("weight", pa.float64(), nullable=False),
        pa.field("probability", pa.float64(), nullable=False),
    ]
    if explain:
        fields.append(pa.field("explanation", pa.string()))
    return pa.schema(fields)


# --------------------------------------------------------------------------- rows → keys


def _cells(batch: pa.RecordBatch, column: str) -> list[object]:
    return batch.column(column).to_pylist()  # type: ignore[no-any-return]


def _records(batch: pa.RecordBatch, columns: Mapping[str, Sequence[str]]) -> list[MatchRecord]:
    if "id" not in columns:
        raise ConfigurationError("the rows need an id column (id, record_id, customer_id …)")
    ids = _cells(batch, columns["id"][0])
    fields: dict[str, list[list[object]]] = {
        field: [_cells(batch, c) for c in names]
        for field, names in columns.items()
        if field != "id" and names
    }
    out = []
    for i, record_id in enumerate(ids):
        values: dict[str, object] = {}
        for field, cells in fields.items():
            row = [cell[i] for cell in cells]
            if field in _MULTI:
                flat: list[object] = []
                for cell in row:
                    if isinstance(cell, list):
                        flat.extend(cell)
                    elif cell is not None:
                        flat.append(cell)
                values[field] = [c for c in flat if c is not None]
            else:
                # The first cell with text, as MatchRecord.from_row reads a CSV row.
                values[field] = next(
                    (c for c in row if c is not None and (not isinstance(c, str) or c.strip())),
                    "",
                )
        try:
            out.append(MatchRecord(id=record_id, **values))
        except InvalidValueError as error:
            raise InvalidValueError(
                f"{error.field} in row {i} (id {record_id!r})", error.value, error.reason
            ) from None
    return out


def _plan(
    names: Sequence[str], columns: Mapping[str, Sequence[str]] | None
) -> dict[str, list[str]]:
    if columns is not None:
        missing = sorted({c for cs in columns.values() for c in cs} - set(names))
        if missing:
            raise ConfigurationError(f"columns {missing!r} are not in the data")
        return {field: list(cs) for field, cs in columns.items()}
    plan: dict[str, list[str]] = {}
    known = {"id", *RAW_FIELDS}
    for name in names:
        if name in known:
            plan.setdefault(name, []).append(name)
    return plan


def key_batches(
    batches: Iterable[pa.RecordBatch],
    *,
    options: KeyOptions | None = None,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Key raw rows: one :data:`KEY_SCHEMA` batch per input batch.

    Args:
        batches: Raw rows: an ``id`` column and any :data:`RAW_FIELDS` (strings;
            ``emails``/``phones`` a string or a list of strings); nulls are empty.
        options: How keys are built.
        columns: Field → the columns holding it (as from
            :func:`~crmcore.matching.recognise_columns`); default: columns named
            after the fields.

    Yields:
        The keys of each batch's records, in row order.

    Raises:
        ConfigurationError: If there is no id column or a named column is missing.
        InvalidValueError: If a cell is not text (the row and id are named).
    """
    options = options or KeyOptions()
    for batch in batches:
        plan = _plan(batch.schema.names, columns)
        records = _records(batch, plan)
        table = build_features(records, options, workers=1)
        yield _key_batch(table)


def _key_batch(table: FeatureTable) -> pa.RecordBatch:
    arrays: list[pa.Array] = [pa.array(table.ids.tolist(), pa.string())]
    arrays.extend(pa.array(table.values[name].tolist(), pa.string()) for name in FEATURE_COLUMNS)
    emails = table.values["email"].tolist()
    phones = table.values["phone"].tolist()
    arrays.append(
        pa.array(
            [table.emails.get(i, (e,) if e else ()) for i, e in enumerate(emails)],
            pa.list_(pa.string()),
        )
    )
    arrays.append(
        pa.array(
            [table.phones.get(i, (p,) if p else ()) for i, p in enumerate(phones)],
            pa.list_(pa.string()),
        )
    )
    return pa.RecordBatch.from_arrays(arrays, schema=KEY_SCHEMA)


def feature_table(
    keys: pa.RecordBatch | pa.Table, tf: Sequence[str] = ()
) -> tuple[FeatureTable, dict[str, npt.NDArray[np.int64]]]:
    """Rebuild the feature table of keyed records (and their ``tf_`` counts).

    Args:
        keys: Keyed records (:data:`KEY_SCHEMA`, optionally ``tf_<column>`` counts).
        tf: The term-frequency columns to read counts of.

    Returns:
        The table (rows in the given order) and, per ``tf`` column, how many
        records of the whole data set share each row's value.
    """
    table = FeatureTable.from_rows(keys.column("id").to_pylist(), _feature_rows(keys))
    counts = {
        c: np.asarray(keys.column(f"tf_{c}").to_numpy(zero_copy_only=False), dtype=np.int64)
        for c in tf
    }
    return table, counts


def _feature_rows(keys: pa.RecordBatch | pa.Table) -> list[FeatureRow]:
    """Return each keyed record as :func:`~crmcore.matching.feature_row` gives it."""
    columns = [keys.column(name).to_pylist() for name in FEATURE_COLUMNS]
    emails = keys.column("emails").to_pylist()
    phones = keys.column("phones").to_pylist()
    return [
        (values, tuple(e), tuple(p))
        for values, e, p in zip(zip(*columns, strict=True), emails, phones, strict=True)
    ]


# --------------------------------------------------------------------------- keys → blocking keys


def _batch_rule_keys(rule: BlockingRule, row: FeatureRow) -> list[str]:
    """The keys :func:`~crmcore.matching.candidate_pairs` files a record under for ``rule``.

    Batch blocking reads every email (phone) of a record only for a rule on
    that column alone; a rule combining it with other columns reads the
    primary one.
    """
    if len(rule.columns) > 1:
        columns = row[0]
        email, phone = columns[4], columns[6]
        row = (columns, (email,) if email else (), (phone,) if phone else ())
    return rule_keys(rule, row)


def block_key_batches(
    batches: Iterable[pa.RecordBatch], rules: Sequence[BlockingRule]
) -> Iterator[pa.RecordBatch]:
    """Yield the blocking entries (:data:`ENTRY_SCHEMA`) of keyed records.

    Args:
        batches: Keyed records (:data:`KEY_SCHEMA`).
        rules: The blocking rules; ``rule`` in the output is a position in it.

    Yields:
        One batch of ``(rule, key, id)`` per input batch.
    """
    for batch in batches:
        ids = batch.column("id").to_pylist()
        out_rule: list[int] = []
        out_key: list[str] = []
        out_id: list[str] = []
        for i, row in enumerate(_feature_rows(batch)):
            record_id = ids[i]
            for r, rule in enumerate(rules):
                for key in _batch_rule_keys(rule, row):
                    out_rule.append(r)
                    out_key.append(key)
                    out_id.append(record_id)
        yield pa.RecordBatch.from_arrays(
            [pa.array(out_rule, pa.int32()), pa.array(out_key, pa.string()), pa.array(out_id)],
            schema=ENTRY_SCHEMA,
        )


# --------------------------------------------------------------------------- blocks → scored pairs


@attrs.frozen
class PairKernel:
    """Score every pair within blocks with one model.

    Attributes:
        model: The trained model.
        total: Records in the whole data set (term frequencies are out of it).
        link_only: Pair only records of different ``source``.
        threshold: Pairs at or above it get an explanation (with ``explain``).
        explain: Add an ``explanation`` column.
        holders: Per contact column (``email``, ``phone``), how many different
            names hold each value, counted over the whole data set; only values
            held by :data:`~crmcore.matching.model.SHARED_HOLDERS` or more names
            matter (a switchboard's exact match weighs nothing). ``None``: no
            value is treated as shared. In one process,
            ``{c: contact_holders(table, c) for c in CONTACT_COLUMNS}``; on Spark,
            ``crmcore.adapters.spark`` counts them with a ``groupBy``.
    """

    model: MatchModel
    total: int
    link_only: bool = False
    threshold: float = 0.5
    explain: bool = False
    holders: Mapping[str, Mapping[str, int]] | None = attrs.field(default=None, eq=False)

    @property
    def schema(self) -> pa.Schema:
        """The schema of the scored pairs (:func:`pair_schema`)."""
        return pair_schema(explain=self.explain)

    def score(
        self,
        table: FeatureTable,
        counts: Mapping[str, npt.NDArray[np.int64]],
        left: npt.NDArray[np.int64],
        right: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64], npt.NDArray[np.float64], object]:
        """Return levels, weights, probabilities and the tf adjustments of row pairs.

        Args:
            table: The records' keys.
            counts: Per tf column, how many records of the data set share each row's value.
            left: Left rows.
            right: Right rows.

        Returns:
            Levels (pairs × comparisons), match weights, match probabilities
            (0 for pairs of one source under ``link_only``) and the
            term-frequency adjustments.
        """
        levels = compare_pairs(table, self.model.comparisons, left, right)
        tf = self.model.tf_adjustments(
            table, levels, left, right, counts=counts, total=self.total, holders=self.holders
        )
        weights, probability, _ = self.model.score(levels, tf)
        if self.link_only:
            same = table.codes["source"][left] == table.codes["source"][right]
            probability[same] = 0.0
        return levels, weights, probability, tf

    def score_blocks(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Score every pair of records within each block.

        Args:
            batches: Blocks: a ``rows`` list column of keyed records with their
                ``tf_<column>`` counts (see :data:`BLOCK_SCHEMA`), one block per row.

        Yields:
            Scored pairs (:attr:`schema`), ``left < right`` by id, one batch per input batch.
        """
        tf = tf_columns(self.model)
        for batch in batches:
            rows = batch.column("rows")
            flat = pa.Table.from_batches([pa.RecordBatch.from_struct_array(rows.flatten())])
            table, counts = feature_table(flat, tf)
            offsets = np.asarray(rows.offsets.to_numpy(), dtype=np.int64)
            offsets -= offsets[0]  # a sliced list array's offsets start past 0; flatten()'s do not
            sizes = np.diff(offsets)
            starts = offsets[:-1]
            left, right = _pairs_within(starts, sizes)
            ids = table.ids
            # Orient every pair by id, as in-process rows are in id order.
            swap = ids[left].astype(str) > ids[right].astype(str)
            left, right = np.where(swap, right, left), np.where(swap, left, right)
            if self.link_only and len(left):
                keep = table.codes["source"][left] != table.codes["source"][right]
                left, right = left[keep], right[keep]
            yield self._batch(table, counts, left, right)

    def _batch(
        self,
        table: FeatureTable,
        counts: Mapping[str, npt.NDArray[np.int64]],
        left: npt.NDArray[np.int64],
        right: npt.NDArray[np.int64],
    ) -> pa.RecordBatch:
        levels, weights, probability, tf = self.score(table, counts, left, right)
        width = levels.shape[1]
        offsets = pa.array(np.arange(0, (len(left) + 1) * width, width, dtype=np.int32))
        level_lists = pa.ListArray.from_arrays(offsets, pa.array(levels.ravel(), pa.int8()))
        arrays: list[pa.Array] = [
            pa.array(table.ids[left].tolist(), pa.string()),
            pa.array(table.ids[right].tolist(), pa.string()),
            level_lists,
            pa.array(weights, pa.float64()),
            pa.array(probability, pa.float64()),
        ]
        if self.explain:
            arrays.append(pa.array(self._explanations(table, levels, tf, probability, left, right)))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _explanations(  # noqa: PLR0917 - a private helper fed from _batch's locals
        self,
        table: FeatureTable,
        levels: npt.NDArray[np.int8],
        tf: object,
        probability: npt.NDArray[np.float64],
        left: npt.NDArray[np.int64],
        right: npt.NDArray[np.int64],
    ) -> list[str | None]:
        adjustments = np.asarray(tf, dtype=np.float64)
        ids = table.ids
        out: list[str | None] = [None] * len(left)
        for k in np.flatnonzero(probability >= self.threshold).tolist():
            pair = self.model.explain(
                str(ids[left[k]]), str(ids[right[k]]), levels[k], adjustments[k]
            )
            out[k] = pair.explain()
        return out


def _pairs_within(
    starts: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return every pair of rows within each block (rows ``starts[b] … +sizes[b]``)."""
    lefts: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    rights: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    for size in np.unique(sizes[sizes >= 2]).tolist():
        group_starts = starts[sizes == size]
        a, b = np.triu_indices(size, k=1)
        lefts.append((group_starts[:, None] + a[None, :]).ravel().astype(np.int64))
        rights.append((group_starts[:, None] + b[None, :]).ravel().astype(np.int64))
    return np.concatenate(lefts), np.concatenate(rights)
