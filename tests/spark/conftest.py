"""One local Spark session for the whole test run (``local[2]``), used only by the Spark tests.

The tests skip when pyspark is not importable, unless ``CI`` is set: CI installs
the ``spark`` extra (through ``dev``), so there a missing pyspark fails.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest

PANDAS_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pyspark warns about pandas 3 wherever it checks for pandas; crmcore hands Spark Arrow only.
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings(PANDAS_WARNING))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    if importlib.util.find_spec("pyspark") is None:
        if os.environ.get("CI"):
            pytest.fail("pyspark is not installed, but CI is set: install the `spark` extra")
        pytest.skip("pyspark is not installed (the `spark` extra)")
    from pyspark.sql import SparkSession  # noqa: PLC0415 - only when the tests run

    session = (
        SparkSession.builder.master("local[2]")
        .appName("crmcore-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        # Not UTC on purpose: results must not depend on the session's time zone.
        .config("spark.sql.session.timeZone", "America/New_York")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
