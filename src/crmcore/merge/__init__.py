"""Merging duplicate customers (合并): survivorship policies, merge plans, lineage, unmerge.

Merging is a pure two-step operation: :func:`plan_merge` decides (survivor,
every field's winner with its source and rule), :func:`apply_merge` produces
the new snapshots, the :class:`MergeRecord` and the ``CustomersMerged``
event. :func:`unmerge` undoes a merge from its record and reports the
changes made since instead of overwriting them. Nothing is ever deleted.
Every field path is read, written and combined through one table,
:mod:`crmcore.merge.fields`.
:mod:`crmcore.services.merge` runs both through the storage ports.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.clock``; attrs, pendulum.
"""

from crmcore.merge.plan import MergePlan, MergeResult, apply_merge, choose, plan_merge
from crmcore.merge.record import FieldDecision, MergeRecord, RelatedKind, RepointedRecord
from crmcore.merge.related import RelatedRecord, related_kind
from crmcore.merge.rule import SurvivorRule, SurvivorshipRule
from crmcore.merge.survivorship import FieldRule, SurvivorshipPolicy
from crmcore.merge.unmerge import ConflictKind, UnmergeConflict, UnmergeResult, unmerge

__all__ = [
    "ConflictKind",
    "FieldDecision",
    "FieldRule",
    "MergePlan",
    "MergeRecord",
    "MergeResult",
    "RelatedKind",
    "RelatedRecord",
    "RepointedRecord",
    "SurvivorRule",
    "SurvivorshipPolicy",
    "SurvivorshipRule",
    "UnmergeConflict",
    "UnmergeResult",
    "apply_merge",
    "choose",
    "plan_merge",
    "related_kind",
    "unmerge",
]
