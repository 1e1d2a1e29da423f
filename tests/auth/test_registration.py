"""``register`` answers alike for a new and a taken address, mails the existing owner instead, and
has a per-client quota (issue 16, point 9: on main a taken address answered 409 ``email_taken``,
as often as anyone asked)."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from services.auth.accounts.models import Account
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness

REGISTER = "/api/auth/accounts"
PROBER = "198.51.100.77"


def register(auth: AuthHarness, email: str, *, ip: str = PROBER, password: str = STRONG_PASSWORD) -> httpx.Response:
    return auth.call(
        "POST", REGISTER, ip=ip, json={"email": email, "password": password, "name": "Ken Ito", "language": "en"}
    )


def test_a_taken_address_gets_the_same_answer_and_its_owner_a_mail(auth: AuthHarness) -> None:
    owner_id = auth.register("hana@example.com", name="Hana Sato")

    new = register(auth, "ken@example.com")
    taken = register(auth, "Hana@Example.com")

    assert (new.status_code, taken.status_code) == (201, 201), taken.text
    assert set(new.json()) == set(taken.json()) == {"account_id"}
    assert len(taken.json()["account_id"]) == len(new.json()["account_id"])
    assert taken.json()["account_id"] != owner_id, "the answer names no real account"
    with auth.app.state.db.session() as db:
        assert db.execute(select(func.count()).select_from(Account)).scalar_one() == 2  # hana and ken
        hana = db.get(Account, owner_id)
        assert hana is not None and hana.name == "Hana Sato"  # untouched
    mail = auth.wait_for_mail("hana@example.com")
    assert "tried to register" in mail.subject and mail.reference_code
    assert "Reset password" in mail.body
    # And the new address's owner can sign in with the password they chose.
    login = auth.call(
        "POST", "/api/auth/login", ip=PROBER, json={"email": "ken@example.com", "password": STRONG_PASSWORD}
    )
    assert login.status_code == 200, login.text


def test_the_owner_is_mailed_at_most_a_few_times_a_day(auth: AuthHarness) -> None:
    auth.register("hana@example.com")
    limit = auth.settings.registration_notices_per_account
    for n in range(limit + 3):
        assert register(auth, "hana@example.com", ip=f"198.51.100.{n + 1}").status_code == 201
    auth.wait_for_mail("hana@example.com", limit)
    assert len(auth.mails("hana@example.com")) == limit


def test_a_client_registering_past_its_quota_waits_whatever_the_address(auth: AuthHarness) -> None:
    auth.register("hana@example.com")
    for n in range(auth.settings.registrations_per_ip):
        assert register(auth, f"user{n}@example.com").status_code == 201

    for address in ("another@example.com", "hana@example.com"):
        refused = register(auth, address)
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) > 0
    with auth.app.state.db.session() as db:
        made = db.execute(select(func.count()).select_from(Account)).scalar_one()
    assert made == 1 + auth.settings.registrations_per_ip, "a refused registration makes nothing"
    assert register(auth, "elsewhere@example.com", ip="203.0.113.99").status_code == 201


def test_a_weak_password_is_refused_alike_for_a_new_and_a_taken_address(auth: AuthHarness) -> None:
    auth.register("hana@example.com")
    new = register(auth, "ken@example.com", password="password")
    taken = register(auth, "hana@example.com", password="password")
    assert new.status_code == taken.status_code == 422
    assert new.json()["code"] == taken.json()["code"] == "weak_password"
    assert not auth.mails("hana@example.com")
