"""Story S3 (and S5) end to end: the real processes ``mamori run`` starts, over HTTP through the gateway.

The customer places a 100,000-yen gift-card order paid with a card in another name; orders holds it
and publishes ``payment.held``; verification opens the case; auth restricts the account. Everything
goes through the gateway as the customer and the specialist would, the customer's messages are
read from auth's message centre, and the approval releases the held order in orders.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from mamori_common import contract
from tests.support.processes import MamoriRun
from tests.support.servers import wait_until
from tests.test_system import demo_credentials, demo_totp_secret, deployment, operations, sign_in  # noqa: F401 (fixture)
from tests.verification import documents_support as docs

pytestmark = pytest.mark.system

PASSWORD = "maple-harbour-lantern-93"
REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")


class Walk:
    """The customer's and the specialist's side of one deployment."""

    def __init__(self, run: MamoriRun, client: httpx.Client) -> None:
        self.run = run
        self.client = client
        self.ops = operations(client.get("/openapi.json").json())

    def call(
        self, operation: str, token: str, path_params: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        method, path = self.ops[operation]
        return self.client.request(
            method, path.format(**(path_params or {})), headers={"authorization": f"Bearer {token}"}, **kwargs
        )

    def register(self, name: str) -> tuple[str, str]:
        """A new customer (English mails); (account id, access token)."""
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        registered = self.client.post(
            "/api/auth/accounts", json={"email": email, "password": PASSWORD, "name": name, "language": "en"}
        )
        assert registered.status_code == 201, registered.text
        return registered.json()["account_id"], sign_in(self.client, self.ops, email, PASSWORD)

    def messages(self, token: str) -> list[dict[str, Any]]:
        response = self.call("listMessages", token)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def wait_for_message(self, token: str, *needles: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next(
                (
                    message
                    for message in self.messages(token)
                    if all(needle in message["subject"] + message["body"] for needle in needles)
                ),
                None,
            )

        return wait_until(found, timeout=20, interval=0.2, what=f"a message with {needles}")


def test_s3_held_payment_to_approval_through_the_gateway(deployment: MamoriRun) -> None:
    with httpx.Client(base_url=deployment.gateway_url, timeout=30) as client:
        walk = Walk(deployment, client)
        _account_id, customer = walk.register("Ren Tanaka")

        # Orders holds the 100,000-yen gift card paid with a card in another name.
        card = {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": "Yuki Tanaka"}
        placed = walk.call(
            "placeOrder",
            customer,
            json={
                "lines": [{"kind": "gift_card", "description": "Gift card", "unit_amount": 100_000}],
                "tenders": [{"kind": "card", "amount": 100_000, "card": card}],
            },
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["state"] == "held", order
        [case] = wait_until(lambda: walk.call("listCases", customer).json()["items"], timeout=10, what="the case")
        number = case["number"]
        assert case["kind"] == "payment_verification" and number == contract.case_number(case["id"])
        opened = walk.wait_for_message(customer, number, "¥100,000")
        assert "Still needed: Card statement" in opened["body"]
        assert "{due_at}" not in opened["body"] and "We answer by" in opened["body"]  # auth printed the time

        # Auth restricted the account: it signs in and sees its case, but cannot change its e-mail.
        me = wait_until(
            lambda: (lambda body: body if body["state"] == "restricted" else None)(walk.call("getMe", customer).json()),
            timeout=15,
            what="the account restricted",
        )
        assert me["case_number"] == number or number in [item["case_number"] for item in me["restrictions"]]
        refused_change = walk.call("changeEmail", customer, json={"new_email": "elsewhere@example.com"})
        assert refused_change.status_code == 403, refused_change.text
        assert refused_change.json()["code"] == "account_restricted"
        assert case["id"] in refused_change.json()["restricting_case_ids"]

        # A statement showing the full number is refused; nothing kept.
        refused = walk.call(
            "uploadDocument",
            customer,
            {"case_id": case["id"]},
            files={"file": ("statement.pdf", docs.text_pdf("Card 4242 4242 4242 4242"), "application/pdf")},
        )
        assert refused.status_code == 422 and refused.json()["code"] == "card_number_visible", refused.text
        assert refused.json()["pages"] == [1]

        # The redacted one is accepted; the address is still missing, and the customer is told so.
        accepted = walk.call(
            "uploadDocument",
            customer,
            {"case_id": case["id"]},
            files={"file": ("statement.pdf", docs.text_pdf(*REDACTED), "application/pdf")},
        )
        assert accepted.status_code == 201, accepted.text
        detail = walk.call("getCase", customer, {"case_id": case["id"]}).json()
        statuses = {item["code"]: item["status"] for item in detail["checklist"]}
        assert statuses == {
            "statement": "received",
            "billing_name": "received",
            "billing_address": "missing",
            "cardholder_phone": "received",
        }
        walk.wait_for_message(customer, number, "Still needed: Billing address")

        # The typed address completes it: in review, with the promised time.
        supplemented = walk.call(
            "addSupplement",
            customer,
            {"case_id": case["id"]},
            json={"item": "billing_address", "value": "2-1-1 Nihonbashi, Tokyo 103-0027"},
        )
        assert supplemented.status_code == 200 and supplemented.json()["state"] == "in_review", supplemented.text
        walk.wait_for_message(customer, number, "Everything needed is here")

        # The specialist finds it in the queue, reads it with the document, approves.
        specialist_email, specialist_password = demo_credentials(deployment)["specialist"]
        specialist = sign_in(
            client, walk.ops, specialist_email, specialist_password, demo_totp_secret(deployment, "specialist")
        )
        queue = walk.call("listReviewQueue", specialist).json()["items"]
        assert case["id"] in [item["id"] for item in queue]
        review = walk.call("getCaseForReview", specialist, {"case_id": case["id"]})
        assert review.status_code == 200 and len(review.json()["documents"]) == 1
        support_email, support_password = demo_credentials(deployment)["support"]
        support = sign_in(client, walk.ops, support_email, support_password, demo_totp_secret(deployment, "support"))
        assert walk.call("getCaseForReview", support, {"case_id": case["id"]}).status_code == 403

        decided = walk.call(
            "decideCase", specialist, {"case_id": case["id"]}, json={"decision": "approve", "reason_code": "verified"}
        )
        assert decided.status_code == 200 and decided.json()["state"] == "approved", decided.text
        approved = walk.wait_for_message(customer, number, "approved")
        assert "Your held orders go ahead." in approved["body"]
        assert walk.call("getCase", customer, {"case_id": case["id"]}).json()["state"] == "approved"
        wait_until(
            lambda: walk.call("getMe", customer).json()["state"] == "active",
            timeout=15,
            what="the account active again",
        )
        released = wait_until(
            lambda: (lambda body: body if body["state"] == "placed" else None)(
                walk.call("getOrder", customer, {"order_id": order["id"]}).json()
            ),
            timeout=30,
            what="the order released",
        )
        assert released["tenders"][0]["captured"] == 100_000


def test_s5_a_freeze_shows_up_as_the_case_auth_named(deployment: MamoriRun) -> None:
    """Auth's ``account.frozen`` (published by auth itself, as a revert also does) becomes an intrusion case
    under auth's id, with auth's reason on its timeline."""
    with httpx.Client(base_url=deployment.gateway_url, timeout=30) as client:
        walk = Walk(deployment, client)
        account_id, _ = walk.register("Mika Ono")
        specialist_email, specialist_password = demo_credentials(deployment)["specialist"]
        specialist = sign_in(
            client, walk.ops, specialist_email, specialist_password, demo_totp_secret(deployment, "specialist")
        )
        frozen = walk.call(
            "freezeAccount",
            specialist,
            {"account_id": account_id},
            json={"reason": "Sign-ins from an unknown country right after an e-mail change."},
        )
        assert frozen.status_code == 200, frozen.text
        # The freeze ended the customer's sessions; the case is what explains it (read as staff here,
        # since the customer signs in again only after the reset cool-down).
        support_email, support_password = demo_credentials(deployment)["support"]
        support = sign_in(client, walk.ops, support_email, support_password, demo_totp_secret(deployment, "support"))
        case_id = frozen.json().get("case_id")
        assert case_id, frozen.json()
        status = wait_until(
            lambda: (lambda r: r if r.status_code == 200 else None)(
                walk.call("getCaseForSupport", support, {"case_id": case_id})
            ),
            timeout=15,
            what="the intrusion case",
        )
        body = status.json()
        assert body["kind"] == "intrusion" and body["number"] == contract.case_number(case_id)
        assert any("unknown country" in entry["summary"]["en"] for entry in body["timeline"])
