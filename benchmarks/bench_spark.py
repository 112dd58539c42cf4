"""Benchmark deduplication on Spark ``local[2]`` beside in-process ``crmcore dedupe`` and Splink.

Every system runs in a fresh child process on the same seeded CSV (``crmcore.sample.
generate_contacts``, written row by row), so wall time and peak memory are each run's own.
Peak memory is the sampled peak of the summed PSS of the child and every process under it
(``bench_dedupe``'s sampler): for Spark that is the Python driver, the JVM (driver and
executor in local mode, ``spark.driver.memory`` as given) and its Python workers; for
``crmcore dedupe`` the command and its key workers (a page a forked worker shares with its
parent counts once). The systems:

- ``memory`` — ``crmcore dedupe FILE`` (the CLI, in-process), the baseline of every ratio;
- ``spark`` — ``crmcore.adapters.spark.dedupe`` on ``local[2]``; its time is split into
  the session start (JVM, reading the CSV into a cached DataFrame: paid once per
  application) and the dedupe itself (clusters collected back to the driver);
- ``splink`` — Splink 4 on DuckDB with the keys crmcore builds (``bench_dedupe``'s
  configuration: the same blocking keys, Jaro-Winkler names, EM on three rules).

Quality is cluster pair precision / recall / F1 against the generator's truth; the last
column says whether the system's clusters are identical to the in-process ones.

Usage::

    python benchmarks/bench_spark.py                   # 100,000 rows, all three systems
    python benchmarks/bench_spark.py --sizes 1000000
    python benchmarks/bench_spark.py --sizes 20000,100000 --systems memory,spark
    python benchmarks/bench_spark.py --driver-memory 4g --partitions 16
    python benchmarks/bench_spark.py --sizes 1000000 --sample-size 200000  # a sample

At sizes up to 200,000 rows it also times the Arrow kernel's steps alone, in this
process with no Spark in between.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_dedupe

SEED = 42
SYSTEMS = ("memory", "spark", "splink")
KERNEL_UP_TO = 200_000


def _run_spark_child(
    path: Path, out: Path, options: argparse.Namespace
) -> tuple[dict[str, Any], float, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        str(path),
        str(out),
        "--driver-memory",
        options.driver_memory,
        "--partitions",
        str(options.partitions),
        "--sample-size",
        str(options.sample_size),
    ]
    sampler = bench_dedupe._TreeMemory()
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:  # noqa: S603 - this script
        sampler.start(child.pid)
        stdout, _ = child.communicate()
        sampler.stop()
    wall = time.perf_counter() - start
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        raise SystemExit(f"the Spark child failed with exit code {child.returncode}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result, wall, sampler.peak_mb


# --------------------------------------------------------------------------- the Spark child


def child_spark(path: str, out: str, driver_memory: str, partitions: int, sample_size: int) -> None:
    """Deduplicate ``path`` on Spark ``local[2]``; write ``id,cluster_id`` to ``out``.

    ``sample_size`` 0 estimates the model on every record (as in-process does).
    """
    import warnings  # noqa: PLC0415 - Spark loads in its own child process

    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.csv as pacsv  # noqa: PLC0415
    from pyspark.sql import SparkSession  # noqa: PLC0415

    from crmcore.adapters.spark import dedupe  # noqa: PLC0415
    from crmcore.matching import KeyOptions, MatchSettings  # noqa: PLC0415

    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
    begin = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.shuffle.partitions", str(partitions))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    with open(path, encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
        ),
    ).drop_columns(["cluster"])
    frame = spark.createDataFrame(table).repartition(partitions).cache()
    frame.count()
    started = time.perf_counter() - begin
    start = time.perf_counter()
    records = table.num_rows
    # The settings `crmcore dedupe --region CN` uses (bench_dedupe's in-process run).
    settings = MatchSettings(keys=KeyOptions(region="CN"))
    result = dedupe(frame, settings, sample_size=sample_size or max(records, 2))
    clusters = result.clusters.toArrow()
    seconds = time.perf_counter() - start
    with open(out, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "cluster_id"])
        writer.writerows(
            zip(
                clusters.column("id").to_pylist(),
                clusters.column("cluster_id").to_pylist(),
                strict=True,
            )
        )
    stages = {k: round(v, 1) for k, v in result.timings.items()}
    print(json.dumps({"seconds": seconds, "start": started, "stages": stages}))
    spark.stop()


# --------------------------------------------------------------------------- the kernel alone


def kernel_seconds(path: Path) -> dict[str, float]:
    """Time the Arrow kernel's three steps in this process, with no Spark in between.

    What Spark adds to these (shuffles, JVM ↔ Python transfer, scheduling) is the
    difference between this and the Spark run's stages.
    """
    import collections  # noqa: PLC0415

    import pyarrow as pa  # noqa: PLC0415

    from crmcore.adapters.arrow import (  # noqa: PLC0415
        BLOCK_SCHEMA,
        PairKernel,
        block_key_batches,
        key_batches,
        tf_columns,
    )
    from crmcore.matching import MatchModel, MatchSettings, recognise_columns  # noqa: PLC0415

    with path.open(encoding="utf-8", newline="") as stream:
        rows = [{k: v for k, v in r.items() if k != "cluster"} for r in csv.DictReader(stream)]
    header = list(rows[0])
    plan = {f: [header[int(p)] for p in ps] for f, ps in recognise_columns(header).items()}
    raw = pa.Table.from_pylist(rows)
    match, model = MatchSettings(), MatchModel.default()
    out: dict[str, float] = {}
    start = time.perf_counter()
    keyed = pa.Table.from_batches(list(key_batches(raw.to_batches(10_000), columns=plan)))
    out["keys"] = time.perf_counter() - start
    start = time.perf_counter()
    entries = pa.Table.from_batches(
        list(block_key_batches(keyed.to_batches(10_000), match.blocking_rules))
    )
    out["blocking keys"] = time.perf_counter() - start
    records = keyed.to_pylist()
    for column in tf_columns(model):
        counts = collections.Counter(r[column] for r in records if r[column])
        for r in records:
            r[f"tf_{column}"] = counts.get(r[column], 0)
    by_id = {r["id"]: r for r in records}
    blocks: dict[tuple[int, str], list[str]] = {}
    for rule, key, record_id in zip(
        entries.column("rule").to_pylist(),
        entries.column("key").to_pylist(),
        entries.column("id").to_pylist(),
        strict=True,
    ):
        blocks.setdefault((rule, key), []).append(record_id)
    kept = [
        {"rule": rule, "key": key, "rows": [by_id[i] for i in ids]}
        for (rule, key), ids in blocks.items()
        if 2 <= len(ids) <= match.blocking_rules[rule].max_block_size
    ]
    batches = pa.Table.from_pylist(kept, schema=BLOCK_SCHEMA).to_batches(2_000)
    start = time.perf_counter()
    for _ in PairKernel(model, len(records)).score_blocks(batches):
        pass
    out["pair scoring"] = time.perf_counter() - start
    return out


# --------------------------------------------------------------------------- driver


def _clusters(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as stream:
        return {row["id"]: row["cluster_id"] for row in csv.DictReader(stream)}


def _same_partition(a: dict[str, str], b: dict[str, str]) -> bool:
    """Whether two clusterings group the ids alike (cluster labels may differ)."""
    if a.keys() != b.keys():
        return False
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for record_id, label in a.items():
        other = b[record_id]
        if forward.setdefault(label, other) != other or backward.setdefault(other, label) != label:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--driver-memory", default="3g")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument(
        "--sample-size",
        type=int,
        default=0,
        help="records Spark estimates the model on (0: all, so the model is the in-process one)",
    )
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--child", nargs=2, metavar=("INPUT", "OUT"))
    args = parser.parse_args()
    if args.child:
        child_spark(
            args.child[0], args.child[1], args.driver_memory, args.partitions, args.sample_size
        )
        return
    systems = [s for s in args.systems.split(",") if s]
    if "memory" not in systems or set(systems) - set(SYSTEMS):
        parser.error(f"--systems: a comma-separated subset of {SYSTEMS} including memory")

    from crmcore.sample import generate_contacts, write_csv  # noqa: PLC0415

    print(
        f"{'rows':>10} {'system':<15} {'start s':>8} {'dedupe s':>9} {'× in-process':>13} "
        f"{'peak MB':>8} {'P':>7} {'R':>7} {'F1':>7} {'same clusters':>14}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",") if s]:
            data = Path(tmp) / f"rows-{size}.csv"
            write_csv(generate_contacts(size, seed=SEED), data)
            shared = bench_dedupe.shared_contacts(data)
            figures: dict[str, tuple[float, float, float, str]] = {}
            outputs: dict[str, Path] = {}
            stages = ""
            for system in systems:
                if system == "spark":
                    outputs[system] = Path(tmp) / f"spark-{size}.csv"
                    result, _, peak = _run_spark_child(data, outputs[system], args)
                    stages = ", ".join(f"{k} {v:.1f}" for k, v in result["stages"].items())
                    figures[system] = (result["start"], result["seconds"], peak, "")
                    continue
                child = "crmcore" if system == "memory" else system
                stats, outputs[system] = bench_dedupe.run_child(child, data, args.timeout)
                if "error" in stats:
                    figures[system] = (0.0, 0.0, 0.0, str(stats["error"]))
                    continue
                figures[system] = (0.0, stats["seconds"], stats["peak_mb"], "")
            base = figures["memory"][1]
            reference = _clusters(outputs["memory"])
            for system in systems:
                start, seconds, peak, error = figures[system]
                label = {"memory": "in-process", "spark": "spark local[2]"}.get(system, system)
                if error:
                    print(f"{size:>10,} {label:<15} {error}")
                    continue
                p, r, f, _, _ = bench_dedupe.evaluate(data, outputs[system], shared)
                same = _same_partition(reference, _clusters(outputs[system]))
                print(
                    f"{size:>10,} {label:<15} {start:>8.1f} {seconds:>9.1f} "
                    f"{seconds / base:>13.1f} {peak:>8.0f} {p:>7.4f} {r:>7.4f} {f:>7.4f} "
                    f"{('yes' if same else 'no'):>14}",
                    flush=True,
                )
            if stages:
                print(f"{'':>10} spark stages (s): {stages}")
            if size <= KERNEL_UP_TO:
                kernel = ", ".join(f"{k} {v:.1f}" for k, v in kernel_seconds(data).items())
                print(f"{'':>10} the Arrow kernel alone, one process, no Spark (s): {kernel}")


if __name__ == "__main__":
    main()
