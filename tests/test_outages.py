"""PostgreSQL or Redis dies under running services: 503 with Retry-After, then back by itself.

``mamori run`` is started on a PostgreSQL and a Redis of the test's own
(``tests/support/private_servers.py``), which the test kills and starts again; the shared
servers are never touched. While the database is down, sign-in, refresh, ``getMe``,
``listOrders`` and ``listCases`` answer ``503 database_unavailable`` as an RFC 9457 problem with
``Retry-After`` (it was an unhandled ``psycopg.OperationalError``, a 500). Redis down alone
changes nothing a customer sees (every quota fails open). Once the servers are back the same
requests succeed with no restart.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.services import DATABASE_SERVICES
from mamori_common.problems import PROBLEM_MEDIA_TYPE
from tests.support.private_servers import private_postgres, private_redis
from tests.support.processes import MamoriRun
from tests.support.servers import wait_until
from tests.test_system import STRONG_PASSWORD, operations

pytestmark = pytest.mark.system


def test_a_lost_database_is_a_503_and_everything_recovers_by_itself(tmp_path: Path) -> None:
    with private_postgres() as postgres, private_redis() as redis_server:
        databases = postgres.create_databases([spec.name for spec in DATABASE_SERVICES])
        env = {f"MAMORI_{name.upper()}_DATABASE_URL": url for name, url in databases.items()}
        env["MAMORI_REDIS_URL"] = redis_server.url
        run = MamoriRun(tmp_path / "var", ["--no-demo"], env)
        try:
            run.start()
            _lose_and_regain_the_dependencies(run, postgres, redis_server)
        finally:
            run.close()


def _lose_and_regain_the_dependencies(run: MamoriRun, postgres: Any, redis_server: Any) -> None:
    with httpx.Client(base_url=run.gateway_url, timeout=30) as gateway:
        paths = operations(gateway.get("/openapi.json").json())

        def call(operation: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
            method, path = paths[operation]
            headers = {"authorization": f"Bearer {token}"} if token else {}
            return gateway.request(method, path, headers=headers, **kwargs)

        email = f"outage-{uuid.uuid4().hex[:10]}@example.com"
        registered = call("register", json={"email": email, "password": STRONG_PASSWORD, "name": "Sora Aoki"})
        assert registered.status_code == 201, registered.text
        signed_in = call("login", json={"email": email, "password": STRONG_PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        tokens = {"access": signed_in.json()["access_token"], "refresh": signed_in.json()["refresh_token"]}

        def each_request() -> dict[str, httpx.Response]:
            answers = {
                "login": call("login", json={"email": email, "password": STRONG_PASSWORD}),
                "getMe": call("getMe", tokens["access"]),
                "listOrders": call("listOrders", tokens["access"]),
                "listCases": call("listCases", tokens["access"]),
                "refreshToken": call("refreshToken", json={"refresh_token": tokens["refresh"]}),
            }
            if answers["refreshToken"].status_code == 200:
                tokens["refresh"] = answers["refreshToken"].json()["refresh_token"]
                tokens["access"] = answers["refreshToken"].json()["access_token"]
            return answers

        assert {name: answer.status_code for name, answer in each_request().items()} == dict.fromkeys(
            ("login", "getMe", "listOrders", "listCases", "refreshToken"), 200
        )

        # Redis dies: quotas fail open, nobody notices.
        redis_server.stop()
        answers = each_request()
        assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 200), {
            name: answer.text for name, answer in answers.items() if answer.status_code != 200
        }

        # PostgreSQL dies too: a 503 problem with Retry-After on every request that needs it.
        postgres.stop("immediate")
        for name, answer in each_request().items():
            assert answer.status_code == 503, f"{name}: {answer.status_code} {answer.text}"
            assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), name
            assert answer.json()["code"] == "database_unavailable", f"{name}: {answer.text}"
            assert int(answer.headers["retry-after"]) > 0, name

        # Both come back: the very same requests succeed, with no restart of any service.
        postgres.start()
        redis_server.start()

        def all_succeed() -> bool:
            return all(answer.status_code == 200 for answer in each_request().values())

        wait_until(all_succeed, timeout=30, interval=0.5, what="every request to succeed again")
        me = call("getMe", tokens["access"])
        assert me.status_code == 200 and me.json()["email"] == email
