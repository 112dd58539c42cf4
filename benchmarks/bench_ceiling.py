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

Usage::

    python benchmarks/bench_ceiling.py                       # crm and people, 10k and 100k
    python benchmarks/bench_ceiling.py --corpora people --sizes 100000 --seed 7
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from crmcore.matching import FeatureTable, KeyOptions, build_features_from_rows, recognise_columns
from crmcore.sample import generate_contacts
from crmcore.sample.people import generate_people

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
        sys.path.insert(0, str(Path(__file__).resolve().parent))
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


if __name__ == "__main__":
    main()
