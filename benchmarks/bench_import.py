"""Time ``crmcore import`` of N realistic rows into SQLite, beside a raw baseline.

The baseline reads the same CSV with :mod:`csv` and inserts every row's raw
values into one SQLite table with SQLAlchemy Core ``executemany`` — the
least any loader must do. crmcore's import on top cleans (E.164 phones,
canonical emails, ISO dates, names), dedupes within the file and against the
store, builds always-valid customers, writes every index table and the
outbox, and produces the per-row report.

The last line times what a user gets: the ``crmcore import`` command with
its defaults (in one process, batches of 10,000 rows, cyclic garbage
collected rarely), report file included.

Run: ``python benchmarks/bench_import.py [--rows 100000]`` (prints a table).
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.cli import main as cli_main
from crmcore.cli.console import Console
from crmcore.cli.io import read_rows
from crmcore.clock import SystemClock
from crmcore.sample import generate_contacts, write_csv
from crmcore.services.cleaning import ColumnMapping
from crmcore.services.importing import import_customers


def baseline(path: Path, db: Path) -> float:
    engine = sa.create_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [c for c in reader.fieldnames or () if c]
        table = sa.Table("raw", sa.MetaData(), *(sa.Column(c, sa.Text) for c in columns))
        table.create(engine)
        with engine.begin() as conn:
            batch: list[dict[str, str]] = []
            for row in reader:
                batch.append(row)
                if len(batch) == 2_000:
                    conn.execute(table.insert(), batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def crmcore_import(path: Path, db: Path, workers: int) -> tuple[float, int, int]:
    engine = create_engine(f"sqlite:///{db}")
    create_schema(engine)
    started = time.perf_counter()
    headers, rows = read_rows(path)
    report = import_customers(
        SqlStore(engine),
        rows,
        ColumnMapping.detect(headers),
        source=path.name,
        clock=SystemClock(),
        region="CN",
        batch_size=2_000,
        workers=workers,
    )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, report.stored, report.rejected


def crmcore_cli(path: Path, db: Path) -> float:
    errors = io.StringIO()
    console = Console(io.StringIO(), errors)
    started = time.perf_counter()
    code = cli_main(
        ["import", str(path), "--db", f"sqlite:///{db}", "--region", "CN"], console=console
    )
    elapsed = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"crmcore import exited with {code}: {errors.getvalue()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "contacts.csv"
        write_csv(generate_contacts(args.rows, seed=11), source)
        raw = baseline(source, Path(tmp) / "raw.sqlite")
        one, stored, rejected = crmcore_import(source, Path(tmp) / "one.sqlite", 0)
        ours, stored, rejected = crmcore_import(source, Path(tmp) / "crm.sqlite", 2)
        cli = crmcore_cli(source, Path(tmp) / "cli.sqlite")
    print(
        f"import of {args.rows:,} realistic rows into SQLite "
        f"(stored {stored:,}, rejected {rejected:,})"
    )
    print(f"{'loader':<34}{'seconds':>10}{'rows/s':>12}{'ratio':>8}")
    for label, seconds in (
        ("raw csv + executemany (baseline)", raw),
        ("crmcore import, 1 process", one),
        ("crmcore import, 2 workers", ours),
        ("crmcore import command (defaults)", cli),
    ):
        print(f"{label:<34}{seconds:>10.2f}{args.rows / seconds:>12,.0f}{seconds / raw:>8.1f}")


if __name__ == "__main__":
    main()
