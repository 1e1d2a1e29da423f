"""The message centre through the HTTP API: listMessages, verifyMessage and ``notify`` events (S2, S3)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import select

from services.auth.messages.models import Message
from services.auth.messages.service import reference_codes_in
from tests.auth.conftest import AuthHarness
from tests.auth.messaging_support import (
    deliver_event,
    file,
    make_customer,
    message,
    notice,
    notify_envelope,
    sign_in,
)
from tests.support.paging import assert_bad_cursor_refused, follow


def centre(auth: AuthHarness, token: str, **params: int | str) -> dict[str, Any]:
    response = auth.call("GET", "/api/auth/messages", token=token, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def verify(auth: AuthHarness, token: str, **body: str) -> dict[str, Any]:
    response = auth.call("POST", "/api/auth/messages/verify", token=token, json=body)
    assert response.status_code == 200, response.text
    return response.json()


# --- listMessages -----------------------------------------------------------------------------


def test_the_centre_lists_the_callers_messages_newest_first_with_codes_masked(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    token = sign_in(auth.app, hana)  # before the test clock moves: tokens are checked on real time
    first = file(auth.app, hana, "login_code", {"code": "246810", "minutes": 10})
    auth.clock.advance(minutes=1)
    second = file(auth.app, hana, "account_locked", {"until": "12:00 UTC", "case_id": "case-1"})

    page = centre(auth, token)

    assert [item["reference_code"] for item in page["items"]] == [second, first]
    assert page["total"] == 2
    code_message = page["items"][1]
    assert code_message["subject"] == "Your sign-in code"
    assert "246810" not in code_message["body"] and "••••••" in code_message["body"]
    assert first in code_message["body"]  # the reference code stands in the text, as in the mail
    assert code_message["source_service"] == "auth" and code_message["language"] == "en"
    auth.wait_for_mail("hana@example.com", count=2)
    assert all(item["mailed_at"] for item in centre(auth, token)["items"])


def test_another_customer_sees_none_of_them(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    file(auth.app, hana, "login_code", {"code": "246810", "minutes": 10})
    ken = make_customer(auth.app, "ken@example.com")
    mine = file(auth.app, ken, "account_locked", {"until": "12:00", "case_id": "c"})

    page = centre(auth, sign_in(auth.app, ken))

    assert [item["reference_code"] for item in page["items"]] == [mine]
    assert page["total"] == 1


def test_the_centre_pages_by_cursor_each_message_once_while_new_ones_arrive(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    token = sign_in(auth.app, hana)
    references = []
    for number in range(5):
        references.append(file(auth.app, hana, "account_locked", {"until": "12:00", "case_id": f"c{number}"}))
        auth.clock.advance(seconds=1)
    arrived: list[str] = []

    def fetch(cursor: str | None) -> httpx.Response:
        params: dict[str, int | str] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        return auth.call("GET", "/api/auth/messages", token=token, params=params)

    def new_mail(_page: int) -> None:
        auth.clock.advance(seconds=1)
        arrived.append(file(auth.app, hana, "account_locked", {"until": "13:00", "case_id": "new"}))

    seen = follow(fetch, between=new_mail)

    assert [item["reference_code"] for item in seen] == references[::-1]
    assert [item["reference_code"] for item in centre(auth, token, limit=2)["items"]] == arrived[::-1][:2]
    assert centre(auth, token)["total"] == 5 + len(arrived)
    for limit in (0, 101):
        refused = auth.call("GET", "/api/auth/messages", token=token, params={"limit": limit})
        assert refused.status_code == 422 and refused.json()["code"] == "validation_error"


def test_a_cursor_that_is_not_the_centres_own_is_refused(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    ken = make_customer(auth.app, "ken@example.com")
    hana_token, ken_token = sign_in(auth.app, hana), sign_in(auth.app, ken)
    for number in range(3):
        file(auth.app, hana, "account_locked", {"until": "12:00", "case_id": f"h{number}"})
        file(auth.app, ken, "account_locked", {"until": "12:00", "case_id": f"k{number}"})
        auth.clock.advance(seconds=1)
    hanas_next = str(centre(auth, hana_token, limit=1)["next"])
    body, _, mac = hanas_next.partition(".")

    for cursor in (hanas_next, f"{body}.{mac[::-1]}", f"{body[:-2]}AA.{mac}", "not-a-cursor.x"):
        assert_bad_cursor_refused(
            auth.call("GET", "/api/auth/messages", token=ken_token, params={"limit": 1, "cursor": cursor})
        )
    own = centre(auth, hana_token, limit=1, cursor=hanas_next)
    assert len(own["items"]) == 1 and own["items"][0]["reference_code"]


def test_the_centre_needs_a_signed_in_customer_and_the_check_a_valid_token_if_any(auth: AuthHarness) -> None:
    response = auth.call("GET", "/api/auth/messages")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"]
    for method, path, body in (
        ("GET", "/api/auth/messages", None),
        ("POST", "/api/auth/messages/verify", {"reference_code": "MMR-ABCDE-FGHJK"}),
    ):
        forged = auth.call(method, path, json=body, token="not-a-token")
        assert forged.status_code == 401


# --- verifyMessage ----------------------------------------------------------------------------


def test_a_reference_code_alone_is_never_called_genuine_but_shows_what_to_compare(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    reference = file(auth.app, hana, "account_locked", {"until": "12:00", "case_id": "c"})
    token = sign_in(auth.app, hana)

    answer = verify(auth, token, reference_code=f"  {reference.lower().replace('-', ' ')} ")

    assert answer["genuine"] is False and answer["sent_to_this_account"] is True
    assert answer["verdict"] == "sent_compare" and answer["reason"] == "code_sent_to_you"
    assert "compare" in answer["detail"]
    assert answer["reference_code"] == reference
    assert answer["subject"] == "Your account is temporarily locked"
    assert answer["sent_at"]


def test_a_phishing_mail_with_a_real_code_is_flagged_signed_in_and_signed_out(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    reference = file(auth.app, hana, "account_locked", {"until": "12:00", "case_id": "c"})
    phishing = (
        "From: Mamori Security <security@mamori-support.example>\nSubject: Your account is temporarily locked\n\n"
        "Dear Hana Sato,\nYour account is locked. Sign in at https://mamori-secure.example/login to unlock it.\n"
        f"--\nReference code: {reference}\n"
    )
    token = sign_in(auth.app, hana)

    signed_in = verify(auth, token, text=phishing)
    signed_out = auth.call("POST", "/api/auth/messages/verify", ip="198.51.100.9", json={"text": phishing}).json()

    for answer in (signed_in, signed_out):
        assert answer["genuine"] is False and answer["verdict"] == "suspicious", answer
        assert answer["flags"] == ["foreign_sender", "foreign_link"]
        assert answer["foreign_hosts"] == ["mamori-secure.example"]
    assert signed_out["subject"] is None and signed_out["sent_to_this_account"] is False


def test_our_text_changed_by_one_line_is_suspicious(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    file(auth.app, hana, "account_locked", {"until": "12:00", "case_id": "c"})
    mail = auth.wait_for_mail("hana@example.com")
    forged = mail.body.replace("Dear Hana Sato,", "Dear Hana Sato,\nReply with your card number to unlock.")

    answer = verify(auth, sign_in(auth.app, hana), text=f"Subject: {mail.subject}\n\n{forged}")

    assert answer["verdict"] == "suspicious" and answer["reason"] == "text_differs"
    assert answer["genuine"] is False


def test_a_forged_reference_code_is_not_ours(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    file(auth.app, hana, "account_locked", {"until": "12:00", "case_id": "c"})
    token = sign_in(auth.app, hana)

    answer = verify(auth, token, reference_code="MMR-ABCDE-FGHJK")

    assert answer["genuine"] is False and answer["verdict"] == "not_ours"
    assert answer["subject"] is None and answer["sent_at"] is None
    nonsense = verify(auth, token, reference_code="hello")
    assert nonsense["genuine"] is False and nonsense["verdict"] == "not_ours"


def test_someone_elses_reference_code_reveals_nothing_about_their_message(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    theirs = file(auth.app, hana, "login_code", {"code": "246810", "minutes": 10})
    ken = make_customer(auth.app, "ken@example.com")

    answer = verify(auth, sign_in(auth.app, ken), reference_code=theirs)

    assert answer["genuine"] is False and answer["sent_to_this_account"] is False
    assert answer["verdict"] == "not_for_you"
    assert answer["subject"] is None and answer["sent_at"] is None
    assert "hana" not in str(answer).lower() and "sign-in" not in str(answer).lower()


def test_a_whole_pasted_mail_that_is_what_we_sent_is_genuine(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com", language="ja", name="佐藤花")
    reference = file(auth.app, hana, "login_code", {"code": "246810", "minutes": 10})
    mail = auth.wait_for_mail("hana@example.com")
    pasted = f"From: Mamori <no-reply@mamori.example>\nSubject: {mail.subject}\n\n{mail.body}"
    token = sign_in(auth.app, hana)

    answer = verify(auth, token, text=pasted)

    assert "246810" in mail.body  # the mail holds the code the centre masks, and still matches
    assert answer["verdict"] == "genuine" and answer["genuine"] is True
    assert answer["reason"] == "text_matches" and answer["reference_code"] == reference
    assert answer["subject"] == "サインイン確認コード"


def test_a_pasted_mail_without_a_reference_code_is_not_ours(auth: AuthHarness) -> None:
    token = sign_in(auth.app, make_customer(auth.app, "hana@example.com"))
    phishing = "Your account is locked. Sign in at https://mamori-secure.example/login to unlock it."

    answer = verify(auth, token, text=phishing)

    assert answer["genuine"] is False and answer["verdict"] == "not_ours"
    assert answer["reason"] == "no_reference_code"
    assert answer["detail"]


def test_a_pasted_mail_too_long_or_an_unclear_request_is_refused(auth: AuthHarness) -> None:
    token = sign_in(auth.app, make_customer(auth.app, "hana@example.com"))
    limit = auth.settings.verify_message_max_text_bytes

    too_long = auth.call("POST", "/api/auth/messages/verify", token=token, json={"text": "あ" * (limit // 3 + 1)})
    assert too_long.status_code == 413 and too_long.json()["code"] == "text_too_long"
    both = auth.call(
        "POST", "/api/auth/messages/verify", token=token, json={"text": "x", "reference_code": "MMR-ABCDE-FGHJK"}
    )
    assert both.status_code == 422
    assert auth.call("POST", "/api/auth/messages/verify", token=token, json={}).status_code == 422
    extra = auth.call("POST", "/api/auth/messages/verify", token=token, json={"text": "x", "account_id": "a"})
    assert extra.status_code == 422


# --- notify events from other services ----------------------------------------------------------


def test_a_notify_event_is_filed_and_mailed_once_even_when_replayed(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com", language="ja")
    envelope = notify_envelope(hana, data=notice("ご注文をキャンセルしました", "注文 1234 をキャンセルしました。"))

    first = deliver_event(auth.client, auth.app, envelope)
    replay = deliver_event(auth.client, auth.app, envelope)

    assert first.status_code == 200 and first.json()["status"] == "applied"
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    items = centre(auth, sign_in(auth.app, hana))["items"]
    assert len(items) == 1
    assert items[0]["source_service"] == "orders"
    assert items[0]["subject"] == "【注意】ご注文をキャンセルしました"
    mail = auth.wait_for_mail("hana@example.com")
    assert mail.reference_code == items[0]["reference_code"]
    assert "注文 1234 をキャンセルしました。（日本語）" in mail.body
    assert len(auth.mails("hana@example.com")) == 1


def test_a_notify_event_is_in_the_accounts_language(auth: AuthHarness) -> None:
    ken = make_customer(auth.app, "ken@example.com", language="en", name="Ken Ito")
    assert (
        deliver_event(
            auth.client, auth.app, notify_envelope(ken, source="verification", data=notice("Documents received"))
        ).status_code
        == 200
    )

    mail = auth.wait_for_mail("ken@example.com")

    assert mail.subject == "Documents received"
    assert mail.body.startswith("Dear Ken Ito,")


def test_a_notify_event_for_an_unknown_account_is_recorded_and_files_nothing(auth: AuthHarness) -> None:
    response = deliver_event(auth.client, auth.app, notify_envelope("0" * 32))

    assert response.status_code == 200
    with auth.app.state.db.session() as db:
        assert db.execute(select(Message)).first() is None


def test_a_malformed_notify_event_is_refused_and_changes_nothing(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    bad_payloads: list[dict[str, Any]] = [
        {"account_id": hana, "data": {"subject_en": "only English"}},
        {"account_id": hana, "template": "no_such_template", "data": notice()},
        {"account_id": hana, "template": "login_code", "data": {"code": "123456", "minutes": 10}},
        {"account_id": hana, "data": notice(body="Sign in at https://evil.example to confirm.")},
        {"account_id": hana, "data": {**notice(), "name": "Someone Else"}},
        {"data": notice()},
    ]
    for payload in bad_payloads:
        envelope = notify_envelope(hana, payload=payload)
        response = deliver_event(auth.client, auth.app, envelope)
        assert response.status_code == 422, payload
        assert response.json()["code"] in ("invalid_notify_payload", "links_not_allowed")

    with auth.app.state.db.session() as db:
        assert db.execute(select(Message)).first() is None
    fixed = notify_envelope(hana, event_id=envelope["id"])  # the producer retries the same id, corrected
    assert deliver_event(auth.client, auth.app, fixed).json()["status"] == "applied"


def test_a_notify_event_needs_the_senders_own_service_token(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    envelope = notify_envelope(hana, source="orders")

    unsigned = auth.client.post("/internal/events", json=envelope)
    impostor = deliver_event(auth.client, auth.app, envelope, caller="verification")

    assert unsigned.status_code == 401 and impostor.status_code == 403
    with auth.app.state.db.session() as db:
        assert db.execute(select(Message)).first() is None


def test_a_notify_message_keeps_the_event_id(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    envelope = notify_envelope(hana)
    deliver_event(auth.client, auth.app, envelope)
    reference = centre(auth, sign_in(auth.app, hana))["items"][0]["reference_code"]

    stored = message(auth.app, reference)

    assert (stored.source_service, stored.source_event_id) == ("orders", envelope["id"])


# --- reading codes out of pasted text -----------------------------------------------------------


def test_reference_codes_are_found_however_they_were_pasted() -> None:
    pasted = "Ref: mmr-abcde-fghjk / MMR - 23456 - 789AB / ＭＭＲ－ＣＤＥＦＧ－ＨＪＫＭＮ / MMR-ABCDE-FGHJK"

    assert reference_codes_in(pasted) == ["MMR-ABCDE-FGHJK", "MMR-23456-789AB", "MMR-CDEFG-HJKMN"]
    assert reference_codes_in("order MMR-ABCDE-FGHJKX, MMR-ABCD-FGHJK") == []


def test_a_hostile_paste_cannot_stall_the_search() -> None:
    hostile = ["MMRAAAAA" + " " * 99_000, "MMR" + " -" * 49_000, "MMR A" * 20_000, "M M " * 25_000]
    started = time.monotonic()
    for text in hostile:
        assert reference_codes_in(text) == []
    assert time.monotonic() - started < 2  # a backtracking pattern took minutes on the first of these


def test_notice_times_read_in_the_customers_zone_and_language_never_as_utc(auth: AuthHarness) -> None:
    ken = make_customer(auth.app, "ken@example.com", language="ja", name="Ken Sato")
    hana = make_customer(auth.app, "hana@example.com", language="en")
    data = {
        "subject_ja": "返金のお知らせ",
        "subject_en": "Your refund",
        "body_ja": "{refunded_at} に返金しました。{name} {0} {refunded_at!r}",
        "body_en": "We refunded you at {refunded_at}. {name} {0}",
        "refunded_at": "2026-11-23T15:30:00Z",
    }
    for account_id in (ken, hana):
        assert (
            deliver_event(auth.client, auth.app, notify_envelope(account_id, data=data)).json()["status"] == "applied"
        )

    ken_body = centre(auth, sign_in(auth.app, ken))["items"][0]["body"]
    hana_body = centre(auth, sign_in(auth.app, hana))["items"][0]["body"]
    assert "2026年11月24日 00:30（日本時間） に返金しました。" in ken_body  # 15:30 UTC is 00:30 next day in Tokyo
    assert "We refunded you at 24 Nov 2026, 00:30 (Japan time)." in hana_body
    # Only {something_at} is replaced: other braces in producer text stay as written, never formatted.
    assert "{name} {0} {refunded_at!r}" in ken_body and "{name} {0}" in hana_body
    assert "UTC" not in ken_body + hana_body and "15:30" not in ken_body + hana_body


def test_a_notice_naming_a_time_it_does_not_give_is_refused(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    for extra in ({}, {"shipped_at": "yesterday"}, {"shipped_at": "2026-11-23T15:30:00"}):
        data = {**notice(body="Shipped at {shipped_at}."), **extra}
        response = deliver_event(auth.client, auth.app, notify_envelope(hana, data=data))
        assert response.status_code == 422 and response.json()["code"] == "invalid_notify_payload", extra
