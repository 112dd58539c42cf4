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
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

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
    """Every public module of crmcore (no path component starting with ``_``), with its file."""
    found = []
    for path in sorted((SRC / "crmcore").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
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
