"""The consent ledger: records, withdrawals and may_process under PIPL and GDPR."""

from __future__ import annotations

import pendulum
import pytest

from crmcore.domain import ConsentChannel, ConsentId, CustomerId, grant_consent
from crmcore.errors import InvalidValueError, NotFoundError
from crmcore.privacy.consent import (
    ConsentRecord,
    ConsentState,
    ConsentStatus,
    ConsentWithdrawal,
    DecisionReason,
    Jurisdiction,
    LedgerEntry,
    LegalBasis,
    ProcessingDecision,
    check_append,
    consent_states,
    may_process,
)

T0 = pendulum.datetime(2026, 3, 1)
LI = CustomerId("c-1")
EMAIL = ConsentChannel.EMAIL


def record(id: str = "k-1", **fields: object) -> ConsentRecord:
    values: dict[str, object] = {
        "subject": LI,
        "purpose": "Marketing",
        "channel": EMAIL,
        "jurisdiction": Jurisdiction.PIPL,
        "captured_at": T0,
        "captured_from": "signup form",
    }
    values.update(fields)
    return ConsentRecord(id=ConsentId(id), **values)  # type: ignore[arg-type]


def withdrawal(id: str = "k-1", days: int = 10) -> ConsentWithdrawal:
    return ConsentWithdrawal(record_id=ConsentId(id), subject=LI, withdrawn_at=T0.add(days=days))


def ask(entries: list[LedgerEntry], days: int = 1, **options: object) -> ProcessingDecision:
    channel = options.pop("channel", EMAIL)
    return may_process(entries, LI, "marketing", channel, T0.add(days=days), **options)  # type: ignore[arg-type]


def test_a_valid_consent_allows_and_names_itself() -> None:
    decision = ask([record()])
    assert (decision.allowed, decision.reason, decision.record) == (
        True,
        DecisionReason.CONSENTED,
        record(),
    )
    assert decision.relied_on == (record(),)
    assert str(decision) == "allowed (consented): marketing by email consented in k-1"


def test_without_any_record_the_answer_is_no_record() -> None:
    decision = ask([record(subject=CustomerId("c-2")), record("k-2", purpose="profiling")])
    assert (bool(decision), decision.reason, decision.record) == (
        False,
        DecisionReason.NO_RECORD,
        None,
    )


def test_a_withdrawn_consent_holds_until_the_withdrawal() -> None:
    entries: list[LedgerEntry] = [record(), withdrawal(days=10)]
    assert ask(entries, days=9).allowed
    decision = ask(entries, days=10)
    assert (decision.allowed, decision.reason) == (False, DecisionReason.WITHDRAWN)
    assert decision.detail == (
        "the latest record for marketing by email (k-1) was withdrawn at 2026-03-11T00:00:00+00:00"
    )


def test_validity_starts_at_valid_from_and_ends_before_valid_until() -> None:
    entries: list[LedgerEntry] = [
        record(valid_from=T0.add(days=5), valid_until=T0.add(days=20)),
    ]
    assert ask(entries, days=4).reason is DecisionReason.NOT_YET_VALID
    assert ask(entries, days=5).allowed
    assert ask(entries, days=19).allowed
    assert ask(entries, days=20).reason is DecisionReason.EXPIRED


def test_a_consent_for_any_channel_covers_each_channel_but_not_the_reverse() -> None:
    assert ask([record(channel=ConsentChannel.ANY)], channel=ConsentChannel.SMS).allowed
    assert ask([record()], channel=ConsentChannel.SMS).reason is DecisionReason.NO_RECORD


def test_pipl_sensitive_data_needs_a_separate_consent() -> None:
    decision = ask([record()], sensitive=True)
    assert (decision.reason, decision.missing) == (
        DecisionReason.SEPARATE_CONSENT_MISSING,
        ("sensitive personal information",),
    )
    separate = record("k-2", sensitive=True, captured_at=T0.add(hours=1))
    both = ask([record(), separate], sensitive=True)
    assert (both.allowed, both.record, both.relied_on) == (True, separate, (separate,))


def test_separate_consents_may_come_from_several_records() -> None:
    general = record("k-1", captured_at=T0.add(hours=2))
    abroad = record("k-2", cross_border_recipient="Acme GmbH")
    sensitive = record("k-3", sensitive=True)
    decision = ask([general, abroad, sensitive], sensitive=True, cross_border_recipient="Acme GmbH")
    assert (decision.allowed, decision.relied_on) == (True, (general, sensitive, abroad))


def test_provision_and_cross_border_need_the_recipient_named() -> None:
    entries: list[LedgerEntry] = [
        record(provision_recipient="Acme 物流", cross_border_recipient="Acme GmbH")
    ]
    assert ask(entries, provision_recipient="Acme 物流").allowed
    decision = ask(entries, provision_recipient="Other Co", cross_border_recipient="Other Inc")
    assert decision.missing == ("provision to Other Co", "cross-border transfer to Other Inc")
    assert ask(entries, publication=True).missing == ("publication",)


def test_a_pipl_child_under_14_needs_a_guardian_and_a_sensitive_consent() -> None:
    assert ask([record()], subject_age=13).reason is DecisionReason.GUARDIAN_CONSENT_MISSING
    by_guardian = ask([record(guardian="王芳")], subject_age=13)
    assert (by_guardian.reason, by_guardian.missing) == (
        DecisionReason.SEPARATE_CONSENT_MISSING,
        ("sensitive personal information",),
    )
    assert ask([record(guardian="王芳", sensitive=True)], subject_age=13).allowed
    assert ask([record()], subject_age=14).allowed


def test_a_gdpr_child_under_16_needs_a_holder_of_parental_responsibility() -> None:
    gdpr = record(jurisdiction=Jurisdiction.GDPR)
    assert ask([gdpr], subject_age=15).reason is DecisionReason.GUARDIAN_CONSENT_MISSING
    assert ask([gdpr], subject_age=16).allowed


def test_gdpr_asks_no_separate_consent_for_recipients_but_explicit_consent_for_special_data() -> (
    None
):
    gdpr = record(jurisdiction=Jurisdiction.GDPR)
    assert ask([gdpr], cross_border_recipient="Acme Inc", publication=True).allowed
    assert ask([gdpr], sensitive=True).missing == ("sensitive personal information",)


def test_another_legal_basis_allows_without_separate_consent() -> None:
    contract = record(legal_basis=LegalBasis.CONTRACT, captured_from="contract 2026-17")
    decision = ask([contract], sensitive=True, cross_border_recipient="Acme GmbH")
    assert (decision.allowed, decision.reason) == (True, DecisionReason.OTHER_LEGAL_BASIS)
    assert decision.detail == "marketing by email rests on contract (k-1)"


def test_legitimate_interests_exist_under_gdpr_only() -> None:
    gdpr = record(jurisdiction=Jurisdiction.GDPR, legal_basis=LegalBasis.LEGITIMATE_INTERESTS)
    assert ask([gdpr]).reason is DecisionReason.OTHER_LEGAL_BASIS
    with pytest.raises(InvalidValueError, match="PIPL has no legitimate interests basis"):
        record(legal_basis=LegalBasis.LEGITIMATE_INTERESTS)
    with pytest.raises(InvalidValueError, match="PIPL basis"):
        record(jurisdiction=Jurisdiction.GDPR, legal_basis=LegalBasis.HUMAN_RESOURCES)


def test_the_jurisdiction_filter_considers_only_that_laws_records() -> None:
    entries: list[LedgerEntry] = [record(jurisdiction=Jurisdiction.GDPR)]
    assert ask(entries, jurisdiction=Jurisdiction.PIPL).reason is DecisionReason.NO_RECORD


def test_a_refusal_names_the_latest_record() -> None:
    old = record("k-1", valid_until=T0.add(days=2))
    newer = record("k-2", captured_at=T0.add(days=1))
    decision = ask([old, newer, withdrawal("k-2", days=3)], days=4)
    assert (decision.reason, decision.record) == (DecisionReason.WITHDRAWN, newer)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"valid_until": T0}, "valid_until"),
        ({"legal_basis": LegalBasis.CONTRACT, "sensitive": True}, "legal_basis"),
        ({"legal_basis": LegalBasis.CONTRACT, "guardian": "王芳"}, "legal_basis"),
        ({"purpose": "  "}, "purpose"),
        ({"guardian": ""}, "guardian"),
        ({"provision_recipient": "x" * 201}, "provision_recipient"),
    ],
)
def test_an_inconsistent_record_is_refused(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        record("k-1", **fields)
    assert caught.value.field == field


def test_states_fold_withdrawals_into_their_records() -> None:
    states = consent_states([record("k-2", captured_at=T0.add(days=1)), record(), withdrawal()])
    assert [(s.record.id, s.withdrawn_at) for s in states] == [
        ("k-1", T0.add(days=10)),
        ("k-2", None),
    ]
    assert states[0].status(T0.add(days=10)) is ConsentStatus.WITHDRAWN


def test_check_append_refuses_what_a_ledger_must_not_hold() -> None:
    states = [
        ConsentState(record=record()),
        ConsentState(record=record("k-2"), withdrawal=withdrawal("k-2")),
    ]
    with pytest.raises(InvalidValueError, match="already in the ledger"):
        check_append(states, record())
    with pytest.raises(NotFoundError):
        check_append(states, withdrawal("k-9"))
    with pytest.raises(InvalidValueError, match="already withdrawn"):
        check_append(states, withdrawal("k-2"))
    with pytest.raises(InvalidValueError, match="before the record was captured"):
        check_append(states, withdrawal("k-1", days=-1))
    other = ConsentWithdrawal(
        record_id=ConsentId("k-1"), subject=CustomerId("c-2"), withdrawn_at=T0
    )
    with pytest.raises(InvalidValueError, match="another subject"):
        check_append(states, other)
    check_append(states, withdrawal("k-1"))


def test_a_consent_aggregate_moves_into_the_ledger() -> None:
    consent, _ = grant_consent(
        id=ConsentId("k-1"),
        customer_id=LI,
        purpose="marketing",
        channel=EMAIL,
        source="signup form",
        at=T0,
    )
    assert ConsentRecord.from_consent(consent, jurisdiction=Jurisdiction.PIPL) == (record(),)
