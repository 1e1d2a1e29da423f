"""Settings of the auth service. Every number a security rule depends on is named here.

Environment: ``MAMORI_<FIELD>`` (e.g. ``MAMORI_RESET_COOLDOWN_AFTER_FREEZE_SECONDS``); the database
is ``MAMORI_AUTH_DATABASE_URL``.
"""

from typing import Annotated, ClassVar, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import NoDecode

from mamori_common.settings import ServiceSettings, _split_csv
from services.auth.passkeys.relying_party import relying_party_problems


class AuthSettings(ServiceSettings):
    service_name: ClassVar[str] = "auth"
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("MAMORI_AUTH_DATABASE_URL"))

    # Keys. Embedded default: generated once under the data dir.
    signing_key_pem: str | None = Field(default=None, validation_alias=AliasChoices("MAMORI_AUTH_SIGNING_KEY"))
    encryption_key: str | None = Field(default=None, validation_alias=AliasChoices("MAMORI_AUTH_ENCRYPTION_KEY"))

    # Password hashing (Argon2id; OWASP minimum is m=19 MiB, t=2, p=1).
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1

    # Tokens and sessions.
    access_token_seconds: int = 600
    refresh_token_days: int = 30
    #: A refresh token presented again this soon after its exchange gets the same successor (a
    #: concurrent double refresh); later, the reuse ends the whole session.
    refresh_reuse_grace_seconds: int = 15
    reauthentication_window_seconds: int = 600

    # Mail delivery and the message centre (messages/mailer.py, messages/flows.py).
    #: The From of every mail (``MAMORI_MAIL_FROM``); SMTP itself is ``MAMORI_SMTP_URL``.
    mail_from: str = "Mamori <no-reply@mamori.example>"
    #: How often an idle mail sender looks for queued mail; a commit that files one wakes it at once.
    mail_poll_interval_seconds: float = 1.0
    mail_batch_size: int = 20
    #: How long a replica may hold a claimed mail before another may try it.
    mail_lease_seconds: int = 120
    #: Failed deliveries wait base * 2^(attempts-1), jittered, never more than the max.
    mail_retry_base_seconds: float = 5.0
    mail_retry_max_seconds: float = 300.0
    #: After this many failed deliveries the mail stays unsent (the centre still shows it).
    mail_max_attempts: int = 30
    smtp_timeout_seconds: float = 15.0
    #: A pasted mail larger than this is refused by verifyMessage (413).
    verify_message_max_text_bytes: int = 100_000
    #: Hosts a link in a pasted mail may point to without being flagged by verifyMessage (comma-
    #: separated; their subdomains too), besides the mail domain and the passkey relying party.
    own_link_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # -- signin/ domain: throttling, step-up and locks (story S1). The rules that read these are in
    # services/auth/signin/policy.py; the counters in signin/throttle.py. --
    #: The counters live in the kit's limiter (``mamori_common/quotas.py``; every auth quota is
    #: named in ``services/auth/quotas.py``), in Redis under ``quota_key_prefix`` when set.
    #: A client address may fail this many times within the window before delays start ...
    throttle_client_free_failures: int = 5
    throttle_client_window_seconds: int = 900
    #: ... then waits base * 2^(failures - free - 1) seconds after each further failure, at most max.
    throttle_client_base_delay_seconds: int = 2
    throttle_client_max_delay_seconds: int = 900
    #: Hard cap per client address within the window (every account, known devices included).
    throttle_ip_failures_per_window: int = 50
    #: Hard cap per (account, client address) within the window.
    throttle_account_ip_failures_per_window: int = 10
    #: Failed sign-ins on an account from clients it has never succeeded from, within the window,
    #: after which even the right password needs a step-up ("the account is under attack").
    step_up_after_account_failures: int = 3
    step_up_window_seconds: int = 3600
    #: Wrong answers to step-up challenges (mailed codes, TOTP, recovery codes) in a row, across
    #: challenges, that lock the account. Nothing else locks it: bare password guesses never do.
    lock_after_failed_step_ups: int = 10
    #: A lock lasts lock_seconds * 2^(earlier locks since the last sign-in), never more than max.
    lock_seconds: int = 900
    lock_max_seconds: int = 3600
    #: NIST SP 800-63B 5.2.2: from this many consecutive failures on, the password alone never gets
    #: an answer again (every attempt answers challenge_required) until a sign-in passes a step-up.
    max_consecutive_failures: int = 100
    #: sendUnlockCode / requestUnlock calls one client address may make within an hour.
    unlock_requests_per_ip_per_hour: int = 20

    # One-time codes mailed for step-up, unlock and e-mail confirmation.
    email_code_seconds: int = 600
    email_code_max_attempts: int = 5
    #: Code mails of one kind (sign-in, unlock, e-mail change) one account gets within an hour at
    #: clients it does not know; a known device or address is held only by the per-client cap.
    email_codes_per_hour: int = 10
    #: Code mails of one kind one account gets within an hour at one client (address and device),
    #: so whoever has the password cannot drain the account's mails and starve the owner.
    email_codes_per_client_per_hour: int = 3

    # Account changes and recovery (story S5).
    revert_code_days: int = 30
    reset_token_seconds: int = 1800
    reset_cooldown_after_freeze_seconds: int = 5 * 3600
    # -- changes/ and staff/ domains (account changes, revert, resets) --
    #: revertChange calls one client address may make within the window (the code itself is
    #: ~79 bits, so this is defence in depth against scripted guessing and log noise).
    revert_attempts_per_ip: int = 10
    revert_attempt_window_seconds: int = 900
    #: requestPasswordReset calls one client address may make within the window (429, whatever
    #: the address typed, so it reveals nothing about accounts).
    reset_requests_per_ip: int = 10
    reset_request_window_seconds: int = 900
    #: Reset mails (a token or a cool-down notice) one account gets within the window; further
    #: requests still answer 202 but mail nothing, so nobody can flood an inbox.
    reset_mails_per_account: int = 3
    reset_mail_window_seconds: int = 3600
    #: Wrong current passwords a session may send to changePassword within the window before 429.
    password_change_failures_per_window: int = 5
    password_change_failure_window_seconds: int = 900

    # -- accounts/ domain: registration (services/auth/accounts/registration.py) --
    #: register calls one client address may make within the window (429 with Retry-After).
    registrations_per_ip: int = 20
    registration_window_seconds: int = 3600
    #: "Someone tried to register with your address" mails one account gets a day.
    registration_notices_per_account: int = 3

    # TOTP and recovery codes (sessions/TOTP domain).
    #: Name authenticator apps show beside the account's e-mail.
    totp_issuer: str = "Mamori"
    #: Single-use codes issued when TOTP is confirmed, for when the phone is lost.
    recovery_code_count: int = 10
    #: Wrong TOTP codes an account may send to confirm/disable within the window before 429.
    totp_code_failures_per_window: int = 5
    totp_code_failure_window_seconds: int = 900

    # -- passkeys/ domain (WebAuthn). The rules that read these, and why, are in
    # services/auth/passkeys/policy.py. --
    #: The relying party id: the portal's registrable domain, never an IP address (browsers refuse
    #: one), hence ``localhost`` for the embedded default.
    passkey_rp_id: str = "localhost"
    #: The name authenticators show beside the account.
    passkey_rp_name: str = "Mamori"
    #: Origins a ceremony may come from (comma-separated), each on the rp id or a subdomain of it.
    passkey_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["http://localhost:8000"])
    #: ``required``: the authenticator must verify the user (PIN, biometrics) at registration and
    #: step-up; ``preferred`` accepts presence alone there. A passkey sign-in without a password
    #: always requires it.
    passkey_user_verification: Literal["required", "preferred"] = "required"
    #: How long a WebAuthn challenge (registration, sign-in, step-up) may be answered, once.
    passkey_ceremony_seconds: int = 300
    #: Passkeys one account may hold at once.
    passkeys_per_account: int = 20
    #: Passkey sign-in ceremonies one client address may start within the throttle window.
    passkey_sign_in_ceremonies_per_ip: int = 60

    _split_origins = field_validator("passkey_origins", "own_link_hosts", mode="before")(_split_csv)

    @field_validator("passkey_origins")
    @classmethod
    def _origins_without_slash(cls, value: list[str]) -> list[str]:
        """A browser sends an origin as ``scheme://host[:port]``, compared exactly."""
        return [item.rstrip("/") for item in value]

    @model_validator(mode="after")
    def _relying_party_is_valid(self) -> "AuthSettings":
        problems = relying_party_problems(self.passkey_rp_id, self.passkey_origins)
        if problems:
            raise ValueError("; ".join(problems))
        return self
