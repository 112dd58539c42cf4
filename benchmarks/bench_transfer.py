"""Benchmark JSON-lines export and import of customers on SQLite against baselines in the same run.

For N customers (50,000 by default) in an SQLite file it measures:

- ``export_records`` (JSON lines, the envelope, one unit of work) versus
  (a) ``SELECT document FROM customers ORDER BY id`` and ``json.dumps`` of each
  stored document — the least any JSON export can do — and (b) ``iter_all``
  with ``json.dumps(unstructure(c))``, what ``crmcore export`` did before;
- ``import_records`` into an empty database (parse, structure, check, save in
  batches of 1,000) versus (a) ``json.loads`` + ``structure`` + ``save_many``
  per batch with no idempotence checks and (b) ``json.loads`` + ``structure`` +
  raw SQLAlchemy Core inserts of the same rows (``bench_storage.raw_bulk``);
- ``import_records`` of the same file again (every record already stored).

Each line prints records per second and the ratio of crmcore's time to the
baseline's (1.00 = as fast; 2.00 = twice as long).

Run::

    python benchmarks/bench_transfer.py --count 50000
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench_storage import customers, raw_bulk
from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql import tables as t
from crmcore.adapters.transfer import export_records, import_records
from crmcore.domain import Customer
from crmcore.ports import with_version
from crmcore.serialization import structure, unstructure

BATCH = 1_000


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def fresh_engine(folder: Path, name: str) -> Engine:
    engine = create_engine(f"sqlite:///{folder / name}")
    create_schema(engine)
    return engine


def export_raw_documents(engine: Engine) -> str:
    out = io.StringIO()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.customers.c.document).order_by(t.customers.c.id))
        for (document,) in rows:
            out.write(json.dumps(document, ensure_ascii=False) + "\n")
    return out.getvalue()


def export_iter_all(engine: Engine) -> str:
    out = io.StringIO()
    with SqlStore(engine).unit_of_work() as uow:
        for customer in uow.customers.iter_all():
            out.write(json.dumps(unstructure(customer), ensure_ascii=False) + "\n")
    return out.getvalue()


def structured(text: str) -> list[Customer]:
    lines = text.split("\n")[1:-1]  # header and the empty string after the last line break
    return [structure(json.loads(line)["record"], Customer) for line in lines]


def import_save_many(engine: Engine, text: str) -> None:
    data = [with_version(c, 0) for c in structured(text)]
    store = SqlStore(engine)
    for start in range(0, len(data), BATCH):
        with store.unit_of_work() as uow:
            uow.customers.save_many(data[start : start + BATCH])
            uow.commit()


def import_raw(engine: Engine, text: str) -> None:
    raw_bulk(engine, structured(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000, help="customers (default 50,000)")
    args = parser.parse_args()
    count: int = args.count
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        source = fresh_engine(folder, "source.db")
        data = list(customers(count))
        with SqlStore(source).unit_of_work() as uow:
            for start in range(0, count, BATCH):
                uow.customers.save_many(data[start : start + BATCH])
            uow.commit()
        store = SqlStore(source)

        dump = io.StringIO()
        export_jsonl = timed(lambda: export_records(store, "customers", dump))
        text = dump.getvalue()
        raw_documents = timed(lambda: export_raw_documents(source))
        old_export = timed(lambda: export_iter_all(source))
        csv_out = io.StringIO(newline="")
        export_csv = timed(lambda: export_records(store, "customers", csv_out, format="csv"))

        target = fresh_engine(folder, "target.db")
        first_import = timed(lambda: import_records(SqlStore(target), io.StringIO(text)))
        again = timed(lambda: import_records(SqlStore(target), io.StringIO(text)))
        check = io.StringIO()
        export_records(SqlStore(target), "customers", check)
        if check.getvalue() != text:
            raise SystemExit("the round trip changed the export: benchmark invalid")
        base_save = fresh_engine(folder, "save_many.db")
        save_many = timed(lambda: import_save_many(base_save, text))
        base_raw = fresh_engine(folder, "raw.db")
        raw_core = timed(lambda: import_raw(base_raw, text))
        for engine in (source, target, base_save, base_raw):
            engine.dispose()
    rows = [
        ("export JSON lines", export_jsonl, "SQL documents + json.dumps", raw_documents),
        ("export JSON lines", export_jsonl, "iter_all + dumps (old export)", old_export),
        ("export CSV", export_csv, "SQL documents + json.dumps", raw_documents),
        ("import into empty db", first_import, "loads + structure + save_many", save_many),
        ("import into empty db", first_import, "loads + structure + raw Core", raw_core),
        ("import again (all already)", again, "loads + structure + save_many", save_many),
    ]
    print(f"{count:,} customers, SQLite file")
    header = (
        f"| {'operation':<26} | {'crmcore rec/s':>13} | {'baseline':<30} "
        f"| {'baseline rec/s':>14} | ratio |"
    )
    print(header)
    print(f"|{'-' * 28}|{'-' * 15}|{'-' * 32}|{'-' * 16}|-------|")
    for operation, ours_s, baseline, base_s in rows:
        print(
            f"| {operation:<26} | {count / ours_s:>13,.0f} | {baseline:<30} "
            f"| {count / base_s:>14,.0f} | {ours_s / base_s:5.2f} |"
        )


if __name__ == "__main__":
    main()
