"""Service KPIs: response and resolution time, SLA attainment, backlog, reopen rate, NPS, CSAT, CES.

Times are counted in the business hours of a
:class:`~crmcore.lifecycle.business_calendar.BusinessCalendar` (``calendar=``;
default 24×7, i.e. wall-clock hours). When the ``stage_changes`` frame is
given, the periods a case waited on the customer (from a move into
``waiting_on_customer`` to the next move of that case) do not count, as in
:mod:`crmcore.lifecycle.sla`. Surveys read the ``survey_responses`` frame.

May import: ``crmcore.domain``, ``crmcore.lifecycle``, ``crmcore.errors``,
``crmcore.clock``; attrs, pendulum, polars, numpy.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any, Final

import numpy as np
import polars as pl

from crmcore.analytics._calendar import business_micros_of, ends_working_time
from crmcore.analytics._frame import (
    Kind,
    check_range,
    group_columns,
    instant,
    ratio,
    ratio_expr,
    require,
)
from crmcore.analytics.kpi import COUNT, HOURS, NPS_POINTS, RATIO, Kpi, Period
from crmcore.domain.case import CaseStatus, Severity
from crmcore.domain.customer import Tier
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.business_calendar import BusinessCalendar
from crmcore.lifecycle.case import CASE_WORKFLOW
from crmcore.lifecycle.sla import DEFAULT_SLA_POLICY, SlaPolicy
from crmcore.lifecycle.workflow import Workflow

__all__ = [
    "backlog",
    "customer_effort_score",
    "customer_satisfaction",
    "first_response_time",
    "net_promoter_score",
    "reopen_rate",
    "resolution_time",
    "sla_attainment",
]

_CASES: Final[dict[str, Kind]] = {
    "id": "string",
    "severity": "string",
    "opened_at": "datetime",
    "first_response_at": "datetime",
    "resolved_at": "datetime",
    "closed_at": "datetime",
}
_CHANGES: Final[dict[str, Kind]] = {
    "entity": "string",
    "entity_id": "string",
    "workflow": "string",
    "from_stage": "string",
    "to_stage": "string",
    "at": "datetime",
}
_RESPONSES: Final[dict[str, Kind]] = {"responded_at": "datetime"}
_FAR: Final = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
_HOUR_US: Final = 3_600_000_000


def _by(by: str | Sequence[str] | None) -> list[str]:
    return [by] if isinstance(by, str) else list(by or ())


def _cases(frame: object, columns: Sequence[str]) -> pl.DataFrame:
    checked = require(frame, "cases", _CASES)
    group_columns(list(columns), checked, "cases")
    return checked


def _in(period: Period, column: str) -> pl.Expr:
    return (pl.col(column) >= instant(period.start)) & (pl.col(column) < instant(period.end))


def _pauses(stage_changes: object | None, workflow: Workflow[Any, Any]) -> pl.DataFrame | None:
    """Return ``(id, pause_start, pause_end)`` for every wait on the customer."""
    if stage_changes is None:
        return None
    moves = (
        require(stage_changes, "stage_changes", _CHANGES)
        .filter((pl.col("entity") == workflow.entity) & (pl.col("workflow") == workflow.name))
        .sort("entity_id", "at", maintain_order=True)
        .with_columns(pl.col("at").shift(-1).over("entity_id").alias("_next"))
    )
    return moves.filter(pl.col("to_stage") == CaseStatus.WAITING_ON_CUSTOMER.value).select(
        pl.col("entity_id").alias("id"),
        pl.col("at").alias("pause_start"),
        pl.col("_next").fill_null(_FAR).alias("pause_end"),
    )


def _calendar_text(calendar: BusinessCalendar | None) -> str:
    if calendar is None:
        return "in wall-clock hours (24×7)"
    return f"in business hours of calendar {calendar.name!r}"


def _duration_kpi(
    cases: object,
    *,
    name: str,
    done: str,
    period: Period,
    calendar: BusinessCalendar | None,
    stage_changes: object | None,
    by: str | Sequence[str] | None,
    workflow: Workflow[Any, Any],
) -> Kpi:
    columns = _by(by)
    frame = _cases(cases, columns).filter(_in(period, "opened_at"))
    measured = frame.filter(
        pl.col(done).is_not_null() & (pl.col(done) < instant(period.end))
    ).unique("id")
    hours = business_micros_of(
        measured,
        key="id",
        start="opened_at",
        end=done,
        calendar=calendar,
        pauses=_pauses(stage_changes, workflow),
    )
    measured = measured.with_columns(pl.Series("_h", hours / _HOUR_US, dtype=pl.Float64))
    stats = [
        pl.len().cast(pl.Int64).alias("measured"),
        pl.col("_h").mean().alias("mean"),
        pl.col("_h").median().alias("median"),
        pl.col("_h").quantile(0.9, interpolation="linear").alias("p90"),
    ]
    opened = (
        frame.group_by(columns).agg(pl.len().cast(pl.Int64).alias("cases"))
        if columns
        else frame.select(pl.len().cast(pl.Int64).alias("cases"))
    )
    if columns:
        table = (
            opened.join(measured.group_by(columns).agg(stats), on=columns, how="left")
            .with_columns(pl.col("measured").fill_null(0))
            .sort(columns, nulls_last=True)
        )
    else:
        table = pl.concat([opened, measured.select(stats)], how="horizontal")
    total = float(measured["_h"].sum()) if measured.height else 0.0
    return Kpi(
        name=name,
        definition=(
            f"Mean time from opening to {done.removesuffix('_at').replace('_', ' ')} of cases "
            f"opened in the period (those done by its end), {_calendar_text(calendar)}"
            + (", waiting on the customer excluded." if stage_changes is not None else ".")
        ),
        unit=HOURS,
        value=ratio(total, measured.height),
        numerator=total,
        denominator=measured.height,
        period=period,
        table=table,
    )


def first_response_time(
    cases: pl.DataFrame,
    *,
    period: Period,
    calendar: BusinessCalendar | None = None,
    stage_changes: pl.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
    workflow: Workflow[Any, Any] = CASE_WORKFLOW,
) -> Kpi:
    """Return the average first-response time of cases opened in the period.

    Cases first responded to before ``period.end`` are measured; the others
    are counted in ``table["cases"]`` only.

    Returns:
        ``value`` is the mean in :data:`~crmcore.analytics.kpi.HOURS`;
        ``table`` has the groups, ``cases, measured, mean, median, p90``.

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.

    >>> import polars as pl, pendulum
    >>> from crmcore.lifecycle import weekday_calendar
    >>> friday = pendulum.datetime(2026, 3, 6, 17)
    >>> cases = pl.DataFrame({"id": ["k1"], "severity": ["high"], "opened_at": [friday],
    ...     "first_response_at": [friday.add(days=3)], "resolved_at": [None],
    ...     "closed_at": [None]}, schema_overrides={"resolved_at": pl.Datetime("us", "UTC"),
    ...     "closed_at": pl.Datetime("us", "UTC")})
    >>> first_response_time(cases, period=Period.month(2026, 3)).value
    72.0
    >>> calendar = weekday_calendar("UTC", hours=("09:00-18:00",))
    >>> first_response_time(cases, period=Period.month(2026, 3), calendar=calendar).value
    9.0
    """
    return _duration_kpi(
        cases,
        name="first response time",
        done="first_response_at",
        period=period,
        calendar=calendar,
        stage_changes=stage_changes,
        by=by,
        workflow=workflow,
    )


def resolution_time(
    cases: pl.DataFrame,
    *,
    period: Period,
    calendar: BusinessCalendar | None = None,
    stage_changes: pl.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
    workflow: Workflow[Any, Any] = CASE_WORKFLOW,
) -> Kpi:
    """Return the average resolution time of cases opened in the period.

    Cases resolved before ``period.end`` are measured (``resolved_at``; a
    reopened case counts once resolved again). Like :func:`first_response_time`.

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.
    """
    return _duration_kpi(
        cases,
        name="resolution time",
        done="resolved_at",
        period=period,
        calendar=calendar,
        stage_changes=stage_changes,
        by=by,
        workflow=workflow,
    )


def _budgets(
    frame: pl.DataFrame, policy: SlaPolicy, tiers: bool
) -> dict[tuple[str, str | None], tuple[int, int]]:
    keys = frame.select("severity", "_tier").unique().iter_rows()
    out: dict[tuple[str, str | None], tuple[int, int]] = {}
    for severity, tier in keys:
        try:
            level = Severity(severity)
        except ValueError as exc:
            raise InvalidValueError("severity", severity, "not a case severity") from exc
        try:
            grade = Tier(tier) if tiers and tier is not None else None
        except ValueError as exc:
            raise InvalidValueError("tier", tier, "not a customer tier") from exc
        target = policy.target_for(level, grade)
        out[(severity, tier)] = (
            target.first_response // dt.timedelta(microseconds=1),
            target.resolution // dt.timedelta(microseconds=1),
        )
    return out


def sla_attainment(
    cases: pl.DataFrame,
    *,
    period: Period,
    policy: SlaPolicy = DEFAULT_SLA_POLICY,
    calendar: BusinessCalendar | None = None,
    stage_changes: pl.DataFrame | None = None,
    customers: pl.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
    workflow: Workflow[Any, Any] = CASE_WORKFLOW,
) -> Kpi:
    """Return the SLA attainment: cases that met their targets ÷ cases decided.

    For cases opened in the period, each target of ``policy`` (first response;
    resolution, done at ``resolved_at`` or else ``closed_at``) is judged at
    ``period.end`` the way :func:`crmcore.lifecycle.sla.status` judges it:
    *met* when done no later than its deadline, *breached* when done later or
    still not done after the deadline, otherwise *pending*. A case meets the
    SLA when both targets are met and breaches it when either is breached.
    Attainment is met ÷ (met + breached); pending cases are not counted.

    Args:
        cases: The cases frame.
        period: The period the cases were opened in.
        policy: The SLA policy (targets per severity, maybe per tier).
        calendar: The business calendar targets are counted in (default 24×7).
        stage_changes: The stage changes, to pause the clock while waiting.
        customers: The customers frame (``id``, ``tier``), for per-tier targets.
        by: Case columns to break the attainment down by.
        workflow: The case workflow (whose moves give the waiting periods).

    Returns:
        A ratio; ``table`` has the groups, ``target`` (``first_response``,
        ``resolution``, ``both``), ``met, breached, pending, attainment``.

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.
        InvalidValueError: If a severity or tier is not a known value.
        ConfigurationError: If the policy has no target for a severity.

    >>> import polars as pl, pendulum
    >>> t = pendulum.datetime(2026, 3, 2, 9)
    >>> cases = pl.DataFrame({"id": ["k1", "k2"], "severity": ["critical", "critical"],
    ...     "opened_at": [t, t], "first_response_at": [t.add(minutes=30), t.add(hours=2)],
    ...     "resolved_at": [t.add(hours=5), t.add(hours=6)], "closed_at": [None, None]},
    ...     schema_overrides={"closed_at": pl.Datetime("us", "UTC")})
    >>> k = sla_attainment(cases, period=Period.month(2026, 3))
    >>> str(k)
    'SLA attainment: 0.5 (ratio 0–1; 1 / 2)'
    """
    columns = _by(by)
    frame = _cases(cases, columns).filter(_in(period, "opened_at")).unique("id")
    tiers = customers is not None
    if customers is not None:
        people = require(customers, "customers", {"id": "string", "tier": "string"})
        require(cases, "cases", {"customer_id": "string"})
        frame = frame.join(
            people.select(pl.col("id").alias("customer_id"), pl.col("tier").alias("_tier")),
            on="customer_id",
            how="left",
        )
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("_tier"))
    budgets = _budgets(frame, policy, tiers)
    budget_frame = pl.DataFrame(
        [(s, t, fr, rs) for (s, t), (fr, rs) in budgets.items()],
        schema={"severity": pl.String, "_tier": pl.String, "_b1": pl.Int64, "_b2": pl.Int64},
        orient="row",
    )
    end = instant(period.end)
    frame = frame.join(budget_frame, on=["severity", "_tier"], how="left", nulls_equal=True)
    pauses = _pauses(stage_changes, workflow)
    verdicts = []
    for target, done, budget in (
        ("first_response", pl.col("first_response_at"), "_b1"),
        ("resolution", pl.coalesce("resolved_at", "closed_at"), "_b2"),
    ):
        judged = frame.with_columns(
            pl.when(done < end).then(done).otherwise(None).alias("_done")
        ).with_columns(pl.coalesce("_done", pl.lit(end)).alias("_until"))
        used = business_micros_of(
            judged, key="id", start="opened_at", end="_until", calendar=calendar, pauses=pauses
        )
        until = judged["_until"].dt.epoch("us").to_numpy().astype(np.int64)
        allowed = judged[budget].to_numpy()
        within = (used < allowed) | ((used == allowed) & ends_working_time(until, calendar))
        done_flag = judged["_done"].is_not_null().to_numpy()
        verdicts.append(
            judged.select("id", *columns).with_columns(
                pl.Series("target", [target] * judged.height, dtype=pl.String),
                pl.Series("_met", done_flag & within),
                pl.Series("_breached", ~within),
            )
        )
    pair = pl.concat(verdicts)
    both = (
        pair.group_by("id", *columns)
        .agg(pl.col("_met").all(), pl.col("_breached").any())
        .with_columns(pl.lit("both").alias("target"))
    )
    everything = pl.concat([pair, both.select(pair.columns)])
    counts = everything.group_by(*columns, "target").agg(
        pl.col("_met").sum().cast(pl.Int64).alias("met"),
        pl.col("_breached").sum().cast(pl.Int64).alias("breached"),
        (~pl.col("_met") & ~pl.col("_breached")).sum().cast(pl.Int64).alias("pending"),
    )
    order = pl.DataFrame(
        {"target": ["first_response", "resolution", "both"], "_rank": [0, 1, 2]},
        schema={"target": pl.String, "_rank": pl.Int64},
    )
    table = (
        counts.join(order, on="target")
        .sort(*columns, "_rank", nulls_last=True)
        .drop("_rank")
        .with_columns((pl.col("met") + pl.col("breached")).alias("_decided"))
        .with_columns(ratio_expr("met", "_decided").alias("attainment"))
        .drop("_decided")
    )
    overall = table.filter(pl.col("target") == "both")
    met, breached = int(overall["met"].sum()), int(overall["breached"].sum())
    return Kpi(
        name="SLA attainment",
        definition=(
            f"Cases opened in the period that met both targets of SLA policy {policy.name!r} "
            "÷ cases that met both or breached either, judged at the end of the period "
            f"{_calendar_text(calendar)}."
        ),
        unit=RATIO,
        value=ratio(met, met + breached),
        numerator=met,
        denominator=met + breached,
        period=period,
        table=table,
    )


def backlog(
    cases: pl.DataFrame,
    *,
    period: Period,
    every: str = "month",
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return the backlog: open cases at the end of each bucket of the period.

    A case is open at ``t`` when it was opened before ``t`` and neither
    resolved nor closed before ``t`` (the frame's latest ``resolved_at``).

    Returns:
        ``table`` has ``bucket_start, bucket_end``, the groups and
        ``open_cases``; ``value`` is the backlog at ``period.end``.

    Raises:
        PayloadError: If the frame lacks a column or has the wrong dtype.
        InvalidValueError: If ``every`` is not a bucket size.

    >>> import polars as pl, pendulum
    >>> t = pendulum.datetime(2026, 1, 10)
    >>> cases = pl.DataFrame({"id": ["k1", "k2"], "severity": ["low"] * 2,
    ...     "opened_at": [t, t.add(months=1)], "first_response_at": [None, None],
    ...     "resolved_at": [t.add(days=60), None], "closed_at": [None, None]},
    ...     schema_overrides={c: pl.Datetime("us", "UTC") for c in
    ...                       ("first_response_at", "resolved_at", "closed_at")})
    >>> first_quarter = Period(pendulum.datetime(2026, 1, 1), pendulum.datetime(2026, 4, 1))
    >>> k = backlog(cases, period=first_quarter)
    >>> k.table["open_cases"].to_list()
    [1, 2, 1]
    """
    columns = _by(by)
    frame = _cases(cases, columns).unique("id")
    buckets = period.buckets(every)
    edges = pl.DataFrame(
        {
            "bucket_start": [instant(b.start) for b in buckets],
            "bucket_end": [instant(b.end) for b in buckets],
        },
        schema={"bucket_start": pl.Datetime("us", "UTC"), "bucket_end": pl.Datetime("us", "UTC")},
    )
    t = pl.col("bucket_end")
    open_at = (
        (pl.col("opened_at") < t)
        & (pl.col("resolved_at").is_null() | (pl.col("resolved_at") >= t))
        & (pl.col("closed_at").is_null() | (pl.col("closed_at") >= t))
    )
    pairs = frame.select("opened_at", "resolved_at", "closed_at", *columns).join(edges, how="cross")
    counts = (
        pairs.filter(open_at)
        .group_by("bucket_start", *columns)
        .agg(pl.len().cast(pl.Int64).alias("open_cases"))
    )
    grid = edges
    if columns:
        grid = edges.join(frame.select(columns).unique(), how="cross")
    table = (
        grid.join(counts, on=["bucket_start", *columns], how="left", nulls_equal=True)
        .with_columns(pl.col("open_cases").fill_null(0))
        .sort("bucket_start", *columns, nulls_last=True)
    )
    last = int(table.filter(pl.col("bucket_end") == instant(period.end))["open_cases"].sum())
    return Kpi(
        name="backlog",
        definition=(
            "Cases opened before the end of each bucket and neither resolved nor closed by it."
        ),
        unit=COUNT,
        value=last,
        period=period,
        table=table,
    )


def reopen_rate(
    stage_changes: pl.DataFrame,
    *,
    period: Period,
    workflow: Workflow[Any, Any] = CASE_WORKFLOW,
    done_stages: Sequence[str] = (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value),
) -> Kpi:
    """Return the reopen rate: resolved cases reopened ÷ cases resolved in the period.

    A case was resolved in the period when it moved into one of
    ``done_stages`` in it; it was reopened when, after that, it moved from a
    done stage back to another stage before ``period.end``.

    Raises:
        PayloadError: If the frame lacks a column or has the wrong dtype.

    >>> import polars as pl, pendulum
    >>> t = pendulum.datetime(2026, 3, 2)
    >>> changes = pl.DataFrame({"entity": ["case"] * 3, "workflow": ["case"] * 3,
    ...     "entity_id": ["k1", "k1", "k2"],
    ...     "from_stage": ["in_progress", "resolved", "in_progress"],
    ...     "to_stage": ["resolved", "in_progress", "resolved"],
    ...     "at": [t, t.add(days=1), t]})
    >>> str(reopen_rate(changes, period=Period.month(2026, 3)))
    'reopen rate: 0.5 (ratio 0–1; 1 / 2)'
    """
    done = list(done_stages)
    moves = (
        require(stage_changes, "stage_changes", _CHANGES)
        .filter(
            (pl.col("entity") == workflow.entity)
            & (pl.col("workflow") == workflow.name)
            & (pl.col("at") < instant(period.end))
        )
        .select("entity_id", "from_stage", "to_stage", "at")
    )
    resolved = (
        moves.filter(pl.col("to_stage").is_in(done) & _in(period, "at"))
        .group_by("entity_id")
        .agg(pl.col("at").min().alias("_resolved"))
    )
    reopened = (
        moves.filter(pl.col("from_stage").is_in(done) & ~pl.col("to_stage").is_in(done))
        .join(resolved, on="entity_id", how="inner")
        .filter(pl.col("at") > pl.col("_resolved"))
        .select("entity_id")
        .unique()
    )
    n, k = resolved.height, reopened.height
    return Kpi(
        name="reopen rate",
        definition=(
            "Cases resolved in the period that later moved out of a done stage "
            f"({', '.join(done)}) before its end ÷ cases resolved in the period."
        ),
        unit=RATIO,
        value=ratio(k, n),
        numerator=k,
        denominator=n,
        period=period,
    )


def _answers(responses: object, column: str, period: Period, low: int, high: int) -> pl.DataFrame:
    frame = require(responses, "survey_responses", {**_RESPONSES, column: "int"})
    check_range(frame, "survey_responses", column, low, high)
    return frame.filter(_in(period, "responded_at") & pl.col(column).is_not_null())


def _z(confidence: float) -> float:
    if not isinstance(confidence, float | int) or not 0.0 < float(confidence) < 1.0:
        raise InvalidValueError("confidence", confidence, "a probability between 0 and 1")
    return NormalDist().inv_cdf(0.5 + float(confidence) / 2.0)


def net_promoter_score(responses: pl.DataFrame, *, period: Period, confidence: float = 0.95) -> Kpi:
    """Return the net promoter score (净推荐值, NPS) with a confidence interval.

    Of the ``nps`` answers (0–10) given in the period, promoters score 9–10
    and detractors 0–6: NPS = 100 × (promoters − detractors) ÷ answers, in
    percentage points from −100 to 100. The interval is the normal
    approximation for the difference of two proportions of one trinomial
    sample: with ``p`` and ``d`` the shares of promoters and detractors, the
    variance of ``p - d`` is ``(p + d - (p - d)²) / n``; the bounds are
    ``100 × (p - d ± z·√variance)``, clipped to [−100, 100].

    Returns:
        ``value`` in :data:`~crmcore.analytics.kpi.NPS_POINTS` (``None`` with no
        answer), ``interval``, and ``table`` with the promoter, passive and
        detractor counts.

    Raises:
        PayloadError: If the frame lacks a column, or a score is outside 0–10.
        InvalidValueError: If ``confidence`` is not in (0, 1).

    >>> import polars as pl, pendulum
    >>> answers = pl.DataFrame({"nps": [10, 9, 8, 3], "csat": [None] * 4, "ces": [None] * 4,
    ...     "responded_at": [pendulum.datetime(2026, 3, 9)] * 4},
    ...     schema_overrides={"csat": pl.Int64, "ces": pl.Int64})
    >>> k = net_promoter_score(answers, period=Period.month(2026, 3))
    >>> # p = 2/4, d = 1/4: variance (0.75 - 0.0625) / 4, z·√variance = 1.96 × 0.4146 = 0.8126
    >>> k.value, [round(b, 1) for b in k.interval]
    (25.0, [-56.3, 100.0])
    """
    z = _z(confidence)
    scores = _answers(responses, "nps", period, 0, 10)
    counts = scores.select(
        (pl.col("nps") >= 9).sum().cast(pl.Int64).alias("promoters"),
        pl.col("nps").is_between(7, 8).sum().cast(pl.Int64).alias("passives"),
        (pl.col("nps") <= 6).sum().cast(pl.Int64).alias("detractors"),
        pl.len().cast(pl.Int64).alias("answers"),
    )
    promoters, _, detractors, n = counts.row(0)
    value: float | None = None
    interval: tuple[float, float] | None = None
    if n:
        p, d = promoters / n, detractors / n
        spread = z * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
        value = 100.0 * (p - d)
        interval = (max(-100.0, 100.0 * (p - d - spread)), min(100.0, 100.0 * (p - d + spread)))
    return Kpi(
        name="net promoter score",
        definition=(
            "100 × (answers of 9–10 − answers of 0–6) ÷ answers, of NPS answers given in the "
            "period."
        ),
        unit=NPS_POINTS,
        value=value,
        numerator=promoters - detractors,
        denominator=n,
        period=period,
        interval=interval,
        method=(
            f"{confidence:.0%} normal-approximation interval; variance of the trinomial "
            "difference (p + d − (p − d)²) / n; bounds clipped to ±100."
        ),
        table=counts,
    )


def customer_satisfaction(responses: pl.DataFrame, *, period: Period) -> Kpi:
    """Return CSAT: answers of 4 or 5 ÷ answers, of 1–5 CSAT answers given in the period.

    Raises:
        PayloadError: If the frame lacks a column, or a score is outside 1–5.

    >>> import polars as pl, pendulum
    >>> answers = pl.DataFrame({"csat": [5, 4, 2, None], "nps": [None] * 4, "ces": [None] * 4,
    ...     "responded_at": [pendulum.datetime(2026, 3, 9)] * 4},
    ...     schema_overrides={"nps": pl.Int64, "ces": pl.Int64})
    >>> str(customer_satisfaction(answers, period=Period.month(2026, 3)))
    'CSAT: 0.6666666666666666 (ratio 0–1; 2 / 3)'
    """
    scores = _answers(responses, "csat", period, 1, 5)
    satisfied = int(scores.filter(pl.col("csat") >= 4).height)
    return Kpi(
        name="CSAT",
        definition="CSAT answers of 4 or 5 (of 5) ÷ CSAT answers given in the period.",
        unit=RATIO,
        value=ratio(satisfied, scores.height),
        numerator=satisfied,
        denominator=scores.height,
        period=period,
    )


def customer_effort_score(
    responses: pl.DataFrame, *, period: Period, confidence: float = 0.95
) -> Kpi:
    """Return CES: the mean of 1–7 effort answers given in the period, with an interval.

    Method: the arithmetic mean of the answers (7 = least effort, as asked);
    the interval is mean ± z·s/√n with the sample standard deviation ``s``
    (normal approximation; none with fewer than two answers).

    Raises:
        PayloadError: If the frame lacks a column, or a score is outside 1–7.
        InvalidValueError: If ``confidence`` is not in (0, 1).

    >>> import polars as pl, pendulum
    >>> answers = pl.DataFrame({"ces": [7, 5, 6], "nps": [None] * 3, "csat": [None] * 3,
    ...     "responded_at": [pendulum.datetime(2026, 3, 9)] * 3},
    ...     schema_overrides={"nps": pl.Int64, "csat": pl.Int64})
    >>> k = customer_effort_score(answers, period=Period.month(2026, 3))
    >>> k.value, [round(b, 2) for b in k.interval]
    (6.0, [4.87, 7.0])
    """
    z = _z(confidence)
    scores = _answers(responses, "ces", period, 1, 7)
    n = scores.height
    total = int(scores["ces"].sum()) if n else 0
    mean = ratio(total, n)
    interval: tuple[float, float] | None = None
    if mean is not None and n >= 2:
        deviation = scores.select(pl.col("ces").cast(pl.Float64).std(ddof=1)).item()
        spread = z * float(deviation or 0.0) / math.sqrt(n)
        interval = (max(1.0, mean - spread), min(7.0, mean + spread))
    return Kpi(
        name="CES",
        definition="Mean of the 1–7 customer effort answers given in the period.",
        unit="score 1–7",
        value=mean,
        numerator=total,
        denominator=n,
        period=period,
        interval=interval,
        method=(
            f"arithmetic mean; {confidence:.0%} interval mean ± z·s/√n (sample standard "
            "deviation, normal approximation), clipped to 1–7."
        ),
    )
