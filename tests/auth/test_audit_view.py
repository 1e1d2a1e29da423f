"""listSecurityEvents: the customer's own audit trail, newest first (story S5)."""

from __future__ import annotations

from typing import Any

from services.auth.audit.service import record
from services.auth.request_context import SYSTEM, RequestContext
from tests.auth.conftest import AuthHarness
from tests.auth.messaging_support import make_customer, sign_in


def record_events(auth: AuthHarness, account_id: str, *events: tuple[str, RequestContext, dict[str, Any]]) -> None:
    with auth.app.state.db.session() as db:
        for kind, context, options in events:
            record(db, account_id, kind, context, at=auth.clock.now(), **options)
            auth.clock.advance(seconds=1)
        db.commit()


def security_events(auth: AuthHarness, token: str, **params: int | str) -> dict[str, Any]:
    response = auth.call("GET", "/api/auth/security-events", token=token, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_customer_sees_their_security_events_newest_first(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    token = sign_in(auth.app, hana)
    tokyo = RequestContext(ip="198.51.100.7", country="JP", device_id="phone-1", user_agent="Safari")
    record_events(
        auth,
        hana,
        ("sign_in", tokyo, {}),
        ("email_changed", tokyo, {"details": {"old": "hana@example.com"}}),
        ("account_frozen", SYSTEM, {"actor": "system", "reason": "The e-mail change was reverted as not yours."}),
    )

    items = security_events(auth, token)["items"]

    assert [item["kind"] for item in items] == ["account_frozen", "email_changed", "sign_in"]
    frozen, _, signed_in = items
    assert frozen["actor"] == "system" and frozen["reason"].startswith("The e-mail change")
    assert frozen["ip"] is None  # a system action has no client address
    assert (signed_in["ip"], signed_in["country"], signed_in["device_id"]) == ("198.51.100.7", "JP", "phone-1")
    assert signed_in["actor"] == "customer" and signed_in["at"]
    assert frozen["at"] > signed_in["at"]


def test_staff_actions_show_that_staff_acted_and_why_but_not_who(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    token = sign_in(auth.app, hana)
    record_events(
        auth, hana, ("account_frozen", SYSTEM, {"actor": "staff:5f1c0ffee", "reason": "Orders from a stolen card."})
    )

    [item] = security_events(auth, token)["items"]

    assert item["actor"] == "staff"
    assert item["reason"] == "Orders from a stolen card."
    assert "5f1c0ffee" not in str(item)


def test_a_customer_never_sees_another_customers_events(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    ken = make_customer(auth.app, "ken@example.com")
    ken_token = sign_in(auth.app, ken)
    record_events(auth, hana, ("sign_in", RequestContext(ip="198.51.100.7"), {}))
    record_events(auth, ken, ("password_changed", RequestContext(ip="192.0.2.1"), {}))

    page = security_events(auth, ken_token)

    assert [item["kind"] for item in page["items"]] == ["password_changed"]
    assert page["total"] == 1


def test_security_events_page(auth: AuthHarness) -> None:
    hana = make_customer(auth.app, "hana@example.com")
    token = sign_in(auth.app, hana)
    record_events(auth, hana, *((f"event_{n}", RequestContext(ip="192.0.2.1"), {}) for n in range(4)))

    first = security_events(auth, token, limit=3)
    rest = security_events(auth, token, limit=3, cursor=first["next"])

    assert [item["kind"] for item in first["items"] + rest["items"]] == ["event_3", "event_2", "event_1", "event_0"]
    assert (first["total"], rest["next"]) == (4, None)
    assert auth.call("GET", "/api/auth/security-events", token=token, params={"limit": 1000}).status_code == 422


def test_security_events_need_a_signed_in_customer(auth: AuthHarness) -> None:
    response = auth.call("GET", "/api/auth/security-events")

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
