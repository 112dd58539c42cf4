"""Read speed of crmcore's tabular reader beside csv.DictReader on the same file.

The file holds N realistic contact rows (``crmcore.sample``), written as UTF-8
CSV and also as GB18030 with semicolons. ``csv.DictReader`` is the baseline:
the least a dict-per-row reader does. ``read_table`` adds, per row, the line
count, the blank/short/ragged checks, the per-row cell limit and a
``SourceRow``; ``records()`` skips the dict (what ``crmcore dedupe`` reads);
``read_rows`` is what ``crmcore import`` reads (dicts with the line). Each
figure is the best of a few runs; ratio > 1 means faster than the baseline.

Run: ``python benchmarks/bench_reader.py [--rows 200000] [--repeat 3]`` (prints a table).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from crmcore.adapters.tabular import read_table
from crmcore.cli.io import read_rows
from crmcore.sample import generate_contacts, write_csv


def count(rows: Iterable[object]) -> int:
    total = 0
    for _ in rows:
        total += 1
    return total


def dict_reader(path: Path, encoding: str, delimiter: str) -> int:
    with path.open(encoding=encoding, newline="") as stream:
        return count(csv.DictReader(stream, delimiter=delimiter))


def table_rows(path: Path, encoding: str, delimiter: str) -> int:
    del encoding, delimiter  # detected, as the commands detect them
    return count(read_table(path).rows())


def table_records(path: Path, encoding: str, delimiter: str) -> int:
    del encoding, delimiter
    return count(read_table(path).records())


def import_rows(path: Path, encoding: str, delimiter: str) -> int:
    del encoding, delimiter
    return count(read_rows(path)[1])


def best(run: Callable[[Path, str, str], int], path: Path, encoding: str, delimiter: str,
         repeat: int) -> tuple[float, int]:  # fmt: skip
    times = []
    rows = 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = run(path, encoding, delimiter)
        times.append(time.perf_counter() - started)
    return min(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        utf8 = Path(tmp) / "contacts.csv"
        write_csv(generate_contacts(args.rows, seed=11), utf8)
        gb = Path(tmp) / "contacts-gb.csv"
        with (
            utf8.open(encoding="utf-8", newline="") as source,
            gb.open("w", encoding="gb18030", errors="replace", newline="") as target,
        ):
            csv.writer(target, delimiter=";").writerows(csv.reader(source))
        size = utf8.stat().st_size / 1e6
        print(f"reading {args.rows:,} contact rows ({size:.0f} MB as UTF-8 CSV),", end=" ")
        print(f"best of {args.repeat}")
        print(f"{'file':<22}{'reader':<36}{'seconds':>9}{'rows/s':>12}{'ratio':>7}")
        for label, path, encoding, delimiter in (
            ("UTF-8, comma", utf8, "utf-8", ","),
            ("GB18030, semicolon", gb, "gb18030", ";"),
        ):
            base, rows = best(dict_reader, path, encoding, delimiter, args.repeat)
            for name, run in (
                ("csv.DictReader (baseline)", dict_reader),
                ("read_table().rows()", table_rows),
                ("read_table().records() (dedupe)", table_records),
                ("cli.io.read_rows (import)", import_rows),
            ):
                seconds, read = (
                    (base, rows)
                    if run is dict_reader
                    else best(run, path, encoding, delimiter, args.repeat)
                )
                if read != rows:
                    raise SystemExit(f"{name} read {read:,} rows, the baseline {rows:,}")
                print(f"{label:<22}{name:<36}{seconds:>9.3f}{rows / seconds:>12,.0f}"
                      f"{base / seconds:>7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
