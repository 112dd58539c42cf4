"""Deduplicate a Spark DataFrame with the in-process matching code.

:func:`dedupe` runs the pipeline of :func:`crmcore.matching.dedupe` on
Spark, every step through the Arrow kernel of :mod:`crmcore.adapters.arrow`
(``mapInArrow``), so each key, blocking key, comparison level and score is
computed by the same functions as in one process:

1. rows → keys (``mapInArrow``), cached; ids checked unique;
2. per term-frequency column, how many records share each value (``groupBy``);
3. keys → blocking entries ``(rule, key, id)`` (``mapInArrow``); block sizes
   are counted by a ``groupBy`` and blocks over the rule's
   ``max_block_size`` are dropped *before* any block is gathered — the
   in-process large-block guard, so a 100,000-row postcode block costs one
   counter, never an executor's memory;
4. the remaining blocks are gathered (``collect_list``) and every pair
   within them scored (``mapInArrow``); a pair several rules find is kept once;
5. the model: the one given; or, under 1,000 records, the ready
   :meth:`~crmcore.matching.MatchModel.default` (as in-process); or
   :func:`~crmcore.matching.estimate_model` — the in-process EM and
   u-sampling — on a random sample of at most ``sample_size`` records
   collected to the driver (all of them when the data fit: then the model is
   exactly the in-process one);
6. clustering, in Spark: the components of the matched pairs (probability
   at or above the threshold) are found by joins (a union-find that hooks
   roots and jumps pointers, rounds growing with the logarithm of a
   component's diameter); whole components are hashed into as many groups
   as ``spark.sql.shuffle.partitions``, and each group is clustered by
   :func:`~crmcore.matching.cluster_pairs` — the in-process non-chaining
   clustering — in one Python worker (``cogroup(...).applyInArrow``), with
   the keys of the members of its components of three or more to score the
   pairs its consistency check reads. Rows in no matched pair are their own
   cluster.

Components never interact inside ``cluster_pairs`` (cuts at
``max_cluster_size``, consistency checks and average linkage stay inside
one) and each group keeps ids in sorted order, so every cluster is exactly
the in-process one, and nothing the size of the data passes through the
driver: it holds the model and the per-rule statistics only.

May import: ``crmcore.matching``, ``crmcore.errors``, ``crmcore.adapters``;
pyspark, pyarrow, numpy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
from pyspark.sql.pandas.types import from_arrow_schema

from crmcore.adapters.arrow import (
    ENTRY_SCHEMA,
    KEY_SCHEMA,
    RAW_FIELDS,
    PairKernel,
    block_key_batches,
    feature_table,
    key_batches,
    tf_columns,
)
from crmcore.adapters.spark._errors import spark_errors
from crmcore.errors import ConfigurationError
from crmcore.matching import (
    BlockingStats,
    MatchModel,
    MatchSettings,
    candidate_pairs,
    cluster_pairs,
    compare_pairs,
    distinct_names,
    recognise_columns,
)
from crmcore.matching.model import CONTACT_COLUMNS, SHARED_HOLDERS

__all__ = ["SparkDedupeResult", "dedupe", "key_frame"]

_MIN_RECORDS_TO_TRAIN: Final = 1_000  # as crmcore.matching.dedupe
DEFAULT_SAMPLE_SIZE: Final = 200_000


@attrs.frozen(eq=False)
class SparkDedupeResult:
    """The outcome of :func:`dedupe`.

    Attributes:
        clusters: ``(id, cluster_id)`` for every record (cluster id: the
            smallest member id, as in-process).
        pairs: Every distinct candidate pair, scored: ``left``, ``right``,
            ``levels``, ``weight``, ``probability`` and, when asked for,
            ``explanation`` (for pairs at or above the threshold). Both are
            cached (``unpersist()`` them when done).
        model: The model used.
        records: How many records were deduplicated.
        matched_pairs: Pairs at or above the threshold.
        blocking: Pairs per rule (before the union) and skipped blocks per rule.
        timings: Seconds per stage (``keys``, ``model``, ``blocking``,
            ``scoring``, ``clustering``), Spark jobs included.
    """

    clusters: DataFrame
    pairs: DataFrame
    model: MatchModel
    records: int
    matched_pairs: int
    blocking: BlockingStats
    timings: dict[str, float]


def _columns(frame: DataFrame) -> dict[str, list[str]]:
    """Field → columns: headers :func:`recognise_columns` knows, and columns named after fields."""
    names = list(frame.columns)
    plan = {
        field: [names[int(p)] for p in places] for field, places in recognise_columns(names).items()
    }
    taken = {c for cs in plan.values() for c in cs}
    for name in names:
        if (name == "id" or name in RAW_FIELDS) and name not in taken:
            plan.setdefault(name, []).append(name)
    return plan


def key_frame(frame: DataFrame, settings: MatchSettings | None = None) -> DataFrame:
    """Return the matching keys of every row of ``frame`` (one row per record).

    Args:
        frame: Raw records: an ``id`` column and columns named after
            :class:`~crmcore.matching.MatchRecord` fields (or headers
            :func:`~crmcore.matching.recognise_columns` knows); strings, or
            arrays of strings for emails and phones.
        settings: The settings (their key options are used).

    Returns:
        The keys (:data:`crmcore.adapters.arrow.KEY_SCHEMA`), lazily.

    Raises:
        ConfigurationError: If no column holds record ids.
    """
    options = (settings or MatchSettings()).keys
    plan = _columns(frame)
    if "id" not in plan:
        raise ConfigurationError(
            f"no id column among {list(frame.columns)!r} (id, record_id, customer_id …)"
        )
    wanted = sorted({c for cs in plan.values() for c in cs})
    selected = frame.select(
        *(
            F.col(c).cast("string").alias(c)
            if c not in {*plan.get("emails", []), *plan.get("phones", [])}
            or not _is_array(frame, c)
            else F.col(c).cast("array<string>").alias(c)
            for c in wanted
        )
    )

    def keys(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return key_batches(batches, options=options, columns=plan)

    return selected.mapInArrow(keys, from_arrow_schema(KEY_SCHEMA))


def _is_array(frame: DataFrame, column: str) -> bool:
    return frame.schema[column].dataType.typeName() == "array"


def _with_counts(keys: DataFrame, tf: Sequence[str]) -> DataFrame:
    out = keys
    for column in tf:
        counts = (
            keys.where(F.col(column) != "")
            .groupBy(column)
            .agg(F.count(F.lit(1)).alias(f"tf_{column}"))
        )
        out = out.join(counts, on=column, how="left").withColumn(
            f"tf_{column}", F.coalesce(F.col(f"tf_{column}"), F.lit(0)).cast("long")
        )
    return out


def _size_limit(settings: MatchSettings) -> Column:
    limit: Column = F.lit(0)
    for r, rule in reversed(list(enumerate(settings.blocking_rules))):
        limit = F.when(F.col("rule") == r, F.lit(rule.max_block_size)).otherwise(limit)
    return limit


def _tagged(column: str) -> Callable[[Column], Column]:
    """Return the one-argument function ``transform`` applies: value → (column, value)."""

    def tag(value: Column) -> Column:
        return F.struct(F.lit(column).alias("column"), value.alias("value"))

    return tag


def _contact_holders(keys: DataFrame) -> dict[str, dict[str, int]]:
    """Count, per email and phone, the different names holding it (``contact_holders``).

    Every value of every record counts, as in process. Only values held by at
    least :data:`SHARED_HOLDERS` different name keys reach the driver, where
    :func:`distinct_names` merges one person's name written two ways: fewer
    holders never make a value shared, so the answer is the in-process one.
    """
    held = F.concat(
        *(
            F.transform(F.array_union(F.array(F.col(column)), F.col(f"{column}s")), _tagged(column))
            for column in sorted(CONTACT_COLUMNS)
        )
    )
    shared = (
        keys.select(F.explode(held).alias("held"), "name_ff", "name_gf")
        .select("held.column", "held.value", "name_ff", "name_gf")
        .where(F.col("value") != "")
        .distinct()
        .groupBy("column", "value")
        .agg(F.collect_list(F.struct("name_ff", "name_gf")).alias("names"))
        .where(F.size("names") >= SHARED_HOLDERS)
    )
    holders: dict[str, dict[str, int]] = {column: {} for column in CONTACT_COLUMNS}
    for row in shared.toLocalIterator():
        names = ((n["name_ff"], n["name_gf"]) for n in row["names"])
        holders[row["column"]][row["value"]] = distinct_names(names)
    return holders


def _train(
    keys: DataFrame, records: int, settings: MatchSettings, sample_size: int, seed: int
) -> MatchModel:
    """Estimate the model in-process on (a sample of) the keyed records."""
    sample = (
        keys
        if records <= sample_size
        else keys.sample(
            withReplacement=False, fraction=min(1.0, 1.2 * sample_size / records), seed=seed
        ).limit(sample_size)
    )
    arrow = sample.select(*KEY_SCHEMA.names).toArrow()
    order = np.argsort(np.asarray(arrow.column("id").to_pylist(), dtype=object).astype(str))
    table, _ = feature_table(arrow.take(pa.array(order.astype(np.int64))))
    left, right, _ = candidate_pairs(table, settings.blocking_rules, link_only=settings.link_only)
    levels = compare_pairs(table, settings.comparisons, left, right)
    return settings.estimate(table, levels, left, right)


def dedupe(
    frame: DataFrame,
    settings: MatchSettings | None = None,
    *,
    model: MatchModel | None = None,
    explain: bool = False,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> SparkDedupeResult:
    """Find the duplicate clusters of a Spark DataFrame, as :func:`crmcore.matching.dedupe` would.

    Args:
        frame: The records (see :func:`key_frame` for the columns read).
        settings: The settings (defaults are sensible).
        model: A trained model to reuse; when ``None`` one is chosen or
            trained as :func:`crmcore.matching.dedupe` does (on at most
            ``sample_size`` records).
        explain: Add an ``explanation`` column to the pairs.
        sample_size: Records the model is estimated on (collected to the driver).

    Returns:
        The clusters, the scored pairs and the model.

    Raises:
        ConfigurationError: If there is no id column or ids are not unique.
        InvalidValueError: If a cell is not text.
    """
    settings = settings or MatchSettings()
    if sample_size < 2:
        raise ConfigurationError(f"sample_size must be at least 2, got {sample_size!r}")
    spark = frame.sparkSession
    with spark_errors():
        keys = key_frame(frame, settings).persist()
        try:
            return _dedupe(spark, keys, settings, model, explain=explain, sample_size=sample_size)
        finally:
            keys.unpersist()


def _dedupe(
    spark: SparkSession,
    keys: DataFrame,
    settings: MatchSettings,
    model: MatchModel | None,
    *,
    explain: bool,
    sample_size: int,
) -> SparkDedupeResult:
    start = time.perf_counter()
    # One job: how many records, and the first id given twice (if any).
    summary = (
        keys.groupBy("id")
        .count()
        .agg(
            F.sum("count").alias("records"),
            F.min(F.when(F.col("count") > 1, F.col("id"))).alias("repeated"),
        )
        .collect()[0]
    )
    records = int(summary["records"] or 0)
    timings = {"keys": time.perf_counter() - start}
    start = time.perf_counter()
    if summary["repeated"] is not None:
        raise ConfigurationError(
            f"record ids must be unique within one dedupe run; {summary['repeated']!r} repeats"
        )
    if model is None and records < _MIN_RECORDS_TO_TRAIN:
        model = MatchModel.default(settings.comparisons)
    if model is None:
        model = _train(keys, records, settings, sample_size, settings.seed)
    timings["model"] = time.perf_counter() - start
    start = time.perf_counter()
    trained = model
    tf = tf_columns(trained)
    counted = _with_counts(keys, tf)
    rules = settings.blocking_rules

    def entries_of(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return block_key_batches(batches, rules)

    entries = keys.select(*KEY_SCHEMA.names).mapInArrow(entries_of, from_arrow_schema(ENTRY_SCHEMA))
    sizes = entries.groupBy("rule", "key").agg(F.count(F.lit(1)).alias("size"))
    limit = _size_limit(settings)
    sizes = sizes.withColumn("limit", limit).persist()
    kept = sizes.where((F.col("size") >= 2) & (F.col("size") <= F.col("limit")))
    stats_rows = (
        sizes.groupBy("rule")
        .agg(
            F.sum(F.when(F.col("size") > F.col("limit"), 1).otherwise(0)).alias("skipped"),
            F.sum(
                F.when(
                    (F.col("size") >= 2) & (F.col("size") <= F.col("limit")),
                    F.col("size") * (F.col("size") - 1) / 2,
                ).otherwise(0)
            ).alias("pairs"),
        )
        .collect()
    )
    timings["blocking"] = time.perf_counter() - start
    start = time.perf_counter()
    row_columns = [*KEY_SCHEMA.names, *(f"tf_{c}" for c in tf)]
    blocks = (
        entries.join(kept.select("rule", "key"), on=["rule", "key"], how="left_semi")
        .join(counted.select(*row_columns), on="id")
        .groupBy("rule", "key")
        .agg(F.collect_list(F.struct(*row_columns)).alias("rows"))
    )
    kernel = PairKernel(
        trained,
        records,
        link_only=settings.link_only,
        threshold=settings.threshold,
        explain=explain,
        holders=_contact_holders(keys),
    )
    pairs = (
        blocks.mapInArrow(kernel.score_blocks, from_arrow_schema(kernel.schema))
        .dropDuplicates(["left", "right"])
        .persist()
    )
    candidates = pairs.count()
    sizes.unpersist()
    matched = (
        pairs.where(F.col("probability") >= settings.threshold)
        .select("left", "right", "probability")
        .persist()
    )
    matched_pairs = matched.count()
    timings["scoring"] = time.perf_counter() - start
    start = time.perf_counter()
    # Cached and computed now, while the keys are: read later, it never re-keys the rows.
    buckets = max(int(spark.conf.get("spark.sql.shuffle.partitions") or 8), 1)
    clusters = _clusters(keys, counted, row_columns, matched, kernel, settings, buckets)
    matched.unpersist()
    timings["clustering"] = time.perf_counter() - start
    by_rule = {row["rule"]: row for row in stats_rows}
    stats = BlockingStats(
        {
            rule.name: int(by_rule[r]["pairs"]) if r in by_rule else 0
            for r, rule in enumerate(rules)
        },
        {
            rule.name: int(by_rule[r]["skipped"]) if r in by_rule else 0
            for r, rule in enumerate(rules)
        },
        candidates,
    )
    return SparkDedupeResult(
        clusters=clusters,
        pairs=pairs,
        model=trained,
        records=records,
        matched_pairs=matched_pairs,
        blocking=stats,
        timings=timings,
    )


def _clusters(  # noqa: PLR0917 - a private stage fed from _dedupe's locals
    keys: DataFrame,
    counted: DataFrame,
    row_columns: Sequence[str],
    matched: DataFrame,
    kernel: PairKernel,
    settings: MatchSettings,
    buckets: int,
) -> DataFrame:
    """Cluster the matched pairs in Spark; every record in no matched pair is its own cluster.

    The components of the matched pairs are found in Spark (:func:`_components`);
    whole components are then hashed into ``buckets`` groups and each group is
    clustered by :func:`~crmcore.matching.cluster_pairs` in one Python worker
    (``cogroup(...).applyInArrow``) with the keys of the members of its
    components of three or more (the only ones the consistency check scores).
    Components never interact in ``cluster_pairs`` (cuts, consistency checks
    and average linkage all stay inside one), and a group keeps its ids in
    sorted order, so every cluster is the one the in-process run forms.
    """
    edges = matched.select("left", "right", "probability")
    labels = _components(edges).persist()
    try:
        sizes = labels.groupBy("component").agg(F.count(F.lit(1)).alias("size"))

        def bucket() -> Column:
            return F.pmod(F.xxhash64("component"), F.lit(buckets)).alias("bucket")

        # Each side computes its own bucket column: Spark refuses a cogroup of two
        # plans sharing one.
        grouped_edges = edges.join(
            labels.select(F.col("id").alias("left"), "component"), "left"
        ).select("left", "right", "probability", bucket())
        wanted = labels.join(sizes.where(F.col("size") >= 3), "component").select("id", bucket())
        grouped_rows = counted.select(*row_columns).join(wanted, "id")
        clusterer = _BucketClusterer(kernel, settings)

        # A plain function: Spark reads the arity of what it is given (a bound
        # ``__call__`` would look like the keyed three-argument form).
        def cluster(edges: pa.Table, rows: pa.Table) -> pa.Table:
            return clusterer(edges, rows)

        found = (
            grouped_edges.groupBy("bucket")
            .cogroup(grouped_rows.groupBy("bucket"))
            .applyInArrow(cluster, schema="id string, cluster string")
        )
        clusters = (
            keys.select("id")
            .join(found, "id", "left")
            .select("id", F.coalesce(F.col("cluster"), F.col("id")).alias("cluster_id"))
            .persist()
        )
        clusters.count()
    finally:
        labels.unpersist()
    return clusters


def _components(edges: DataFrame) -> DataFrame:
    """Return ``(id, component)`` for every record in an edge: the smallest id it connects to.

    The vectorised union-find of :func:`~crmcore.matching.connected_components`
    as Spark joins: each round hooks the larger root of every edge whose ends
    have different roots under the smaller one, then jumps pointers
    (``parent = parent[parent]``) until every record points at its root. Roots
    only ever point to smaller ids, so there are no cycles, and the rounds
    needed grow with the logarithm of a component's diameter, not its size.
    """
    pairs = (
        edges.select(F.least("left", "right").alias("a"), F.greatest("left", "right").alias("b"))
        .where(F.col("a") != F.col("b"))
        .distinct()
        .localCheckpoint()
    )
    parent = (
        pairs.select(F.col("a").alias("id"))
        .union(pairs.select(F.col("b").alias("id")))
        .distinct()
        .select("id", F.col("id").alias("parent"))
        .localCheckpoint()
    )
    while True:
        ends = pairs.join(
            parent.select(F.col("id").alias("a"), F.col("parent").alias("pa")), "a"
        ).join(parent.select(F.col("id").alias("b"), F.col("parent").alias("pb")), "b")
        hooks = (
            ends.where(F.col("pa") != F.col("pb"))
            .select(F.greatest("pa", "pb").alias("id"), F.least("pa", "pb").alias("hook"))
            .groupBy("id")
            .agg(F.min("hook").alias("hook"))
            .localCheckpoint()
        )
        if hooks.isEmpty():
            return parent.select("id", F.col("parent").alias("component"))
        parent = (
            parent.join(hooks, "id", "left")
            .select("id", F.least("parent", F.coalesce("hook", "parent")).alias("parent"))
            .localCheckpoint()
        )
        while True:
            jumped = (
                parent.alias("x")
                .join(parent.alias("y"), F.col("x.parent") == F.col("y.id"))
                .select(
                    F.col("x.id").alias("id"),
                    F.col("y.parent").alias("parent"),
                    (F.col("x.parent") != F.col("y.parent")).alias("moved"),
                )
                .localCheckpoint()
            )
            parent = jumped.select("id", "parent")
            if jumped.where(F.col("moved")).isEmpty():
                break


class _BucketClusterer:
    """Cluster one bucket of whole components (``cogroup(...).applyInArrow``).

    Called with the bucket's matched edges and the keys (with ``tf_`` counts)
    of the members of its components of three or more; returns each member's
    cluster id.
    """

    def __init__(self, kernel: PairKernel, settings: MatchSettings) -> None:
        self.kernel = kernel
        self.threshold = settings.threshold
        self.max_cluster_size = settings.max_cluster_size

    def __call__(self, edges: pa.Table, rows: pa.Table) -> pa.Table:
        left_ids: list[str] = edges.column("left").to_pylist()
        right_ids: list[str] = edges.column("right").to_pylist()
        ids = sorted(set(left_ids) | set(right_ids))
        row_of = {record_id: row for row, record_id in enumerate(ids)}
        left = np.fromiter((row_of[i] for i in left_ids), dtype=np.int64, count=len(left_ids))
        right = np.fromiter((row_of[i] for i in right_ids), dtype=np.int64, count=len(right_ids))
        probability = np.asarray(
            edges.column("probability").to_numpy(zero_copy_only=False), dtype=np.float64
        )
        table, counts = feature_table(rows, tf_columns(self.kernel.model))
        local = {row_of[record_id]: k for k, record_id in enumerate(rows.column("id").to_pylist())}

        def score(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
            rows_a = np.fromiter((local[int(r)] for r in a.tolist()), dtype=np.int64, count=len(a))
            rows_b = np.fromiter((local[int(r)] for r in b.tolist()), dtype=np.int64, count=len(b))
            _, _, scored, _ = self.kernel.score(table, counts, rows_a, rows_b)
            return scored

        cluster_ids = cluster_pairs(
            ids,
            left,
            right,
            probability,
            threshold=self.threshold,
            score_pairs=score,
            max_cluster_size=self.max_cluster_size,
            prior_weight=self.kernel.model.prior_weight,
        )
        return pa.table(
            {"id": pa.array(ids, pa.string()), "cluster": pa.array(cluster_ids, pa.string())}
        )
