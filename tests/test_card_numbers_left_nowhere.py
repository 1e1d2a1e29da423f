"""No full card number is left anywhere a deployment writes: databases (WAL included), logs, mails,
stored documents.

``mamori run`` starts every process (and nginx, when installed, whose access log is read too). A
customer (or an attacker holding their session) then puts full card numbers everywhere a request
can carry one: the path, the query, headers, every free-text field of orders and verification, a
malformed body, a registration name, the text pasted into "is this mail genuine?", a sign-in's User-Agent and typed address, a file name, a
statement whose page shows the number, a photo of one, and a statement hiding one in a PDF
annotation. Afterwards every byte under the data dir (each service's SQLite files, the logs of
every process, the documents, whatever the mailer wrote) and everything printed are searched for
the number's digits, whatever separators lie between them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fpdf import FPDF

from tests.support.processes import MamoriRun
from tests.support.servers import wait_until
from tests.test_system import operations, sign_in
from tests.verification import documents_support as docs

pytestmark = pytest.mark.system

PASSWORD = "maple-harbour-lantern-93"
#: Written the ways a person or a client sends them; Visa, Mastercard, JCB, Amex.
NUMBERS = {
    "4556737586899855": "4556 7375 8689 9855",
    "5425233430109903": "5425-2334-3010-9903",
    "3530111333300000": "3530111333300000",
    "371449635398431": "3714 496353 98431",
}
REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka")


def spread(digits: str) -> re.Pattern[bytes]:
    """The digits in order with up to three other bytes between each: spaces, dashes, JSON escapes."""
    return re.compile(b"[^0-9]{0,3}".join(re.escape(digit.encode()) for digit in digits))


def statement_with_annotation(number: str) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    for line in REDACTED:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    pdf.text_annotation(150, 20, f"card {number}")
    return bytes(pdf.output())


@pytest.fixture
def run(tmp_path: Path) -> Iterator[MamoriRun]:
    deployment = MamoriRun(tmp_path / "var")
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.close()


def every_byte_written(run: MamoriRun) -> dict[str, bytes]:
    files = {
        str(path.relative_to(run.data_dir)): path.read_bytes() for path in run.data_dir.rglob("*") if path.is_file()
    }
    files["(printed)"] = "\n".join(run.output).encode()
    return files


def test_full_card_numbers_sent_every_way_are_found_nowhere_afterwards(run: MamoriRun) -> None:
    with httpx.Client(base_url=run.gateway_url, timeout=60) as client:
        ops = operations(client.get("/openapi.json").json())
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        assert (
            client.post(
                "/api/auth/accounts",
                json={"email": email, "password": PASSWORD, "name": "Ren Tanaka", "language": "en"},
            ).status_code
            == 201
        )
        token = sign_in(client, ops, email, PASSWORD)
        bearer = {"authorization": f"Bearer {token}"}

        def call(operation: str, path_params: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
            method, path = ops[operation]
            headers = {**bearer, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
            return client.request(method, path.format(**(path_params or {})), headers=headers, **kwargs)  # type: ignore[arg-type]

        card = {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": "Yuki Tanaka"}
        held = call(
            "placeOrder",
            json={
                "lines": [{"kind": "gift_card", "description": "Gift card", "unit_amount": 100_000}],
                "tenders": [{"kind": "card", "amount": 100_000, "card": card}],
            },
        )
        assert held.status_code == 201, held.text
        case_id = wait_until(
            lambda: next((str(item["id"]) for item in call("listCases").json()["items"]), None),
            timeout=20,
            interval=0.2,
            what="the payment case",
        )

        answers: list[httpx.Response] = []
        for compact, written in NUMBERS.items():
            answers += [
                call("getOrder", {"order_id": compact}),
                call("getCase", {"case_id": written}),
                call("listOrders", params={"cursor": written}),
                call(
                    "placeOrder",
                    headers={"idempotency-key": compact},
                    json={
                        "lines": [{"kind": "physical", "description": f"for {written}", "unit_amount": 1_000}],
                        "tenders": [{"kind": "card", "amount": 1_000, "card": {**card, "holder_name": written}}],
                    },
                ),
                call(
                    "placeOrder",
                    json={
                        "lines": [{"kind": "physical", "description": "Tea", "unit_amount": 1_000}],
                        "tenders": [{"kind": "card", "amount": 1_000, "card": {**card, "token": compact}}],
                    },
                ),
                call(  # a clean order keyed by a card number
                    "placeOrder",
                    headers={"idempotency-key": written.replace(" ", "-")},
                    json={
                        "lines": [{"kind": "physical", "description": "Tea", "unit_amount": 1_000}],
                        "tenders": [{"kind": "card", "amount": 1_000, "card": card}],
                    },
                ),
                call("getOrder", headers={"x-device-id": compact}, path_params={"order_id": held.json()["id"]}),
                call("addSupplement", {"case_id": case_id}, json={"item": "billing_address", "value": written}),
                call("requestCallback", json={"phone": written}),
                call("requestCallback", json={"phone": "090-1234-5678", "note": written, "case_id": case_id}),
                call(
                    "placeOrder",
                    content=f'{{"lines": [{{"description": "{written}"'.encode(),
                    headers={"content-type": "application/json"},
                ),
                client.post(
                    "/api/auth/accounts",
                    json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD, "name": written},
                ),
            ]
            answers.append(call("verifyMessage", json={"text": f"Your card {written} is locked"}))
            answers += [
                client.post(
                    "/api/auth/login",
                    json={"email": email, "password": PASSWORD},
                    headers={"user-agent": f"Mozilla/5.0 card {written}"},
                ),
                client.post("/api/auth/login", json={"email": f"{compact}@example.com", "password": written}),
                call("requestPasswordReset", json={"email": f"{compact}@example.com"}),
            ]
        for written in list(NUMBERS.values())[:2]:  # a file costs a scan (OCR for the photo): two numbers do
            answers += [
                call(
                    "uploadDocument",
                    {"case_id": case_id},
                    files={"file": ("statement.pdf", docs.text_pdf(f"Card {written}"), "application/pdf")},
                ),
                call(
                    "uploadDocument",
                    {"case_id": case_id},
                    files={"file": ("photo.png", docs.png(f"Card {written}"), "image/png")},
                ),
                call(
                    "uploadDocument",
                    {"case_id": case_id},
                    files={"file": (f"statement {written}.pdf", docs.text_pdf(*REDACTED), "application/pdf")},
                ),
                call(
                    "uploadDocument",
                    {"case_id": case_id},
                    files={"file": ("statement.pdf", statement_with_annotation(written), "application/pdf")},
                ),
            ]
        assert not [answer for answer in answers if answer.status_code >= 500], [a.text for a in answers]
        refusals = [answer for answer in answers if answer.status_code == 422]
        assert any(answer.json().get("code") == "card_number_visible" for answer in refusals)
        accepted_uploads = [answer for answer in answers if answer.status_code == 201 and "pages" in answer.text]
        assert accepted_uploads, "the redacted statements were kept (so there are documents to search)"

    run.drain_output()
    written_before_stop = every_byte_written(run)
    assert any(name.startswith("logs") for name in written_before_stop), sorted(written_before_stop)
    assert run.terminate() == 0
    for when, files in (("running", written_before_stop), ("stopped", every_byte_written(run))):
        for compact in NUMBERS:
            for pattern in (spread(compact), spread(compact[:12]), spread(compact[-12:])):
                found = {name: _around(pattern, content) for name, content in files.items() if pattern.search(content)}
                assert not found, f"{compact} ({when}) in {found}"


def _around(pattern: re.Pattern[bytes], content: bytes) -> list[bytes]:
    """What surrounds each find, to tell which write let it through."""
    return [content[max(0, m.start() - 80) : m.end() + 40] for m in pattern.finditer(content)][:3]
