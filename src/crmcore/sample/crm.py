"""A seeded generator of the related records of a sample CRM: orders, follow-ups, deals, cases.

:func:`generate_crm` takes customers that are already stored and gives each
of them a behaviour *persona* — VIP, loyal, growing, new, declining,
churned or prospect — and, from it, the records a real CRM would hold
about them at an instant ``at``: paid (and a few refunded) orders in CNY or
USD with a realistic recency / frequency / monetary spread, follow-up
activities by their owner (some customers not followed up for weeks),
opportunities across the sales stages, service cases and complaints (some
breaching their SLA, some waiting on the customer), CSAT / NPS survey
answers, and leads (some idle). Lifecycle stages, RFM scores, segments and
due actions computed over them therefore vary the way they do in practice.

Uses ``random.Random(seed)`` only, so the same customers, seed and ``at``
give the same records.

May import: ``crmcore.domain``, ``crmcore.errors``, ``crmcore.clock``;
attrs, pendulum; ``random`` from the standard library.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Final

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain import (
    Activity,
    ActivityId,
    ActivityKind,
    Case,
    CaseChannel,
    CaseId,
    CaseKind,
    CaseStatus,
    ContactPoints,
    Customer,
    CustomerId,
    EmailAddress,
    EventId,
    Lead,
    LeadId,
    LeadStatus,
    Money,
    Opportunity,
    OpportunityId,
    OpportunityStage,
    Order,
    OrderId,
    OrderStatus,
    PersonName,
    PhoneNumber,
    Severity,
    SourceChannel,
    StageChanged,
    SurveyResponse,
    SurveyResponseId,
    UserId,
)
from crmcore.domain.case import WaitingPeriod
from crmcore.errors import InvalidValueError

__all__ = [
    "DEFAULT_OWNERS",
    "DEFAULT_SUPERVISORS",
    "Persona",
    "SampleCrm",
    "generate_crm",
]

DEFAULT_OWNERS: Final[tuple[UserId, ...]] = tuple(
    UserId(u) for u in ("u-li", "u-wang", "u-zhang", "u-chen", "u-liu", "u-smith", "u-garcia")
)
"""The salespeople (负责人) of the sample CRM."""

DEFAULT_SUPERVISORS: Final[Mapping[UserId, UserId]] = MappingProxyType(
    {
        **{UserId(u): UserId("u-zhao") for u in ("u-li", "u-wang", "u-zhang", "u-chen", "u-liu")},
        **{UserId(u): UserId("u-jones") for u in ("u-smith", "u-garcia")},
    }
)
"""Each salesperson's supervisor (主管): 赵 for the China team, Jones for the others."""


class Persona(enum.StrEnum):
    """How a sample customer behaves."""

    VIP = "vip"  # many large, recent purchases
    LOYAL = "loyal"  # regular purchases over years
    GROWING = "growing"  # a few purchases in the last year
    NEW = "new"  # one recent purchase
    DECLINING = "declining"  # last purchase half a year to a year ago
    CHURNED = "churned"  # nothing for more than a year
    PROSPECT = "prospect"  # never bought


_PERSONAS: Final = (
    (Persona.VIP, 5),
    (Persona.LOYAL, 12),
    (Persona.GROWING, 15),
    (Persona.NEW, 10),
    (Persona.DECLINING, 13),
    (Persona.CHURNED, 15),
    (Persona.PROSPECT, 30),
)
_USD_PER_CNY: Final = Decimal("0.14")
_CALL_SUBJECTS: Final = ("回访客户需求", "Follow-up call", "确认报价", "Check-in on renewal")
_VISIT_SUBJECTS: Final = ("上门拜访", "On-site visit", "产品演示", "Quarterly business review")
_NOTE_SUBJECTS: Final = ("客户偏好：周末联系", "Prefers WeChat", "预算审批中", "Budget pending")
_TASK_SUBJECTS: Final = ("发送合同", "Send proposal", "准备方案", "Prepare quote")
_DEAL_TITLES: Final = ("年度采购", "Annual licence", "系统升级", "Support renewal", "新门店设备")
_COMPLAINTS: Final = (
    ("发货延迟", "delivery"),
    ("产品质量问题", "quality"),
    ("Invoice is wrong", "billing"),
    ("客服态度差", "service"),
    ("App keeps crashing", "product"),
    ("退款未到账", "billing"),
)
_LEAD_NAMES: Final = ("孙浩然", "周雨桐", "吴思远", "郑佳怡", "Emma Brown", "Liam Wilson")
_LEAD_COMPANIES: Final = ("杭州云帆科技有限公司", "成都蓝海贸易有限公司", "Northwind Traders")
_LOST_REASONS: Final = ("价格太高", "chose a competitor", "预算取消", "no decision")


@attrs.frozen(kw_only=True)
class SampleCrm:
    """The related records of a sample CRM, ready to save.

    Attributes:
        personas: Each customer's persona, by customer id.
        orders: Orders (mostly paid; a few refunded).
        activities: Follow-ups on customers, deals and leads.
        opportunities: Deals across the sales stages.
        cases: Service cases and complaints.
        survey_responses: CSAT / NPS answers, some about a case.
        leads: Leads, some idle.
        supervisors: Each owner's supervisor, for due-action rules.
        stage_changes: The opportunities' moves through the sales stages, oldest first
            per deal (for the event history: funnels and time in stage).
    """

    personas: Mapping[CustomerId, Persona]
    orders: tuple[Order, ...]
    activities: tuple[Activity, ...]
    opportunities: tuple[Opportunity, ...]
    cases: tuple[Case, ...]
    survey_responses: tuple[SurveyResponse, ...]
    leads: tuple[Lead, ...]
    supervisors: Mapping[UserId, UserId]
    stage_changes: tuple[StageChanged, ...] = ()

    @property
    def record_count(self) -> int:
        """Return how many records there are in all."""
        return (
            len(self.orders)
            + len(self.activities)
            + len(self.opportunities)
            + len(self.cases)
            + len(self.survey_responses)
            + len(self.leads)
        )


class _Builder:
    def __init__(self, seed: int, at: pendulum.DateTime, owners: Sequence[UserId]) -> None:
        self.seed = seed
        self.random = random.Random(seed)  # noqa: S311 - sample data, not cryptography
        self.stage_changes: list[StageChanged] = []
        self.at = at
        self.owners = owners
        self.counters: dict[str, int] = {}
        self.orders: list[Order] = []
        self.activities: list[Activity] = []
        self.opportunities: list[Opportunity] = []
        self.cases: list[Case] = []
        self.responses: list[SurveyResponse] = []
        self.leads: list[Lead] = []

    def next_id(self, prefix: str) -> str:
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        return f"{prefix}-{n:06d}"

    def ago(self, low_days: float, high_days: float) -> pendulum.DateTime:
        """Return an instant between ``high_days`` and ``low_days`` before ``at``."""
        seconds = self.random.uniform(low_days * 86_400, high_days * 86_400)
        return self.at.subtract(seconds=int(seconds))

    def money(self, cny: float, currency: str) -> Money:
        amount = Decimal(str(round(cny, -1) if cny >= 100 else round(cny, 2)))
        if currency == "USD":
            amount = (amount * _USD_PER_CNY).quantize(Decimal("0.01"))
        return Money(amount, currency)

    def owner_of(self, customer: Customer) -> UserId:
        return customer.owner if customer.owner is not None else self.random.choice(self.owners)

    # -- orders -------------------------------------------------------------------------

    def order_plan(self, persona: Persona) -> tuple[int, float, float, float]:
        """Return (orders, last purchase days ago, first purchase days ago, typical ¥)."""
        r = self.random
        if persona is Persona.VIP:
            return r.randint(10, 30), r.uniform(1, 30), r.uniform(500, 1_000), r.uniform(3e3, 2e4)
        if persona is Persona.LOYAL:
            return r.randint(5, 12), r.uniform(1, 60), r.uniform(400, 900), r.uniform(300, 3e3)
        if persona is Persona.GROWING:
            return r.randint(2, 4), r.uniform(1, 60), r.uniform(90, 330), r.uniform(200, 2e3)
        if persona is Persona.NEW:
            return 1, r.uniform(1, 60), 0.0, r.uniform(100, 3e3)
        if persona is Persona.DECLINING:
            return r.randint(2, 8), r.uniform(185, 340), r.uniform(400, 900), r.uniform(200, 3e3)
        if persona is Persona.CHURNED:
            return r.randint(1, 5), r.uniform(400, 900), r.uniform(900, 1_400), r.uniform(1e2, 2e3)
        return 0, 0.0, 0.0, 0.0

    def add_orders(self, customer: Customer, persona: Persona, currency: str) -> None:
        count, last, first, typical = self.order_plan(persona)
        if count == 0:
            return
        first = max(first, last)
        days = [last] + [self.random.uniform(last, first) for _ in range(count - 1)]
        for days_ago in days:
            when = self.at.subtract(seconds=int(days_ago * 86_400))
            status = OrderStatus.REFUNDED if self.random.random() < 0.03 else OrderStatus.PAID
            amount = self.money(typical * self.random.uniform(0.4, 1.8), currency)
            order_id = OrderId(self.next_id("ord"))
            self.orders.append(
                Order(
                    id=order_id,
                    customer_id=customer.id,
                    amount=amount,
                    status=status,
                    ordered_at=when,
                    external_id=f"SO{order_id[4:]}",
                    created_at=when,
                    updated_at=when,
                )
            )

    # -- activities ---------------------------------------------------------------------

    def activity(
        self,
        *,
        kind: ActivityKind,
        when: pendulum.DateTime,
        owner: UserId | None,
        customer_id: CustomerId | None = None,
        lead_id: LeadId | None = None,
        opportunity_id: OpportunityId | None = None,
        case_id: CaseId | None = None,
    ) -> None:
        subjects = {
            ActivityKind.CALL: _CALL_SUBJECTS,
            ActivityKind.VISIT: _VISIT_SUBJECTS,
            ActivityKind.MEETING: _VISIT_SUBJECTS,
            ActivityKind.NOTE: _NOTE_SUBJECTS,
            ActivityKind.TASK: _TASK_SUBJECTS,
            ActivityKind.EMAIL: _CALL_SUBJECTS,
        }[kind]
        done = kind is not ActivityKind.TASK or self.random.random() < 0.7
        self.activities.append(
            Activity(
                id=ActivityId(self.next_id("act")),
                kind=kind,
                subject=self.random.choice(subjects),
                customer_id=customer_id,
                lead_id=lead_id,
                opportunity_id=opportunity_id,
                case_id=case_id,
                owner=owner,
                occurred_at=when,
                due_at=when.add(days=3) if kind is ActivityKind.TASK else None,
                completed_at=when if done and kind is ActivityKind.TASK else None,
                outcome="已沟通" if kind is ActivityKind.CALL else "",
                created_at=when,
                updated_at=when,
            )
        )

    def add_follow_ups(self, customer: Customer, persona: Persona, owner: UserId) -> None:
        r = self.random
        if persona in (Persona.VIP, Persona.LOYAL, Persona.GROWING, Persona.NEW):
            count = r.randint(1, 5)
            # Most engaged customers were followed up recently; a fifth not for weeks.
            latest = r.uniform(0.2, 12) if r.random() < 0.8 else r.uniform(21, 75)
        elif persona in (Persona.DECLINING, Persona.PROSPECT):
            count = r.randint(0, 3)
            latest = r.uniform(2, 120)
        else:
            count = r.randint(0, 1)
            latest = r.uniform(380, 800)
        kinds = (ActivityKind.CALL, ActivityKind.VISIT, ActivityKind.NOTE, ActivityKind.TASK)
        weights = (5, 2, 2, 1)
        for n in range(count):
            days = latest if n == 0 else r.uniform(latest, latest + 300)
            self.activity(
                kind=r.choices(kinds, weights)[0],
                when=self.at.subtract(seconds=int(days * 86_400)),
                owner=owner,
                customer_id=customer.id,
            )

    # -- opportunities ------------------------------------------------------------------

    def add_opportunity(
        self, customer: Customer, persona: Persona, owner: UserId, currency: str
    ) -> None:
        r = self.random
        if persona is Persona.CHURNED or r.random() > 0.35:
            return
        open_stages = (
            OpportunityStage.LEAD,
            OpportunityStage.FIRST_CONTACT,
            OpportunityStage.NEEDS_ANALYSIS,
            OpportunityStage.PROPOSAL,
            OpportunityStage.NEGOTIATION,
        )
        closed_stages = (OpportunityStage.WON, OpportunityStage.LOST, OpportunityStage.AFTER_SALES)
        stage = r.choice(open_stages) if r.random() < 0.6 else r.choice(closed_stages)
        created = self.ago(5, 200)
        closed = stage in closed_stages
        updated = (
            self.at.subtract(seconds=int(r.uniform(0, (self.at - created).total_seconds())))
            if not closed
            else created.add(days=r.randint(3, 60))
        )
        updated = min(updated, self.at)
        opp_id = OpportunityId(self.next_id("opp"))
        self.opportunities.append(
            Opportunity(
                id=opp_id,
                customer_id=customer.id,
                title=r.choice(_DEAL_TITLES),
                amount=self.money(r.uniform(5e3, 3e5), currency),
                stage=stage,
                expected_close=(self.at.add(days=r.randint(7, 120))).date() if not closed else None,
                owner=owner,
                lost_reason=r.choice(_LOST_REASONS) if stage is OpportunityStage.LOST else "",
                closed_at=updated if closed else None,
                created_at=created,
                updated_at=updated,
            )
        )
        self.stage_changes.extend(
            _stage_path(
                opp_id,
                stage,
                start=created,
                end=updated,
                owner=owner,
                rng=random.Random(f"{self.seed}:{opp_id}"),  # noqa: S311 - sample data
            )
        )
        if not closed and r.random() < 0.7:  # the last touch on the deal, recent or not
            self.activity(
                kind=r.choice((ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL)),
                when=max(created, self.ago(0.1, 20)),
                owner=owner,
                customer_id=customer.id,
                opportunity_id=opp_id,
            )

    # -- cases and surveys --------------------------------------------------------------

    def add_case(self, customer: Customer, persona: Persona, owner: UserId) -> None:
        r = self.random
        chance = 0.05 if persona is Persona.PROSPECT else 0.14
        if r.random() > chance:
            return
        subject, category = r.choice(_COMPLAINTS)
        kind = r.choices(
            (CaseKind.COMPLAINT, CaseKind.SERVICE_REQUEST, CaseKind.INQUIRY), (6, 3, 1)
        )[0]
        severity = r.choices(
            (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW), (1, 3, 5, 2)
        )[0]
        status = r.choices(
            (
                CaseStatus.RECEIVED,
                CaseStatus.IN_PROGRESS,
                CaseStatus.WAITING_ON_CUSTOMER,
                CaseStatus.RESOLVED,
                CaseStatus.CLOSED,
            ),
            (2, 3, 1, 1, 5),
        )[0]
        if status is CaseStatus.CLOSED:
            opened = self.ago(2, 60)
        elif status is CaseStatus.RECEIVED:
            opened = self.ago(0.05, 6)  # fresh, or already past its response deadline
        else:
            opened = self.ago(1, 15)
        responded = (
            None
            if status is CaseStatus.RECEIVED
            else opened.add(minutes=int(60 * r.uniform(0.5, 30)))
        )
        responded = min(responded, self.at) if responded is not None else None
        resolved = closed = None
        waiting: tuple[WaitingPeriod, ...] = ()
        if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            resolved = min(opened.add(minutes=int(60 * r.uniform(4, 120))), self.at)
            if status is CaseStatus.CLOSED:
                closed = min(resolved.add(minutes=int(60 * r.uniform(1, 48))), self.at)
        if status is CaseStatus.WAITING_ON_CUSTOMER:
            start = responded if responded is not None else opened
            waiting = (WaitingPeriod(start=min(start.add(hours=2), self.at)),)
        last = max(t for t in (opened, responded, resolved, closed) if t is not None)
        if waiting:
            last = max(last, waiting[0].start)
        case_id = CaseId(self.next_id("case"))
        self.cases.append(
            Case(
                id=case_id,
                customer_id=customer.id,
                kind=kind,
                subject=subject,
                category=category,
                severity=severity,
                channel=r.choice(list(CaseChannel)),
                status=status,
                escalation_level=1 if severity is Severity.CRITICAL and r.random() < 0.5 else 0,
                owner=owner,
                opened_at=opened,
                first_response_at=responded,
                resolved_at=resolved,
                closed_at=closed,
                waiting=waiting,
                created_at=opened,
                updated_at=last,
            )
        )
        if closed is not None and r.random() < 0.5:  # about half answered the survey
            when = min(closed.add(minutes=int(60 * r.uniform(2, 40))), self.at)
            self.response(customer.id, when, case_id=case_id)

    def response(
        self, customer_id: CustomerId, when: pendulum.DateTime, *, case_id: CaseId | None = None
    ) -> None:
        r = self.random
        nps = max(0, min(10, round(r.gauss(7.5, 2.3))))
        csat = max(1, min(5, round(nps / 2 + r.uniform(-0.6, 0.6))))
        comment = "" if r.random() < 0.6 else r.choice(("服务很好", "太慢了", "Great support"))
        self.responses.append(
            SurveyResponse(
                id=SurveyResponseId(self.next_id("srv")),
                customer_id=customer_id,
                case_id=case_id,
                csat=csat,
                nps=nps,
                comment=comment,
                responded_at=when,
                created_at=when,
                updated_at=when,
            )
        )

    # -- leads --------------------------------------------------------------------------

    def add_lead(self, number: int) -> None:
        r = self.random
        status = r.choices(
            (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED),
            (4, 3, 2, 1),
        )[0]
        created = self.ago(1, 120)
        touched = min(created.add(hours=r.randint(0, 720)), self.at)
        lead_id = LeadId(self.next_id("lead"))
        name = r.choice(_LEAD_NAMES)
        points = ContactPoints().with_phone(
            PhoneNumber.parse(f"+86 13{r.randint(0, 9)}{number % 100_000_000:08d}")
        )
        if r.random() < 0.5:
            points = points.with_email(EmailAddress.parse(f"lead{number}@example.cn"))
        owner = r.choice(self.owners)
        self.leads.append(
            Lead(
                id=lead_id,
                name=PersonName.parse(name),
                company=r.choice(_LEAD_COMPANIES),
                points=points,
                source=r.choice(list(SourceChannel)),
                status=status,
                owner=owner,
                score=r.randint(0, 100),
                disqualified_reason="无预算" if status is LeadStatus.DISQUALIFIED else "",
                created_at=created,
                updated_at=touched,
            )
        )
        if status is LeadStatus.CONTACTED:
            self.activity(kind=ActivityKind.CALL, when=touched, owner=owner, lead_id=lead_id)


def _currency(customer: Customer) -> str:
    return "CNY" if customer.country is None or str(customer.country) == "CN" else "USD"


_FORWARD: Final = (
    (OpportunityStage.LEAD, ""),
    (OpportunityStage.FIRST_CONTACT, "contact"),
    (OpportunityStage.NEEDS_ANALYSIS, "analyse_needs"),
    (OpportunityStage.PROPOSAL, "propose"),
    (OpportunityStage.NEGOTIATION, "negotiate"),
)
"""The open sales stages in order, each with the transition that enters it."""


def _stage_path(
    opp_id: OpportunityId,
    stage: OpportunityStage,
    *,
    start: pendulum.DateTime,
    end: pendulum.DateTime,
    owner: UserId,
    rng: random.Random,
) -> list[StageChanged]:
    """Return the moves of a deal created at ``start`` in the first stage to ``stage`` at ``end``.

    Open stages are reached one after another; a won deal is won from the proposal or
    the negotiation, a deal in after-sales was won first, and a lost deal is lost from
    any open stage. The moves are spread over ``[start, end]``, the last one at ``end``.
    A deal of its own random stream, so the rest of the sample does not change.
    """
    opens = [s for s, _ in _FORWARD]
    moves: list[tuple[str, OpportunityStage]]
    if stage in opens:
        moves = [(name, s) for s, name in _FORWARD[1 : opens.index(stage) + 1]]
    elif stage is OpportunityStage.LOST:
        reached = rng.randrange(len(opens))
        moves = [(name, s) for s, name in _FORWARD[1 : reached + 1]]
        moves.append(("lose", OpportunityStage.LOST))
    else:  # won, or won and handed over
        last = rng.choice((3, 4))  # the proposal or the negotiation
        moves = [(name, s) for s, name in _FORWARD[1 : last + 1]]
        moves.append(("win", OpportunityStage.WON))
        if stage is OpportunityStage.AFTER_SALES:
            moves.append(("hand_over", OpportunityStage.AFTER_SALES))
    if not moves:
        return []
    span = max((end - start).total_seconds(), float(len(moves)))
    offsets = [*sorted(rng.uniform(0.0, span) for _ in moves[:-1]), span]
    events = []
    previous = OpportunityStage.LEAD
    for n, ((transition, target), offset) in enumerate(zip(moves, offsets, strict=True)):
        events.append(
            StageChanged(
                id=EventId(f"ev-{opp_id}-{n + 1}"),
                at=min(start.add(seconds=int(offset)), end),
                by=owner,
                entity="opportunity",
                entity_id=str(opp_id),
                workflow="opportunity",
                transition=transition,
                from_stage=previous.value,
                to_stage=target.value,
            )
        )
        previous = target
    return events


def generate_crm(
    customers: Iterable[Customer],
    *,
    at: pendulum.DateTime,
    seed: int = 0,
    owners: Sequence[UserId] = DEFAULT_OWNERS,
    leads: int | None = None,
) -> SampleCrm:
    """Generate the related records of a sample CRM for stored customers, as of ``at``.

    Every active customer gets a :class:`Persona` (VIP 5 %, loyal 12 %, growing
    15 %, new 10 %, declining 13 %, churned 15 %, prospect 30 %) and, from it,
    orders (in CNY for Chinese customers, else USD), follow-ups by its owner
    (a customer without one gets one of ``owners`` on its records), maybe an
    opportunity, a case and survey answers. Nothing is dated after ``at``.

    Args:
        customers: The customers (merged ones are skipped).
        at: The instant the CRM is seen at.
        seed: The seed; the same inputs and seed give the same records.
        owners: The salespeople records are assigned to.
        leads: How many leads (default: one per ten customers, at least five).

    Returns:
        The records, with ids ``ord-000001``, ``act-000001``, … .

    Raises:
        InvalidValueError: If ``at`` is naive or ``owners`` is empty.

    >>> from crmcore.domain import Person, PersonName, register_customer
    >>> at = pendulum.datetime(2026, 6, 1, tz="Asia/Shanghai")
    >>> people = [register_customer(id=CustomerId(f"c{n}"), at=at.subtract(years=2),
    ...           person=Person(name=PersonName.parse("王芳")))[0] for n in range(50)]
    >>> crm = generate_crm(people, at=at, seed=1)
    >>> len(crm.personas), len(crm.leads), all(o.ordered_at <= at for o in crm.orders)
    (50, 5, True)
    >>> generate_crm(people, at=at, seed=1) == crm
    True
    """
    when = utc(at)
    if not owners:
        raise InvalidValueError("owners", "()", "at least one owner is needed")
    builder = _Builder(seed, when, owners)
    personas: dict[CustomerId, Persona] = {}
    choices = [p for p, _ in _PERSONAS]
    weights = [w for _, w in _PERSONAS]
    active = [c for c in customers if c.is_active]
    for customer in active:
        persona = builder.random.choices(choices, weights)[0]
        personas[customer.id] = persona
        owner = builder.owner_of(customer)
        currency = _currency(customer)
        builder.add_orders(customer, persona, currency)
        builder.add_follow_ups(customer, persona, owner)
        builder.add_opportunity(customer, persona, owner, currency)
        builder.add_case(customer, persona, owner)
        if persona is not Persona.PROSPECT and builder.random.random() < 0.15:
            builder.response(customer.id, builder.ago(1, 300))
    for number in range(leads if leads is not None else max(5, len(active) // 10)):
        builder.add_lead(number)
    return SampleCrm(
        personas=MappingProxyType(personas),
        orders=tuple(builder.orders),
        activities=tuple(builder.activities),
        opportunities=tuple(builder.opportunities),
        cases=tuple(builder.cases),
        survey_responses=tuple(builder.responses),
        leads=tuple(builder.leads),
        supervisors=DEFAULT_SUPERVISORS,
        stage_changes=tuple(builder.stage_changes),
    )
