"""``create_engine`` says which URL to write when a driver is missing or a URL does not parse."""

from __future__ import annotations

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


@pytest.mark.parametrize("url", ["not a url", "", "mysql://root:hunter2@127.0.0.1:port/test"])
def test_a_url_that_does_not_parse_is_a_configuration_error(url: str) -> None:
    assert message_for(url).startswith("invalid database URL ")


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
