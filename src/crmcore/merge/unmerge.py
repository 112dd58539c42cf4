"""Undoing a merge (撤销合并) from its :class:`~crmcore.merge.record.MergeRecord`.

:func:`unmerge` gives every customer of the merge back its pre-merge
values, clears ``merged_into`` and moves the re-pointed related records
back. Changes made *after* the merge are never silently overwritten; they
are kept and reported as :class:`UnmergeConflict`:

- a field of the survivor (or of a merged customer) changed since the merge
  keeps its current value;
- in a collection (emails, phones, addresses, tags, external ids, contacts)
  the change is applied item by item: values added since the merge stay,
  values removed since stay removed, everything else returns to its
  pre-merge state (so what the merge brought in leaves the survivor);
- a primary email, phone or address chosen since the merge stays primary;
- a related record that was moved elsewhere or deleted since the merge is
  left alone; records created on the survivor since the merge stay on it.

Every snapshot that :func:`unmerge` returns carries the version it was
read at and ``updated_at=at``; apart from the changes reported, its values
are exactly the pre-merge ones.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.clock``,
``crmcore.merge``; attrs, pendulum.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL
from crmcore.domain.contact import AddressContact, EmailContact, PhoneContact
from crmcore.domain.customer import Customer
from crmcore.domain.entity import touch
from crmcore.domain.events import CustomersUnmerged
from crmcore.domain.ids import CustomerId, EventId, UserId
from crmcore.domain.party import Contact
from crmcore.errors import InvalidValueError
from crmcore.merge.fields import (
    ABSENT,
    MergeField,
    MergeFieldKind,
    field_paths,
    merge_field,
    with_values,
)
from crmcore.merge.record import MergeRecord, RelatedKind
from crmcore.merge.related import RelatedRecord, related_key, repoint

__all__ = ["ConflictKind", "UnmergeConflict", "UnmergeResult", "unmerge"]


class ConflictKind(enum.StrEnum):
    """Why part of a merge could not simply be undone."""

    EDITED_AFTER_MERGE = "edited_after_merge"
    """A field changed since the merge; its current value was kept."""
    RELATED_MOVED = "related_moved"
    """A re-pointed record belongs to another customer now; it was left there."""
    RELATED_MISSING = "related_missing"
    """A re-pointed record no longer exists (or was not passed in)."""


@attrs.frozen(kw_only=True)
class UnmergeConflict:
    """A change made after the merge that the unmerge kept instead of overwriting.

    Attributes:
        kind: What happened.
        customer_id: The customer concerned.
        field: A field path, or ``"<kind>:<id>"`` for a related record.
        detail: What was kept, in words.
    """

    kind: ConflictKind = attrs.field(converter=ConflictKind, metadata=INTERNAL)
    customer_id: CustomerId = attrs.field(metadata=INTERNAL)
    field: str = attrs.field(metadata=INTERNAL)
    detail: str = attrs.field(default="", metadata=INTERNAL)


@attrs.frozen(kw_only=True)
class UnmergeResult:
    """What undoing a merge produced; save all of it in one unit of work.

    Attributes:
        survivor: The survivor with its pre-merge values (and later edits).
        restored: The formerly merged customers, active again, sorted by id.
        related: The related records moved back, sorted by kind and id.
        record: The merge record, marked undone.
        event: The ``CustomersUnmerged`` event.
        conflicts: Every change since the merge that was kept, in a stable order.
    """

    survivor: Customer
    restored: tuple[Customer, ...]
    related: tuple[RelatedRecord, ...]
    record: MergeRecord
    event: CustomersUnmerged
    conflicts: tuple[UnmergeConflict, ...]


_POINT_TYPES = (EmailContact, PhoneContact, AddressContact)


def _norm(item: object) -> object:
    """An item compared without its primary flag (primary is handled on its own)."""
    if isinstance(item, EmailContact | PhoneContact | AddressContact | Contact):
        return attrs.evolve(item, primary=False)
    return item


def _primary(items: Mapping[object, object]) -> object:
    """The key of the primary contact point among ``items``, or ``None``."""
    return next(
        (k for k, p in items.items() if isinstance(p, _POINT_TYPES) and p.primary),
        None,
    )


def _with_primary(item: object, primary: bool) -> object:
    if isinstance(item, _POINT_TYPES):
        return attrs.evolve(item, primary=primary)
    return item  # pragma: no cover - only contact points have a primary to restore


def _three_way_collection(
    field: MergeField, base: object, current: object, original: object
) -> tuple[object, list[str]]:
    """Return the restored collection and what changed since the merge."""
    b, c, o = field.items(base), field.items(current), field.items(original)
    kept: dict[object, object] = {}
    changes: list[str] = []
    for key in dict.fromkeys([*o, *c, *b]):
        now, then = c.get(key), b.get(key)
        if (now is None) == (then is None) and _norm(now) == _norm(then):
            value = o.get(key)
        else:
            value = now
            verb = "added" if then is None else "removed" if now is None else "changed"
            changes.append(f"{verb} {key}")
        if value is not None:
            kept[key] = value
    if field.kind is MergeFieldKind.POINTS:
        moved = _primary(c) != _primary(b)
        wanted = _primary(c) if moved else _primary(o)
        if moved:
            changes.append(f"primary {wanted}")
        if wanted not in kept and kept:
            wanted = next(iter(kept))
        return field.container(_with_primary(p, k == wanted) for k, p in kept.items()), changes
    return field.container(kept.values()), changes


def _three_way(
    base: Customer, current: Customer, original: Customer
) -> tuple[dict[str, object], list[UnmergeConflict]]:
    """Return the values to restore and a conflict for each field changed since ``base``."""
    values: dict[str, object] = {}
    conflicts: list[UnmergeConflict] = []
    for path in field_paths([original, base, current]):
        field = merge_field(path)
        now, then, before = field.get(current), field.get(base), field.get(original)
        if now == then:
            values[path] = before
            continue
        if field.is_collection:
            values[path], changes = _three_way_collection(field, then, now, before)
            detail = "kept since the merge: " + "; ".join(changes)
        else:
            values[path] = now
            detail = f"kept {_show(now)} set after the merge (merge gave {_show(then)})"
        conflicts.append(
            UnmergeConflict(
                kind=ConflictKind.EDITED_AFTER_MERGE,
                customer_id=original.id,
                field=path,
                detail=detail,
            )
        )
    return values, conflicts


def _show(value: object) -> str:
    if value is ABSENT or value is None:
        return "no value"
    if isinstance(value, tuple) and len(value) == 2 and not isinstance(value[0], str):
        return str(value[0])
    return str(value) if not isinstance(value, enum.Enum) else str(value.value)


def _check_record(
    record: MergeRecord, survivor: Customer, merged: Mapping[CustomerId, Customer]
) -> None:
    if record.undone_at is not None:
        raise InvalidValueError(
            "merge", record.id, f"already undone at {record.undone_at.isoformat()}"
        )
    if survivor.id != record.survivor_id:
        raise InvalidValueError(
            "current_survivor", survivor.id, f"merge {record.id} kept {record.survivor_id}"
        )
    if survivor.merged_into is not None:
        raise InvalidValueError(
            "merge",
            record.id,
            f"survivor {survivor.id} was merged into {survivor.merged_into} since; "
            "undo that merge first",
        )
    for customer in merged.values():
        if customer.id not in record.merged_ids:
            raise InvalidValueError("current_merged", customer.id, f"not merged by {record.id}")
        if customer.merged_into != record.survivor_id:
            raise InvalidValueError(
                "merge",
                record.id,
                f"customer {customer.id} is no longer merged into {record.survivor_id}",
            )


def _restore_related(
    record: MergeRecord, current_related: Iterable[RelatedRecord], at: pendulum.DateTime
) -> tuple[list[RelatedRecord], list[UnmergeConflict]]:
    current: dict[tuple[RelatedKind, str], RelatedRecord] = {
        related_key(r): r for r in current_related
    }
    moved: list[RelatedRecord] = []
    conflicts: list[UnmergeConflict] = []
    for entry in record.repointed:
        name = f"{entry.kind.value}:{entry.record_id}"
        now = current.get((entry.kind, entry.record_id))
        if now is None:
            conflicts.append(
                UnmergeConflict(
                    kind=ConflictKind.RELATED_MISSING,
                    customer_id=entry.from_id,
                    field=name,
                    detail="not found; nothing to move back",
                )
            )
        elif now.customer_id != entry.to_id:
            conflicts.append(
                UnmergeConflict(
                    kind=ConflictKind.RELATED_MOVED,
                    customer_id=entry.from_id,
                    field=name,
                    detail=f"left with customer {now.customer_id}, where it was moved since",
                )
            )
        else:
            moved.append(repoint(now, entry.from_id, at=at))
    return moved, conflicts


def unmerge(
    record: MergeRecord,
    current_survivor: Customer,
    current_related: Iterable[RelatedRecord],
    *,
    at: pendulum.DateTime,
    by: UserId | None = None,
    current_merged: Sequence[Customer] = (),
) -> UnmergeResult:
    """Undo a merge: restore every customer and move the related records back.

    See the module docstring for what happens to changes made since the merge.

    Args:
        record: The merge to undo.
        current_survivor: The survivor as stored now.
        current_related: The related records as stored now (at least those in
            ``record.repointed``; any others are left alone).
        at: When the merge is undone.
        by: Who undoes it.
        current_merged: The merged customers as stored now. Those given keep
            their stored version and have their later edits kept and reported;
            those not given are restored from the record as they were.

    Returns:
        The restored snapshots, the moved related records, the record marked
        undone, the ``CustomersUnmerged`` event and the conflicts.

    Raises:
        InvalidValueError: If the merge was already undone, the survivor is not
            the record's or was merged again since, a merged customer is no
            longer merged into the survivor, or ``at`` is before a snapshot's
            last update.
    """
    when = utc(at)
    merged_now = {c.id: c for c in current_merged}
    _check_record(record, current_survivor, merged_now)
    values, conflicts = _three_way(
        record.result, current_survivor, record.original(record.survivor_id)
    )
    survivor = _restore(record.original(record.survivor_id), values, current_survivor, when)
    restored: list[Customer] = []
    for customer_id in record.merged_ids:
        original = record.original(customer_id)
        now = merged_now.get(customer_id)
        if now is None:
            restored.append(_restore(original, {}, original, when))
            continue
        base = attrs.evolve(original, merged_into=record.survivor_id, updated_at=record.merged_at)
        changed, found = _three_way(base, now, original)
        conflicts.extend(found)
        restored.append(_restore(original, changed, now, when))
    related, moved_conflicts = _restore_related(record, current_related, when)
    conflicts.extend(moved_conflicts)
    undone = touch(record, when, undone_at=when, undone_by=by)
    event = CustomersUnmerged(
        id=EventId(f"{record.id}.unmerged"),
        merge_id=record.id,
        survivor_id=record.survivor_id,
        restored_ids=record.merged_ids,
        at=when,
        by=by,
    )
    return UnmergeResult(
        survivor=survivor,
        restored=tuple(restored),
        related=tuple(sorted(related, key=related_key)),
        record=undone,
        event=event,
        conflicts=tuple(conflicts),
    )


def _restore(
    original: Customer, values: Mapping[str, object], current: Customer, at: pendulum.DateTime
) -> Customer:
    """Return ``original`` with ``values``, active, at ``current``'s version, touched at ``at``."""
    restored = attrs.evolve(
        with_values(original, values),
        version=current.version,
        merged_into=None,
        updated_at=max(current.updated_at, original.updated_at),
    )
    return touch(restored, at)
