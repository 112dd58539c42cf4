"""``crmcore report``: one static HTML page of KPI tables and charts for a manager.

Reads a crmcore database (any the SQL adapter supports; ``crmcore demo``
makes one) straight into frames (:func:`crmcore.adapters.sql.frames.read_frame`
and the event history's stage changes), computes the KPIs of
:mod:`crmcore.analytics` for the twelve calendar months up to ``--at`` (the
current month cut at ``--at``) and the last three of them, and writes one
self-contained HTML file: the charts are inline SVG rendered by vl-convert
(:mod:`crmcore.analytics.charts`), the style is inline, nothing is fetched —
no JavaScript, no CDN, no internet.

Needs the ``analytics`` and ``charts`` extras (and ``sql``): without them the
command says which extra to install.

May import: services, adapters and everything below them.
"""

from __future__ import annotations

import argparse
import html
import re
import time
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import pendulum

from crmcore.cli.console import Console
from crmcore.cli.io import add_key_db_argument, database_url, open_encryptor, require_database_file
from crmcore.cli.segment import parse_at
from crmcore.errors import InvalidValueError
from crmcore.i18n import DEFAULT_LOCALE, Locale, text
from crmcore.ports import Encryptor

if TYPE_CHECKING:
    from crmcore.analytics.kpi import Kpi, Period

__all__ = ["Report", "ReportData", "add_parser", "collect", "render_html", "run"]

MONTHS: Final = 12
"""The months the report covers, up to ``--at``."""
_RFM_SCORES: Final = 5


def add_parser(commands: Any) -> None:
    """Register ``report`` on the command's sub-parsers."""
    parser = commands.add_parser(
        "report",
        help="write one static HTML page of KPI tables and charts for a manager",
        description=(__doc__ or "").splitlines()[0],
    )
    parser.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    add_key_db_argument(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("report.html"),
        help="the HTML file to write (default: report.html)",
    )
    parser.add_argument(
        "--at",
        help="the report's instant, ISO 8601 with an offset (or without one when --tz is given);"
        " default: now",
    )
    parser.add_argument("--tz", help="IANA time zone of an --at without offset (default: UTC)")
    parser.set_defaults(run=run)


@attrs.frozen(kw_only=True)
class ReportData:
    """Everything the page shows: the KPIs by section, the chart specs and the timings.

    Attributes:
        url: The database read (its password hidden).
        at: The report's instant.
        sections: ``(title, KPIs)`` in page order.
        details: ``(title, KPI)`` whose table is shown in full.
        charts: ``(caption, Vega-Lite spec)`` in page order.
        counts: Rows read per frame.
        read_seconds: Time to read the frames.
        kpi_seconds: Time to compute every KPI.
        locale: The language of the page's headings, KPI names and chart titles.
    """

    url: str
    at: pendulum.DateTime
    sections: tuple[tuple[str, tuple[Kpi, ...]], ...]
    details: tuple[tuple[str, Kpi], ...]
    charts: tuple[tuple[str, dict[str, Any]], ...]
    counts: tuple[tuple[str, int], ...]
    read_seconds: float
    kpi_seconds: float
    locale: Locale = DEFAULT_LOCALE


@attrs.frozen(kw_only=True)
class Report:
    """A rendered report: the HTML page and how long each part took.

    Attributes:
        data: What the page shows.
        html: The page.
        chart_seconds: Time to render the charts to SVG.
    """

    data: ReportData
    html: str
    chart_seconds: float


def _read(
    url: str, encryptor: Encryptor | None
) -> tuple[dict[str, Any], tuple[tuple[str, int], ...], list[Any]]:
    from crmcore.adapters.frames import stage_changes_frame  # noqa: PLC0415 - extras
    from crmcore.adapters.sql import SqlStore, create_engine  # noqa: PLC0415
    from crmcore.adapters.sql.frames import read_frame  # noqa: PLC0415

    engine = create_engine(url)
    try:
        names = {
            "customers": "customers",
            "orders": "orders",
            "opportunities": "opportunities",
            "cases": "cases",
            "responses": "survey_responses",
        }
        frames: dict[str, Any] = {
            key: read_frame(engine, table, encryptor=encryptor) for key, table in names.items()
        }
        with SqlStore(engine, encryptor=encryptor).unit_of_work() as uow:
            frames["stage_changes"] = stage_changes_frame(
                uow.history.events(types=["StageChanged"])
            )
            orders = list(uow.orders.iter_all())
    finally:
        engine.dispose()
    counts = tuple((name, int(frame.height)) for name, frame in frames.items())
    return frames, counts, orders


def _main_currency(orders: Sequence[Any]) -> str | None:
    paid = Counter(o.amount.currency for o in orders if o.status.value == "paid")
    return paid.most_common(1)[0][0] if paid else None


def collect(
    url: str,
    *,
    at: pendulum.DateTime,
    locale: Locale = DEFAULT_LOCALE,
    encryptor: Encryptor | None = None,
) -> ReportData:
    """Read the database at ``url`` and compute every KPI and chart spec of the report.

    Args:
        url: A SQLAlchemy URL (or an SQLite file path).
        at: The report's instant: the period is the twelve calendar months up to it.
        locale: The language of chart titles and headings (``"en"`` or ``"zh_CN"``).
        encryptor: The encryptor of a store with sensitive fields encrypted at
            rest (the customers' cities are among them).

    Returns:
        The KPIs, chart specs and timings.

    Raises:
        MissingExtraError: If the ``analytics`` extra (or ``sql``) is not installed.
        StorageError: If the database cannot be read.
    """
    from crmcore.analytics import charts  # noqa: PLC0415 - extras, imported when used
    from crmcore.analytics.customers import (  # noqa: PLC0415
        NoPurchaseWithin,
        churn_rate,
        cohort_retention,
        historical_clv,
        repeat_purchase_rate,
        retention_rate,
        stage_counts,
    )
    from crmcore.analytics.kpi import Period, per_period  # noqa: PLC0415
    from crmcore.analytics.quality import (  # noqa: PLC0415
        completeness,
        duplicate_rate,
        freshness,
        validity,
    )
    from crmcore.analytics.sales import (  # noqa: PLC0415
        sales_forecast,
        sales_velocity,
        stage_funnel,
        weighted_pipeline,
        win_rate,
    )
    from crmcore.analytics.service import (  # noqa: PLC0415
        backlog,
        customer_effort_score,
        customer_satisfaction,
        first_response_time,
        net_promoter_score,
        reopen_rate,
        resolution_time,
        sla_attainment,
    )
    from crmcore.lifecycle import china_mainland  # noqa: PLC0415
    from crmcore.segments import Quantiles, rfm_scores  # noqa: PLC0415

    started = time.perf_counter()
    frames, counts, orders = _read(url, encryptor)
    read_seconds = time.perf_counter() - started

    started = time.perf_counter()
    month = at.start_of("month")
    year = Period(month.subtract(months=MONTHS - 1), at)
    quarter = Period(month.subtract(months=2), at)
    customers, paid, changes = frames["customers"], frames["orders"], frames["stage_changes"]
    opportunities, cases, responses = (
        frames["opportunities"],
        frames["cases"],
        frames["responses"],
    )
    calendar = china_mainland()
    lost = NoPurchaseWithin(days=90)
    stages = stage_counts(customers, changes, period=year)
    cohorts = cohort_retention(customers, paid, period=year)
    clv_by_tier = historical_clv(customers, paid, at=at)
    clv_by_customer = historical_clv(customers, paid, at=at, by="id")
    funnel = stage_funnel(changes, period=year, records=opportunities)
    forecast = sales_forecast(opportunities, period=quarter)
    velocity = sales_velocity(opportunities, period=year)
    pipeline = weighted_pipeline(opportunities, at=at)
    nps = net_promoter_score(responses, period=year)
    quality = completeness(customers)
    customer_kpis = (
        stages,
        churn_rate(customers, period=quarter, lost=lost, orders=paid),
        retention_rate(customers, period=quarter, lost=lost, orders=paid),
        repeat_purchase_rate(paid, period=year),
        cohorts,
        clv_by_tier,
    )
    sales_kpis = (
        funnel,
        win_rate(opportunities, period=year),
        velocity,
        pipeline,
        forecast,
    )
    service_kpis = (
        first_response_time(cases, period=year, calendar=calendar, stage_changes=changes),
        resolution_time(cases, period=year, calendar=calendar, stage_changes=changes),
        sla_attainment(cases, period=year, calendar=calendar, stage_changes=changes),
        backlog(cases, period=year),
        reopen_rate(changes, period=year),
        nps,
        customer_satisfaction(responses, period=year),
        customer_effort_score(responses, period=year),
    )
    quality_kpis = (
        quality,
        validity(customers),
        duplicate_rate(customers),
        freshness(customers, at=at),
    )
    trend = per_period(net_promoter_score, responses, period=year)
    currency = _main_currency(orders)
    per_customer = clv_by_customer.table
    rows = per_customer.select("currency", "total").iter_rows() if per_customer is not None else ()
    values = [total for cur, total in rows if cur == currency]
    scores = (
        rfm_scores(orders, at=at, currency=currency, method=Quantiles(_RFM_SCORES))
        if currency
        else {}
    )
    kpi_seconds = time.perf_counter() - started

    moved = "opportunity" in changes["workflow"].unique().to_list()
    funnel_note = (
        ""
        if moved
        else " The event history holds no opportunity stage change: every opportunity counts"
        " in its first stage."
    )
    chart_specs = (
        (stages.definition, charts.stage_distribution_chart(stages, locale=locale)),
        (cohorts.definition, charts.cohort_heatmap(cohorts, locale=locale)),
        (funnel.definition + funnel_note, charts.funnel_chart(funnel, locale=locale)),
        (f"Per month: {nps.definition}", charts.nps_trend_chart(trend, locale=locale)),
        (
            f"Historical CLV: the sum of each customer's paid {currency} orders before the"
            " report's instant.",
            charts.clv_distribution_chart(values, bins=30, currency=currency, locale=locale),
        ),
        (
            f"Customers with paid {currency} orders, scored 1–{_RFM_SCORES} on recency and"
            " frequency by quantiles of the population.",
            charts.rfm_grid_chart(scores, locale=locale),
        ),
    )
    return ReportData(
        url=_hide_password(url),
        at=at,
        sections=(
            ("Customers", customer_kpis),
            ("Sales", sales_kpis),
            ("Service and satisfaction", service_kpis),
            ("Data quality", quality_kpis),
        ),
        details=(
            ("Historical CLV by tier", clv_by_tier),
            ("Sales velocity per currency", velocity),
            ("Weighted pipeline per currency", pipeline),
            ("Sales forecast by category", forecast),
            ("Completeness per field", quality),
        ),
        charts=chart_specs,
        counts=counts,
        read_seconds=read_seconds,
        kpi_seconds=kpi_seconds,
        locale=locale,
    )


_HTML_LANG: Final[dict[Locale, str]] = {"en": "en", "zh_CN": "zh-CN"}


def _label(heading: str, locale: Locale) -> str:
    """Return a heading of the page in ``locale`` (the catalogue's ``cli.`` keys)."""
    return text(f"cli.{heading}", heading, locale)


def _hide_password(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


# --------------------------------------------------------------------------- HTML

_STYLE: Final = """
body { font-family: "Noto Sans", "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei",
       sans-serif; margin: 2rem auto; max-width: 1180px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; border-bottom: 2px solid #4c78a8; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
p.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin-bottom: 1rem; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f6fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.def { color: #555; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
figure { margin: 0; border: 1px solid #eee; padding: .5rem; max-width: 560px; }
figcaption { font-size: .8rem; color: #555; }
"""


def _format(value: object, unit: str = "") -> str:
    if value is None:
        return "undefined"
    if isinstance(value, float):
        if unit.startswith("ratio"):
            return f"{value:.1%}"
        return f"{value:,.2f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _when(kpi: Kpi) -> str:
    if kpi.period is not None:
        return _period(kpi.period)
    if kpi.at is not None:
        return f"at {kpi.at.format('YYYY-MM-DD HH:mm')} UTC"
    return ""


def _period(period: Period) -> str:
    last = period.end.subtract(microseconds=1)
    return f"{period.start.format('YYYY-MM-DD')} – {last.format('YYYY-MM-DD')}"


def _kpi_rows(kpis: Sequence[Kpi], locale: Locale) -> str:
    rows = []
    for kpi in kpis:
        value = _format(kpi.value, kpi.unit)
        if kpi.currency and kpi.value is not None:
            value = f"{value} {kpi.currency}"
        if kpi.interval is not None:
            low, high = kpi.interval
            value = f"{value} [{low:,.1f}, {high:,.1f}]"
        counts = ""
        if kpi.numerator is not None and kpi.denominator is not None:
            counts = f"{_format(kpi.numerator)} / {_format(kpi.denominator)}"
        cells = (
            f"<td>{html.escape(text(f'kpi.{kpi.name}', kpi.name, locale))}</td>",
            f'<td class="num">{html.escape(value)}</td>',
            f"<td>{html.escape(kpi.unit.replace('``', ''))}</td>",
            f'<td class="num">{html.escape(counts)}</td>',
            f"<td>{html.escape(_when(kpi))}</td>",
            f'<td class="def">{html.escape(kpi.definition)}</td>',
        )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(
        f"<th>{html.escape(_label(h, locale))}</th>"
        for h in ("KPI", "value", "unit", "counts", "period", "definition")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _detail(kpi: Kpi, limit: int = 40) -> str:
    table = kpi.table
    if table is None:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    rows = []
    for row in table.head(limit).iter_rows():
        cells = []
        for cell in row:
            numeric = isinstance(cell, int | float | Decimal) and not isinstance(cell, bool)
            text = _format(cell) if numeric else ("" if cell is None else str(cell))
            css = ' class="num"' if numeric else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if table.height > limit:
        more = f"<p class='meta'>first {limit} of {table.height:,} rows</p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


_IDS: Final = re.compile(r'(\bid="|url\(#|href="#)')


def _inline(svg: str, prefix: str) -> str:
    """Return the SVG without its XML prolog, its ids made unique to this chart."""
    start = svg.find("<svg")
    body = svg[start:] if start >= 0 else svg
    return _IDS.sub(lambda match: f"{match.group(1)}{prefix}-", body)


def render_html(data: ReportData) -> Report:
    """Render the report page: KPI tables, detail tables and every chart as inline SVG.

    Raises:
        MissingExtraError: If the ``charts`` extra is not installed.
        InvalidValueError: If a chart cannot be rendered.
    """
    from crmcore.analytics.charts import render_svg  # noqa: PLC0415 - extra

    started = time.perf_counter()
    figures = []
    for n, (title, spec) in enumerate(data.charts):
        svg = _inline(render_svg(spec), f"chart{n}")
        figures.append(
            f'<figure id="chart-{n}">{svg}<figcaption>{html.escape(title)}</figcaption></figure>'
        )
    chart_seconds = time.perf_counter() - started
    sections = "".join(
        f"<h2>{html.escape(_label(title, data.locale))}</h2>{_kpi_rows(kpis, data.locale)}"
        for title, kpis in data.sections
    )
    details = "".join(
        f"<h3>{html.escape(_label(title, data.locale))}</h3>{_detail(kpi)}"
        for title, kpi in data.details
    )
    read = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in data.counts)
    at = data.at.in_tz("UTC").format("YYYY-MM-DD HH:mm")
    kpi_count = sum(len(kpis) for _, kpis in data.sections)
    page = f"""<!DOCTYPE html>
<html lang="{_HTML_LANG[data.locale]}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crmcore report — {html.escape(at)} UTC</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{html.escape(_label("CRM report", data.locale))}</h1>
<p class="meta">Database {html.escape(data.url)} · as of {html.escape(at)} UTC ·
twelve months {html.escape(_period(_year(data.at)))}</p>
<h2>{html.escape(_label("Charts", data.locale))}</h2>
<div class="charts">
{"".join(figures)}
</div>
{sections}
<h2>{html.escape(_label("Details", data.locale))}</h2>
{details}
<p class="meta">Read {html.escape(read)} in {data.read_seconds:.2f} s; {kpi_count} KPIs in
{data.kpi_seconds:.2f} s; {len(figures)} charts rendered in {chart_seconds:.2f} s by crmcore.</p>
</body>
</html>
"""
    return Report(data=data, html=page, chart_seconds=chart_seconds)


def _year(at: pendulum.DateTime) -> Period:
    from crmcore.analytics.kpi import Period  # noqa: PLC0415 - extra

    return Period(at.start_of("month").subtract(months=MONTHS - 1), at)


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore report``; return the exit code.

    Raises:
        InputError: If the SQLite file does not exist.
        MissingExtraError: If the ``analytics`` or ``charts`` extra is missing.
        InvalidValueError: If ``--at`` or ``--tz`` is invalid.
    """
    url = database_url(args.db)
    require_database_file(url)
    at = parse_at(args.at, args.tz)
    if args.out.is_dir():
        raise InvalidValueError("--out", str(args.out), "a file, not a directory")
    with open_encryptor(args.key_db, db=args.db, create=False) as encryptor:
        report = render_html(collect(url, at=at, locale=console.locale, encryptor=encryptor))
    args.out.write_text(report.html, encoding="utf-8")
    data = report.data
    rows: list[Sequence[object]] = []
    for section, kpis in data.sections:
        rows.extend((section, k.name, _summary(k)) for k in kpis)
    console.table("KPIs", ("section", "KPI", "value"), rows)
    console.print(
        f"wrote {args.out} ({len(report.html) // 1024:,} KiB, {len(data.charts)} charts): "
        f"frames read in {data.read_seconds:.2f} s, KPIs in {data.kpi_seconds:.2f} s, "
        f"charts in {report.chart_seconds:.2f} s"
    )
    return 0


def _summary(kpi: Kpi) -> str:
    value = _format(kpi.value, kpi.unit)
    return f"{value} {kpi.currency}" if kpi.currency and kpi.value is not None else value
