"""Credential stuffing at full scale: a breach list run against 1,000 accounts from 200 addresses
behind a trusted proxy's ``X-Forwarded-For``, the real owners signing in among the attackers.

The bounded version runs in ``make test`` (tests/auth/test_credential_stuffing.py). This one runs
against a deployment started by ``mamori run`` on this machine, because the owners read their
mailed codes the way the embedded default delivers them: ``.eml`` files in ``<data dir>/mail``.
Its client address must be trusted for ``X-Forwarded-For`` (loopback is, by default).

    .venv/bin/mamori run --no-demo &                    # prints the URL; state in var/
    .venv/bin/locust -f tests/load/credential_stuffing.py --headless --users 60 --spawn-rate 20 \
        --run-time 120s --host http://127.0.0.1:8000 --csv var/load/stuffing

Setup (before the load) registers the accounts and signs each owner in once at home with its
device (the account's baseline). Then ``Stuffer`` users run the list: every tenth account with its
real password (reused elsewhere), the rest with breached ones, some without a device and some with
made-up ones, guessing codes when asked; ``Owner`` users sign in at home on their device or
travelling on a new phone, answering the step-up from their mailbox, unlocking by self-service
when locked. At the end it prints, and fails the run (exit code 1) unless they hold:
attacker successes (must be 0), owners who got in (at least 99%), owners kept out longer than the
maximum lock (must be 0), and the owners' sign-in p95 during the attack (Locust's "owner: ..." rows).

Environment: ``MAMORI_STUFFING_ACCOUNTS`` (1000), ``MAMORI_STUFFING_ADDRESSES`` (200),
``MAMORI_DATA_DIR`` (``var``, where the mail folder is), ``MAMORI_LOCK_MAX_SECONDS`` (3600).
"""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from locust import HttpUser, between, events, task
from locust.env import Environment

ACCOUNTS = int(os.environ.get("MAMORI_STUFFING_ACCOUNTS", "1000"))
ADDRESSES = int(os.environ.get("MAMORI_STUFFING_ADDRESSES", "200"))
MAIL_DIR = Path(os.environ.get("MAMORI_DATA_DIR", "var")) / "mail"
LOCK_MAX_SECONDS = float(os.environ.get("MAMORI_LOCK_MAX_SECONDS", "3600"))
REUSED_EVERY = 10
SIX_DIGITS = re.compile(r"\b(\d{6})\b")
RUN = f"{random.getrandbits(32):08x}"  # accounts of this run: stuff{RUN}-{n}@example.com

LOGIN = "/api/auth/login"
COMPLETE = "/api/auth/challenges/complete"
SEND_UNLOCK = "/api/auth/unlock/code"
UNLOCK = "/api/auth/unlock"


@dataclass
class Account:
    n: int
    email: str
    password: str
    lock: threading.Lock
    kept_out_since: float | None = None

    @property
    def home(self) -> str:
        return f"10.{100 + self.n // 250}.{self.n % 250}.1"  # the owner's usual address (no country)

    @property
    def travel(self) -> str:
        return f"10.{200 + self.n // 250}.{self.n % 250}.1"

    @property
    def device(self) -> str:
        return f"owner-device-{RUN}-{self.n:05d}"


ACCOUNT_LIST = [
    Account(n, f"stuff{RUN}-{n}@example.com", f"harbour-lantern-{RUN}-{n}", threading.Lock()) for n in range(ACCOUNTS)
]
ATTACKING = [f"172.16.{n // 250}.{n % 250 + 1}" for n in range(ADDRESSES)]
tally: Counter[str] = Counter()
tally_lock = threading.Lock()


def count(outcome: str) -> None:
    with tally_lock:
        tally[outcome] += 1


#: The device token auth last gave each owner device (auth recognises devices only by these; a
#: stuffer's made-up value is sent as it is, and names no device).
device_tokens: dict[str, str] = {}


def headers(ip: str, device: str | None) -> dict[str, str]:
    sent = {"x-forwarded-for": ip}
    if device:
        sent["x-device-token"] = device_tokens.get(device, device)
    return sent


def keep_device_token(device: str | None, answer: Any) -> None:
    """Keep the rotated device token a sign-in answered with, for the device's next sign-in."""
    if device and answer.status_code == 200 and answer.json().get("device_token"):
        device_tokens[device] = answer.json()["device_token"]


# -- the owners' mailbox ------------------------------------------------------------------------


def codes_to(address: str, subject: str) -> list[str]:
    """The codes of the mails to ``address`` whose subject contains ``subject``, oldest first."""
    found = []
    for path in sorted(MAIL_DIR.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if str(message["To"]) != address or subject not in str(message["Subject"]):
            continue
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        code = SIX_DIGITS.search(text)
        if code:
            found.append(code.group(1))
    return found


def next_code(address: str, subject: str, seen: int, timeout: float = 20.0) -> str | None:
    """The first code mailed after the ``seen`` ones (the mail sender works after the commit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = codes_to(address, subject)
        if len(codes) > seen:
            return codes[-1]
        time.sleep(0.2)
    return None


# -- setup --------------------------------------------------------------------------------------


@events.test_start.add_listener
def register_accounts(environment: Environment, **_: Any) -> None:
    """Every account registered and signed in once at home with its device (its baseline)."""
    host = environment.host or "http://127.0.0.1:8000"

    def prepare(account: Account) -> None:
        with requests.Session() as http:
            http.post(
                f"{host}/api/auth/accounts",
                headers=headers(account.home, None),
                timeout=60,
                json={
                    "email": account.email,
                    "password": account.password,
                    "name": "Stuffing Owner",
                    "language": "en",
                },
            ).raise_for_status()
            signed_in = http.post(
                f"{host}{LOGIN}",
                headers=headers(account.home, account.device),
                timeout=60,
                json={"email": account.email, "password": account.password},
            )
            signed_in.raise_for_status()
            keep_device_token(account.device, signed_in)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(prepare, ACCOUNT_LIST))
    print(f"setup: {ACCOUNTS} accounts registered with a baseline in {time.monotonic() - started:.0f} s")


def expected(answer: Any, *statuses: int) -> None:
    """Mark an answer the scenario expects as a success in Locust's table, anything else a failure."""
    if answer.status_code in statuses:
        answer.success()
    else:
        answer.failure(f"unexpected {answer.status_code}")


# -- the users ----------------------------------------------------------------------------------


class Stuffer(HttpUser):
    """One attacking address running the breach list, in its own order."""

    weight = 4
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.ip = random.choice(ATTACKING)
        self.lines = itertools.cycle(random.sample(ACCOUNT_LIST, len(ACCOUNT_LIST)))

    @task
    def try_one(self) -> None:
        account = next(self.lines)
        password = account.password if account.n % REUSED_EVERY == 0 else f"breached-{random.getrandbits(32)}"
        device = random.choice([None, f"stuffer-{random.getrandbits(40):010x}"])
        with self.client.post(
            LOGIN,
            headers=headers(self.ip, device),
            name="attacker: login",
            catch_response=True,
            json={"email": account.email, "password": password},
        ) as answer:
            expected(answer, 401, 429)
        body = answer.json() if answer.headers.get("content-type", "").endswith("json") else {}
        if answer.status_code == 200:
            count("attacker in")
            return
        if body.get("code") != "challenge_required":
            count(f"attacker {body.get('code', answer.status_code)}")
            return
        for guess in range(5):
            with self.client.post(
                COMPLETE,
                headers=headers(self.ip, device),
                name="attacker: guess code",
                catch_response=True,
                json={
                    "challenge_id": body["challenge_id"],
                    "method": "email_code",
                    "code": f"{random.randrange(10**6):06d}",
                },
            ) as reply:
                expected(reply, 401, 429)
            if reply.status_code == 200:
                count("attacker in")
                return
            if guess == 0 and reply.status_code != 401:
                break
        count("attacker challenged")


class Owner(HttpUser):
    """A real owner signing in now and then, at home or travelling, as a person would."""

    weight = 1
    wait_time = between(1, 3)

    @task
    def sign_in(self) -> None:
        account = random.choice(ACCOUNT_LIST)
        if not account.lock.acquire(blocking=False):
            return  # this owner is already signing in elsewhere
        try:
            travelling = random.random() < 0.3
            ip = account.travel if travelling else account.home
            device = f"owner-phone-{RUN}-{account.n:05d}" if travelling else account.device
            how = self._attempt(account, ip, device)
            if how is None:
                account.kept_out_since = account.kept_out_since or time.monotonic()
                count("owner kept out (for now)")
            else:
                if account.kept_out_since is not None:
                    out_for = time.monotonic() - account.kept_out_since
                    if out_for > LOCK_MAX_SECONDS:
                        count("owner kept out past the maximum lock")
                    account.kept_out_since = None
                count(f"owner in ({how})")
        finally:
            account.lock.release()

    def _attempt(self, account: Account, ip: str, device: str) -> str | None:
        """How the owner got in, or None."""
        seen = len(codes_to(account.email, "sign-in code"))
        with self.client.post(
            LOGIN,
            headers=headers(ip, device),
            name="owner: login",
            catch_response=True,
            json={"email": account.email, "password": account.password},
        ) as answer:
            expected(answer, 200, 401, 423)  # 401 challenge_required and 423 locked are answered next
        how = "password"
        if answer.status_code == 401 and answer.json().get("code") == "challenge_required":
            code = next_code(account.email, "sign-in code", seen)
            if code is None:
                return None
            answer = self.client.post(
                COMPLETE,
                headers=headers(ip, device),
                name="owner: step-up",
                json={
                    "challenge_id": answer.json()["challenge_id"],
                    "method": "email_code",
                    "code": code,
                },
            )
            how = "step-up"
        if answer.status_code == 423:
            seen = len(codes_to(account.email, "unlock code"))
            self.client.post(
                SEND_UNLOCK, headers=headers(ip, device), name="owner: unlock code", json={"email": account.email}
            )
            code = next_code(account.email, "unlock code", seen)
            if code is None:
                return None
            account.password = f"{account.password}-renewed"
            answer = self.client.post(
                UNLOCK,
                headers=headers(ip, device),
                name="owner: unlock",
                json={
                    "email": account.email,
                    "code": code,
                    "new_password": account.password,
                },
            )
            how = "unlock"
        keep_device_token(device, answer)
        return how if answer.status_code == 200 else None


# -- the verdict --------------------------------------------------------------------------------


@events.test_stop.add_listener
def verdict(environment: Environment, **_: Any) -> None:
    owners_in = sum(value for name, value in tally.items() if name.startswith("owner in"))
    owners_out = tally["owner kept out (for now)"]
    tried = owners_in + owners_out
    share = owners_in / tried if tried else 0.0
    login = environment.stats.get("owner: login", "POST")
    step_up = environment.stats.get("owner: step-up", "POST")
    print(f"\ncredential stuffing: {ACCOUNTS} accounts, {ADDRESSES} attacking addresses")
    print(f"  outcomes: {dict(sorted(tally.items()))}")
    print(f"  attacker successes: {tally['attacker in']} (must be 0)")
    print(f"  owners who got in: {owners_in}/{tried} = {share:.1%} (aim >= 99%)")
    print(f"  owners kept out past the maximum lock: {tally['owner kept out past the maximum lock']} (must be 0)")
    print(
        f"  owners' sign-in p95 during the attack: login {login.get_response_time_percentile(0.95):.0f} ms, "
        f"step-up {step_up.get_response_time_percentile(0.95):.0f} ms"
    )
    if tally["attacker in"] or share < 0.99 or tally["owner kept out past the maximum lock"]:
        environment.process_exit_code = 1
