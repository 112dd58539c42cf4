"""Subject rights: where a person's data lives, how it is pseudonymised, the erasure register.

Three facts live here, for every adapter and service:

- :data:`SUBJECT_SOURCES`, the registry of every place that can hold a data
  subject's personal data (the unit of work's repositories and logs). Export
  and erasure walk it, so they are complete by construction; the tests fail
  when a repository or table is added without an entry.
- The pseudonymisation of each record kind (:func:`erase_customer`,
  :func:`erase_event` …): personal data replaced *in place* by a stable
  pseudonym (:func:`pseudonym`) or nothing, ids, amounts, stages and times
  kept, so the KPIs computed from them survive an erasure.
- :class:`ErasureRequest`, the register entry of one erasure: which steps
  are done and how many records each changed, and nothing personal, so it
  can be kept (and replayed after a backup restore) forever.

>>> import pendulum
>>> from crmcore.domain import CustomerId, EmailAddress, Person, PersonName, register_customer
>>> at = pendulum.datetime(2026, 3, 1)
>>> li, _ = register_customer(id=CustomerId("c-1"), person=Person(name=PersonName.parse("李娜")),
...                           emails=[EmailAddress("li.na@example.com")], at=at)
>>> erased = erase_customer(li, at=at.add(days=1))
>>> erased.person.name.full, erased.points.emails, erased.id
('erased-a6f7ef47', (), 'c-1')
>>> erase_customer(erased, at=at.add(days=2)) == erased
True

May import: ``crmcore.domain``, ``crmcore.merge``, ``crmcore.clock``, ``crmcore.errors``;
attrs, pendulum.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Final

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain import (
    Activity,
    ActivityCompleted,
    Case,
    Consent,
    Contact,
    ContactPoints,
    Customer,
    CustomerClassified,
    CustomerId,
    CustomerRegistered,
    CustomFields,
    DomainEvent,
    Lead,
    Opportunity,
    Person,
    PersonName,
    StageChanged,
    SurveyResponse,
    UserId,
)
from crmcore.errors import InvalidValueError
from crmcore.merge import MergeRecord
from crmcore.privacy._canonical import JsonValue

__all__ = [
    "ERASED_TEXT",
    "ERASURE_STEPS",
    "SUBJECT_SOURCES",
    "ErasureRequest",
    "ErasureStep",
    "SubjectSource",
    "erase_activity",
    "erase_case",
    "erase_consent",
    "erase_customer",
    "erase_event",
    "erase_lead",
    "erase_merge",
    "erase_opportunity",
    "erase_survey_response",
    "json_value",
    "pseudonym",
]

ERASED_TEXT: Final = "[erased]"
"""What replaces a required free-text field (a case's subject, an opportunity's title)."""


def pseudonym(subject: str) -> str:
    """Return the stable pseudonym that replaces ``subject``'s name: ``erased-`` + 8 hex digits.

    Derived from the id only, so an erasure replayed after a restore writes
    the same text and the pseudonym reveals nothing the id does not.

    >>> pseudonym("c-1")
    'erased-a6f7ef47'
    """
    return "erased-" + hashlib.sha256(subject.encode("utf-8")).hexdigest()[:8]


@attrs.frozen(kw_only=True)
class SubjectSource:
    """One place that can hold a data subject's personal data.

    Attributes:
        name: The key in an export document and the erasure step's name.
        repository: The unit of work attribute that reaches it.
        found_by: How the subject's records are found (indexed lookups only).
        erasure: What erasure does there.
    """

    name: str
    repository: str
    found_by: str
    erasure: str


SUBJECT_SOURCES: Final[tuple[SubjectSource, ...]] = (
    SubjectSource(
        name="leads",
        repository="leads",
        found_by="converted into the customer, or sharing one of its emails or phones",
        erasure="name, company, contact points, custom fields and reasons removed",
    ),
    SubjectSource(
        name="opportunities",
        repository="opportunities",
        found_by="customer_id",
        erasure="title replaced; amounts, stages and dates kept",
    ),
    SubjectSource(
        name="activities",
        repository="activities",
        found_by="customer_id",
        erasure="subject, body, outcome and next step removed; kind and times kept",
    ),
    SubjectSource(
        name="cases",
        repository="cases",
        found_by="customer_id",
        erasure="subject replaced, description removed; status, severity and SLA times kept",
    ),
    SubjectSource(
        name="survey_responses",
        repository="survey_responses",
        found_by="customer_id",
        erasure="comment removed; CSAT, NPS and CES scores kept",
    ),
    SubjectSource(
        name="orders",
        repository="orders",
        found_by="customer_id",
        erasure="nothing personal is stored (amounts, status and times are kept)",
    ),
    SubjectSource(
        name="consents",
        repository="consents",
        found_by="customer_id",
        erasure="source removed; purpose, channel and times kept as proof",
    ),
    SubjectSource(
        name="consent_ledger",
        repository="consent_ledger",
        found_by="subject",
        erasure="kept unchanged: proof of what was agreed (ids, purposes, times)",
    ),
    SubjectSource(
        name="merges",
        repository="merges",
        found_by="merge members (survivor or merged)",
        erasure="every pre-merge snapshot and the result pseudonymised, notes removed",
    ),
    SubjectSource(
        name="events",
        repository="history",
        found_by="the aggregate ids of every record above (event history and outbox)",
        erasure="display names, outcomes and reasons rewritten in history and outbox",
    ),
    SubjectSource(
        name="audit",
        repository="audit",
        found_by="subject",
        erasure="payloads erased from the side table; the chain itself is untouched",
    ),
    SubjectSource(
        name="customer",
        repository="customers",
        found_by="id, and every customer merged with it",
        erasure="person, contact points, contacts, custom fields and external ids removed",
    ),
)
"""Every place a data subject's personal data can live, in erasure order.

The customer comes last: the other steps look records up by its emails and
phones, so an interrupted erasure resumes with them still known.
"""

ERASURE_STEPS: Final[tuple[str, ...]] = (*(s.name for s in SUBJECT_SOURCES), "keys")
"""The steps of an erasure, in order: one per source, then the subject's encryption key."""


def _instant(text: object) -> pendulum.DateTime:
    if not isinstance(text, str):
        raise TypeError(f"expected an ISO 8601 instant, got {text!r}")
    return utc(dt.datetime.fromisoformat(text))


def _step_name(value: str) -> str:
    if value not in ERASURE_STEPS:
        raise InvalidValueError("step", value, f"not an erasure step ({', '.join(ERASURE_STEPS)})")
    return value


def _count(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValueError(attribute.name, value, "a non-negative whole number")


@attrs.frozen(kw_only=True)
class ErasureStep:
    """One finished step of an erasure.

    Attributes:
        name: The step (one of :data:`ERASURE_STEPS`).
        changed: How many records it changed (0 when replayed on erased data).
        done_at: When it finished.
    """

    name: str = attrs.field(converter=_step_name)
    changed: int = attrs.field(validator=_count)
    done_at: pendulum.DateTime = attrs.field(converter=utc)


def _steps(value: Iterable[ErasureStep]) -> tuple[ErasureStep, ...]:
    steps = tuple(value)
    names = [s.name for s in steps]
    if names != list(ERASURE_STEPS[: len(names)]):
        raise InvalidValueError("steps", names, "erasure steps must be done in order")
    return steps


def _ids(value: Iterable[str]) -> tuple[CustomerId, ...]:
    ids = tuple(CustomerId(v) for v in value)
    if not ids:
        raise InvalidValueError("customers", ids, "an erasure covers at least one customer")
    return ids


@attrs.frozen(kw_only=True)
class ErasureRequest:
    """The register entry of one erasure: progress, and nothing personal.

    Keep it forever: after a restore from a backup taken before the erasure,
    replaying the register (:func:`crmcore.services.subject.replay_erasures`)
    erases the subject again.

    >>> import pendulum
    >>> at = pendulum.datetime(2026, 3, 1)
    >>> request = ErasureRequest(id="er-1", subject="c-1", customers=("c-1",),
    ...                          requested_at=at, created_at=at)
    >>> request.next_step, request.done
    ('leads', False)
    >>> request.finish("leads", 2, at=at).next_step
    'opportunities'

    Attributes:
        id: The request's id.
        version: The stored version (optimistic locking, as every record).
        subject: The customer whose erasure was asked for.
        customers: Every customer erased with it (the subject and those merged with it).
        requested_by: Who asked (the user who recorded it).
        requested_at: When it was asked.
        steps: The finished steps, in order.
        completed_at: When the last step finished, or ``None``.
        created_at: When the request was recorded.
        updated_at: When it last changed.
    """

    id: str = attrs.field()
    version: int = 0
    subject: CustomerId
    customers: tuple[CustomerId, ...] = attrs.field(converter=_ids)
    requested_by: UserId | None = None
    requested_at: pendulum.DateTime = attrs.field(converter=utc)
    steps: tuple[ErasureStep, ...] = attrs.field(default=(), converter=_steps)
    completed_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=attrs.converters.optional(utc)
    )
    created_at: pendulum.DateTime = attrs.field(converter=utc)
    updated_at: pendulum.DateTime = attrs.field(
        default=attrs.Factory(lambda self: self.created_at, takes_self=True), converter=utc
    )

    @id.validator
    def _check_id(self, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise InvalidValueError("id", value, "an erasure request needs an id")

    @property
    def next_step(self) -> str | None:
        """The step to run next, or ``None`` when every step is done."""
        done = len(self.steps)
        return ERASURE_STEPS[done] if done < len(ERASURE_STEPS) else None

    @property
    def done(self) -> bool:
        """Whether every step is done."""
        return self.next_step is None

    def to_json(self) -> str:
        """Return the request as one line of JSON, for an erasure log kept apart from backups.

        >>> import pendulum
        >>> at = pendulum.datetime(2026, 3, 1)
        >>> request = ErasureRequest(id="er-1", subject="c-1", customers=("c-1",),
        ...                          requested_at=at, created_at=at).finish("leads", 0, at=at)
        >>> ErasureRequest.from_json(request.to_json()) == request
        True
        """
        return json.dumps(json_value(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ErasureRequest:
        """Read a request written by :meth:`to_json`.

        Raises:
            InvalidValueError: If the text is not such a request.
        """
        try:
            data = json.loads(text)
            steps = tuple(
                ErasureStep(name=s["name"], changed=s["changed"], done_at=_instant(s["done_at"]))
                for s in data["steps"]
            )
            completed = data["completed_at"]
            return cls(
                id=data["id"],
                version=data["version"],
                subject=CustomerId(data["subject"]),
                customers=data["customers"],
                requested_by=data["requested_by"],
                requested_at=_instant(data["requested_at"]),
                steps=steps,
                completed_at=None if completed is None else _instant(completed),
                created_at=_instant(data["created_at"]),
                updated_at=_instant(data["updated_at"]),
            )
        except InvalidValueError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidValueError(
                "erasure request", text[:80], f"not an erasure request: {exc}"
            ) from exc

    def finish(self, step: str, changed: int, *, at: dt.datetime) -> ErasureRequest:
        """Return the request with ``step`` done (the request is complete after the last).

        Raises:
            InvalidValueError: If ``step`` is not the next step.
        """
        if step != self.next_step:
            raise InvalidValueError("step", step, f"the next step is {self.next_step!r}")
        when = utc(at)
        steps = (*self.steps, ErasureStep(name=step, changed=changed, done_at=when))
        complete = len(steps) == len(ERASURE_STEPS)
        return attrs.evolve(
            self,
            steps=steps,
            completed_at=when if complete else None,
            updated_at=max(when, self.updated_at),
        )


# -- pseudonymisation, one function per record kind ------------------------------------


def _later(stamp: pendulum.DateTime, at: dt.datetime) -> pendulum.DateTime:
    return max(stamp, utc(at))


def _points() -> ContactPoints:
    return ContactPoints()


def _erase_contact(contact: Contact, subject: str) -> Contact:
    return attrs.evolve(
        contact,
        name=PersonName(given=pseudonym(f"{subject}/{contact.id}")),
        title="",
        points=_points(),
    )


def erase_customer(customer: Customer, *, at: dt.datetime) -> Customer:
    """Return ``customer`` pseudonymised; ``customer`` itself when nothing is left to erase.

    The person keeps only a pseudonymous name; contact points, contacts'
    details, custom fields, preferences, credit rating and external ids go.
    Ids, kind, country, tier, tags, owner, stage and times stay (KPIs).
    An organisation's own data (legal name, industry) is not personal and stays.
    """
    person = customer.person
    erased_person = (
        None if person is None else Person(name=PersonName(given=pseudonym(customer.id)))
    )
    changed = attrs.evolve(
        customer,
        person=erased_person,
        points=_points(),
        contacts=tuple(_erase_contact(c, customer.id) for c in customer.contacts),
        credit_rating=None,
        preferences=CustomFields(),
        custom=CustomFields(),
        external_ids=frozenset(),
    )
    if changed == customer:
        return customer
    return attrs.evolve(changed, updated_at=_later(customer.updated_at, at))


def erase_lead(lead: Lead, *, at: dt.datetime) -> Lead:
    """Return ``lead`` without its personal data (status, source, score and times kept)."""
    changed = attrs.evolve(
        lead,
        name=PersonName(given=pseudonym(lead.id)),  # a lead needs a name or a company
        company="",
        points=_points(),
        custom=CustomFields(),
        disqualified_reason="",
    )
    if changed == lead:
        return lead
    return attrs.evolve(changed, updated_at=_later(lead.updated_at, at))


def erase_opportunity(opportunity: Opportunity, *, at: dt.datetime) -> Opportunity:
    """Return ``opportunity`` with its title replaced (amount, stage and dates kept)."""
    if opportunity.title == ERASED_TEXT:
        return opportunity
    return attrs.evolve(
        opportunity, title=ERASED_TEXT, updated_at=_later(opportunity.updated_at, at)
    )


def erase_activity(activity: Activity, *, at: dt.datetime) -> Activity:
    """Return ``activity`` without its texts (kind, links and times kept)."""
    changed = attrs.evolve(activity, subject="", body="", outcome="", next_step="")
    if changed == activity:
        return activity
    return attrs.evolve(changed, updated_at=_later(activity.updated_at, at))


def erase_case(case: Case, *, at: dt.datetime) -> Case:
    """Return ``case`` with its subject replaced and description removed (SLA data kept)."""
    changed = attrs.evolve(case, subject=ERASED_TEXT, description="")
    if changed == case:
        return case
    return attrs.evolve(changed, updated_at=_later(case.updated_at, at))


def erase_survey_response(response: SurveyResponse, *, at: dt.datetime) -> SurveyResponse:
    """Return ``response`` without its comment (the scores are kept)."""
    if not response.comment:
        return response
    return attrs.evolve(response, comment="", updated_at=_later(response.updated_at, at))


def erase_consent(consent: Consent, *, at: dt.datetime) -> Consent:
    """Return ``consent`` without its free-text source (purpose, channel and times kept)."""
    if not consent.source:
        return consent
    return attrs.evolve(consent, source="", updated_at=_later(consent.updated_at, at))


def erase_merge(merge: MergeRecord, *, at: dt.datetime) -> MergeRecord:
    """Return ``merge`` with every snapshot pseudonymised and decision notes removed.

    The ids, field decisions and re-pointed records stay, so an unmerge still
    knows which record went where.
    """
    changed = attrs.evolve(
        merge,
        originals=tuple(erase_customer(c, at=c.updated_at) for c in merge.originals),
        result=erase_customer(merge.result, at=merge.result.updated_at),
        decisions=tuple(attrs.evolve(d, note="") for d in merge.decisions),
    )
    if changed == merge:
        return merge
    return attrs.evolve(changed, updated_at=_later(merge.updated_at, at))


def erase_event(event: DomainEvent) -> DomainEvent:
    """Return ``event`` with its free text pseudonymised (same id, time and ids).

    A registration's display name becomes the customer's pseudonym; an
    activity's outcome and the reasons of classifications and stage
    changes are removed. Other events hold no personal text.
    """
    if isinstance(event, CustomerRegistered):
        name = pseudonym(event.customer_id)
        return event if event.display_name == name else attrs.evolve(event, display_name=name)
    if isinstance(event, ActivityCompleted):
        return attrs.evolve(event, outcome="") if event.outcome else event
    if isinstance(event, CustomerClassified | StageChanged):
        return attrs.evolve(event, reason="") if event.reason else event
    return event


# -- export ----------------------------------------------------------------------------


def json_value(value: object) -> JsonValue:
    """Return ``value`` (a record, or anything inside one) as plain JSON data.

    Records become objects of their fields, times ISO 8601 text, decimals
    text, enums their value, sets sorted lists.

    >>> import pendulum
    >>> from decimal import Decimal
    >>> json_value({"at": pendulum.datetime(2026, 3, 1), "amount": Decimal("9.50"),
    ...             "tags": frozenset({"b", "a"})})
    {'at': '2026-03-01T00:00:00+00:00', 'amount': '9.50', 'tags': ['a', 'b']}

    Raises:
        InvalidValueError: If a value has no JSON form (an arbitrary object).
    """
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return json_value(value.value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value.total_seconds())
    if isinstance(value, decimal.Decimal):
        return str(value)
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))  # type: ignore[arg-type]  # attrs.has said so
        return {f.name: json_value(getattr(value, f.name)) for f in fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        items = [json_value(v) for v in value]
        return sorted(items, key=repr)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    raise InvalidValueError("value", type(value).__name__, "has no JSON form for an export")
