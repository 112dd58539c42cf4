"""Charts of the KPI results as Vega-Lite specs, and their rendering to SVG and PNG.

Every chart function takes a KPI result (or the frame a KPI helper returns)
and returns a Vega-Lite specification as a plain dict of JSON values — the data
inline, nothing fetched — that ``json.dumps`` writes as is and any Vega-Lite
renderer draws: a browser with vega-embed, JupyterLab, Altair
(:func:`as_altair`) or vl-convert (:func:`render_svg`, :func:`render_png`,
no browser needed).

- :func:`funnel_chart` — a stage funnel (:func:`~crmcore.analytics.sales.stage_funnel`);
- :func:`cohort_heatmap` — the cohort retention matrix
  (:func:`~crmcore.analytics.customers.cohort_retention`);
- :func:`stage_distribution_chart` — customers by lifecycle stage over time
  (:func:`~crmcore.analytics.customers.stage_counts`);
- :func:`nps_trend_chart` — NPS per bucket
  (:func:`~crmcore.analytics.kpi.per_period` of
  :func:`~crmcore.analytics.service.net_promoter_score`);
- :func:`clv_distribution_chart` — a histogram of customer values (historical or
  predicted CLV);
- :func:`rfm_grid_chart` — customers per recency × frequency score
  (:func:`crmcore.segments.rfm_scores`).

Titles and axis labels come from :data:`TITLES`, in English (``locale="en"``,
the default) or simplified Chinese (``locale="zh_CN"``).

Rendering needs the ``charts`` extra (vl-convert; Altair for :func:`as_altair`),
imported only when a chart is rendered: without it, :class:`MissingExtraError`
names the extra.

May import: ``crmcore.segments``, ``crmcore.errors``; polars, numpy (vl-convert and
altair lazily, extra ``charts``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import polars as pl

from crmcore.analytics.kpi import Kpi
from crmcore.errors import InvalidValueError, MissingExtraError, PayloadError, Problem
from crmcore.i18n import LOCALES, label, parse_locale
from crmcore.segments.rfm import RfmScore

if TYPE_CHECKING:
    import altair

__all__ = [
    "LOCALES",
    "SCHEMA_URL",
    "TITLES",
    "Spec",
    "as_altair",
    "clv_distribution_chart",
    "cohort_heatmap",
    "funnel_chart",
    "nps_trend_chart",
    "render_png",
    "render_svg",
    "rfm_grid_chart",
    "stage_distribution_chart",
]

Spec = dict[str, Any]
"""A Vega-Lite specification: a dict of JSON values (str, int, float, bool, None, list, dict)."""

SCHEMA_URL: Final = "https://vega.github.io/schema/vega-lite/v5.json"
"""The Vega-Lite schema every spec declares (also valid Vega-Lite 6)."""

_CHART_KEYS: Final = (
    "funnel",
    "funnel.stage",
    "funnel.reached",
    "cohort",
    "cohort.cohort",
    "cohort.months_since",
    "cohort.retention",
    "stages",
    "stages.bucket",
    "stages.customers",
    "stages.stage",
    "nps",
    "nps.bucket",
    "nps.value",
    "nps.answers",
    "clv",
    "clv.value",
    "clv.customers",
    "rfm",
    "rfm.r",
    "rfm.f",
    "rfm.customers",
    "rfm.monetary",
)

TITLES: Final[Mapping[str, Mapping[str, str]]] = {
    locale: {key: label(f"chart.{key}", locale) for key in _CHART_KEYS} for locale in LOCALES
}
"""The chart titles and axis labels, by locale and key (from the :mod:`crmcore.i18n` catalogue)."""

_WIDTH: Final = 440
_HEIGHT: Final = 260


def _titles(locale: str) -> Mapping[str, str]:
    return TITLES[parse_locale(locale)]


def _spec(title: str, subtitle: str, body: Spec, *, width: int, height: int) -> Spec:
    heading: Spec = {"text": title, "anchor": "start"}
    if subtitle:
        heading["subtitle"] = subtitle
    return {
        "$schema": SCHEMA_URL,
        "title": heading,
        "width": width,
        "height": height,
        "background": "white",
        **body,
    }


def _table(kpi: object, name: str, columns: Sequence[str]) -> pl.DataFrame:
    """Return the KPI's table if it has ``columns``.

    Raises:
        PayloadError: If ``kpi`` is not a tabular KPI or its table lacks a column.
    """
    if not isinstance(kpi, Kpi) or kpi.table is None:
        raise PayloadError(name, [Problem("$", f"expected a tabular Kpi, got {type(kpi)!r}")])
    missing = [Problem(f"$.table.{c}", "missing column") for c in columns if c not in kpi.table]
    if missing:
        raise PayloadError(name, missing)
    return kpi.table


def _number(value: object) -> float | None:
    """Return a JSON number (or None) for a polars cell; NaN and infinities become None."""
    if value is None:
        return None
    number = float(value) if isinstance(value, int | float | Decimal) else math.nan
    return number if math.isfinite(number) else None


def _month(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%Y-%m")
    return str(value)


def _day(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _subtitle(kpi: Kpi) -> str:
    period = ""
    if kpi.period is not None:
        last = kpi.period.end.subtract(microseconds=1)
        period = f"{kpi.period.start.date()} – {last.date()}"
    return period


# --------------------------------------------------------------------------- funnel


def funnel_chart(funnel: Kpi, *, locale: str = "en") -> Spec:
    """Return a horizontal bar funnel of :func:`~crmcore.analytics.sales.stage_funnel`.

    One bar per step, in the funnel's order, as long as the records that reached
    it, labelled with the count and the share of the first step. A funnel broken
    down by group (``by=``) is summed over the groups.

    Args:
        funnel: The result of ``stage_funnel``.
        locale: The language of titles and labels (:data:`LOCALES`).

    Returns:
        The Vega-Lite spec; ``data.values`` has one row per step: ``step, stage,
        reached, from_start`` (``from_start`` null when the first step is empty).

    Raises:
        PayloadError: If ``funnel`` is not a tabular KPI with ``step, stage, reached``.
        InvalidValueError: If ``locale`` is unknown.

    >>> import polars as pl
    >>> from crmcore.analytics.kpi import RATIO, Kpi
    >>> k = Kpi(name="funnel", definition="...", unit=RATIO, value=0.5,
    ...         table=pl.DataFrame({"step": [0, 1], "stage": ["new", "won"], "reached": [4, 2]}))
    >>> spec = funnel_chart(k)
    >>> for row in spec["data"]["values"]:
    ...     print(row)
    {'step': 0, 'stage': 'new', 'reached': 4, 'from_start': 1.0}
    {'step': 1, 'stage': 'won', 'reached': 2, 'from_start': 0.5}
    >>> spec["title"]["text"]
    'Funnel: records reaching each stage'
    """
    text = _titles(locale)
    table = _table(funnel, "funnel", ("step", "stage", "reached"))
    steps = (
        table.group_by("step", "stage")
        .agg(pl.col("reached").sum())
        .sort("step")
        .select("step", "stage", "reached")
    )
    rows = [(int(s), str(g), int(r)) for s, g, r in steps.iter_rows()]
    head = rows[0][2] if rows else 0
    values = [
        {"step": s, "stage": g, "reached": r, "from_start": (r / head) if head else None}
        for s, g, r in rows
    ]
    order = [g for _, g, _ in rows]
    y = {"field": "stage", "type": "nominal", "sort": order, "title": text["funnel.stage"]}
    body: Spec = {
        "data": {"values": values},
        "encoding": {
            "y": y,
            "x": {"field": "reached", "type": "quantitative", "title": text["funnel.reached"]},
            "tooltip": [
                {"field": "stage", "type": "nominal"},
                {"field": "reached", "type": "quantitative"},
                {"field": "from_start", "type": "quantitative", "format": ".1%"},
            ],
        },
        "layer": [
            {"mark": {"type": "bar", "color": "#4c78a8"}},
            {
                "mark": {"type": "text", "align": "left", "dx": 4},
                "encoding": {"text": {"field": "reached", "type": "quantitative"}},
            },
        ],
    }
    height = max(24 * len(rows), 60)
    return _spec(text["funnel"], _subtitle(funnel), body, width=_WIDTH, height=height)


# --------------------------------------------------------------------------- cohorts


def cohort_heatmap(retention: Kpi, *, locale: str = "en") -> Spec:
    """Return the cohort retention matrix as a heatmap (cohort × months since).

    One cell per row of the matrix of
    :func:`~crmcore.analytics.customers.cohort_retention`, coloured by its
    retention on a fixed 0–1 scale and labelled with it in per cent.

    Returns:
        The Vega-Lite spec; ``data.values`` has one row per cell: ``cohort``
        (``"YYYY-MM"``), ``months_since, cohort_size, active, retention``.

    Raises:
        PayloadError: If ``retention`` is not a tabular KPI with those columns.
        InvalidValueError: If ``locale`` is unknown.

    >>> import datetime as dt, polars as pl
    >>> from crmcore.analytics.kpi import RATIO, Kpi
    >>> table = pl.DataFrame({"cohort": [dt.date(2026, 1, 1)] * 2, "months_since": [0, 1],
    ...     "cohort_size": [2, 2], "active": [2, 1], "retention": [1.0, 0.5]})
    >>> spec = cohort_heatmap(Kpi(name="cohort retention", definition="...", unit=RATIO,
    ...                           value=2, table=table))
    >>> [(c["cohort"], c["months_since"], c["retention"]) for c in spec["data"]["values"]]
    [('2026-01', 0, 1.0), ('2026-01', 1, 0.5)]
    >>> spec["encoding"]["color"]["scale"]["domain"]
    [0, 1]
    """
    text = _titles(locale)
    columns = ("cohort", "months_since", "cohort_size", "active", "retention")
    table = _table(retention, "cohort retention", columns).sort("cohort", "months_since")
    values = [
        {
            "cohort": _month(cohort),
            "months_since": int(months),
            "cohort_size": int(size),
            "active": int(active),
            "retention": _number(share),
        }
        for cohort, months, size, active, share in table.select(columns).iter_rows()
    ]
    cohorts = sorted({_month(c) for c in table["cohort"].to_list()})
    months = sorted({int(m) for m in table["months_since"].to_list()})
    body: Spec = {
        "data": {"values": values},
        "encoding": {
            "x": {
                "field": "months_since",
                "type": "ordinal",
                "sort": months,
                "title": text["cohort.months_since"],
                "axis": {"labelAngle": 0},
            },
            "y": {
                "field": "cohort",
                "type": "ordinal",
                "sort": cohorts,
                "title": text["cohort.cohort"],
            },
            "color": {
                "field": "retention",
                "type": "quantitative",
                "title": text["cohort.retention"],
                "scale": {"domain": [0, 1], "scheme": "blues"},
                "legend": {"format": ".0%"},
            },
            "tooltip": [
                {"field": "cohort", "type": "ordinal"},
                {"field": "months_since", "type": "ordinal"},
                {"field": "cohort_size", "type": "quantitative"},
                {"field": "active", "type": "quantitative"},
                {"field": "retention", "type": "quantitative", "format": ".1%"},
            ],
        },
        "layer": [
            {"mark": {"type": "rect"}},
            {
                "mark": {"type": "text", "fontSize": 9},
                "encoding": {
                    "text": {"field": "retention", "type": "quantitative", "format": ".0%"},
                    "color": {
                        "condition": {"test": "datum.retention > 0.5", "value": "white"},
                        "value": "black",
                    },
                },
            },
        ],
    }
    width = max(min(36 * len(months), _WIDTH), 120)
    height = max(min(22 * len(cohorts), 420), 60)
    return _spec(text["cohort"], _subtitle(retention), body, width=width, height=height)


# --------------------------------------------------------------------------- stages


def stage_distribution_chart(counts: Kpi, *, locale: str = "en") -> Spec:
    """Return customers by lifecycle stage at the end of each bucket, as stacked bars.

    Args:
        counts: The result of :func:`~crmcore.analytics.customers.stage_counts`.
        locale: The language of titles and labels.

    Returns:
        The Vega-Lite spec; ``data.values`` has one row per bucket and stage:
        ``bucket`` (the bucket's last day, ``"YYYY-MM-DD"``), ``stage``,
        ``order`` (the stage's rank in the KPI's order) and ``customers``.

    Raises:
        PayloadError: If ``counts`` is not a tabular KPI with ``bucket_end, stage, customers``.
        InvalidValueError: If ``locale`` is unknown.

    >>> import datetime as dt, polars as pl
    >>> from crmcore.analytics.kpi import COUNT, Kpi
    >>> end = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    >>> table = pl.DataFrame({"bucket_end": [end, end], "stage": ["new", "growth"],
    ...                       "customers": [3, 1]})
    >>> spec = stage_distribution_chart(Kpi(name="stages", definition="...", unit=COUNT,
    ...                                     value=4, table=table))
    >>> for row in spec["data"]["values"]:
    ...     print(row)
    {'bucket': '2026-01-31', 'stage': 'new', 'order': 0, 'customers': 3}
    {'bucket': '2026-01-31', 'stage': 'growth', 'order': 1, 'customers': 1}
    """
    text = _titles(locale)
    table = _table(counts, "stage counts", ("bucket_end", "stage", "customers"))
    order: list[str] = []
    for stage in table["stage"].to_list():
        if str(stage) not in order:
            order.append(str(stage))
    values = []
    for end, stage, customers in table.select("bucket_end", "stage", "customers").iter_rows():
        last = end - dt.timedelta(microseconds=1) if isinstance(end, dt.datetime) else end
        values.append(
            {
                "bucket": _day(last),
                "stage": str(stage),
                "order": order.index(str(stage)),
                "customers": int(customers),
            }
        )
    body: Spec = {
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {
                "field": "bucket",
                "type": "ordinal",
                "title": text["stages.bucket"],
                "axis": {"labelAngle": -45},
            },
            "y": {
                "field": "customers",
                "type": "quantitative",
                "stack": "zero",
                "title": text["stages.customers"],
            },
            "color": {
                "field": "stage",
                "type": "nominal",
                "sort": order,
                "title": text["stages.stage"],
                "scale": {"scheme": "tableau10"},
            },
            "order": {"field": "order", "type": "quantitative"},
            "tooltip": [
                {"field": "bucket", "type": "ordinal"},
                {"field": "stage", "type": "nominal"},
                {"field": "customers", "type": "quantitative"},
            ],
        },
    }
    return _spec(text["stages"], _subtitle(counts), body, width=_WIDTH, height=_HEIGHT)


# --------------------------------------------------------------------------- NPS


def nps_trend_chart(trend: pl.DataFrame, *, locale: str = "en") -> Spec:
    """Return the net promoter score per bucket as a line, with a zero rule.

    Args:
        trend: :func:`~crmcore.analytics.kpi.per_period` of
            :func:`~crmcore.analytics.service.net_promoter_score`: ``bucket_start,
            value, denominator`` (a null value, a bucket without answers, breaks
            the line).
        locale: The language of titles and labels.

    Returns:
        The Vega-Lite spec; ``data.values`` has one row per bucket: ``bucket``
        (``"YYYY-MM-DD"``, its first day), ``nps`` and ``answers``.

    Raises:
        PayloadError: If ``trend`` lacks a column, or a value is outside −100..100.
        InvalidValueError: If ``locale`` is unknown.

    >>> import datetime as dt, polars as pl
    >>> trend = pl.DataFrame({"bucket_start": [dt.date(2026, 1, 1), dt.date(2026, 2, 1)],
    ...                       "value": [25.0, None], "denominator": [4, 0]})
    >>> for row in nps_trend_chart(trend)["layer"][1]["data"]["values"]:
    ...     print(row)
    {'bucket': '2026-01-01', 'nps': 25.0, 'answers': 4}
    {'bucket': '2026-02-01', 'nps': None, 'answers': 0}
    """
    text = _titles(locale)
    columns = ("bucket_start", "value", "denominator")
    if not isinstance(trend, pl.DataFrame):
        raise PayloadError("nps trend", [Problem("$", f"expected a DataFrame, got {type(trend)}")])
    missing = [Problem(f"$.{c}", "missing column") for c in columns if c not in trend.columns]
    if missing:
        raise PayloadError("nps trend", missing)
    values = []
    for row, (start, value, answers) in enumerate(trend.select(columns).iter_rows()):
        nps = _number(value)
        if nps is not None and not -100.0 <= nps <= 100.0:
            raise PayloadError("nps trend", [Problem(f"$[{row}].value", f"{nps} not in ±100")])
        count = _number(answers)
        values.append({"bucket": _day(start), "nps": nps, "answers": int(count or 0)})
    x = {"field": "bucket", "type": "temporal", "title": text["nps.bucket"]}
    body: Spec = {
        "layer": [
            {
                "data": {"values": [{"zero": 0}]},
                "mark": {"type": "rule", "color": "#999999", "strokeDash": [4, 4]},
                "encoding": {"y": {"field": "zero", "type": "quantitative"}},
            },
            {
                "data": {"values": values},
                "mark": {"type": "line", "point": True, "color": "#54a24b"},
                "encoding": {
                    "x": x,
                    "y": {
                        "field": "nps",
                        "type": "quantitative",
                        "title": text["nps.value"],
                        "scale": {"domain": [-100, 100]},
                    },
                    "tooltip": [
                        {"field": "bucket", "type": "temporal"},
                        {"field": "nps", "type": "quantitative", "format": ".1f"},
                        {"field": "answers", "type": "quantitative", "title": text["nps.answers"]},
                    ],
                },
            },
        ],
    }
    return _spec(text["nps"], "", body, width=_WIDTH, height=_HEIGHT)


# --------------------------------------------------------------------------- CLV


def clv_distribution_chart(
    values: pl.Series | Sequence[float | int | Decimal | None],
    *,
    bins: int = 20,
    currency: str | None = None,
    locale: str = "en",
) -> Spec:
    """Return a histogram of customer values (historical or predicted CLV).

    The bins are ``bins`` equal-width intervals from the smallest to the largest
    value (numpy's histogram: the last bin includes its upper edge; when every
    value is the same, the bins span that value ± 0.5), computed here so that
    the spec carries the counts.

    Args:
        values: One value per customer (nulls are skipped).
        bins: The number of bins (1 to 200).
        currency: The currency, shown in the axis title.
        locale: The language of titles and labels.

    Returns:
        The Vega-Lite spec; ``data.values`` has one row per bin: ``low, high,
        customers`` (the counts sum to the number of values).

    Raises:
        InvalidValueError: If a value is not finite, or ``bins`` is out of range.

    >>> spec = clv_distribution_chart([10, 20, 20, 40], bins=3, currency="CNY")
    >>> [(b["low"], b["high"], b["customers"]) for b in spec["data"]["values"]]
    [(10.0, 20.0, 1), (20.0, 30.0, 2), (30.0, 40.0, 1)]
    >>> spec["encoding"]["x"]["title"]
    'Value per customer (CNY)'
    """
    text = _titles(locale)
    if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= 200:
        raise InvalidValueError("bins", bins, "a whole number from 1 to 200")
    cells = values.to_list() if isinstance(values, pl.Series) else list(values)
    numbers: list[float] = []
    for row, cell in enumerate(cells):
        if cell is None:
            continue
        number = _number(cell) if isinstance(cell, int | float | Decimal) else None
        if number is None or isinstance(cell, bool):
            raise InvalidValueError(f"values[{row}]", cell, "a finite number")
        numbers.append(number)
    histogram: list[Spec] = []
    if numbers:
        counts, edges = np.histogram(np.asarray(numbers, dtype=np.float64), bins=bins)
        histogram = [
            {"low": float(edges[i]), "high": float(edges[i + 1]), "customers": int(counts[i])}
            for i in range(len(counts))
        ]
    axis = text["clv.value"] + (f" ({currency})" if currency else "")
    body: Spec = {
        "data": {"values": histogram},
        "mark": {"type": "bar", "color": "#f58518", "binSpacing": 1},
        "encoding": {
            "x": {"field": "low", "type": "quantitative", "bin": {"binned": True}, "title": axis},
            "x2": {"field": "high"},
            "y": {"field": "customers", "type": "quantitative", "title": text["clv.customers"]},
            "tooltip": [
                {"field": "low", "type": "quantitative", "format": ",.2f"},
                {"field": "high", "type": "quantitative", "format": ",.2f"},
                {"field": "customers", "type": "quantitative"},
            ],
        },
    }
    subtitle = f"{len(numbers):,} customers"
    return _spec(text["clv"], subtitle, body, width=_WIDTH, height=_HEIGHT)


# --------------------------------------------------------------------------- RFM


def rfm_grid_chart(
    scores: Mapping[Any, RfmScore] | Iterable[RfmScore], *, locale: str = "en"
) -> Spec:
    """Return the recency × frequency grid: customers and mean monetary value per cell.

    Every cell of the ``scores × scores`` grid is listed (empty cells with 0
    customers and a null mean), so the grid keeps its shape.

    Args:
        scores: :func:`crmcore.segments.rfm_scores`' result (or its values), all
            scored on the same number of scores.
        locale: The language of titles and labels.

    Returns:
        The Vega-Lite spec; ``data.values`` has one row per cell: ``r, f,
        customers, monetary`` (the mean of the customers' monetary values).

    Raises:
        InvalidValueError: If the scores use different scales, or an item is not an RfmScore.

    >>> from decimal import Decimal
    >>> from crmcore.segments import RfmScore
    >>> def score(i, r, f, m):
    ...     return RfmScore(customer_id=f"c{i}", recency_days=1, frequency=f, monetary=Decimal(m),
    ...                     r=r, f=f, m=1, scores=2)
    >>> spec = rfm_grid_chart([score(1, 2, 2, 100), score(2, 2, 2, 50), score(3, 1, 1, 10)])
    >>> [(c["r"], c["f"], c["customers"], c["monetary"]) for c in spec["data"]["values"]]
    [(1, 1, 1, 10.0), (1, 2, 0, None), (2, 1, 0, None), (2, 2, 2, 75.0)]
    """
    text = _titles(locale)
    items = list(scores.values()) if isinstance(scores, Mapping) else list(scores)
    for row, item in enumerate(items):
        if not isinstance(item, RfmScore):
            raise InvalidValueError(f"scores[{row}]", type(item).__name__, "an RfmScore")
    scales = {s.scores for s in items}
    if len(scales) > 1:
        raise InvalidValueError("scores", sorted(scales), "one number of scores for every customer")
    top = scales.pop() if scales else 5
    counts: dict[tuple[int, int], int] = {}
    totals: dict[tuple[int, int], Decimal] = {}
    for s in items:
        counts[s.r, s.f] = counts.get((s.r, s.f), 0) + 1
        totals[s.r, s.f] = totals.get((s.r, s.f), Decimal(0)) + s.monetary
    values = [
        {
            "r": r,
            "f": f,
            "customers": counts.get((r, f), 0),
            "monetary": float(totals[r, f] / counts[r, f]) if (r, f) in counts else None,
        }
        for r in range(1, top + 1)
        for f in range(1, top + 1)
    ]
    grid = list(range(1, top + 1))
    body: Spec = {
        "data": {"values": values},
        "encoding": {
            "x": {
                "field": "r",
                "type": "ordinal",
                "sort": grid,
                "title": text["rfm.r"],
                "axis": {"labelAngle": 0},
            },
            "y": {
                "field": "f",
                "type": "ordinal",
                "sort": list(reversed(grid)),
                "title": text["rfm.f"],
            },
            "tooltip": [
                {"field": "r", "type": "ordinal"},
                {"field": "f", "type": "ordinal"},
                {"field": "customers", "type": "quantitative", "title": text["rfm.customers"]},
                {
                    "field": "monetary",
                    "type": "quantitative",
                    "format": ",.2f",
                    "title": text["rfm.monetary"],
                },
            ],
        },
        "layer": [
            {
                "mark": {"type": "rect"},
                "encoding": {
                    "color": {
                        "field": "customers",
                        "type": "quantitative",
                        "title": text["rfm.customers"],
                        "scale": {"scheme": "oranges"},
                    }
                },
            },
            {
                "mark": {"type": "text"},
                "encoding": {"text": {"field": "customers", "type": "quantitative"}},
            },
        ],
    }
    side = max(48 * top, 120)
    return _spec(text["rfm"], f"{len(items):,} customers", body, width=side, height=side)


# --------------------------------------------------------------------------- rendering


def _vl_convert() -> Any:
    try:
        import vl_convert  # noqa: PLC0415 - optional extra, imported when rendering
    except ModuleNotFoundError as exc:
        raise MissingExtraError("charts", "crmcore.analytics.charts", exc.name or "") from exc
    return vl_convert


def _checked(spec: Spec) -> Spec:
    if not isinstance(spec, dict):
        raise InvalidValueError("spec", type(spec).__name__, "a Vega-Lite spec (a dict)")
    return spec


def render_svg(spec: Spec) -> str:
    """Render a spec to a standalone SVG document with vl-convert (no browser).

    Raises:
        MissingExtraError: If the ``charts`` extra is not installed.
        InvalidValueError: If vl-convert cannot compile or render the spec.

    >>> svg = render_svg(clv_distribution_chart([1, 2, 2, 3], bins=2))
    >>> svg.startswith("<svg") and "Customer value distribution" in svg
    True
    """
    converter = _vl_convert()
    spec = _checked(spec)
    try:
        svg: str = converter.vegalite_to_svg(spec)
    except ValueError as exc:
        reason = str(exc).splitlines()[0:2]
        raise InvalidValueError("spec", spec.get("title"), " ".join(reason)) from exc
    return svg


def render_png(spec: Spec, *, scale: float = 2.0) -> bytes:
    """Render a spec to PNG bytes with vl-convert (no browser).

    Args:
        spec: The Vega-Lite spec.
        scale: Pixels per spec unit (2 for sharp images on high-density screens).

    Raises:
        MissingExtraError: If the ``charts`` extra is not installed.
        InvalidValueError: If ``scale`` is not positive, or vl-convert cannot render the spec.

    >>> render_png(clv_distribution_chart([1, 2, 2, 3], bins=2), scale=1)[1:4]
    b'PNG'
    """
    if not (isinstance(scale, int | float) and math.isfinite(scale) and 0 < scale <= 10):
        raise InvalidValueError("scale", scale, "a number in (0, 10]")
    converter = _vl_convert()
    spec = _checked(spec)
    try:
        png: bytes = converter.vegalite_to_png(spec, scale=float(scale))
    except ValueError as exc:
        reason = str(exc).splitlines()[0:2]
        raise InvalidValueError("spec", spec.get("title"), " ".join(reason)) from exc
    return png


def as_altair(spec: Spec) -> altair.TopLevelMixin:
    """Return the spec as an Altair chart (validated against the Vega-Lite schema).

    In a notebook the chart displays itself; Altair's API can refine it further.

    Raises:
        MissingExtraError: If the ``charts`` extra (Altair) is not installed.
        InvalidValueError: If the spec does not validate against the Vega-Lite schema.

    >>> chart = as_altair(clv_distribution_chart([1, 2, 2, 3], bins=2))
    >>> type(chart).__name__
    'Chart'
    """
    try:
        import altair as alt  # noqa: PLC0415 - optional extra
        from altair.utils import schemapi  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        raise MissingExtraError("charts", "crmcore.analytics.charts", exc.name or "") from exc
    spec = _checked(spec)
    kind: type[alt.Chart] | type[alt.LayerChart] = alt.LayerChart if "layer" in spec else alt.Chart
    # jsonschema's ValidationError (Altair's SchemaValidationError is one), reached through
    # Altair so that jsonschema is not imported by name.
    invalid: type[Exception] = schemapi.jsonschema.ValidationError  # type: ignore[attr-defined]
    try:
        chart: altair.TopLevelMixin = kind.from_dict(spec, validate=True)
    except invalid as exc:
        raise InvalidValueError("spec", spec.get("title"), str(exc).splitlines()[0]) from exc
    return chart
