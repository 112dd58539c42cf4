"""The documentation site builds strictly, with every page and every public name.

``mkdocs build --strict`` (mkdocs.yml) turns any warning into a failure: a broken link,
a docstring mkdocstrings cannot parse, a cross-reference that does not resolve. The
checks below then read the built site: every Markdown page of ``docs/`` is in the
navigation and became a page, and every name of every public module's ``__all__`` has
an anchor ``<module>.<name>`` on that module's reference page — found independently of
the script that generates those pages, by reading ``__all__`` from the source.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import importlib.util
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SRC = ROOT / "src"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None and not os.environ.get("CI"),
    reason='mkdocs is not installed: python -m pip install -e ".[docs]"',
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def markdown_pages() -> list[Path]:
    """Every page of the site's sources (generated reference pages aside)."""
    return sorted(p.relative_to(DOCS) for p in DOCS.rglob("*.md"))


def built_page(site: Path, page: Path) -> Path:
    """Where mkdocs writes a page (``use_directory_urls``: ``a/b.md`` → ``a/b/index.html``)."""
    if page.name == "index.md":
        return site / page.parent / "index.html"
    return site / page.with_suffix("") / "index.html"


def public_modules() -> list[tuple[str, Path]]:
    """Every public module of crmcore, with its file.

    Public: no path component starts with ``_``, and every one is an identifier (Alembic's
    revision scripts, ``versions/0001_baseline.py``, are files Alembic loads, not modules).
    """
    found = []
    for path in sorted((SRC / "crmcore").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") or not part.isidentifier() for part in parts):
            continue
        found.append((".".join(parts), path))
    return found


def names_in_all(path: Path) -> list[str]:
    """The names a module's ``__all__`` lists, read from its source (a literal list)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            names = ast.literal_eval(node.value)
            assert isinstance(names, list | tuple), f"{path}: __all__ is not a literal list"
            return [str(name) for name in names]
    return []


def reference_page(site: Path, module: str) -> Path:
    """A module's reference page (``crmcore.domain`` → ``reference/crmcore.domain/index.html``)."""
    return site / "reference" / module / "index.html"


def test_every_docs_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    in_nav = set(re.findall(r"^\s*- [^:]+:\s+(\S+\.md)\s*$", config, flags=re.MULTILINE))
    assert {p.as_posix() for p in markdown_pages()} == in_nav


def test_the_site_has_every_page(site: Path) -> None:
    missing = [str(p) for p in markdown_pages() if not built_page(site, p).is_file()]
    assert missing == []
    assert (site / "search" / "search_index.json").is_file()
    assert reference_page(site, "crmcore").is_file()


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    modules = public_modules()
    assert len(modules) > 100
    missing = []
    for module, path in modules:
        page = reference_page(site, module)
        if not page.is_file():
            missing.append(f"{module}: no page {page.relative_to(site)}")
            continue
        html = page.read_text(encoding="utf-8")
        missing.extend(
            f"{module}.{name}" for name in names_in_all(path) if f'id="{module}.{name}"' not in html
        )
    assert missing == []


def test_the_reference_has_a_page_per_public_module_and_no_other(site: Path) -> None:
    pages = {p.name for p in (site / "reference").iterdir() if p.name.startswith("crmcore")}
    assert pages == {module for module, _ in public_modules()}


def test_a_re_exported_name_links_to_where_it_is_documented(site: Path) -> None:
    html = (reference_page(site, "crmcore.domain")).read_text(encoding="utf-8")
    row = html[html.index('id="crmcore.domain.Customer"') :].split("</tr>", 1)[0]
    assert 'href="../crmcore.domain.customer/#crmcore.domain.customer.Customer"' in row


def test_docstring_doctests_render_as_code(site: Path) -> None:
    # DuplicatePolicy's example sits outside an Examples section.
    html = reference_page(site, "crmcore.matching.index").read_text(encoding="utf-8")
    section = html[html.index('id="crmcore.matching.index.DuplicatePolicy"') :]
    assert "action_for" in section.split("</pre>", 1)[0]
    assert ":func:`" not in html


# --- The built site in a real browser, on a phone-sized screen -------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
# What a reader of a page on a phone would suffer: the page scrolls sideways, the content
# column is squeezed by the navigation, the text is too small, or an element other than a
# code block or a table (those scroll inside themselves) sticks out to the right.
LAYOUT = """JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: document.documentElement.clientWidth,
  content: document.querySelector('.md-content').getBoundingClientRect().width,
  fontSize: parseFloat(getComputedStyle(document.querySelector('.md-typeset')).fontSize),
  overflowing: [...document.querySelectorAll('.md-content *')]
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                 && !e.closest('pre, table, .highlight, .md-typeset__scrollwrap'))
    .slice(0, 5).map(e => e.tagName.toLowerCase() + ' ' + e.textContent.slice(0, 40)),
})"""


TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execvp(sys.argv[3], sys.argv[3:])"
)


def _above_9(fd: int) -> int:
    """Move ``fd`` to a descriptor number of 10 or more."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (no extra package)."""

    def __init__(self, executable: str, profile: Path) -> None:
        commands_read, self._commands = os.pipe()
        self._responses, responses_write = os.pipe()
        # Chromium reads commands on fd 3 and answers on fd 4: a small Python trampoline
        # puts the pipes there and execs the browser (no preexec_fn: nothing is forked by
        # hand), from fds above 9 so that neither move overwrites the other's source.
        commands_read, responses_write = _above_9(commands_read), _above_9(responses_write)
        self._process = subprocess.Popen(  # noqa: S603 - the browser found on PATH
            [
                sys.executable,
                "-c",
                TRAMPOLINE,
                str(commands_read),
                str(responses_write),
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(commands_read, responses_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(responses_write)
        self._buffer = b""
        self._next_id = 0
        self._session = ""
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})
            self._session = self.call(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )["sessionId"]
            self.call("Page.enable", session=True)
        except BaseException:
            self.close()
            raise

    def _receive(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message: dict[str, Any] = json.loads(raw)
                if wanted(message):
                    return message
            ready, _, _ = select.select([self._responses], [], [], deadline - time.monotonic())
            if not ready:
                raise TimeoutError("chromium did not answer within 30 s")
            chunk = os.read(self._responses, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe")
            self._buffer += chunk

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        number = self._next_id
        answer = self._receive(lambda m: m.get("id") == number)
        assert "error" not in answer, answer["error"]
        result: dict[str, Any] = answer["result"]
        return result

    def layout(self, page: Path, screen: dict[str, Any]) -> dict[str, Any]:
        """Open ``page`` on a screen of that size and measure how it is laid out."""
        self.call("Emulation.setDeviceMetricsOverride", screen, session=True)
        self.call("Page.navigate", {"url": page.as_uri()}, session=True)
        self._receive(lambda m: m.get("method") == "Page.loadEventFired")
        value = self.call(
            "Runtime.evaluate", {"expression": LAYOUT, "returnByValue": True}, session=True
        )["result"]["value"]
        measured: dict[str, Any] = json.loads(value)
        return measured

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError, TimeoutError):
            self.call("Browser.close")
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._commands)
        os.close(self._responses)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed: apt-get install chromium")
    opened = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium"))
    yield opened
    opened.close()


def unreadable_on_a_phone(layout: dict[str, Any]) -> list[str]:
    problems = []
    if layout["scrollWidth"] > layout["innerWidth"]:
        problems.append(f"scrolls sideways: {layout['scrollWidth']} > {layout['innerWidth']} px")
    if layout["content"] < 0.9 * layout["innerWidth"]:
        problems.append(f"content column only {layout['content']} px wide")
    if layout["fontSize"] < 14:
        problems.append(f"text at {layout['fontSize']} px")
    problems.extend(f"sticks out: {element}" for element in layout["overflowing"])
    return problems


def test_the_layout_check_finds_a_page_too_wide_for_a_phone(
    browser: Browser, tmp_path: Path
) -> None:
    page = tmp_path / "wide.html"
    page.write_text(
        '<html><head><meta name="viewport" content="width=device-width, initial-scale=1">'
        '</head><body style="margin: 0">'
        '<div class="md-content"><div class="md-typeset" style="font-size: 12px">'
        '<p style="width: 900px">a line that never wraps</p></div></div></body></html>',
        encoding="utf-8",
    )
    problems = unreadable_on_a_phone(browser.layout(page, PHONE))
    assert [p.split(":")[0] for p in problems] == [
        "scrolls sideways",
        "text at 12 px",
        "sticks out",
    ]


def test_every_page_but_the_reference_reads_on_a_phone(site: Path, browser: Browser) -> None:
    pages = [built_page(site, p) for p in markdown_pages()]
    pages += [reference_page(site, m) for m in ("crmcore.domain", "crmcore.matching.index")]
    found = {
        str(page.relative_to(site)): problems
        for page in pages
        if (problems := unreadable_on_a_phone(browser.layout(page, PHONE)))
    }
    assert found == {}
