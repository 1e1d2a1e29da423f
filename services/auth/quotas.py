"""Every quota auth enforces, in one place; each counted by the kit's limiter (mamori_common/quotas.py).

The numbers are settings (services/auth/config.py). A quota answers ``429 rate_limited`` with
Retry-After, except where its docstring says it drops silently (so nothing is revealed).
"""

from __future__ import annotations

from mamori_common.quotas import Quota, Quotas
from services.auth.config import AuthSettings
from services.auth.request_context import RequestContext

HOUR = 3600


def code_mails(settings: AuthSettings) -> Quota:
    """Code mails of one purpose (sign-in, unlock, e-mail change) one account gets within an hour
    at clients it does not know (see :func:`spend_code_mail`)."""
    return Quota("code-mail", settings.email_codes_per_hour, HOUR)


def code_mails_per_client(settings: AuthSettings) -> Quota:
    """Code mails of one purpose one account gets within an hour at one client (address and device)."""
    return Quota("code-mail-client", settings.email_codes_per_client_per_hour, HOUR)


def spend_code_mail(
    quotas: Quotas,
    settings: AuthSettings,
    purpose: str,
    account_id: str,
    context: RequestContext,
    *,
    known_client: bool,
) -> int:
    """Take one code mail for ``account_id`` asked from ``context``: 0, or the seconds to wait.

    Why two quotas: one per account alone lets anyone who has the password drain it and starve
    the owner of step-up codes. Each client (address and device) gets its own few, so one client
    never empties the account's; the account's own cap bounds what clients it does not know can
    send (an attacker rotating addresses), and a client it knows (a device or an address the
    owner signed in from) is not held by that cap at all, so the owner there always gets a code.
    """
    client = (context.ip, context.device_id or "-")
    per_client = code_mails_per_client(settings)
    wait = quotas.wait(per_client, purpose, account_id, *client)
    if not wait and not known_client:
        wait = quotas.wait(code_mails(settings), purpose, account_id)
    if wait:
        return wait
    quotas.add(per_client, purpose, account_id, *client)
    if not known_client:
        quotas.add(code_mails(settings), purpose, account_id)
    return 0


def unlock_requests(settings: AuthSettings) -> Quota:
    """sendUnlockCode / requestUnlock calls one client address makes within an hour."""
    return Quota("unlock-requests", settings.unlock_requests_per_ip_per_hour, HOUR)


def revert_attempts(settings: AuthSettings) -> Quota:
    """revertChange calls one client address makes within the window."""
    return Quota("revert", settings.revert_attempts_per_ip, settings.revert_attempt_window_seconds)


def reset_requests(settings: AuthSettings) -> Quota:
    """requestPasswordReset calls one client address makes (429 whatever address it typed)."""
    return Quota("reset-request", settings.reset_requests_per_ip, settings.reset_request_window_seconds)


def reset_mails(settings: AuthSettings) -> Quota:
    """Reset mails one account gets within the window; more requests are recorded and dropped silently."""
    return Quota("reset-mail", settings.reset_mails_per_account, settings.reset_mail_window_seconds)


def password_change_failures(settings: AuthSettings) -> Quota:
    """Wrong current passwords one account sends to changePassword within the window."""
    return Quota(
        "password-change-failure",
        settings.password_change_failures_per_window,
        settings.password_change_failure_window_seconds,
    )


def totp_code_failures(settings: AuthSettings) -> Quota:
    """Wrong TOTP codes one account sends to confirm or disable TOTP within the window."""
    return Quota("totp-code-failure", settings.totp_code_failures_per_window, settings.totp_code_failure_window_seconds)


#: Codes are ~49 random bits, so guessing is hopeless anyway; the limit keeps verifyMessage from
#: being a free oracle for visitors.
VISITOR_CHECKS_PER_ADDRESS = 30
VISITOR_CHECK_WINDOW_SECONDS = 900


def visitor_message_checks() -> Quota:
    """verifyMessage calls one client address makes without a session within the window."""
    return Quota("verify-message-visitor", VISITOR_CHECKS_PER_ADDRESS, VISITOR_CHECK_WINDOW_SECONDS)


def passkey_sign_in_ceremonies(settings: AuthSettings) -> Quota:
    """beginPasskeySignIn calls one client address makes within the throttle window (each stores a
    challenge, so a flood of them is cut off before it fills a table)."""
    return Quota(
        "passkey-sign-in-ceremony", settings.passkey_sign_in_ceremonies_per_ip, settings.throttle_client_window_seconds
    )


def registrations(settings: AuthSettings) -> Quota:
    """``register`` calls one client address may make within the window (429, new address or taken)."""
    return Quota("register", settings.registrations_per_ip, settings.registration_window_seconds)


def registration_notices(settings: AuthSettings) -> Quota:
    """ "Someone tried to register with your address" mails one account gets within a day; past it
    ``register`` still answers alike but mails nothing, so nobody can flood an inbox through it."""
    return Quota("register-notice", settings.registration_notices_per_account, 24 * HOUR)
