"""Demo data for ``mamori run``: one customer and one account per staff role. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from mamori_common.db import Database
from services.auth.accounts.models import Language, Role
from services.auth.accounts.service import create_account, find_by_email
from services.auth.config import AuthSettings
from services.auth.credentials.passwords import Passwords


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    name: str
    role: Role


DEMO_ACCOUNTS = (
    DemoAccount("hana@demo.mamori.example", "sakura-lantern-river", "Hana Sato", Role.customer),
    DemoAccount("specialist@demo.mamori.example", "review-cases-carefully", "Ken Mori", Role.specialist),
    DemoAccount("support@demo.mamori.example", "help-without-documents", "Aiko Ito", Role.support),
    DemoAccount("admin@demo.mamori.example", "keys-to-the-kingdom-42", "Jun Abe", Role.admin),
)


def seed_demo_accounts(settings: AuthSettings | None = None) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet; return all of them."""
    settings = settings or AuthSettings()
    database = Database(settings.resolved_database_url())
    passwords = Passwords(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)
    try:
        with database.session() as db:
            for demo in DEMO_ACCOUNTS:
                if find_by_email(db, demo.email) is None:
                    create_account(
                        db,
                        passwords,
                        email=demo.email,
                        password=demo.password,
                        name=demo.name,
                        role=demo.role,
                        language=Language.ja,
                    )
            db.commit()
    finally:
        database.dispose()
    return list(DEMO_ACCOUNTS)
