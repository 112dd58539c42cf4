"""Firing workflow transitions: crmcore vs python-statemachine vs transitions, same moves, same run.

Run: ``python benchmarks/bench_workflow.py [--rounds N]`` (needs the ``bench`` extra).

Two scenarios, both on the lead workflow (new → contacted → qualified →
disqualified → recycled to new):

- ``hot loop``: one long-lived record cycles through the four moves. crmcore
  returns a new immutable snapshot and a ``StageChanged`` event (who, when,
  from, to, why) per move; the baselines mutate one object in place and keep
  nothing.
- ``per record``: what a CRM request does — take a record, fire one move and
  keep a history entry with who/when/from/to/why. crmcore needs nothing more
  than ``fire``; the baselines bind a machine to the record (python-statemachine
  builds one, transitions adds the model to a shared machine and removes it
  after) and append the history entry themselves.

Times are microseconds per transition (best of 5 repeats); the speed-up is the
baseline's time divided by crmcore's.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from typing import Any

import pendulum
from statemachine import State, StateMachine
from transitions import Machine

from crmcore.domain import EmailAddress, Lead, LeadId, PersonName, UserId, capture_lead
from crmcore.lifecycle import LEAD_WORKFLOW, fire

AT = pendulum.datetime(2026, 3, 2, 9, tz="UTC")
BY = UserId("u-bench")
MOVES = ("contact", "qualify", "disqualify", "recycle")
REASON = {"disqualify": "no budget", "recycle": "new budget year"}
STATES = ["new", "contacted", "qualified", "converted", "disqualified"]
# Any: transitions' own TypedDict for this table is stricter than a literal list of dicts.
TRANSITIONS: Any = [
    {"trigger": "contact", "source": "new", "dest": "contacted"},
    {"trigger": "qualify", "source": ["new", "contacted"], "dest": "qualified"},
    {"trigger": "convert", "source": "qualified", "dest": "converted"},
    {"trigger": "disqualify", "source": ["new", "contacted", "qualified"], "dest": "disqualified"},
    {"trigger": "recycle", "source": ["contacted", "qualified", "disqualified"], "dest": "new"},
]


class LeadMachine(StateMachine):
    """The same lead workflow in python-statemachine."""

    new = State(initial=True)
    contacted = State()
    qualified = State()
    converted = State(final=True)
    disqualified = State()

    contact = new.to(contacted)
    qualify = new.to(qualified) | contacted.to(qualified)
    convert = qualified.to(converted)
    disqualify = new.to(disqualified) | contacted.to(disqualified) | qualified.to(disqualified)
    recycle = contacted.to(new) | qualified.to(new) | disqualified.to(new)


class Record:
    """A mutable record for the baselines (they change state in place)."""

    def __init__(self, id: str) -> None:
        self.id = id
        self.status = "new"
        self.state = "new"


def new_lead(i: int = 0) -> Lead:
    lead, _ = capture_lead(
        id=LeadId(f"l-{i}"),
        name=PersonName.parse("张伟"),
        emails=[EmailAddress("zhang.wei@example.com")],
        at=AT,
    )
    return lead


def hot_crmcore() -> Callable[[], None]:
    state = {"lead": new_lead()}

    def cycle() -> None:
        lead = state["lead"]
        for move in MOVES:
            lead, _ = fire(LEAD_WORKFLOW, lead, move, at=AT, by=BY, reason=REASON.get(move, ""))
        state["lead"] = lead

    return cycle


def hot_statemachine() -> Callable[[], None]:
    machine = LeadMachine()

    def cycle() -> None:
        for move in MOVES:
            machine.send(move)

    return cycle


def hot_transitions() -> Callable[[], None]:
    record = Record("l-0")
    Machine(model=record, states=STATES, transitions=TRANSITIONS, initial="new")

    def cycle() -> None:
        for move in MOVES:
            record.trigger(move)  # type: ignore[attr-defined]  # added by transitions

    return cycle


def per_record_crmcore(records: int) -> Callable[[], None]:
    leads = [new_lead(i) for i in range(records)]

    def run() -> None:
        log = []
        for lead in leads:
            _, event = fire(LEAD_WORKFLOW, lead, "contact", at=AT, by=BY, reason="")
            log.append(event)

    return run


def per_record_statemachine(records: int) -> Callable[[], None]:
    def run() -> None:
        log: list[dict[str, Any]] = []
        for i in range(records):
            record = Record(f"l-{i}")
            machine = LeadMachine(model=record, state_field="status")
            before = record.status
            machine.send("contact")
            log.append({"id": record.id, "from": before, "to": record.status, "at": AT, "by": BY})

    return run


def per_record_transitions(records: int) -> Callable[[], None]:
    machine = Machine(model=None, states=STATES, transitions=TRANSITIONS, initial="new")

    def run() -> None:
        log: list[dict[str, Any]] = []
        for i in range(records):
            record = Record(f"l-{i}")
            machine.add_model(record)
            before = record.state
            record.trigger("contact")  # type: ignore[attr-defined]  # added by transitions
            log.append({"id": record.id, "from": before, "to": record.state, "at": AT, "by": BY})
            machine.remove_model(record)

    return run


def per_transition(fn: Callable[[], None], moves: int, rounds: int) -> float:
    best = min(timeit.repeat(fn, number=rounds, repeat=5))
    return best / (rounds * moves) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=2000, help="hot-loop cycles per repeat")
    args = parser.parse_args()
    records = 500
    rows = [
        (
            "hot loop",
            per_transition(hot_crmcore(), len(MOVES), args.rounds),
            per_transition(hot_statemachine(), len(MOVES), args.rounds),
            per_transition(hot_transitions(), len(MOVES), args.rounds),
        ),
        (
            "per record",
            per_transition(per_record_crmcore(records), records, 3),
            per_transition(per_record_statemachine(records), records, 3),
            per_transition(per_record_transitions(records), records, 3),
        ),
    ]
    print("µs per transition (best of 5); speed-up = baseline / crmcore")
    header = (
        f"{'scenario':<12} {'crmcore':>9} {'statemachine':>13} {'transitions':>12} "
        f"{'× vs psm':>9} {'× vs transitions':>17}"
    )
    print(header)
    print("-" * len(header))
    for name, ours, psm, trans in rows:
        print(
            f"{name:<12} {ours:>9.2f} {psm:>13.2f} {trans:>12.2f} "
            f"{psm / ours:>9.1f} {trans / ours:>17.1f}"
        )


if __name__ == "__main__":
    main()
