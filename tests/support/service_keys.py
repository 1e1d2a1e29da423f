"""Service tokens in tests: each caller signs with its own key, as in a deployment.

The key of ``caller`` is made (once) in the app's data dir, where the app looks up public keys by
the caller's name, so a test calls an internal route exactly as that service would.
"""

from __future__ import annotations

from fastapi import FastAPI

from mamori_common.service_auth import mint_service_token
from mamori_common.service_keys import ServiceKey, load_or_create_key, private_key_file
from mamori_common.settings import ServiceSettings


def key_of(app: FastAPI, caller: str) -> ServiceKey:
    """``caller``'s own private key, in the data dir ``app`` reads public keys from."""
    settings: ServiceSettings = app.state.settings
    path = private_key_file(settings.data_dir, caller)
    return load_or_create_key(caller, path, settings.resolved_public_keys_dir())


def service_token(app: FastAPI, caller: str) -> str:
    """A token ``caller`` would send to ``app``."""
    return mint_service_token(key_of(app, caller), app.state.service_name)


def service_headers(app: FastAPI, caller: str) -> dict[str, str]:
    return {"authorization": f"Bearer {service_token(app, caller)}"}
