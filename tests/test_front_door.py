"""Every service's front door (mamori_common/front_door.py): bodies capped before they are
parsed, HEAD answered like GET without the body."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from mamori_common.app import create_base_app
from mamori_common.front_door import UPLOAD_BODY_LIMIT
from mamori_common.settings import CommonSettings

PROBLEM_TYPE = "application/problem+json"


class Login(BaseModel):
    email: str


@pytest.fixture
def app() -> FastAPI:
    app = create_base_app("demo", "demo", "front door test", CommonSettings())
    app.state.parsed = []

    @app.post("/login")
    def login(body: Login) -> dict[str, str]:
        app.state.parsed.append(body.email)
        return {"email": body.email}

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    @app.get("/")
    def landing() -> dict[str, str]:
        return {"page": "landing"}

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def oversize_json() -> bytes:
    return b'{"email": "' + b"a" * (5 * 1024 * 1024) + b'"}'


def assert_body_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM_TYPE
    assert response.json()["code"] == "body_too_large"
    assert response.headers["x-request-id"]


def test_a_5_mb_json_body_is_refused_by_its_length_before_it_is_read(client: TestClient, app: FastAPI) -> None:
    response = client.post("/login", content=oversize_json(), headers={"content-type": "application/json"})
    assert_body_too_large(response)
    assert app.state.parsed == []


def test_a_chunked_json_body_is_refused_once_it_grows_past_64_kb(client: TestClient, app: FastAPI) -> None:
    body = oversize_json()
    chunks = iter([body[:1000], body[1000:70_000], body[70_000:]])
    response = client.post("/login", content=chunks, headers={"content-type": "application/json"})
    assert_body_too_large(response)
    assert app.state.parsed == []


def test_json_within_the_limit_is_parsed(client: TestClient, app: FastAPI) -> None:
    assert client.post("/login", json={"email": "hana@example.com"}).status_code == 200
    assert app.state.parsed == ["hana@example.com"]


def test_uploads_may_be_larger_but_not_larger_than_10_mb(client: TestClient) -> None:
    form = {"content-type": "multipart/form-data; boundary=x"}
    assert client.post("/upload", content=b"x" * (3 * 1024 * 1024), headers=form).json() == {"length": 3 * 1024 * 1024}
    assert_body_too_large(client.post("/upload", content=b"x" * (UPLOAD_BODY_LIMIT + 1), headers=form))


def test_head_answers_like_get_without_a_body(client: TestClient) -> None:
    get = client.get("/")
    head = client.head("/")
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["content-type"] == get.headers["content-type"]
