"""docs/tutorial.md runs as written on PostgreSQL and MariaDB, with only its URL changed.

The page's doctests run on SQLite with the rest of the documentation; here they run
again in a fresh database of each server (``CRMCORE_TEST_POSTGRES_URL``,
``CRMCORE_TEST_MYSQL_URL``; unset: skipped, set but unreachable: failed).
"""

from __future__ import annotations

import doctest
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
SQLITE_LINE = '>>> url = "sqlite://"'
VARIABLES = {"postgresql": "CRMCORE_TEST_POSTGRES_URL", "mariadb": "CRMCORE_TEST_MYSQL_URL"}


@pytest.fixture(params=sorted(VARIABLES))
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty database on one server, dropped afterwards."""
    variable = VARIABLES[request.param]
    url = os.environ.get(variable, "").strip()
    if not url:
        pytest.skip(f"set {variable} to a SQLAlchemy URL to run this test")
    name = f"crm_tutorial_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    create = (
        f'CREATE DATABASE "{name}"'
        if request.param == "postgresql"
        else (f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    )
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(create)
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"{variable} is set but the database is unreachable: {exc}", pytrace=False)
    try:
        yield sa.make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            quoted = f'"{name}"' if request.param == "postgresql" else f"`{name}`"
            conn.exec_driver_sql(f"DROP DATABASE {quoted}")
        admin.dispose()


def run_tutorial(url: str) -> doctest.TestResults:
    text = TUTORIAL.read_text(encoding="utf-8")
    assert text.count(SQLITE_LINE) == 1, "the tutorial sets its URL in one place"
    test = doctest.DocTestParser().get_doctest(
        text.replace(SQLITE_LINE, f">>> url = {url!r}"), {}, "tutorial", str(TUTORIAL), 0
    )
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE
        | doctest.ELLIPSIS
        | doctest.REPORT_ONLY_FIRST_FAILURE
    )
    try:
        runner.run(test, clear_globs=False)
    finally:
        engine = test.globs.get("engine")
        if isinstance(engine, sa.Engine):
            engine.dispose()
        test.globs.clear()
    return runner.summarize(verbose=False)


def test_the_tutorial_runs_unchanged_on_a_database_server(database_url: str) -> None:
    results = run_tutorial(database_url)
    assert results.attempted > 20
    assert results.failed == 0
