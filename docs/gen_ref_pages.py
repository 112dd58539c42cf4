"""Generate the API reference: one page per public module, every name of its ``__all__``.

Run by the ``gen-files`` plugin of ``mkdocs.yml`` at build time (nothing is written
into the repository). The code is read statically with griffe, so building the site
imports nothing from crmcore.

Each public module (no path component starting with ``_``) gets ``reference/<module>.md``:

- the names its ``__all__`` defines (or takes from a private module) are rendered in
  full by mkdocstrings, each under a heading whose anchor is ``<module>.<name>``;
- the names it re-exports from another public module are listed in a table that links
  to the page where they are defined, each row carrying the anchor ``<module>.<name>``,
  so a cross-reference to ``crmcore.domain.Customer`` and to
  ``crmcore.domain.customer.Customer`` both resolve.

``reference/SUMMARY.md`` lists the pages for the ``literate-nav`` plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"


def is_public(path: str) -> bool:
    """Return whether a dotted module path names a public module.

    >>> is_public("crmcore.domain.customer"), is_public("crmcore.domain._phone_replay")
    (True, False)
    >>> is_public("crmcore.__main__")
    False
    >>> is_public("crmcore.adapters.sql.migrations.versions.0001_baseline")
    False
    """
    # Alembic's revision scripts (``versions/0001_baseline.py``) are not importable modules.
    return not any(part.startswith("_") or not part.isidentifier() for part in path.split(".")[1:])


def public_modules(module: Any) -> Iterator[Any]:
    """Yield ``module`` and every public module below it (griffe objects), by path."""
    if not is_public(module.path):
        return
    yield module
    for _name, member in sorted(module.members.items()):
        # Not ``module.modules``: it also holds modules imported under a name
        # (``from crmcore.matching import workers``), which are not submodules.
        if not member.is_alias and member.is_module:
            yield from public_modules(member)


def exported(module: Any) -> list[str]:
    """Return the names of ``module.__all__`` in their order (none when it has no ``__all__``)."""
    return [str(getattr(name, "name", name)) for name in module.exports or []]


def page_path(module_path: str) -> Path:
    """Return the reference page of a module, relative to ``docs/``.

    Pages are named by the whole dotted path: a module may be called ``index``
    (``crmcore.matching.index``), which nested folders would read as a section page.

    >>> page_path("crmcore.matching.index").as_posix()
    'reference/crmcore.matching.index.md'
    """
    return Path("reference", f"{module_path}.md")


def defined_here(module: Any) -> set[str]:
    """Return the names of ``module.__all__`` rendered in full on its page.

    Those it defines, and those it takes from a private module (which has no page).
    """
    names = set()
    for name in exported(module):
        member = module.members.get(name)
        if member is None:
            continue
        if not member.is_alias or not is_public(member.target_path.rsplit(".", 1)[0]):
            names.add(name)
    return names


def canonical(module: Any, name: str, documented: dict[str, set[str]]) -> str | None:
    """Return where a re-exported name is documented in full, or None to render it here."""
    member = module.members.get(name)
    if member is not None and member.is_module and name in documented.get(member.path, set()):
        # A function named like its module (``crmcore.lifecycle.history``): griffe sees
        # the submodule under that name, Python the function the package imports.
        return f"{member.path}.{name}"
    if member is None or not member.is_alias:
        return None
    try:
        target = member.final_target
    except Exception:  # noqa: BLE001 - an unresolvable alias (third-party) is rendered here
        return None
    parent = target.parent.path if target.parent is not None else ""
    if target.path != f"{parent}.{name}" and parent:
        # Imported under another name: document it under this one.
        return None
    if name in documented.get(parent, set()) and parent != module.path:
        return str(target.path)
    return None


def render(module: Any, documented: dict[str, set[str]]) -> str:
    """Return the Markdown of one module's reference page."""
    names = exported(module)
    here = [name for name in names if canonical(module, name, documented) is None]
    elsewhere = [
        (name, target)
        for name in names
        if (target := canonical(module, name, documented)) is not None
    ]
    lines = [f"# `{module.path}`", "", f"::: {module.path}", "    options:"]
    lines.append("      show_root_heading: false")
    lines.append("      show_root_toc_entry: false")
    if here:
        lines.append("      members:")
        lines.extend(f"        - {name}" for name in here)
    else:
        lines.append("      members: false")
    if elsewhere:
        lines += ["", "## Re-exported names", "", "| name | defined in |", "|---|---|"]
        lines.extend(
            f"| [](){{#{module.path}.{name}}} [`{name}`][{target}] | `{target.rsplit('.', 1)[0]}` |"
            for name, target in elsewhere
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write every reference page and the reference navigation through mkdocs-gen-files."""
    import griffe  # noqa: PLC0415 - only when the site is built (extra `docs`)
    import mkdocs_gen_files  # noqa: PLC0415
    from mkdocs_gen_files.nav import Nav  # noqa: PLC0415

    package = griffe.load("crmcore", search_paths=[str(SRC)])
    modules = list(public_modules(package))
    documented = {module.path: defined_here(module) for module in modules}
    nav = Nav()  # type: ignore[no-untyped-call]  # mkdocs-gen-files has no annotations here
    for module in modules:
        path = page_path(module.path)
        parts = tuple(module.path.split("."))
        nav[parts] = path.relative_to("reference").as_posix()
        with mkdocs_gen_files.open(path, "w") as page:
            page.write(render(module, documented))
    with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as summary:
        summary.writelines(nav.build_literate_nav())


if __name__ in {"__main__", "<run_path>"}:
    main()
