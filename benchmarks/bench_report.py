"""Benchmark ``crmcore report`` on a demo database: reading, every KPI, charts, the page.

Run: ``python benchmarks/bench_report.py [--db sqlite:///demo.sqlite] [--size 2000] [--repeat 3]``

Without ``--db`` a demo database of ``--size`` contacts is built first in a temporary
directory (``crmcore demo``, 2,000 contacts by default — the demo's own size). Then, best
of ``repeat``, the report's parts are timed as ``crmcore report`` runs them:

* reading the frames (``read_frame`` of five tables, the event history's stage changes,
  and the orders as records for the RFM scores) — the baseline every other row is a
  ratio of;
* computing every KPI of the report (23 KPIs, the NPS per month, the per-customer CLV and
  the RFM scores) — the issue's budget is 2 s for every KPI on the demo database;
* building the six chart specs, and rendering them to SVG with vl-convert;
* the whole page (``collect`` + ``render_html``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pendulum

from crmcore.cli.report import collect, render_html

BUDGET_SECONDS = 2.0


def build_demo(size: int, folder: Path) -> str:
    db = folder / "demo.sqlite"
    subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "crmcore", "demo", "--size", str(size), "--db", str(db)],
        check=True,
        capture_output=True,
    )
    return f"sqlite:///{db}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="", help="a crmcore database (default: build a demo)")
    parser.add_argument("--size", type=int, default=2_000, help="contacts of the demo built")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crmcore-bench-report-") as folder:
        run(args.db or build_demo(args.size, Path(folder)), args.repeat)


def run(url: str, repeat: int) -> None:
    at = pendulum.now("UTC")
    collect(url, at=at)  # warm up: imports, calendars, vl-convert's engine
    reads, kpis, pages, renders = [], [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        data = collect(url, at=at)
        report = render_html(data)
        pages.append(time.perf_counter() - started)
        reads.append(data.read_seconds)
        kpis.append(data.kpi_seconds)
        renders.append(report.chart_seconds)
    rows = [f"{n:,} {name}" for name, n in data.counts]
    print(f"database {url}: {', '.join(rows)}")
    kpi_count = sum(len(k) for _, k in data.sections)
    base = min(reads)
    table = [
        ("read the frames (baseline)", base),
        (f"every KPI ({kpi_count} KPIs + NPS trend, CLV, RFM)", min(kpis)),
        ("render 6 charts to SVG (vl-convert)", min(renders)),
        ("whole report (collect + render_html)", min(pages)),
    ]
    print(f"\n{'part':48} {'seconds':>9} {'× read':>8}")
    for name, seconds in table:
        print(f"{name:48} {seconds:9.3f} {seconds / base:8.2f}")
    verdict = "within" if min(kpis) <= BUDGET_SECONDS else "OVER"
    print(f"\nevery KPI: {min(kpis):.3f} s, {verdict} the budget of {BUDGET_SECONDS:.1f} s")


if __name__ == "__main__":
    main()
