"""Enforce the import table of docs/architecture.md: dependencies point inward.

The checker parses every module under ``src/crmcore`` with :mod:`ast` and
compares each import with the table below. The table may change, by editing
this test in the same commit, with the reason in the commit message.

It also keeps private things private: a module whose dotted path has a
component starting with ``_`` (other than ``__init__`` and ``__main__``), or a
``_name`` imported with ``from x import _name``, may be imported only from
inside the same top-level crmcore package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "crmcore"

CORE_THIRD_PARTY = {"attrs", "pendulum"}

# package -> (crmcore packages it may import, third-party top-level modules it may import)
RULES: dict[str, tuple[set[str], set[str]]] = {
    "errors": (set(), set()),
    # One label catalogue (en, zh_CN) for enums, stages, fields, KPIs and error reasons: beside
    # clock and errors in the innermost ring, so every package above may read labels.
    "i18n": ({"errors", "i18n"}, set()),
    "clock": ({"errors"}, CORE_THIRD_PARTY),
    "domain": (
        {"errors", "clock", "domain"},
        CORE_THIRD_PARTY | {"phonenumbers", "email_validator"},
    ),
    # Workflow diagrams (diagram.py) draw stage and transition labels in a locale.
    "lifecycle": ({"domain", "clock", "errors", "lifecycle", "i18n"}, CORE_THIRD_PARTY),
    "segments": ({"domain", "clock", "errors", "segments"}, CORE_THIRD_PARTY),
    "matching": (
        {"domain", "errors", "matching"},
        CORE_THIRD_PARTY | {"rapidfuzz", "pypinyin", "numpy"},
    ),
    "merge": ({"domain", "errors", "clock", "merge"}, CORE_THIRD_PARTY),
    # KPIs and CLV over polars frames (extra `analytics`); altair/vl-convert only where a chart
    # spec is rendered (extra `charts`, imported lazily).
    "analytics": (
        {"domain", "lifecycle", "segments", "matching", "errors", "clock", "analytics", "i18n"},
        CORE_THIRD_PARTY | {"polars", "numpy", "scipy", "altair", "vl_convert"},
    ),
    # Access policies, consent, subject requests, retention and the audit chain: pure (hashlib
    # is stdlib).
    "privacy": (
        {"domain", "lifecycle", "segments", "merge", "errors", "clock", "privacy", "i18n"},
        CORE_THIRD_PARTY,
    ),
    # docs/architecture.md's diagram: ports sit above every pure package (segment queries and merge
    # records are part of the repository ports), so they may import all of them.
    "ports": (
        {
            "domain",
            "lifecycle",
            "segments",
            "matching",
            "merge",
            "analytics",
            "privacy",
            "errors",
            "clock",
            "ports",
            "i18n",
        },
        CORE_THIRD_PARTY,
    ),
    # The seeded generator of realistic bilingual CRM data (demo, benchmarks, tests).
    "sample": ({"domain", "errors", "clock", "sample"}, CORE_THIRD_PARTY),
    "services": (
        {
            "domain",
            "lifecycle",
            "segments",
            "matching",
            "merge",
            "analytics",
            "privacy",
            "ports",
            "errors",
            "clock",
            "services",
            "i18n",
        },
        CORE_THIRD_PARTY,
    ),
    # JSON Schemas carry zh_CN labels (i18n); access policies and consent records are payloads
    # the converter reads (privacy).
    "serialization": (
        {
            "domain",
            "lifecycle",
            "segments",
            "merge",
            "errors",
            "clock",
            "serialization",
            "i18n",
            "privacy",
        },
        CORE_THIRD_PARTY | {"cattrs"},
    ),
    # Adapters compile access policies (privacy) to SQL and polars like segment rules.
    "adapters": (
        {"ports", "domain", "serialization", "segments", "privacy", "errors", "clock", "adapters"}
        | {"matching"}  # the SQL match index stores matching's keys
        | {"lifecycle"},  # issued time-rule actions (DueAction), rules answered by queries
        CORE_THIRD_PARTY | {"sqlalchemy", "polars", "cryptography"},
    ),
    "cli": (
        {
            "services",
            "adapters",
            "domain",
            "ports",
            "serialization",
            "segments",
            "matching",
            "merge",
            "lifecycle",
            "analytics",
            "privacy",
            "errors",
            "clock",
            "cli",
            "sample",
            "i18n",
        },
        CORE_THIRD_PARTY | {"rich"},
    ),
    "testing": (
        {
            "domain",
            "ports",
            "adapters",
            "serialization",
            "segments",
            "lifecycle",
            "matching",
            "merge",
            "services",
            "analytics",
            "privacy",
            "errors",
            "clock",
            "testing",
            "i18n",
        },
        CORE_THIRD_PARTY | {"hypothesis", "pytest"},
    ),
    "__init__": ({"errors", "clock", "domain"}, set()),
}
# Which adapter may use which third-party library: memory is stdlib only.
ADAPTER_THIRD_PARTY = {
    "memory": set(),
    "sql": {"sqlalchemy", "polars", "alembic"},  # polars only in sql.frames; alembic: migrations
    "frames": {"polars"},
    "transfer": set(),
    "tabular": {"python_calamine"},
    "crypto": {"cryptography"},
    "arrow": {"pyarrow", "numpy"},  # the engine-neutral matching kernel over Arrow batches
    "spark": {"pyspark", "pyarrow", "numpy"},
}
# Adapters that may also import these crmcore packages (the Arrow kernel and Spark run matching).
ADAPTER_CRMCORE_EXTRA = {"arrow": {"matching"}, "spark": {"matching"}}


def _stdlib() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names) | {"__future__"}


def imports_of(source: str, module: str) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """Yield (line, absolute module name, names imported from it) for every import in ``source``.

    ``import a.b`` yields no names; ``from a import b, c`` yields ``("b", "c")``.
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield node.lineno, f"<relative import in {module}>", ()
            elif node.module:
                yield node.lineno, node.module, tuple(alias.name for alias in node.names)


def _private(component: str) -> bool:
    """Return whether a dotted-path component or an imported name is private.

    ``_name`` is; dunder names (``__init__``, ``__main__``, ``__version__``) are not.
    """
    return component.startswith("_") and not (
        component.startswith("__") and component.endswith("__")
    )


def private_imports(package: str, module: str, source: str) -> list[str]:
    """Return every private module or ``_name`` ``source`` imports from another crmcore package.

    ``package`` is the top-level crmcore package ``module`` belongs to.
    """
    problems: list[str] = []
    for line, name, names in imports_of(source, module):
        parts = name.split(".")
        if parts[0] != "crmcore" or len(parts) < 2 or parts[1] == package:
            continue
        found = [name] if any(_private(part) for part in parts[1:]) else []
        found += [f"{name}.{imported}" for imported in names if _private(imported)]
        problems.extend(f"{module}:{line} imports private {what}" for what in found)
    return problems


def violations(package: str, module: str, source: str) -> list[str]:
    """Return every import in ``source`` (a module of ``package``) that breaks the table."""
    allowed_crm, allowed_ext = RULES[package]
    if package == "adapters":
        sub = module.split(".")[2] if module.count(".") >= 2 else ""
        allowed_ext = CORE_THIRD_PARTY | ADAPTER_THIRD_PARTY.get(sub, set())
        allowed_crm = allowed_crm | ADAPTER_CRMCORE_EXTRA.get(sub, set())
        if sub == "memory":
            allowed_ext = set()
    problems = []
    stdlib = _stdlib()
    for line, name, _names in imports_of(source, module):
        parts = name.split(".")
        if name.startswith("<relative"):
            problems.append(f"{module}:{line} uses a relative import")
        elif parts[0] == "crmcore":
            target = parts[1] if len(parts) > 1 else "__init__"
            if target not in allowed_crm:
                problems.append(f"{module}:{line} imports crmcore.{target}")
        elif parts[0] not in stdlib and parts[0] not in allowed_ext:
            problems.append(f"{module}:{line} imports third-party {parts[0]}")
    return problems


def modules() -> Iterator[tuple[str, str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        dotted = ".".join(("crmcore", *rel.with_suffix("").parts))
        package = (
            rel.parts[0].removesuffix(".py")
            if len(rel.parts) > 1 or rel.stem != "__init__"
            else "__init__"
        )
        if package == "__main__":
            package = "cli"
        yield package, dotted, path


@pytest.mark.parametrize(("package", "module", "path"), list(modules()), ids=str)
def test_module_imports_only_what_the_design_allows(package: str, module: str, path: Path) -> None:
    assert package in RULES, f"{module}: package {package!r} is not in docs/architecture.md's table"
    assert violations(package, module, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(("package", "module", "path"), list(modules()), ids=str)
def test_module_imports_nothing_private_from_another_package(
    package: str, module: str, path: Path
) -> None:
    assert private_imports(package, module, path.read_text(encoding="utf-8")) == []


def test_checker_rejects_a_domain_module_importing_an_adapter() -> None:
    source = "from crmcore.adapters.sql import SqlCustomerRepository\n"
    assert violations("domain", "crmcore.domain.customer", source) == [
        "crmcore.domain.customer:1 imports crmcore.adapters"
    ]


def test_checker_rejects_a_domain_module_importing_cattrs() -> None:
    source = "import json\nimport attrs\nimport cattrs\n"
    assert violations("domain", "crmcore.domain.values", source) == [
        "crmcore.domain.values:3 imports third-party cattrs"
    ]


def test_checker_rejects_the_memory_adapter_importing_sqlalchemy() -> None:
    source = "import sqlalchemy\n"
    assert violations("adapters", "crmcore.adapters.memory", source) == [
        "crmcore.adapters.memory:1 imports third-party sqlalchemy"
    ]


def test_checker_rejects_relative_imports() -> None:
    source = "from .values import Money\n"
    assert violations("domain", "crmcore.domain.customer", source) == [
        "crmcore.domain.customer:1 uses a relative import"
    ]


def test_checker_accepts_what_the_table_allows() -> None:
    source = "import attrs\nimport pendulum\nfrom crmcore.errors import CrmError\nimport re\n"
    assert violations("domain", "crmcore.domain.values", source) == []


def test_checker_rejects_a_private_module_of_another_package() -> None:
    source = "import crmcore.domain._slots\nfrom crmcore.domain._slots import slot\n"
    assert private_imports("lifecycle", "crmcore.lifecycle.engine", source) == [
        "crmcore.lifecycle.engine:1 imports private crmcore.domain._slots",
        "crmcore.lifecycle.engine:2 imports private crmcore.domain._slots",
    ]


def test_checker_rejects_a_private_name_of_another_package() -> None:
    source = "from crmcore.adapters.sql.store import Store, _check_dialect\n"
    assert private_imports("cli", "crmcore.cli.export", source) == [
        "crmcore.cli.export:1 imports private crmcore.adapters.sql.store._check_dialect"
    ]


def test_checker_rejects_a_private_module_imported_by_name() -> None:
    source = "from crmcore.matching import _pool\n"
    assert private_imports("services", "crmcore.services.dedupe", source) == [
        "crmcore.services.dedupe:1 imports private crmcore.matching._pool"
    ]


def test_checker_accepts_private_imports_inside_one_package() -> None:
    source = (
        "from crmcore.adapters.tabular._model import Table, _unique\n"
        "from crmcore.adapters.sql.store import _check_dialect\n"
        "import crmcore.adapters._shared\n"
    )
    assert private_imports("adapters", "crmcore.adapters.sql.repository", source) == []


def test_checker_accepts_public_modules_and_dunder_names_of_another_package() -> None:
    source = (
        "from crmcore.domain.slots import compile_builder\n"
        "from crmcore.domain import __version__\n"
        "import crmcore.cli.__main__\n"
        "from crmcore.matching.__init__ import index\n"
    )
    assert private_imports("lifecycle", "crmcore.lifecycle.engine", source) == []


def test_importing_crmcore_has_no_side_effect_imports_of_extras() -> None:
    code = (
        "import sys, crmcore, crmcore.domain, crmcore.serialization;"
        "heavy = {'sqlalchemy', 'polars', 'rich', 'hypothesis'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed snippet
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
