"""Service cases and complaints (投诉处理 / 服务请求).

The case workflow (received → acknowledged → in progress ⇄ waiting on
customer → resolved → closed, reopen, escalation) and its SLA deadlines
live in :mod:`crmcore.lifecycle`; this module holds the snapshot and how a
case is opened.

May import: ``crmcore.errors``, ``crmcore.clock``, ``crmcore.domain``; attrs, pendulum.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL
from crmcore.domain.entity import not_before, require_id, require_text, require_version
from crmcore.domain.events import CaseOpened
from crmcore.domain.ids import CaseId, CustomerId, TeamId, UserId
from crmcore.errors import InvalidValueError

__all__ = [
    "Case",
    "CaseChannel",
    "CaseKind",
    "CaseStatus",
    "Severity",
    "WaitingPeriod",
    "open_case",
]


class CaseKind(enum.StrEnum):
    """What the customer came with."""

    COMPLAINT = "complaint"  # 投诉
    SERVICE_REQUEST = "service_request"  # 服务请求
    INQUIRY = "inquiry"  # 咨询


class Severity(enum.StrEnum):
    """How bad it is; SLA targets are set per severity."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class CaseChannel(enum.StrEnum):
    """How the case reached us."""

    PHONE = "phone"
    EMAIL = "email"
    WEB = "web"
    WECHAT = "wechat"
    IN_PERSON = "in_person"
    OTHER = "other"


class CaseStatus(enum.StrEnum):
    """Where a case is in its workflow."""

    RECEIVED = "received"  # 接收
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"  # 处理
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"  # 反馈 → 关闭


def _subject(value: str) -> str:
    text = require_text("subject", value, max_length=500)
    if not text:
        raise InvalidValueError("subject", value, "required")
    return text


def _description(value: str) -> str:
    return require_text("description", value)


def _category(value: str) -> str:
    return require_text("category", value, max_length=100).lower()


def _escalation(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise InvalidValueError("escalation_level", value, "an integer from 0 to 10")
    return value


@attrs.frozen(kw_only=True)
class WaitingPeriod:
    """A time the case waited on the customer; SLA clocks are paused during it.

    ``end`` is ``None`` while the case is still waiting.
    """

    start: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    end: pendulum.DateTime | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(utc),
        validator=not_before("start"),
        metadata=INTERNAL,
    )


def _waiting(value: Iterable[WaitingPeriod]) -> tuple[WaitingPeriod, ...]:
    periods = tuple(value)
    for earlier, later in itertools.pairwise(periods):
        if earlier.end is None or later.start < earlier.end:
            raise InvalidValueError(
                "waiting", later.start.isoformat(), "waiting periods overlap or are out of order"
            )
    return periods


@attrs.frozen(kw_only=True)
class Case:
    """A complaint or service request, with the timestamps SLAs are measured on."""

    id: CaseId = attrs.field(converter=require_id, metadata=INTERNAL)
    version: int = attrs.field(default=0, converter=require_version, metadata=INTERNAL)
    customer_id: CustomerId = attrs.field(converter=require_id, metadata=INTERNAL)
    kind: CaseKind = attrs.field(converter=CaseKind, metadata=INTERNAL)
    subject: str = attrs.field(converter=_subject, metadata=INTERNAL)
    description: str = attrs.field(default="", converter=_description, metadata=INTERNAL)
    category: str = attrs.field(default="", converter=_category, metadata=INTERNAL)
    severity: Severity = attrs.field(default=Severity.MEDIUM, converter=Severity, metadata=INTERNAL)
    channel: CaseChannel = attrs.field(
        default=CaseChannel.OTHER, converter=CaseChannel, metadata=INTERNAL
    )
    status: CaseStatus = attrs.field(default=CaseStatus.RECEIVED, metadata=INTERNAL)
    escalation_level: int = attrs.field(default=0, converter=_escalation, metadata=INTERNAL)
    owner: UserId | None = attrs.field(default=None, metadata=INTERNAL)
    team: TeamId | None = attrs.field(default=None, metadata=INTERNAL)
    opened_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    first_response_at: pendulum.DateTime | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(utc),
        validator=not_before("opened_at"),
        metadata=INTERNAL,
    )
    resolved_at: pendulum.DateTime | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(utc),
        validator=not_before("opened_at"),
        metadata=INTERNAL,
    )
    closed_at: pendulum.DateTime | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(utc),
        validator=not_before("opened_at"),
        metadata=INTERNAL,
    )
    waiting: tuple[WaitingPeriod, ...] = attrs.field(
        default=(), converter=_waiting, metadata=INTERNAL
    )
    created_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    updated_at: pendulum.DateTime = attrs.field(
        converter=utc, validator=not_before("created_at"), metadata=INTERNAL
    )

    @property
    def is_open(self) -> bool:
        """Whether the case is not yet closed."""
        return self.status is not CaseStatus.CLOSED


def open_case(
    *,
    id: CaseId,
    customer_id: CustomerId,
    kind: CaseKind,
    subject: str,
    at: pendulum.DateTime,
    by: UserId | None = None,
    description: str = "",
    category: str = "",
    severity: Severity = Severity.MEDIUM,
    channel: CaseChannel = CaseChannel.OTHER,
    owner: UserId | None = None,
    team: TeamId | None = None,
) -> tuple[Case, CaseOpened]:
    """Receive a case (接收).

    Raises:
        InvalidValueError: If the subject is empty.
    """
    when = utc(at)
    case = Case(
        id=id,
        customer_id=customer_id,
        kind=kind,
        subject=subject,
        description=description,
        category=category,
        severity=severity,
        channel=channel,
        owner=owner,
        team=team,
        opened_at=when,
        created_at=when,
        updated_at=when,
    )
    return case, CaseOpened(
        case_id=case.id,
        customer_id=customer_id,
        kind=case.kind.value,
        severity=case.severity.value,
        category=case.category,
        at=when,
        by=by,
    )
