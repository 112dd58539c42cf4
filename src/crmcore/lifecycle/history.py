"""Stage history, replay and time in stage, computed from ``StageChanged`` events.

The event log is the history: nothing else is stored. :func:`history`
picks one record's moves out of any mix of events, in order, and checks
they chain; :func:`replay` re-fires them against a workflow to recover the
stage; :func:`time_in_stage` sums how long the record spent in each stage
(wall-clock, or business time with a calendar).

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any, TypeVar

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.events import StageChanged
from crmcore.domain.ids import UserId
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.business_calendar import BusinessCalendar
from crmcore.lifecycle.workflow import Workflow

__all__ = ["StageHistory", "StagePeriod", "history", "replay", "time_in_stage"]

S = TypeVar("S", bound=str)


@attrs.frozen(kw_only=True)
class StagePeriod:
    """A stretch of time a record spent in one stage.

    ``entered_at`` is ``None`` for the first stage when the record's start
    is not known; ``left_at`` is ``None`` for the stage it is still in.
    """

    stage: str
    entered_at: pendulum.DateTime | None
    left_at: pendulum.DateTime | None
    entered_by: UserId | None = None
    transition: str = ""
    reason: str = ""


@attrs.frozen(kw_only=True)
class StageHistory:
    """One record's moves through one workflow, oldest first."""

    entity_id: str
    workflow: str
    changes: tuple[StageChanged, ...]

    @property
    def current(self) -> str | None:
        """The stage after the last move (``None`` when there was no move)."""
        return self.changes[-1].to_stage if self.changes else None

    def periods(self, *, started_at: pendulum.DateTime | None = None) -> tuple[StagePeriod, ...]:
        """Return the stage periods; the first begins at ``started_at`` (when the record began)."""
        if not self.changes:
            return ()
        first = self.changes[0]
        out = [
            StagePeriod(
                stage=first.from_stage,
                entered_at=utc(started_at) if started_at is not None else None,
                left_at=first.at,
            )
        ]
        for change, following in zip(self.changes, (*self.changes[1:], None), strict=True):
            out.append(
                StagePeriod(
                    stage=change.to_stage,
                    entered_at=change.at,
                    left_at=following.at if following is not None else None,
                    entered_by=change.by,
                    transition=change.transition,
                    reason=change.reason,
                )
            )
        return tuple(out)


def history(
    events: Iterable[object],
    *,
    entity_id: str | None = None,
    workflow: str | None = None,
) -> StageHistory:
    """Return the stage history of one record from a mix of events.

    Only :class:`~crmcore.domain.events.StageChanged` events of the record
    (and workflow) are kept, ordered by time (events at the same instant
    keep their given order).

    Args:
        events: Any events, in any order.
        entity_id: The record; may be left out when the events are of one record.
        workflow: The workflow; may be left out when the events are of one workflow.

    Raises:
        InvalidValueError: If the events are of several records or workflows and
            none was chosen, or consecutive moves do not chain (a move starts
            from a stage other than where the previous one ended).
    """
    changes = [
        e
        for e in events
        if isinstance(e, StageChanged)
        and (entity_id is None or e.entity_id == entity_id)
        and (workflow is None or e.workflow == workflow)
    ]
    ids = sorted({e.entity_id for e in changes})
    flows = sorted({e.workflow for e in changes})
    if len(ids) > 1:
        raise InvalidValueError("events", ids, "moves of several records; pass entity_id=")
    if len(flows) > 1:
        raise InvalidValueError("events", flows, "moves of several workflows; pass workflow=")
    ordered = tuple(sorted(changes, key=lambda e: e.at))
    for before, after in itertools.pairwise(ordered):
        if after.from_stage != before.to_stage:
            raise InvalidValueError(
                "events",
                after.id,
                f"{after.transition} starts from {after.from_stage} but the previous "
                f"move ended in {before.to_stage}",
            )
    return StageHistory(
        entity_id=ids[0] if ids else (entity_id or ""),
        workflow=flows[0] if flows else (workflow or ""),
        changes=ordered,
    )


def replay(
    workflow: Workflow[Any, S], events: Iterable[object], *, entity_id: str | None = None
) -> S:
    """Re-fire a record's moves from the workflow's initial state; return the stage reached.

    Raises:
        InvalidValueError: If a move is not a transition of the workflow from
            the stage the record was in, or the moves do not chain.
    """
    moves = history(events, entity_id=entity_id, workflow=workflow.name)
    stage = workflow.initial.name
    for change in moves.changes:
        found = workflow.find(change.transition, stage)
        if found is None or str(found.target) != change.to_stage:
            raise InvalidValueError(
                "events",
                change.id,
                f"{change.transition} from {stage} to {change.to_stage} is not a move of "
                f"workflow {workflow.name!r}",
            )
        stage = found.target
    return stage


def time_in_stage(
    events: Iterable[object],
    *,
    at: pendulum.DateTime,
    started_at: pendulum.DateTime | None = None,
    calendar: BusinessCalendar | None = None,
    entity_id: str | None = None,
    workflow: str | None = None,
) -> dict[str, dt.timedelta]:
    """Return how long a record spent in each stage, up to ``at``.

    Args:
        events: Any events (see :func:`history`).
        at: Until when to count the stage the record is still in.
        started_at: When the record began (counts its first stage); without it
            the first stage is left out unless it is visited again.
        calendar: Count business time of this calendar instead of elapsed time.
        entity_id: The record, if the events are of several.
        workflow: The workflow, if the events are of several.

    Returns:
        Time per stage name, in order of first visit.

    Raises:
        InvalidValueError: See :func:`history`.
    """
    when = utc(at)
    totals: dict[str, dt.timedelta] = {}
    for period in history(events, entity_id=entity_id, workflow=workflow).periods(
        started_at=started_at
    ):
        if period.entered_at is None:
            continue
        end = min(period.left_at or when, when)
        if calendar is not None:
            spent = calendar.business_time_between(period.entered_at, end)
        else:
            elapsed = end - period.entered_at
            spent = max(
                dt.timedelta(
                    days=elapsed.days, seconds=elapsed.seconds, microseconds=elapsed.microseconds
                ),
                dt.timedelta(0),
            )
        totals[period.stage] = totals.get(period.stage, dt.timedelta(0)) + spent
    return totals
