r"""The tamper-evident audit chain (日志审计): who read or changed what, when.

Every entry says who (``actor``) did what (``action``) to which record
(``record_type``, ``record_id``) about which data subject (``subject``),
when (``at``), and carries the SHA-256 *digest* of its payload — the
personal data of what changed. Entries are numbered from 1 (``sequence``)
and hash-chained: an entry's ``hash`` is the SHA-256 of the canonical JSON
(sorted keys, no spaces, UTF-8) of its fields, including the previous
entry's hash, so changing, deleting, inserting or reordering any entry
breaks every link after it::

    {"action":"update","actor":"u-li","at":"2026-03-01T09:00:00.000000Z",
     "payload_digest":"…","previous_hash":"…","record_id":"c-1",
     "record_type":"customer","sequence":7,"subject":"c-1","v":1}

The payload itself lives one step away, in an erasable side table
(:class:`AuditPayload`), with a random salt: its digest is
``SHA-256(salt + "\\n" + canonical JSON)``. Erasing a subject's payloads
(salt included) leaves the digests in the chain, so verification still
holds, and without the salt a digest cannot be matched against guessed
values (a phone number has few enough possibilities to try them all).

A hash chain on its own can be recomputed from scratch by whoever can
write the table. :class:`Checkpoint` objects (sequence, hash, time) taken
now and then and kept by an outside witness close that gap:
:func:`verify` with ``checkpoints`` finds a rewritten history or a
truncated tail. The same idea as the signed tree heads of Certificate
Transparency, for a linear chain.

>>> import pendulum
>>> at = pendulum.datetime(2026, 3, 1, 9)
>>> first = link(None, AuditDraft.of(at=at, actor="u-li", action=AuditAction.CREATE,
...     record_type="customer", record_id="c-1", subject="c-1",
...     payload={"name": "李娜"}, salt="00" * 16))
>>> second = link(first, AuditDraft.of(at=at, actor="u-li", action=AuditAction.READ,
...     record_type="customer", record_id="c-1", subject="c-1", salt="01" * 16))
>>> (first.sequence, second.sequence, second.previous_hash == first.hash)
(1, 2, True)
>>> verify([first, second]).holds
True
>>> import attrs
>>> print(verify([attrs.evolve(first, actor="u-wang"), second]).first_break)
entry 1: modified: its hash does not match its contents

May import: ``crmcore.errors``, ``crmcore.clock``; attrs, pendulum (and the standard library).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import itertools
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring
from typing import Any

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.errors import InvalidValueError, PayloadError, Problem
from crmcore.privacy._canonical import JsonValue, canonical_text, instant_text

__all__ = [
    "CHAIN_VERSION",
    "GENESIS_HASH",
    "AuditAction",
    "AuditDraft",
    "AuditEntry",
    "AuditPayload",
    "ChainBreak",
    "ChainFault",
    "ChainReport",
    "Checkpoint",
    "JsonValue",
    "check_payload",
    "link",
    "payload_digest",
    "verify",
]

CHAIN_VERSION = 1
"""The version of the hashed form (the ``v`` key); a new form gets a new number."""

GENESIS_HASH = "0" * 64
"""The ``previous_hash`` of entry 1."""

MAX_ACTOR_LENGTH = 128
MAX_RECORD_TYPE_LENGTH = 64
MAX_ID_LENGTH = 128

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SALT = re.compile(r"[0-9a-f]{32}")
_ACTION = re.compile(r"[a-z][a-z0-9_]{0,31}")
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_UTC = pendulum.UTC


class AuditAction(enum.StrEnum):
    """The standard actions; hosts may log their own (lower-case words, e.g. ``"print"``)."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    MERGE = "merge"
    UNMERGE = "unmerge"
    EXPORT = "export"
    ERASE = "erase"


def _text(field: str, value: object, max_length: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidValueError(field, value, "expected a string")
    if required and not value.strip():
        raise InvalidValueError(field, value, "required (a non-empty string)")
    if len(value) > max_length:
        raise InvalidValueError(field, value[:40] + "…", f"longer than {max_length} characters")
    return value


def _actor(value: str) -> str:
    return _text("actor", value, MAX_ACTOR_LENGTH)


def _record_type(value: str) -> str:
    return _text("record_type", value, MAX_RECORD_TYPE_LENGTH)


def _record_id(value: str) -> str:
    return _text("record_id", value, MAX_ID_LENGTH)


def _subject(value: str | None) -> str | None:
    return None if value is None else _text("subject", value, MAX_ID_LENGTH)


def _action(value: str) -> str:
    if isinstance(value, AuditAction):
        return value
    if not isinstance(value, str) or not _ACTION.fullmatch(value):
        raise InvalidValueError(
            "action", value, "a lower-case word of at most 32 letters, digits or _ (e.g. update)"
        )
    try:
        return AuditAction(value)
    except ValueError:
        return value  # a host's own action


def _hex64(field: str) -> Any:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            raise InvalidValueError(field, value, "64 lower-case hexadecimal characters")

    return check


def _sequence(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError("sequence", value, "a positive integer is required")
    return value


_instant = instant_text


def _parse_instant(field: str, text: str) -> pendulum.DateTime:
    """Parse the canonical instant text (``…Z``) back to a UTC DateTime."""
    if not isinstance(text, str) or len(text) != 27 or not text.endswith("Z"):
        raise InvalidValueError(field, text, "expected YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        d = dt.datetime.fromisoformat(text[:-1])
    except ValueError as exc:
        raise InvalidValueError(field, text, "expected YYYY-MM-DDTHH:MM:SS.ffffffZ") from exc
    return pendulum.DateTime(
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=_UTC
    )


def payload_digest(salt: str, payload_text: str) -> str:
    r"""Return the digest the chain keeps of a payload: SHA-256 of ``salt + "\n" + text``.

    >>> text, salt = '{"name":"李娜"}', "00" * 16
    >>> payload_digest(salt, text) == hashlib.sha256(f"{salt}\n{text}".encode()).hexdigest()
    True
    >>> payload_digest("00" * 16, text) == payload_digest("01" * 16, text)
    False

    Args:
        salt: 32 lower-case hex characters.
        payload_text: The canonical JSON text of the payload.

    Returns:
        64 lower-case hex characters.
    """
    return hashlib.sha256(f"{salt}\n{payload_text}".encode()).hexdigest()


def _hashed(  # noqa: PLR0917 - positional on purpose: verify calls it once per entry
    sequence: int,
    at_text: str,
    actor: str,
    action: str,
    record_type: str,
    record_id: str,
    subject: str | None,
    digest: str,
    previous_hash: str,
) -> str:
    """Return the entry hash: SHA-256 of the canonical JSON of the fields (keys sorted)."""
    q = encode_basestring
    text = (
        f'{{"action":{q(action)},"actor":{q(actor)},"at":{q(at_text)},'
        f'"payload_digest":{q(digest)},"previous_hash":{q(previous_hash)},'
        f'"record_id":{q(record_id)},"record_type":{q(record_type)},"sequence":{sequence},'
        f'"subject":{"null" if subject is None else q(subject)},"v":{CHAIN_VERSION}}}'
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@attrs.frozen(kw_only=True)
class AuditDraft:
    """An entry about to be appended: everything but its place in the chain.

    Build it with :meth:`of`, which turns the payload into canonical JSON
    and draws a random salt. Storage adapters give it to :func:`link` with
    the chain's head, under the lock of the chain head.

    Attributes:
        at: When it happened (UTC).
        actor: Who did it (a user id, or a host's name for a process).
        action: What was done (:class:`AuditAction` or a host's own word).
        record_type: The kind of record (``customer``, ``merge`` …).
        record_id: The record's id.
        subject: The data subject whose personal data it concerns, if any.
        payload_text: The canonical JSON of the payload.
        salt: 32 lower-case hex characters mixed into the payload digest.
    """

    at: pendulum.DateTime = attrs.field(converter=utc)
    actor: str = attrs.field(converter=_actor)
    action: str = attrs.field(converter=_action)
    record_type: str = attrs.field(converter=_record_type)
    record_id: str = attrs.field(converter=_record_id)
    subject: str | None = attrs.field(default=None, converter=_subject)
    payload_text: str = "{}"
    salt: str = attrs.field()

    @salt.validator
    def _check_salt(self, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not _SALT.fullmatch(value):
            raise InvalidValueError("salt", value, "32 lower-case hexadecimal characters")

    @classmethod
    def of(
        cls,
        *,
        at: dt.datetime,
        actor: str,
        action: str,
        record_type: str,
        record_id: str,
        subject: str | None = None,
        payload: Mapping[str, Any] | None = None,
        salt: str | None = None,
    ) -> AuditDraft:
        """Return a draft with the payload in canonical JSON and a fresh random salt.

        Args:
            at: When it happened (aware).
            actor: Who did it.
            action: What was done.
            record_type: The kind of record.
            record_id: The record's id.
            subject: The data subject (customer id) the payload is about.
            payload: What changed, as a JSON object (``None``: ``{}``).
            salt: A fixed salt (tests and examples); ``None`` draws one.

        Raises:
            InvalidValueError: If a field is empty, too long or of the wrong type.
            PayloadError: If the payload is not an exact JSON object, naming each bad path.
        """
        if payload is None:
            text = "{}"
        elif not isinstance(payload, Mapping):
            raise PayloadError("audit payload", [Problem("$", "expected a JSON object")])
        else:
            text = canonical_text(payload, subject="audit payload")
        return cls(
            at=at,
            actor=actor,
            action=action,
            record_type=record_type,
            record_id=record_id,
            subject=subject,
            payload_text=text,
            salt=secrets.token_hex(16) if salt is None else salt,
        )

    @property
    def digest(self) -> str:
        """The payload digest the entry will carry."""
        return payload_digest(self.salt, self.payload_text)


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One link of the audit chain, as stored.

    The time is kept as the canonical text the hash covers (:attr:`at_text`,
    ``2026-03-01T09:00:00.000000Z``); :attr:`at` reads it as a UTC instant.

    Attributes:
        sequence: Its place in the chain, from 1, without gaps.
        at_text: When it happened: UTC, microseconds, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
        actor: Who did it.
        action: What was done.
        record_type: The kind of record.
        record_id: The record's id.
        subject: The data subject it concerns, if any.
        payload_digest: The salted digest of its payload (see :func:`payload_digest`).
        previous_hash: The hash of entry ``sequence - 1`` (:data:`GENESIS_HASH` for entry 1).
        hash: SHA-256 of the canonical JSON of all the fields above.
    """

    sequence: int = attrs.field(converter=_sequence)
    at_text: str = attrs.field()
    actor: str = attrs.field(converter=_actor)
    action: str = attrs.field(converter=_action)
    record_type: str = attrs.field(converter=_record_type)
    record_id: str = attrs.field(converter=_record_id)
    subject: str | None = attrs.field(default=None, converter=_subject)
    payload_digest: str = attrs.field(validator=_hex64("payload_digest"))
    previous_hash: str = attrs.field(validator=_hex64("previous_hash"))
    hash: str = attrs.field(validator=_hex64("hash"))

    @at_text.validator
    def _check_at_text(self, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not _INSTANT.fullmatch(value):
            raise InvalidValueError("at_text", value, "expected YYYY-MM-DDTHH:MM:SS.ffffffZ")

    @property
    def at(self) -> pendulum.DateTime:
        """When it happened, as a UTC instant.

        Raises:
            InvalidValueError: If the stored text was tampered with into something unreadable.
        """
        return _parse_instant("at", self.at_text)

    def expected_hash(self) -> str:
        """Return the hash its fields give (equal to :attr:`hash` unless it was tampered with)."""
        return _hashed(
            self.sequence,
            self.at_text,
            self.actor,
            self.action,
            self.record_type,
            self.record_id,
            self.subject,
            self.payload_digest,
            self.previous_hash,
        )

    @classmethod
    def from_row(
        cls,
        *,
        sequence: int,
        at: str,
        actor: str,
        action: str,
        record_type: str,
        record_id: str,
        subject: str | None,
        payload_digest: str,
        previous_hash: str,
        hash: str,
    ) -> AuditEntry:
        """Rebuild a stored entry from its columns, ``at`` in canonical text.

        Storage adapters read entries with this: it checks nothing, so
        reading a long chain stays fast and a tampered row is still read
        (for :func:`verify` to report) rather than refused.
        """
        entry = object.__new__(cls)
        put = object.__setattr__
        put(entry, "sequence", sequence)
        put(entry, "at_text", at)
        put(entry, "actor", actor)
        put(entry, "action", action)
        put(entry, "record_type", record_type)
        put(entry, "record_id", record_id)
        put(entry, "subject", subject)
        put(entry, "payload_digest", payload_digest)
        put(entry, "previous_hash", previous_hash)
        put(entry, "hash", hash)
        return entry


def link(head: AuditEntry | Checkpoint | None, draft: AuditDraft) -> AuditEntry:
    """Return the entry that ``draft`` becomes when appended after ``head``.

    Args:
        head: The last entry of the chain, or its checkpoint (``None`` for an
            empty chain).
        draft: What to append.

    Returns:
        Entry ``head.sequence + 1`` (1 after ``None``), linked to ``head``'s hash.
    """
    sequence = 1 if head is None else head.sequence + 1
    previous = GENESIS_HASH if head is None else head.hash
    digest = draft.digest
    at_text = _instant(draft.at)
    entry_hash = _hashed(
        sequence,
        at_text,
        draft.actor,
        draft.action,
        draft.record_type,
        draft.record_id,
        draft.subject,
        digest,
        previous,
    )
    return AuditEntry(
        sequence=sequence,
        at_text=at_text,
        actor=draft.actor,
        action=draft.action,
        record_type=draft.record_type,
        record_id=draft.record_id,
        subject=draft.subject,
        payload_digest=digest,
        previous_hash=previous,
        hash=entry_hash,
    )


@attrs.frozen(kw_only=True)
class AuditPayload:
    """The erasable side of an entry: its payload and salt, or when they were erased.

    Attributes:
        sequence: The entry it belongs to.
        subject: The data subject it is about (what erasure looks for).
        payload_text: The canonical JSON of the payload; ``None`` once erased.
        salt: The salt of the digest; ``None`` once erased.
        erased_at: When it was erased, or ``None``.
    """

    sequence: int
    subject: str | None
    payload_text: str | None
    salt: str | None
    erased_at: pendulum.DateTime | None = None

    @property
    def payload(self) -> dict[str, JsonValue] | None:
        """The payload as a JSON object, or ``None`` once erased.

        Raises:
            PayloadError: If the stored text is not JSON.
        """
        if self.payload_text is None:
            return None
        try:
            value: dict[str, JsonValue] = json.loads(self.payload_text)
        except ValueError as exc:
            raise PayloadError(
                f"audit payload of entry {self.sequence}", [Problem("$", str(exc))]
            ) from exc
        return value


def check_payload(entry: AuditEntry, payload: AuditPayload) -> ChainBreak | None:
    """Return why ``payload`` does not belong to ``entry``, or ``None`` if it does (or is erased).

    An erased payload (no text, no salt) always passes: erasure is allowed.
    """
    if payload.payload_text is None and payload.salt is None:
        return None
    if payload.payload_text is None or payload.salt is None:
        return ChainBreak(
            sequence=entry.sequence,
            fault=ChainFault.PAYLOAD,
            detail="its payload is half erased (text or salt missing)",
        )
    if payload_digest(payload.salt, payload.payload_text) != entry.payload_digest:
        return ChainBreak(
            sequence=entry.sequence,
            fault=ChainFault.PAYLOAD,
            detail="its payload does not match the digest in the chain",
        )
    return None


@attrs.frozen(kw_only=True)
class Checkpoint:
    """The chain's head at one moment, for an outside witness to keep.

    Attributes:
        sequence: The last entry's sequence (0: an empty chain).
        hash: The last entry's hash (:data:`GENESIS_HASH` for an empty chain).
        at: When the last entry was written.
    """

    sequence: int = attrs.field()
    hash: str = attrs.field(validator=_hex64("hash"))
    at: pendulum.DateTime | None = attrs.field(
        default=None, converter=attrs.converters.optional(utc)
    )

    @sequence.validator
    def _check_sequence(self, _attribute: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidValueError("sequence", value, "a non-negative integer is required")

    @classmethod
    def of(cls, entry: AuditEntry) -> Checkpoint:
        """Return the checkpoint of the chain whose last entry is ``entry``."""
        return cls(sequence=entry.sequence, hash=entry.hash, at=entry.at)

    def to_json(self) -> str:
        """Return the checkpoint as canonical JSON, for the witness.

        >>> Checkpoint(sequence=0, hash=GENESIS_HASH).to_json()[:40]
        '{"at":null,"hash":"000000000000000000000'
        """
        return canonical_text(
            {
                "at": None if self.at is None else _instant(self.at),
                "hash": self.hash,
                "sequence": self.sequence,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Read a checkpoint written by :meth:`to_json`.

        Raises:
            PayloadError: If ``text`` is not such a checkpoint, naming what is wrong.
        """
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise PayloadError("checkpoint", [Problem("$", f"not JSON: {exc}")]) from exc
        if not isinstance(data, dict):
            raise PayloadError("checkpoint", [Problem("$", "expected a JSON object")])
        problems = [
            Problem(f"$.{key}", "unknown key")
            for key in data
            if key not in ("at", "hash", "sequence")
        ]
        problems += [
            Problem(f"$.{key}", "required") for key in ("hash", "sequence") if key not in data
        ]
        if problems:
            raise PayloadError("checkpoint", problems)
        try:
            at = data.get("at")
            return cls(
                sequence=data["sequence"],
                hash=data["hash"],
                at=None if at is None else _parse_instant("at", at),
            )
        except InvalidValueError as exc:
            raise PayloadError("checkpoint", [Problem(f"$.{exc.field}", exc.reason)]) from exc


class ChainFault(enum.StrEnum):
    """What is wrong where the chain breaks."""

    MODIFIED = "modified"
    """The entry's hash does not match its contents: a field was changed."""
    BROKEN_LINK = "broken link"
    """Its ``previous_hash`` is not the previous entry's hash: an entry before it was
    replaced, inserted or removed (and the sequence numbers made to fit)."""
    GAP = "gap"
    """A sequence number is skipped: an entry was deleted or moved later."""
    OUT_OF_ORDER = "out of order"
    """A sequence number comes again or goes back: an entry was copied or moved earlier."""
    REWRITTEN = "rewritten"
    """An entry differs from a witnessed checkpoint: history was recomputed."""
    TRUNCATED = "truncated"
    """The chain ends before a witnessed checkpoint: its tail was deleted."""
    PAYLOAD = "payload"
    """A payload kept beside the chain does not match its entry's digest."""


@attrs.frozen(kw_only=True)
class ChainBreak:
    """The first place the chain does not hold.

    Attributes:
        sequence: The first bad entry (the one expected there, for a gap or truncation).
        fault: What is wrong.
        detail: A sentence saying how it was found.
    """

    sequence: int
    fault: ChainFault
    detail: str

    def __str__(self) -> str:
        return f"entry {self.sequence}: {self.fault.value}: {self.detail}"


@attrs.frozen(kw_only=True)
class ChainReport:
    """What :func:`verify` found.

    Attributes:
        checked: How many entries were read.
        head: The last entry that verified, as a checkpoint (``None``: none did).
        first_break: The first bad entry, or ``None`` when the chain holds.
    """

    checked: int
    head: Checkpoint | None
    first_break: ChainBreak | None

    @property
    def holds(self) -> bool:
        """Whether no entry is bad."""
        return self.first_break is None

    def __bool__(self) -> bool:
        return self.first_break is None


def _sorted_checkpoints(checkpoints: Iterable[Checkpoint]) -> list[Checkpoint]:
    items = sorted(checkpoints, key=lambda c: c.sequence)
    for before, after in itertools.pairwise(items):
        if before.sequence == after.sequence and before.hash != after.hash:
            raise InvalidValueError(
                "checkpoints",
                after.sequence,
                "two checkpoints of one sequence with different hashes: a witness saw a fork",
            )
    return items


def verify(
    entries: Iterable[AuditEntry],
    *,
    after: Checkpoint | None = None,
    checkpoints: Iterable[Checkpoint] = (),
) -> ChainReport:
    """Check the chain, reading ``entries`` once in order; report the first bad entry.

    Each entry must carry the next sequence number, the previous entry's hash
    and the hash of its own fields. Entries equal to a checkpoint's sequence
    must carry its hash, and the chain must reach every checkpoint. Memory use
    does not grow with the chain.

    >>> import pendulum
    >>> at = pendulum.datetime(2026, 3, 1)
    >>> chain, head = [], None
    >>> for n in range(3):
    ...     head = link(head, AuditDraft.of(at=at, actor="u-1", action="read",
    ...                                     record_type="customer", record_id=f"c-{n}"))
    ...     chain.append(head)
    >>> witnessed = Checkpoint.of(chain[-1])
    >>> verify(chain, checkpoints=[witnessed]).checked
    3
    >>> print(verify([chain[0], chain[2]]).first_break)
    entry 2: gap: expected entry 2, found entry 3
    >>> print(verify(chain[:2], checkpoints=[witnessed]).first_break)
    entry 3: truncated: the chain ends at entry 2, before the checkpoint of entry 3

    Args:
        entries: The entries, by sequence (from 1, or from ``after.sequence + 1``).
        after: Verify only the entries after this trusted checkpoint.
        checkpoints: Checkpoints kept by a witness; those at or before ``after`` are ignored.

    Returns:
        How many entries were read, the last good one, and the first break if any.

    Raises:
        InvalidValueError: If two checkpoints of one sequence disagree.
    """
    expected = 1 if after is None else after.sequence + 1
    previous_hash = GENESIS_HASH if after is None else after.hash
    witnessed = [c for c in _sorted_checkpoints(checkpoints) if c.sequence >= expected]
    next_witness = 0
    checked = 0
    head: AuditEntry | None = None

    def report(problem: ChainBreak | None) -> ChainReport:
        last = after if head is None else Checkpoint.of(head)
        return ChainReport(checked=checked, head=last, first_break=problem)

    for entry in entries:
        checked += 1
        sequence = entry.sequence
        if sequence != expected:
            if isinstance(sequence, int) and sequence > expected:
                return report(
                    ChainBreak(
                        sequence=expected,
                        fault=ChainFault.GAP,
                        detail=f"expected entry {expected}, found entry {sequence}",
                    )
                )
            return report(
                ChainBreak(
                    sequence=expected,
                    fault=ChainFault.OUT_OF_ORDER,
                    detail=f"expected entry {expected}, found entry {sequence!r} again",
                )
            )
        if entry.hash != _hashed(
            sequence,
            entry.at_text,
            entry.actor,
            entry.action,
            entry.record_type,
            entry.record_id,
            entry.subject,
            entry.payload_digest,
            entry.previous_hash,
        ):
            return report(
                ChainBreak(
                    sequence=sequence,
                    fault=ChainFault.MODIFIED,
                    detail="its hash does not match its contents",
                )
            )
        if entry.previous_hash != previous_hash:
            return report(
                ChainBreak(
                    sequence=sequence,
                    fault=ChainFault.BROKEN_LINK,
                    detail=f"its previous hash is not the hash of entry {sequence - 1}",
                )
            )
        while next_witness < len(witnessed) and witnessed[next_witness].sequence == sequence:
            if witnessed[next_witness].hash != entry.hash:
                return report(
                    ChainBreak(
                        sequence=sequence,
                        fault=ChainFault.REWRITTEN,
                        detail="its hash differs from the witnessed checkpoint",
                    )
                )
            next_witness += 1
        head = entry
        previous_hash = entry.hash
        expected += 1
    if next_witness < len(witnessed):
        missing = witnessed[next_witness]
        return report(
            ChainBreak(
                sequence=missing.sequence,
                fault=ChainFault.TRUNCATED,
                detail=f"the chain ends at entry {expected - 1},"
                f" before the checkpoint of entry {missing.sequence}",
            )
        )
    return report(None)
