"""Retention rules: how long each kind of record is kept before it is archived or erased.

A :class:`RetentionRule` says *record type + time field + period → action*:
"erase customers whose ``updated_at`` is more than 3 years ago", "archive
activities after 2 years". It is a time rule like the lifecycle's own
(:mod:`crmcore.lifecycle.rules`): pass it to
:func:`~crmcore.lifecycle.due_actions` with the others and it produces
:class:`~crmcore.lifecycle.DueAction` values, with deterministic ids, so an
action the host recorded as issued is never returned again.

>>> import datetime as dt
>>> import pendulum
>>> from crmcore.domain import ActivityKind, log_activity
>>> from crmcore.lifecycle import RuleSnapshot, due_actions
>>> call, _ = log_activity(id="a-1", kind=ActivityKind.CALL, customer_id="c-1",
...                        at=pendulum.datetime(2023, 1, 10))
>>> rule = RetentionRule(record_type="activity", time_field="occurred_at",
...                      period=dt.timedelta(days=730), action="archive")
>>> [(a.kind.value, a.subject_id, a.due_at.date().isoformat()) for a in due_actions(
...     RuleSnapshot(activities=[call]), at=pendulum.datetime(2026, 3, 1), rules=[rule])]
[('archive_record', 'a-1', '2025-01-09')]

Rules are data: :meth:`RetentionRule.to_json` and :meth:`RetentionRule.from_json`.

May import: ``crmcore.domain``, ``crmcore.lifecycle``, ``crmcore.clock``,
``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain import (
    Activity,
    Case,
    Customer,
    CustomerId,
    Lead,
    Opportunity,
    Order,
    SurveyResponse,
)
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.rules import ActionKind, DueAction, RuleSnapshot

__all__ = ["RETENTION_RECORDS", "RetentionAction", "RetentionRule"]


class RetentionAction(enum.StrEnum):
    """What happens to a record whose retention period is over."""

    ARCHIVE = "archive"
    ERASE = "erase"


RETENTION_RECORDS: Final[Mapping[str, tuple[type[Any], str]]] = {
    "customer": (Customer, "customers"),
    "lead": (Lead, "leads"),
    "opportunity": (Opportunity, "opportunities"),
    "activity": (Activity, "activities"),
    "case": (Case, "cases"),
    "survey_response": (SurveyResponse, "survey_responses"),
    "order": (Order, "orders"),
}
"""Record type -> (its class, the :class:`~crmcore.lifecycle.RuleSnapshot` field holding them)."""

_KINDS: Final = {
    RetentionAction.ARCHIVE: ActionKind.ARCHIVE_RECORD,
    RetentionAction.ERASE: ActionKind.ERASE_RECORD,
}


def _time_fields(cls: type[Any]) -> list[str]:
    return sorted(f.name for f in attrs.fields(cls) if f.name.endswith("_at"))


def _record_type(value: str) -> str:
    if value not in RETENTION_RECORDS:
        raise InvalidValueError(
            "record_type", value, f"one of {', '.join(sorted(RETENTION_RECORDS))}"
        )
    return value


def _period(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise InvalidValueError("period", value, "a positive duration")


@attrs.frozen(kw_only=True)
class RetentionRule:
    """Records of ``record_type`` whose ``time_field`` is ``period`` old → ``action``.

    A record whose time field is empty (an activity never completed) is not due.

    Attributes:
        record_type: One of :data:`RETENTION_RECORDS` (``customer``, ``activity`` …).
        time_field: A timestamp field of that record (``updated_at``, ``occurred_at`` …).
        period: How long after that instant the record is kept.
        action: Archive or erase it then.
        name: The rule's name in actions (default: ``<record_type>-<action>``).

    Raises:
        InvalidValueError: If the record type or time field is unknown, or the
            period is not positive.
    """

    record_type: str = attrs.field(converter=_record_type)
    time_field: str = attrs.field()
    period: dt.timedelta = attrs.field(validator=_period)  # type: ignore[assignment]
    action: RetentionAction = attrs.field(converter=RetentionAction)
    name: str = attrs.field(
        default=attrs.Factory(
            lambda self: f"{self.record_type}-{self.action.value}", takes_self=True
        )
    )

    @time_field.validator
    def _check_time_field(self, _attribute: object, value: object) -> None:
        fields = _time_fields(RETENTION_RECORDS[self.record_type][0])
        if value not in fields:
            raise InvalidValueError(
                "time_field", value, f"a timestamp of {self.record_type}: {', '.join(fields)}"
            )

    def due(self, snapshot: RuleSnapshot, at: pendulum.DateTime) -> Iterator[DueAction]:
        """Yield an action for every record of the snapshot whose period is over at ``at``."""
        records = getattr(snapshot, RETENTION_RECORDS[self.record_type][1])
        return self.actions(
            (
                (record.id, getattr(record, self.time_field), getattr(record, "customer_id", None))
                for record in records
            ),
            at,
        )

    def actions(
        self,
        records: Iterable[tuple[str, pendulum.DateTime | None, CustomerId | None]],
        at: pendulum.DateTime,
    ) -> Iterator[DueAction]:
        """Yield an action for every record whose period is over at ``at``.

        The one place retention actions are built: :meth:`due` and the stores that
        answer the rule by queries (``uow.time_rules``) read only these fields.

        Args:
            records: ``(id, time field's value, customer id)`` per record (the customer
                id ``None`` where the record has none; a customer's is its own id).
            at: The instant of evaluation.
        """
        when = utc(at)
        kind = _KINDS[self.action]
        days = self.period.days
        for id, stamp, customer_id in records:
            if stamp is None:
                continue
            due = stamp + self.period
            if due > when:
                continue
            yield DueAction(
                id=f"retention:{self.name}:{self.record_type}:{id}",
                kind=kind,
                rule=f"retention:{self.name}",
                subject=self.record_type,
                subject_id=id,
                recipient=None,
                customer_id=CustomerId(id) if self.record_type == "customer" else customer_id,
                due_at=due,
                reason=f"{self.record_type} {id}: {self.time_field}"
                f" {stamp.date().isoformat()} is over {days} days ago; {self.action.value}",
            )

    def to_json(self) -> str:
        """Return the rule as JSON (the period in whole seconds).

        >>> RetentionRule(record_type="case", time_field="closed_at",
        ...               period=dt.timedelta(days=365), action="erase").to_json()
        '{"action": "erase", "name": "case-erase", "period_seconds": 31536000, ...}'
        """
        return json.dumps(
            {
                "action": self.action.value,
                "name": self.name,
                "period_seconds": int(self.period.total_seconds()),
                "record_type": self.record_type,
                "time_field": self.time_field,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> RetentionRule:
        """Read a rule written by :meth:`to_json`.

        Raises:
            InvalidValueError: If the text is not such a rule.
        """
        try:
            data = json.loads(text)
            seconds = data["period_seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                raise TypeError("period_seconds")
            return cls(
                record_type=str(data["record_type"]),
                time_field=str(data["time_field"]),
                period=dt.timedelta(seconds=seconds),
                action=str(data["action"]),
                name=str(data.get("name") or f"{data['record_type']}-{data['action']}"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, InvalidValueError):
                raise
            raise InvalidValueError("retention rule", text[:80], f"not a rule: {exc}") from exc
