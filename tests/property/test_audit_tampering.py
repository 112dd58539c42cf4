"""Any single tampering with the audit chain is found, and the first bad entry named.

The attacker's moves: change one field of one entry (without or with
recomputing that entry's hash), delete an entry, copy one, insert a forged
entry linked to its predecessor, swap two neighbours, cut the tail, or
recompute the whole history from some entry on. Moves that leave the chain
internally consistent (a cut tail, a recomputed history) are found against
a checkpoint of the true head, as a witness would keep it. Erasing any
payloads never breaks verification.
"""

from __future__ import annotations

from typing import Any

import attrs
import pendulum
from hypothesis import given
from hypothesis import strategies as st

from crmcore.privacy.audit import (
    AuditDraft,
    AuditEntry,
    AuditPayload,
    ChainFault,
    Checkpoint,
    check_payload,
    link,
    verify,
)

AT = pendulum.datetime(2026, 3, 1, 9)

MAX = 8  # entries per chain: every position kind (first, middle, last) is reached
_json = st.lists(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=6), max_size=2
)
_drafts = st.builds(
    lambda seconds, actor, action, record, subject, payload: AuditDraft.of(
        at=AT.add(seconds=seconds),
        actor=actor,
        action=action,
        record_type="customer",
        record_id=record,
        subject=subject,
        payload=payload,
    ),
    st.integers(0, 10**6),
    st.sampled_from(["u-li", "u-wang", "系统"]),
    st.sampled_from(["create", "read", "update", "erase", "print"]),
    st.sampled_from(["c-1", "c-2", "c-3"]),
    st.none() | st.sampled_from(["c-1", "c-2"]),
    st.dictionaries(st.sampled_from(["name", "phone", "电话", "n"]), _json, max_size=3),
)


def build(drafts: list[AuditDraft]) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for d in drafts:
        entries.append(link(entries[-1] if entries else None, d))
    return entries


_FIELDS: dict[str, Any] = {
    "at_text": lambda e: e.at_text[:-2] + ("1Z" if e.at_text[-2] != "1" else "2Z"),
    "actor": lambda e: e.actor + "x",
    "action": lambda e: "delete" if e.action != "delete" else "read",
    "record_type": lambda e: "lead" if e.record_type != "lead" else "customer",
    "record_id": lambda e: e.record_id + "0",
    "subject": lambda e: "c-9" if e.subject != "c-9" else None,
    "payload_digest": lambda e: "0" * 64 if e.payload_digest != "0" * 64 else "1" * 64,
    "previous_hash": lambda e: "f" * 64 if e.previous_hash != "f" * 64 else "e" * 64,
    "hash": lambda e: "e" * 64 if e.hash != "e" * 64 else "f" * 64,
}


Tampered = tuple[list[AuditEntry], list[Checkpoint], tuple[int, ChainFault]]
"""The tampered chain, the witness's checkpoints, and the (sequence, fault) verify must name."""


def change_a_field(entries: list[AuditEntry], data: st.DataObject) -> Tampered:
    k = data.draw(st.integers(0, len(entries) - 1))
    name = data.draw(st.sampled_from(sorted(_FIELDS)))
    entries[k] = attrs.evolve(entries[k], **{name: _FIELDS[name](entries[k])})
    return entries, [], (k + 1, ChainFault.MODIFIED)


def change_an_entry_and_its_hash(entries: list[AuditEntry], data: st.DataObject) -> Tampered:
    witness = Checkpoint.of(entries[-1])
    k = data.draw(st.integers(0, len(entries) - 1))
    forged = attrs.evolve(entries[k], actor=entries[k].actor + "x")
    entries[k] = attrs.evolve(forged, hash=forged.expected_hash())
    if k == len(entries) - 1:  # the last: only the witness can tell
        return entries, [witness], (k + 1, ChainFault.REWRITTEN)
    return entries, [witness], (k + 2, ChainFault.BROKEN_LINK)


def delete_an_entry(entries: list[AuditEntry], data: st.DataObject) -> Tampered:
    witness = Checkpoint.of(entries[-1])
    k = data.draw(st.integers(0, len(entries) - 1))
    last = k == len(entries) - 1
    del entries[k]
    return entries, [witness], (k + 1, ChainFault.TRUNCATED if last else ChainFault.GAP)


def copy_an_entry(entries: list[AuditEntry], data: st.DataObject) -> Tampered:
    k = data.draw(st.integers(0, len(entries) - 1))
    entries.insert(k + 1, entries[k])
    return entries, [], (k + 2, ChainFault.OUT_OF_ORDER)


def insert_a_forged_entry(entries: list[AuditEntry], data: st.DataObject) -> Tampered:
    k = data.draw(st.integers(0, len(entries) - 1))  # after the head it is a new entry
    forged = link(entries[k - 1] if k else None, data.draw(_drafts))  # linked to its predecessor
    entries.insert(k, forged)
    return entries, [], (k + 2, ChainFault.OUT_OF_ORDER)


def swap_neighbours(entries: list[AuditEntry], data: st.DataObject) -> Tampered:
    if len(entries) < 2:  # nothing to swap with: change it instead
        return change_a_field(entries, data)
    k = data.draw(st.integers(0, len(entries) - 2))
    entries[k], entries[k + 1] = entries[k + 1], entries[k]
    return entries, [], (k + 1, ChainFault.GAP)


def cut_the_tail(entries: list[AuditEntry], data: st.DataObject) -> Tampered:
    witness = Checkpoint.of(entries[-1])
    keep = data.draw(st.integers(0, len(entries) - 1))
    return entries[:keep], [witness], (len(entries), ChainFault.TRUNCATED)


def recompute_the_history(entries: list[AuditEntry], data: st.DataObject) -> Tampered:
    witness = Checkpoint.of(entries[-1])
    k = data.draw(st.integers(0, len(entries) - 1))
    rewritten = entries[:k]
    for n, entry in enumerate(entries[k:]):
        draft = AuditDraft.of(
            at=entry.at,
            actor=entry.actor + ("x" if n == 0 else ""),
            action=entry.action,
            record_type=entry.record_type,
            record_id=entry.record_id,
            subject=entry.subject,
        )
        rewritten.append(link(rewritten[-1] if rewritten else None, draft))
    assert verify(rewritten).holds  # nothing in the chain itself shows it
    return rewritten, [witness], (len(entries), ChainFault.REWRITTEN)


MOVES = [
    change_a_field,
    change_an_entry_and_its_hash,
    delete_an_entry,
    copy_an_entry,
    insert_a_forged_entry,
    swap_neighbours,
    cut_the_tail,
    recompute_the_history,
]


@given(drafts=st.lists(_drafts, min_size=1, max_size=MAX), data=st.data())
def test_any_single_tampering_is_found_at_the_first_bad_entry(
    drafts: list[AuditDraft], data: st.DataObject
) -> None:
    entries = build(drafts)
    move = data.draw(st.sampled_from(MOVES))
    tampered, checkpoints, expected = move(list(entries), data)
    report = verify(tampered, checkpoints=checkpoints)
    assert report.first_break is not None
    assert (report.first_break.sequence, report.first_break.fault) == expected


@given(drafts=st.lists(_drafts, min_size=1, max_size=MAX), data=st.data())
def test_erasing_any_payloads_never_breaks_verification(
    drafts: list[AuditDraft], data: st.DataObject
) -> None:
    entries = build(drafts)
    erase = data.draw(st.sets(st.integers(1, len(entries))))
    payloads = [
        AuditPayload(
            sequence=e.sequence,
            subject=d.subject,
            payload_text=None if e.sequence in erase else d.payload_text,
            salt=None if e.sequence in erase else d.salt,
        )
        for e, d in zip(entries, drafts, strict=True)
    ]
    assert verify(entries, checkpoints=[Checkpoint.of(entries[-1])]).holds
    assert [check_payload(e, p) for e, p in zip(entries, payloads, strict=True)] == [None] * len(
        entries
    )
