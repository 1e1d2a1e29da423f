"""The processes a Mamori deployment is made of, and how each is started and migrated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    app_factory: str
    #: Services with a database have migrations; the portal and the gateway do not.
    migrations_dir: Path | None


AUTH = ProcessSpec("auth", "services.auth.main:create_app", ROOT / "services/auth/migrations")
VERIFICATION = ProcessSpec(
    "verification", "services.verification.main:create_app", ROOT / "services/verification/migrations"
)
ORDERS = ProcessSpec("orders", "services.orders.main:create_app", ROOT / "services/orders/migrations")
PORTAL = ProcessSpec("portal", "portal.main:create_app", None)
GATEWAY = ProcessSpec("gateway", "gateway.main:create_app", None)

BACKEND_SERVICES = (AUTH, VERIFICATION, ORDERS, PORTAL)
DATABASE_SERVICES = tuple(spec for spec in BACKEND_SERVICES if spec.migrations_dir is not None)


def database_url(service: str) -> str:
    """The URL the service itself would use (its settings class decides)."""
    from services.auth.config import AuthSettings
    from services.orders.config import OrdersSettings
    from services.verification.config import VerificationSettings

    settings_class = {"auth": AuthSettings, "verification": VerificationSettings, "orders": OrdersSettings}[service]
    return settings_class().resolved_database_url()


def migrate(services: tuple[ProcessSpec, ...] = DATABASE_SERVICES) -> None:
    from mamori_common.migrations import upgrade

    for spec in services:
        assert spec.migrations_dir is not None
        upgrade(spec.migrations_dir, database_url(spec.name))
