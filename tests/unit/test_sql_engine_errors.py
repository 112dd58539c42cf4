"""Configuration hints: which URL to write when a driver is missing, which extra to install.

``create_engine`` translates a missing DBAPI driver or an unparseable URL into a
:class:`ConfigurationError`; importing an adapter without its extra raises a
:class:`MissingExtraError` (also an ``ImportError``) naming the extra.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from crmcore.adapters.sql import create_engine
from crmcore.errors import ConfigurationError


def message_for(url: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        create_engine(url)
    return str(caught.value)


def test_mysql_without_a_driver_suggests_pymysql() -> None:
    message = message_for("mysql://root@127.0.0.1/test")
    assert message == (
        "the database URL mysql://root@127.0.0.1/test needs the Python driver 'MySQLdb',"
        " which is not installed; use mysql+pymysql://… instead (installed with crmcore[sql])"
    )


def test_mariadb_without_a_driver_suggests_pymysql() -> None:
    assert "use mariadb+pymysql://… instead" in message_for("mariadb://root@127.0.0.1/test")


def test_postgresql_with_psycopg2_suggests_psycopg() -> None:
    message = message_for("postgresql+psycopg2://crm@db/crm")
    assert ("'psycopg2'" in message, "use postgresql+psycopg://… instead" in message) == (
        True,
        True,
    )


def test_the_postgres_alias_is_an_unknown_scheme_with_the_right_one_named() -> None:
    assert message_for("postgres://crm@db/crm") == (
        "unknown database URL scheme 'postgres' in postgres://crm@db/crm:"
        " use postgresql+psycopg://… instead"
    )


def test_an_unknown_scheme_lists_the_supported_ones() -> None:
    assert message_for("nosuchdb://host/x") == (
        "unknown database URL scheme 'nosuchdb' in nosuchdb://host/x:"
        " use sqlite:///FILE, postgresql+psycopg://… or mysql+pymysql://…"
    )


def test_a_backend_crmcore_does_not_support_is_named() -> None:
    assert message_for("oracle://scott@db/orcl").startswith(
        "unsupported database 'oracle' in oracle://scott@db/orcl: use sqlite:///FILE"
    )


@pytest.mark.parametrize("url", ["not a url", "", "mysql://root@127.0.0.1:port/test"])
def test_a_url_that_does_not_parse_is_a_configuration_error(url: str) -> None:
    assert message_for(url) == (
        f"invalid database URL {url!r}: expected scheme://user:password@host:port/database,"
        " e.g. sqlite:///FILE, postgresql+psycopg://… or mysql+pymysql://…"
    )


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:hunter2@127.0.0.1/test",
        "postgres://crm:hunter2@db/crm",
        "oracle://scott:hunter2@db/orcl",
        "mysql://root:hunter2@127.0.0.1:port/test",
    ],
)
def test_no_message_shows_the_password(url: str) -> None:
    message = message_for(url)
    assert ("hunter2" in message, "***" in message) == (False, True)


def test_the_missing_driver_is_kept_as_the_cause() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_engine("mysql://root@127.0.0.1/test")
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


# --------------------------------------------------------------------------- missing extras
# Each case runs in a fresh interpreter where the dependency cannot be imported
# (``sys.modules[name] = None`` makes ``import name`` fail as if not installed).

HIDE_AND_IMPORT = """
import sys
sys.modules[{dependency!r}] = None
try:
    import {module}
except ImportError as exc:
    from crmcore.errors import CrmError
    print(type(exc).__name__, isinstance(exc, CrmError), exc.extra, exc.module, exc.name)
    print(exc)
"""


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter on a fixed snippet
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("module", "dependency", "extra"),
    [
        ("crmcore.adapters.sql", "sqlalchemy", "sql"),
        ("crmcore.adapters.frames", "polars", "frames"),
    ],
)
def test_an_adapter_without_its_extra_says_which_extra_to_install(
    module: str, dependency: str, extra: str
) -> None:
    done = run_python(HIDE_AND_IMPORT.format(dependency=dependency, module=module))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        f"MissingExtraError True {extra} {module} {dependency}",
        f"{module} needs the {extra!r} extra: pip install 'crmcore[{extra}]'",
    ]


def test_a_submodule_import_without_the_extra_gives_the_same_hint() -> None:
    done = run_python(
        HIDE_AND_IMPORT.format(dependency="sqlalchemy", module="crmcore.adapters.sql.engine")
    )
    assert done.stdout.splitlines()[-1] == (
        "crmcore.adapters.sql needs the 'sql' extra: pip install 'crmcore[sql]'"
    )


def test_the_command_without_the_sql_extra_prints_the_hint_and_exits_2() -> None:
    done = run_python(
        "import sys\n"
        "sys.modules['sqlalchemy'] = None\n"
        "from crmcore.cli import main\n"
        "sys.exit(main(['export', '--db', 'crm.sqlite']))\n"
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        "crmcore: error: crmcore.adapters.sql needs the 'sql' extra: pip install 'crmcore[sql]'\n",
    )
