"""What a service says about a request before its route runs: the body's type and shape (415,
``malformed_body``), which methods a path takes (405 with every one of them in ``Allow``), and
which ids, keys and passwords the contract accepts (declared exactly as they are checked)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mamori_common.idempotency import KEY_PATTERN
from mamori_common.path_ids import ID_PATTERN
from services.auth.accounts.addresses import EMAIL_PATTERN
from services.auth.credentials.passwords import password_problems
from services.orders.config import OrdersSettings
from services.orders.database import inbox
from services.orders.main import create_app
from tests.support.service_keys import service_token

EVENT = {"id": "e-1", "type": "x", "source": "auth", "occurred_at": "2026-01-01T00:00:00Z", "payload": {}}


@pytest.fixture
def orders(data_dir: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(OrdersSettings(data_dir=data_dir), migrate=True)
    with TestClient(app) as client:
        token = service_token(app, "auth")
        yield client, {"authorization": f"Bearer {token}"}


def _stored(client: TestClient) -> int:
    with client.app.state.db.session() as db:  # type: ignore[attr-defined]
        return int(db.execute(select(func.count()).select_from(inbox)).scalar_one())


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None])
def test_a_json_route_refuses_another_type_with_415(
    orders: tuple[TestClient, dict[str, str]], content_type: str | None
) -> None:
    client, auth = orders
    headers = auth | ({"content-type": content_type} if content_type else {})
    response = client.post("/internal/events", content=json.dumps(EVENT).encode(), headers=headers)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unsupported_media_type"
    assert _stored(client) == 0


@pytest.mark.parametrize(
    "body",
    [b"[" * 30_000 + b"]" * 30_000, b'{"a":' * 40 + b"1" + b"}" * 40, b"\xff\xfe{}", b'{"id": "abc", "type":'],
    ids=["deeper than the parser's stack", "deeper than 32 levels", "not UTF-8", "cut short"],
)
def test_json_that_cannot_be_read_is_malformed_body(orders: tuple[TestClient, dict[str, str]], body: bytes) -> None:
    client, auth = orders
    response = client.post("/internal/events", content=body, headers=auth | {"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed_body"
    assert _stored(client) == 0


def test_json_of_another_json_type_and_shallow_nesting_reach_the_route(
    orders: tuple[TestClient, dict[str, str]],
) -> None:
    client, auth = orders
    nested = EVENT | {"payload": {"a": [[[[{"b": 1}]]]]}}
    response = client.post(
        "/internal/events",
        content=json.dumps(nested).encode(),
        headers=auth | {"content-type": "application/cloudevents+json"},
    )
    assert response.status_code not in (400, 415), response.text


def test_405_names_every_method_the_path_takes(data_dir: Path) -> None:
    from services.auth.config import AuthSettings
    from services.auth.main import create_app as create_auth

    with TestClient(create_auth(AuthSettings(data_dir=data_dir), migrate=True)) as client:
        # One passkey: PATCH (rename) and DELETE are two routes; Starlette named only the first.
        response = client.request("TRACE", "/api/auth/passkeys/p-1")
        listing = client.request("PUT", "/api/auth/passkeys")
        registration = client.request("OPTIONS", "/api/auth/passkeys/registration")
        sign_in = client.request("OPTIONS", "/api/auth/passkeys/sign-in")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"DELETE", "PATCH"}
    assert set(listing.headers["allow"].split(", ")) == {"GET", "HEAD"}
    # "registration" also fits /passkeys/{passkey_id}; the resource is the registration route's.
    assert registration.headers["allow"] == "POST"
    assert sign_in.headers["allow"] == "POST"


@pytest.mark.parametrize("value", ["0123456789abcdef0123456789abcdef", "c-1", "A_b"])
def test_path_ids_minted_and_named_by_hand_fit_the_declared_pattern(value: str) -> None:
    assert re.fullmatch(ID_PATTERN, value)


@pytest.mark.parametrize("value", ["..", "a/b", "a\\b", "a b", "é", "x" * 65, ""])
def test_path_ids_the_edges_refuse_are_outside_the_declared_pattern(value: str) -> None:
    assert re.fullmatch(ID_PATTERN, value) is None


def test_an_id_outside_the_pattern_is_refused_by_the_service_before_any_lookup(data_dir: Path) -> None:
    from services.auth.config import AuthSettings
    from services.auth.main import create_app as create_auth

    with TestClient(create_auth(AuthSettings(data_dir=data_dir), migrate=True)) as client:
        response = client.delete("/api/auth/passkeys/a%20b", headers={"authorization": "Bearer x"})
    assert response.status_code in (401, 422)


@pytest.mark.parametrize(
    ("key", "valid"),
    [("3f2a-uuid", True), ("a" * 255, True), ("a" * 256, False), ("with space", False), (" lead", False), ("é", False)],
)
def test_the_idempotency_key_pattern_is_what_is_checked(key: str, valid: bool) -> None:
    from mamori_common.idempotency import _validate
    from mamori_common.problems import Problem

    assert (re.fullmatch(KEY_PATTERN, key) is not None) is valid
    if valid:
        assert _validate(key) == key
    else:
        with pytest.raises(Problem):
            _validate(key)


@pytest.mark.parametrize(("password", "refused"), [("abcdefe\u0301", False), ("kettle7", True), ("k" * 129, True)])
def test_the_declared_length_is_the_length_the_policy_counts(password: str, refused: bool) -> None:
    """Code points as sent, as JSON Schema counts them (NFKC could make ``e`` + accent one)."""
    from pydantic import ValidationError

    from services.auth.accounts.schemas import RegisterRequest

    length_refused = any(
        problem.startswith(("at least", "at most")) for problem in password_problems(password, email="x@y.jp", name="N")
    )
    try:
        RegisterRequest(email="x@y.jp", password=password, name="N")
        schema_refused = False
    except ValidationError:
        schema_refused = True
    assert length_refused is refused and schema_refused is refused


@pytest.mark.parametrize(
    ("address", "valid"),
    [("hana@demo.mamori.example", True), ("a.b+c@shop.co.jp", True), ("x@message.test", False), ("x@host.LOCAL", False),
     ('"a b"@x.jp', False), ("a@[1.2.3.4]", False), ("a..b@x.jp", False), ("a@b", False)],
)  # fmt: skip
def test_the_declared_email_pattern_is_what_register_accepts(address: str, valid: bool) -> None:
    from pydantic import ValidationError

    from services.auth.accounts.schemas import RegisterRequest

    assert (re.fullmatch(EMAIL_PATTERN, address) is not None) is valid
    try:
        RegisterRequest(email=address, password="kettle-orchard-93", name="Hana")
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted is valid


@pytest.mark.parametrize(("local", "valid"), [("k" * 64, True), ("k" * 65, False), ("a." * 32 + "b", False)])
def test_a_local_part_longer_than_64_is_refused_as_format_email_declares(local: str, valid: bool) -> None:
    """RFC 5321's 64 octets, which ``format: email`` (in the OpenAPI) holds clients to."""
    from pydantic import ValidationError

    from services.auth.accounts.schemas import RegisterRequest

    try:
        RegisterRequest(email=f"{local}@x.jp", password="kettle-orchard-93", name="Hana")
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted is valid
