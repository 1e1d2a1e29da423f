"""The merged OpenAPI says what every service enforces: schemathesis, every check, through the edge.

``mamori run`` starts every service behind the Python gateway (real processes, real HTTP), and
schemathesis reads the gateway's merged ``/openapi.json`` and calls each of its operations with
every check it has: no 5xx, status codes, content types, headers and bodies as documented,
schema-valid data accepted (``positive_data_acceptance``: a 400 or 422 for a request the contract
calls valid is the contract saying less than the server enforces), schema-invalid data refused,
authentication not ignored, undeclared methods answered 405 with ``Allow``. No check is left
out and no failure is expected.

What no JSON Schema can say is written in the schema's descriptions instead, and the generated
valid data is made to follow it before it is sent (never the invalid data): an order's tenders add
up to its lines' total (:func:`_tenders_pay_the_total`, the way a client computes its total), a new
password is not guessable (:func:`_passwords_not_guessable`), a page's cursor is one the server
issued (:func:`_cursors_only_as_issued`) and an ``Idempotency-Key`` names one request of its
caller (:func:`_idempotency_keys_name_one_request`).

Calls carry the token of the role each operation is for (:class:`RoleTokens`, schemathesis' own
auth, so ``ignored_auth`` probes with no token and a wrong one): the demo customer's, a
specialist's on verification's staff routes, the admin's (signed in with TOTP) on auth's and
orders' staff routes. Operations that end sessions (``logout``, ``revokeSessions``) use a second
customer's token, so the others keep theirs. The budget (``MAX_EXAMPLES``) keeps the whole module
within about two minutes on two cores; ``MAMORI_CONTRACT_ONLY=getMe,placeOrder`` runs a few
operations while fixing one.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import uuid
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fpdf import FPDF
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from schemathesis.generation.modes import GenerationMode

from mamori_common.idempotency import HEADER as IDEMPOTENCY_HEADER
from services.auth.credentials.passwords import password_problems
from tests.support.processes import MamoriRun
from tests.test_system import demo_credentials, demo_totp_secret, operations, sign_in

pytestmark = pytest.mark.system

MAX_EXAMPLES = 6
YEN_MAX = 10_000_000
SECOND_CUSTOMER = ("contract-second@demo.mamori.example", "second-customer-harbour-73")
#: Operations whose success signs their caller out.
SESSION_ENDING = frozenset({"logout", "revokeSessions"})


#: role -> access token, filled by :func:`suite` before any case is generated (read by :class:`RoleTokens`).
TOKENS: dict[str, str] = {}


@dataclass
class Suite:
    run: MamoriRun
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def suite() -> Iterator[Suite]:
    with tempfile.TemporaryDirectory(prefix="mamori-contract-") as data_dir:
        run = MamoriRun(Path(data_dir), env={"MAMORI_EDGE": "python"}).start()
        try:
            credentials = demo_credentials(run)
            with httpx.Client(base_url=run.gateway_url, timeout=30) as client:
                paths = operations(client.get("/openapi.json").json())
                method, path = paths["register"]
                email, password = SECOND_CUSTOMER
                registered = client.request(method, path, json={"email": email, "password": password, "name": "Second"})
                assert registered.status_code in (200, 201), registered.text
                tokens = {"customer": sign_in(client, paths, *credentials["customer"])}
                for role in ("specialist", "admin"):  # staff step up with TOTP every time
                    tokens[role] = sign_in(client, paths, *credentials[role], demo_totp_secret(run, role))
                tokens["second"] = sign_in(client, paths, email, password)
            TOKENS.update(tokens)
            yield Suite(run, tokens)
        finally:
            run.terminate()


@pytest.fixture(scope="module")
def contract(suite: Suite) -> Any:
    return schemathesis.openapi.from_url(f"{suite.run.gateway_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("contract")
#: ``MAMORI_CONTRACT_ONLY=getMe,listMessages``: only these operations (a quick loop while fixing one).
if os.environ.get("MAMORI_CONTRACT_ONLY"):
    schema = schema.include(operation_id=os.environ["MAMORI_CONTRACT_ONLY"].split(","))


@schema.auth(refresh_interval=None)
class RoleTokens:
    """The token of the role each operation is for, given as schemathesis' own auth: so its
    ``ignored_auth`` check knows the credential is real (a header the test writes itself it counts
    as generated, hence invalid, and a 200 to it as auth ignored), and a case whose generated
    ``Authorization`` is the point of the test (negative mode) is sent with that header, unreplaced."""

    def get(self, case: schemathesis.Case[Any], context: Any) -> str:
        return TOKENS[_role(case)]

    def set(self, case: schemathesis.Case[Any], data: str, context: Any) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy schema names each operation's subtest through ``node._nodeid``,
    which pytest 9 no longer keeps; give it the id pytest has."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _role(case: schemathesis.Case[Any]) -> str:
    if case.operation.definition.raw.get("operationId") in SESSION_ENDING:
        return "second"
    if "/staff/" in case.path:
        return "specialist" if case.path.startswith("/api/verification/") else "admin"
    return "customer"


def _tenders_pay_the_total(case: schemathesis.Case[Any]) -> None:
    """Make a valid ``placeOrder`` body pay its total exactly (see the module docstring): one
    tender of each kind (what ``maxContains`` says and the generator does not heed), amounts
    split so they add up, and lines no tenders could pay (over 3 × 10,000,000 yen) made small."""
    body: Any = case.body
    if case.operation.definition.raw.get("operationId") != "placeOrder" or not isinstance(body, dict):
        return
    lines, tenders = body.get("lines"), body.get("tenders")
    if not (isinstance(lines, list) and lines and isinstance(tenders, list) and tenders):
        return
    unique: dict[str, dict[str, Any]] = {}
    for tender in tenders:
        unique.setdefault(tender["kind"], tender)
    paying = list(unique.values())
    total = sum(line["unit_amount"] * line.get("quantity", 1) for line in lines)
    if total > YEN_MAX * len(paying) or total < len(paying):
        for line in lines:
            line["quantity"], line["unit_amount"] = 1, 1
        total = len(lines)
        paying = paying[:total]
    remaining = total
    for index, tender in enumerate(paying):
        after = len(paying) - 1 - index
        tender["amount"] = min(YEN_MAX, remaining - after) if after else remaining
        remaining -= tender["amount"]
    body["tenders"] = paying


def _cursors_only_as_issued(case: schemathesis.Case[Any]) -> None:
    """A page's ``cursor`` is one the server issued (its ``next``), MAC'd for that list and caller:
    a string the generator invents is no cursor, whatever its shape. A valid call asks for the first
    page, as a client does before it was given a cursor."""
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)


#: (role, Idempotency-Key) -> the one request that key names (see :func:`_idempotency_keys_name_one_request`).
_KEY_USES: dict[tuple[str, str], str] = {}


def _idempotency_keys_name_one_request(case: schemathesis.Case[Any]) -> None:
    """An ``Idempotency-Key`` names one request of its caller, on every operation (as Stripe's do:
    the header's description says so; a key sent again with another request is a client bug, 422
    ``idempotency_key_reused``). The generator draws keys from a small space and repeats them
    across operations; a key it already gave another request is replaced by a new one, as a client
    mints a key per request. The same request under the same key stays: that is a replay."""
    headers = case.headers
    key = headers.get(IDEMPOTENCY_HEADER) if isinstance(headers, MutableMapping) else None
    if not isinstance(key, str):
        return
    operation = case.operation.definition.raw.get("operationId")
    request = json.dumps([operation, case.path_parameters, case.query, case.body], sort_keys=True, default=repr)
    if _KEY_USES.setdefault((_role(case), key), request) != request:
        fresh = uuid.uuid4().hex
        headers[IDEMPOTENCY_HEADER] = fresh
        _KEY_USES[(_role(case), fresh)] = request


#: Where each operation that sets a password carries it.
NEW_PASSWORD_FIELDS = {
    "register": "password",
    "changePassword": "new_password",
    "confirmPasswordReset": "new_password",
    "requestUnlock": "new_password",
}
STRONG_PASSWORD = "quiet-harbour-lantern-58"


def _passwords_not_guessable(case: schemathesis.Case[Any]) -> None:
    """A valid new password of the declared length may still be guessable (the blocklist, too
    few different characters, the e-mail address): rules the schema describes and cannot say.
    Such a generated password is replaced by a strong one, as a user would choose another."""
    body: Any = case.body
    field = NEW_PASSWORD_FIELDS.get(str(case.operation.definition.raw.get("operationId")))
    if field is None or not isinstance(body, dict) or not isinstance(body.get(field), str):
        return
    email, name = str(body.get("email", "")), str(body.get("name", ""))
    if password_problems(body[field], email=email, name=name):
        body[field] = STRONG_PASSWORD


def _documents() -> dict[str, bytes]:
    """One small, readable document of each accepted type (nothing on it looks like a card)."""
    image = Image.new("RGB", (320, 200), "white")
    ImageDraw.Draw(image).text((20, 90), "Statement: nothing to see here", fill="black")
    files = {}
    for kind, media in (("PNG", "image/png"), ("JPEG", "image/jpeg")):
        out = io.BytesIO()
        image.save(out, kind)
        files[media] = out.getvalue()
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text="Statement: nothing to see here")
    files["application/pdf"] = bytes(pdf.output())
    return files


for _media, _content in _documents().items():
    schemathesis.openapi.media_type(_media, st.just(_content))


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case: schemathesis.Case[Any], suite: Suite) -> None:
    if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
        _tenders_pay_the_total(case)
        _passwords_not_guessable(case)
        _cursors_only_as_issued(case)
        _idempotency_keys_name_one_request(case)
    case.call_and_validate(timeout=30)
