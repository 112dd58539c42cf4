"""How much of each corpus's truth can any matcher find? A recall ceiling, model-free.

``bench_dedupe.py`` scores cluster pair F1 against the generators' truth. Some true pairs
carry no evidence at all: the same person entered twice under a common name with nothing
else in common (the ``people`` corpus's sparse records). No matcher can link them without
linking every namesake too, so they bound recall whatever the model. This script counts,
per corpus and size, the true pairs a generous reading of the evidence could join:

* two records are *linked* when they share a normalised email or phone (the keys
  ``crmcore dedupe`` builds), or the same name (``name_sig``) and any of company, city,
  birth date, postcode or address, or a name at most ``--common`` records hold;
* a true pair is *reachable* when a path of links inside its true cluster joins it
  (clustering is transitive: a pair need not share anything itself).

The ceiling is reachable ÷ true pairs; the F1 ceiling assumes perfect precision. It is a
property of the data, not of crmcore's model (no weights, no threshold), and is meant to
be read beside ``bench_dedupe.py``'s F1 at the same seed and size.

``--oracle`` adds a second ceiling, one that counts precision too: the best cluster F1 a
model reading crmcore's own evidence could reach. It runs ``crmcore dedupe``, files every
candidate pair under its *evidence vector* (the level of every comparison, and for an
exact match on a term-frequency column how many records hold the value, in buckets
1-2, 3, 4-5, 6-9, 10-19, 20+), and gives each pair the share of its vector's pairs that
are true (read off the truth: a perfectly calibrated model of the same evidence). Two
such oracles are printed. *In sample* counts the share over all the vector's pairs; it
leans high, as a vector few pairs have is decided by those very pairs' labels. *Two
folds* counts it in the other half of the true clusters, so no pair is decided by its
own label; a vector the other half lacks keeps crmcore's probability, and it leans low,
each half being noisier than the whole. The probabilities go through crmcore's own
clustering, as ``dedupe`` runs it: the default
threshold, 0.5, the model's prior and its evidence against a match in average linkage
(the pairs the clustering scores itself get their vector's share too). Pairs that share a
vector look alike to any model reading these comparisons, so no such model decides them
better than by their vector's majority; it is an estimate, not a proof: the clustering
may chain or split otherwise than the best possible one, and a model that read more
evidence (another comparison, finer levels) could go further.

Usage::

    python benchmarks/bench_ceiling.py                       # crm and people, 10k and 100k
    python benchmarks/bench_ceiling.py --corpora people --sizes 100000 --seed 7
    python benchmarks/bench_ceiling.py --corpora crm,people,faker --sizes 10000 --oracle
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from crmcore.matching import (
    FeatureTable,
    KeyOptions,
    MatchSettings,
    build_features_from_rows,
    cluster_pairs,
    compare_pairs,
    contact_holders,
    dedupe,
    recognise_columns,
)
from crmcore.matching.model import CONTACT_COLUMNS
from crmcore.sample import generate_contacts
from crmcore.sample.people import generate_people

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from bench_dedupe import pair_scores  # found on the path just set

SEED = 42
OTHER_FIELDS = ("company", "city", "birth_date", "postcode", "address")


class Ceiling(NamedTuple):
    """The truth's pairs, how many a path of links reaches, and the pairs by their evidence."""

    true_pairs: int
    reachable: int
    name_only: int  # same name, held by more than ``common`` records, nothing else shared


def corpus_rows(corpus: str, size: int, seed: int) -> list[dict[str, str]]:
    """The rows ``bench_dedupe.py`` writes for ``corpus`` (with their ``cluster`` truth)."""
    if corpus == "faker":
        from faker_corpus import generate_faker_people  # noqa: PLC0415 - needs Faker (bench extra)

        return list(generate_faker_people(size, seed=seed))
    made: Iterator[dict[str, str]] = (
        generate_contacts(size, seed=seed) if corpus == "crm" else generate_people(size, seed=seed)
    )
    return list(made)


def features(rows: list[dict[str, str]]) -> FeatureTable:
    """The keys ``crmcore dedupe`` builds from the rows (the truth column left out)."""
    headers = [h for h in rows[0] if h != "cluster"]
    columns = {f: [int(p) for p in ps] for f, ps in recognise_columns(headers).items()}
    columns.pop("id", None)
    return build_features_from_rows(
        ((row["id"], [row[h] for h in headers]) for row in rows),
        columns,
        KeyOptions(region="CN"),
        workers=1,
    )


def _contacts(table: FeatureTable, column: str, row: int) -> set[str]:
    several = table.emails if column == "email" else table.phones
    return set(several.get(row, ())) or ({str(table.values[column][row])} - {""})


def ceiling(rows: list[dict[str, str]], common: int) -> Ceiling:
    """Count the true pairs, those a path of links joins, and those sharing a common name only."""
    table = features(rows)
    names = table.codes["name_sig"]
    holders = collections.Counter(names.tolist())
    others = [table.codes[c] for c in OTHER_FIELDS if c in table.codes]
    clusters: dict[str, list[int]] = collections.defaultdict(list)
    for position, row in enumerate(rows):
        clusters[row["cluster"]].append(position)
    true_pairs = reachable = name_only = 0
    for members in clusters.values():
        parent = {m: m for m in members}

        def root(x: int, parent: dict[int, int] = parent) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for a, b in itertools.combinations(members, 2):
            true_pairs += 1
            contact = bool(
                _contacts(table, "email", a) & _contacts(table, "email", b)
                or _contacts(table, "phone", a) & _contacts(table, "phone", b)
            )
            same_name = bool(names[a] >= 0 and names[a] == names[b])
            other = any(codes[a] >= 0 and codes[a] == codes[b] for codes in others)
            rare = same_name and holders[int(names[a])] <= common
            if contact or (same_name and (other or rare)):
                parent[root(a)] = root(b)
            elif same_name:
                name_only += 1
        sizes = collections.Counter(root(m) for m in members)
        reachable += sum(n * (n - 1) // 2 for n in sizes.values())
    return Ceiling(true_pairs, reachable, name_only)


class Oracle(NamedTuple):
    """crmcore's cluster pair scores and the calibrated oracle's, on the same candidate pairs."""

    crmcore: tuple[float, float, float]
    in_sample: tuple[float, float, float]  # each vector's share over all its pairs
    two_folds: tuple[float, float, float]  # its share in the other half of the clusters
    vectors: int  # distinct evidence vectors among the candidate pairs


_BUCKETS = np.array([3, 4, 6, 10, 20])  # holders: 1-2, 3, 4-5, 6-9, 10-19, 20+


def oracle(rows: list[dict[str, str]]) -> Oracle:
    """Score crmcore's clusters and a calibrated oracle's over the same evidence."""
    settings = MatchSettings(keys=KeyOptions(region="CN"))
    result = dedupe(features(rows), settings)
    table, model = result.table, result.model
    truth_of = {row["id"]: row["cluster"] for row in rows}
    ids = [str(i) for i in table.ids.tolist()]
    truth = np.array([truth_of[i] for i in ids], dtype=object)
    tf_columns = [
        (k, c.tf_column) for k, c in enumerate(model.comparisons) if c.tf_column is not None
    ]

    def vectors(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> list[tuple[int, ...]]:
        levels = compare_pairs(table, model.comparisons, a, b).astype(np.int64)
        columns = [levels]
        for k, column in tf_columns:
            codes, counts = table.codes[column], table.counts[column]
            held = np.maximum(
                np.where(codes[a] >= 0, counts[np.maximum(codes[a], 0)], 1),
                np.where(codes[b] >= 0, counts[np.maximum(codes[b], 0)], 1),
            )
            bucket = np.searchsorted(_BUCKETS, held, side="right")
            columns.append(np.where(levels[:, k] == 1, bucket, -1)[:, None])
        return [tuple(v) for v in np.hstack(columns).tolist()]

    left, right = result.left, result.right
    seen = vectors(left, right)
    same = (truth[left] == truth[right]).tolist()
    # Two folds by true cluster: a pair's probability is its vector's share among the
    # other fold's pairs, so no pair is decided by its own label; a vector the other
    # fold lacks keeps crmcore's probability.
    fold = [zlib.crc32(str(t).encode()) & 1 for t in truth[left].tolist()]
    tally: dict[tuple[int, ...], list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0])
    for vector, is_true, side in zip(seen, same, fold, strict=True):
        tally[vector][2 * side] += 1
        tally[vector][2 * side + 1] += is_true
    share = {v: (t0 + t1) / (n0 + n1) for v, (n0, t0, n1, t1) in tally.items()}
    probability = result.probability.copy()
    for row, (vector, side) in enumerate(zip(seen, fold, strict=True)):
        count, true = tally[vector][2 - 2 * side : 4 - 2 * side]
        if count:
            probability[row] = true / count

    def calibrated(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return np.array([share.get(v, 0.0) for v in vectors(a, b)], dtype=np.float64)

    # Counted once, as dedupe counts them: left to tf_adjustments, every call the
    # clustering makes would count each contact's holders over the whole table again.
    holders = {column: contact_holders(table, column) for column in CONTACT_COLUMNS}

    def evidence_against(
        a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        levels = compare_pairs(table, model.comparisons, a, b)
        tf = model.tf_adjustments(table, levels, a, b, holders=holders)
        return model.contradiction(table, levels, a, b, tf)

    def clustered(p: npt.NDArray[np.float64]) -> tuple[float, float, float]:
        found = cluster_pairs(
            ids,
            left,
            right,
            p,
            threshold=settings.threshold,
            score_pairs=calibrated,
            max_cluster_size=settings.max_cluster_size,
            prior_weight=model.prior_weight,
            evidence_against=evidence_against,
        )
        return pair_scores(truth.tolist(), found)

    return Oracle(
        pair_scores(truth.tolist(), list(result.cluster_ids)),
        clustered(np.array([share[v] for v in seen], dtype=np.float64)),
        clustered(probability),
        len(share),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated row counts")
    parser.add_argument(
        "--corpora", default="crm,people", help="comma-separated: crm, people, faker"
    )
    parser.add_argument("--seed", type=int, default=SEED, help="seed of both generators")
    parser.add_argument(
        "--common", type=int, default=20, help="a name more records hold is no link on its own"
    )
    parser.add_argument(
        "--oracle",
        action="store_true",
        help="also the best cluster F1 a calibrated model of crmcore's evidence reaches",
    )
    args = parser.parse_args()
    print(f"seed {args.seed}; a name held by more than {args.common} records links nothing alone")
    print(
        f"{'data':<14}{'true pairs':>11}{'reachable':>11}{'name only':>11}"
        f"{'recall ceiling':>16}{'F1 ceiling (P=1)':>18}"
    )
    for corpus in (c for c in args.corpora.split(",") if c):
        for size in (int(s) for s in args.sizes.split(",") if s):
            found = ceiling(corpus_rows(corpus, size, args.seed), args.common)
            recall = found.reachable / found.true_pairs if found.true_pairs else 1.0
            print(
                f"{f'{corpus} {size:,}':<14}{found.true_pairs:>11,}{found.reachable:>11,}"
                f"{found.name_only:>11,}{recall:>16.4f}{2 * recall / (1 + recall):>18.4f}"
            )

    if not args.oracle:
        return
    print()
    print("cluster pair P / R / F1: crmcore, and a calibrated oracle of the same evidence")
    print(
        f"{'data':<14}{'vectors':>9}{'crmcore':>26}{'oracle, in sample':>26}"
        f"{'oracle, two folds':>26}"
    )
    for corpus in (c for c in args.corpora.split(",") if c):
        for size in (int(s) for s in args.sizes.split(",") if s):
            scores = oracle(corpus_rows(corpus, size, args.seed))
            cells = "".join(
                f"{' / '.join(f'{x:.4f}' for x in triple):>26}"
                for triple in (scores.crmcore, scores.in_sample, scores.two_folds)
            )
            print(f"{f'{corpus} {size:,}':<14}{scores.vectors:>9,}{cells}")


if __name__ == "__main__":
    main()
