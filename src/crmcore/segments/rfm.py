"""RFM scoring, named RFM segments, rule-derived value tiers and churn risk (流失预警).

- :func:`rfm_scores` scores every customer with purchases on recency (days
  since the last paid order), frequency (paid orders) and monetary value
  (their sum) — by quantiles of the population (:class:`Quantiles`) or by
  fixed thresholds (:class:`FixedBins`).
- :func:`rfm_segment` names a score: champions, loyal, at risk,
  hibernating … (:class:`RfmSegment`).
- :class:`TierPolicy` derives a value tier (VIP / strategic / ordinary /
  potential) from segment rules, first match wins, and keeps the reason.
- :func:`churn_risk` flags customers whose silence is long compared with
  their *own* purchase rhythm.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``,
``crmcore.segments``; attrs, pendulum.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeAlias, cast

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.domain.customer import Customer, Tier
from crmcore.domain.ids import CustomerId
from crmcore.domain.order import Order, OrderStatus
from crmcore.errors import InvalidValueError
from crmcore.segments.evaluate import EMPTY_CONTEXT, CompiledRule, RelatedRecords, compile_rule
from crmcore.segments.rule import RULE_TYPES, Rule
from crmcore.segments.window import Window, resolve

__all__ = [
    "ChurnRisk",
    "FixedBins",
    "Quantiles",
    "RfmMethod",
    "RfmScore",
    "RfmSegment",
    "TierDecision",
    "TierPolicy",
    "TierRule",
    "churn_risk",
    "rfm_scores",
    "rfm_segment",
]


def _score_count(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 10:
        raise InvalidValueError("scores", value, "an integer from 2 to 10")
    return value


@attrs.frozen
class Quantiles:
    """Score by rank in the population: the top fifth scores 5 (with ``scores=5``).

    Equal values always get equal scores.
    """

    scores: int = attrs.field(default=5, converter=_score_count)


def _ascending(name: str) -> Callable[[Any, Any, tuple[Any, ...]], None]:
    def check(_instance: Any, _: Any, value: tuple[Any, ...]) -> None:
        if list(value) != sorted(set(value)):
            raise InvalidValueError(name, list(value), "thresholds must be strictly ascending")
        if not value:
            raise InvalidValueError(name, list(value), "at least one threshold is required")

    return check


def _ints(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _decimals(values: Iterable[Decimal | int | str]) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(v)) for v in values)


@attrs.frozen
class FixedBins:
    """Score by fixed thresholds, each tuple ascending with ``scores - 1`` entries.

    - ``recency_days`` ``(30, 90, 180, 365)``: at most 30 days scores 5,
      at most 90 scores 4 … more than 365 scores 1;
    - ``frequency`` ``(2, 3, 5, 10)``: 1 order scores 1, 2 score 2 … 10 or
      more score 5;
    - ``monetary`` likewise, in the scored currency.
    """

    recency_days: tuple[int, ...] = attrs.field(
        converter=_ints, validator=_ascending("recency_days")
    )
    frequency: tuple[int, ...] = attrs.field(converter=_ints, validator=_ascending("frequency"))
    monetary: tuple[Decimal, ...] = attrs.field(
        converter=_decimals, validator=_ascending("monetary")
    )

    def __attrs_post_init__(self) -> None:
        sizes = {len(self.recency_days), len(self.frequency), len(self.monetary)}
        if len(sizes) != 1:
            raise InvalidValueError("bins", sorted(sizes), "give the same number of thresholds")

    @property
    def scores(self) -> int:
        """The number of scores (thresholds + 1)."""
        return len(self.recency_days) + 1


RfmMethod: TypeAlias = Quantiles | FixedBins
"""How raw RFM values become scores."""


class RfmSegment(enum.StrEnum):
    """A named RFM segment, from the classic recency × frequency grid."""

    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL_LOYALIST = "potential_loyalist"
    NEW_CUSTOMERS = "new_customers"
    PROMISING = "promising"
    NEED_ATTENTION = "need_attention"
    ABOUT_TO_SLEEP = "about_to_sleep"
    AT_RISK = "at_risk"
    CANNOT_LOSE = "cannot_lose"
    HIBERNATING = "hibernating"
    LOST = "lost"


_S = RfmSegment
# rows: recency score 5..1; columns: frequency score 1..5
_GRID: Mapping[int, tuple[RfmSegment, ...]] = {
    5: (_S.NEW_CUSTOMERS, _S.POTENTIAL_LOYALIST, _S.POTENTIAL_LOYALIST, _S.CHAMPIONS, _S.CHAMPIONS),
    4: (_S.PROMISING, _S.POTENTIAL_LOYALIST, _S.POTENTIAL_LOYALIST, _S.LOYAL, _S.LOYAL),
    3: (_S.ABOUT_TO_SLEEP, _S.ABOUT_TO_SLEEP, _S.NEED_ATTENTION, _S.LOYAL, _S.LOYAL),
    2: (_S.HIBERNATING, _S.HIBERNATING, _S.AT_RISK, _S.AT_RISK, _S.CANNOT_LOSE),
    1: (_S.LOST, _S.LOST, _S.AT_RISK, _S.AT_RISK, _S.CANNOT_LOSE),
}


def rfm_segment(r: int, f: int, *, scores: int = 5) -> RfmSegment:
    """Name the segment of recency score ``r`` and frequency score ``f`` (1..``scores``).

    Scores on another scale than 1-5 are mapped onto it first.

    Raises:
        InvalidValueError: If a score is outside 1..``scores``.

    >>> [rfm_segment(5, 5).value, rfm_segment(1, 5).value, rfm_segment(2, 1).value]
    ['champions', 'cannot_lose', 'hibernating']
    """
    for name, value in (("r", r), ("f", f)):
        if not 1 <= value <= scores:
            raise InvalidValueError(name, value, f"a score from 1 to {scores}")
    r5 = math.ceil(r * 5 / scores)
    f5 = math.ceil(f * 5 / scores)
    return _GRID[r5][f5 - 1]


@attrs.frozen(kw_only=True)
class RfmScore:
    """One customer's RFM values and scores.

    Attributes:
        customer_id: The customer.
        recency_days: Whole days from the last paid order to ``at``.
        frequency: The number of paid orders.
        monetary: Their sum, in the scored currency.
        r: Recency score (higher is more recent).
        f: Frequency score.
        m: Monetary score.
        scores: The top score (5 unless configured).
    """

    customer_id: CustomerId
    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    scores: int = 5

    @property
    def code(self) -> str:
        """The classic three-digit code (``"545"``)."""
        return f"{self.r}{self.f}{self.m}"

    @property
    def segment(self) -> RfmSegment:
        """The named segment of this score."""
        return rfm_segment(self.r, self.f, scores=self.scores)


def _rank_scores(values: list[Any], *, reverse: bool, scores: int) -> list[int]:
    ordered: list[Any] = sorted(values)
    n = len(ordered)
    result = []
    for v in values:
        higher = n - bisect.bisect_right(ordered, v)
        beaten = higher if reverse else bisect.bisect_left(ordered, v)
        result.append(1 + (scores * beaten) // n)
    return result


def rfm_scores(
    orders: Iterable[Order],
    *,
    at: dt.datetime,
    currency: str,
    method: RfmMethod | None = None,
    window: Window | None = None,
    tz: str = "UTC",
) -> dict[CustomerId, RfmScore]:
    """Score every customer with at least one paid order in ``currency``.

    Only paid orders in ``currency`` dated at or before ``at`` (and within
    ``window``, if given) count.

    Args:
        orders: Orders of any customers (other statuses and currencies are skipped).
        at: The scoring instant.
        currency: The ISO 4217 currency whose orders are scored.
        method: :class:`Quantiles` (the default, 5 scores) or :class:`FixedBins`.
        window: Only orders in this window count (e.g. ``Within(730)``).
        tz: The time zone the window is resolved in.

    Returns:
        The score of each customer with purchases, by customer id.

    Raises:
        InvalidValueError: If ``at`` is naive.

    >>> from crmcore.domain import Money, Order
    >>> at = pendulum.datetime(2026, 6, 30)
    >>> def order(i, c, days, amount):
    ...     t = at.subtract(days=days)
    ...     return Order(id=f"o{i}", customer_id=c, amount=Money(amount, "CNY"), ordered_at=t,
    ...                  created_at=t, updated_at=t)
    >>> orders = [order(1, "a", 3, 900), order(2, "a", 40, 800), order(3, "b", 200, 50)]
    >>> scores = rfm_scores(orders, at=at, currency="CNY", method=Quantiles(2))
    >>> scores["a"].code, scores["b"].code, scores["a"].segment.value
    ('222', '111', 'champions')
    """
    when = utc(at)
    method = method or Quantiles()
    span = resolve(window, at=when, tz=tz).clipped(when) if window is not None else None
    last: dict[CustomerId, pendulum.DateTime] = {}
    count: dict[CustomerId, int] = defaultdict(int)
    total: dict[CustomerId, Decimal] = defaultdict(Decimal)
    for o in orders:
        if o.status != OrderStatus.PAID or o.amount.currency != currency or o.ordered_at > when:
            continue
        if span is not None and not span.contains(o.ordered_at):
            continue
        cid = o.customer_id
        count[cid] += 1
        total[cid] += o.amount.amount
        if cid not in last or o.ordered_at > last[cid]:
            last[cid] = o.ordered_at
    ids = sorted(last)
    recency = [(when - last[c]).days for c in ids]
    frequency = [count[c] for c in ids]
    monetary = [total[c] for c in ids]
    if isinstance(method, Quantiles):
        r = _rank_scores(recency, reverse=True, scores=method.scores)
        f = _rank_scores(frequency, reverse=False, scores=method.scores)
        m = _rank_scores(monetary, reverse=False, scores=method.scores)
    else:
        top = method.scores
        r = [top - bisect.bisect_left(method.recency_days, d) for d in recency]
        f = [1 + bisect.bisect_right(method.frequency, n) for n in frequency]
        m = [1 + bisect.bisect_right(method.monetary, v) for v in monetary]
    return {
        c: RfmScore(
            customer_id=c,
            recency_days=recency[i],
            frequency=frequency[i],
            monetary=monetary[i],
            r=r[i],
            f=f[i],
            m=m[i],
            scores=method.scores,
        )
        for i, c in enumerate(ids)
    }


# --------------------------------------------------------------------------- tiers


def _rule(value: Rule) -> Rule:
    if not isinstance(value, RULE_TYPES):
        raise InvalidValueError("rule", value, "expected a segment rule node")
    return cast(Rule, value)


@attrs.frozen
class TierRule:
    """Customers matching ``rule`` get ``tier``, for ``reason``."""

    tier: Tier = attrs.field(converter=Tier)
    rule: Rule = attrs.field(converter=_rule)
    reason: str = ""


@attrs.frozen
class TierDecision:
    """The tier a policy derived for a customer, the reason and the rule that decided it."""

    tier: Tier
    reason: str
    rule: TierRule | None = None


def _tier_rules(rules: Iterable[TierRule]) -> tuple[TierRule, ...]:
    return tuple(rules)


@attrs.frozen
class TierPolicy:
    """Value tiers (客户分级) derived by rules: the first matching rule wins.

    >>> from crmcore.segments.builder import purchases
    >>> policy = TierPolicy((
    ...     TierRule(Tier.VIP, purchases(currency="CNY").total() >= 100_000, "spent ≥ ¥100k"),
    ... ), default=Tier.ORDINARY)
    >>> c = _example_customer()
    >>> policy.decide(c, at=pendulum.datetime(2026, 1, 1)).reason
    'no tier rule matched'
    """

    rules: tuple[TierRule, ...] = attrs.field(converter=_tier_rules)
    default: Tier = attrs.field(default=Tier.ORDINARY, converter=Tier)
    default_reason: str = "no tier rule matched"

    def compile(self, *, at: dt.datetime, tz: str = "UTC") -> _CompiledPolicy:
        """Compile every rule once for ``at`` (for deciding many customers)."""
        return _CompiledPolicy(self, tuple(compile_rule(r.rule, at=at, tz=tz) for r in self.rules))

    def decide(
        self,
        customer: Customer,
        context: RelatedRecords = EMPTY_CONTEXT,
        *,
        at: dt.datetime,
        tz: str = "UTC",
    ) -> TierDecision:
        """Return the tier of ``customer`` at ``at``, with the reason.

        Apply it with :func:`crmcore.domain.classify` (``tier=``, ``reason=``).
        """
        return self.compile(at=at, tz=tz).decide(customer, context)


@attrs.frozen
class _CompiledPolicy:
    policy: TierPolicy
    compiled: tuple[CompiledRule, ...]

    def decide(self, customer: Customer, context: RelatedRecords = EMPTY_CONTEXT) -> TierDecision:
        """Return the tier of ``customer``, with the reason."""
        for tier_rule, compiled in zip(self.policy.rules, self.compiled, strict=True):
            if compiled(customer, context):
                return TierDecision(tier_rule.tier, tier_rule.reason, tier_rule)
        return TierDecision(self.policy.default, self.policy.default_reason)


def _example_customer() -> Customer:
    from crmcore.domain.party import Person  # noqa: PLC0415 - doctest helper only
    from crmcore.domain.values import PersonName  # noqa: PLC0415 - doctest helper only

    at = pendulum.datetime(2025, 1, 1)
    return Customer(
        id="c-1",
        kind="person",
        person=Person(name=PersonName.parse("李娜")),
        created_at=at,
        updated_at=at,
    )


# --------------------------------------------------------------------------- churn


@attrs.frozen(kw_only=True)
class ChurnRisk:
    """Whether a customer's silence is long for *their* purchase rhythm.

    Attributes:
        customer_id: The customer.
        at_risk: The churn-risk flag (流失预警).
        days_since_last: Days from the last paid order to ``at``.
        typical_gap_days: The median gap between their consecutive orders,
            ``None`` with too few orders to tell.
        reason: Why, in words.
    """

    customer_id: CustomerId
    at_risk: bool
    days_since_last: float
    typical_gap_days: float | None
    reason: str


def churn_risk(
    orders: Iterable[Order],
    *,
    at: dt.datetime,
    factor: float = 2.0,
    min_orders: int = 3,
) -> dict[CustomerId, ChurnRisk]:
    """Flag customers whose time since the last purchase exceeds ``factor`` × their usual gap.

    The usual gap is the median time between a customer's consecutive paid
    orders (at or before ``at``); customers with fewer than ``min_orders``
    paid orders have no rhythm yet and are not flagged.

    Args:
        orders: Orders of any customers.
        at: The instant to judge at.
        factor: How many usual gaps of silence make a risk.
        min_orders: Paid orders needed before a rhythm counts (≥ 2).

    Returns:
        The verdict for every customer with a paid order, by customer id.

    Raises:
        InvalidValueError: If ``at`` is naive or a parameter is out of range.

    >>> from crmcore.domain import Money, Order
    >>> at = pendulum.datetime(2026, 6, 30)
    >>> def order(i, days):
    ...     t = at.subtract(days=days)
    ...     return Order(id=f"o{i}", customer_id="c", amount=Money(1, "CNY"), ordered_at=t,
    ...                  created_at=t, updated_at=t)
    >>> risk = churn_risk([order(1, 100), order(2, 130), order(3, 160)], at=at)["c"]
    >>> risk.at_risk, risk.days_since_last, risk.typical_gap_days
    (True, 100.0, 30.0)
    """
    when = utc(at)
    if min_orders < 2:
        raise InvalidValueError("min_orders", min_orders, "at least 2 orders make a rhythm")
    if not factor > 0:
        raise InvalidValueError("factor", factor, "must be positive")
    times: dict[CustomerId, list[pendulum.DateTime]] = defaultdict(list)
    for o in orders:
        if o.status == OrderStatus.PAID and o.ordered_at <= when:
            times[o.customer_id].append(o.ordered_at)
    day = 86_400.0
    result = {}
    for cid in sorted(times):
        stamps = sorted(times[cid])
        since = (when - stamps[-1]).total_seconds()
        if len(stamps) < min_orders:
            result[cid] = ChurnRisk(
                customer_id=cid,
                at_risk=False,
                days_since_last=since / day,
                typical_gap_days=None,
                reason=f"{len(stamps)} purchase(s); a rhythm needs {min_orders}",
            )
            continue
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
        typical = statistics.median(gaps)
        at_risk = since > factor * typical
        verb = "exceeds" if at_risk else "is within"
        result[cid] = ChurnRisk(
            customer_id=cid,
            at_risk=at_risk,
            days_since_last=since / day,
            typical_gap_days=typical / day,
            reason=(
                f"{since / day:.0f} days since the last purchase {verb} "
                f"{factor:g} × the usual gap of {typical / day:.0f} days"
            ),
        )
    return result
