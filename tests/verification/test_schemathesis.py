"""Schemathesis against verification's own OpenAPI, in-process over ASGI: no input makes a 5xx.

Each operation is called with a valid token of the role it is meant for (a customer for the
customer routes, a specialist for the staff ones), so generated bodies reach the handlers rather
than stopping at the 401; a seeded case gives the generator real ids to stumble on as well.
The app is built at import (schemathesis needs the schema when tests are collected) in a data dir
of its own, and started and removed by a module fixture.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.verification.conftest import harness_for

ACCOUNT = "a" * 32
_DATA_DIR = Path(tempfile.mkdtemp(prefix="mamori-verification-schemathesis-"))
# Built at import without starting it (no lifespan, no threads): collecting this module leaves
# nothing running. The fixture below starts it, seeds a case, and removes the data dir.
HARNESS = harness_for(_DATA_DIR)
schema = schemathesis.openapi.from_asgi("/openapi.json", HARNESS.app)


@pytest.fixture(scope="module", autouse=True)
def _running() -> Iterator[None]:
    with HARNESS.client:
        HARNESS.hold_payment(ACCOUNT, order_id=uuid.uuid4().hex)
        yield
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx(case: schemathesis.Case[Any]) -> None:
    role = "specialist" if "/staff/" in case.path else "customer"
    response = case.call(headers={"authorization": f"Bearer {HARNESS.token(ACCOUNT, role)}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    )
    if response.status_code >= 400:
        content_type = response.headers["content-type"]
        assert "".join(content_type).startswith("application/problem+json")
        assert response.json()["code"]
