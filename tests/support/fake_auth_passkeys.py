"""A stand-in for auth's passkey operations, as the contract between auth and the portal fixes them.

The portal's passkey pages are tested against this: it answers each operation the way auth does
(the same paths, bodies and problem codes) and records what the portal sent, so a test sees what
crossed to auth and what did not (a CSRF refusal reaches nobody). It checks no signature: the
WebAuthn checks are auth's and are tested there and, end to end, in headless Chromium
(``tests/portal/test_browser_passkeys.py``). A credential is "valid" when its id is a passkey of
the account the ceremony was begun for.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

PASSWORD = "maple-lantern-harbour-58"


def problem(status: int, code: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": code, "status": status, "code": code, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@dataclass
class FakeAccount:
    account_id: str
    email: str
    passkeys: list[dict[str, Any]] = field(default_factory=list)
    passkey_required: bool = False
    recent_sign_in: bool = True
    #: A password sign-in from a device auth does not know answers with a step-up.
    step_up: bool = False


@dataclass
class FakeAuth:
    accounts: dict[str, FakeAccount] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # access and refresh tokens -> account id
    ceremonies: dict[str, str] = field(default_factory=dict)  # ceremony or challenge id -> account id ("" signed out)
    received: list[tuple[str, str, Any]] = field(default_factory=list)
    #: A step-up offers the passkey alone (as when auth's code mails for the hour are spent).
    passkey_only: bool = False

    def add(self, email: str, **options: Any) -> FakeAccount:
        account = FakeAccount(f"acc-{len(self.accounts) + 1}", email, **options)
        self.accounts[account.account_id] = account
        return account

    def passkey(self, account: FakeAccount, credential_id: str, name: str = "Passkey 1") -> dict[str, Any]:
        item = {
            "id": f"pk-{credential_id}",
            "name": name,
            "created_at": "2026-11-23T15:30:00Z",
            "last_used_at": None,
            "backed_up": False,
            "transports": ["internal"],
            "credential_id": credential_id,
        }
        account.passkeys.insert(0, item)
        return item

    def calls(self, path_part: str) -> list[tuple[str, str, Any]]:
        return [call for call in self.received if path_part in call[1]]

    def _issue(self, account: FakeAccount) -> JSONResponse:
        access, refresh = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}"
        self.tokens[access] = self.tokens[refresh] = account.account_id
        return JSONResponse({"access_token": access, "refresh_token": refresh, "expires_in": 600})

    def _bearer(self, request: Request) -> FakeAccount | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        account_id = self.tokens.get(token)
        return self.accounts.get(account_id) if account_id else None

    def _options(self, account: FakeAccount | None, creation: bool = False) -> dict[str, Any]:
        """Options shaped as ``webauthn.options_to_json`` writes them (a browser takes them)."""
        ceremony = f"cer-{secrets.token_hex(6)}"
        self.ceremonies[ceremony] = account.account_id if account else ""
        known = [{"type": "public-key", "id": p["credential_id"]} for p in account.passkeys] if account else []
        options: dict[str, Any] = {
            "challenge": secrets.token_urlsafe(32),
            "timeout": 300000,
            "userVerification": "required",
        }
        if creation and account is not None:
            options = {
                "rp": {"id": "localhost", "name": "Mamori"},
                "user": {"id": secrets.token_urlsafe(16), "name": account.email, "displayName": account.email},
                "challenge": options["challenge"],
                "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}],
                "timeout": 300000,
                "excludeCredentials": known,
                "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
                "attestation": "none",
            }
        else:
            options.update(rpId="localhost", allowCredentials=known)
        return {"ceremony_id": ceremony, "expires_at": "2026-11-23T15:35:00Z", "options": options}

    def app(self) -> FastAPI:
        app = FastAPI()
        fake = self

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            body = await request.body()
            fake.received.append((request.method, request.url.path, body.decode() if body else None))
            response: Response = await call_next(request)
            return response

        @app.post("/api/auth/login")
        async def login(body: dict[str, Any]) -> Response:
            account = next((a for a in fake.accounts.values() if a.email == body.get("email")), None)
            if account is None or body.get("password") != PASSWORD:
                return problem(401, "invalid_credentials")
            if account.passkey_required or account.step_up:
                challenge = fake._options(account)
                methods = ["passkey", "recovery_code"] if account.passkey_required else ["email_code", "passkey"]
                if fake.passkey_only:
                    methods = ["passkey"]
                fake.ceremonies[challenge["ceremony_id"]] = account.account_id
                return problem(
                    401,
                    "challenge_required",
                    challenge_id=challenge["ceremony_id"],
                    methods=methods if account.passkeys else ["email_code"],
                    passkey_options=challenge["options"] if account.passkeys else None,
                )
            return fake._issue(account)

        @app.post("/api/auth/unlock")
        async def unlock(body: dict[str, Any]) -> Response:
            account = next((a for a in fake.accounts.values() if a.email == body.get("email")), None)
            if account is None or body.get("code") != "123456":
                return problem(422, "invalid_code")
            return await login({"email": account.email, "password": PASSWORD})

        @app.post("/api/auth/tokens/refresh")
        async def refresh(body: dict[str, Any]) -> Response:
            account_id = fake.tokens.get(str(body.get("refresh_token")))
            return fake._issue(fake.accounts[account_id]) if account_id else problem(401, "invalid_token")

        @app.post("/api/auth/logout")
        async def logout() -> Response:
            return Response(status_code=204)

        @app.get("/api/auth/me")
        async def me(request: Request) -> Response:
            account = fake._bearer(request)
            if account is None:
                return problem(401, "invalid_token")
            return JSONResponse(
                {
                    "account_id": account.account_id,
                    "email": account.email,
                    "name": "Hana Sato",
                    "role": "customer",
                    "state": "active",
                    "totp_enabled": False,
                    "passkey_required": account.passkey_required,
                    "passkeys": len(account.passkeys),
                    "case_id": None,
                }
            )

        @app.post("/api/auth/passkeys/registration/options")
        async def registration_options(request: Request) -> Response:
            account = fake._bearer(request)
            if account is None:
                return problem(401, "invalid_token")
            if not account.recent_sign_in:
                return problem(401, "reauthentication_required")
            return JSONResponse(fake._options(account, creation=True))

        @app.post("/api/auth/passkeys/registration")
        async def registration(request: Request, body: dict[str, Any]) -> Response:
            account = fake._bearer(request)
            if account is None:
                return problem(401, "invalid_token")
            if fake.ceremonies.pop(str(body.get("ceremony_id")), None) != account.account_id:
                return problem(410, "ceremony_expired")
            credential_id = body["credential"]["id"]
            if any(p["credential_id"] == credential_id for a in fake.accounts.values() for p in a.passkeys):
                return problem(409, "passkey_exists")
            if credential_id.startswith("bad"):
                return problem(422, "passkey_invalid")
            item = fake.passkey(account, credential_id, body.get("name") or f"Passkey {len(account.passkeys) + 1}")
            return JSONResponse(item, status_code=201)

        @app.get("/api/auth/passkeys")
        async def listing(request: Request) -> Response:
            account = fake._bearer(request)
            if account is None:
                return problem(401, "invalid_token")
            return JSONResponse({"passkeys": account.passkeys})

        def owned(request: Request, passkey_id: str) -> tuple[FakeAccount | None, dict[str, Any] | None]:
            account = fake._bearer(request)
            found = next((p for p in account.passkeys if p["id"] == passkey_id), None) if account else None
            return account, found

        @app.patch("/api/auth/passkeys/{passkey_id}")
        async def rename(request: Request, passkey_id: str, body: dict[str, Any]) -> Response:
            _account, found = owned(request, passkey_id)
            if found is None:
                return problem(404, "not_found")
            found["name"] = body["name"]
            return JSONResponse(found)

        @app.delete("/api/auth/passkeys/{passkey_id}")
        async def delete(request: Request, passkey_id: str) -> Response:
            account, found = owned(request, passkey_id)
            if account is None or found is None:
                return problem(404, "not_found")
            if not account.recent_sign_in:
                return problem(401, "reauthentication_required")
            account.passkeys.remove(found)
            account.passkey_required = account.passkey_required and bool(account.passkeys)
            return Response(status_code=204)

        @app.put("/api/auth/me/passkey-required")
        async def required(request: Request, body: dict[str, Any]) -> Response:
            account = fake._bearer(request)
            if account is None:
                return problem(401, "invalid_token")
            if body["required"] and not account.passkeys:
                return problem(409, "no_passkey")
            issued = body["required"] and not account.passkey_required
            account.passkey_required = bool(body["required"])
            codes = [f"CODE-{n:04d}" for n in range(10)] if issued else None
            return JSONResponse({"required": account.passkey_required, "recovery_codes": codes})

        @app.post("/api/auth/passkeys/sign-in/options")
        async def sign_in_options() -> Response:
            return JSONResponse(fake._options(None))

        @app.post("/api/auth/passkeys/sign-in")
        async def sign_in(body: dict[str, Any]) -> Response:
            if fake.ceremonies.pop(str(body.get("ceremony_id")), None) != "":
                return problem(401, "passkey_invalid")
            credential_id = body["credential"]["id"]
            if credential_id.startswith("cloned"):
                return problem(401, "passkey_cloned")
            for account in fake.accounts.values():
                if any(p["credential_id"] == credential_id for p in account.passkeys):
                    return fake._issue(account)
            return problem(401, "passkey_invalid")

        @app.post("/api/auth/challenges/complete")
        async def complete(body: dict[str, Any]) -> Response:
            account_id = fake.ceremonies.get(str(body.get("challenge_id")))
            account = fake.accounts.get(account_id or "")
            if account is None:
                return problem(401, "challenge_expired")
            if body.get("method") == "passkey":
                credential_id = (body.get("credential") or {}).get("id")
                if any(p["credential_id"] == credential_id for p in account.passkeys):
                    del fake.ceremonies[str(body["challenge_id"])]
                    return fake._issue(account)
                return problem(401, "invalid_code", attempts_left=2)  # counted like a wrong code
            return problem(401, "invalid_code", attempts_left=2)

        return app
