"""Issues 16 and 20: the fast ways keys are built equal the reference ways, on arbitrary input.

The backfill reads stored documents straight into a record's fields and
builds its index rows inline; key building keys Chinese full names from
cached pinyin parts, folds ASCII text without Unicode tables and computes the
place columns without a loop. Each is checked here against the reference it
replaces (the record, ``feature_row``, ``rule_keys``, ``_PLACES``), to the bit.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.adapters.sql import match_index
from crmcore.adapters.sql.match_index import (
    _FIELDS,
    _RAW_FIELDS,
    MatchIndexSettings,
    _document_fields,
    _Entry,
    _entry,
    _KeyPlan,
    _prepare,
    _read_document,
    _shard,
    _tf_name,
)
from crmcore.domain import Customer
from crmcore.errors import StorageError
from crmcore.matching import MatchRecord, block_on, feature_row
from crmcore.matching.blocking import rule_keys
from crmcore.matching.feature import (
    FieldView,
    RawFields,
    _distinct,
    _place_keys,
    _place_keys_reference,
)
from crmcore.matching.key import (
    _cjk_tokens,
    _name_from_parts,
    _name_key_general,
    fold_text,
    name_key,
)
from crmcore.matching.nickname import NICKNAMES
from crmcore.serialization import make_converter
from crmcore.testing.strategies import customers

CONVERTER = make_converter()
PLANS = (
    _KeyPlan.of(MatchIndexSettings()),
    _KeyPlan.of(
        MatchIndexSettings(
            blocking_rules=(
                *MatchIndexSettings().blocking_rules,
                block_on("email", "name_sig", max_block_size=9),
                block_on("email_typo"),
            )
        )
    ),
)

# -------------------------------------------------------------------- the backfill's entries


def _reference_entry(plan: _KeyPlan, record: MatchRecord) -> _Entry:
    """A record's index rows as the index built them before (feature_row, rule_keys, _FIELDS)."""
    features = feature_row(record, plan.keys)
    blocks = tuple(
        tuple(
            hashlib.blake2b((prefix + key).encode(), digest_size=16).hexdigest()
            for key in rule_keys(rule, features)
        )
        for rule, prefix in plan.rules
    )
    values = features[0]
    tf = tuple(_tf_name(column, values[place]) for column, place in plan.tf if values[place])
    digest = match_index._hash(plan.fingerprint, *(str(f) for f in _FIELDS(record)))
    counters = sorted([f"b{h}" for hashes in blocks for h in hashes] + list(tf))
    row = (
        record.id,
        json.dumps(features, ensure_ascii=False, separators=(",", ":")),
        digest,
        json.dumps(counters, separators=(",", ":")),
    )
    keys = tuple(dict.fromkeys(h for hashes in blocks for h in hashes))
    return _Entry(
        record.id, features, digest, blocks, tf, row, (*counters, _shard(record.id)), keys
    )


def _reference_prepare(
    page: list[tuple[str, int, Any]], plan: _KeyPlan
) -> list[tuple[str, _Entry | None]]:
    out: list[tuple[str, _Entry | None]] = []
    for customer_id, _, text in page:
        record, indexed = _read_document(customer_id, text)
        out.append((customer_id, _reference_entry(plan, record) if indexed else None))
    return out


def _outcome(run: Any, page: list[tuple[str, int, Any]], plan: _KeyPlan) -> Any:
    try:
        return run(page, plan)
    except StorageError as exc:
        return ("error", str(exc))


# Hostile edits of a stored document: values padded, missing, of the wrong type.
_EDITS = st.sampled_from(
    [
        lambda d: d,
        lambda d: {**d, "id": f"  {d['id']} "},
        lambda d: {**d, "id": 12},
        lambda d: {**d, "id": "   "},
        lambda d: {**d, "country": " cn "},
        lambda d: {**d, "country": None},
        lambda d: {**d, "merged_into": "c-other"},
        lambda d: {k: v for k, v in d.items() if k != "merged_into"},
        lambda d: {k: v for k, v in d.items() if k != "points"},
        lambda d: _edit_points(d, "emails", {"address": "  A@b.cn ", "primary": False}),
        lambda d: _edit_points(d, "emails", {"address": 7, "primary": True}),
        lambda d: _edit_points(d, "emails", {"address": "   ", "primary": True}),
        lambda d: _edit_points(d, "emails", {"address": "x@y.cn"}),
        lambda d: _edit_points(d, "phones", {"number": "+8613800138000;ext=12", "primary": True}),
        lambda d: _edit_points(d, "phones", {"number": None, "primary": False}),
        lambda d: _edit_points(d, "phones", {"number": " 138 0013 8000 ", "primary": False}),
        lambda d: _edit_person(d, "national_id", None),
        lambda d: _edit_person(d, "national_id", "  110105199001011234 "),
        lambda d: _edit_person(d, "birth_date", 19900101),
        lambda d: {**d, "organization": {"legal_name": " 腾达科技有限公司 "}},
        lambda d: {**d, "organization": {"legal_name": None}},
        lambda d: {**d, "person": {"name": {"given": " Wei ", "family": 3}}},
    ]
)


def _edit_points(document: dict[str, Any], kind: str, point: dict[str, Any]) -> dict[str, Any]:
    points = dict(document["points"])
    points[kind] = [*points[kind], point]
    return {**document, "points": points}


def _edit_person(document: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    if not document["person"]:
        return document
    return {**document, "person": {**document["person"], field: value}}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(customers(), _EDITS, st.booleans()), max_size=4), st.sampled_from(PLANS))
def test_the_backfill_builds_the_entries_the_record_and_feature_row_give(
    drawn: list[tuple[Customer, Any, bool]], plan: _KeyPlan
) -> None:
    page: list[tuple[str, int, Any]] = []
    for customer, edit, as_text in drawn:
        document = edit(CONVERTER.unstructure(customer, unstructure_as=Customer))
        page.append((str(customer.id), 1, json.dumps(document) if as_text else document))
    for start in range(len(page)):  # each document alone (an error stops a page), then all
        one = page[start : start + 1]
        assert _outcome(_prepare, one, plan) == _outcome(_reference_prepare, one, plan)
    assert _outcome(_prepare, page, plan) == _outcome(_reference_prepare, page, plan)


@given(customers(), _EDITS)
def test_a_documents_fields_are_its_records_fields(customer: Customer, edit: Any) -> None:
    document = edit(CONVERTER.unstructure(customer, unstructure_as=Customer))
    fields: tuple[str, Any] | None
    try:
        fields = _document_fields(document)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError):
        fields = None  # the backfill then reads it through the record, which says what is wrong
    if fields is not None:
        try:
            record, _ = _read_document(str(customer.id), document)
        except StorageError:  # not a customer's (no merged_into): _prepare reads it so, and says so
            return
        assert fields == (record.id, RawFields(*_RAW_FIELDS(record)))


def test_a_records_fields_after_its_id_are_the_raw_fields_in_order() -> None:
    record = MatchRecord(id="r1", full_name="张伟", emails=["a@b.cn"], country="cn", source="s")
    assert _FIELDS(record) == (record.id, *_RAW_FIELDS(record))


_CJK = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=5)
_COMPOUND = st.builds(
    lambda family, given: family + given,
    st.sampled_from(["欧阳", "司马", "诸葛", "曾", "单", "张"]),
    st.text(st.sampled_from("伟娜晓明曾乐长"), max_size=3),
)
_NAMES = st.one_of(
    _CJK,
    _COMPOUND,
    st.sampled_from(["Zhang Wei", "Bill Gates", "O'Brien, Mary", "欧阳 娜", "Zoë  Ångström", ""]),
    st.text(max_size=12),
    st.text(st.characters(max_codepoint=127), max_size=16),
)
_EMAILS = st.one_of(
    st.sampled_from(
        [
            "zhang.wei@example.com",
            "Zhang.Wei+crm@GoogleMail.com",
            "z.h.a.n.g@gmail.com",
            "INFO@Acme.COM",
            "用户@例子.广告",
            "josé@exämple.com",
            "not an email",
            "",
        ]
    ),
    st.emails().map(str),
    st.text(max_size=20),
)
_PHONES = st.one_of(
    st.sampled_from(
        [
            "138 0013 8000",
            "+86 138-0013-8000",
            "0086 13800138000",
            "(415) 555-2671",
            "1-415-555-2671",
            "+44 20 7946 0958",
            "+44 (0)20 7946 0958",
            "020 7946 0958 ext. 12",
            "０１３８００１３８０００",
            "12",
            "",
        ]
    ),
    st.text(st.sampled_from("0123456789 +-().x"), max_size=20),
)
_PLACE = st.one_of(
    st.sampled_from(
        ["", " 北京市 ", "New York City", "深圳市腾达科技有限公司", "Acme, Inc.", "1988年2月9日"]
    ),
    st.sampled_from(["1988-02-29", "19880229", "29/02/1988", "1799-01-01", " sw1a 1aa "]),
    st.text(max_size=12),
)

records = st.builds(
    MatchRecord,
    id=st.just("r1"),
    full_name=_NAMES,
    given_name=st.one_of(st.sampled_from(["", "Wei", "Bill", "晓明", "Ana-María"]), _NAMES),
    family_name=st.one_of(st.sampled_from(["", "Zhang", "GATES", "欧阳"]), _NAMES),
    emails=st.lists(_EMAILS, max_size=3),
    phones=st.lists(_PHONES, max_size=3),
    company=_PLACE,
    city=_PLACE,
    postcode=_PLACE,
    country=st.sampled_from(["", "CN", "us", "GB", "中国", "Atlantis"]),
    birth_date=_PLACE,
    address=_PLACE,
    national_id=_PLACE,
    source=st.sampled_from(["", "crm", "web"]),
)


@settings(max_examples=300, deadline=None)
@given(records, st.sampled_from(PLANS), st.booleans())
def test_an_entry_is_the_one_feature_row_and_rule_keys_give(
    record: MatchRecord, plan: _KeyPlan, stored: bool
) -> None:
    expected = _reference_entry(plan, record)
    if not stored:
        expected = _Entry(
            expected.customer_id, expected.features, expected.digest, expected.blocks, expected.tf
        )
    assert _entry(plan, record, stored=stored) == expected


# -------------------------------------------------------------------- names and places


def _reference_cjk_name(full: str) -> tuple[str, ...]:
    """The Chinese full-name path as it read before: tokens, then the two name orders."""
    tokens = _cjk_tokens(full, family_first=True)
    if len(tokens) == 2:
        return _name_from_parts(tokens[:1], tokens[1:])
    return _name_from_parts([], tokens)


@given(st.one_of(_CJK, _COMPOUND))
def test_chinese_full_names_keyed_from_cached_parts_equal_their_tokens(name: str) -> None:
    key = name_key(full=name)
    assert (key.family_first, key.given_first, key.signature, key.initials) == (
        _reference_cjk_name(name)
    )
    assert key == _name_key_general(full=name, given="", family="", nicknames=NICKNAMES)


@given(_NAMES, _NAMES, _NAMES)
def test_name_keys_equal_the_name_key_of_every_name(full: str, given: str, family: str) -> None:
    key = name_key(full=full, given=given, family=family)
    if not key.signature and full and (given or family):
        key = name_key(full=full)
    row = feature_row(MatchRecord(id="r", full_name=full, given_name=given, family_name=family))
    assert row[0][:4] == (key.family_first, key.given_first, key.signature, key.initials)


@given(st.text(st.characters(max_codepoint=127), max_size=30))
def test_ascii_text_folds_as_the_unicode_path_folds_it(text: str) -> None:
    slow = unicodedata.normalize("NFKC", text).casefold()
    assert fold_text(text) == " ".join(slow.split())


@given(records)
def test_place_keys_equal_the_place_columns_keyed_one_by_one(record: MatchRecord) -> None:
    fields: FieldView = RawFields(*_RAW_FIELDS(record))
    assert _place_keys(fields) == _place_keys_reference(fields)


@given(st.lists(st.sampled_from(["", "a", "b", "张"]), max_size=30) | st.lists(st.just("x")))
def test_distinct_values_are_numbered_in_order_of_first_sight(values: list[str]) -> None:
    position: dict[str, int] = {}
    rows = [position.setdefault(v, len(position)) for v in values]
    distinct, codes = _distinct(values)
    assert distinct == list(position)
    assert codes.tolist() == rows


@pytest.mark.parametrize("plan", PLANS)
def test_a_page_of_stored_documents_with_an_unreadable_one_names_it(plan: _KeyPlan) -> None:
    page = [("c-1", 1, "{not json")]
    with pytest.raises(StorageError, match="customer c-1"):
        _prepare(page, plan)
