"""Service-to-service tokens: each service signs with its own Ed25519 key; the receiver checks the
key of the service the token names, so no service can pass for another, and each internal
endpoint lets only the services on its list in."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mamori_common.problems import Problem
from mamori_common.route_shapes import _walk
from mamori_common.service_auth import mint_service_token, service_caller, verify_service_token
from mamori_common.service_keys import (
    ServiceKey,
    ServiceKeyring,
    ensure_key_pairs,
    public_key_dir,
    public_text,
)
from portal.config import PortalSettings
from services.auth.config import AuthSettings
from services.orders.config import OrdersSettings

ORDERS = ServiceKey("orders", Ed25519PrivateKey.generate())
VERIFICATION = ServiceKey("verification", Ed25519PrivateKey.generate())
KEYRING = ServiceKeyring(
    {"orders": public_text(ORDERS.public_key), "verification": public_text(VERIFICATION.public_key)}, None
)


def _refused(token: str, audience: str = "auth", keyring: ServiceKeyring = KEYRING) -> Problem:
    with pytest.raises(Problem) as refused:
        verify_service_token(token, keyring, audience)
    assert refused.value.status == 401 and refused.value.code == "invalid_service_token"
    return refused.value


def _claims(issuer: str = "orders", audience: str = "auth", age: int = 0) -> dict[str, object]:
    now = int(time.time()) - age
    return {"iss": issuer, "aud": audience, "sub": f"service:{issuer}", "iat": now, "exp": now + 60}


def test_a_token_names_its_caller_and_is_proven_by_its_key() -> None:
    token = mint_service_token(ORDERS, "auth")
    assert verify_service_token(token, KEYRING, "auth") == "orders"
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"


def test_a_token_signed_by_orders_claiming_to_be_verification_is_refused() -> None:
    """Orders holds only its own key: it cannot sign as verification, whatever it writes in ``iss``."""
    forged = jwt.encode(_claims("verification"), ORDERS.private_key, algorithm="EdDSA")
    _refused(forged)
    renamed = mint_service_token(ServiceKey("verification", ORDERS.private_key), "auth")
    _refused(renamed)


def test_the_old_hs256_token_of_the_former_shared_secret_is_refused() -> None:
    secret = "the-former-shared-service-secret-0123456789"
    _refused(jwt.encode(_claims(), secret, algorithm="HS256"))
    # Nor a public key used as an HMAC secret (the classic algorithm confusion).
    _refused(jwt.encode(_claims(), public_text(ORDERS.public_key), algorithm="HS256"))


def test_a_token_for_one_service_is_refused_by_another() -> None:
    _refused(mint_service_token(ORDERS, "auth"), audience="verification")


def test_a_token_of_an_unknown_or_keyless_caller_is_refused() -> None:
    _refused(mint_service_token(ServiceKey("auth", Ed25519PrivateKey.generate()), "orders"), audience="orders")
    _refused(mint_service_token(ServiceKey("portal", Ed25519PrivateKey.generate()), "auth"))
    _refused(mint_service_token(ServiceKey("orders", Ed25519PrivateKey.generate()), "auth"))  # another deployment's


def test_an_expired_token_is_refused() -> None:
    _refused(jwt.encode(_claims(age=600), ORDERS.private_key, algorithm="EdDSA"))


def test_an_unsigned_token_is_refused() -> None:
    _refused(jwt.encode(_claims(), None, algorithm="none"))  # type: ignore[arg-type]  # "none" takes no key


def test_a_token_for_several_services_or_living_long_is_refused() -> None:
    """What only a leaked or compromised signer would mint: one token opening several services,
    or one that outlives the minute every honest token has."""
    _refused(jwt.encode({**_claims(), "aud": ["auth", "verification"]}, ORDERS.private_key, algorithm="EdDSA"))
    long_lived = {**_claims(), "exp": int(time.time()) + 365 * 86400}
    _refused(jwt.encode(long_lived, ORDERS.private_key, algorithm="EdDSA"))
    assert (
        verify_service_token(jwt.encode(_claims(), ORDERS.private_key, algorithm="EdDSA"), KEYRING, "auth") == "orders"
    )


def _app_allowing(*allowed: str) -> FastAPI:
    app = FastAPI()
    app.state.service_name = "auth"
    app.state.service_keyring = KEYRING

    @app.get("/internal/thing")
    def thing(caller: str = Depends(service_caller(*allowed))) -> dict[str, str]:
        return {"caller": caller}

    from mamori_common.problems import install_problem_handlers

    install_problem_handlers(app)
    return app


def test_a_caller_not_on_the_endpoints_list_gets_403() -> None:
    with TestClient(_app_allowing("orders")) as client:
        allowed = client.get(
            "/internal/thing", headers={"authorization": f"Bearer {mint_service_token(ORDERS, 'auth')}"}
        )
        other = client.get(
            "/internal/thing", headers={"authorization": f"Bearer {mint_service_token(VERIFICATION, 'auth')}"}
        )
        anonymous = client.get("/internal/thing")
    assert allowed.status_code == 200 and allowed.json() == {"caller": "orders"}
    assert other.status_code == 403 and other.json()["code"] == "caller_not_allowed", other.text
    assert anonymous.status_code == 401


def test_every_internal_route_of_every_service_names_who_may_call_it(data_dir: Path) -> None:
    from services.auth.main import create_app as auth_app
    from services.orders.main import create_app as orders_app
    from services.verification.config import VerificationSettings
    from services.verification.main import create_app as verification_app

    apps = {
        "auth": auth_app(AuthSettings(data_dir=data_dir)),
        "orders": orders_app(OrdersSettings(data_dir=data_dir)),
        "verification": verification_app(VerificationSettings(data_dir=data_dir)),
    }
    lists: dict[str, frozenset[str]] = {}
    for name, app in apps.items():
        for route in _walk(app.router.routes):
            if getattr(route, "path", "").startswith("/internal/"):
                dependant = getattr(route, "original_route", route).dependant
                checks = [d.call for d in dependant.dependencies if isinstance(d.call, service_caller)]
                assert len(checks) == 1, f"{name} {route.path} does not say who may call it"
                lists[f"{name} {route.path}"] = checks[0].allowed
    assert lists["auth /internal/accounts/{account_id}/standing"] == {"orders"}
    assert lists["auth /internal/revocations"] == {"orders", "verification"}
    assert lists["auth /internal/events"] == {"orders", "verification"}
    assert lists["orders /internal/events"] == {"auth", "verification"}
    assert lists["verification /internal/events"] == {"auth", "orders"}


def test_each_service_has_its_own_key_and_the_portal_none(data_dir: Path) -> None:
    files = ensure_key_pairs(data_dir)
    assert len(set(files.values())) == 3 and all((path.stat().st_mode & 0o077) == 0 for path in files.values())
    keys = {
        name: OrdersSettings(data_dir=data_dir, service_key_file=path).resolved_service_key()
        for name, path in files.items()
    }
    assert len({public_text(key.public_key) for key in keys.values()}) == 3, "no two services share a key"
    published = {path.stem for path in public_key_dir(data_dir).glob("*.pub")}
    assert published == {"auth", "verification", "orders"}
    portal = PortalSettings(data_dir=data_dir)
    assert not {field for field in PortalSettings.model_fields if "service" in field and "key" in field}
    assert not hasattr(portal, "resolved_service_key") and not hasattr(portal, "service_secret")
    csrf_key = portal.resolved_csrf_key()
    assert csrf_key and all(csrf_key not in path.read_text() for path in files.values())
    assert (
        PortalSettings(data_dir=data_dir, portal_csrf_key=SecretStr("configured-csrf-key")).resolved_csrf_key()
        == "configured-csrf-key"
    )


def test_mamori_run_hands_each_service_its_own_key_file_and_the_portal_none(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra.launcher import Launcher
    from infra.services import BACKEND_SERVICES, GATEWAY

    monkeypatch.setenv("MAMORI_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MAMORI_SERVICE_PRIVATE_KEY", "a-key-from-a-shell-goes-to-nobody")
    launcher = Launcher()
    shared = launcher.environment()
    given = {spec.name: launcher.process_environment(spec, shared) for spec in (*BACKEND_SERVICES, GATEWAY)}

    assert "MAMORI_SERVICE_PRIVATE_KEY" not in shared
    monkeypatch.delenv("MAMORI_SERVICE_PRIVATE_KEY")
    files = {name: env.get("MAMORI_SERVICE_KEY_FILE") for name, env in given.items()}
    assert files["portal"] is None and files["gateway"] is None
    signing = {name: files[name] for name in ("auth", "verification", "orders")}
    assert len(set(signing.values())) == 3 and all(signing.values()), signing
    for name, path in signing.items():
        assert path is not None
        key = OrdersSettings(data_dir=data_dir, service_key_file=Path(path)).resolved_service_key()
        assert public_text(key.public_key) == (public_key_dir(data_dir) / f"{name}.pub").read_text().strip()


def test_mamori_run_gives_a_secret_set_in_the_shell_to_its_owner_alone(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Auth's token-signing key mints any customer's session: the portal, the gateway, orders and
    verification never get it, even when the operator exported it."""
    from infra.launcher import Launcher
    from infra.services import BACKEND_SERVICES, GATEWAY

    monkeypatch.setenv("MAMORI_DATA_DIR", str(data_dir))
    secrets = {
        "MAMORI_AUTH_SIGNING_KEY": "auth",
        "MAMORI_AUTH_ENCRYPTION_KEY": "auth",
        "MAMORI_VERIFICATION_DOCUMENT_KEYS": "verification",
        "MAMORI_PORTAL_CSRF_KEY": "portal",
    }
    for variable in secrets:
        monkeypatch.setenv(variable, f"value-of-{variable}")
    launcher = Launcher()
    shared = launcher.environment()
    for spec in (*BACKEND_SERVICES, GATEWAY):
        given = launcher.process_environment(spec, shared)
        held = {variable for variable in secrets if variable in given}
        assert held == {variable for variable, owner in secrets.items() if owner == spec.name}, spec.name


def test_every_routed_event_is_taken_by_its_subscriber_from_that_producer_and_no_other() -> None:
    """The producers' routes and the consumers' lists say the same thing: nothing a producer sends
    is refused (it would be parked), and no list lets in a service that never sends that type."""
    from services.auth.main import SPEC as AUTH
    from services.orders.main import SPEC as ORDERS_SPEC
    from services.verification.main import SPEC as VERIFICATION_SPEC

    specs = {spec.name: spec for spec in (AUTH, ORDERS_SPEC, VERIFICATION_SPEC)}

    def taken(name: str) -> dict[str, frozenset[str]]:
        spec = specs[name]
        lists = {event: frozenset(item.sources) for event, item in spec.event_handlers.items()}
        if spec.revocations_table is not None:
            lists["session.revoked"] = frozenset({"auth"})
        return lists

    sent = {
        (subscriber, event, producer)
        for producer, spec in specs.items()
        for event, subscribers in spec.event_routes.items()
        for subscriber in subscribers
    }
    allowed = {
        (subscriber, event, source)
        for subscriber in specs
        for event, sources in taken(subscriber).items()
        for source in sources
    }
    assert sent == allowed
