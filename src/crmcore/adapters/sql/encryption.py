"""Sensitive customer fields encrypted at rest: ``SqlStore(engine, encryptor=...)``.

:class:`FieldEncryption` turns a customer's stored document (the JSON the
converter writes) into its *sealed* form and back. Sealing takes the
sensitive values that no lookup needs out of the document, replaces them by
their blank form (``None``, ``""``, no items) and stores them as one
ciphertext under the customer's own key (subject = the customer id, field
``"customer"``) in the document's ``sealed`` key. Opening puts them back
before the document is read into a :class:`~crmcore.domain.Customer`, so a
domain object never holds ciphertext and validated fields (a national id)
round-trip unchanged.

What is encrypted (:data:`ENCRYPTED_FIELDS`): ``person.gender``,
``person.birth_date``, ``person.national_id``, ``credit_rating``,
``points.addresses`` (postal addresses), every contact person's
``points`` (their emails, phones and addresses), and the custom fields the
host's schema classifies :attr:`~crmcore.domain.Classification.SENSITIVE`.
The customer's own emails and phones stay searchable: they are the keys of
``find_by_email`` / ``find_by_phone`` (the ``customer_emails`` and
``customer_phones`` index tables), of duplicate detection and of the match
index; names, owners and the other columns segment rules read stay too.

A subject whose key was deleted (crypto-shredding) still loads: the sealed
values are gone for good and the fields read as their blanks.

>>> from crmcore.adapters.crypto import AesGcmEncryptor
>>> from crmcore.adapters.memory import MemoryKeyStore
>>> sealing = FieldEncryption(AesGcmEncryptor(MemoryKeyStore()))
>>> stored = sealing.seal({"id": "c1", "person": {"national_id": "G12345678", "gender": None,
...     "birth_date": None}, "credit_rating": "AA", "points": {"addresses": []},
...     "contacts": [], "custom": {}})
>>> stored["person"]["national_id"], stored["credit_rating"], stored["sealed"][:3]
('', None, 'v1.')
>>> opened = sealing.open(stored)
>>> opened.document["person"]["national_id"], opened.document["credit_rating"], opened.erased
('G12345678', 'AA', False)

A batch is sealed and opened with one key-store call (a save, a page of
``iter_all``); a customer whose key was deleted opens with ``erased`` set:

>>> docs = sealing.seal_many([{"id": f"c{n}", "credit_rating": "B", "contacts": []}
...                           for n in (2, 3)])
>>> sealing.encryptor.shred("c3")
True
>>> [(o.document["credit_rating"], o.erased) for o in open_many(docs, sealing.encryptor)]
[('B', False), (None, True)]

May import: ``crmcore.ports``, ``crmcore.domain``, ``crmcore.errors``; attrs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from crmcore.domain import Classification, CustomFieldSchema
from crmcore.errors import ConfigurationError, DecryptionError, InvalidValueError
from crmcore.ports import Encryptor

__all__ = [
    "ENCRYPTED_FIELDS",
    "SEALED_FIELD",
    "SEALED_KEY",
    "FieldEncryption",
    "Opened",
    "open_many",
    "sensitive_custom_fields",
]

SEALED_KEY: Final = "sealed"
"""The document key holding the ciphertext of the sealed values."""

SEALED_FIELD: Final = "customer"
"""The field name the ciphertext is bound to (with the customer id as subject)."""

_PERSON_BLANKS: Final[Mapping[str, Any]] = {"gender": None, "birth_date": None, "national_id": ""}
_NO_POINTS: Final[Mapping[str, Any]] = {"emails": [], "phones": [], "addresses": []}

ENCRYPTED_FIELDS: Final = (
    "person.gender",
    "person.birth_date",
    "person.national_id",
    "credit_rating",
    "points.addresses",
    "contacts[].points",
    "custom.<sensitive custom fields>",
)
"""The customer fields stored encrypted when the store has an encryptor."""


def sensitive_custom_fields(schema: CustomFieldSchema | None) -> frozenset[str]:
    """Return the names of the custom fields ``schema`` classifies as sensitive.

    >>> from crmcore.domain import FieldDef
    >>> sorted(sensitive_custom_fields(CustomFieldSchema((
    ...     FieldDef(name="wechat_id", type="text", classification="sensitive"),
    ...     FieldDef(name="budget", type="decimal")))))
    ['wechat_id']
    """
    if schema is None:
        return frozenset()
    return frozenset(f.name for f in schema.fields if f.classification is Classification.SENSITIVE)


@attrs.frozen
class _Blanking:
    """How to blank a document's sealed values once their ciphertext is made."""

    changes: list[tuple[dict[str, Any], str, Any]]
    pops: list[tuple[dict[str, Any], str]]

    def apply(self) -> None:
        for where, name, value in self.changes:
            where[name] = value
        for where, name in self.pops:
            del where[name]


@runtime_checkable
class _KeyCaching(Protocol):
    """An encryptor that can hand out a key-caching copy of itself (``AesGcmEncryptor``)."""

    def cached(self) -> Encryptor: ...


@runtime_checkable
class _Forgetting(Protocol):
    def forget(self) -> None: ...


@attrs.frozen
class Opened:
    """A stored customer document opened for reading.

    Attributes:
        document: The document with its sealed values back in place (their
            blanks when the subject's key was deleted).
        erased: Whether the sealed values could not be read because the
            subject's key was deleted (crypto-shredded).
    """

    document: dict[str, Any]
    erased: bool


def _is_blank(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _points_blank(points: Any) -> bool:
    return not isinstance(points, dict) or all(not points.get(k) for k in _NO_POINTS)


def _names(value: Iterable[str]) -> frozenset[str]:
    names = frozenset(value)
    if not all(isinstance(n, str) and n for n in names):
        raise InvalidValueError("custom", sorted(map(str, names)), "custom field names")
    return names


@attrs.frozen
class FieldEncryption:
    """Seals and opens the sensitive fields of stored customer documents.

    Args:
        encryptor: The :class:`~crmcore.ports.Encryptor` (per-subject keys).
        custom: The names of the custom fields to encrypt too (see
            :func:`sensitive_custom_fields`).
    """

    encryptor: Encryptor
    custom: frozenset[str] = attrs.field(default=frozenset(), converter=_names)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.encryptor, Encryptor):
            raise ConfigurationError(
                f"encryptor must implement crmcore.ports.Encryptor, "
                f"got {type(self.encryptor).__name__}"
            )

    def scoped(self) -> FieldEncryption:
        """Return a copy for one unit of work, whose encryptor caches the keys it uses.

        With an encryptor that has a ``cached()`` form (as
        :class:`~crmcore.adapters.crypto.AesGcmEncryptor`), the unit of work
        asks the key store at most once per customer until :meth:`forget`;
        with another, the copy is this one.
        """
        if isinstance(self.encryptor, _KeyCaching):
            return attrs.evolve(self, encryptor=self.encryptor.cached())
        return self

    def forget(self) -> None:
        """Drop the keys the encryptor of a :meth:`scoped` copy remembers (at the unit's end)."""
        if isinstance(self.encryptor, _Forgetting):
            self.encryptor.forget()

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields stored encrypted: the built-in ones, then ``custom.<name>`` by name."""
        return (*ENCRYPTED_FIELDS[:-1], *(f"custom.{n}" for n in sorted(self.custom)))

    def seal(self, document: dict[str, Any]) -> dict[str, Any]:
        """Move the sensitive values of a customer document into its ``sealed`` ciphertext.

        The document is changed in place and returned. A customer with no
        sensitive value gets no ciphertext (and no key is made for it).

        Raises:
            InvalidValueError: If the document has no id, or already holds a ciphertext.
            StorageError: If the key store fails.
        """
        return self.seal_many([document])[0]

    def seal_many(self, documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Seal every document of ``documents`` (see :meth:`seal`) with one key-store call.

        The keys of all the customers are read, and the missing ones made, in
        one batch (:meth:`~crmcore.ports.Encryptor.encrypt_many`) before any
        document is changed: a key always exists before data sealed under it.

        Raises:
            InvalidValueError: If a document has no id, or already holds a
                ciphertext; no document is changed.
            StorageError: If the key store fails; no document is changed.
        """
        batch = list(documents)
        taken = [self._take(d) for d in batch]
        items = [(subject, SEALED_FIELD, plain) for subject, plain, _ in taken if plain is not None]
        tokens = iter(self.encryptor.encrypt_many(items))
        for document, (_, plain, blanking) in zip(batch, taken, strict=True):
            if plain is not None:
                blanking.apply()
                document[SEALED_KEY] = next(tokens)
        return batch

    def _take(self, document: dict[str, Any]) -> tuple[str, str | None, _Blanking]:
        """Return the subject, the plaintext to seal (``None``: none) and how to blank it."""
        subject = document.get("id")
        if not isinstance(subject, str) or not subject:
            raise InvalidValueError("customer.id", subject, "a stored customer has an id")
        if SEALED_KEY in document:
            raise InvalidValueError(
                f"customer {subject!r}", SEALED_KEY, "the document is sealed already"
            )
        taken: dict[str, Any] = {}
        changes: list[tuple[dict[str, Any], str, Any]] = []
        pops: list[tuple[dict[str, Any], str]] = []
        person = document.get("person")
        if isinstance(person, dict):
            for name, empty in _PERSON_BLANKS.items():
                value = person.get(name, empty)
                if not _is_blank(value):
                    taken[f"person.{name}"] = value
                    changes.append((person, name, empty))
        rating = document.get("credit_rating")
        if rating is not None:
            taken["credit_rating"] = rating
            changes.append((document, "credit_rating", None))
        points = document.get("points")
        if isinstance(points, dict) and points.get("addresses"):
            taken["points.addresses"] = points["addresses"]
            changes.append((points, "addresses", []))
        for contact in document.get("contacts") or ():
            if isinstance(contact, dict) and not _points_blank(contact.get("points")):
                taken[f"contacts.{contact['id']}.points"] = contact["points"]
                changes.append((contact, "points", {k: [] for k in _NO_POINTS}))
        custom = document.get("custom")
        if self.custom and isinstance(custom, dict):
            for name in sorted(self.custom & custom.keys()):
                taken[f"custom.{name}"] = custom[name]
                pops.append((custom, name))
        if not taken:
            return subject, None, _Blanking(changes, pops)
        plaintext = json.dumps(taken, ensure_ascii=False, sort_keys=True, allow_nan=False)
        return subject, plaintext, _Blanking(changes, pops)

    def seal_custom(self, custom: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``custom`` (the ``custom`` column's value) without the encrypted fields."""
        return {k: v for k, v in custom.items() if k not in self.custom}

    def open(self, document: dict[str, Any]) -> Opened:
        """Put the sealed values of a stored customer document back (in place).

        Raises:
            DecryptionError: If the ciphertext was tampered with or is another
                customer's; not for a deleted key (``erased`` is then set).
            StorageError: If the key store fails.
        """
        return open_document(document, self.encryptor)

    def open_many(self, documents: Iterable[dict[str, Any]]) -> list[Opened]:
        """Open every document of ``documents`` (see :meth:`open`) with one key-store call."""
        return open_many(documents, self.encryptor)


def _restore(document: dict[str, Any], taken: Mapping[str, Any]) -> None:
    contacts = {c.get("id"): c for c in document.get("contacts") or () if isinstance(c, dict)}
    for path, value in taken.items():
        head, _, rest = path.partition(".")
        if head == "person" and isinstance(document.get("person"), dict):
            document["person"][rest] = value
        elif head == "credit_rating":
            document["credit_rating"] = value
        elif head == "points" and isinstance(document.get("points"), dict):
            document["points"][rest] = value
        elif head == "contacts":
            contact_id = rest.rpartition(".")[0]
            if contact_id in contacts:
                contacts[contact_id]["points"] = value
        elif head == "custom" and isinstance(document.get("custom"), dict):
            document["custom"][rest] = value


def open_document(document: dict[str, Any], encryptor: Encryptor | None) -> Opened:
    """Return a stored customer document with its sealed values back in place.

    A document with no ``sealed`` key is returned as it is. ``encryptor``
    ``None`` opens only such documents.

    Raises:
        ConfigurationError: If the document is sealed and there is no encryptor.
        DecryptionError: If the ciphertext was tampered with or is another customer's.
        StorageError: If the key store fails.
    """
    return open_many([document], encryptor)[0]


def open_many(documents: Iterable[dict[str, Any]], encryptor: Encryptor | None) -> list[Opened]:
    """Open every document of ``documents`` in place (see :func:`open_document`), in order.

    The keys of all the sealed documents' customers are read in one batch
    (:meth:`~crmcore.ports.Encryptor.decrypt_many`), not one per document.

    Raises:
        ConfigurationError: If a document is sealed and there is no encryptor.
        DecryptionError: If a ciphertext was tampered with or is another customer's.
        StorageError: If the key store fails.
    """
    batch = list(documents)
    sealed = [(n, d) for n, d in enumerate(batch) if SEALED_KEY in d]
    if not sealed:
        return [Opened(d, erased=False) for d in batch]
    if encryptor is None:
        subject = str(sealed[0][1].get("id"))
        raise ConfigurationError(
            f"customer {subject!r} is stored with encrypted fields: "
            "open the store with its encryptor (SqlStore(engine, encryptor=...); "
            "on the command line, --key-db)"
        )
    plains = encryptor.decrypt_many(
        [(str(d.get("id")), SEALED_FIELD, d[SEALED_KEY]) for _, d in sealed]
    )
    erased: set[int] = set()
    for (n, document), plaintext in zip(sealed, plains, strict=True):
        del document[SEALED_KEY]
        if plaintext is None:
            erased.add(n)
            continue
        subject = str(document.get("id"))
        try:
            taken = json.loads(plaintext)
        except ValueError as exc:  # pragma: no cover - only JSON objects are ever sealed
            raise DecryptionError(subject, SEALED_FIELD, "the plaintext is not JSON") from exc
        if not isinstance(taken, dict):  # pragma: no cover - as above
            raise DecryptionError(subject, SEALED_FIELD, "the plaintext is not a JSON object")
        _restore(document, taken)
    return [Opened(d, erased=n in erased) for n, d in enumerate(batch)]


def open_documents(documents: Iterable[dict[str, Any]], encryptor: Encryptor | None) -> list[Any]:
    """Open every document of ``documents`` (see :func:`open_many`); return them."""
    return [opened.document for opened in open_many(documents, encryptor)]
