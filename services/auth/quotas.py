"""Every quota auth enforces, in one place; each counted by the kit's limiter (mamori_common/quotas.py).

The numbers are settings (services/auth/config.py). A quota answers ``429 rate_limited`` with
Retry-After, except where its docstring says it drops silently (so nothing is revealed).
"""

from __future__ import annotations

from mamori_common.quotas import Quota
from services.auth.config import AuthSettings

HOUR = 3600


def code_mails(settings: AuthSettings) -> Quota:
    """Code mails of one purpose (sign-in, unlock, e-mail change) one account gets within an hour."""
    return Quota("code-mail", settings.email_codes_per_hour, HOUR)


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
    return Quota("password-change-failure", settings.password_change_failures_per_window,
                 settings.password_change_failure_window_seconds)


def totp_code_failures(settings: AuthSettings) -> Quota:
    """Wrong TOTP codes one account sends to confirm or disable TOTP within the window."""
    return Quota("totp-code-failure", settings.totp_code_failures_per_window,
                 settings.totp_code_failure_window_seconds)


#: Codes are ~49 random bits, so guessing is hopeless anyway; the limit keeps verifyMessage from
#: being a free oracle for visitors.
VISITOR_CHECKS_PER_ADDRESS = 30
VISITOR_CHECK_WINDOW_SECONDS = 900


def visitor_message_checks() -> Quota:
    """verifyMessage calls one client address makes without a session within the window."""
    return Quota("verify-message-visitor", VISITOR_CHECKS_PER_ADDRESS, VISITOR_CHECK_WINDOW_SECONDS)
