"""The AES-GCM Encryptor: round trips, per-subject keys, tampering, crypto-shredding."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection

from crmcore.adapters.crypto import AesGcmEncryptor
from crmcore.adapters.memory import MemoryKeyStore
from crmcore.adapters.sql import SqlKeyStore, create_engine
from crmcore.adapters.sql.tables import subject_keys
from crmcore.errors import CrmError, DecryptionError, ErasedError, InvalidValueError
from crmcore.ports import Encryptor, KeyStore

subjects = st.text(min_size=1, max_size=20)
texts = st.text(max_size=200)


def test_the_adapter_implements_the_port() -> None:
    assert isinstance(AesGcmEncryptor(MemoryKeyStore()), Encryptor)


@given(subject=subjects, field=st.sampled_from(["national_id", "note"]), plain=texts)
def test_every_text_round_trips_and_the_ciphertext_hides_it(
    subject: str, field: str, plain: str
) -> None:
    encryptor = AesGcmEncryptor(MemoryKeyStore())
    token = encryptor.encrypt(subject, field, plain)
    assert encryptor.decrypt(subject, field, token) == plain
    assert token != encryptor.encrypt(subject, field, plain)  # a fresh nonce each time
    if len(plain) >= 4:
        assert plain not in token


@given(plain=texts, position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_detected(plain: str, position: int, bit: int) -> None:
    encryptor = AesGcmEncryptor(MemoryKeyStore())
    token = encryptor.encrypt("c-1", "note", plain)
    raw = bytearray(base64.urlsafe_b64decode(token[3:]))
    raw[position % len(raw)] ^= 1 << bit
    tampered = "v1." + base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(DecryptionError, match="authentication failed"):
        encryptor.decrypt("c-1", "note", tampered)


def test_another_subject_field_or_key_cannot_read_it() -> None:
    keys = MemoryKeyStore()
    encryptor = AesGcmEncryptor(keys)
    token = encryptor.encrypt("c-1", "national_id", "11010519491231002X")
    encryptor.encrypt("c-2", "national_id", "x")
    with pytest.raises(DecryptionError):
        encryptor.decrypt("c-2", "national_id", token)
    with pytest.raises(DecryptionError):
        encryptor.decrypt("c-1", "note", token)
    wrong = MemoryKeyStore()
    wrong.get_or_create("c-1", b"\x07" * 32)  # the wrong key for c-1
    with pytest.raises(DecryptionError, match="authentication failed"):
        AesGcmEncryptor(wrong).decrypt("c-1", "national_id", token)


@pytest.mark.parametrize("bad", ["11010519491231002X", "v1.***", "v1.AAAA", "", "v1."])
def test_what_is_not_a_ciphertext_is_a_decryption_error(bad: str) -> None:
    encryptor = AesGcmEncryptor(MemoryKeyStore())
    encryptor.encrypt("c-1", "note", "x")
    with pytest.raises(DecryptionError):
        encryptor.decrypt("c-1", "note", bad)


def test_shredding_the_key_erases_every_value_for_good() -> None:
    keys = MemoryKeyStore()
    encryptor = AesGcmEncryptor(keys)
    tokens = [encryptor.encrypt("c-1", "note", f"secret {n}") for n in range(3)]
    kept = encryptor.encrypt("c-2", "note", "kept")
    assert encryptor.shred("c-1") is True
    assert encryptor.shred("c-1") is False
    for token in tokens:
        with pytest.raises(ErasedError):
            encryptor.decrypt("c-1", "note", token)
    assert encryptor.decrypt("c-2", "note", kept) == "kept"
    # a new key for the subject does not bring the old values back
    encryptor.encrypt("c-1", "note", "new")
    with pytest.raises(DecryptionError, match="authentication failed"):
        encryptor.decrypt("c-1", "note", tokens[0])


def test_bad_arguments_are_crmcore_errors() -> None:
    encryptor = AesGcmEncryptor(MemoryKeyStore())
    with pytest.raises(InvalidValueError):
        encryptor.encrypt("", "note", "x")
    with pytest.raises(InvalidValueError):
        encryptor.encrypt("c-1", "note", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(CrmError):
        encryptor.decrypt("c-1", "", "v1.x")


def test_the_sql_key_store_backs_the_encryptor() -> None:
    engine = create_engine("sqlite://")
    try:
        keys = SqlKeyStore(engine, create=True)
        encryptor = AesGcmEncryptor(keys)
        token = encryptor.encrypt("c-1", "note", "李娜的备注")
        assert AesGcmEncryptor(SqlKeyStore(engine)).decrypt("c-1", "note", token) == "李娜的备注"
        encryptor.shred("c-1")
        with pytest.raises(ErasedError):
            encryptor.decrypt("c-1", "note", token)
        with pytest.raises(InvalidValueError):
            keys.get_or_create("c-2", b"\x00" * 65)
    finally:
        engine.dispose()


# -- batches: encrypt_many / decrypt_many, get_many / get_or_create_many, the key cache ------

items = st.lists(
    st.tuples(
        st.sampled_from(["c-1", "c-2", "c-3", "客户-4"]),
        st.sampled_from(["national_id", "note"]),
        texts,
    ),
    max_size=12,
)


class _CountingKeys(MemoryKeyStore):
    """A memory key store that counts the calls reaching it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get(self, subject: str) -> bytes | None:
        self.calls += 1
        return super().get(subject)

    def get_many(self, subjects: Iterable[str]) -> dict[str, bytes]:
        self.calls += 1
        return super().get_many(subjects)

    def get_or_create_many(self, new_keys: Mapping[str, bytes]) -> dict[str, bytes]:
        self.calls += 1
        return super().get_or_create_many(new_keys)


@given(batch=items, shredded=st.sets(st.sampled_from(["c-1", "c-2", "c-3", "客户-4"])))
def test_batched_and_one_by_one_encryption_read_alike(
    batch: list[tuple[str, str, str]], shredded: set[str]
) -> None:
    keys = _CountingKeys()
    encryptor = AesGcmEncryptor(keys)
    tokens = encryptor.encrypt_many(batch)
    assert keys.calls == (1 if batch else 0)  # one key-store call for the whole batch
    singles = [encryptor.encrypt(s, f, p) for s, f, p in batch]
    plains = [p for _, _, p in batch]
    for made in (tokens, singles):
        sealed = [(s, f, t) for (s, f, _), t in zip(batch, made, strict=True)]
        assert encryptor.decrypt_many(sealed) == plains
        assert [encryptor.decrypt(*item) for item in sealed] == plains
    for subject in shredded:
        encryptor.shred(subject)
    sealed = [(s, f, t) for (s, f, _), t in zip(batch, tokens, strict=True)]
    assert encryptor.decrypt_many(sealed) == [None if s in shredded else p for s, _, p in batch]


operations = st.lists(
    st.tuples(
        st.sampled_from(["create", "delete"]),
        st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4, unique=True),
        st.integers(min_value=1, max_value=250),
    ),
    max_size=8,
)


@pytest.fixture(scope="module")
def sqlite_key_stores() -> Iterator[tuple[SqlKeyStore, SqlKeyStore]]:
    """Two SQL key stores, each in a database of its own, emptied by each example."""
    stores = tuple(SqlKeyStore(create_engine("sqlite://"), create=True) for _ in range(2))
    yield stores[0], stores[1]
    for store in stores:
        store.engine.dispose()


def _empty(keys: KeyStore) -> KeyStore:
    if isinstance(keys, SqlKeyStore):
        with keys.engine.begin() as conn:
            conn.execute(subject_keys.delete())
    return keys


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
# Fewer examples: each SQLite one runs a few dozen statements; the contract covers SQL too.
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_batch_key_operations_agree_with_single_ones(
    backend: str,
    steps: list[tuple[str, list[str], int]],
    sqlite_key_stores: tuple[SqlKeyStore, SqlKeyStore],
) -> None:
    batched: KeyStore
    single: KeyStore
    if backend == "memory":
        batched, single = MemoryKeyStore(), MemoryKeyStore()
    else:
        batched, single = (_empty(k) for k in sqlite_key_stores)
    for action, subjects, seed in steps:
        new = dict.fromkeys(subjects, bytes([seed]) * 32)
        if action == "create":
            got = batched.get_or_create_many(new)
            assert got == {s: single.get_or_create(s, k) for s, k in new.items()}
        else:
            for s in subjects:
                assert batched.delete(s) == single.delete(s)
        everyone = ["a", "b", "c", "d"]
        expected = {s: k for s in everyone if (k := single.get(s)) is not None}
        assert batched.get_many(everyone) == expected


def test_a_cached_encryptor_asks_once_per_subject_and_a_shred_evicts() -> None:
    keys = _CountingKeys()
    root = AesGcmEncryptor(keys)
    scoped = root.cached()
    first = scoped.encrypt_many([("c-1", "note", "a"), ("c-2", "note", "b")])
    assert keys.calls == 1
    assert scoped.decrypt_many([("c-1", "note", first[0]), ("c-2", "note", first[1])]) == [
        "a",
        "b",
    ]
    assert scoped.encrypt("c-1", "note", "again").startswith("v1.")
    assert keys.calls == 1  # both keys remembered
    assert root.shred("c-1") is True  # through the root: every cached copy forgets it
    assert scoped.decrypt_many([("c-1", "note", first[0])]) == [None]
    assert scoped.shred("c-2") is True
    with pytest.raises(ErasedError):
        scoped.decrypt("c-2", "note", first[1])
    calls = keys.calls
    scoped.forget()
    assert scoped.decrypt_many([("c-1", "note", first[0])]) == [None]
    assert keys.calls == calls + 1  # forgotten: asked again


class _LateSqlKeys(SqlKeyStore):
    """Its first read misses every key: as if a concurrent caller stored them just after."""

    blind = True

    def _read(self, conn: Connection, wanted: Sequence[str]) -> dict[str, bytes]:
        if self.blind:
            self.blind = False
            return {}
        return super()._read(conn, wanted)


@pytest.mark.parametrize("subjects", [["c-1"], ["c-1", "c-2", "c-3"]])
def test_a_key_stored_by_a_concurrent_caller_wins(subjects: list[str]) -> None:
    engine = create_engine("sqlite://")
    try:
        stored = SqlKeyStore(engine, create=True)
        first = stored.get_or_create_many(dict.fromkeys(subjects[:-1] or subjects, b"\x01" * 32))
        late = _LateSqlKeys(engine)
        got = late.get_or_create_many(dict.fromkeys(subjects, b"\x02" * 32))
        assert got == {**dict.fromkeys(subjects, b"\x02" * 32), **first}
        assert stored.get_many(subjects) == got
    finally:
        engine.dispose()
