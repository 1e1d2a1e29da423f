"""verifyMessage without a session (S5: the owner an intruder locked out checks a mail).

A visitor learns only whether Mamori issued the code: never to whom, the subject or when.
"""

from __future__ import annotations

import httpx

from services.auth.quotas import VISITOR_CHECKS_PER_ADDRESS
from tests.auth.conftest import AuthHarness
from tests.auth.messaging_support import file, make_customer


def check(auth: AuthHarness, ip: str = "203.0.113.50", **body: str) -> httpx.Response:
    return auth.call("POST", "/api/auth/messages/verify", ip=ip, json=body)


def test_a_visitor_learns_that_a_real_code_was_issued_and_nothing_else(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    reference = file(auth.app, hana, "login_code", {"code": "246810", "minutes": 10})

    answer = check(auth, reference_code=reference.lower())

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verdict"] == "issued" and body["genuine"] is False  # a code alone proves nothing
    assert "compare" in body["detail"]
    assert body["sent_to_this_account"] is False
    assert body["subject"] is None and body["sent_at"] is None
    assert "hana" not in answer.text.lower() and "sign-in code" not in answer.text.lower()


def test_a_visitor_is_told_a_forged_code_or_a_mail_without_one_is_not_ours(auth: AuthHarness) -> None:
    make_customer(auth.app, "hana@example.com")

    forged = check(auth, reference_code="MMR-ABCDE-FGHJK").json()
    no_code = check(auth, text="Your account is locked. Sign in at https://phish.example to unlock.").json()

    assert forged["verdict"] == "not_ours" and forged["genuine"] is False
    assert no_code["verdict"] == "not_ours" and no_code["reason"] == "no_reference_code"


def test_a_visitor_pasting_a_whole_mail_gets_the_same_bare_answer(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    reference = file(auth.app, hana, "account_locked", {"until": "12:00", "case_id": "c"})
    mail = auth.wait_for_mail("hana@example.com")

    body = check(auth, text=f"Subject: {mail.subject}\n\n{mail.body}").json()

    assert body["verdict"] == "issued" and body["reference_code"] == reference
    assert body["genuine"] is False, "signed out, not even the exact text is called genuine"
    assert body["subject"] is None


def test_visitors_checks_are_limited_per_address_and_signed_in_checks_are_not(auth: AuthHarness) -> None:
    for _ in range(VISITOR_CHECKS_PER_ADDRESS):
        assert check(auth, ip="198.51.100.7", reference_code="MMR-ABCDE-FGHJK").status_code == 200

    refused = check(auth, ip="198.51.100.7", reference_code="MMR-ABCDE-FGHJK")

    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) > 0
    assert check(auth, ip="198.51.100.8", reference_code="MMR-ABCDE-FGHJK").status_code == 200
