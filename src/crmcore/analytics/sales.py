"""Sales KPIs: funnels and time in stage from stage changes; win rate, velocity, pipeline, forecast.

Funnels and stage durations read the ``stage_changes`` frame (the flattened
``StageChanged`` events); the rest read the ``opportunities`` frame. Which
stages are won, lost or open, their win probabilities and forecast
categories come from the workflow (default
:data:`~crmcore.lifecycle.OPPORTUNITY_WORKFLOW`): a stage whose forecast is
``closed`` is won, one whose forecast is ``omitted`` is lost, every other
stage is open. Money is summed per currency, never converted.

May import: ``crmcore.domain``, ``crmcore.lifecycle``, ``crmcore.errors``,
``crmcore.clock``; attrs, pendulum, polars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

import pendulum
import polars as pl

from crmcore.analytics._calendar import business_hours
from crmcore.analytics._frame import (
    Kind,
    decimal,
    group_columns,
    instant,
    ratio,
    ratio_expr,
    require,
)
from crmcore.analytics.kpi import DAYS, HOURS, MONEY, MONEY_PER_DAY, RATIO, Kpi, Period
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.business_calendar import BusinessCalendar
from crmcore.lifecycle.lead import LEAD_WORKFLOW
from crmcore.lifecycle.opportunity import OPPORTUNITY_WORKFLOW
from crmcore.lifecycle.workflow import ForecastCategory, Workflow

__all__ = [
    "FORECAST_CATEGORIES",
    "FUNNEL_STAGES",
    "STAGE_PROBABILITIES",
    "sales_forecast",
    "sales_velocity",
    "stage_durations",
    "stage_funnel",
    "weighted_pipeline",
    "win_rate",
]

AnyWorkflow = Workflow[Any, Any]

FUNNEL_STAGES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        LEAD_WORKFLOW.name: ("new", "contacted", "qualified", "converted"),
        OPPORTUNITY_WORKFLOW.name: (
            "lead",
            "first_contact",
            "needs_analysis",
            "proposal",
            "negotiation",
            "won",
        ),
    }
)
"""The ordered funnel stages of the shipped workflows (lost and disqualified are not steps)."""


def _probabilities(workflow: AnyWorkflow) -> dict[str, Decimal]:
    return {str(s.name): s.probability for s in workflow.states if s.probability is not None}


def _categories(workflow: AnyWorkflow) -> dict[str, ForecastCategory]:
    return {
        str(s.name): s.forecast if s.forecast is not None else ForecastCategory.PIPELINE
        for s in workflow.states
    }


STAGE_PROBABILITIES: Final[Mapping[str, Decimal]] = MappingProxyType(
    _probabilities(OPPORTUNITY_WORKFLOW)
)
"""Win probability per opportunity stage, from :data:`~crmcore.lifecycle.OPPORTUNITY_WORKFLOW`.

lead 0.10, first_contact 0.20, needs_analysis 0.40, proposal 0.60,
negotiation 0.80, won 1, lost 0, after_sales 1.
"""

FORECAST_CATEGORIES: Final[Mapping[str, ForecastCategory]] = MappingProxyType(
    _categories(OPPORTUNITY_WORKFLOW)
)
"""Forecast category per opportunity stage, from the workflow.

lead, first_contact, needs_analysis: pipeline; proposal: best case;
negotiation: commit; won, after_sales: closed; lost: omitted.
"""

_CHANGES: Final[dict[str, Kind]] = {
    "entity": "string",
    "entity_id": "string",
    "workflow": "string",
    "from_stage": "string",
    "to_stage": "string",
    "at": "datetime",
}
_OPPORTUNITIES: Final[dict[str, Kind]] = {
    "id": "string",
    "stage": "string",
    "amount": "decimal",
    "currency": "string",
    "closed_at": "datetime",
    "created_at": "datetime",
}
_CENT: Final = Decimal("0.01")


def _moves(stage_changes: object, workflow: AnyWorkflow, before: Any) -> pl.DataFrame:
    return (
        require(stage_changes, "stage_changes", _CHANGES)
        .filter(
            (pl.col("entity") == workflow.entity)
            & (pl.col("workflow") == workflow.name)
            & (pl.col("at") < before)
        )
        .select("entity_id", "from_stage", "to_stage", "at")
    )


def _won_lost(workflow: AnyWorkflow) -> tuple[list[str], list[str]]:
    categories = _categories(workflow)
    won = [s for s, c in categories.items() if c is ForecastCategory.CLOSED]
    lost = [s for s, c in categories.items() if c is ForecastCategory.OMITTED]
    return won, lost


def _in(period: Period, column: str) -> pl.Expr:
    return (pl.col(column) >= instant(period.start)) & (pl.col(column) < instant(period.end))


def _by(by: str | Sequence[str] | None) -> list[str]:
    return [by] if isinstance(by, str) else list(by or ())


def _opportunities(
    frame: object, columns: Sequence[str], extra: Mapping[str, Kind]
) -> pl.DataFrame:
    checked = require(frame, "opportunities", {**_OPPORTUNITIES, **extra})
    group_columns(list(columns), checked, "opportunities")
    return checked


def stage_funnel(
    stage_changes: pl.DataFrame,
    *,
    period: Period,
    workflow: AnyWorkflow = OPPORTUNITY_WORKFLOW,
    stages: Sequence[str] | None = None,
    records: pl.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return the stage-to-stage conversion and drop-off of a workflow's funnel.

    The cohort is the records that entered the funnel in the period: those
    whose first stage change falls in it or, when ``records`` (the leads or
    opportunities frame, with ``id`` and ``created_at``) is given, those
    created in it (records that never moved then count in their initial
    stage). Moves up to ``period.end`` are read. A record *reached* step ``k``
    when it was ever in step ``k`` or a later step (a skipped step counts as
    passed), so every conversion is at most 1.

    Args:
        stage_changes: The stage changes.
        period: The period the cohort entered in.
        workflow: The workflow (default opportunities; ``LEAD_WORKFLOW`` for leads).
        stages: The funnel's steps in order (default :data:`FUNNEL_STAGES` for the
            shipped workflows, else every state of the workflow).
        records: The records frame, to define the cohort by creation and for ``by``.
        by: Columns of ``records`` to break the funnel down by (``"owner"``).

    Returns:
        ``table`` has the groups, ``step, stage, reached, conversion`` (from the
        previous step), ``drop_off`` (``1 - conversion``) and ``from_start``;
        ``value`` is the whole funnel's conversion (last step ÷ first step).

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.
        InvalidValueError: If ``by`` is given without ``records``, or ``stages`` is empty.

    >>> import polars as pl, pendulum
    >>> t = pendulum.datetime(2026, 3, 2)
    >>> changes = pl.DataFrame({"entity": ["lead"] * 4, "workflow": ["lead"] * 4,
    ...     "entity_id": ["l1", "l1", "l2", "l3"],
    ...     "from_stage": ["new", "contacted", "new", "new"],
    ...     "to_stage": ["contacted", "qualified", "contacted", "disqualified"],
    ...     "at": [t, t.add(days=1), t, t]})
    >>> from crmcore.lifecycle import LEAD_WORKFLOW
    >>> k = stage_funnel(changes, period=Period.month(2026, 3), workflow=LEAD_WORKFLOW)
    >>> k.table.select("stage", "reached", "conversion").rows()  # 3 new, 2 contacted, 1 qualified
    [('new', 3, None), ('contacted', 2, 0.666...), ('qualified', 1, 0.5), ('converted', 0, 0.0)]
    """
    steps = list(stages) if stages is not None else list(FUNNEL_STAGES.get(workflow.name, ()))
    if stages is not None and not steps:
        raise InvalidValueError("stages", stages, "at least one stage")
    if not steps:
        steps = [str(s.name) for s in workflow.states]
    columns = _by(by)
    if columns and records is None:
        raise InvalidValueError("records", None, "by= needs the records frame")
    end = instant(period.end)
    moves = _moves(stage_changes, workflow, end)
    first = (
        moves.sort("at", maintain_order=True)
        .group_by("entity_id")
        .agg(pl.col("at").first().alias("_first_at"), pl.col("from_stage").first().alias("_entry"))
    )
    if records is not None:
        checked = require(records, "records", {"id": "string", "created_at": "datetime"})
        group_columns(columns, checked, "records")
        cohort = (
            checked.filter(_in(period, "created_at"))
            .select(pl.col("id").alias("entity_id"), *columns)
            .join(first, on="entity_id", how="left")
            .with_columns(pl.col("_entry").fill_null(str(workflow.initial.name)))
        )
    else:
        cohort = first.filter(_in(period, "_first_at"))
    rank = pl.DataFrame(
        {"_stage": steps, "_rank": list(range(len(steps)))},
        schema={"_stage": pl.String, "_rank": pl.Int64},
    )
    visited = pl.concat(
        [
            cohort.select("entity_id", pl.col("_entry").alias("_stage")),
            moves.join(cohort.select("entity_id"), on="entity_id", how="semi").select(
                "entity_id", pl.col("to_stage").alias("_stage")
            ),
        ]
    )
    furthest = (
        visited.join(rank, on="_stage", how="inner")
        .group_by("entity_id")
        .agg(pl.col("_rank").max())
        .join(cohort.select("entity_id", *columns), on="entity_id", how="inner")
    )
    grid = rank.rename({"_stage": "stage", "_rank": "step"})
    if columns:
        grid = furthest.select(columns).unique().join(grid, how="cross")
    pairs = (
        grid.join(furthest, on=columns, how="inner")
        if columns
        else grid.join(furthest, how="cross")
    )
    counts = (
        pairs.filter(pl.col("_rank") >= pl.col("step"))
        .group_by(*columns, "step")
        .agg(pl.len().cast(pl.Int64).alias("reached"))
    )
    order = [*columns, "step"]
    table = (
        grid.join(counts, on=order, how="left")
        .with_columns(pl.col("reached").fill_null(0))
        .sort(order, nulls_last=True)
    )
    previous = pl.col("reached").shift(1)
    head = pl.col("reached").first()
    if columns:
        previous = previous.over(columns, order_by="step")
        head = head.over(columns, order_by="step")
    table = (
        table.with_columns(previous.alias("_prev"), head.alias("_head"))
        .with_columns(
            ratio_expr("reached", "_prev").alias("conversion"),
            ratio_expr("reached", "_head").alias("from_start"),
        )
        .with_columns((1.0 - pl.col("conversion")).alias("drop_off"))
        .select(*order, "stage", "reached", "conversion", "drop_off", "from_start")
    )
    totals = table.group_by("step").agg(pl.col("reached").sum()).sort("step")
    reached = totals["reached"].to_list()
    top = int(reached[0]) if reached else 0
    bottom = int(reached[-1]) if reached else 0
    return Kpi(
        name=f"{workflow.name} funnel",
        definition=(
            f"Records of the {workflow.name!r} workflow entering the funnel in the period, by the "
            "furthest step they reached (a later step counts every earlier one as passed); "
            "conversion is reached ÷ reached at the previous step."
        ),
        unit=RATIO,
        value=ratio(bottom, top),
        numerator=bottom,
        denominator=top,
        period=period,
        table=table,
    )


def stage_durations(
    stage_changes: pl.DataFrame,
    *,
    period: Period,
    workflow: AnyWorkflow = OPPORTUNITY_WORKFLOW,
    records: pl.DataFrame | None = None,
    calendar: BusinessCalendar | None = None,
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return how long records stayed in each stage (time in stage), from consecutive moves.

    A stay begins with the move into a stage and ends with the next move of
    the same record; with ``records`` (``id``, ``created_at``), the stay in the
    first stage begins at creation. Stays that ended in the period are
    measured; a record still in a stage is not.

    Args:
        stage_changes: The stage changes.
        period: The period the stays ended in.
        workflow: The workflow (default opportunities).
        records: The records frame, to measure the first stage from creation.
        calendar: Count business hours of this calendar (default: wall-clock days).
        by: Columns of ``records`` to break the durations down by (``"owner"``).

    Returns:
        A tabular KPI: ``table`` has ``stage, stays, mean, median, p90``
        (in :data:`~crmcore.analytics.kpi.DAYS`, or business
        :data:`~crmcore.analytics.kpi.HOURS` with a calendar), in workflow order
        (per group first, with ``by``); ``value`` is the mean over every stay
        (``None`` when there is none).

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.
        InvalidValueError: If ``by`` is given without ``records``.

    >>> import polars as pl, pendulum
    >>> t = pendulum.datetime(2026, 3, 2)
    >>> changes = pl.DataFrame({"entity": ["opportunity"] * 3, "workflow": ["opportunity"] * 3,
    ...     "entity_id": ["o1", "o1", "o1"],
    ...     "from_stage": ["lead", "first_contact", "needs_analysis"],
    ...     "to_stage": ["first_contact", "needs_analysis", "proposal"],
    ...     "at": [t, t.add(days=2), t.add(days=6)]})
    >>> stage_durations(changes, period=Period.month(2026, 3)).table.select("stage", "mean").rows()
    [('first_contact', 2.0), ('needs_analysis', 4.0)]
    """
    columns = _by(by)
    if columns and records is None:
        raise InvalidValueError("records", None, "by= needs the records frame")
    moves = _moves(stage_changes, workflow, instant(period.end)).sort(
        "entity_id", "at", maintain_order=True
    )
    stays = moves.select(
        "entity_id",
        pl.col("to_stage").alias("stage"),
        pl.col("at").alias("_in"),
        pl.col("at").shift(-1).over("entity_id").alias("_out"),
    )
    if records is not None:
        checked = require(records, "records", {"id": "string", "created_at": "datetime"})
        firsts = (
            moves.group_by("entity_id")
            .agg(pl.col("from_stage").first().alias("stage"), pl.col("at").first().alias("_out"))
            .join(
                checked.select(pl.col("id").alias("entity_id"), pl.col("created_at").alias("_in")),
                on="entity_id",
                how="inner",
            )
            .select("entity_id", "stage", "_in", "_out")
        )
        stays = pl.concat([firsts, stays])
    stays = stays.filter(pl.col("_out").is_not_null() & _in(period, "_out")).with_row_index("_key")
    if columns and records is not None:
        groups = require(records, "records", {"id": "string"})
        group_columns(columns, groups, "records")
        stays = stays.join(
            groups.select(pl.col("id").alias("entity_id"), *columns), on="entity_id", how="left"
        )
    if calendar is None:
        unit = DAYS
        length = (pl.col("_out") - pl.col("_in")).dt.total_microseconds() / 86_400_000_000
        stays = stays.with_columns(length.alias("_d"))
    else:
        unit = HOURS
        stays = stays.with_columns(
            business_hours(stays, key="_key", start="_in", end="_out", calendar=calendar).alias(
                "_d"
            )
        )
    order = pl.DataFrame(
        {"stage": [str(s.name) for s in workflow.states], "_rank": range(len(workflow.states))},
        schema={"stage": pl.String, "_rank": pl.Int64},
    )
    table = (
        stays.group_by(*columns, "stage")
        .agg(
            pl.len().cast(pl.Int64).alias("stays"),
            pl.col("_d").mean().alias("mean"),
            pl.col("_d").median().alias("median"),
            pl.col("_d").quantile(0.9, interpolation="linear").alias("p90"),
        )
        .join(order, on="stage", how="left")
        .sort(*columns, "_rank", "stage", nulls_last=True)
        .drop("_rank")
    )
    total = float(stays["_d"].sum()) if stays.height else 0.0
    return Kpi(
        name="time in stage",
        definition=(
            "For stays that ended in the period, the time from entering a stage to the next "
            "move of the same record"
            + (f", in business hours of calendar {calendar.name!r}." if calendar else ", in days.")
        ),
        unit=unit,
        value=ratio(total, stays.height),
        numerator=total,
        denominator=stays.height,
        period=period,
        table=table,
    )


def win_rate(
    opportunities: pl.DataFrame,
    *,
    period: Period,
    workflow: AnyWorkflow = OPPORTUNITY_WORKFLOW,
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return the win rate (赢单率): won ÷ closed, of opportunities closed in the period.

    Closed means ``closed_at`` in the period and a won or lost stage (see the
    module docstring); a reopened opportunity has no ``closed_at`` and is not
    counted.

    Raises:
        PayloadError: If the frame lacks a column or has the wrong dtype.

    >>> import polars as pl, pendulum
    >>> from decimal import Decimal
    >>> t = pendulum.datetime(2026, 3, 5)
    >>> opps = pl.DataFrame({"id": ["o1", "o2", "o3", "o4"],
    ...     "stage": ["won", "lost", "after_sales", "proposal"],
    ...     "amount": [Decimal(1)] * 4, "currency": ["CNY"] * 4,
    ...     "closed_at": [t, t, t, None], "created_at": [t.subtract(days=9)] * 4},
    ...     schema_overrides={"amount": pl.Decimal(38, 6)})
    >>> str(win_rate(opps, period=Period.month(2026, 3)))
    'win rate: 0.6666666666666666 (ratio 0–1; 2 / 3)'
    """
    columns = _by(by)
    opps = _opportunities(opportunities, columns, {})
    won, lost = _won_lost(workflow)
    closed = opps.filter(_in(period, "closed_at") & pl.col("stage").is_in(won + lost))
    counts = [
        pl.col("stage").is_in(won).sum().cast(pl.Int64).alias("won"),
        pl.len().cast(pl.Int64).alias("closed"),
    ]
    table = (
        closed.group_by(columns).agg(counts).sort(columns, nulls_last=True)
        if columns
        else closed.select(counts)
    )
    n_won, n_closed = int(table["won"].sum()), int(table["closed"].sum())
    return Kpi(
        name="win rate",
        definition="Opportunities won ÷ opportunities closed (won or lost) in the period.",
        unit=RATIO,
        value=ratio(n_won, n_closed),
        numerator=n_won,
        denominator=n_closed,
        period=period,
        table=table.with_columns(ratio_expr("won", "closed").alias("win_rate")),
    )


def sales_velocity(
    opportunities: pl.DataFrame,
    *,
    period: Period,
    workflow: AnyWorkflow = OPPORTUNITY_WORKFLOW,
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return the sales velocity: (opportunities × win rate × average deal) ÷ cycle length.

    Per currency (and group): *opportunities* are those created in the
    period; *win rate* is won ÷ closed in the period; *average deal* the mean
    amount of those won; *cycle length* the mean days from creation to close
    of those won. The velocity is money per day; it is undefined (null) when
    nothing was won in the period or the cycle length is zero.

    Returns:
        ``table`` has the groups, ``currency, opportunities, won, closed,
        win_rate, average_deal, cycle_days, velocity`` (velocity and average
        deal rounded half-even to 0.01); ``value`` is the velocity when there is
        one currency and no ``by``.

    Raises:
        PayloadError: If the frame lacks a column or has the wrong dtype.

    >>> import polars as pl, pendulum
    >>> from decimal import Decimal
    >>> t = pendulum.datetime(2026, 3, 1)
    >>> opps = pl.DataFrame({"id": ["o1", "o2", "o3", "o4"],
    ...     "stage": ["won", "lost", "lead", "lead"],
    ...     "amount": [Decimal(1000), Decimal(500), Decimal(0), Decimal(0)],
    ...     "currency": ["CNY"] * 4, "closed_at": [t.add(days=10), t.add(days=3), None, None],
    ...     "created_at": [t] * 4}, schema_overrides={"amount": pl.Decimal(38, 6)})
    >>> str(sales_velocity(opps, period=Period.month(2026, 3)))
    'sales velocity: 200.00 CNY (money per day)'
    """
    columns = _by(by)
    opps = _opportunities(opportunities, columns, {})
    won, lost = _won_lost(workflow)
    keys = [*columns, "currency"]
    created = (
        opps.filter(_in(period, "created_at"))
        .group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("opportunities"))
    )
    closed = opps.filter(_in(period, "closed_at") & pl.col("stage").is_in(won + lost))
    is_won = pl.col("stage").is_in(won)
    cycle = (pl.col("closed_at") - pl.col("created_at")).dt.total_microseconds() / 86_400_000_000
    outcome = closed.group_by(keys).agg(
        is_won.sum().cast(pl.Int64).alias("won"),
        pl.len().cast(pl.Int64).alias("closed"),
        pl.col("amount").filter(is_won).sum().alias("_won_amount"),
        cycle.filter(is_won).mean().alias("cycle_days"),
    )
    table = (
        created.join(outcome, on=keys, how="full", coalesce=True)
        .with_columns(
            pl.col("opportunities").fill_null(0),
            pl.col("won").fill_null(0),
            pl.col("closed").fill_null(0),
        )
        .with_columns(ratio_expr("won", "closed").alias("win_rate"))
        .sort(keys, nulls_last=True)
    )
    averages: list[Decimal | None] = []
    velocities: list[Decimal | None] = []
    for n, n_won, n_closed, amount, days in table.select(
        "opportunities", "won", "closed", "_won_amount", "cycle_days"
    ).iter_rows():
        if not n_won or not days:
            averages.append((decimal(amount) / n_won).quantize(_CENT) if n_won else None)
            velocities.append(None)
            continue
        average = decimal(amount) / n_won
        averages.append(average.quantize(_CENT))
        rate = Decimal(n_won) / Decimal(n_closed)
        velocities.append((Decimal(n) * rate * average / Decimal(repr(days))).quantize(_CENT))
    table = table.drop("_won_amount").with_columns(
        pl.Series("average_deal", averages, dtype=pl.Decimal(38, 2)),
        pl.Series("velocity", velocities, dtype=pl.Decimal(38, 2)),
    )
    single = table.height == 1 and not columns
    return Kpi(
        name="sales velocity",
        definition=(
            "(Opportunities created in the period × win rate of those closed in it × average "
            "won amount) ÷ average days from creation to win, per currency."
        ),
        unit=MONEY_PER_DAY,
        value=velocities[0] if single else None,
        period=period,
        currency=str(table["currency"][0]) if single else None,
        table=table,
    )


def _probability_table(
    workflow: AnyWorkflow, probabilities: Mapping[str, Decimal | str | int] | None
) -> pl.DataFrame:
    merged: dict[str, Decimal] = dict(_probabilities(workflow))
    for stage, given in (probabilities or {}).items():
        try:
            value = Decimal(str(given))
        except ArithmeticError as exc:
            raise InvalidValueError(f"probabilities[{stage!r}]", given, "not a number") from exc
        if not Decimal(0) <= value <= Decimal(1):
            raise InvalidValueError(f"probabilities[{stage!r}]", given, "between 0 and 1")
        merged[str(stage)] = value
    return pl.DataFrame(
        {"stage": list(merged), "probability": list(merged.values())},
        schema={"stage": pl.String, "probability": pl.Decimal(38, 6)},
    )


def _money_table(table: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    return table.with_columns(
        pl.Series(
            c,
            [decimal(v).quantize(_CENT) for v in table[c].to_list()],
            dtype=pl.Decimal(38, 2),
        )
        for c in columns
    )


def weighted_pipeline(
    opportunities: pl.DataFrame,
    *,
    at: pendulum.DateTime,
    workflow: AnyWorkflow = OPPORTUNITY_WORKFLOW,
    probabilities: Mapping[str, Decimal | str | int] | None = None,
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return the weighted pipeline: Σ amount × win probability of the stage, of open deals.

    Open opportunities are those created before ``at`` in an open stage (the
    frame is read as the snapshot at ``at``). Probabilities default to
    :data:`STAGE_PROBABILITIES` (the workflow's); ``probabilities`` overrides
    some or all of them.

    Returns:
        ``table`` has the groups, ``currency, opportunities, amount, weighted``
        (rounded half-even to 0.01); ``value`` is the weighted total when the open
        opportunities are all in one currency (``None`` when there are none, or
        several currencies).

    Raises:
        PayloadError: If the frame lacks a column or has the wrong dtype.
        InvalidValueError: If a probability is not in ``[0, 1]``, or an open
            stage has no probability.

    >>> import polars as pl, pendulum
    >>> from decimal import Decimal
    >>> opps = pl.DataFrame({"id": ["o1", "o2", "o3"], "stage": ["proposal", "lead", "won"],
    ...     "amount": [Decimal(1000), Decimal(500), Decimal(9000)], "currency": ["CNY"] * 3,
    ...     "closed_at": [None, None, pendulum.datetime(2026, 2, 1)],
    ...     "created_at": [pendulum.datetime(2026, 1, 1)] * 3},
    ...     schema_overrides={"amount": pl.Decimal(38, 6)})
    >>> str(weighted_pipeline(opps, at=pendulum.datetime(2026, 3, 1)))
    'weighted pipeline: 650.00 CNY (money)'
    """
    columns = _by(by)
    opps = _opportunities(opportunities, columns, {})
    won, lost = _won_lost(workflow)
    table_p = _probability_table(workflow, probabilities)
    open_ = opps.filter(
        (pl.col("created_at") < instant(at)) & ~pl.col("stage").is_in(won + lost)
    ).join(table_p, on="stage", how="left")
    missing = open_.filter(pl.col("probability").is_null())["stage"].unique().sort().to_list()
    if missing:
        raise InvalidValueError("probabilities", missing, "no win probability for these stages")
    keys = [*columns, "currency"]
    table = (
        open_.group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias("opportunities"),
            pl.col("amount").sum().alias("amount"),
            (pl.col("amount") * pl.col("probability")).sum().alias("weighted"),
        )
        .sort(keys, nulls_last=True)
    )
    table = _money_table(table, ["amount", "weighted"])
    currencies = set(table["currency"].to_list())
    single = len(currencies) == 1
    total = sum((decimal(v) for v in table["weighted"].to_list()), Decimal(0))
    return Kpi(
        name="weighted pipeline",
        definition=(
            "Sum over open opportunities of amount × the win probability of their stage, per "
            "currency."
        ),
        unit=MONEY,
        value=total if single else None,
        at=pendulum.instance(instant(at)),
        currency=next(iter(currencies)) if single else None,
        table=table,
    )


_CATEGORY_ORDER: Final = (
    ForecastCategory.CLOSED,
    ForecastCategory.COMMIT,
    ForecastCategory.BEST_CASE,
    ForecastCategory.PIPELINE,
)


def sales_forecast(
    opportunities: pl.DataFrame,
    *,
    period: Period,
    workflow: AnyWorkflow = OPPORTUNITY_WORKFLOW,
    categories: Mapping[str, ForecastCategory | str] | None = None,
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return the sales forecast of a period by category: closed won, commit, best case, pipeline.

    Won opportunities closed in the period are *closed*; open ones expected to
    close in the period (``expected_close`` on a UTC date in it) fall in their
    stage's category (:data:`FORECAST_CATEGORIES`, overridable with
    ``categories``); stages whose category is ``omitted`` are left out.
    ``cumulative`` adds each category to the ones above it: closed, + commit,
    + best case, + pipeline.

    Returns:
        ``table`` has the groups, ``currency, category, opportunities, amount,
        cumulative`` (Decimals); ``value`` is the cumulative *commit* forecast
        (closed + commit) when there is one currency and no ``by``.

    Raises:
        PayloadError: If the frame lacks a column or has the wrong dtype.
        InvalidValueError: If a category is not a forecast category.

    >>> import polars as pl, pendulum, datetime as dt
    >>> from decimal import Decimal
    >>> opps = pl.DataFrame({"id": ["o1", "o2", "o3", "o4"],
    ...     "stage": ["won", "negotiation", "proposal", "lead"],
    ...     "amount": [Decimal(100), Decimal(200), Decimal(400), Decimal(800)],
    ...     "currency": ["CNY"] * 4,
    ...     "closed_at": [pendulum.datetime(2026, 3, 3), None, None, None],
    ...     "expected_close": [None] + [dt.date(2026, 3, 20)] * 3,
    ...     "created_at": [pendulum.datetime(2026, 1, 1)] * 4},
    ...     schema_overrides={"amount": pl.Decimal(38, 6)})
    >>> k = sales_forecast(opps, period=Period.month(2026, 3))
    >>> [(c, str(a)) for c, a in k.table.select("category", "cumulative").iter_rows()]
    [('closed', '100.00'), ('commit', '300.00'), ('best_case', '700.00'), ('pipeline', '1500.00')]
    """
    columns = _by(by)
    opps = _opportunities(opportunities, columns, {"expected_close": "date"})
    mapping: dict[str, ForecastCategory] = dict(_categories(workflow))
    for stage, given in (categories or {}).items():
        try:
            mapping[str(stage)] = ForecastCategory(given)
        except ValueError as exc:
            raise InvalidValueError(
                f"categories[{stage!r}]", given, f"one of {', '.join(ForecastCategory)}"
            ) from exc
    category_frame = pl.DataFrame(
        {"stage": list(mapping), "category": [c.value for c in mapping.values()]},
        schema={"stage": pl.String, "category": pl.String},
    )
    closed_value = ForecastCategory.CLOSED.value
    first_day = period.start.date()
    last_day = period.end.date() if period.end.time() != pendulum.time(0) else None
    expected = pl.col("expected_close") >= first_day
    expected &= (
        pl.col("expected_close") <= last_day
        if last_day is not None
        else pl.col("expected_close") < period.end.date()
    )
    rows = opps.join(category_frame, on="stage", how="left").with_columns(
        pl.col("category").fill_null(ForecastCategory.PIPELINE.value)
    )
    counted = rows.filter(
        ((pl.col("category") == closed_value) & _in(period, "closed_at"))
        | (
            pl.col("category").is_in(
                [c.value for c in _CATEGORY_ORDER if c is not ForecastCategory.CLOSED]
            )
            & pl.col("closed_at").is_null()
            & expected
        )
    )
    keys = [*columns, "currency"]
    order = pl.DataFrame(
        {"category": [c.value for c in _CATEGORY_ORDER], "_rank": range(len(_CATEGORY_ORDER))},
        schema={"category": pl.String, "_rank": pl.Int64},
    )
    groups = counted.select(keys).unique()
    sums = counted.group_by(*keys, "category").agg(
        pl.len().cast(pl.Int64).alias("opportunities"), pl.col("amount").sum().alias("amount")
    )
    table = (
        groups.join(order, how="cross")
        .join(sums, on=[*keys, "category"], how="left")
        .with_columns(pl.col("opportunities").fill_null(0), pl.col("amount").fill_null(0))
        .sort(*keys, "_rank", nulls_last=True)
        .with_columns(pl.col("amount").cum_sum().over(keys, order_by="_rank").alias("cumulative"))
        .drop("_rank")
    )
    table = _money_table(table, ["amount", "cumulative"])
    single = not columns and table["currency"].n_unique() == 1
    commit = table.filter(pl.col("category") == ForecastCategory.COMMIT.value)
    return Kpi(
        name="sales forecast",
        definition=(
            "Won opportunities closed in the period, plus open ones expected to close in it, by "
            "the forecast category of their stage; value: closed + commit."
        ),
        unit=MONEY,
        value=decimal(commit["cumulative"][0]) if single and commit.height else None,
        period=period,
        currency=str(table["currency"][0]) if single else None,
        table=table,
    )
