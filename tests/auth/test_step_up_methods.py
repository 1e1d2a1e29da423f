"""The step-up methods register themselves (services/auth/signin/methods/), and sign-in answers
with each of them through the registry alone: an account with TOTP and a passkey is offered both,
in the rules' order, and either one completes the sign-in; the app refuses to start without one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.auth.config import AuthSettings
from services.auth.main import STEP_UP_METHODS, create_app
from services.auth.signin import methods, policy
from tests.auth.conftest import AuthHarness
from tests.auth.test_passkeys import add_passkey
from tests.auth.test_totp import code_now, enable_totp
from tests.support.auth_signin import COMPLETE, login, owner_signs_in_at_home
from tests.support.webauthn_authenticator import SoftwareAuthenticator, b64url

#: Each method and the module that registers it (the passkey from its own domain).
MODULES = {
    "email_code": "services.auth.signin.methods.mail_code",
    "totp": "services.auth.signin.methods.totp",
    "recovery_code": "services.auth.signin.methods.recovery_code",
    "passkey": "services.auth.passkeys.step_up",
}


def test_the_registry_holds_exactly_the_four_methods_each_registered_by_its_own_module() -> None:
    registered = methods.registered()
    assert sorted(registered) == sorted(MODULES) == sorted(policy.GUARD_METHODS) == sorted(policy.METHOD_PROOFS)
    assert {name: type(method).__module__ for name, method in registered.items()} == MODULES
    assert [method.name for method in STEP_UP_METHODS] == ["email_code", "totp", "recovery_code", "passkey"]
    assert all(registered[method.name] is method for method in STEP_UP_METHODS)


def answer(auth: AuthHarness, problem: dict[str, Any], method: str, value: Any, device: str) -> Any:
    body = {"challenge_id": problem["challenge_id"], "method": method}
    body["credential" if method == "passkey" else "code"] = value
    return auth.call("POST", COMPLETE, device=device, json=body)


def test_an_account_with_totp_and_a_passkey_is_offered_both_and_either_signs_in(auth: AuthHarness) -> None:
    access = owner_signs_in_at_home(auth)
    secret, _ = enable_totp(auth, access)
    authenticator = SoftwareAuthenticator()
    add_passkey(auth, access, authenticator)

    by_passkey = login(auth, device="new-phone-0001").json()
    assert by_passkey["code"] == "challenge_required"
    assert by_passkey["methods"] == ["passkey", "totp", "recovery_code"]  # the passkey first, never the mailbox
    assert by_passkey["detail"] == (
        "One more check to sign in: Use your passkey, enter the code from your authenticator app, "
        "or enter one of your recovery codes."
    )
    allowed = [item["id"] for item in by_passkey["passkey_options"]["allowCredentials"]]
    assert allowed == [b64url(authenticator.only_credential_id())]
    signed = answer(auth, by_passkey, "passkey", authenticator.get(by_passkey["passkey_options"]), "new-phone-0001")
    assert signed.status_code == 200 and signed.json()["access_token"], signed.text

    auth.clock.advance(seconds=31)  # a fresh TOTP step
    by_totp = login(auth, device="new-tablet-0002").json()
    assert by_totp["methods"] == ["passkey", "totp", "recovery_code"]
    wrong = answer(auth, by_totp, "totp", "000000", "new-tablet-0002")
    assert wrong.status_code == 401 and wrong.json()["detail"].startswith("This code is wrong"), wrong.text
    signed = answer(auth, by_totp, "totp", code_now(auth, secret), "new-tablet-0002")
    assert signed.status_code == 200 and signed.json()["access_token"], signed.text


def test_the_app_refuses_to_start_when_a_method_the_rules_name_is_not_registered(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_passkey = {name: method for name, method in methods.registered().items() if name != "passkey"}
    monkeypatch.setattr(methods, "_REGISTRY", without_passkey)
    with pytest.raises(RuntimeError, match="no step-up method registered for passkey"):
        create_app(AuthSettings(data_dir=data_dir))
