from __future__ import annotations

import datetime as dt
import itertools
import json
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pendulum
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.analytics.charts import (
    LOCALES,
    SCHEMA_URL,
    TITLES,
    Spec,
    as_altair,
    clv_distribution_chart,
    cohort_heatmap,
    funnel_chart,
    nps_trend_chart,
    render_png,
    render_svg,
    rfm_grid_chart,
    stage_distribution_chart,
)
from crmcore.analytics.customers import cohort_retention, stage_counts
from crmcore.analytics.kpi import COUNT, Kpi, Period, per_period
from crmcore.analytics.sales import stage_funnel
from crmcore.analytics.service import net_promoter_score
from crmcore.domain import CustomerId, Money, Order
from crmcore.errors import InvalidValueError, MissingExtraError, PayloadError
from crmcore.lifecycle import LEAD_WORKFLOW
from crmcore.segments import Quantiles, RfmScore, rfm_scores

UTC = pl.Datetime("us", "UTC")
YEAR = Period(pendulum.datetime(2026, 1, 1), pendulum.datetime(2026, 7, 1))
SVG = "{http://www.w3.org/2000/svg}"


def t(month: int, day: int) -> pendulum.DateTime:
    return pendulum.datetime(2026, month, day, 9)


def customers_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "created_at": [t(1, 2), t(1, 5), t(2, 7), t(3, 1)],
            "lifecycle_stage": ["new", "growth", "new", "churned"],
            "merged_into": [None, None, None, None],
        },
        schema_overrides={"created_at": UTC, "merged_into": pl.String},
    )


def orders_frame() -> pl.DataFrame:
    rows = [("a", 1, 3), ("a", 2, 4), ("b", 1, 9), ("c", 2, 10), ("c", 4, 1), ("d", 3, 2)]
    return pl.DataFrame(
        {
            "customer_id": [c for c, _, _ in rows],
            "amount": [Decimal(100 * (i + 1)) for i in range(len(rows))],
            "currency": ["CNY"] * len(rows),
            "status": ["paid"] * len(rows),
            "ordered_at": [t(m, d) for _, m, d in rows],
        },
        schema_overrides={"amount": pl.Decimal(38, 6), "ordered_at": UTC},
    )


def changes_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "entity": ["customer", "customer", "lead", "lead", "lead", "lead"],
            "entity_id": ["a", "d", "l1", "l1", "l2", "l3"],
            "workflow": ["customer-lifecycle"] * 2 + ["lead"] * 4,
            "from_stage": ["new", "growth", "new", "contacted", "new", "new"],
            "to_stage": [
                "growth",
                "churned",
                "contacted",
                "qualified",
                "contacted",
                "disqualified",
            ],
            "at": [t(2, 1), t(5, 1), t(3, 2), t(3, 4), t(3, 2), t(3, 3)],
        },
        schema_overrides={"at": UTC},
    )


def responses_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "nps": [10, 9, 3, 8, 0, 10],
            "csat": [None] * 6,
            "ces": [None] * 6,
            "responded_at": [t(1, 3), t(1, 9), t(2, 2), t(2, 9), t(4, 4), t(4, 5)],
        },
        schema_overrides={"csat": pl.Int64, "ces": pl.Int64, "responded_at": UTC},
    )


def scores() -> dict[Any, RfmScore]:
    at = pendulum.datetime(2026, 6, 30)
    orders = [
        Order(
            id=f"o{i}",
            customer_id=f"c{i % 7}",
            amount=Money(10 * (i + 1), "CNY"),
            ordered_at=at.subtract(days=3 * i),
            created_at=at.subtract(days=3 * i),
            updated_at=at.subtract(days=3 * i),
        )
        for i in range(20)
    ]
    return rfm_scores(orders, at=at, currency="CNY", method=Quantiles(3))


def all_charts(locale: str = "en") -> dict[str, Spec]:
    return {
        "funnel": funnel_chart(
            stage_funnel(changes_frame(), period=YEAR, workflow=LEAD_WORKFLOW), locale=locale
        ),
        "cohort": cohort_heatmap(
            cohort_retention(customers_frame(), orders_frame(), period=YEAR), locale=locale
        ),
        "stages": stage_distribution_chart(
            stage_counts(customers_frame(), changes_frame(), period=YEAR), locale=locale
        ),
        "nps": nps_trend_chart(
            per_period(net_promoter_score, responses_frame(), period=YEAR), locale=locale
        ),
        "clv": clv_distribution_chart([12.5, 80, 80, 300, 1200], bins=5, locale=locale),
        "rfm": rfm_grid_chart(scores(), locale=locale),
    }


def data_of(spec: Spec, layer: int | None = None) -> list[dict[str, Any]]:
    source = spec if layer is None else spec["layer"][layer]
    values: list[dict[str, Any]] = source["data"]["values"]
    return values


def fields(encoding: dict[str, Any]) -> set[str]:
    out = set()
    for channel in encoding.values():
        for item in channel if isinstance(channel, list) else [channel]:
            if isinstance(item, dict) and "field" in item:
                out.add(item["field"])
    return out


def mark_items(svg: str, mark: str) -> int:
    """Count the items of every ``mark-<mark> role-mark`` group of the SVG."""
    root = ET.fromstring(svg)  # noqa: S314 - our own renderer's output
    groups = [
        g
        for g in root.iter(f"{SVG}g")
        if f"mark-{mark}" in g.get("class", "") and "role-mark" in g.get("class", "")
    ]
    return sum(len(list(g)) for g in groups)


# ----------------------------------------------------------------- structure


@pytest.mark.parametrize("name", ["funnel", "cohort", "stages", "nps", "clv", "rfm"])
def test_every_spec_is_json_declares_vega_lite_and_validates_against_its_schema(
    name: str,
) -> None:
    spec = all_charts()[name]
    assert json.loads(json.dumps(spec, allow_nan=False)) == spec
    assert spec["$schema"] == SCHEMA_URL
    assert spec["title"]["text"] == TITLES["en"][name]
    as_altair(spec)  # raises on a spec the Vega-Lite schema refuses


@pytest.mark.parametrize("name", ["funnel", "cohort", "stages", "nps", "clv", "rfm"])
def test_every_encoded_field_is_in_the_data(name: str) -> None:
    spec = all_charts()[name]
    layers = spec.get("layer", [spec])
    for layer in layers:
        rows = layer["data"]["values"] if "data" in layer else data_of(spec)
        encoding = {**spec.get("encoding", {}), **layer.get("encoding", {})}
        assert rows
        for field in fields(encoding):
            assert all(field in row for row in rows), field


def test_funnel_spec_holds_the_funnel_steps_in_order() -> None:
    kpi = stage_funnel(changes_frame(), period=YEAR, workflow=LEAD_WORKFLOW)
    spec = funnel_chart(kpi)
    assert [(r["stage"], r["reached"]) for r in data_of(spec)] == [
        ("new", 3),
        ("contacted", 2),
        ("qualified", 1),
        ("converted", 0),
    ]
    assert [r["from_start"] for r in data_of(spec)] == [1.0, 2 / 3, 1 / 3, 0.0]
    assert spec["encoding"]["y"]["sort"] == ["new", "contacted", "qualified", "converted"]
    assert spec["title"]["subtitle"] == "2026-01-01 – 2026-06-30"


def test_funnel_broken_down_by_group_is_summed_over_the_groups() -> None:
    table = pl.DataFrame(
        {
            "owner": ["u1", "u1", "u2", "u2"],
            "step": [0, 1, 0, 1],
            "stage": ["new", "won", "new", "won"],
            "reached": [3, 1, 2, 2],
        }
    )
    kpi = Kpi(name="funnel", definition="d", unit=COUNT, value=None, table=table)
    assert [(r["stage"], r["reached"]) for r in data_of(funnel_chart(kpi))] == [
        ("new", 5),
        ("won", 3),
    ]


def test_cohort_heatmap_has_one_cell_per_matrix_cell_on_a_fixed_scale() -> None:
    kpi = cohort_retention(customers_frame(), orders_frame(), period=YEAR)
    spec = cohort_heatmap(kpi)
    assert kpi.table is not None
    expected = [
        (c.strftime("%Y-%m"), m, s, a, r)
        for c, m, s, a, r in kpi.table.select(
            "cohort", "months_since", "cohort_size", "active", "retention"
        ).iter_rows()
    ]
    got = [
        (r["cohort"], r["months_since"], r["cohort_size"], r["active"], r["retention"])
        for r in data_of(spec)
    ]
    assert got == expected
    assert spec["encoding"]["color"]["scale"]["domain"] == [0, 1]
    assert spec["encoding"]["y"]["sort"] == ["2026-01", "2026-02", "2026-03"]


def test_stage_distribution_counts_each_bucket_and_keeps_the_stage_order() -> None:
    kpi = stage_counts(customers_frame(), changes_frame(), period=YEAR)
    spec = stage_distribution_chart(kpi)
    rows = data_of(spec)
    january = {r["stage"]: r["customers"] for r in rows if r["bucket"] == "2026-01-31"}
    june = {r["stage"]: r["customers"] for r in rows if r["bucket"] == "2026-06-30"}
    # a is new until 1 February; b never moved, so is in its current stage, growth
    assert (january["new"], january["growth"], sum(january.values())) == (1, 1, 2)
    assert sum(june.values()) == 4
    assert june["churned"] == 1
    assert spec["encoding"]["color"]["sort"][:3] == ["potential", "new", "growth"]


def test_nps_trend_has_one_point_per_bucket_and_breaks_on_empty_ones() -> None:
    trend = per_period(net_promoter_score, responses_frame(), period=YEAR)
    rows = data_of(nps_trend_chart(trend), layer=1)
    assert [r["bucket"] for r in rows] == [f"2026-0{m}-01" for m in range(1, 7)]
    assert [r["answers"] for r in rows] == [2, 2, 0, 2, 0, 0]
    assert [r["nps"] for r in rows] == [100.0, -50.0, None, 0.0, None, None]


def test_clv_histogram_counts_every_value_once() -> None:
    spec = clv_distribution_chart(pl.Series([0.0, 1.0, 2.0, 10.0, None]), bins=2)
    assert [(r["low"], r["high"], r["customers"]) for r in data_of(spec)] == [
        (0.0, 5.0, 3),
        (5.0, 10.0, 1),
    ]
    assert spec["title"]["subtitle"] == "4 customers"


def test_rfm_grid_lists_every_cell_and_counts_every_customer() -> None:
    scored = scores()
    spec = rfm_grid_chart(scored)
    rows = data_of(spec)
    assert [(r["r"], r["f"]) for r in rows] == [(r, f) for r in (1, 2, 3) for f in (1, 2, 3)]
    assert sum(r["customers"] for r in rows) == len(scored) == 7
    for row in rows:
        members = [s for s in scored.values() if (s.r, s.f) == (row["r"], row["f"])]
        assert row["customers"] == len(members)
        if members:
            mean = sum(s.monetary for s in members) / len(members)
            assert row["monetary"] == pytest.approx(float(mean))
        else:
            assert row["monetary"] is None


# ----------------------------------------------------------------- locale


def test_chinese_titles_come_from_the_one_dict() -> None:
    charts = all_charts("zh_CN")
    assert charts["cohort"]["title"]["text"] == "同期群留存：各期客户再次购买的比例"
    assert charts["rfm"]["encoding"]["x"]["title"] == TITLES["zh_CN"]["rfm.r"]
    assert LOCALES == ("en", "zh_CN")
    assert set(TITLES["en"]) == set(TITLES["zh_CN"])


def test_an_unknown_locale_is_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"locale.*supported locales are en, zh_CN"):
        clv_distribution_chart([1.0], locale="fr")


# ----------------------------------------------------------------- bad input


def test_a_non_tabular_kpi_is_a_payload_error() -> None:
    kpi = Kpi(name="x", definition="d", unit=COUNT, value=1)
    with pytest.raises(PayloadError, match="funnel"):
        funnel_chart(kpi)
    with pytest.raises(PayloadError, match="cohort retention"):
        cohort_heatmap("not a kpi")  # type: ignore[arg-type]


def test_a_missing_column_is_named() -> None:
    kpi = Kpi(name="x", definition="d", unit=COUNT, value=1, table=pl.DataFrame({"stage": ["a"]}))
    with pytest.raises(PayloadError, match=r"\$\.table\.customers") as caught:
        stage_distribution_chart(kpi)
    assert "bucket_end" in str(caught.value)
    with pytest.raises(PayloadError, match=r"\$\.denominator"):
        nps_trend_chart(pl.DataFrame({"bucket_start": [dt.date(2026, 1, 1)], "value": [1.0]}))


def test_an_nps_out_of_range_is_named_by_row() -> None:
    trend = pl.DataFrame(
        {"bucket_start": [dt.date(2026, 1, 1)] * 2, "value": [10.0, 130.0], "denominator": [1, 1]}
    )
    with pytest.raises(PayloadError, match=r"\$\[1\]\.value"):
        nps_trend_chart(trend)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "12", True])
def test_a_value_that_is_not_a_finite_number_is_refused(bad: object) -> None:
    with pytest.raises(InvalidValueError, match=r"values\[1\]"):
        clv_distribution_chart([1.0, bad])  # type: ignore[list-item]


@pytest.mark.parametrize("bins", [0, 201, True, 2.5])
def test_bins_out_of_range_are_refused(bins: object) -> None:
    with pytest.raises(InvalidValueError, match="bins"):
        clv_distribution_chart([1.0], bins=bins)  # type: ignore[arg-type]


def test_rfm_scores_on_different_scales_are_refused() -> None:
    five = next(iter(scores().values()))
    import attrs  # noqa: PLC0415

    with pytest.raises(InvalidValueError, match="one number of scores"):
        rfm_grid_chart([five, attrs.evolve(five, scores=5)])
    with pytest.raises(InvalidValueError, match=r"scores\[0\]"):
        rfm_grid_chart(["c1"])  # type: ignore[list-item]


def test_an_empty_input_still_makes_a_valid_chart() -> None:
    assert data_of(clv_distribution_chart([])) == []
    grid = data_of(rfm_grid_chart({}))
    assert len(grid) == 25
    assert all(r["customers"] == 0 for r in grid)


# ----------------------------------------------------------------- rendering


@pytest.mark.parametrize(
    ("name", "mark", "items"),
    [
        ("funnel", "rect", 4),  # one bar per step
        ("cohort", "rect", 15),  # 6 + 5 + 4 cells (January, February, March cohorts)
        ("stages", "rect", 6 * 6),  # six buckets × six stages (zero bars included)
        ("nps", "symbol", 3),  # one point per bucket with answers (3 of 6)
        ("clv", "rect", 5),
        ("rfm", "rect", 9),
    ],
)
def test_every_chart_renders_to_svg_with_one_mark_per_datum(
    name: str, mark: str, items: int
) -> None:
    spec = all_charts()[name]
    svg = render_svg(spec)
    assert svg.startswith("<svg")
    assert mark_items(svg, mark) == items
    assert "Infinity" not in svg
    assert "NaN" not in svg


def test_a_chinese_chart_renders_its_title() -> None:
    svg = render_svg(all_charts("zh_CN")["rfm"])
    assert "RFM 网格" in svg


def test_png_rendering_gives_a_png_scaled() -> None:
    spec = all_charts()["clv"]
    small, large = render_png(spec, scale=1), render_png(spec, scale=2)
    assert small[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(small[16:20], "big")
    assert int.from_bytes(large[16:20], "big") == 2 * width
    with pytest.raises(InvalidValueError, match="scale"):
        render_png(spec, scale=0)


def test_a_spec_vl_convert_cannot_compile_is_an_invalid_value_error() -> None:
    with pytest.raises(InvalidValueError, match="spec"):
        render_svg({"mark": "bogus", "data": {"values": []}})
    with pytest.raises(InvalidValueError, match="spec"):
        render_svg("not a spec")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="spec"):
        as_altair({"mark": {"type": "no-such-mark"}, "data": {"values": []}})


def test_without_the_charts_extra_rendering_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)
    monkeypatch.setitem(sys.modules, "altair", None)
    spec = all_charts()["clv"]
    with pytest.raises(MissingExtraError, match=r"crmcore\[charts\]"):
        render_svg(spec)
    with pytest.raises(MissingExtraError, match=r"crmcore\[charts\]"):
        render_png(spec)
    with pytest.raises(MissingExtraError, match=r"crmcore\[charts\]"):
        as_altair(spec)
    assert spec["data"]["values"]  # building a spec needs no extra


# ----------------------------------------------------------------- properties

customer_ids = st.sampled_from([f"c{i}" for i in range(12)])
order_rows = st.lists(
    st.tuples(
        customer_ids, st.integers(1, 6), st.integers(1, 28), st.sampled_from(["paid", "refunded"])
    ),
    max_size=40,
)


def frames_from(rows: list[tuple[str, int, int, str]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    customers = pl.DataFrame(
        {
            "id": [f"c{i}" for i in range(12)],
            "created_at": [t(1, 1)] * 12,
            "lifecycle_stage": ["new"] * 12,
            "merged_into": [None] * 12,
        },
        schema_overrides={"created_at": UTC, "merged_into": pl.String},
    )
    orders = pl.DataFrame(
        {
            "customer_id": [c for c, _, _, _ in rows],
            "amount": [Decimal(10)] * len(rows),
            "currency": ["CNY"] * len(rows),
            "status": [s for _, _, _, s in rows],
            "ordered_at": [t(m, d) for _, m, d, _ in rows],
        },
        schema_overrides={
            "amount": pl.Decimal(38, 6),
            "ordered_at": UTC,
            "customer_id": pl.String,
            "status": pl.String,
        },
    )
    return customers, orders


@given(order_rows)
def test_heatmap_cells_are_the_cohort_matrix_cells(rows: list[tuple[str, int, int, str]]) -> None:
    customers, orders = frames_from(rows)
    kpi = cohort_retention(customers, orders, period=YEAR)
    assert kpi.table is not None
    cells = {(r["cohort"], r["months_since"]): r for r in data_of(cohort_heatmap(kpi))}
    matrix = {
        (c.strftime("%Y-%m"), m): (s, a, r)
        for c, m, s, a, r in kpi.table.select(
            "cohort", "months_since", "cohort_size", "active", "retention"
        ).iter_rows()
    }
    assert set(cells) == set(matrix)
    for key, (size, active, share) in matrix.items():
        cell = cells[key]
        assert (cell["cohort_size"], cell["active"], cell["retention"]) == (size, active, share)
        assert 0 <= cell["retention"] <= 1
    first_months = [c for c in cells.values() if c["months_since"] == 0]
    assert sum(c["cohort_size"] for c in first_months) == kpi.value


@given(
    st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9), st.integers(-(10**6), 10**6)), max_size=60),
    st.integers(1, 30),
)
def test_histogram_counts_sum_to_the_values_and_bins_tile_the_range(
    values: list[float | int | None], bins: int
) -> None:
    present = [float(v) for v in values if v is not None]
    rows = data_of(clv_distribution_chart(values, bins=bins))
    assert sum(r["customers"] for r in rows) == len(present)
    if present:
        assert len(rows) == bins
        low, high = min(present), max(present)
        assert rows[0]["low"] <= low
        assert rows[-1]["high"] >= high
        if low < high:
            assert rows[0]["low"] == pytest.approx(low)
            assert rows[-1]["high"] == pytest.approx(high)
        assert all(a["high"] == b["low"] for a, b in itertools.pairwise(rows))


@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(0, 10**6)),
        min_size=1,
        max_size=40,
    )
)
def test_rfm_grid_is_complete_and_counts_every_customer(
    cells: list[tuple[int, int, int]],
) -> None:
    items = [
        RfmScore(
            customer_id=CustomerId(f"c{i}"),
            recency_days=1,
            frequency=1,
            monetary=Decimal(m),
            r=r,
            f=f,
            m=1,
            scores=4,
        )
        for i, (r, f, m) in enumerate(cells)
    ]
    rows = data_of(rfm_grid_chart(items))
    assert len(rows) == 16
    assert sum(r["customers"] for r in rows) == len(items)
    assert all((r["monetary"] is None) == (r["customers"] == 0) for r in rows)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["l1", "l2", "l3", "l4"]),
            st.sampled_from(["contacted", "qualified", "converted", "disqualified"]),
            st.integers(1, 28),
        ),
        max_size=20,
    )
)
def test_funnel_spec_never_grows_down_the_funnel(
    moves: list[tuple[str, str, int]],
) -> None:
    changes = pl.DataFrame(
        {
            "entity": ["lead"] * len(moves),
            "entity_id": [m[0] for m in moves],
            "workflow": ["lead"] * len(moves),
            "from_stage": ["new"] * len(moves),
            "to_stage": [m[1] for m in moves],
            "at": [t(2, d) for _, _, d in moves],
        },
        schema_overrides={"at": UTC, "entity_id": pl.String, "to_stage": pl.String},
    )
    kpi = stage_funnel(changes, period=YEAR, workflow=LEAD_WORKFLOW)
    rows = data_of(funnel_chart(kpi))
    reached = [r["reached"] for r in rows]
    assert reached == sorted(reached, reverse=True)
    assert reached[0] == kpi.denominator
    assert all(r["from_start"] is None or 0 <= r["from_start"] <= 1 for r in rows)


stage_names = st.sampled_from(["potential", "new", "growth", "mature", "decline", "churned"])


@given(
    st.lists(st.tuples(st.integers(1, 6), stage_names), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), stage_names, st.integers(1, 6)), max_size=20),
)
def test_stage_bars_are_the_stage_counts_and_stack_to_the_customers_registered(
    people: list[tuple[int, str]], moves: list[tuple[int, str, int]]
) -> None:
    customers = pl.DataFrame(
        {
            "id": [f"c{i}" for i in range(len(people))],
            "created_at": [t(m, 10) for m, _ in people],
            "lifecycle_stage": [s for _, s in people],
            "merged_into": [None] * len(people),
        },
        schema_overrides={"created_at": UTC, "merged_into": pl.String},
    )
    valid = [(i % len(people), s, m) for i, s, m in moves]
    changes = pl.DataFrame(
        {
            "entity": ["customer"] * len(valid),
            "entity_id": [f"c{i}" for i, _, _ in valid],
            "workflow": ["customer-lifecycle"] * len(valid),
            "from_stage": ["potential"] * len(valid),
            "to_stage": [s for _, s, _ in valid],
            "at": [t(m, 20) for _, _, m in valid],
        },
        schema_overrides={"at": UTC, "entity_id": pl.String, "to_stage": pl.String},
    )
    kpi = stage_counts(customers, changes, period=YEAR)
    assert kpi.table is not None
    rows = data_of(stage_distribution_chart(kpi))
    assert [(r["stage"], r["customers"]) for r in rows] == kpi.table.select(
        "stage", "customers"
    ).rows()
    for month in range(1, 7):
        end = pendulum.datetime(2026, month, 1).add(months=1)
        bucket = end.subtract(days=1).format("YYYY-MM-DD")
        registered = sum(1 for m, _ in people if t(m, 10) < end)
        assert sum(r["customers"] for r in rows if r["bucket"] == bucket) == registered
