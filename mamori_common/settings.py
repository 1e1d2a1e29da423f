"""Settings every process reads, with the ``MAMORI_`` prefix (pydantic-settings).

A service adds its own fields by subclassing :class:`CommonSettings`. The database URL of a
service is ``MAMORI_<SERVICE>_DATABASE_URL``; when unset, it is a SQLite file under the data dir,
which is what the embedded default (``make run``) uses.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mamori_common.service_keys import (
    ServiceKey,
    ServiceKeyring,
    load_or_create_key,
    parse_private_key,
    private_key_file,
    public_key_dir,
)

SERVICE_NAMES = ("auth", "verification", "orders", "portal")


UpstreamList = Annotated[list[str], NoDecode]


def check_upstream_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"an upstream must be an http(s) URL with a host, not {url!r}")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(f"an upstream is a base URL without a path: {url!r} (paths are forwarded unchanged)")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class CommonSettings(BaseSettings):
    """What every process needs to know about the deployment it runs in."""

    model_config = SettingsConfigDict(env_prefix="MAMORI_", extra="ignore")

    data_dir: Path = Path("var")
    log_level: str = "INFO"
    #: Addresses whose ``X-Forwarded-For`` is believed (the gateway, a load balancer).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    auth_url: str = "http://127.0.0.1:8001"
    verification_url: str = "http://127.0.0.1:8002"
    orders_url: str = "http://127.0.0.1:8003"
    portal_url: str = "http://127.0.0.1:8004"
    #: Every replica of a service, comma-separated: the gateway forwards to them and the other
    #: services call them (``mamori_common/internal_http.py``). Empty: the one ``<service>_url``.
    auth_upstreams: UpstreamList = Field(default_factory=list)
    verification_upstreams: UpstreamList = Field(default_factory=list)
    orders_upstreams: UpstreamList = Field(default_factory=list)
    portal_upstreams: UpstreamList = Field(default_factory=list)
    #: How long a replica that refused a connection (or answered 5xx) is passed over.
    replica_cooldown_seconds: float = 5.0
    redis_url: str | None = None
    smtp_url: str | None = None
    #: How often an idle outbox dispatcher looks for due events, in seconds.
    outbox_poll_interval: float = 0.5
    #: A delivery that failed this many times, or an event this old, is parked for an operator.
    outbox_max_attempts: int = 25
    outbox_max_age_seconds: int = 3 * 24 * 3600
    #: How often each replica pulls auth's ended sessions (the bound on a revocation's delay
    #: when its event lags; ``mamori_common/revocations.py``).
    revocation_pull_seconds: float = 0.5
    #: Longest a stopping app waits for its background jobs (a job stuck in a thread is left behind).
    shutdown_grace_seconds: float = 10.0

    _validate_proxies = field_validator("trusted_proxies", mode="before")(_split_csv)
    _split_upstreams = field_validator(
        "auth_upstreams", "verification_upstreams", "orders_upstreams", "portal_upstreams", mode="before"
    )(_split_csv)

    @field_validator("auth_upstreams", "verification_upstreams", "orders_upstreams", "portal_upstreams")
    @classmethod
    def _upstreams_are_http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            check_upstream_url(url)
        return [url.rstrip("/") for url in value]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    def service_url(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")

    def upstreams(self, service: str) -> list[str]:
        """The replicas of ``service``: its upstream list, or its one ``<service>_url``."""
        if service not in SERVICE_NAMES:
            raise KeyError(service)
        configured: list[str] = getattr(self, f"{service}_upstreams")
        if configured:
            return list(configured)
        url = self.service_url(service)
        check_upstream_url(url)
        return [url]


class ServiceSettings(CommonSettings):
    """Settings of a service that owns a database."""

    service_name: ClassVar[str]
    database_url: str | None = None
    #: Where this service's quota counters live in Redis (``mamori_common/quotas.py``).
    quota_key_prefix: str | None = None
    #: This service's own private key, signing its internal calls and events (PEM or base64url,
    #: e.g. from a secret store). Unset: the key in ``service_key_file``.
    service_private_key: SecretStr | None = None
    #: The file holding it. Unset: ``<data dir>/secrets/service-keys/<service>/service.key``,
    #: generated on first use (``mamori run`` and compose's ``keys`` one-shot generate it first).
    service_key_file: Path | None = None
    #: The other services' public keys, JSON ``{"orders": "<key>", ...}``; a name not given is
    #: read from ``<name>.pub`` in ``service_public_keys_dir``.
    service_public_keys: dict[str, str] = Field(default_factory=dict)
    #: Unset: ``<data dir>/secrets/service-keys/public``.
    service_public_keys_dir: Path | None = None

    def resolved_quota_key_prefix(self) -> str:
        return self.quota_key_prefix or f"mamori-{self.service_name}"

    def resolved_service_key(self) -> ServiceKey:
        """This service's private key: configured, or read (and on first use made) from its file."""
        if self.service_private_key is not None:
            return ServiceKey(self.service_name, parse_private_key(self.service_private_key.get_secret_value()))
        path = self.service_key_file or private_key_file(self.data_dir, self.service_name)
        return load_or_create_key(self.service_name, path, self.resolved_public_keys_dir())

    def resolved_public_keys_dir(self) -> Path:
        return self.service_public_keys_dir or public_key_dir(self.data_dir)

    def service_keyring(self) -> ServiceKeyring:
        """The public keys a caller's token is checked against, by the caller's name."""
        return ServiceKeyring(self.service_public_keys, self.resolved_public_keys_dir())

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"


def read_or_create_secret(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
    """Return the secret stored at ``path``, creating it with ``make`` (mode 0600) on first use.

    Several processes may start at once: the exclusive create lets exactly one of them write it.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its secret
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(candidate)
    return candidate
