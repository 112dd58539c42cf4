"""Every random segment rule selects the same customers on Spark as in memory.

The data and rule strategies are those of ``tests/contract/test_segments_equivalence.py``
(loaded from its file, so the two backends see the same hostile cases: timestamps on
window boundaries, text differing in case, accents or a final newline, custom values of
the wrong type); example counts stay modest, a Spark query costs a fraction of a second.
"""

from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.adapters.frames import consents_frame, to_frame
from crmcore.domain import Activity, Order, SurveyResponse
from crmcore.segments import (
    ActivityCount,
    Compare,
    LastOrder,
    LatestSurveyScore,
    Not,
    Op,
    OrderAverage,
    OrderCount,
    OrderTotal,
    Rule,
    SurveyMetric,
    Within,
)
from crmcore.serialization import unstructure

_PATH = Path(__file__).resolve().parents[1] / "contract" / "test_segments_equivalence.py"
_spec = importlib.util.spec_from_file_location("_segments_equivalence_for_spark", _PATH)
assert _spec is not None
assert _spec.loader is not None
equivalence: Any = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = equivalence
_spec.loader.exec_module(equivalence)

AT = equivalence.AT


def _spark_frame(spark: Any, frame: Any) -> Any:
    return spark.createDataFrame(frame.to_arrow())


def with_spark(spark: Any, batch: Any, rule_list: list[Any]) -> list[list[str]]:
    from crmcore.adapters.spark import select_ids  # noqa: PLC0415 - needs pyspark

    tz, customers, context = batch
    related = {
        "orders": [o for os_ in context.orders.values() for o in os_],
        "activities": [a for as_ in context.activities.values() for a in as_],
        "surveys": [s for ss in context.surveys.values() for s in ss],
    }
    types = {"orders": Order, "activities": Activity, "surveys": SurveyResponse}
    frames = {
        name: _spark_frame(spark, to_frame(items, record_type=types[name], documents=False))
        for name, items in related.items()
    }
    spans = [s for ss in context.consents.values() for s in ss]
    frames["consents"] = _spark_frame(spark, consents_frame(spans))
    customers_frame = _spark_frame(spark, to_frame(customers, documents=False))
    return [
        [str(i) for i in select_ids(customers_frame, r, at=AT, tz=tz, **frames)] for r in rule_list
    ]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    batch=equivalence.customer_batches(max_customers=10),
    rule_list=st.lists(equivalence.rules(), min_size=3, max_size=6),
)
def test_spark_selects_the_same_customers_as_memory(
    spark: Any, batch: Any, rule_list: list[Any]
) -> None:
    expected = equivalence.in_memory(batch, rule_list)
    actual = with_spark(spark, batch, rule_list)
    for rule, want, got in zip(rule_list, expected, actual, strict=True):
        assert got == want, f"rule {unstructure(rule)} in {batch[0]}"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("h$", ["c1"]), ("^a.b$", []), ("B$", []), ("B", ["c3"]), ("th$", ["c1"]), ("[&]", ["c3"])],
)
def test_the_pattern_dialect_means_the_same_on_java(
    spark: Any, pattern: str, expected: list[str]
) -> None:
    from crmcore.adapters.spark import select_ids  # noqa: PLC0415 - needs pyspark

    customers = spark.createDataFrame(
        pa.table({"id": ["c1", "c2", "c3"], "display_name": ["Smith", "a\nb", "A & B\n"]})
    )
    rule = Compare("display_name", Op.MATCHES, pattern)
    assert [str(i) for i in select_ids(customers, rule, at=AT)] == expected


def test_related_frames_not_given_count_as_empty(spark: Any) -> None:
    from crmcore.adapters.spark import select_ids  # noqa: PLC0415 - needs pyspark

    customers = spark.createDataFrame(pa.table({"id": ["c1", "c2"]}))
    both: list[str] = ["c1", "c2"]
    none: list[str] = []
    cases: list[tuple[Rule, list[str]]] = [
        (OrderCount(Op.EQ, 0, None), both),
        (Not(LastOrder(Within(30))), both),
        (OrderTotal(Op.GE, Decimal("0"), "CNY", None), both),
        (OrderAverage(Op.GT, Decimal("1"), "CNY", None), none),
        (ActivityCount(Op.LT, 1, None, ()), both),
        (LatestSurveyScore(SurveyMetric.NPS, Op.GE, 0), none),
    ]
    for rule, expected in cases:
        assert [str(i) for i in select_ids(customers, rule, at=AT)] == expected, rule
