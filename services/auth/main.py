"""The auth service: accounts, credentials, throttling, step-up, TOTP, resets, sessions and
tokens, account changes and their revert, notifications and the message centre."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from mamori_common.app import ServiceSpec, create_service_app
from mamori_common.tokens import AccessTokenVerifier
from services.auth.accounts import views as account_views
from services.auth.accounts.models import Account, AccountRestriction  # noqa: F401  (registers the tables)
from services.auth.audit import views as audit_views
from services.auth.audit.models import SecurityEvent  # noqa: F401
from services.auth.changes import views as change_views
from services.auth.changes.models import AccountChange  # noqa: F401
from services.auth.config import AuthSettings
from services.auth.credentials.codes import CodeHasher
from services.auth.credentials.encryption import Encryptor
from services.auth.credentials.passwords import Passwords
from services.auth.database import Base, inbox, outbox
from services.auth.env import install as install_env
from services.auth.events import EVENT_HANDLERS, EVENT_ROUTES
from services.auth.intrusion.models import WatchedSession  # noqa: F401
from services.auth.messages import views as message_views
from services.auth.messages.mailer import install as install_mailer
from services.auth.messages.mailer import mail_sender_job
from services.auth.messages.models import Message  # noqa: F401
from services.auth.passkeys import step_up as passkey_step_up
from services.auth.passkeys import views as passkey_views
from services.auth.passkeys.models import Passkey, PasskeyCeremony  # noqa: F401
from services.auth.resets import views as reset_views
from services.auth.resets.models import ResetToken  # noqa: F401
from services.auth.sessions import revocations as session_revocations
from services.auth.sessions import views as session_views
from services.auth.sessions.models import RefreshToken, Session  # noqa: F401
from services.auth.signin import methods as step_up_methods
from services.auth.signin import policy as signin_policy
from services.auth.signin import views as signin_views
from services.auth.signin.gate import ThrottledClientGate
from services.auth.signin.methods import mail_code, recovery_code, totp
from services.auth.signin.models import Challenge, KnownDevice, SignInAttempt  # noqa: F401
from services.auth.staff import views as staff_views
from services.auth.tokens import views as token_views
from services.auth.tokens.keys import SigningKey
from services.auth.totp import views as totp_views
from services.auth.totp.models import RecoveryCode  # noqa: F401

metadata = Base.metadata

#: The step-up methods of sign-in, each registered by its own module on import (as Kratos' registry
#: lists its login strategies); the flows know them only through ``signin/methods``.
STEP_UP_METHODS = (mail_code.METHOD, totp.METHOD, recovery_code.METHOD, passkey_step_up.METHOD)

SPEC = ServiceSpec(
    name="auth",
    title="Mamori auth",
    description=__doc__ or "",
    migrations_dir=Path(__file__).parent / "migrations",
    outbox_table=outbox,
    inbox_table=inbox,
    routers=(
        account_views.router,
        account_views.internal_router,
        signin_views.router,
        session_views.router,
        session_views.internal_router,
        token_views.router,
        totp_views.router,
        change_views.router,
        reset_views.router,
        audit_views.router,
        message_views.router,
        staff_views.router,
        passkey_views.router,
    ),
    event_routes=EVENT_ROUTES,
    event_handlers=EVENT_HANDLERS,
    background_jobs=(mail_sender_job,),
)


def signing_key_for(settings: AuthSettings) -> SigningKey:
    if settings.signing_key_pem:
        return SigningKey.from_pem(settings.signing_key_pem)
    return SigningKey.load_or_create(settings.data_dir / "secrets" / "auth-signing.pem")


def create_app(settings: AuthSettings | None = None, **options: Any) -> FastAPI:
    absent = step_up_methods.missing(signin_policy.METHOD_PROOFS)
    if absent:  # a challenge the rules open could not be answered: refuse to start instead
        raise RuntimeError(f"no step-up method registered for {', '.join(absent)}")
    settings = settings or AuthSettings()
    app = create_service_app(SPEC, settings, **options)
    key = signing_key_for(settings)
    app.state.signing_key = key
    app.state.token_verifier = AccessTokenVerifier(key.resolve, app.state.clock)
    app.state.encryptor = Encryptor.from_settings(settings.encryption_key, settings.data_dir)
    app.state.code_hasher = CodeHasher(app.state.encryptor.derive_key(b"one-time-codes"))
    app.state.passwords = Passwords(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)
    install_mailer(app)  # also without background jobs: event handlers file messages through it
    session_revocations.install(app)  # every ended session is announced, whoever ends it
    install_env(app)  # event handlers that freeze (orders' risk signals) need the whole env
    # Innermost, so its 429s carry request ids and are logged and counted, yet before any route.
    app.user_middleware.append(Middleware(ThrottledClientGate))
    return app
