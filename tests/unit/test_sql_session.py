"""The SQL adapter's structure: repositories get a session, never the unit of work.

The unit of work builds one :class:`SqlSession` and hands it to each
repository; the modules import one another in one direction only and no
module reaches into another's private names.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pendulum
import pytest

import crmcore.adapters.sql as sql_package
from crmcore.adapters.sql import SqlCustomerRepository, SqlStore, create_engine, create_schema
from crmcore.adapters.sql.session import SqlSession
from crmcore.domain import CustomerId, Person, PersonName, register_customer
from crmcore.errors import StorageError

PACKAGE = Path(sql_package.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def sql_imports(module: str) -> set[str]:
    """Return the modules of ``crmcore.adapters.sql`` that ``module`` imports, at any level."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "crmcore.adapters.sql":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("crmcore.adapters.sql."):
                found.add(node.module.rsplit(".", 1)[1])
    return found


def private_names_used_from_elsewhere(module: str) -> list[str]:
    """Return ``_private`` names ``module`` imports, or reads on anything but ``self``/``cls``.

    ``super()._name`` is the class's own (an override calling the method it overrides).
    """
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("_")]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            and ast.unparse(node.value) != "super()"
        ):
            found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_on_its_own(module: str) -> None:
    imported = importlib.import_module(f"crmcore.adapters.sql.{module}")
    assert imported.__name__ == f"crmcore.adapters.sql.{module}"


def test_the_session_module_imports_no_other_module_of_the_adapter() -> None:
    assert sql_imports("session") == set()


def test_repositories_import_the_session_but_not_the_store() -> None:
    assert ("session" in sql_imports("repository"), "store" in sql_imports("repository")) == (
        True,
        False,
    )


def test_no_module_of_the_adapter_imports_itself_back_through_another() -> None:
    graph = {m: sql_imports(m) & set(MODULES) for m in MODULES}

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
            for nxt in graph[start]
        )

    assert [m for m in MODULES if reaches(m, m)] == []


@pytest.mark.parametrize("module", MODULES)
def test_no_module_uses_private_names_of_another(module: str) -> None:
    assert private_names_used_from_elsewhere(module) == []


def test_a_repository_works_on_any_session_it_is_given() -> None:
    engine = create_engine("sqlite://")
    create_schema(engine)
    store = SqlStore(engine)
    customer, _ = register_customer(
        id=CustomerId("c-1"),
        person=Person(name=PersonName.parse("李娜")),
        at=pendulum.datetime(2026, 3, 1),
    )
    with engine.connect() as conn:
        session = SqlSession(connection=lambda _operation: conn, converter=store.converter)
        repository = SqlCustomerRepository(session)
        stored = repository.save(customer)
        assert repository.get(CustomerId("c-1")) == stored
    engine.dispose()


def test_a_repository_of_a_unit_of_work_outside_its_block_names_the_operation() -> None:
    engine = create_engine("sqlite://")
    create_schema(engine)
    uow = SqlStore(engine).unit_of_work()
    with pytest.raises(StorageError) as caught:
        uow.customers.count()
    assert str(caught.value).startswith("count customer")
    engine.dispose()
