"""Story S2, "Someone else was in the account", detected by Mamori itself, over HTTP with the real
processes (``mamori run``), driven through the gateway.

The intruder has the password and the mailbox. They sign in from a new phone abroad (the step-up
code is in the mailbox they hold), move the account's e-mail to their own address and buy a gift
card with a card the account never used. Nobody reports anything: auth sees the pattern (its own
changes, and orders' ``order.risk_signals``), freezes the account, ends every session, orders
cancels the gift card, verification opens the intrusion case, and the owner's OLD address hears
within a minute. The owner then uses the "this was not me" code of the new-sign-in notice, without
signing in: the address comes back and the clean-up covers that session.
"""

from __future__ import annotations

import email
import email.policy
import re
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from mamori_common.contract import case_number
from tests.support.processes import MamoriRun
from tests.support.servers import wait_until
from tests.test_system import deployment, operations  # noqa: F401  (deployment: a fixture)

pytestmark = pytest.mark.system

PASSWORD = "quiet-harbour-lantern-58"
NAME = "Sora Aoki"
JAPAN, ABROAD = "133.242.0.1", "8.8.8.8"
OWNER_LAPTOP, THIEF_PHONE = "sora-laptop-0001", "thief-phone-0001"
REVERT_CODE = re.compile(r"\b[A-Z2-9]{4}(?:-[A-Z2-9]{4}){3}\b")
CODE = re.compile(r"\b(\d{6})\b")


def mails_to(data_dir: Path, address: str, subject_part: str) -> list[str]:
    """Bodies of the mails to ``address`` whose subject has ``subject_part``, oldest first."""
    folder = data_dir / "mail"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in str(message["To"]) and subject_part in str(message["Subject"]):
            part = message.get_body(preferencelist=("plain",))
            found.append(str(part.get_content()) if part is not None else "")
    return found


def row(database: Path, query: str, *args: Any) -> tuple[Any, ...] | None:
    """One row of a service's SQLite file, read as an operator would (no service exposes it)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return connection.execute(query, args).fetchone()


def test_s2_mamori_notices_the_intruder_and_the_owner_hears_at_the_old_address(deployment: MamoriRun) -> None:
    data = deployment.data_dir
    with httpx.Client(base_url=deployment.gateway_url, timeout=30) as gateway:
        paths = operations(gateway.get("/openapi.json").json())

        def call(
            operation: str, token: str | None = None, *, ip: str = JAPAN, device: str = OWNER_LAPTOP, **kwargs: Any
        ) -> httpx.Response:
            method, path = paths[operation]
            headers = {"x-forwarded-for": ip, "x-device-id": device}
            if token:
                headers["authorization"] = f"Bearer {token}"
            return gateway.request(method, path, headers=headers, **kwargs)

        owner = f"s2d-{uuid.uuid4().hex[:10]}@example.com"
        thief_mail = f"thief-{uuid.uuid4().hex[:8]}@intruder.example"
        registered = call("register", json={"email": owner, "password": PASSWORD, "name": NAME, "language": "en"})
        assert registered.status_code in (200, 201), registered.text
        home = call("login", json={"email": owner, "password": PASSWORD})
        assert home.status_code == 200, home.text
        card = {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": NAME}
        usual = call(
            "placeOrder",
            home.json()["access_token"],
            json={
                "lines": [{"kind": "physical", "description": "Kitchen sponges", "unit_amount": 500}],
                "tenders": [{"kind": "card", "amount": 500, "card": card}],
            },
        )
        assert usual.status_code == 201, usual.text

        # The intruder: the password, a new phone, abroad; the step-up code from the mailbox.
        challenged = call("login", ip=ABROAD, device=THIEF_PHONE, json={"email": owner, "password": PASSWORD})
        assert challenged.json()["code"] == "challenge_required", challenged.text
        code_mail = wait_until(lambda: mails_to(data, owner, "sign-in code"), timeout=30, what="the sign-in code")
        code = CODE.search(code_mail[0])
        assert code is not None
        passed = call(
            "completeChallenge",
            ip=ABROAD,
            device=THIEF_PHONE,
            json={"challenge_id": challenged.json()["challenge_id"], "method": "email_code", "code": code.group(1)},
        )
        assert passed.status_code == 200, passed.text
        intruder = passed.json()["access_token"]
        notice = wait_until(lambda: mails_to(data, owner, "somewhere new"), timeout=30, what="the sign-in notice")[0]
        not_me = REVERT_CODE.search(notice)
        assert not_me is not None and "This was not me" in notice

        # The intruder moves the address to their own ...
        started = call("changeEmail", intruder, ip=ABROAD, device=THIEF_PHONE, json={"new_email": thief_mail})
        assert started.status_code == 202, started.text
        confirm_mail = wait_until(lambda: mails_to(data, thief_mail, "new e-mail"), timeout=30, what="the code")[0]
        confirm_code = CODE.search(confirm_mail)
        assert confirm_code is not None
        confirmed = call(
            "confirmEmailChange",
            intruder,
            ip=ABROAD,
            device=THIEF_PHONE,
            json={"challenge_id": started.json()["challenge_id"], "code": confirm_code.group(1)},
        )
        assert confirmed.status_code == 200, confirmed.text

        # ... and buys a gift card with a card the account never used.
        stolen = {"token": "tok_mastercard_5555", "last4": "5555", "expiry": "08/30", "holder_name": NAME}
        gift = call(
            "placeOrder",
            intruder,
            ip=ABROAD,
            device=THIEF_PHONE,
            json={
                "lines": [{"kind": "gift_card", "description": "Gift card", "unit_amount": 3000}],
                "tenders": [{"kind": "card", "amount": 3000, "card": stolen}],
            },
        )
        assert gift.status_code == 201, gift.text
        ordered_at = time.monotonic()

        # Nobody reported anything. The owner's OLD address hears within a minute, with the case.
        frozen_mail = wait_until(
            lambda: mails_to(data, owner, "froze your account"), timeout=60, interval=0.2, what="the freeze notice"
        )[0]
        told_after = time.monotonic() - ordered_at
        assert told_after < 60, told_after
        assert "a new device" in frozen_mail and "a gift card order" in frozen_mail, frozen_mail
        assert mails_to(data, thief_mail, "froze your account") == [], "never to the intruder's address"
        number = re.search(r"C-[0-9A-Z]{4}-[0-9A-Z]{4}", frozen_mail)
        assert number is not None

        account = row(data / "auth.db", "SELECT id, state, state_case_id FROM accounts WHERE email = ?", thief_mail)
        assert account is not None and account[1] == "frozen", account
        case_id = account[2]
        assert case_number(case_id) == number.group(0)
        assert call("getMe", intruder, ip=ABROAD, device=THIEF_PHONE).status_code == 401

        # Verification opened the intrusion case; orders cancelled the gift card on its own.
        case = wait_until(
            lambda: row(data / "verification.db", "SELECT kind FROM cases WHERE id = ?", case_id),
            timeout=30,
            interval=0.2,
            what="the intrusion case",
        )
        assert case == ("intrusion",)
        wait_until(
            lambda: (
                row(data / "orders.db", "SELECT state FROM orders WHERE id = ?", gift.json()["id"]) == ("cancelled",)
            ),
            timeout=30,
            interval=0.2,
            what="the gift card cancelled",
        )
        assert row(data / "orders.db", "SELECT state FROM orders WHERE id = ?", usual.json()["id"]) == ("placed",)

        # The owner, signed out, says "this was not me" with the sign-in notice's code.
        reverted = call("revertChange", json={"code": not_me.group(0)})
        assert reverted.status_code == 200, reverted.text
        assert set(reverted.json()["reverted"]) == {"sign_in", "email"}
        assert reverted.json()["email_restored"] is True
        assert row(data / "auth.db", "SELECT state, email FROM accounts WHERE id = ?", account[0]) == (
            "frozen",
            owner,
        )
