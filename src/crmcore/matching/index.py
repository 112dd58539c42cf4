"""Online matching: an index you add to and remove from, and duplicate rules.

:class:`MatchIndex` answers "is this new record a duplicate?" without a
batch rerun: :meth:`MatchIndex.candidates` blocks the record with the same
rules as batch deduplication, compares it with the records it shares a
block with, and returns the scored, explained pairs — the same scores
:func:`~crmcore.matching.batch.dedupe` gives the same pairs with the same
model. :class:`DuplicatePolicy` turns scores into an action like
Salesforce's duplicate rules (allow / alert / block), and
:func:`check_batch` applies it to a batch of new records, checking them
against the index and against each other, without changing the index.

May import: ``crmcore.matching``, ``crmcore.errors``; attrs, numpy.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Final

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import ConfigurationError, NotFoundError
from crmcore.matching.blocking import DEFAULT_BLOCKING_RULES, BlockingRule, rule_keys
from crmcore.matching.feature import FEATURE_COLUMNS, FeatureRow, FeatureTable, feature_row
from crmcore.matching.key import KeyOptions
from crmcore.matching.model import (
    CONTACT_COLUMNS,
    SHARED_HOLDERS,
    LevelMatrix,
    MatchModel,
    Rows,
    ScoredPair,
    compare_pairs,
    distinct_names,
)
from crmcore.matching.record import MatchRecord

__all__ = [
    "DuplicateAction",
    "DuplicateCheck",
    "DuplicatePolicy",
    "MatchIndex",
    "check_batch",
    "rank_candidates",
]

_COLUMN: Final = {name: i for i, name in enumerate(FEATURE_COLUMNS)}


class MatchIndex:
    """A mutable index of match records for online duplicate checks.

    Args:
        model: The scoring model (train one with
            :func:`~crmcore.matching.batch.dedupe`; default: hand-set m/u).
        blocking_rules: Which records are compared with a query.
        keys: How keys are built.
        max_candidates: Compare a query with at most this many records.

    >>> index = MatchIndex()
    >>> index.add(MatchRecord(id="c1", full_name="张伟", phones=["13800138000"], country="CN"))
    >>> [(p.right, p.probability > 0.99) for p in index.candidates(
    ...     MatchRecord(id="new", full_name="Zhang Wei", phones=["+86 138 0013 8000"]))]
    [('c1', True)]
    """

    def __init__(
        self,
        model: MatchModel | None = None,
        *,
        blocking_rules: Sequence[BlockingRule] = DEFAULT_BLOCKING_RULES,
        keys: KeyOptions | None = None,
        max_candidates: int = 200,
        parent: MatchIndex | None = None,
    ) -> None:
        self.model = model if model is not None else MatchModel.default()
        self.blocking_rules = tuple(blocking_rules)
        self.keys = keys or KeyOptions()
        self.max_candidates = max_candidates
        self._parent = parent
        self._slot: dict[str, int] = {}
        self._rows: dict[int, tuple[str, FeatureRow]] = {}
        self._next: int = parent._next + 1_000_000_000 if parent is not None else 0
        self._blocks: list[dict[str, list[int]]] = [{} for _ in self.blocking_rules]
        self._tf_columns = tuple(
            {c.tf_column for c in self.model.comparisons if c.tf_column is not None}
        )
        self._counts: dict[str, dict[str, int]] = {c: {} for c in self._tf_columns}

    # ------------------------------------------------------------------ contents

    def __len__(self) -> int:
        return len(self._slot) + (len(self._parent) if self._parent is not None else 0)

    def __contains__(self, record_id: object) -> bool:
        if record_id in self._slot:
            return True
        return self._parent is not None and record_id in self._parent

    def overlay(self) -> MatchIndex:
        """Return an index that sees this one's records plus its own additions.

        Additions to the overlay do not change this index (used by
        :func:`check_batch`).
        """
        return MatchIndex(
            self.model,
            blocking_rules=self.blocking_rules,
            keys=self.keys,
            max_candidates=self.max_candidates,
            parent=self,
        )

    def add(self, record: MatchRecord) -> None:
        """Add (or replace) a record.

        Args:
            record: The record; a record with the same id is replaced.
        """
        if record.id in self._slot:
            self.remove(record.id)
        row = feature_row(record, self.keys)
        slot = self._next
        self._next += 1
        self._slot[record.id] = slot
        self._rows[slot] = (record.id, row)
        for blocks, rule in zip(self._blocks, self.blocking_rules, strict=True):
            for key in rule_keys(rule, row):
                blocks.setdefault(key, []).append(slot)
        for column in self._tf_columns:
            value = row[0][_COLUMN[column]]
            if value:
                counts = self._counts[column]
                counts[value] = counts.get(value, 0) + 1

    def add_many(self, records: Iterable[MatchRecord]) -> None:
        """Add many records."""
        for record in records:
            self.add(record)

    def remove(self, record_id: str) -> None:
        """Remove a record.

        Args:
            record_id: The record's id.

        Raises:
            NotFoundError: If the record is not in this index.
        """
        slot = self._slot.pop(record_id, None)
        if slot is None:
            raise NotFoundError("match record", record_id)
        _, row = self._rows.pop(slot)
        for blocks, rule in zip(self._blocks, self.blocking_rules, strict=True):
            for key in rule_keys(rule, row):
                members = blocks.get(key)
                if members is not None:
                    members.remove(slot)
                    if not members:
                        del blocks[key]
        for column in self._tf_columns:
            value = row[0][_COLUMN[column]]
            if value:
                counts = self._counts[column]
                counts[value] -= 1
                if not counts[value]:
                    del counts[value]

    # ------------------------------------------------------------------ lookups

    def _members(self, rule: int, key: str) -> list[int]:
        own = self._blocks[rule].get(key, [])
        if self._parent is None:
            return own
        return self._parent._members(rule, key) + own

    def _row(self, slot: int) -> tuple[str, FeatureRow]:
        found = self._rows.get(slot)
        if found is not None:
            return found
        if self._parent is None:  # pragma: no cover - slots come from this index
            raise NotFoundError("match index slot", slot)
        return self._parent._row(slot)

    def _own_slot(self, record_id: str) -> int | None:
        slot = self._slot.get(record_id)
        if slot is None and self._parent is not None:
            return self._parent._own_slot(record_id)
        return slot

    def _count(self, column: str, value: str) -> int:
        own = self._counts[column].get(value, 0)
        return own + (self._parent._count(column, value) if self._parent is not None else 0)

    def _candidate_slots(self, row: FeatureRow, exclude: str) -> list[int]:
        seen: dict[int, None] = {}
        own = self._own_slot(exclude)
        for number, rule in enumerate(self.blocking_rules):
            for key in rule_keys(rule, row):
                members = self._members(number, key)
                size = len(members) + (0 if own is not None and own in members else 1)
                if size > rule.max_block_size:
                    continue  # an oversized block, skipped as in batch blocking
                for slot in members:
                    seen.setdefault(slot, None)
        slots = [s for s in seen if self._row(s)[0] != exclude]
        return slots[: self.max_candidates]

    def candidates(
        self, record: MatchRecord, *, min_probability: float = 0.5, limit: int = 10
    ) -> list[ScoredPair]:
        """Return the indexed records that may be the same as ``record``, best first.

        Args:
            record: The record to check (it may or may not be in the index).
            min_probability: Leave out pairs less likely than this.
            limit: Return at most this many.

        Returns:
            Scored pairs ``(record.id, candidate id)`` with explanations.
        """
        row = feature_row(record, self.keys)
        slots = self._candidate_slots(row, record.id)
        return rank_candidates(
            self.model,
            record.id,
            row,
            [self._row(s) for s in slots],
            count=self._count,
            total=len(self),
            present=record.id in self,
            min_probability=min_probability,
            limit=limit,
        )


def rank_candidates(
    model: MatchModel,
    record_id: str,
    row: FeatureRow,
    found: Sequence[tuple[str, FeatureRow]],
    *,
    count: Callable[[str, str], int],
    total: int,
    present: bool,
    min_probability: float = 0.5,
    limit: int = 10,
    prefetch: Callable[[Collection[tuple[str, str]]], None] | None = None,
) -> list[ScoredPair]:
    """Score a record against its blocked candidates; return the likely ones, best first.

    The comparison and scoring step of :meth:`MatchIndex.candidates`, shared
    with indexes kept elsewhere (the SQL adapter's), so that the same
    candidates give the same scores and explanations.

    Args:
        model: The scoring model.
        record_id: The record's id.
        row: The record's keys.
        found: The candidates (id and keys), in blocking order.
        count: How many indexed records have a value in a term-frequency column.
        total: How many records the index holds.
        present: Whether the record itself is one of them (else it is counted too).
        min_probability: Leave out pairs less likely than this.
        limit: Return at most this many.
        prefetch: Called once, before any ``count``, with every ``(column, value)``
            that will be counted: an index kept elsewhere reads those counts
            in one go. Only the values of pairs that agree exactly on a
            term-frequency column are counted (no other pair's weight
            depends on a count), and the record's own.

    Returns:
        Scored pairs ``(record_id, candidate id)`` with explanations.
    """
    if not found:
        return []
    ids = [record_id, *(i for i, _ in found)]
    table = FeatureTable.from_rows(ids, [row, *(r for _, r in found)])
    left = np.zeros(len(found), dtype=np.int64)
    right = np.arange(1, len(found) + 1, dtype=np.int64)
    levels = compare_pairs(table, model.comparisons, left, right)
    counts = _tf_counts(
        model, table, levels, right, count=count, prefetch=prefetch, extra=0 if present else 1
    )
    tf = model.tf_adjustments(
        table,
        levels,
        left,
        right,
        counts=counts,
        total=total + (0 if present else 1),
        holders=_holders(model, row, found),
    )
    weights, probability, fired = model.score(levels, tf)
    order = np.argsort(-probability, kind="stable")
    out: list[ScoredPair] = []
    for k in order.tolist():
        if probability[k] < min_probability or len(out) >= limit:
            break
        scored = (float(weights[k]), float(probability[k]), int(fired[k]))
        out.append(model.explain(record_id, ids[k + 1], levels[k], tf[k], scored=scored))
    return out


def _tf_counts(
    model: MatchModel,
    table: FeatureTable,
    levels: LevelMatrix,
    right: Rows,
    *,
    count: Callable[[str, str], int],
    prefetch: Callable[[Collection[tuple[str, str]]], None] | None,
    extra: int,
) -> dict[str, npt.NDArray[np.int64]]:
    """Per term-frequency column, how many indexed records hold each row's value.

    Only the rows a term-frequency adjustment reads are counted: the query
    (row 0) and the candidates agreeing with it exactly on a comparison
    adjusted on that column (:meth:`MatchModel.tf_adjustments` reads no
    other); every other row gets 0. ``extra`` is added to each count (the
    query, when the index does not hold it).
    """
    wanted: dict[str, set[int]] = {}
    for k, comparison in enumerate(model.comparisons):
        column = comparison.tf_column
        if column is None:
            continue
        exact = right[levels[:, k] == 1]
        if len(exact):
            wanted.setdefault(column, {0}).update(exact.tolist())
    values = {
        column: {row: str(table.values[column][row]) for row in rows}
        for column, rows in wanted.items()
    }
    if prefetch is not None:
        prefetch({(c, v) for c, by_row in values.items() for v in by_row.values() if v})
    counts: dict[str, npt.NDArray[np.int64]] = {}
    for column in {c.tf_column for c in model.comparisons if c.tf_column is not None}:
        out = np.zeros(len(table), dtype=np.int64)
        for row, value in values.get(column, {}).items():
            if value:
                out[row] = count(column, value) + extra
        counts[column] = out
    return counts


def _contact_values(column: str, row: FeatureRow) -> tuple[str, ...]:
    return row[1] if column == "email" else row[2]


def _holders(
    model: MatchModel, row: FeatureRow, found: Sequence[tuple[str, FeatureRow]]
) -> dict[str, dict[str, int]]:
    """Per contact column, how many different names hold each of the query's values.

    Counted over the query and its candidates: every indexed record holding one of
    the query's emails or phones is a candidate (email and phone are blocking keys),
    so this is the count over the whole index, and an index kept elsewhere (the SQL
    adapter's) that finds the same candidates gives the same answer. Only the
    query's own values matter: a candidate pair can share no other. Counting stops
    at :data:`~crmcore.matching.model.SHARED_HOLDERS`: past it, a value is shared
    however many more hold it.
    """
    ff, gf = _COLUMN["name_ff"], _COLUMN["name_gf"]
    columns = {c.tf_column for c in model.comparisons}
    holders: dict[str, dict[str, int]] = {}
    for column in CONTACT_COLUMNS:
        if column not in columns:
            continue
        held: dict[str, set[tuple[str, str]]] = {
            v: {(row[0][ff], row[0][gf])} for v in _contact_values(column, row)
        }
        for _, other in found:
            for value in _contact_values(column, other):
                names = held.get(value)
                if names is not None:
                    names.add((other[0][ff], other[0][gf]))
        holders[column] = {
            value: len(names) if len(names) < 2 else distinct_names(names, limit=SHARED_HOLDERS)
            for value, names in held.items()
        }
    return holders


class DuplicateAction(enum.StrEnum):
    """What to do with a record that has likely duplicates (Salesforce's duplicate rules)."""

    ALLOW = "allow"
    ALERT = "alert"
    BLOCK = "block"


def _policy_probability(value: float | None) -> float | None:
    if value is not None and not 0.0 < value <= 1.0:
        raise ConfigurationError(f"duplicate policy thresholds are probabilities, got {value!r}")
    return value


@attrs.frozen(kw_only=True)
class DuplicatePolicy:
    """When a likely duplicate only alerts and when it blocks the save.

    Attributes:
        alert_at: Alert from this match probability on (``None``: never).
        block_at: Block from this match probability on (``None``: never).

    >>> policy = DuplicatePolicy(alert_at=0.5, block_at=0.95)
    >>> [policy.action_for(p).value for p in (0.3, 0.7, 0.99)]
    ['allow', 'alert', 'block']
    """

    alert_at: float | None = attrs.field(default=0.5, converter=_policy_probability)
    block_at: float | None = attrs.field(default=0.95, converter=_policy_probability)

    def action_for(self, probability: float) -> DuplicateAction:
        """Return the action for a best match probability."""
        if self.block_at is not None and probability >= self.block_at:
            return DuplicateAction.BLOCK
        if self.alert_at is not None and probability >= self.alert_at:
            return DuplicateAction.ALERT
        return DuplicateAction.ALLOW

    @property
    def floor(self) -> float:
        """The lowest probability any action depends on."""
        values = [v for v in (self.alert_at, self.block_at) if v is not None]
        return min(values) if values else 1.0


@attrs.frozen
class DuplicateCheck:
    """The verdict on one new record.

    Attributes:
        record_id: The new record's id.
        action: Allow, alert or block.
        matches: Its likely duplicates (existing records, or earlier records
            of the same batch), best first.
    """

    record_id: str
    action: DuplicateAction
    matches: tuple[ScoredPair, ...]


def check_batch(
    records: Sequence[MatchRecord], index: MatchIndex, policy: DuplicatePolicy
) -> tuple[DuplicateCheck, ...]:
    """Check new records against an index and against each other; the index is not changed.

    Each record is compared with the indexed records and with the records
    before it in the batch (two rows of one import can be the same person).

    Args:
        records: The new records, in order.
        index: The index of existing records.
        policy: When to alert and when to block.

    Returns:
        One verdict per record, in order.
    """
    scratch = index.overlay()
    out = []
    for record in records:
        matches = tuple(scratch.candidates(record, min_probability=policy.floor))
        best = matches[0].probability if matches else 0.0
        out.append(DuplicateCheck(record.id, policy.action_for(best), matches))
        scratch.add(record)
    return tuple(out)
