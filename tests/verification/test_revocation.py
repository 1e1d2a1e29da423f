"""Verification refuses the access token of an ended session (``mamori_common/revocations.py``).

On main ``listCases`` and ``requestCallback`` went on working for a frozen account's sessions for
the rest of their tokens' ten minutes. Here auth's ``session.revoked`` (sent for a logout,
"sign out everywhere" and a freeze alike) stops the named sessions at once, and only them.
"""

from __future__ import annotations

import uuid

from mamori_common.contract import SESSION_REVOKED
from tests.verification.conftest import VerificationHarness


def test_listcases_and_requestcallback_refuse_a_revoked_session(verification: VerificationHarness) -> None:
    account_id, ended, other = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    headers = verification.as_user(account_id, session_id=ended)
    assert verification.client.get("/api/verification/cases", headers=headers).status_code == 200

    verification.publish(
        SESSION_REVOKED,
        {
            "account_id": account_id,
            "session_ids": [ended],
            "reason": "account_frozen",
            "revoked_at": verification.clock.now().isoformat(),
        },
    )

    listed = verification.client.get("/api/verification/cases", headers=headers)
    callback = verification.client.post("/api/verification/callbacks", headers=headers, json={"phone": "03-1234-5678"})
    for answer in (listed, callback):
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "session_revoked"
    assert verification.cases(account_id) == [], "no callback case was opened for the ended session"
    still = verification.client.get(
        "/api/verification/cases", headers=verification.as_user(account_id, session_id=other)
    )
    assert still.status_code == 200
