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


@given(drafts=st.lists(_drafts, min_size=1, max_size=MAX), data=st.data())
def test_a_changed_field_is_found_at_that_entry(
    drafts: list[AuditDraft], data: st.DataObject
) -> None:
    entries = build(drafts)
    k = data.draw(st.integers(0, len(entries) - 1))
    name = data.draw(st.sampled_from(sorted(_FIELDS)))
    entries[k] = attrs.evolve(entries[k], **{name: _FIELDS[name](entries[k])})
    broken = verify(entries).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (k + 1, ChainFault.MODIFIED)


@given(drafts=st.lists(_drafts, min_size=2, max_size=MAX), data=st.data())
def test_a_changed_entry_with_its_hash_recomputed_breaks_the_next_link(
    drafts: list[AuditDraft], data: st.DataObject
) -> None:
    entries = build(drafts)
    witness = Checkpoint.of(entries[-1])
    k = data.draw(st.integers(0, len(entries) - 1))
    forged = attrs.evolve(entries[k], actor=entries[k].actor + "x")
    entries[k] = attrs.evolve(forged, hash=forged.expected_hash())
    broken = verify(entries, checkpoints=[witness]).first_break
    assert broken is not None
    if k == len(entries) - 1:  # the last: only the witness can tell
        assert (broken.sequence, broken.fault) == (k + 1, ChainFault.REWRITTEN)
    else:
        assert (broken.sequence, broken.fault) == (k + 2, ChainFault.BROKEN_LINK)


@given(drafts=st.lists(_drafts, min_size=2, max_size=MAX), data=st.data())
def test_a_deleted_entry_is_a_gap_or_against_the_checkpoint_a_truncation(
    drafts: list[AuditDraft], data: st.DataObject
) -> None:
    entries = build(drafts)
    witness = Checkpoint.of(entries[-1])
    k = data.draw(st.integers(0, len(entries) - 1))
    del entries[k]
    broken = verify(entries, checkpoints=[witness]).first_break
    assert broken is not None
    if k == len(drafts) - 1:
        assert (broken.sequence, broken.fault) == (k + 1, ChainFault.TRUNCATED)
    else:
        assert (broken.sequence, broken.fault) == (k + 1, ChainFault.GAP)


@given(drafts=st.lists(_drafts, min_size=1, max_size=MAX), data=st.data())
def test_a_copied_entry_is_out_of_order(drafts: list[AuditDraft], data: st.DataObject) -> None:
    entries = build(drafts)
    k = data.draw(st.integers(0, len(entries) - 1))
    entries.insert(k + 1, entries[k])
    broken = verify(entries).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (k + 2, ChainFault.OUT_OF_ORDER)


@given(drafts=st.lists(_drafts, min_size=1, max_size=MAX), extra=_drafts, data=st.data())
def test_an_inserted_forged_entry_is_found_at_the_entry_it_displaced(
    drafts: list[AuditDraft], extra: AuditDraft, data: st.DataObject
) -> None:
    entries = build(drafts)
    k = data.draw(
        st.integers(0, len(entries) - 1)
    )  # after the head it is a new entry, not a forgery
    forged = link(entries[k - 1] if k else None, extra)  # correctly linked to its predecessor
    entries.insert(k, forged)
    broken = verify(entries).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (k + 2, ChainFault.OUT_OF_ORDER)


@given(drafts=st.lists(_drafts, min_size=2, max_size=MAX), data=st.data())
def test_swapped_neighbours_are_a_gap_at_the_first(
    drafts: list[AuditDraft], data: st.DataObject
) -> None:
    entries = build(drafts)
    k = data.draw(st.integers(0, len(entries) - 2))
    entries[k], entries[k + 1] = entries[k + 1], entries[k]
    broken = verify(entries).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (k + 1, ChainFault.GAP)


@given(drafts=st.lists(_drafts, min_size=2, max_size=MAX), replacement=_drafts, data=st.data())
def test_a_history_recomputed_from_any_entry_differs_from_the_checkpoint(
    drafts: list[AuditDraft], replacement: AuditDraft, data: st.DataObject
) -> None:
    entries = build(drafts)
    witness = Checkpoint.of(entries[-1])
    k = data.draw(st.integers(0, len(entries) - 1))
    rewritten = build([*drafts[:k], replacement, *drafts[k + 1 :]])
    if rewritten[-1].hash == witness.hash:  # the replacement changed nothing
        return
    assert verify(rewritten).holds
    broken = verify(rewritten, checkpoints=[witness]).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (len(drafts), ChainFault.REWRITTEN)


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
