"""crmcore on Apache Spark (extra ``spark``): deduplication and segment rules.

:func:`dedupe` deduplicates a Spark DataFrame with the in-process matching
code, through the Arrow kernel of :mod:`crmcore.adapters.arrow`;
:func:`compile_to_spark` compiles a segment rule to one Spark SQL column
expression (and the aggregates it needs), selecting exactly the customers
:func:`crmcore.segments.evaluate` selects. See ``docs/spark.md``.

May import: ``crmcore.matching``, ``crmcore.segments``, ``crmcore.domain``,
``crmcore.errors``, ``crmcore.clock``, ``crmcore.adapters``; pyspark, pyarrow, numpy.
"""

from crmcore.adapters.spark.dedupe import SparkDedupeResult, dedupe, key_frame
from crmcore.adapters.spark.segments import SparkRule, compile_to_spark, select_ids

__all__ = [
    "SparkDedupeResult",
    "SparkRule",
    "compile_to_spark",
    "dedupe",
    "key_frame",
    "select_ids",
]
