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

Needs the ``crypto`` extra (the ``cryptography`` package).

May import: ``crmcore.ports``, ``crmcore.errors``; cryptography.
"""

from __future__ import annotations

import base64
import binascii
import secrets
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


class AesGcmEncryptor:
    """An :class:`~crmcore.ports.Encryptor` with AES-256-GCM and one key per subject.

    Args:
        keys: Where the subjects' keys live (keep it apart from the data's backups).
    """

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def encrypt(self, subject: str, field: str, plaintext: str) -> str:
        """Return ``plaintext`` encrypted under ``subject``'s key (made on first use).

        Raises:
            InvalidValueError: If the subject or field is empty, or the plaintext not text.
            StorageError: If the key store fails.
        """
        _check("subject", subject)
        _check("field", field)
        if not isinstance(plaintext, str):
            raise InvalidValueError("plaintext", type(plaintext).__name__, "text to encrypt")
        key = self.keys.get_or_create(subject, secrets.token_bytes(_KEY))
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), _associated(subject, field))
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, subject: str, field: str, ciphertext: str) -> str:
        """Return the plaintext of ``ciphertext``.

        Raises:
            ErasedError: If the subject's key was deleted (crypto-shredded).
            DecryptionError: If the ciphertext was tampered with, is another
                subject's or field's, or is not a ciphertext of this encryptor.
            StorageError: If the key store fails.
        """
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
        key = self.keys.get(subject)
        if key is None:
            raise ErasedError(subject, field)
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

    def shred(self, subject: str) -> bool:
        """Delete ``subject``'s key; return whether there was one (idempotent).

        Raises:
            StorageError: If the key store fails.
        """
        return self.keys.delete(_check("subject", subject))
