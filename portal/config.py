"""Settings of the portal (``MAMORI_`` prefix)."""

from __future__ import annotations

from pydantic import SecretStr

from mamori_common.settings import CommonSettings, read_or_create_secret


class PortalSettings(CommonSettings):
    """The portal holds no service credential: it calls the services as the signed-in customer,
    with the customer's own access token, and calls no internal endpoint."""

    #: Signs the CSRF tokens of the portal's forms, and nothing else. Unset: a random key kept
    #: in ``<data dir>/secrets/portal-csrf.key`` (one portal, or replicas sharing that volume).
    portal_csrf_key: SecretStr | None = None
    #: The address customers reach the portal at (the gateway), printed by ``mamori run``.
    public_url: str = "http://127.0.0.1:8000"
    #: The zone a customer reads times in until they choose another.
    default_zone: str = "Asia/Tokyo"
    #: How long the browser keeps the session cookie; auth's refresh token decides the real end.
    session_cookie_days: int = 30
    #: How long one call to a service may take before the page says it is unavailable.
    service_timeout_seconds: float = 10.0
    #: The largest form the portal reads (a pasted mail is the biggest one).
    max_form_bytes: int = 256 * 1024
    #: The largest upload form the portal reads: verification takes documents up to 10 MB.
    max_upload_bytes: int = 10 * 1024 * 1024 + 64 * 1024
    #: The largest file in it (verification's own limit; a larger one gets the page saying so).
    max_file_bytes: int = 10 * 1024 * 1024

    def resolved_csrf_key(self) -> str:
        if self.portal_csrf_key is not None and self.portal_csrf_key.get_secret_value():
            return self.portal_csrf_key.get_secret_value()
        return read_or_create_secret(self.data_dir / "secrets" / "portal-csrf.key")

    def cookies_secure(self, forwarded_proto: str | None) -> bool:
        """Secure cookies everywhere but local development over plain HTTP."""
        return self.public_url.startswith("https://") or forwarded_proto == "https"
