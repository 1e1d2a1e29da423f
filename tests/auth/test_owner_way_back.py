"""The owner always has a way back in (issue: the owner's dead end), and every wait is said in
minutes: a reset lifts the delay its client earned and proves the mailbox to that client's next
sign-in; sendUnlockCode says when no code will be mailed, for every address alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.auth.conftest import AuthHarness
from tests.support.auth_changes import mail_body, reset_token_in
from tests.support.auth_sessions import set_account
from tests.support.auth_signin import EMAIL, HOME, SEND_UNLOCK, login, mails_to, owner_signs_in_at_home, wait_for_code

NEW_PASSWORD = "a-lantern-by-the-river-8"


def reset_from(auth: AuthHarness, *, ip: str, device: str | None) -> None:
    assert auth.call("POST", "/api/auth/password/reset", ip=ip, json={"email": EMAIL}).status_code == 202
    token = reset_token_in(mail_body(auth, EMAIL, "password_reset"))
    done = auth.call(
        "POST",
        "/api/auth/password/reset/confirm",
        ip=ip,
        device=device,
        json={"token": token, "new_password": NEW_PASSWORD},
    )
    assert done.status_code == 200, done.text


def assert_wait_in_minutes(response: Any) -> None:
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0, response.text
    detail = response.json()["detail"]
    assert "minute" in detail and "second" not in detail, detail


def test_a_successful_reset_lifts_the_delay_its_client_earned(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    answer = None
    for n in range(12):  # the owner forgot the password and kept trying from home
        answer = login(auth, f"was-it-this-one-{n}", device=None)
        if answer.status_code == 429:
            break
    assert answer is not None
    assert_wait_in_minutes(answer)

    reset_from(auth, ip=HOME, device=None)
    signed_in = login(auth, NEW_PASSWORD, device=None)

    assert signed_in.status_code == 200 and signed_in.json()["access_token"], signed_in.text


def test_right_after_a_reset_the_owner_gets_in_from_a_new_device_whose_code_mails_ran_out(
    auth: AuthHarness,
) -> None:
    owner_signs_in_at_home(auth)
    new_ip, new_phone = "192.0.2.60", "hana-new-phone-01"
    for _ in range(auth.settings.email_codes_per_client_per_hour):
        assert login(auth, ip=new_ip, device=new_phone).json()["code"] == "challenge_required"
    spent = login(auth, ip=new_ip, device=new_phone)
    assert_wait_in_minutes(spent)
    assert "password reset" in spent.json()["detail"]  # what to do now, not only how long to wait

    reset_from(auth, ip=new_ip, device=new_phone)
    signed_in = login(auth, NEW_PASSWORD, ip=new_ip, device=new_phone)

    assert signed_in.status_code == 200 and signed_in.json()["access_token"], signed_in.text
    again = login(auth, NEW_PASSWORD, ip="192.0.2.61", device="someone-elses-phone")
    assert again.json()["code"] == "challenge_required"  # the reset proved the mailbox to that client only


def test_send_unlock_code_says_when_no_code_will_be_mailed_for_any_address_alike(auth: AuthHarness) -> None:
    account_id = auth.register(EMAIL)
    set_account(auth, account_id, locked_until=auth.clock.now() + timedelta(minutes=15))
    answers: dict[str, list[Any]] = {EMAIL: [], "nobody@example.com": []}
    for address, seen in answers.items():
        for _ in range(auth.settings.email_codes_per_client_per_hour + 1):
            seen.append(auth.call("POST", SEND_UNLOCK, json={"email": address}))

    for seen in answers.values():
        assert [answer.status_code for answer in seen] == [202, 202, 202, 429]
        assert_wait_in_minutes(seen[-1])
        assert "No new code will be mailed" in seen[-1].json()["detail"]
        # Told apart from a throttle of this client, with how long a mailed code still works.
        assert seen[-1].json()["reason"] == "no_new_code"
        assert seen[-1].json()["code_minutes"] == auth.settings.email_code_seconds // 60
    owner, nobody = (seen[-1].json() for seen in answers.values())
    assert {k: v for k, v in owner.items() if k != "instance"} == {k: v for k, v in nobody.items() if k != "instance"}
    wait_for_code(auth, "unlock", auth.settings.email_codes_per_client_per_hour)  # the mailer runs after commit
    assert len(mails_to(auth, "unlock")) == auth.settings.email_codes_per_client_per_hour


def test_send_unlock_code_throttling_the_client_is_a_plain_rate_limit_without_the_no_new_code_reason(
    auth: AuthHarness,
) -> None:
    ip = "192.0.2.77"
    answers = [
        auth.call("POST", SEND_UNLOCK, ip=ip, json={"email": f"someone-{n}@example.com"})
        for n in range(auth.settings.unlock_requests_per_ip_per_hour + 1)
    ]

    assert [answer.status_code for answer in answers[:-1]] == [202] * auth.settings.unlock_requests_per_ip_per_hour
    assert_wait_in_minutes(answers[-1])
    assert answers[-1].json()["code"] == "rate_limited" and "reason" not in answers[-1].json()
