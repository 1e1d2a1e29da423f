"""Redis stopped mid-run: the failures it counted must not vanish with it.

The throttle's "under attack" count lives in Redis; when Redis does not answer, the sign-in counts
the account's failures from clients it does not know in the database instead
(``signin.service.foreign_failures_since_success``), so the step-up those failures earned still
holds. A real auth app on a Redis of the test's own (tests/support/private_servers.py), killed
between the guesses and the sign-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.conftest import AuthHarness
from tests.support.auth_signin import harness, login, owner_signs_in_at_home
from tests.support.private_servers import PrivateRedis, private_redis


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def on_redis(data_dir: Path, redis_server: PrivateRedis) -> Iterator[AuthHarness]:
    yield from harness(data_dir, redis_url=redis_server.url, quota_key_prefix="mamori-auth-redis-down")


def test_with_redis_killed_the_step_up_six_wrong_guesses_earned_still_holds(
    on_redis: AuthHarness, redis_server: PrivateRedis
) -> None:
    auth = on_redis
    owner_signs_in_at_home(auth)  # the owner's laptop is known from home
    for n in range(6):
        assert login(auth, f"guess-number-{n}", ip=f"198.51.100.{n + 1}", device=None).status_code == 401
    # With Redis up, the right password from a new address is asked the step-up ...
    before = login(auth, ip="198.51.100.40")
    assert before.status_code == 401 and before.json()["code"] == "challenge_required", before.text

    redis_server.stop()

    # ... and with Redis gone it still is: the failures are read back from the database.
    after = login(auth, ip="198.51.100.41")
    assert after.status_code == 401 and after.json()["code"] == "challenge_required", after.text
    assert "access_token" not in after.json()
    assert auth.app.state.quotas.store_errors._value.get() > 0  # the outage was seen, not silent


def test_with_redis_killed_an_account_nobody_attacked_signs_in_as_before(
    on_redis: AuthHarness, redis_server: PrivateRedis
) -> None:
    auth = on_redis
    owner_signs_in_at_home(auth)
    redis_server.stop()

    again = login(auth, ip="198.51.100.42")

    assert again.status_code == 200 and again.json()["access_token"], again.text
