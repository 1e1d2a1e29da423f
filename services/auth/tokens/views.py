"""The JWKS endpoint every service and the gateway fetch auth's public keys from."""

from typing import Any

from fastapi import APIRouter

from services.auth.deps import SigningKeyDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.get("/.well-known/jwks.json", operation_id="getJwks", summary="Public keys for access tokens")
def jwks(key: SigningKeyDep) -> dict[str, Any]:
    return key.jwks()
