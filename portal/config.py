"""Settings of the portal (``MAMORI_`` prefix)."""

from mamori_common.settings import CommonSettings


class PortalSettings(CommonSettings):
    #: The address customers reach the portal at (the gateway), printed by ``mamori run``.
    public_url: str = "http://127.0.0.1:8000"
