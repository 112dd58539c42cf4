"""Benchmark subject requests: export everything about one person, and erase it, at 1M customers.

Run: ``python benchmarks/bench_subject.py [--customers 1000000] [--repeat 7] [--db PATH]``

Issue 15's setting: SQLite with ``customers`` customers, one order and one
registration event each (inserted with fast ``executemany`` batches), and one
subject with a full record (contacts, a lead, an opportunity, activities, a
case, a survey, orders, consents, ledger entries, a merge, audit entries)
stored through the library. Best of ``repeat``:

* :func:`crmcore.services.subject.export_subject` of that subject (target < 100 ms),
  against a baseline measured in the same run: hand-written indexed ``SELECT`` of
  the same rows (the subject's documents by ``customer_id`` in every table, its
  events by aggregate id, its audit entries by subject), without decoding anything;
* :func:`crmcore.services.subject.erase_subject` of a second, identical subject
  (once: it changes the data), with its 13 steps each committed.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pendulum
import sqlalchemy as sa

from crmcore.adapters.sql import SqlStore, create_engine, create_schema
from crmcore.adapters.sql import tables as t
from crmcore.clock import FixedClock
from crmcore.domain import (
    ActivityId,
    ActivityKind,
    CaseId,
    CaseKind,
    ConsentChannel,
    ConsentId,
    CustomerId,
    DomainEvent,
    EmailAddress,
    LeadId,
    MergeId,
    Money,
    OpportunityId,
    OrderId,
    Person,
    PersonName,
    PhoneNumber,
    SurveyResponseId,
    capture_lead,
    grant_consent,
    log_activity,
    open_case,
    open_opportunity,
    record_order,
    record_survey_response,
    register_customer,
)
from crmcore.privacy.audit import AuditAction
from crmcore.privacy.consent import ConsentRecord, Jurisdiction
from crmcore.services.auditing import record
from crmcore.services.merge import merge_customers
from crmcore.services.subject import erase_subject, export_subject

AT = pendulum.datetime(2026, 3, 1, 9)


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def fill(store: SqlStore, n: int) -> None:
    """``n`` filler customers, one order and one registration event each."""
    template, event = register_customer(
        id=CustomerId("c0000000"),
        person=Person(name=PersonName.parse("王芳")),
        emails=[EmailAddress("someone@example.cn")],
        at=AT,
    )
    converter = store.converter
    document = converter.unstructure(template)
    payload = converter.unstructure(event, unstructure_as=DomainEvent)
    stamp = "2026-03-01 09:00:00.000000"
    customers = (
        "INSERT INTO customers (id, version, kind, display_name, tier, priority, lifecycle_stage,"
        " source, owner, team, created_at, updated_at, custom, document)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    orders = (
        "INSERT INTO orders (id, version, customer_id, amount, currency, status, ordered_at,"
        " external_id, created_at, updated_at, document) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    )
    history = (
        "INSERT INTO event_history (event_id, type, aggregate, aggregate_id, at, actor, payload,"
        " recorded_at) VALUES (?,?,?,?,?,?,?,?)"
    )
    with store.engine.begin() as conn:
        for start in range(0, n, 100_000):
            ids = [f"c{i:07d}" for i in range(start, min(n, start + 100_000))]
            conn.exec_driver_sql(
                customers,
                [
                    (
                        i,
                        1,
                        "person",
                        "王芳",
                        "potential",
                        "medium",
                        "potential",
                        "other",
                        None,
                        None,
                        stamp,
                        stamp,
                        "{}",
                        json.dumps({**document, "id": i}),
                    )
                    for i in ids
                ],
            )
            conn.exec_driver_sql(
                orders,
                [
                    (f"o{i}", 1, i, "10.000000", "CNY", "paid", stamp, "", stamp, stamp, "{}")
                    for i in ids
                ],
            )
            conn.exec_driver_sql(
                history,
                [
                    (
                        f"e{i}",
                        "CustomerRegistered",
                        "customer",
                        i,
                        stamp,
                        None,
                        json.dumps({**payload, "customer_id": i, "id": f"e{i}"}),
                        stamp,
                    )
                    for i in ids
                ],
            )
        conn.exec_driver_sql("ANALYZE")


def subject(store: SqlStore, prefix: str) -> CustomerId:
    """A subject with data in every source; returns its id."""
    cid, twin = CustomerId(f"{prefix}-subject"), CustomerId(f"{prefix}-twin")
    events: list[DomainEvent] = []
    e: DomainEvent
    with store.unit_of_work() as uow:
        for who in (cid, twin):
            customer, e = register_customer(
                id=who,
                at=AT,
                person=Person(name=PersonName.parse("司马琼英")),
                emails=[EmailAddress(f"{who}@example.org")],
                phones=[PhoneNumber.parse("+86 138 0013 8000")],
            )
            uow.customers.save(customer)
            events.append(e)
        lead, e = capture_lead(
            id=LeadId(f"{prefix}-l"),
            at=AT,
            name=PersonName.parse("司马琼英"),
            emails=[EmailAddress(f"{cid}@example.org")],
        )
        uow.leads.save(lead)
        events.append(e)
        opp, e = open_opportunity(
            id=OpportunityId(f"{prefix}-o"),
            customer_id=cid,
            title="Renewal",
            amount=Money(Decimal(500), "CNY"),
            at=AT,
        )
        uow.opportunities.save(opp)
        events.append(e)
        for n in range(5):
            activity, e = log_activity(
                id=ActivityId(f"{prefix}-a{n}"),
                kind=ActivityKind.CALL,
                at=AT,
                customer_id=cid,
                body="called about the renewal",
            )
            uow.activities.save(activity)
            events.append(e)
            order, e = record_order(
                id=OrderId(f"{prefix}-or{n}"),
                customer_id=cid,
                amount=Money(Decimal(100), "CNY"),
                ordered_at=AT,
                at=AT,
            )
            uow.orders.save(order)
            events.append(e)
        case, e = open_case(
            id=CaseId(f"{prefix}-k"),
            customer_id=cid,
            kind=CaseKind.COMPLAINT,
            subject="late delivery",
            description="parcel at the wrong door",
            at=AT,
        )
        uow.cases.save(case)
        events.append(e)
        survey, e = record_survey_response(
            id=SurveyResponseId(f"{prefix}-s"), customer_id=cid, at=AT, csat=4, comment="friendly"
        )
        uow.survey_responses.save(survey)
        events.append(e)
        consent, e = grant_consent(
            id=ConsentId(f"{prefix}-g"),
            customer_id=cid,
            purpose="marketing",
            channel=ConsentChannel.EMAIL,
            source="web form",
            at=AT,
        )
        uow.consents.save(consent)
        events.append(e)
        uow.consent_ledger.append(
            ConsentRecord(
                id=ConsentId(f"{prefix}-cr"),
                subject=cid,
                purpose="marketing",
                channel=ConsentChannel.EMAIL,
                jurisdiction=Jurisdiction.PIPL,
                captured_at=AT,
            )
        )
        for n in range(5):
            record(
                uow,
                actor="u-rep",
                action=AuditAction.READ,
                record=customer,
                at=AT.add(minutes=n),
                payload={"email": f"{cid}@example.org"},
            )
        uow.collect(*events)
        uow.commit()
    merge_customers(
        store.unit_of_work(),
        [cid, twin],
        clock=FixedClock(AT.add(days=1)),
        survivor_id=cid,
        merge_id=MergeId(f"{prefix}-m"),
        audit=True,
    )
    return cid


def by_hand(store: SqlStore, cid: str) -> int:
    """The baseline: the same rows by their indexes, undecoded."""
    rows = 0
    with store.engine.connect() as conn:
        rows += len(
            conn.execute(
                sa.select(t.customers.c.document).where(
                    t.customers.c.id.in_([cid, cid.replace("subject", "twin")])
                )
            ).all()
        )
        for table in (
            t.opportunities,
            t.activities,
            t.cases,
            t.survey_responses,
            t.orders,
            t.consents,
        ):
            rows += len(
                conn.execute(sa.select(table.c.document).where(table.c.customer_id == cid)).all()
            )
        rows += len(
            conn.execute(
                sa.select(t.leads.c.document).where(t.leads.c.converted_customer_id == cid)
            ).all()
        )
        merges = (
            conn.execute(
                sa.select(t.merge_members.c.merge_id).where(t.merge_members.c.customer_id == cid)
            )
            .scalars()
            .all()
        )
        rows += len(
            conn.execute(sa.select(t.merges.c.document).where(t.merges.c.id.in_(merges))).all()
        )
        rows += len(
            conn.execute(sa.select(t.consent_ledger).where(t.consent_ledger.c.subject == cid)).all()
        )
        rows += len(
            conn.execute(
                sa.select(t.event_history.c.payload).where(
                    t.event_history.c.aggregate == "customer", t.event_history.c.aggregate_id == cid
                )
            ).all()
        )
        entries = (
            conn.execute(
                sa.select(t.audit_entries.c.sequence).where(t.audit_entries.c.subject == cid)
            )
            .scalars()
            .all()
        )
        rows += len(
            conn.execute(
                sa.select(t.audit_payloads).where(t.audit_payloads.c.sequence.in_(entries))
            ).all()
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.db or Path(folder) / "subject.db"
        engine = create_engine(f"sqlite:///{path}")
        create_schema(engine)
        store = SqlStore(engine)
        print(
            f"inserting {args.customers:,} customers, orders and events into {path} …", flush=True
        )
        started = time.perf_counter()
        fill(store, args.customers)
        first, second = subject(store, "x"), subject(store, "y")
        print(f"filled in {time.perf_counter() - started:.0f} s", flush=True)

        def export() -> object:
            with store.unit_of_work() as uow:
                return export_subject(uow, first, at=AT.add(days=2))

        document = export()
        if not isinstance(document, dict):
            raise SystemExit("export_subject did not return a document")
        sizes = {k: len(v) for k, v in document.items() if isinstance(v, list)}
        hand = best(args.repeat, lambda: by_hand(store, first))
        library = best(args.repeat, export)
        started = time.perf_counter()
        request = erase_subject(store, second, at=AT.add(days=30))
        erase = time.perf_counter() - started
        changed = sum(s.changed for s in request.steps)
        engine.dispose()
    print()
    print(f"{'measure':<48} {'ms':>9} {'ratio':>7}")
    print(f"{'hand-written indexed SELECTs (baseline)':<48} {hand * 1000:>9.2f} {1:>7.2f}")
    print(f"{'export_subject (target < 100 ms)':<48} {library * 1000:>9.2f} {library / hand:>7.2f}")
    print(
        f"{f'erase_subject ({changed} records, 13 commits)':<48} {erase * 1000:>9.2f}"
        f" {erase / hand:>7.2f}"
    )
    print()
    print(f"exported records by source: {json.dumps(sizes)}")


if __name__ == "__main__":
    main()
