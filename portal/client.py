"""Calls from the portal to the services' public APIs, on behalf of one browser.

The portal reads no database: every page is drawn from these answers. Each call carries the
customer's access token (when there is one) and who the browser is, so the service's throttles,
risk signals and audit trail see the customer, not the portal: the client address the portal
resolved (sent as ``X-Forwarded-For``; the portal is a trusted proxy to the services), the
device cookie (as ``X-Device-ID``, for orders' rules), auth's device token (as ``X-Device-Token``,
to auth only), the user agent and the request id.

Methods are named after the operationIds of the public contract (design.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from mamori_common.internal_http import ServiceReplicas, send
from mamori_common.pagination import MAX_LIMIT
from portal.config import PortalSettings

#: What the portal sends auth for a browser auth has given no device token yet.
NO_DEVICE_TOKEN = "none"


@dataclass(frozen=True)
class Caller:
    """Who the portal is calling for: the browser's address, device, agent and request id."""

    ip: str
    device_id: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    language: str = "ja"
    #: Auth's device token for this browser (``mamori_device_token``): sent to auth alone.
    device_token: str | None = field(default=None, repr=False)

    def headers(self, token: str | None, *, service: str = "") -> dict[str, str]:
        headers = {"x-forwarded-for": self.ip, "accept-language": self.language}
        if self.device_id:
            headers["x-device-id"] = self.device_id
        if service == "auth":
            # A browser without auth's token is still a device: a new one. The placeholder is no
            # token auth issued, so auth treats this browser as a device it does not know (a
            # step-up where a new device needs one), as it did a browser with a fresh device id.
            headers["x-device-token"] = self.device_token or NO_DEVICE_TOKEN
        if self.user_agent:
            headers["user-agent"] = self.user_agent[:512]
        if self.request_id:
            headers["x-request-id"] = self.request_id
        if token:
            headers["authorization"] = f"Bearer {token}"
        return headers


@dataclass(frozen=True)
class Answer:
    """A service's answer: the JSON body, or the problem document of a refusal."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        """The problem's stable ``code`` (None for a success)."""
        return None if self.ok else str(self.body.get("code") or "error")


#: The most items a page of a service's list holds (what the portal asks for when it reads a list whole).
MAX_PAGE = MAX_LIMIT
#: Pages :func:`follow_pages` reads at most: a list that long is shown in part, never loops.
MAX_PAGES_FOLLOWED = 20


def page_params(limit: int | None, cursor: str | None) -> dict[str, Any]:
    """``limit`` and ``cursor`` query parameters of a paged list (both left out when not given)."""
    params: dict[str, Any] = {}
    if limit is not None:
        params["limit"] = limit
    if cursor:
        params["cursor"] = cursor
    return params


async def follow_pages(fetch: Callable[[str | None], Awaitable[Answer]]) -> Answer:
    """A paged list read whole: ``fetch`` each page by the previous one's ``next``; the items of
    every page in one answer (or the first refusal)."""
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES_FOLLOWED):
        answer = await fetch(cursor)
        if not answer.ok:
            return answer
        items.extend(answer.body.get("items", []))
        cursor = answer.body.get("next")
        if not cursor:
            break
    return Answer(200, {"items": items, "next": cursor})


class ServiceUnavailable(Exception):
    """A service did not answer, or answered with a 5xx: the page says so and changes nothing."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class ServiceClient:
    """One pooled HTTP client per service; ``transports`` lets tests plug in-process apps in."""

    def __init__(
        self, settings: PortalSettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
    ) -> None:
        transports = transports or {}
        #: Every replica of each service, passed over while it is down (``mamori_common/internal_http.py``).
        self._replicas = ServiceReplicas.from_settings(settings)
        self._clients = {
            service: httpx.AsyncClient(timeout=settings.service_timeout_seconds, transport=transports.get(service))
            for service in ("auth", "verification", "orders")
        }

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        caller: Caller,
        *,
        token: str | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Answer:
        try:
            response = await send(
                self._clients[service],
                self._replicas.of(service),
                method,
                path,
                headers=caller.headers(token, service=service),
                json=json,
                params=params,
                files=files,
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service) from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(service)
        body: dict[str, Any] = {}
        if response.content:
            try:
                parsed = response.json()
            except ValueError:
                parsed = {}
            body = parsed if isinstance(parsed, dict) else {"items": parsed}
        retry_after = response.headers.get("retry-after")
        return Answer(response.status_code, body, int(retry_after) if retry_after and retry_after.isdigit() else None)

    async def download(
        self, service: str, path: str, caller: Caller, token: str, params: Mapping[str, Any] | None = None
    ) -> Download:
        try:
            response = await send(
                self._clients[service],
                self._replicas.of(service),
                "GET",
                path,
                headers=caller.headers(token, service=service),
                params=params,
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service) from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(service)
        return Download(
            response.status_code,
            response.content,
            response.headers.get("content-type", ""),
            response.headers.get("content-disposition"),
        )


@dataclass(frozen=True)
class Download:
    """A file a service answered with (a PDF), passed to the browser as it came."""

    status: int
    content: bytes
    content_type: str
    disposition: str | None


class AuthApi:
    """The auth operations the portal uses (operationId in each docstring-free name)."""

    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    async def _post(self, path: str, caller: Caller, body: Any = None, token: str | None = None) -> Answer:
        return await self._client.call("auth", "POST", f"/api/auth{path}", caller, token=token, json=body)

    async def _get(self, path: str, caller: Caller, token: str, params: Mapping[str, Any] | None = None) -> Answer:
        return await self._client.call("auth", "GET", f"/api/auth{path}", caller, token=token, params=params)

    # signing in and out
    async def login(self, caller: Caller, email: str, password: str) -> Answer:
        return await self._post("/login", caller, {"email": email, "password": password})

    async def complete_challenge(self, caller: Caller, challenge_id: str, method: str, code: str) -> Answer:
        body = {"challenge_id": challenge_id, "method": method, "code": code}
        return await self._post("/challenges/complete", caller, body)

    async def complete_challenge_with_passkey(
        self, caller: Caller, challenge_id: str, credential: dict[str, Any]
    ) -> Answer:
        """``completeChallenge`` answered with a passkey assertion instead of a code."""
        body = {"challenge_id": challenge_id, "method": "passkey", "credential": credential}
        return await self._post("/challenges/complete", caller, body)

    async def begin_passkey_sign_in(self, caller: Caller) -> Answer:
        return await self._post("/passkeys/sign-in/options", caller, {})

    async def finish_passkey_sign_in(self, caller: Caller, ceremony_id: str, credential: dict[str, Any]) -> Answer:
        body: dict[str, Any] = {"ceremony_id": ceremony_id, "credential": credential}
        return await self._post("/passkeys/sign-in", caller, body)

    async def send_unlock_code(self, caller: Caller, email: str) -> Answer:
        return await self._post("/unlock/code", caller, {"email": email})

    async def request_unlock(self, caller: Caller, email: str, code: str, new_password: str) -> Answer:
        return await self._post("/unlock", caller, {"email": email, "code": code, "new_password": new_password})

    async def enroll_staff_totp(self, caller: Caller, enrolment_token: str) -> Answer:
        return await self._post("/staff/enrolment/totp", caller, {"enrolment_token": enrolment_token})

    async def confirm_staff_totp(self, caller: Caller, enrolment_token: str, code: str) -> Answer:
        body = {"enrolment_token": enrolment_token, "code": code}
        return await self._post("/staff/enrolment/totp/confirm", caller, body)

    async def refresh_token(self, caller: Caller, refresh_token: str) -> Answer:
        return await self._post("/tokens/refresh", caller, {"refresh_token": refresh_token})

    async def logout(self, caller: Caller, refresh_token: str) -> Answer:
        return await self._post("/logout", caller, {"refresh_token": refresh_token})

    # the account
    async def get_me(self, caller: Caller, token: str) -> Answer:
        return await self._get("/me", caller, token)

    async def list_messages(self, caller: Caller, token: str, limit: int, cursor: str | None = None) -> Answer:
        return await self._get("/messages", caller, token, page_params(limit, cursor))

    async def verify_message(
        self, caller: Caller, token: str | None, reference_code: str | None, text: str | None
    ) -> Answer:
        body = {"reference_code": reference_code} if reference_code is not None else {"text": text}
        return await self._post("/messages/verify", caller, body, token)

    async def list_security_events(self, caller: Caller, token: str, limit: int, cursor: str | None = None) -> Answer:
        return await self._get("/security-events", caller, token, page_params(limit, cursor))

    async def list_sessions(self, caller: Caller, token: str, cursor: str | None = None) -> Answer:
        return await self._get("/sessions", caller, token, page_params(None, cursor))

    async def revoke_sessions(self, caller: Caller, token: str, *, session_id: str | None = None) -> Answer:
        body = {"session_id": session_id} if session_id else {"all_but_current": True}
        return await self._post("/sessions/revoke", caller, body, token)

    # changes and their revert
    async def change_email(self, caller: Caller, token: str, new_email: str) -> Answer:
        return await self._post("/email/change", caller, {"new_email": new_email}, token)

    async def confirm_email_change(self, caller: Caller, token: str, challenge_id: str, code: str) -> Answer:
        return await self._post("/email/confirm", caller, {"challenge_id": challenge_id, "code": code}, token)

    async def change_password(self, caller: Caller, token: str, current: str, new: str, end_others: bool) -> Answer:
        body = {"current_password": current, "new_password": new, "end_other_sessions": end_others}
        return await self._post("/password/change", caller, body, token)

    async def revert_change(self, caller: Caller, code: str) -> Answer:
        return await self._post("/changes/revert", caller, {"code": code})

    async def request_password_reset(self, caller: Caller, email: str) -> Answer:
        return await self._post("/password/reset", caller, {"email": email})

    async def confirm_password_reset(self, caller: Caller, token: str, new_password: str) -> Answer:
        return await self._post("/password/reset/confirm", caller, {"token": token, "new_password": new_password})

    async def acknowledge_recheck(self, caller: Caller, token: str, items: list[str]) -> Answer:
        return await self._post("/recheck/acknowledge", caller, {"items": items}, token)

    # passkeys
    async def begin_passkey_registration(self, caller: Caller, token: str) -> Answer:
        return await self._post("/passkeys/registration/options", caller, {}, token)

    async def finish_passkey_registration(
        self, caller: Caller, token: str, ceremony_id: str, credential: dict[str, Any], name: str | None
    ) -> Answer:
        body: dict[str, Any] = {"ceremony_id": ceremony_id, "credential": credential}
        if name:
            body["name"] = name
        return await self._post("/passkeys/registration", caller, body, token)

    async def list_passkeys(self, caller: Caller, token: str) -> Answer:
        return await self._get("/passkeys", caller, token)

    async def rename_passkey(self, caller: Caller, token: str, passkey_id: str, name: str) -> Answer:
        path = f"/api/auth/passkeys/{quote(passkey_id, safe='')}"
        return await self._client.call("auth", "PATCH", path, caller, token=token, json={"name": name})

    async def delete_passkey(self, caller: Caller, token: str, passkey_id: str) -> Answer:
        path = f"/api/auth/passkeys/{quote(passkey_id, safe='')}"
        return await self._client.call("auth", "DELETE", path, caller, token=token)

    async def set_passkey_required(self, caller: Caller, token: str, required: bool) -> Answer:
        return await self._client.call(
            "auth", "PUT", "/api/auth/me/passkey-required", caller, token=token, json={"required": required}
        )

    # TOTP
    async def enroll_totp(self, caller: Caller, token: str) -> Answer:
        return await self._post("/totp/enroll", caller, None, token)

    async def confirm_totp(self, caller: Caller, token: str, code: str) -> Answer:
        return await self._post("/totp/confirm", caller, {"code": code}, token)


class VerificationApi:
    """The verification operations the portal uses: the customer's cases (named after operationIds)."""

    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    async def _call(self, method: str, path: str, caller: Caller, token: str, **kwargs: Any) -> Answer:
        return await self._client.call(
            "verification", method, f"/api/verification{path}", caller, token=token, **kwargs
        )

    async def list_cases(self, caller: Caller, token: str, cursor: str | None = None) -> Answer:
        return await self._call("GET", "/cases", caller, token, params=page_params(None, cursor))

    async def get_case(self, caller: Caller, token: str, case_id: str) -> Answer:
        return await self._call("GET", f"/cases/{quote(case_id, safe='')}", caller, token)

    async def upload_document(
        self, caller: Caller, token: str, case_id: str, filename: str, content: bytes, content_type: str
    ) -> Answer:
        return await self._call(
            "POST",
            f"/cases/{quote(case_id, safe='')}/documents",
            caller,
            token,
            files={"file": (filename, content, content_type)},
        )

    async def add_supplement(self, caller: Caller, token: str, case_id: str, item: str, value: str) -> Answer:
        return await self._call(
            "POST", f"/cases/{quote(case_id, safe='')}/supplements", caller, token, json={"item": item, "value": value}
        )

    async def request_callback(self, caller: Caller, token: str, case_id: str | None, phone: str, note: str) -> Answer:
        body: dict[str, Any] = {"phone": phone, "note": note}
        if case_id:
            body["case_id"] = case_id
        return await self._call("POST", "/callbacks", caller, token, json=body)


class StaffApi:
    """Verification's staff operations: the review queue, the two views of a case, decisions."""

    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    async def _call(self, method: str, path: str, caller: Caller, token: str, **kwargs: Any) -> Answer:
        return await self._client.call(
            "verification", method, f"/api/verification/staff{path}", caller, token=token, **kwargs
        )

    async def list_review_queue(self, caller: Caller, token: str, cursor: str | None = None) -> Answer:
        return await self._call("GET", "/queue", caller, token, params=page_params(None, cursor))

    async def get_case_for_review(self, caller: Caller, token: str, case_id: str) -> Answer:
        return await self._call("GET", f"/cases/{quote(case_id, safe='')}", caller, token)

    async def get_case_for_support(self, caller: Caller, token: str, case_id: str) -> Answer:
        return await self._call("GET", f"/cases/{quote(case_id, safe='')}/status", caller, token)

    async def decide_case(
        self, caller: Caller, token: str, case_id: str, decision: str, reason_code: str, order_action: str, note: str
    ) -> Answer:
        body = {"decision": decision, "reason_code": reason_code, "order_action": order_action, "note": note}
        return await self._call("POST", f"/cases/{quote(case_id, safe='')}/decision", caller, token, json=body)

    async def download_document(self, caller: Caller, token: str, document_id: str) -> Download:
        return await self._client.download(
            "verification", f"/api/verification/staff/documents/{quote(document_id, safe='')}", caller, token
        )


class OrdersApi:
    """The orders operations the portal uses (named after operationIds)."""

    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    async def _call(self, method: str, path: str, caller: Caller, token: str, **kwargs: Any) -> Answer:
        return await self._client.call("orders", method, f"/api/orders{path}", caller, token=token, **kwargs)

    async def list_orders(self, caller: Caller, token: str, cursor: str | None = None) -> Answer:
        return await self._call("GET", "/orders", caller, token, params=page_params(None, cursor))

    async def get_order(self, caller: Caller, token: str, order_id: str) -> Answer:
        return await self._call("GET", f"/orders/{quote(order_id, safe='')}", caller, token)

    async def list_refunds(self, caller: Caller, token: str, order_id: str) -> Answer:
        """Every refund of one order: pages followed to the end (an order has a handful at most)."""
        return await follow_pages(
            lambda cursor: self._call(
                "GET", "/refunds", caller, token, params={"order_id": order_id, **page_params(MAX_PAGE, cursor)}
            )
        )

    async def cancel_order(self, caller: Caller, token: str, order_id: str) -> Answer:
        return await self._call("POST", f"/orders/{quote(order_id, safe='')}/cancel", caller, token)

    async def request_return(self, caller: Caller, token: str, order_id: str, line_ids: list[str]) -> Answer:
        return await self._call(
            "POST", f"/orders/{quote(order_id, safe='')}/returns", caller, token, json={"line_ids": line_ids}
        )

    async def report_not_mine(self, caller: Caller, token: str, order_id: str) -> Answer:
        return await self._call("POST", f"/orders/{quote(order_id, safe='')}/not-mine", caller, token)

    async def set_one_click(self, caller: Caller, token: str, enabled: bool) -> Answer:
        return await self._call("PUT", "/settings/one-click", caller, token, json={"enabled": enabled})

    async def get_refund_confirmation_pdf(self, caller: Caller, token: str, order_id: str) -> Download:
        return await self._client.download(
            "orders",
            f"/api/orders/orders/{quote(order_id, safe='')}/refund-confirmation",
            caller,
            token,
            params={"format": "pdf"},
        )
