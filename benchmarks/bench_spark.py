"""Benchmark deduplication on Spark ``local[2]`` beside in-process ``crmcore.matching.dedupe``.

Both run in a fresh child process on the same seeded sample (``crmcore.sample.
generate_contacts``), so wall time and peak memory are each run's own: peak memory is the
sampled peak of the summed resident memory of the child and every process under it (for
Spark: the driver, its JVM and the Python workers). Spark's time is split into the
session start (a JVM, paid once per application) and the dedupe itself, and the table
gives the ratio of each system's time to the in-process run measured in the same
invocation. Both runs must find the same clusters; the last column says whether they did.

Usage::

    python benchmarks/bench_spark.py                   # 100,000 rows
    python benchmarks/bench_spark.py --sizes 20000,100000,1000000
    python benchmarks/bench_spark.py --executor-memory 2g --partitions 8

Spark runs with ``spark.driver.memory`` (local mode has no separate executors) and
``spark.sql.shuffle.partitions`` as given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SEED = 42


def _tree_rss_mb(root: int) -> float:
    """Return the summed resident memory of ``root`` and all its descendants, in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(entry), int(fields[1])
        children.setdefault(parent, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / 1e6


def _run_child(kind: str, path: str, out: str, options: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--data",
        path,
        "--out",
        out,
        "--driver-memory",
        options.driver_memory,
        "--partitions",
        str(options.partitions),
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command)  # noqa: S603 - this script, fixed arguments
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_mb(process.pid))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    process.wait()
    stop.set()
    sampler.join()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{kind} child failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads(Path(out + ".json").read_text(encoding="utf-8"))
    result["wall"] = wall
    result["peak_mb"] = peak
    return result


# --------------------------------------------------------------------------- children


def _records(path: str) -> list[Any]:
    from crmcore.matching import MatchRecord, recognise_columns  # noqa: PLC0415

    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    header = [h for h in rows[0] if h != "cluster"]
    columns = recognise_columns(header)
    return [MatchRecord.from_row([r[h] for h in header], id=r["id"], columns=columns) for r in rows]


def child_memory(path: str, out: str) -> None:
    from crmcore.matching import dedupe  # noqa: PLC0415

    records = _records(path)
    start = time.perf_counter()
    result = dedupe(records)
    seconds = time.perf_counter() - start
    clusters = result.cluster_of()
    Path(out).write_text(json.dumps(clusters), encoding="utf-8")
    Path(out + ".json").write_text(
        json.dumps({"seconds": seconds, "start": 0.0, "pairs": int(result.blocking.pairs)}),
        encoding="utf-8",
    )


def child_spark(path: str, out: str, driver_memory: str, partitions: int) -> None:
    import warnings  # noqa: PLC0415

    import pyarrow as pa  # noqa: PLC0415
    from pyspark.sql import SparkSession  # noqa: PLC0415

    from crmcore.adapters.spark import dedupe  # noqa: PLC0415

    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    header = [h for h in rows[0] if h != "cluster"]
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
    frame = spark.createDataFrame(pa.table({h: [r[h] for r in rows] for h in header}))
    frame = frame.repartition(partitions).cache()
    frame.count()
    started = time.perf_counter() - begin
    start = time.perf_counter()
    result = dedupe(frame)
    clusters = {r["id"]: r["cluster_id"] for r in result.clusters.toArrow().to_pylist()}
    seconds = time.perf_counter() - start
    Path(out).write_text(json.dumps(clusters), encoding="utf-8")
    Path(out + ".json").write_text(
        json.dumps(
            {
                "seconds": seconds,
                "start": started,
                "pairs": result.blocking.pairs,
                "stages": result.timings,
            }
        ),
        encoding="utf-8",
    )
    spark.stop()


def kernel_seconds(rows: list[dict[str, str]]) -> dict[str, float]:
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

    header = [h for h in rows[0] if h != "cluster"]
    plan = {f: [header[int(p)] for p in ps] for f, ps in recognise_columns(header).items()}
    raw = pa.Table.from_pylist([{h: r[h] for h in header} for r in rows])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--child", choices=["memory", "spark"])
    parser.add_argument("--data")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child == "memory":
        child_memory(args.data, args.out)
        return
    if args.child == "spark":
        child_spark(args.data, args.out, args.driver_memory, args.partitions)
        return

    from crmcore.sample import generate_contacts  # noqa: PLC0415

    print(
        f"{'rows':>9} {'system':<14} {'start s':>8} {'dedupe s':>9} {'wall s':>8} "
        f"{'× in-process':>13} {'peak MB':>8} {'pairs':>10} {'same clusters':>14}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",") if s]:
            data = Path(tmp) / f"rows-{size}.json"
            data.write_text(json.dumps(list(generate_contacts(size, seed=SEED))), encoding="utf-8")
            results = {
                kind: _run_child(kind, str(data), str(Path(tmp) / f"{kind}-{size}"), args)
                for kind in ("memory", "spark")
            }
            clusters = {
                kind: json.loads((Path(tmp) / f"{kind}-{size}").read_text(encoding="utf-8"))
                for kind in results
            }
            same = clusters["memory"] == clusters["spark"]
            base = results["memory"]["seconds"]
            for kind, label in (("memory", "in-process"), ("spark", "spark local[2]")):
                r = results[kind]
                print(
                    f"{size:>9,} {label:<14} {r['start']:>8.1f} {r['seconds']:>9.1f} "
                    f"{r['wall']:>8.1f} {r['seconds'] / base:>13.1f} {r['peak_mb']:>8.0f} "
                    f"{r['pairs']:>10,} {('yes' if same else 'NO'):>14}"
                )
            stages = ", ".join(f"{k} {v:.1f}" for k, v in results["spark"]["stages"].items())
            print(f"{'':>9} spark stages (s): {stages}")
            rows = json.loads(data.read_text(encoding="utf-8"))
            kernel = ", ".join(f"{k} {v:.1f}" for k, v in kernel_seconds(rows).items())
            print(f"{'':>9} the Arrow kernel alone, one process, no Spark (s): {kernel}")


if __name__ == "__main__":
    main()
