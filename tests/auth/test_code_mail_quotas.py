"""Step-up code mails are capped per client as well as per account, so someone who has the
password cannot drain them and starve the owner (services/auth/quotas.py: spend_code_mail)."""

from __future__ import annotations

from tests.auth.conftest import AuthHarness
from tests.support.auth_signin import (
    ATTACKER,
    HOME,
    LAPTOP,
    complete,
    login,
    mails_to,
    owner_signs_in_at_home,
    wait_for_code,
)

THIEF = "thief-phone-0001"


def drain_from(auth: AuthHarness, ip: str, challenges: list[str] | None = None) -> list[int]:
    """The thief, who has the password, asks sign-in codes from one client until refused."""
    statuses = []
    for _ in range(auth.settings.email_codes_per_client_per_hour + 1):
        answer = login(auth, ip=ip, device=THIEF)
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
        if challenges is not None:
            challenges.append(answer.json()["challenge_id"])
    return statuses


def test_one_client_draining_its_codes_leaves_the_owner_at_another_address_a_code(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    per_client = auth.settings.email_codes_per_client_per_hour

    statuses = drain_from(auth, ATTACKER)
    assert statuses == [401] * per_client + [429]
    wait_for_code(auth, "sign-in code", per_client)

    # The owner travels: a new phone at a hotel's address. A step-up, and the code arrives.
    answer = login(auth, ip="192.0.2.200", device="hana-new-phone-01")
    assert answer.status_code == 401 and answer.json()["code"] == "challenge_required", answer.text
    code = wait_for_code(auth, "sign-in code", per_client + 1)
    signed_in = complete(auth, answer.json()["challenge_id"], code, ip="192.0.2.200", device="hana-new-phone-01")
    assert signed_in.status_code == 200, signed_in.text


def test_clients_the_account_does_not_know_share_its_cap_and_its_known_device_is_never_held(
    auth: AuthHarness,
) -> None:
    owner_signs_in_at_home(auth)
    account_cap = auth.settings.email_codes_per_hour

    # The thief rotates addresses until the account's cap for unknown clients is spent ...
    asked = 0
    challenges: list[str] = []
    for n in range(account_cap):
        statuses = drain_from(auth, f"198.51.100.{n + 1}", challenges)
        asked += statuses.count(401)
        if asked >= account_cap:
            break
    assert asked == account_cap
    refused = login(auth, ip="198.51.100.250", device=THIEF)
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    # ... and answers one code wrong, so the owner's next sign-in needs a step-up even at home.
    wrong = complete(auth, challenges[0], "000000", ip="198.51.100.1", device=THIEF)
    assert wrong.json()["code"] == "invalid_code"
    wait_for_code(auth, "sign-in code", account_cap)

    answer = login(auth, ip=HOME, device=LAPTOP)
    assert answer.status_code == 401 and answer.json()["code"] == "challenge_required", answer.text
    code = wait_for_code(auth, "sign-in code", account_cap + 1)
    assert complete(auth, answer.json()["challenge_id"], code).status_code == 200
    assert len(mails_to(auth, "sign-in code")) == account_cap + 1
