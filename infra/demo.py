"""Demo data for ``mamori run``: one customer and one account per staff role. Idempotent.

Staff sign in with a second factor (``services/auth/staff/second_factor.py``): each demo staff
account has TOTP on with a fixed demo secret, printed with its password, to add to an
authenticator app (or to compute codes with ``pyotp``)."""

from __future__ import annotations

from dataclasses import dataclass

from mamori_common.clock import SystemClock
from mamori_common.db import Database
from services.auth.accounts.models import Language, Role
from services.auth.accounts.service import create_account, find_by_email
from services.auth.config import AuthSettings
from services.auth.credentials.encryption import Encryptor
from services.auth.credentials.passwords import Passwords
from services.auth.staff.second_factor import enrol_totp_at_creation


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    name: str
    role: Role
    #: Staff only: the base32 TOTP secret of the demo account.
    totp_secret: str | None = None


DEMO_ACCOUNTS = (
    DemoAccount("hana@demo.mamori.example", "sakura-lantern-river", "Hana Sato", Role.customer),
    DemoAccount(
        "specialist@demo.mamori.example",
        "review-cases-carefully",
        "Ken Mori",
        Role.specialist,
        "MAMORIDEMOSPECIALISTTOTP",
    ),
    DemoAccount(
        "support@demo.mamori.example", "help-without-documents", "Aiko Ito", Role.support, "MAMORIDEMOSUPPORTTOTP234"
    ),
    DemoAccount(
        "admin@demo.mamori.example", "keys-to-the-kingdom-42", "Jun Abe", Role.admin, "MAMORIDEMOADMINTOTP23456"
    ),
)


def seed_demo_accounts(settings: AuthSettings | None = None) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet; return all of them."""
    settings = settings or AuthSettings()
    database = Database(settings.resolved_database_url())
    passwords = Passwords(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)
    encryptor = Encryptor.from_settings(settings.encryption_key, settings.data_dir)
    try:
        with database.session() as db:
            for demo in DEMO_ACCOUNTS:
                account = find_by_email(db, demo.email)
                if account is None:
                    account = create_account(
                        db,
                        passwords,
                        email=demo.email,
                        password=demo.password,
                        name=demo.name,
                        role=demo.role,
                        language=Language.ja,
                    )
                if demo.totp_secret and not account.totp_enabled:
                    enrol_totp_at_creation(account, encryptor, now=SystemClock().now(), secret=demo.totp_secret)
            db.commit()
    finally:
        database.dispose()
    return list(DEMO_ACCOUNTS)
