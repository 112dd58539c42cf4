"""Consent records (同意记录) for PIPL / GDPR: purpose, channel, granted and withdrawn at, source.

A consent is its own small aggregate: granted once, withdrawn at most once;
a new grant after a withdrawal is a new record, so the history is kept.

May import: ``crmcore.errors``, ``crmcore.clock``, ``crmcore.domain``; attrs, pendulum.
"""

from __future__ import annotations

import enum

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.classification import INTERNAL
from crmcore.domain.entity import not_before, require_id, require_text, require_version, touch
from crmcore.domain.events import ConsentGranted, ConsentWithdrawn
from crmcore.domain.ids import ConsentId, CustomerId, UserId
from crmcore.errors import InvalidValueError

__all__ = ["Consent", "ConsentChannel", "grant_consent", "withdraw_consent"]


class ConsentChannel(enum.StrEnum):
    """The channel a consent covers."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"
    WECHAT = "wechat"
    ANY = "any"


def _purpose(value: str) -> str:
    text = require_text("purpose", value, max_length=100).lower()
    if not text:
        raise InvalidValueError("purpose", value, "required (e.g. marketing, profiling)")
    return text


@attrs.frozen(kw_only=True)
class Consent:
    """A data subject's consent to one purpose on one channel."""

    id: ConsentId = attrs.field(converter=require_id, metadata=INTERNAL)
    version: int = attrs.field(default=0, converter=require_version, metadata=INTERNAL)
    customer_id: CustomerId = attrs.field(converter=require_id, metadata=INTERNAL)
    purpose: str = attrs.field(converter=_purpose, metadata=INTERNAL)
    channel: ConsentChannel = attrs.field(converter=ConsentChannel, metadata=INTERNAL)
    source: str = attrs.field(default="", metadata=INTERNAL)
    granted_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    withdrawn_at: pendulum.DateTime | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(utc),
        validator=not_before("granted_at"),
        metadata=INTERNAL,
    )
    created_at: pendulum.DateTime = attrs.field(converter=utc, metadata=INTERNAL)
    updated_at: pendulum.DateTime = attrs.field(
        converter=utc, validator=not_before("created_at"), metadata=INTERNAL
    )

    def is_active(self, at: pendulum.DateTime) -> bool:
        """Whether the consent holds at instant ``at``."""
        when = utc(at)
        return self.granted_at <= when and (self.withdrawn_at is None or when < self.withdrawn_at)


def grant_consent(
    *,
    id: ConsentId,
    customer_id: CustomerId,
    purpose: str,
    channel: ConsentChannel,
    source: str,
    at: pendulum.DateTime,
    by: UserId | None = None,
) -> tuple[Consent, ConsentGranted]:
    """Record that the customer consented to ``purpose`` on ``channel`` at ``at``."""
    when = utc(at)
    consent = Consent(
        id=id,
        customer_id=customer_id,
        purpose=purpose,
        channel=channel,
        source=source,
        granted_at=when,
        created_at=when,
        updated_at=when,
    )
    return consent, ConsentGranted(
        consent_id=consent.id,
        customer_id=customer_id,
        purpose=consent.purpose,
        channel=consent.channel.value,
        at=when,
        by=by,
    )


def withdraw_consent(
    consent: Consent, *, at: pendulum.DateTime, by: UserId | None = None
) -> tuple[Consent, ConsentWithdrawn]:
    """Withdraw a consent from ``at`` on.

    Raises:
        InvalidValueError: If it was already withdrawn.
    """
    if consent.withdrawn_at is not None:
        raise InvalidValueError(
            "consent", consent.id, f"already withdrawn at {consent.withdrawn_at.isoformat()}"
        )
    new = touch(consent, at, withdrawn_at=utc(at))
    return new, ConsentWithdrawn(
        consent_id=consent.id,
        customer_id=consent.customer_id,
        purpose=consent.purpose,
        channel=consent.channel.value,
        at=new.updated_at,
        by=by,
    )
