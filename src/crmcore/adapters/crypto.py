"""The default :class:`~crmcore.ports.Encryptor`: AES-256-GCM under a key per data subject.

:class:`AesGcmEncryptor` encrypts a sensitive field value (a national id, a
note) under its subject's own key from a :class:`~crmcore.ports.KeyStore`,
made on first use. The ciphertext is text,
``v1.`` + URL-safe base64 of *nonce (12 bytes) + ciphertext + tag*, and is
bound to the subject and field (GCM associated data), so a value copied to
another customer or column does not decrypt. Deleting the key
(:meth:`AesGcmEncryptor.shred`) erases every value encrypted under it, in
the database and in every backup: crypto-shredding.

>>> from crmcore.adapters.memory import MemoryKeyStore
>>> encryptor = AesGcmEncryptor(MemoryKeyStore())
>>> token = encryptor.encrypt("c-1", "national_id", "11010519491231002X")
>>> token.startswith("v1."), "1101" in token
(True, False)
>>> encryptor.decrypt("c-1", "national_id", token)
'11010519491231002X'
>>> _ = encryptor.encrypt("c-2", "national_id", "G12345678")  # c-2 gets a key of its own
>>> encryptor.decrypt("c-2", "national_id", token)
Traceback (most recent call last):
...
crmcore.errors.DecryptionError: cannot decrypt 'national_id' of subject 'c-2': ...
>>> encryptor.shred("c-1")
True
>>> encryptor.decrypt("c-1", "national_id", token)
Traceback (most recent call last):
...
crmcore.errors.ErasedError: cannot decrypt 'national_id' of subject 'c-1': the subject's key ...

The batch forms look the keys of a whole batch up at once (one key-store
round trip); a shredded subject's value opens as ``None``:

>>> tokens = encryptor.encrypt_many([("c-3", "note", "VIP"), ("c-4", "note", "late payer")])
>>> encryptor.decrypt_many([(s, "note", t) for s, t in zip(["c-3", "c-4"], tokens)])
['VIP', 'late payer']
>>> encryptor.decrypt_many([("c-1", "national_id", token)])
[None]

A unit of work uses :meth:`AesGcmEncryptor.cached`: an encryptor on the same
key store that asks it at most once per subject until :meth:`~AesGcmEncryptor.forget`
(a shred through any encryptor of the family evicts the subject):

>>> scoped = encryptor.cached()
>>> scoped.decrypt("c-3", "note", tokens[0])
'VIP'
>>> encryptor.shred("c-3"), scoped.decrypt_many([("c-3", "note", tokens[0])])
(True, [None])
>>> scoped.forget()

Needs the ``crypto`` extra (the ``cryptography`` package).

May import: ``crmcore.ports``, ``crmcore.errors``; cryptography.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import weakref
from collections.abc import Iterable
from typing import Final

from crmcore.errors import DecryptionError, ErasedError, InvalidValueError, MissingExtraError
from crmcore.ports import KeyStore

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError as exc:  # pragma: no cover - the extra is part of the dev install
    raise MissingExtraError("crypto", __name__, "cryptography") from exc

__all__ = ["AesGcmEncryptor"]

_PREFIX: Final = "v1."
_NONCE: Final = 12
_TAG: Final = 16
_KEY: Final = 32


def _associated(subject: str, field: str) -> bytes:
    return f"crmcore/v1\x1f{subject}\x1f{field}".encode()


def _check(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidValueError(name, value, "a non-empty string")
    return value


def _checked_plaintext(plaintext: object) -> str:
    if not isinstance(plaintext, str):
        raise InvalidValueError("plaintext", type(plaintext).__name__, "text to encrypt")
    return plaintext


def _seal(key: bytes, subject: str, field: str, plaintext: str) -> str:
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), _associated(subject, field))
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _unwrap(subject: str, field: str, ciphertext: object) -> bytes:
    """Return the raw nonce + ciphertext + tag of a token (checked before any key lookup)."""
    _check("subject", subject)
    _check("field", field)
    if not isinstance(ciphertext, str) or not ciphertext.startswith(_PREFIX):
        raise DecryptionError(subject, field, "not a crmcore ciphertext (no 'v1.' prefix)")
    try:
        raw = base64.urlsafe_b64decode(ciphertext[len(_PREFIX) :].encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise DecryptionError(subject, field, "the ciphertext is not valid base64") from exc
    if len(raw) < _NONCE + _TAG:
        raise DecryptionError(subject, field, "the ciphertext is too short")
    return raw


def _open(key: bytes, subject: str, field: str, raw: bytes) -> str:
    try:
        plain = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _associated(subject, field))
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError(
            subject,
            field,
            "authentication failed: tampered with, or another subject's or field's value",
        ) from exc
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:  # pragma: no cover - only text is ever encrypted
        raise DecryptionError(subject, field, "the plaintext is not UTF-8") from exc


class _Family:
    """The encryptors sharing one key store: a shred through any evicts from every cache."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scoped: weakref.WeakSet[AesGcmEncryptor] = weakref.WeakSet()

    def evict(self, subject: str) -> None:
        with self.lock:
            members = list(self.scoped)
        for member in members:
            member._evict(subject)


class AesGcmEncryptor:
    """An :class:`~crmcore.ports.Encryptor` with AES-256-GCM and one key per subject.

    Args:
        keys: Where the subjects' keys live (keep it apart from the data's backups).
    """

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._family = _Family()
        self._cache: dict[str, bytes] | None = None  # only in a cached() encryptor
        self._cache_lock = threading.Lock()

    def cached(self) -> AesGcmEncryptor:
        """Return an encryptor on the same keys that asks the key store once per subject.

        It remembers every key it reads or makes until :meth:`forget` (a unit
        of work holds one and forgets at its end). A subject shredded through
        this encryptor, the one it came from or any other of theirs is
        evicted at once. A key deleted straight in the key store meanwhile
        is seen after :meth:`forget`, as a read snapshot would.
        """
        scoped = AesGcmEncryptor(self.keys)
        scoped._family = self._family
        scoped._cache = {}
        with self._family.lock:
            self._family.scoped.add(scoped)
        return scoped

    def forget(self) -> None:
        """Drop the remembered keys (nothing to drop unless from :meth:`cached`)."""
        if self._cache is not None:
            with self._cache_lock:
                self._cache.clear()

    def _evict(self, subject: str) -> None:
        if self._cache is not None:
            with self._cache_lock:
                self._cache.pop(subject, None)

    def _known(self, subjects: Iterable[str]) -> tuple[dict[str, bytes], list[str]]:
        """Split ``subjects`` into the remembered keys and the subjects to look up."""
        wanted = list(dict.fromkeys(subjects))
        if self._cache is None:
            return {}, wanted
        with self._cache_lock:
            known = {s: self._cache[s] for s in wanted if s in self._cache}
        return known, [s for s in wanted if s not in known]

    def _remember(self, keys: dict[str, bytes]) -> None:
        if self._cache is not None and keys:
            with self._cache_lock:
                self._cache.update(keys)

    def _keys_for(self, subjects: Iterable[str], *, create: bool) -> dict[str, bytes]:
        """Return the keys of ``subjects`` (made where missing when ``create``): one lookup."""
        known, missing = self._known(subjects)
        if missing:
            if create:
                got = self.keys.get_or_create_many({s: secrets.token_bytes(_KEY) for s in missing})
            else:
                got = self.keys.get_many(missing)
            self._remember(got)
            known.update(got)
        return known

    def encrypt(self, subject: str, field: str, plaintext: str) -> str:
        """Return ``plaintext`` encrypted under ``subject``'s key (made on first use).

        Raises:
            InvalidValueError: If the subject or field is empty, or the plaintext not text.
            StorageError: If the key store fails.
        """
        return self.encrypt_many([(subject, field, plaintext)])[0]

    def encrypt_many(self, items: Iterable[tuple[str, str, str]]) -> list[str]:
        """Return the ciphertexts of ``(subject, field, plaintext)`` items, in order.

        The keys of all the items' subjects are read (and the missing ones
        made) in one key-store call.

        Raises:
            InvalidValueError: If a subject or field is empty, or a plaintext not text.
            StorageError: If the key store fails.
        """
        batch = [
            (_check("subject", s), _check("field", f), _checked_plaintext(p)) for s, f, p in items
        ]
        if not batch:
            return []
        keys = self._keys_for((s for s, _, _ in batch), create=True)
        return [_seal(keys[s], s, f, p) for s, f, p in batch]

    def decrypt(self, subject: str, field: str, ciphertext: str) -> str:
        """Return the plaintext of ``ciphertext``.

        Raises:
            ErasedError: If the subject's key was deleted (crypto-shredded).
            DecryptionError: If the ciphertext was tampered with, is another
                subject's or field's, or is not a ciphertext of this encryptor.
            StorageError: If the key store fails.
        """
        plain = self.decrypt_many([(subject, field, ciphertext)])[0]
        if plain is None:
            raise ErasedError(subject, field)
        return plain

    def decrypt_many(self, items: Iterable[tuple[str, str, str]]) -> list[str | None]:
        """Return the plaintexts of ``(subject, field, ciphertext)`` items, in order.

        The keys of all the items' subjects are read in one key-store call;
        an item whose subject has no key (crypto-shredded) gives ``None``.

        Raises:
            InvalidValueError: If a subject or field is empty.
            DecryptionError: For the first item tampered with, another subject's
                or field's, or not a ciphertext of this encryptor.
            StorageError: If the key store fails.
        """
        batch = [(s, f, _unwrap(s, f, c)) for s, f, c in items]
        if not batch:
            return []
        keys = self._keys_for((s for s, _, _ in batch), create=False)
        return [None if s not in keys else _open(keys[s], s, f, raw) for s, f, raw in batch]

    def shred(self, subject: str) -> bool:
        """Delete ``subject``'s key; return whether there was one (idempotent).

        Every cached encryptor of this one's family forgets the key.

        Raises:
            StorageError: If the key store fails.
        """
        _check("subject", subject)
        self._family.evict(subject)
        try:
            return self.keys.delete(subject)
        finally:
            self._family.evict(subject)  # one that read the key meanwhile forgets it too
