"""Firing workflow transitions: crmcore vs python-statemachine vs transitions, same moves, same run.

Run: ``python benchmarks/bench_workflow.py [--rounds N]`` (needs the ``bench`` extra).

Three scenarios, all on the lead workflow (new → contacted → qualified →
disqualified → recycled to new):

- ``hot loop``: one long-lived record cycles through the four moves. crmcore
  returns a new immutable snapshot and a ``StageChanged`` event (who, when,
  from, to, why) per move and runs the workflow's guard (``qualify`` needs an
  email or phone), reason check and effects (``disqualified_reason``); the
  baselines only move one object's state in place — the least they can do.
- ``same work``: the same loop, but the baselines do what ``fire`` does, with
  their own hooks: the guard as a condition, the reason and time checks, the
  effects, ``updated_at`` and a history entry (who/when/from/to/why) per move.
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
import random
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


class FullRecord:
    """A mutable lead for the like-for-like baselines: contact data, reason, stamp, history."""

    def __init__(self, id: str) -> None:
        self.id = id
        self.status = "new"
        self.state = "new"
        self.emails = ["zhang.wei@example.com"]
        self.phones: list[str] = []
        self.disqualified_reason = ""
        self.updated_at = AT
        self.history: list[dict[str, Any]] = []

    def is_reachable(self, *_args: Any, **_kwargs: Any) -> bool:
        return bool(self.emails or self.phones)


NEEDS_REASON = frozenset({"disqualify", "recycle"})


def _check(record: FullRecord, move: str, at: Any, reason: str) -> str:
    """What crmcore's ``fire`` checks before a move: a reason where needed, time order."""
    why = reason.strip() if reason else ""
    if move in NEEDS_REASON and not why:
        raise ValueError(f"{move} needs a reason")
    if at < record.updated_at:
        raise ValueError("at is before the last update")
    return why


def _effects(record: FullRecord, move: str, why: str) -> None:
    if move == "disqualify":
        record.disqualified_reason = why
    elif move == "recycle":
        record.disqualified_reason = ""


def _log(
    record: FullRecord, move: str, *, source: str, target: str, at: Any, by: Any, why: str
) -> None:
    record.updated_at = at
    record.history.append(
        {
            "id": random.getrandbits(128).to_bytes(16, "big").hex(),  # as crmcore's event ids
            "entity": "lead",
            "entity_id": record.id,
            "workflow": "lead",
            "transition": move,
            "from_stage": source,
            "to_stage": target,
            "reason": why,
            "at": at,
            "by": by,
        }
    )


class FullLeadMachine(StateMachine):
    """The lead workflow in python-statemachine, doing what crmcore's ``fire`` does."""

    new = State(initial=True)
    contacted = State()
    qualified = State()
    converted = State(final=True)
    disqualified = State()

    contact = new.to(contacted)
    qualify = new.to(qualified, cond="is_reachable") | contacted.to(qualified, cond="is_reachable")
    convert = qualified.to(converted)
    disqualify = new.to(disqualified) | contacted.to(disqualified) | qualified.to(disqualified)
    recycle = contacted.to(new) | qualified.to(new) | disqualified.to(new)

    def before_transition(self, event: str, at: Any, reason: str = "") -> None:
        self.why = _check(self.model, event, at, reason)

    def on_transition(self, event: str) -> None:
        _effects(self.model, event, self.why)

    def after_transition(self, event: str, source: State, target: State, at: Any, by: Any) -> None:
        _log(self.model, event, source=source.id, target=target.id, at=at, by=by, why=self.why)


FULL_TRANSITIONS: Any = [
    {"trigger": "contact", "source": "new", "dest": "contacted"},
    {
        "trigger": "qualify",
        "source": ["new", "contacted"],
        "dest": "qualified",
        "conditions": "is_reachable",
    },
    {"trigger": "convert", "source": "qualified", "dest": "converted"},
    {"trigger": "disqualify", "source": ["new", "contacted", "qualified"], "dest": "disqualified"},
    {"trigger": "recycle", "source": ["contacted", "qualified", "disqualified"], "dest": "new"},
]


class TransitionsCallbacks:
    """Machine-level callbacks for transitions, doing what crmcore's ``fire`` does."""

    @staticmethod
    def check(event: Any) -> None:
        record = event.model
        record.why = _check(
            record, event.event.name, event.kwargs["at"], event.kwargs.get("reason", "")
        )

    @staticmethod
    def apply(event: Any) -> None:
        record = event.model
        _effects(record, event.event.name, record.why)
        _log(
            record,
            event.event.name,
            source=event.transition.source,
            target=event.transition.dest,
            at=event.kwargs["at"],
            by=event.kwargs["by"],
            why=record.why,
        )


def full_crmcore() -> Callable[[], None]:
    return hot_crmcore()


def full_statemachine() -> Callable[[], None]:
    record = FullRecord("l-0")
    machine = FullLeadMachine(model=record, state_field="status")

    def cycle() -> None:
        for move in MOVES:
            machine.send(move, at=AT, by=BY, reason=REASON.get(move, ""))
        record.history.clear()

    return cycle


def full_transitions() -> Callable[[], None]:
    record = FullRecord("l-0")
    Machine(
        model=record,
        states=STATES,
        transitions=FULL_TRANSITIONS,
        initial="new",
        send_event=True,
        before_state_change=TransitionsCallbacks.check,
        after_state_change=TransitionsCallbacks.apply,
    )

    def cycle() -> None:
        for move in MOVES:
            record.trigger(move, at=AT, by=BY, reason=REASON.get(move, ""))  # type: ignore[attr-defined]  # added by transitions
        record.history.clear()

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
            "same work",
            per_transition(full_crmcore(), len(MOVES), args.rounds),
            per_transition(full_statemachine(), len(MOVES), args.rounds),
            per_transition(full_transitions(), len(MOVES), args.rounds),
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
