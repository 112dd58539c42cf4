"""The consent ledger (同意台账) for PIPL (个人信息保护法) and GDPR, and ``may_process``.

The ledger is append-only: a :class:`ConsentRecord` states that a subject
(customer) may be processed for one purpose on one channel, on a legal
basis, under a jurisdiction, from when to when, where it was captured; a
:class:`ConsentWithdrawal` later ends it. Nothing is ever changed or
deleted, so the ledger proves what was agreed at any instant.

PIPL asks for *separate* consent (单独同意) for sensitive personal
information (Art. 28–29), for providing data to another handler (Art. 23),
for publishing it (Art. 25) and for a cross-border transfer (Art. 38–39,
the recipient recorded); a subject under 14 needs a guardian's consent
(Art. 31), and PIPL has no "legitimate interests" basis (Art. 13). GDPR's
special categories need explicit consent (Art. 9) and a child under 16 a
holder of parental responsibility (Art. 8). :func:`may_process` applies
these rules and says why, naming the record it relied on or what is missing.

The existing :class:`crmcore.domain.Consent` aggregate stays what it was
(merges re-point it, exports carry it); :meth:`ConsentRecord.from_consent`
turns one into ledger entries, so a host can move its consents over.

>>> import pendulum
>>> from crmcore.domain import ConsentChannel, ConsentId, CustomerId
>>> record = ConsentRecord(id=ConsentId("k-1"), subject=CustomerId("c-1"),
...     purpose="marketing", channel=ConsentChannel.EMAIL, jurisdiction=Jurisdiction.PIPL,
...     captured_at=pendulum.datetime(2026, 3, 1), captured_from="signup form")
>>> decision = may_process([record], CustomerId("c-1"), "marketing", ConsentChannel.EMAIL,
...                        at=pendulum.datetime(2026, 4, 1))
>>> bool(decision), decision.reason.value, decision.record.id
(True, 'consented', 'k-1')
>>> print(may_process([record], CustomerId("c-1"), "marketing", ConsentChannel.EMAIL,
...                   at=pendulum.datetime(2026, 4, 1), sensitive=True))
refused (separate consent missing): no separate consent for sensitive personal information

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.clock``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from typing import TypeAlias

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain import Consent, ConsentChannel, ConsentId, CustomerId, UserId
from crmcore.domain.entity import require_id, require_text
from crmcore.errors import InvalidValueError, NotFoundError
from crmcore.segments.evaluate import ConsentSpan

__all__ = [
    "ConsentRecord",
    "ConsentState",
    "ConsentStatus",
    "ConsentWithdrawal",
    "DecisionReason",
    "Jurisdiction",
    "LedgerEntry",
    "LegalBasis",
    "ProcessingDecision",
    "check_append",
    "consent_spans",
    "consent_states",
    "may_process",
]

MAX_PURPOSE_LENGTH = 100
MAX_NAME_LENGTH = 200
MAX_ID_LENGTH = 128
PIPL_GUARDIAN_AGE = 14
"""Under this age PIPL needs a parent's or guardian's consent (Art. 31)."""
GDPR_GUARDIAN_AGE = 16
"""Under this age GDPR needs a holder of parental responsibility (Art. 8; states may lower it)."""


class Jurisdiction(enum.StrEnum):
    """The law a ledger entry is kept under."""

    PIPL = "pipl"
    GDPR = "gdpr"


class LegalBasis(enum.StrEnum):
    """Why processing is lawful (PIPL Art. 13, GDPR Art. 6)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    HUMAN_RESOURCES = "human_resources"
    """PIPL Art. 13(2): human-resources management under labour rules (PIPL only)."""
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    """GDPR Art. 6(1)(d); PIPL Art. 13(4): emergencies, life, health and property."""
    PUBLIC_INTEREST = "public_interest"
    """GDPR Art. 6(1)(e) public task; PIPL Art. 13(5) news reporting and supervision."""
    PUBLICLY_AVAILABLE = "publicly_available"
    """PIPL Art. 13(6): information the subject or the law already made public (PIPL only)."""
    LEGITIMATE_INTERESTS = "legitimate_interests"
    """GDPR Art. 6(1)(f) only: PIPL has no such basis."""


_ONLY_IN = {
    LegalBasis.HUMAN_RESOURCES: (Jurisdiction.PIPL, "human resources is a PIPL basis (Art. 13)"),
    LegalBasis.PUBLICLY_AVAILABLE: (
        Jurisdiction.PIPL,
        "publicly available information is a PIPL basis (Art. 13)",
    ),
    LegalBasis.LEGITIMATE_INTERESTS: (
        Jurisdiction.GDPR,
        "PIPL has no legitimate interests basis (Art. 13)",
    ),
}


def _purpose(value: str) -> str:
    text = require_text("purpose", value, max_length=MAX_PURPOSE_LENGTH).lower()
    if not text:
        raise InvalidValueError("purpose", value, "required (e.g. marketing, profiling)")
    return text


def _ledger_id(field: str, value: str) -> str:
    require_id(value)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidValueError(field, value[:40] + "…", f"longer than {MAX_ID_LENGTH} characters")
    return value


def _name(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = require_text(field, value, max_length=MAX_NAME_LENGTH)
    if not text:
        raise InvalidValueError(field, value, "empty: give a name or leave it out (None)")
    return text


def _record_id(value: str) -> ConsentId:
    return ConsentId(_ledger_id("id", value))


def _withdrawn_id(value: str) -> ConsentId:
    return ConsentId(_ledger_id("record_id", value))


def _subject(value: str) -> CustomerId:
    return CustomerId(_ledger_id("subject", value))


def _by(value: str | None) -> UserId | None:
    return None if value is None else UserId(_ledger_id("recorded_by", value))


def _provision(value: str | None) -> str | None:
    return _name("provision_recipient", value)


def _cross_border(value: str | None) -> str | None:
    return _name("cross_border_recipient", value)


def _guardian(value: str | None) -> str | None:
    return _name("guardian", value)


def _source(value: str) -> str:
    return require_text("captured_from", value, max_length=MAX_NAME_LENGTH)


def _reason(value: str) -> str:
    return require_text("reason", value, max_length=MAX_NAME_LENGTH)


@attrs.frozen(kw_only=True)
class ConsentRecord:
    """One entry of the ledger: the subject may be processed for a purpose, on a basis.

    Attributes:
        id: The record's id (unique in the ledger).
        subject: The customer it is about.
        purpose: What for (lower-case, e.g. ``marketing``).
        channel: Which channel it covers (``any`` covers every channel).
        legal_basis: Why it is lawful; only ``consent`` can carry the separate-consent flags.
        jurisdiction: PIPL or GDPR.
        captured_at: When it was given or established.
        captured_from: Where (a form, a call, a contract number).
        valid_from: From when it holds (default: ``captured_at``).
        valid_until: Until when (exclusive), or ``None``: until withdrawn.
        sensitive: Separate (PIPL) or explicit (GDPR) consent for sensitive personal information.
        provision_recipient: Separate consent to provide the data to this other handler (PIPL).
        publication: Separate consent to publish the data (PIPL).
        cross_border_recipient: Separate consent to transfer the data abroad to this recipient.
        guardian: Who consented for a minor (a parent's or guardian's name or id).
        recorded_by: Who recorded it.
    """

    id: ConsentId = attrs.field(converter=_record_id)
    subject: CustomerId = attrs.field(converter=_subject)
    purpose: str = attrs.field(converter=_purpose)
    channel: ConsentChannel = attrs.field(converter=ConsentChannel)
    legal_basis: LegalBasis = attrs.field(default=LegalBasis.CONSENT, converter=LegalBasis)
    jurisdiction: Jurisdiction = attrs.field(converter=Jurisdiction)
    captured_at: pendulum.DateTime = attrs.field(converter=utc)
    captured_from: str = attrs.field(default="", converter=_source)
    valid_from: pendulum.DateTime = attrs.field(
        default=attrs.Factory(lambda self: self.captured_at, takes_self=True), converter=utc
    )
    valid_until: pendulum.DateTime | None = attrs.field(
        default=None, converter=attrs.converters.optional(utc)
    )
    sensitive: bool = attrs.field(default=False)
    provision_recipient: str | None = attrs.field(
        default=None,
        converter=_provision,
    )
    publication: bool = attrs.field(default=False)
    cross_border_recipient: str | None = attrs.field(
        default=None,
        converter=_cross_border,
    )
    guardian: str | None = attrs.field(default=None, converter=_guardian)
    recorded_by: UserId | None = attrs.field(default=None, converter=_by)

    def __attrs_post_init__(self) -> None:
        """Check the rules between fields.

        Raises:
            InvalidValueError: If the basis does not exist in the jurisdiction, the
                validity period is empty, or flags are set on a basis other than consent.
        """
        only = _ONLY_IN.get(self.legal_basis)
        if only is not None and only[0] is not self.jurisdiction:
            raise InvalidValueError("legal_basis", self.legal_basis.value, only[1])
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise InvalidValueError(
                "valid_until",
                self.valid_until.isoformat(),
                f"not after valid_from {self.valid_from.isoformat()}",
            )
        for name in ("sensitive", "publication"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidValueError(name, getattr(self, name), "expected True or False")
        flags = list(self.separate_consents)
        if self.guardian is not None:
            flags.append("guardian")
        if flags and self.legal_basis is not LegalBasis.CONSENT:
            raise InvalidValueError(
                "legal_basis",
                self.legal_basis.value,
                f"{', '.join(flags)} can only be recorded on a consent",
            )

    @property
    def separate_consents(self) -> tuple[str, ...]:
        """What the record separately consents to, as the words :func:`may_process` uses."""
        found: list[str] = []
        if self.sensitive:
            found.append("sensitive personal information")
        if self.provision_recipient is not None:
            found.append(f"provision to {self.provision_recipient}")
        if self.publication:
            found.append("publication")
        if self.cross_border_recipient is not None:
            found.append(f"cross-border transfer to {self.cross_border_recipient}")
        return tuple(found)

    @classmethod
    def from_consent(
        cls, consent: Consent, *, jurisdiction: Jurisdiction
    ) -> tuple[ConsentRecord] | tuple[ConsentRecord, ConsentWithdrawal]:
        """Return the ledger entries of a :class:`~crmcore.domain.Consent` aggregate.

        The record keeps the consent's id, purpose, channel and source (basis:
        consent); a withdrawn consent also gives its withdrawal.

        >>> import pendulum
        >>> from crmcore.domain import ConsentId, CustomerId, grant_consent, withdraw_consent
        >>> consent, _ = grant_consent(id=ConsentId("k-1"), customer_id=CustomerId("c-1"),
        ...     purpose="marketing", channel=ConsentChannel.SMS, source="web",
        ...     at=pendulum.datetime(2026, 1, 1))
        >>> consent, _ = withdraw_consent(consent, at=pendulum.datetime(2026, 2, 1))
        >>> [type(e).__name__ for e in ConsentRecord.from_consent(consent,
        ...                                                       jurisdiction=Jurisdiction.PIPL)]
        ['ConsentRecord', 'ConsentWithdrawal']
        """
        record = cls(
            id=consent.id,
            subject=consent.customer_id,
            purpose=consent.purpose,
            channel=consent.channel,
            jurisdiction=jurisdiction,
            captured_at=consent.granted_at,
            captured_from=consent.source,
        )
        if consent.withdrawn_at is None:
            return (record,)
        return record, ConsentWithdrawal(
            record_id=consent.id, subject=consent.customer_id, withdrawn_at=consent.withdrawn_at
        )


@attrs.frozen(kw_only=True)
class ConsentWithdrawal:
    """An entry of the ledger ending a record from ``withdrawn_at`` on (PIPL Art. 15).

    Attributes:
        record_id: The record withdrawn.
        subject: Its subject (the same as the record's).
        withdrawn_at: From when it no longer holds.
        recorded_by: Who recorded it.
        reason: Why, if said.
    """

    record_id: ConsentId = attrs.field(converter=_withdrawn_id)
    subject: CustomerId = attrs.field(converter=_subject)
    withdrawn_at: pendulum.DateTime = attrs.field(converter=utc)
    recorded_by: UserId | None = attrs.field(default=None, converter=_by)
    reason: str = attrs.field(default="", converter=_reason)


LedgerEntry: TypeAlias = ConsentRecord | ConsentWithdrawal
"""Anything the ledger holds."""


class ConsentStatus(enum.StrEnum):
    """Where a record stands at one instant."""

    VALID = "valid"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"


@attrs.frozen(kw_only=True)
class ConsentState:
    """A record with its withdrawal, if any: the ledger's latest word on it.

    Attributes:
        record: The record.
        withdrawal: The withdrawal that ended it, or ``None``.
    """

    record: ConsentRecord
    withdrawal: ConsentWithdrawal | None = None

    @property
    def withdrawn_at(self) -> pendulum.DateTime | None:
        """When it was withdrawn, or ``None``."""
        return None if self.withdrawal is None else self.withdrawal.withdrawn_at

    def status(self, at: dt.datetime) -> ConsentStatus:
        """Return where the record stands at instant ``at``.

        Raises:
            InvalidValueError: If ``at`` is naive.
        """
        when = utc(at)
        record = self.record
        if self.withdrawal is not None and self.withdrawal.withdrawn_at <= when:
            return ConsentStatus.WITHDRAWN
        if when < record.valid_from:
            return ConsentStatus.NOT_YET_VALID
        if record.valid_until is not None and record.valid_until <= when:
            return ConsentStatus.EXPIRED
        return ConsentStatus.VALID


def _order(state: ConsentState) -> tuple[pendulum.DateTime, str]:
    return state.record.captured_at, state.record.id


def consent_states(entries: Iterable[LedgerEntry]) -> list[ConsentState]:
    """Fold ledger entries into one state per record, by (captured_at, id).

    The earliest withdrawal of a record counts; a withdrawal of a record
    not among ``entries`` is ignored (the ledgers refuse to store one).
    """
    records: dict[str, ConsentRecord] = {}
    withdrawals: dict[str, ConsentWithdrawal] = {}
    for entry in entries:
        if isinstance(entry, ConsentRecord):
            records.setdefault(entry.id, entry)
        else:
            known = withdrawals.get(entry.record_id)
            if known is None or entry.withdrawn_at < known.withdrawn_at:
                withdrawals[entry.record_id] = entry
    states = [ConsentState(record=r, withdrawal=withdrawals.get(i)) for i, r in records.items()]
    return sorted(states, key=_order)


def check_append(states: Sequence[ConsentState], entry: LedgerEntry) -> None:
    """Check that ``entry`` may be appended to a ledger holding ``states`` (of its subject).

    Ledger adapters call this before they store an entry.

    Raises:
        InvalidValueError: If a record with that id is already in the ledger, or
            the record withdrawn is already withdrawn, belongs to another
            subject, or was captured after the withdrawal.
        NotFoundError: If the record withdrawn is not in the ledger.
    """
    by_id = {s.record.id: s for s in states}
    if isinstance(entry, ConsentRecord):
        if entry.id in by_id:
            raise InvalidValueError("consent record", entry.id, "already in the ledger")
        return
    state = by_id.get(entry.record_id)
    if state is None:
        raise NotFoundError("consent record", entry.record_id)
    if state.record.subject != entry.subject:
        raise InvalidValueError(
            "subject", entry.subject, f"consent record {entry.record_id!r} is another subject's"
        )
    if state.withdrawal is not None:
        raise InvalidValueError(
            "consent record",
            entry.record_id,
            f"already withdrawn at {state.withdrawal.withdrawn_at.isoformat()}",
        )
    if entry.withdrawn_at < state.record.captured_at:
        raise InvalidValueError(
            "withdrawn_at",
            entry.withdrawn_at.isoformat(),
            f"before the record was captured at {state.record.captured_at.isoformat()}",
        )


class DecisionReason(enum.StrEnum):
    """Why :func:`may_process` answered as it did."""

    CONSENTED = "consented"
    OTHER_LEGAL_BASIS = "other legal basis"
    NO_RECORD = "no record"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    SEPARATE_CONSENT_MISSING = "separate consent missing"
    GUARDIAN_CONSENT_MISSING = "guardian consent missing"


@attrs.frozen(kw_only=True)
class ProcessingDecision:
    """The answer of :func:`may_process`; true when processing is allowed.

    Attributes:
        allowed: Whether the processing may go ahead.
        reason: Why.
        record: The record relied on (allowed), or the one that fell short (refused);
            ``None`` when there is none.
        relied_on: Every record the answer rests on (a consent and the separate
            consents that complete it).
        missing: What is missing: the separate consents, or ``guardian``.
        detail: A sentence for people.
    """

    allowed: bool
    reason: DecisionReason
    record: ConsentRecord | None = None
    relied_on: tuple[ConsentRecord, ...] = ()
    missing: tuple[str, ...] = ()
    detail: str = ""

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else "refused"
        return f"{verdict} ({self.reason.value}): {self.detail}"


def _required(
    pipl: bool,
    *,
    sensitive: bool,
    provision_recipient: str | None,
    publication: bool,
    cross_border_recipient: str | None,
) -> list[tuple[str, str]]:
    """(what, the record attribute that grants it) for each separate consent needed."""
    needed: list[tuple[str, str]] = []
    if sensitive:
        needed.append(("sensitive personal information", "sensitive"))
    if pipl and provision_recipient is not None:
        needed.append((f"provision to {provision_recipient}", "provision_recipient"))
    if pipl and publication:
        needed.append(("publication", "publication"))
    if pipl and cross_border_recipient is not None:
        needed.append((f"cross-border transfer to {cross_border_recipient}", "cross_border"))
    return needed


def _grants(record: ConsentRecord, what: str, attribute: str) -> bool:
    if attribute == "sensitive":
        return record.sensitive
    if attribute == "publication":
        return record.publication
    return what in record.separate_consents  # a recipient must be the one named


def _iso(at: dt.datetime | None) -> str:
    return "" if at is None else at.isoformat()


def _latest(states: Iterable[ConsentState]) -> ConsentState:
    return max(states, key=_order)


def may_process(
    entries: Iterable[LedgerEntry],
    subject: CustomerId,
    purpose: str,
    channel: ConsentChannel,
    at: dt.datetime,
    *,
    sensitive: bool = False,
    provision_recipient: str | None = None,
    publication: bool = False,
    cross_border_recipient: str | None = None,
    subject_age: int | None = None,
    jurisdiction: Jurisdiction | None = None,
) -> ProcessingDecision:
    """Decide whether ``subject``'s data may be processed for ``purpose`` on ``channel`` at ``at``.

    The records considered are the subject's for that purpose whose channel
    is ``channel`` or ``any`` (and, when given, under ``jurisdiction``). A
    record valid at ``at`` on a basis other than consent allows the
    processing (PIPL Art. 13: such bases need no separate consent either).
    Otherwise a valid consent is needed, and every separate consent the
    processing calls for must be granted by a valid consent record of the
    same purpose and channel: sensitive data (both laws); provision to
    another handler, publication and cross-border transfer (PIPL; the
    recipient must be the one named). For a subject under 14 (PIPL) or 16
    (GDPR) only consents given by a guardian count, and under PIPL the
    data of a child under 14 is sensitive (Art. 28).

    Refusals name the latest record that fell short and why (withdrawn,
    expired, not yet valid, separate or guardian consent missing), or
    ``no record``.

    Args:
        entries: Ledger entries (others' are ignored), e.g.
            ``uow.consent_ledger.entries_for(subject)``.
        subject: The customer.
        purpose: What for (compared lower-case).
        channel: Through which channel.
        at: The instant of processing (aware).
        sensitive: The data is sensitive personal information.
        provision_recipient: The data goes to this other handler.
        publication: The data will be published.
        cross_border_recipient: The data goes abroad to this recipient.
        subject_age: The subject's age in years, when known.
        jurisdiction: Consider only entries under this law; ``None``: every entry,
            with PIPL's rules if any of them is under PIPL.

    Returns:
        The decision, true when allowed.

    Raises:
        InvalidValueError: If ``at`` is naive, ``purpose`` empty or ``subject_age`` negative.
    """
    when = utc(at)
    wanted = _purpose(purpose)
    if subject_age is not None and (
        isinstance(subject_age, bool) or not isinstance(subject_age, int) or subject_age < 0
    ):
        raise InvalidValueError("subject_age", subject_age, "a non-negative integer (years)")
    candidates = [
        s
        for s in consent_states(e for e in entries if e.subject == subject)
        if s.record.purpose == wanted
        and s.record.channel in (channel, ConsentChannel.ANY)
        and (jurisdiction is None or s.record.jurisdiction is jurisdiction)
    ]
    what = f"{wanted} by {ConsentChannel(channel).value}"
    if not candidates:
        return ProcessingDecision(
            allowed=False,
            reason=DecisionReason.NO_RECORD,
            detail=f"no consent or other legal basis recorded for {what}",
        )
    current = [s for s in candidates if s.status(when) is ConsentStatus.VALID]
    others = [s for s in current if s.record.legal_basis is not LegalBasis.CONSENT]
    if others:
        chosen = _latest(others).record
        return ProcessingDecision(
            allowed=True,
            reason=DecisionReason.OTHER_LEGAL_BASIS,
            record=chosen,
            relied_on=(chosen,),
            detail=f"{what} rests on {chosen.legal_basis.value} ({chosen.id})",
        )
    pipl = jurisdiction is Jurisdiction.PIPL or (
        jurisdiction is None and any(s.record.jurisdiction is Jurisdiction.PIPL for s in candidates)
    )
    consents = [s for s in current if s.record.legal_basis is LegalBasis.CONSENT]
    age_limit = PIPL_GUARDIAN_AGE if pipl else GDPR_GUARDIAN_AGE
    minor = subject_age is not None and subject_age < age_limit
    if minor:
        by_guardian = [s for s in consents if s.record.guardian is not None]
        if consents and not by_guardian:
            shortfall = _latest(consents).record
            return ProcessingDecision(
                allowed=False,
                reason=DecisionReason.GUARDIAN_CONSENT_MISSING,
                record=shortfall,
                missing=("guardian",),
                detail=f"the subject is under {age_limit}: a guardian must consent to {what}",
            )
        consents = by_guardian
    if not consents:
        latest = _latest(candidates)
        status = latest.status(when)
        reason = {
            ConsentStatus.WITHDRAWN: DecisionReason.WITHDRAWN,
            ConsentStatus.EXPIRED: DecisionReason.EXPIRED,
            ConsentStatus.NOT_YET_VALID: DecisionReason.NOT_YET_VALID,
        }[status]
        record = latest.record
        since = {
            ConsentStatus.WITHDRAWN: f"withdrawn at {_iso(latest.withdrawn_at)}",
            ConsentStatus.EXPIRED: f"expired at {_iso(record.valid_until)}",
            ConsentStatus.NOT_YET_VALID: f"valid only from {_iso(record.valid_from)}",
        }[status]
        return ProcessingDecision(
            allowed=False,
            reason=reason,
            record=record,
            detail=f"the latest record for {what} ({record.id}) was {since}",
        )
    needed = _required(
        pipl,
        sensitive=sensitive or (minor and pipl),
        provision_recipient=provision_recipient,
        publication=publication,
        cross_border_recipient=cross_border_recipient,
    )
    base = _latest(consents).record
    relied = [base]
    missing: list[str] = []
    for label, attribute in needed:
        granting = [s for s in consents if _grants(s.record, label, attribute)]
        if granting:
            relied.append(_latest(granting).record)
        else:
            missing.append(label)
    if missing:
        return ProcessingDecision(
            allowed=False,
            reason=DecisionReason.SEPARATE_CONSENT_MISSING,
            record=base,
            missing=tuple(missing),
            detail="no separate consent for " + ", ".join(missing),
        )
    relied_on = tuple(dict.fromkeys(relied))
    return ProcessingDecision(
        allowed=True,
        reason=DecisionReason.CONSENTED,
        record=base,
        relied_on=relied_on,
        detail=f"{what} consented in {', '.join(r.id for r in relied_on)}",
    )


def consent_spans(entries: Iterable[LedgerEntry]) -> list[ConsentSpan]:
    """Return the ledger's records as the spans a segment's consent clause reads.

    Feed them to :meth:`crmcore.segments.SegmentContext.of` (``consents=``)
    so :class:`~crmcore.segments.HasConsent` answers in memory as
    :func:`may_process` does for ordinary processing.

    >>> import pendulum
    >>> from crmcore.domain import CustomerId
    >>> record = ConsentRecord(id="k-1", subject=CustomerId("c-1"), purpose="marketing",
    ...                        channel="sms", jurisdiction=Jurisdiction.PIPL,
    ...                        captured_at=pendulum.datetime(2026, 1, 1))
    >>> [(s.customer_id, s.purpose, s.channel.value) for s in consent_spans([record])]
    [('c-1', 'marketing', 'sms')]
    """
    return [
        ConsentSpan(
            customer_id=state.record.subject,
            purpose=state.record.purpose,
            channel=state.record.channel,
            valid_from=state.record.valid_from,
            valid_until=state.record.valid_until,
            withdrawn_at=state.withdrawn_at,
        )
        for state in consent_states(entries)
    ]
