"""The SQL adapter's portable column types and engine helpers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pendulum
import pytest
import sqlalchemy as sa

from crmcore.adapters.sql import create_engine
from crmcore.adapters.sql.mapping import check_row
from crmcore.adapters.sql.tables import Amount, UtcDateTime, customers
from crmcore.errors import ConfigurationError, StorageError

SQLITE = sa.create_engine("sqlite://").dialect


def test_a_timestamp_is_bound_as_naive_utc_on_sqlite() -> None:
    bound = UtcDateTime().process_bind_param(
        pendulum.datetime(2026, 1, 1, 8, tz="Asia/Shanghai"), SQLITE
    )
    assert bound == dt.datetime(2026, 1, 1, 0, 0)  # noqa: DTZ001 - the naive storage form


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UtcDateTime().process_bind_param(dt.datetime(2026, 1, 1), SQLITE)  # noqa: DTZ001


def test_a_stored_timestamp_is_read_back_as_aware_utc() -> None:
    read = UtcDateTime().process_result_value(dt.datetime(2026, 1, 1), SQLITE)  # noqa: DTZ001
    assert read == pendulum.datetime(2026, 1, 1)


def test_an_amount_read_as_a_float_comes_back_as_a_decimal() -> None:
    assert Amount().process_result_value(12.5, SQLITE) == Decimal("12.5")


def test_a_display_name_longer_than_its_column_names_the_field() -> None:
    with pytest.raises(StorageError) as caught:
        check_row("customer", customers, {"display_name": "x" * 301})
    assert caught.value.field == "display_name"


def test_an_unsupported_database_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        create_engine("not a url")
