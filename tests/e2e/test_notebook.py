"""docs/notebooks/analytics.ipynb, executed top to bottom in a real Jupyter kernel.

The notebook builds a demo database (``CRMCORE_DEMO_DB`` points it at a
temporary file), loads the frames, computes KPIs and the CLV models and draws
charts. Its outputs are then checked against the same figures computed here,
independently, from the same database — not only that it ran.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import nbformat
import pendulum
import polars as pl
import pytest
from nbclient import NotebookClient

from crmcore.adapters.sql import create_engine
from crmcore.adapters.sql.frames import read_frame

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebooks" / "analytics.ipynb"


def texts(cell: Any) -> str:
    """Return every stream and text/plain output of a code cell, joined."""
    out = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            out.append(output["text"])
        elif "data" in output:
            out.append(output["data"].get("text/plain", ""))
        elif output["output_type"] == "error":
            out.append("\n".join(output["traceback"]))
    return "\n".join(out)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], Path]:
    db = tmp_path_factory.mktemp("notebook") / "crm.sqlite"
    notebook = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []  # the stored outputs must not count
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRMCORE_DEMO_DB", str(db))
        NotebookClient(
            notebook,
            timeout=60,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        ).execute()
    return [c for c in notebook.cells if c.cell_type == "code"], db


def test_the_notebook_is_stored_executed_without_errors() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
    assert all(o["output_type"] != "error" for c in code for o in c.get("outputs", []))


def test_every_cell_runs_and_the_demo_database_is_built(executed: tuple[list[Any], Path]) -> None:
    cells, db = executed
    assert db.is_file()
    assert all(o["output_type"] != "error" for c in cells for o in c.get("outputs", []))
    loaded = texts(cells[1])
    customers = read_frame(create_engine(f"sqlite:///{db}"), "customers")
    assert re.search(rf"customers\W+{customers.height}\b", loaded)


def test_the_kpis_printed_are_the_ones_computed_independently(
    executed: tuple[list[Any], Path],
) -> None:
    cells, db = executed
    engine = create_engine(f"sqlite:///{db}")
    orders = read_frame(engine, "orders")
    responses = read_frame(engine, "survey_responses")
    customers = read_frame(engine, "customers")
    engine.dispose()
    latest = customers["updated_at"].max()
    assert isinstance(latest, dt.datetime)
    at = pendulum.instance(latest).add(seconds=1)
    start = at.start_of("month").subtract(months=11)
    paid = orders.filter(
        (pl.col("status") == "paid") & (pl.col("ordered_at") >= start) & (pl.col("ordered_at") < at)
    )
    per_customer = paid.group_by("customer_id").len()
    buyers, repeat = per_customer.height, int((per_customer["len"] >= 2).sum())
    answers = responses.filter((pl.col("responded_at") >= start) & (pl.col("responded_at") < at))
    scores = answers["nps"].drop_nulls()
    promoters, detractors = int((scores >= 9).sum()), int((scores <= 6).sum())
    csat = answers["csat"].drop_nulls()

    printed = texts(cells[2])
    assert f"repeat-purchase rate: {repeat / buyers} (ratio 0–1; {repeat} / {buyers})" in printed
    nps = 100 * (promoters - detractors) / scores.len()
    assert f"net promoter score: {nps}" in printed
    assert f"; {promoters - detractors} / {scores.len()})" in printed
    assert f"CSAT: {int((csat >= 4).sum()) / csat.len()}" in printed
    for column in ("name", "value", "numerator", "denominator", "unit"):
        assert column in printed  # the summary frame's columns


def test_the_clv_models_converge_and_the_charts_are_svg(
    executed: tuple[list[Any], Path],
) -> None:
    cells, _ = executed
    clv = texts(cells[4])
    assert "BG/NBD True {'r': " in clv
    assert "Gamma-Gamma True {'p': " in clv
    assert re.search(r"mean 12-month CLV: [\d,]+\.\d\d CNY", clv)
    svgs = [
        o["data"]["image/svg+xml"]
        for c in cells[5:]
        for o in c.get("outputs", [])
        if "image/svg+xml" in o.get("data", {})
    ]
    assert len(svgs) == 2
    assert "Cohort retention" in svgs[0]
    assert "Customer value distribution" in svgs[1]
