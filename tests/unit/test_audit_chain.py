"""The audit chain: hashed form, links, verification faults, checkpoints, payload digests."""

from __future__ import annotations

import hashlib
import json

import attrs
import pendulum
import pytest

from crmcore.errors import InvalidValueError, PayloadError
from crmcore.privacy.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditDraft,
    AuditEntry,
    AuditPayload,
    ChainBreak,
    ChainFault,
    Checkpoint,
    check_payload,
    link,
    payload_digest,
    verify,
)

AT = pendulum.datetime(2026, 3, 1, 9, 30, 0, 250)
SALT = "ab" * 16


def draft(n: int, **changes: object) -> AuditDraft:
    fields: dict[str, object] = {
        "at": AT.add(seconds=n),
        "actor": "u-li",
        "action": AuditAction.UPDATE,
        "record_type": "customer",
        "record_id": f"c-{n}",
        "subject": "c-1",
        "payload": {"name": "李娜", "n": n},
        "salt": SALT,
    }
    fields.update(changes)
    return AuditDraft.of(**fields)  # type: ignore[arg-type]


def chain(length: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    head = None
    for n in range(length):
        head = link(head, draft(n))
        entries.append(head)
    return entries


def test_the_payload_digest_is_the_salted_sha256_of_the_canonical_json() -> None:
    d = draft(1, payload={"z": [1, None], "a": "李娜", "b": True})
    assert d.payload_text == '{"a":"李娜","b":true,"z":[1,null]}'
    expected = hashlib.sha256(f"{SALT}\n{d.payload_text}".encode()).hexdigest()
    assert (d.digest, payload_digest(SALT, d.payload_text)) == (expected, expected)


def test_the_entry_hash_is_the_sha256_of_its_canonical_json_fields() -> None:
    entry = link(None, draft(0, actor='u "quoted" 王'))
    fields = {
        "action": "update",
        "actor": 'u "quoted" 王',
        "at": "2026-03-01T09:30:00.000250Z",
        "payload_digest": entry.payload_digest,
        "previous_hash": GENESIS_HASH,
        "record_id": "c-0",
        "record_type": "customer",
        "sequence": 1,
        "subject": "c-1",
        "v": 1,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert entry.hash == hashlib.sha256(text.encode()).hexdigest()
    assert entry.hash == entry.expected_hash()


def test_a_subjectless_entry_hashes_null() -> None:
    entry = link(None, draft(0, subject=None))
    assert entry.subject is None
    assert entry.hash == entry.expected_hash()


def test_entries_are_numbered_from_one_and_each_links_to_the_previous() -> None:
    entries = chain(3)
    assert [e.sequence for e in entries] == [1, 2, 3]
    assert [e.previous_hash for e in entries] == [GENESIS_HASH, entries[0].hash, entries[1].hash]


def test_an_intact_chain_holds_and_reports_its_head() -> None:
    entries = chain(4)
    report = verify(entries)
    assert (report.holds, bool(report), report.checked) == (True, True, 4)
    assert report.head == Checkpoint.of(entries[-1])


def test_an_empty_chain_holds() -> None:
    report = verify([])
    assert (report.holds, report.checked, report.head) == (True, 0, None)


def test_a_modified_field_names_that_entry() -> None:
    entries = chain(4)
    entries[2] = attrs.evolve(entries[2], record_id="c-99")
    assert verify(entries).first_break == ChainBreak(
        sequence=3, fault=ChainFault.MODIFIED, detail="its hash does not match its contents"
    )


def test_a_deleted_entry_is_a_gap_at_its_sequence() -> None:
    entries = chain(4)
    del entries[1]
    broken = verify(entries).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (2, ChainFault.GAP)
    assert str(broken) == "entry 2: gap: expected entry 2, found entry 3"


def test_a_repeated_entry_is_out_of_order() -> None:
    entries = chain(3)
    broken = verify([entries[0], entries[1], entries[1], entries[2]]).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (3, ChainFault.OUT_OF_ORDER)


def test_an_entry_recomputed_in_place_breaks_the_next_link() -> None:
    entries = chain(4)
    forged = link(entries[0], draft(1, actor="u-mallory"))  # a valid entry 2, but not the one kept
    entries[1] = forged
    broken = verify(entries).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (3, ChainFault.BROKEN_LINK)


def test_a_recomputed_history_differs_from_the_witnessed_checkpoint() -> None:
    entries = chain(4)
    witnessed = Checkpoint.of(entries[-1])
    rewritten = chain(1)
    for n in range(1, 4):
        rewritten.append(link(rewritten[-1], draft(n, actor="u-mallory")))
    assert verify(rewritten).holds  # nothing in the chain itself shows it
    broken = verify(rewritten, checkpoints=[witnessed]).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (4, ChainFault.REWRITTEN)


def test_a_truncated_tail_is_found_against_a_checkpoint() -> None:
    entries = chain(5)
    report = verify(entries[:3], checkpoints=[Checkpoint.of(entries[1]), Checkpoint.of(entries[4])])
    assert report.first_break == ChainBreak(
        sequence=5,
        fault=ChainFault.TRUNCATED,
        detail="the chain ends at entry 3, before the checkpoint of entry 5",
    )
    assert report.head == Checkpoint.of(entries[2])


def test_the_tail_after_a_trusted_checkpoint_verifies_alone() -> None:
    entries = chain(5)
    assert verify(entries[2:], after=Checkpoint.of(entries[1])).checked == 3
    broken = verify(entries[3:], after=Checkpoint.of(entries[1])).first_break
    assert broken is not None
    assert (broken.sequence, broken.fault) == (3, ChainFault.GAP)


def test_checkpoints_of_one_sequence_with_different_hashes_are_refused() -> None:
    entries = chain(2)
    other = Checkpoint(sequence=2, hash="f" * 64)
    with pytest.raises(InvalidValueError, match="fork"):
        verify(entries, checkpoints=[Checkpoint.of(entries[1]), other])


def test_a_checkpoint_round_trips_through_json() -> None:
    checkpoint = Checkpoint.of(chain(2)[-1])
    text = checkpoint.to_json()
    assert json.loads(text) == {
        "at": "2026-03-01T09:30:01.000250Z",
        "hash": checkpoint.hash,
        "sequence": 2,
    }
    assert Checkpoint.from_json(text) == checkpoint


def test_a_bad_checkpoint_names_every_problem() -> None:
    with pytest.raises(PayloadError) as caught:
        Checkpoint.from_json('{"sequence": 1, "extra": 2}')
    assert caught.value.paths == ("$.extra", "$.hash")
    with pytest.raises(PayloadError) as caught:
        Checkpoint.from_json('{"sequence": -1, "hash": "' + "0" * 64 + '"}')
    assert caught.value.paths == ("$.sequence",)
    with pytest.raises(PayloadError):
        Checkpoint.from_json("not json")


def test_a_float_in_a_payload_is_refused_with_its_path() -> None:
    with pytest.raises(PayloadError) as caught:
        draft(1, payload={"orders": [{"amount": 9.5}], "ok": 1, 3: "x"})
    assert caught.value.paths == ("$.orders[0].amount", "$")


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(PayloadError):
        draft(1, payload=["a"])


@pytest.mark.parametrize(
    ("field", "value"),
    [("actor", ""), ("actor", "u" * 129), ("action", "Update!"), ("record_id", " "), ("salt", "x")],
)
def test_a_bad_field_is_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        draft(1, **{field: value})
    assert caught.value.field == field


def test_a_host_may_log_its_own_action() -> None:
    entry = link(None, draft(1, action="print"))
    assert (entry.action, verify([entry]).holds) == ("print", True)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidValueError):
        draft(1, at=pendulum.naive(2026, 3, 1))


def test_a_payload_matches_its_entry_until_it_is_changed() -> None:
    entry = link(None, draft(1))
    stored = AuditPayload(sequence=1, subject="c-1", payload_text=draft(1).payload_text, salt=SALT)
    assert check_payload(entry, stored) is None
    assert stored.payload == {"name": "李娜", "n": 1}
    changed = attrs.evolve(stored, payload_text='{"name":"王伟","n":1}')
    assert check_payload(entry, changed) == ChainBreak(
        sequence=1,
        fault=ChainFault.PAYLOAD,
        detail="its payload does not match the digest in the chain",
    )


def test_an_erased_payload_passes_and_a_half_erased_one_does_not() -> None:
    entry = link(None, draft(1))
    erased = AuditPayload(sequence=1, subject="c-1", payload_text=None, salt=None, erased_at=AT)
    assert (check_payload(entry, erased), erased.payload) == (None, None)
    half = attrs.evolve(erased, salt=SALT)
    broken = check_payload(entry, half)
    assert broken is not None
    assert broken.fault is ChainFault.PAYLOAD


def test_a_stored_row_is_read_back_equal() -> None:
    entry = chain(2)[-1]
    row = AuditEntry.from_row(
        sequence=entry.sequence,
        at=entry.at_text,
        actor=entry.actor,
        action=str(entry.action),
        record_type=entry.record_type,
        record_id=entry.record_id,
        subject=entry.subject,
        payload_digest=entry.payload_digest,
        previous_hash=entry.previous_hash,
        hash=entry.hash,
    )
    assert row == entry


def test_a_stored_row_with_an_unreadable_time_is_read_and_fails_verification() -> None:
    entry = chain(1)[0]
    row = AuditEntry.from_row(
        sequence=1,
        at="2026-03-01 09:30:00",
        actor=entry.actor,
        action=str(entry.action),
        record_type=entry.record_type,
        record_id=entry.record_id,
        subject=entry.subject,
        payload_digest=entry.payload_digest,
        previous_hash=entry.previous_hash,
        hash=entry.hash,
    )
    with pytest.raises(InvalidValueError):
        _ = row.at
    broken = verify([row]).first_break
    assert broken is not None
    assert broken.fault is ChainFault.MODIFIED


def test_an_entry_reads_its_time_back_as_a_utc_instant() -> None:
    entry = chain(1)[0]
    assert (entry.at_text, entry.at) == ("2026-03-01T09:30:00.000250Z", AT)
    with pytest.raises(InvalidValueError):
        attrs.evolve(entry, at_text="2026-03-01T09:30:00Z")
