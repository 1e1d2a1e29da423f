"""Every error comes out as an RFC 9457 problem with a stable code, and changes nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mamori_common.observability import configure_logging
from services.orders.config import OrdersSettings
from services.orders.database import inbox
from services.orders.main import create_app
from tests.support.service_keys import service_token


def _client(data_dir: Path) -> TestClient:
    return TestClient(create_app(OrdersSettings(data_dir=data_dir), migrate=True))


def test_unknown_path_is_a_problem(data_dir: Path) -> None:
    with _client(data_dir) as client:
        response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_wrong_method_is_a_problem(data_dir: Path) -> None:
    with _client(data_dir) as client:
        response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_malformed_json_is_a_400_problem_and_records_nothing(data_dir: Path) -> None:
    app = create_app(OrdersSettings(data_dir=data_dir), migrate=True)
    with TestClient(app) as client:
        token = service_token(app, "auth")
        response = client.post(
            "/internal/events",
            content=b'{"id": "abc", "type":',
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
        with app.state.db.session() as db:
            stored = db.execute(select(func.count()).select_from(inbox)).scalar_one()
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_body"
    assert stored == 0


def test_wrong_types_are_a_422_problem_naming_the_field(data_dir: Path) -> None:
    app = create_app(OrdersSettings(data_dir=data_dir), migrate=True)
    with TestClient(app) as client:
        token = service_token(app, "auth")
        response = client.post(
            "/internal/events",
            json={"id": "abc", "type": "x", "source": "auth", "occurred_at": "yesterday", "payload": []},
            headers={"authorization": f"Bearer {token}"},
        )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert {tuple(error["location"]) for error in body["errors"]} >= {("body", "occurred_at"), ("body", "payload")}


def test_every_response_carries_a_request_id(data_dir: Path) -> None:
    with _client(data_dir) as client:
        kept = client.get("/healthz", headers={"x-request-id": "req-0123456789"})
        minted = client.get("/healthz", headers={"x-request-id": "bad id\n"})
    assert kept.headers["x-request-id"] == "req-0123456789"
    assert minted.headers["x-request-id"] not in ("", "bad id\n")


def test_no_log_line_holds_a_card_number_in_its_message_extras_or_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The kit's last guard: a value no call site masked (an exception quoting what a client sent)."""
    configure_logging("orders")
    log = logging.getLogger("mamori.test")
    try:
        raise ValueError("no order 4556737586899855")
    except ValueError:
        log.exception("failed for %s", "4556 7375 8689 9855", extra={"path": "/api/orders/orders/4556737586899855"})
    log.warning("full width ４５５６７３７５８６８９９８５５ and a phone 090-1234-5678")
    written = capsys.readouterr().err
    assert written.count("\n") == 2 and "ValueError" in written and "090-1234-5678" in written
    for needle in ("4556737586899855", "4556 7375 8689 9855", "８６８９"):
        assert needle not in written, written


def test_an_unhandled_error_logs_the_path_masked(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(OrdersSettings(data_dir=data_dir), migrate=True)

    @app.get("/api/orders/boom/{anything}")
    def boom(anything: str) -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/orders/boom/4556737586899855").status_code == 500
    written = capsys.readouterr().err
    assert '"message": "unhandled error"' in written and "/api/orders/boom/" in written
    assert "4556737586899855" not in written
