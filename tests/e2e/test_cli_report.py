"""``crmcore report`` as the user runs it: on a demo database, piped and on a pseudo-terminal.

The page is then opened in a real headless Chromium (Debian's ``chromium``):
it must load without a console error, and the rendered DOM must hold every
chart's SVG. The test skips only when Chromium is missing and ``CI`` is unset;
under CI a missing Chromium fails.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.e2e.cli_process import TIMEOUT, Run, on_terminal, piped

from crmcore.cli import main
from crmcore.cli.console import Console

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pseudo-terminal"
)

CHARTS = 6
KPI_NAMES = (
    "churn rate",
    "cohort retention",
    "repeat-purchase rate",
    "win rate",
    "net promoter score",
    "CSAT",
    "completeness",
    "duplicate rate",
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report")


@pytest.fixture(scope="module")
def demo_db(folder: Path) -> str:
    db = str(folder / "demo.sqlite")
    run = piped(["demo", "--size", "120", "--seed", "5", "--db", db], folder)
    assert run.code == 0, run.output
    return db


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI installs it in .ci/run)")
        pytest.skip("chromium is not installed")
    return found


class Page(HTMLParser):
    """The elements of an HTML page: tag counts, ids, and the resources it would fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.fetches: list[str] = []
        self.figures: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        values = dict(attrs)
        for name in ("src", "href"):
            link = values.get(name) or ""
            if link and not link.startswith("#"):
                self.fetches.append(f"{tag} {name}={link}")
        if tag == "link":
            self.fetches.append(f"link {values}")
        if tag == "figure":
            self.figures.append(values.get("id") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def assert_report(html: str) -> Page:
    page = parse(html)
    assert page.tags.get("script", 0) == 0  # static: no JavaScript
    assert page.fetches == []  # self-contained: nothing to fetch
    assert page.figures == [f"chart-{n}" for n in range(CHARTS)]
    assert page.tags.get("svg", 0) == CHARTS
    text = " ".join(page.text)
    assert [k for k in KPI_NAMES if k not in text] == []
    for title in ("Customers by lifecycle stage", "Cohort retention", "Net promoter score"):
        assert title in text
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # the charts' SVG ids were made unique
    return page


@pytest.fixture(scope="module")
def reports(folder: Path, demo_db: str) -> dict[str, tuple[Run, Path]]:
    """``crmcore report`` on the demo database, piped and on a terminal (run once each)."""
    out: dict[str, tuple[Run, Path]] = {}
    for mode, runner in (("piped", piped), ("terminal", on_terminal)):
        page = folder / f"report-{mode}.html"
        out[mode] = runner(["report", "--db", demo_db, "--out", str(page)], folder), page
    return out


@pytest.mark.parametrize("mode", ["piped", "terminal"])
def test_report_on_the_demo_database_writes_a_static_page(
    reports: dict[str, tuple[Run, Path]], mode: str
) -> None:
    run, out = reports[mode]
    assert (run.code, "Traceback" in run.output) == (0, False), run.output
    assert f"wrote {out}" in run.output.replace("\n", "")
    assert "KPIs in" in run.output
    assert "net promoter score" in run.output
    if mode == "piped":
        assert "\x1b" not in run.output
    assert_report(out.read_text(encoding="utf-8"))


def test_report_opens_in_headless_chromium_without_console_errors(
    folder: Path, reports: dict[str, tuple[Run, Path]], chromium: str
) -> None:
    _, out = reports["piped"]
    shot = folder / "report.png"
    done = subprocess.run(  # noqa: S603 - the system's chromium on our own file
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2400",
            f"--screenshot={shot}",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert console == []  # no console message at all: no error, no failed resource
    assert "Failed to load resource" not in done.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a drawn page, not a blank one

    dom = subprocess.run(  # noqa: S603 - the system's chromium on our own file
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=folder,
    )
    assert dom.returncode == 0, dom.stderr
    rendered = assert_report(dom.stdout)  # the browser's DOM, after parsing and layout
    assert rendered.tags.get("path", 0) > 100  # the marks are in the DOM, not only the <svg>s


def run_in_process(*args: str) -> Run:
    out = io.StringIO()
    code = main(list(args), console=Console(out, out))
    return Run(code, out.getvalue())


def test_report_of_a_missing_database_is_one_line(folder: Path) -> None:
    run = run_in_process("report", "--db", str(folder / "missing.sqlite"))
    assert run == Run(2, f"crmcore report: error: no such database file: {folder}/missing.sqlite\n")


def test_report_into_a_directory_is_refused(folder: Path, demo_db: str) -> None:
    run = run_in_process("report", "--db", demo_db, "--out", str(folder))
    assert run.code == 2
    assert run.output.startswith("crmcore report: error: invalid --out")
    assert "a file, not a directory" in run.output


def test_report_without_the_charts_extra_names_it(
    folder: Path, demo_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)
    out = folder / "no-charts.html"
    assert main(["report", "--db", demo_db, "--out", str(out)]) == 2
    assert "pip install 'crmcore[charts]'" in capsys.readouterr().err
    assert not out.exists()


def test_report_in_chinese_labels_headings_kpis_and_charts(folder: Path, demo_db: str) -> None:
    page = folder / "report-zh.html"
    run = run_in_process("--lang", "zh_CN", "report", "--db", demo_db, "--out", str(page))
    assert run.code == 0, run.output
    html = page.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    text = " ".join(parse(html).text)
    for heading in ("客户关系管理报告", "图表", "明细", "销售", "数据质量"):
        assert heading in text
    assert "客户流失率" in text  # the KPI "churn rate" by its catalogue label
    assert "净推荐值" in html  # a chart title, inside the inline SVG
    assert "CRM report" not in text
