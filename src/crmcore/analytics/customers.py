"""Customer KPIs: stage counts over time, churn, retention, cohorts, repeat purchases, CAC, CLV.

Every function takes polars frames with the columns of the frame contract
(:mod:`crmcore.adapters.frames`): ``customers``, ``orders`` and
``stage_changes``. Merged customers (``merged_into`` set) are left out
everywhere: they are duplicates of the customer they were merged into.
Only paid orders count as purchases (``status == "paid"``). Stage changes at the
same instant are taken in the frame's order (the event history's order).

"A customer at an instant ``t``" means: registered before ``t``
(``created_at < t``) and not lost at ``t``, where *lost* is one of

- :class:`EnteredStage` — the customer's lifecycle stage just before ``t``
  is the churned stage (``"churned"`` in
  :data:`~crmcore.lifecycle.CUSTOMER_WORKFLOW`), read from the stage changes
  (the last move before ``t``; before the first move, its ``from_stage``;
  with no move at all, the current ``lifecycle_stage``);
- :class:`NoPurchaseWithin` — no paid order in the ``days`` days before ``t``.

May import: ``crmcore.domain``, ``crmcore.lifecycle``, ``crmcore.errors``,
``crmcore.clock``; attrs, pendulum, polars.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final, Literal

import attrs
import pendulum
import polars as pl

from crmcore.analytics._frame import (
    Kind,
    decimal,
    group_columns,
    instant,
    ratio,
    ratio_expr,
    require,
)
from crmcore.analytics.kpi import COUNT, MONEY, RATIO, Kpi, Period
from crmcore.domain.customer import LifecycleStage
from crmcore.domain.order import OrderStatus
from crmcore.domain.values import Money
from crmcore.errors import InvalidValueError
from crmcore.lifecycle.customer import CUSTOMER_WORKFLOW

__all__ = [
    "EnteredStage",
    "NoPurchaseWithin",
    "churn_rate",
    "cohort_retention",
    "customer_acquisition_cost",
    "historical_clv",
    "repeat_purchase_rate",
    "retention_rate",
    "stage_counts",
]

PAID: Final = OrderStatus.PAID.value

_CUSTOMERS: Final[dict[str, Kind]] = {
    "id": "string",
    "created_at": "datetime",
    "lifecycle_stage": "string",
    "merged_into": "string",
}
_ORDERS: Final[dict[str, Kind]] = {
    "customer_id": "string",
    "amount": "decimal",
    "currency": "string",
    "status": "string",
    "ordered_at": "datetime",
}
_CHANGES: Final[dict[str, Kind]] = {
    "entity": "string",
    "entity_id": "string",
    "workflow": "string",
    "from_stage": "string",
    "to_stage": "string",
    "at": "datetime",
}


@attrs.frozen
class EnteredStage:
    """A customer is lost while in ``stage`` (default: churned, 流失).

    >>> EnteredStage()
    EnteredStage(stage='churned')
    """

    stage: str = LifecycleStage.CHURNED.value


def _positive_days(_instance: object, _attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError("days", value, "a whole number of at least 1")


@attrs.frozen
class NoPurchaseWithin:
    """A customer is lost at ``t`` when they made no paid order in ``[t - days, t)``.

    >>> NoPurchaseWithin(days=90)
    NoPurchaseWithin(days=90)

    Raises:
        InvalidValueError: If ``days`` is not a whole number of at least 1.
    """

    days: int = attrs.field(validator=_positive_days)


Lost = EnteredStage | NoPurchaseWithin


def _customers(frame: object, by: Sequence[str] = ()) -> pl.DataFrame:
    checked = require(frame, "customers", _CUSTOMERS)
    group_columns(list(by), checked, "customers")
    return checked.filter(pl.col("merged_into").is_null())


def _paid(orders: object) -> pl.DataFrame:
    return require(orders, "orders", _ORDERS).filter(pl.col("status") == PAID)


def _moves(stage_changes: object, workflow: str) -> pl.DataFrame:
    return (
        require(stage_changes, "stage_changes", _CHANGES)
        .filter((pl.col("entity") == "customer") & (pl.col("workflow") == workflow))
        .select(
            pl.col("entity_id").alias("id"),
            "at",
            "from_stage",
            "to_stage",
        )
    )


def _instants(moments: Sequence[dt.datetime]) -> pl.DataFrame:
    return pl.DataFrame({"_at": list(moments)}, schema={"_at": pl.Datetime("us", "UTC")})


def _stage_at(
    customers: pl.DataFrame, moves: pl.DataFrame, moments: Sequence[dt.datetime]
) -> pl.DataFrame:
    """Return ``(id, _at, stage)`` for every customer registered before each instant."""
    first = (
        moves.sort("at", maintain_order=True)
        .group_by("id")
        .agg(pl.col("from_stage").first().alias("_first"))
    )
    grid = (
        customers.select("id", "created_at", "lifecycle_stage")
        .join(_instants(moments), how="cross")
        .filter(pl.col("created_at") < pl.col("_at"))
        .join(first, on="id", how="left")
        .sort("_at")
    )
    last = grid.join_asof(
        moves.select("id", "at", "to_stage").sort("at", maintain_order=True),
        left_on="_at",
        right_on="at",
        by="id",
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    return last.select(
        "id",
        "_at",
        pl.coalesce("to_stage", "_first", "lifecycle_stage").alias("stage"),
    )


def _alive(
    customers: pl.DataFrame,
    moments: Sequence[dt.datetime],
    lost: Lost,
    stage_changes: object,
    orders: object,
) -> pl.DataFrame:
    """Return ``(id, _at)`` for every customer who is a customer (not lost) at each instant."""
    if isinstance(lost, EnteredStage):
        if stage_changes is None:
            raise InvalidValueError("stage_changes", None, "EnteredStage needs the stage changes")
        stages = _stage_at(customers, _moves(stage_changes, CUSTOMER_WORKFLOW.name), moments)
        return stages.filter(pl.col("stage") != lost.stage).select("id", "_at")
    if orders is None:
        raise InvalidValueError("orders", None, "NoPurchaseWithin needs the orders")
    paid = _paid(orders).select(pl.col("customer_id").alias("id"), pl.col("ordered_at"))
    grid = (
        customers.select("id", "created_at")
        .join(_instants(moments), how="cross")
        .filter(pl.col("created_at") < pl.col("_at"))
        .sort("_at")
    )
    last = grid.join_asof(
        paid.sort("ordered_at"),
        left_on="_at",
        right_on="ordered_at",
        by="id",
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
        coalesce=False,
    )
    window = pl.duration(days=lost.days)
    return last.filter(pl.col("ordered_at") >= pl.col("_at") - window).select("id", "_at")


def _lost_text(lost: Lost) -> str:
    if isinstance(lost, EnteredStage):
        return f"in the {lost.stage!r} lifecycle stage"
    return f"without a paid order in the {lost.days} days before"


def _start_and_end(
    customers: object,
    *,
    period: Period,
    lost: Lost,
    stage_changes: object,
    orders: object,
    by: str | Sequence[str] | None,
) -> tuple[pl.DataFrame, list[str]]:
    columns = [by] if isinstance(by, str) else list(by or ())
    people = _customers(customers, columns)
    start, end = instant(period.start), instant(period.end)
    alive = _alive(people, [start, end], lost, stage_changes, orders)
    flags = (
        people.select("id", *columns)
        .join(
            alive.filter(pl.col("_at") == start).select("id", pl.lit(True).alias("_s")),
            on="id",
            how="left",
        )
        .join(
            alive.filter(pl.col("_at") == end).select("id", pl.lit(True).alias("_e")),
            on="id",
            how="left",
        )
        .with_columns(pl.col("_s").fill_null(False), pl.col("_e").fill_null(False))
    )
    counts = [
        pl.col("_s").sum().alias("at_start"),
        pl.col("_e").sum().alias("at_end"),
        (pl.col("_e") & ~pl.col("_s")).sum().alias("new"),
        (pl.col("_s") & pl.col("_e")).sum().alias("kept"),
        (pl.col("_s") & ~pl.col("_e")).sum().alias("lost"),
    ]
    if columns:
        table = flags.group_by(columns).agg(counts).sort(columns, nulls_last=True)
    else:
        table = flags.select(counts)
    return table, columns


def churn_rate(
    customers: pl.DataFrame,
    *,
    period: Period,
    lost: Lost | None = None,
    stage_changes: pl.DataFrame | None = None,
    orders: pl.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return the churn rate (客户流失率): customers lost in the period ÷ customers at its start.

    The customers at the start ``S`` are those registered before ``period.start``
    and not lost then; the lost are those of ``S`` who are lost at
    ``period.end`` (see the module docstring for *lost*). ``1 - churn`` is the
    :func:`retention_rate` of the same period.

    Args:
        customers: The customers frame.
        period: The period.
        lost: When a customer counts as lost (default :class:`EnteredStage`).
        stage_changes: The stage changes (needed for :class:`EnteredStage`).
        orders: The orders (needed for :class:`NoPurchaseWithin`).
        by: Customer columns to break the rate down by (``"tier"``, ``"owner"``).

    Returns:
        A :data:`~crmcore.analytics.kpi.RATIO`; ``None`` when ``S`` is empty.
        ``table`` has ``at_start, at_end, new, kept, lost, churn_rate`` (per group).

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.
        InvalidValueError: If the frame the definition of *lost* needs is missing.

    >>> import polars as pl, pendulum
    >>> t = lambda d: pendulum.datetime(2026, *d)
    >>> customers = pl.DataFrame({"id": ["a", "b", "c", "d"],
    ...     "created_at": [t((1, 1))] * 4, "lifecycle_stage": ["new"] * 4,
    ...     "merged_into": [None] * 4}, schema_overrides={"merged_into": pl.String})
    >>> changes = pl.DataFrame({"entity": ["customer"], "entity_id": ["a"],
    ...     "workflow": ["customer-lifecycle"], "from_stage": ["new"],
    ...     "to_stage": ["churned"], "at": [t((2, 10))]})
    >>> str(churn_rate(customers, period=Period.month(2026, 2), stage_changes=changes))
    'churn rate: 0.25 (ratio 0–1; 1 / 4)'
    """
    rule = lost if lost is not None else EnteredStage()
    table, _ = _start_and_end(
        customers, period=period, lost=rule, stage_changes=stage_changes, orders=orders, by=by
    )
    start = int(table["at_start"].sum())
    gone = int(table["lost"].sum())
    return Kpi(
        name="churn rate",
        definition=(
            "Customers lost by the end of the period (lost: "
            f"{_lost_text(rule)}) ÷ customers at its start (registered before it, not lost)."
        ),
        unit=RATIO,
        value=ratio(gone, start),
        numerator=gone,
        denominator=start,
        period=period,
        table=table.with_columns(ratio_expr("lost", "at_start").alias("churn_rate")),
    )


def retention_rate(
    customers: pl.DataFrame,
    *,
    period: Period,
    lost: Lost | None = None,
    stage_changes: pl.DataFrame | None = None,
    orders: pl.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return the retention rate (留存率) ``(E - N) ÷ S`` of a period.

    ``S``: customers at the start; ``E``: customers at the end; ``N``: customers
    at the end who were not customers at the start (acquired, or won back,
    during the period). ``E - N`` is therefore the customers kept from the
    start, and the rate lies in ``[0, 1]``; it equals ``1 -``
    :func:`churn_rate` for the same arguments.

    Args:
        customers: The customers frame.
        period: The period.
        lost: When a customer counts as lost (default :class:`EnteredStage`).
        stage_changes: The stage changes (needed for :class:`EnteredStage`).
        orders: The orders (needed for :class:`NoPurchaseWithin`).
        by: Customer columns to break the rate down by.

    Returns:
        A ratio, ``None`` when ``S`` is empty; ``numerator`` is ``E - N``.
        ``table`` has ``at_start, at_end, new, kept, lost`` and, per group,
        ``retention_rate``.

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.
        InvalidValueError: If the frame the definition of *lost* needs is missing.
    """
    rule = lost if lost is not None else EnteredStage()
    table, _ = _start_and_end(
        customers, period=period, lost=rule, stage_changes=stage_changes, orders=orders, by=by
    )
    start = int(table["at_start"].sum())
    kept = int(table["kept"].sum())
    return Kpi(
        name="retention rate",
        definition=(
            "(E − N) ÷ S: customers at the end of the period minus those who were not "
            "customers at its start, over customers at its start (a customer is "
            f"lost when {_lost_text(rule)})."
        ),
        unit=RATIO,
        value=ratio(kept, start),
        numerator=kept,
        denominator=start,
        period=period,
        table=table.with_columns(ratio_expr("kept", "at_start").alias("retention_rate")),
    )


def stage_counts(
    customers: pl.DataFrame,
    stage_changes: pl.DataFrame,
    *,
    period: Period,
    every: str = "month",
    stages: Sequence[str] | None = None,
) -> Kpi:
    """Return how many customers are in each lifecycle stage at the end of each bucket.

    Args:
        customers: The customers frame.
        stage_changes: The stage changes (only ``customer-lifecycle`` moves are read).
        period: The period, cut into buckets of ``every``.
        every: ``"day"``, ``"week"``, ``"month"``, ``"quarter"`` or ``"year"``.
        stages: The stages to list, in order (default: the customer workflow's;
            a stage found in the data but not listed is appended).

    Returns:
        A tabular KPI: ``table`` has one row per bucket and stage,
        ``bucket_start, bucket_end, stage, customers`` (zero rows included);
        ``value`` is the number of customers at the end of the period.

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.
        InvalidValueError: If ``every`` is not a bucket size.

    >>> import polars as pl, pendulum
    >>> customers = pl.DataFrame({"id": ["a", "b"],
    ...     "created_at": [pendulum.datetime(2026, 1, 5), pendulum.datetime(2026, 2, 5)],
    ...     "lifecycle_stage": ["new", "new"], "merged_into": [None, None]},
    ...     schema_overrides={"merged_into": pl.String})
    >>> changes = pl.DataFrame({"entity": ["customer"], "entity_id": ["a"],
    ...     "workflow": ["customer-lifecycle"], "from_stage": ["potential"],
    ...     "to_stage": ["new"], "at": [pendulum.datetime(2026, 2, 1)]})
    >>> k = stage_counts(customers, changes, period=Period(pendulum.datetime(2026, 1, 1),
    ...                  pendulum.datetime(2026, 3, 1)), stages=["potential", "new"])
    >>> k.table.select("stage", "customers").rows()
    [('potential', 1), ('new', 0), ('potential', 0), ('new', 2)]
    """
    people = _customers(customers)
    buckets = period.buckets(every)
    ends = [instant(b.end) for b in buckets]
    at = _stage_at(people, _moves(stage_changes, CUSTOMER_WORKFLOW.name), ends)
    order = [str(s.name) for s in CUSTOMER_WORKFLOW.states] if stages is None else list(stages)
    seen = at["stage"].unique().drop_nulls().sort().to_list()
    order += [s for s in seen if s not in order]
    grid = pl.DataFrame(
        {
            "bucket_start": [instant(b.start) for b in buckets for _ in order],
            "bucket_end": [instant(b.end) for b in buckets for _ in order],
            "stage": [s for _ in buckets for s in order],
            "_rank": [i for _ in buckets for i in range(len(order))],
        },
        schema={
            "bucket_start": pl.Datetime("us", "UTC"),
            "bucket_end": pl.Datetime("us", "UTC"),
            "stage": pl.String,
            "_rank": pl.Int64,
        },
    )
    counts = at.group_by("_at", "stage").agg(pl.len().cast(pl.Int64).alias("customers"))
    table = (
        grid.join(counts, left_on=["bucket_end", "stage"], right_on=["_at", "stage"], how="left")
        .with_columns(pl.col("customers").fill_null(0))
        .sort("bucket_start", "_rank")
        .drop("_rank")
    )
    final = int(at.filter(pl.col("_at") == ends[-1]).height)
    return Kpi(
        name="customers by lifecycle stage",
        definition=(
            "Customers registered before the end of each bucket, counted by their lifecycle "
            "stage at that instant (the last stage change before it)."
        ),
        unit=COUNT,
        value=final,
        period=period,
        table=table,
    )


def cohort_retention(
    customers: pl.DataFrame,
    orders: pl.DataFrame,
    *,
    period: Period,
    acquisition: Literal["first_purchase", "registration"] = "first_purchase",
) -> Kpi:
    """Return the cohort retention matrix: acquisition month × months since.

    A customer's cohort is the UTC calendar month of their first paid order
    (``acquisition="first_purchase"``) or of their registration
    (``"registration"``); only cohorts starting in ``period`` are listed. A
    customer is *active* in month ``k`` of their cohort when they made a paid
    order in the ``k``-th calendar month after it (month 0 is the cohort
    month); orders from ``period.end`` on are not read, and months starting
    at or after it are not listed.

    Returns:
        A tabular KPI: ``table`` has ``cohort`` (Date, first day of the month),
        ``months_since``, ``cohort_size``, ``active`` and ``retention``
        (active ÷ cohort size); the cohort sizes sum to ``value``, the number of
        customers acquired in the period.

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.
        InvalidValueError: If ``acquisition`` is unknown.

    >>> import polars as pl, pendulum
    >>> from decimal import Decimal
    >>> customers = pl.DataFrame({"id": ["a", "b"],
    ...     "created_at": [pendulum.datetime(2025, 12, 1)] * 2,
    ...     "lifecycle_stage": ["new", "new"], "merged_into": [None, None]},
    ...     schema_overrides={"merged_into": pl.String})
    >>> orders = pl.DataFrame({"customer_id": ["a", "b", "a"],
    ...     "amount": [Decimal(10)] * 3, "currency": ["CNY"] * 3, "status": ["paid"] * 3,
    ...     "ordered_at": [pendulum.datetime(2026, 1, 3), pendulum.datetime(2026, 1, 9),
    ...                    pendulum.datetime(2026, 2, 2)]},
    ...     schema_overrides={"amount": pl.Decimal(38, 6)})
    >>> k = cohort_retention(customers, orders, period=Period(pendulum.datetime(2026, 1, 1),
    ...                      pendulum.datetime(2026, 3, 1)))
    >>> k.table.select("months_since", "cohort_size", "active", "retention").rows()
    [(0, 2, 2, 1.0), (1, 2, 1, 0.5)]
    """
    if acquisition not in ("first_purchase", "registration"):
        raise InvalidValueError("acquisition", acquisition, "first_purchase or registration")
    people = _customers(customers)
    end = instant(period.end)
    paid = (
        _paid(orders)
        .filter(pl.col("ordered_at") < end)
        .join(people.select(pl.col("id").alias("customer_id")), on="customer_id", how="semi")
    )
    month_index = pl.col("_m").dt.year().cast(pl.Int64) * 12 + pl.col("_m").dt.month() - 1
    if acquisition == "first_purchase":
        acquired = paid.group_by("customer_id").agg(pl.col("ordered_at").min().alias("_acq"))
    else:
        acquired = people.select(
            pl.col("id").alias("customer_id"), pl.col("created_at").alias("_acq")
        )
    acquired = acquired.filter(
        (pl.col("_acq") >= instant(period.start)) & (pl.col("_acq") < end)
    ).with_columns(pl.col("_acq").dt.truncate("1mo").dt.date().alias("cohort"))
    acquired = acquired.with_columns(pl.col("cohort").alias("_m")).with_columns(
        month_index.alias("_c")
    )
    sizes = acquired.group_by("cohort", "_c").agg(pl.len().cast(pl.Int64).alias("cohort_size"))
    last_month = (end - dt.timedelta(microseconds=1)).date()
    last_index = last_month.year * 12 + last_month.month - 1
    activity = (
        paid.join(acquired.select("customer_id", "_c"), on="customer_id", how="inner")
        .with_columns(pl.col("ordered_at").dt.date().alias("_m"))
        .with_columns((month_index - pl.col("_c")).alias("months_since"))
        .filter(pl.col("months_since") >= 0)
        .group_by("_c", "months_since")
        .agg(pl.col("customer_id").n_unique().cast(pl.Int64).alias("active"))
    )
    grid = (
        sizes.with_columns(
            pl.int_ranges(0, last_index - pl.col("_c") + 1, dtype=pl.Int64).alias("months_since")
        )
        .explode("months_since")
        .join(activity, on=["_c", "months_since"], how="left")
        .with_columns(pl.col("active").fill_null(0))
        .with_columns(ratio_expr("active", "cohort_size").alias("retention"))
        .sort("cohort", "months_since")
        .select("cohort", "months_since", "cohort_size", "active", "retention")
    )
    total = int(sizes["cohort_size"].sum())
    basis = "first paid order" if acquisition == "first_purchase" else "registration"
    return Kpi(
        name="cohort retention",
        definition=(
            f"Customers grouped by the month of their {basis}; for each month since, the share "
            "of the cohort with a paid order in that month."
        ),
        unit=RATIO,
        value=total,
        denominator=total,
        period=period,
        table=grid,
    )


def repeat_purchase_rate(
    orders: pl.DataFrame,
    *,
    period: Period,
    customers: pl.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
) -> Kpi:
    """Return the repeat-purchase rate (复购率): buyers with ≥ 2 paid orders ÷ buyers.

    Both counts are of customers with at least one paid order in the period;
    merged customers are left out when ``customers`` is given (it is needed
    for ``by``).

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.

    >>> import polars as pl, pendulum
    >>> from decimal import Decimal
    >>> orders = pl.DataFrame({"customer_id": ["a", "a", "b", "c"],
    ...     "amount": [Decimal(1)] * 4, "currency": ["CNY"] * 4,
    ...     "status": ["paid", "paid", "paid", "refunded"],
    ...     "ordered_at": [pendulum.datetime(2026, 3, d) for d in (1, 2, 3, 4)]},
    ...     schema_overrides={"amount": pl.Decimal(38, 6)})
    >>> str(repeat_purchase_rate(orders, period=Period.month(2026, 3)))
    'repeat-purchase rate: 0.5 (ratio 0–1; 1 / 2)'
    """
    columns = [by] if isinstance(by, str) else list(by or ())
    paid = _paid(orders).filter(
        (pl.col("ordered_at") >= instant(period.start))
        & (pl.col("ordered_at") < instant(period.end))
    )
    if customers is not None:
        people = _customers(customers, columns)
        paid = paid.join(
            people.select(pl.col("id").alias("customer_id"), *columns),
            on="customer_id",
            how="inner",
        )
    elif columns:
        raise InvalidValueError("customers", None, "by= needs the customers frame")
    per = paid.group_by("customer_id", *columns).agg(pl.len().alias("_n"))
    counts = [
        pl.len().cast(pl.Int64).alias("buyers"),
        (pl.col("_n") >= 2).sum().cast(pl.Int64).alias("repeat_buyers"),
    ]
    table = (
        per.group_by(columns).agg(counts).sort(columns, nulls_last=True)
        if columns
        else per.select(counts)
    )
    buyers = int(table["buyers"].sum())
    repeat = int(table["repeat_buyers"].sum())
    return Kpi(
        name="repeat-purchase rate",
        definition=(
            "Customers with two or more paid orders in the period ÷ customers with at least one."
        ),
        unit=RATIO,
        value=ratio(repeat, buyers),
        numerator=repeat,
        denominator=buyers,
        period=period,
        table=table.with_columns(ratio_expr("repeat_buyers", "buyers").alias("repeat_rate")),
    )


def _money_value(value: object, channel: str) -> Money:
    if not isinstance(value, Money):
        raise InvalidValueError(f"spend[{channel!r}]", value, "expected a Money")
    return value


def customer_acquisition_cost(
    customers: pl.DataFrame,
    spend: Mapping[str, Money],
    *,
    period: Period,
) -> Kpi:
    """Return the customer acquisition cost (CAC) per source channel: spend ÷ new customers.

    New customers are those registered in the period (``created_at`` in it),
    counted by their ``source`` (``"unknown"`` when unset); ``spend`` is what
    the host spent on each channel in the same period. A channel with spend
    but no new customer has an undefined CAC; a channel with new customers but
    no spend listed has an unknown spend (null).

    Returns:
        ``table`` has ``source, new_customers, spend, currency, cac`` (Decimals,
        CAC rounded half-even to 0.01). ``value`` is the overall CAC (total spend
        ÷ new customers of the channels with spend) when every spend is in one
        currency, else ``None``.

    Raises:
        PayloadError: If the frame lacks a column or has the wrong dtype.
        InvalidValueError: If a spend is not a :class:`~crmcore.domain.values.Money`.

    >>> import polars as pl, pendulum
    >>> from crmcore.domain import Money
    >>> customers = pl.DataFrame({"id": ["a", "b", "c"], "source": ["wechat", "wechat", "event"],
    ...     "created_at": [pendulum.datetime(2026, 3, 2)] * 3, "lifecycle_stage": ["new"] * 3,
    ...     "merged_into": [None] * 3}, schema_overrides={"merged_into": pl.String})
    >>> k = customer_acquisition_cost(customers, {"wechat": Money("300", "CNY"),
    ...     "event": Money("500", "CNY")}, period=Period.month(2026, 3))
    >>> str(k)
    'customer acquisition cost: 266.67 CNY (money; 800.00 / 3)'
    >>> k.table.select("source", "new_customers", "cac").rows()
    [('event', 1, Decimal('500.00')), ('wechat', 2, Decimal('150.00'))]
    """
    checked = require(customers, "customers", {**_CUSTOMERS, "source": "string"})
    spent = {str(channel): _money_value(value, str(channel)) for channel, value in spend.items()}
    new = (
        checked.filter(pl.col("merged_into").is_null())
        .filter(
            (pl.col("created_at") >= instant(period.start))
            & (pl.col("created_at") < instant(period.end))
        )
        .group_by(pl.col("source").fill_null("unknown"))
        .agg(pl.len().cast(pl.Int64).alias("new_customers"))
    )
    counts = dict(new.iter_rows())
    channels = sorted(set(counts) | set(spent))
    cent = Decimal("0.01")
    rows = []
    for channel in channels:
        n = int(counts.get(channel, 0))
        money = spent.get(channel)
        cac = (money.amount / n).quantize(cent) if money is not None and n else None
        rows.append(
            (
                channel,
                n,
                money.amount if money is not None else None,
                money.currency if money is not None else None,
                cac,
            )
        )
    table = pl.DataFrame(
        rows,
        schema={
            "source": pl.String,
            "new_customers": pl.Int64,
            "spend": pl.Decimal(38, 6),
            "currency": pl.String,
            "cac": pl.Decimal(38, 2),
        },
        orient="row",
    )
    currencies = {m.currency for m in spent.values()}
    total_spend = sum((m.amount for m in spent.values()), Decimal(0))
    acquired = sum(int(counts.get(c, 0)) for c in spent)
    single = len(currencies) == 1
    value = (total_spend / acquired).quantize(cent) if single and acquired else None
    return Kpi(
        name="customer acquisition cost",
        definition=(
            "Spend on a source channel in the period ÷ customers registered in the period "
            "from that channel."
        ),
        unit=MONEY,
        value=value,
        numerator=total_spend.quantize(cent) if single else None,
        denominator=acquired,
        period=period,
        currency=next(iter(currencies)) if single else None,
        table=table,
    )


def historical_clv(
    customers: pl.DataFrame,
    orders: pl.DataFrame,
    *,
    at: pendulum.DateTime,
    by: str | Sequence[str] | None = "tier",
) -> Kpi:
    """Return the historical customer lifetime value: paid order amounts per customer.

    A customer's historical CLV is the sum of their paid orders before
    ``at``, per currency; only customers with a paid order count. ``by`` may
    name customer columns, or ``"cohort"`` for the UTC month of the first
    paid order.

    Returns:
        ``table`` has the groups, ``currency, customers, total, mean, median``
        (Decimals; mean and median rounded half-even to 0.01). ``value`` is
        the overall mean when every order is in one currency, else ``None``.

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.

    >>> import polars as pl, pendulum
    >>> from decimal import Decimal
    >>> customers = pl.DataFrame({"id": ["a", "b", "c"], "tier": ["vip", "ordinary", "ordinary"],
    ...     "created_at": [pendulum.datetime(2025, 1, 1)] * 3, "lifecycle_stage": ["new"] * 3,
    ...     "merged_into": [None] * 3}, schema_overrides={"merged_into": pl.String})
    >>> orders = pl.DataFrame({"customer_id": ["a", "a", "b", "c"],
    ...     "amount": [Decimal(100), Decimal(50), Decimal(30), Decimal(10)],
    ...     "currency": ["CNY"] * 4, "status": ["paid"] * 4,
    ...     "ordered_at": [pendulum.datetime(2026, 1, 1)] * 4},
    ...     schema_overrides={"amount": pl.Decimal(38, 6)})
    >>> k = historical_clv(customers, orders, at=pendulum.datetime(2026, 6, 1))
    >>> str(k)
    'historical CLV: 63.33 CNY (money; 190.00 / 3)'
    >>> for row in k.table.select("tier", "customers", "mean", "median").iter_rows():
    ...     print(*row)
    ordinary 2 20.00 20.00
    vip 1 150.00 150.00
    """
    columns = [by] if isinstance(by, str) else list(by or ())
    customer_columns = [c for c in columns if c != "cohort"]
    people = _customers(customers, customer_columns)
    paid = _paid(orders).filter(pl.col("ordered_at") < instant(at))
    per = (
        paid.group_by("customer_id", "currency")
        .agg(pl.col("amount").sum().alias("_total"), pl.col("ordered_at").min().alias("_first"))
        .join(
            people.select(pl.col("id").alias("customer_id"), *customer_columns),
            on="customer_id",
            how="inner",
        )
    )
    if "cohort" in columns:
        first = per.group_by("customer_id").agg(pl.col("_first").min().alias("_f"))
        per = per.join(first, on="customer_id").with_columns(
            pl.col("_f").dt.truncate("1mo").dt.date().alias("cohort")
        )
    keys = [*columns, "currency"]
    n = pl.len()
    sorted_total = pl.col("_total").sort()
    table = (
        per.group_by(keys)
        .agg(
            n.cast(pl.Int64).alias("customers"),
            pl.col("_total").sum().alias("total"),
            sorted_total.get((n - 1) // 2).alias("_lo"),
            sorted_total.get(n // 2).alias("_hi"),
        )
        .sort(keys, nulls_last=True)
    )
    cent = Decimal("0.01")
    means = []
    medians = []
    for count, total, lo, hi in table.select("customers", "total", "_lo", "_hi").iter_rows():
        means.append((decimal(total) / count).quantize(cent))
        medians.append(((decimal(lo) + decimal(hi)) / 2).quantize(cent))
    table = table.drop("_lo", "_hi").with_columns(
        pl.Series("mean", means, dtype=pl.Decimal(38, 2)),
        pl.Series("median", medians, dtype=pl.Decimal(38, 2)),
    )
    currencies = set(table["currency"].to_list())
    buyers = int(per["customer_id"].n_unique())
    grand = sum((decimal(v) for v in table["total"].to_list()), Decimal(0))
    single = len(currencies) == 1
    value = (grand / buyers).quantize(cent) if single and buyers else None
    return Kpi(
        name="historical CLV",
        definition=(
            "Sum of a customer's paid orders before the instant (per currency), averaged over "
            "customers with at least one paid order."
        ),
        unit=MONEY,
        value=value,
        numerator=grand.quantize(cent) if single else None,
        denominator=buyers,
        at=pendulum.instance(instant(at)),
        currency=next(iter(currencies)) if single else None,
        table=table,
    )
