"""Where auth's events go, and what auth does with the events it receives.

Auth mints the case ids it announces (a lock's or an intrusion's) so it can name the case in a
423 at once; verification opens the case under that id when the event arrives.
"""

from __future__ import annotations

from mamori_common.events import EventHandler
from services.auth.messages.flows import handle_notify

ACCOUNT_LOCKED = "account.locked"
#: The owner unlocked a locked account by self-service: verification closes the lockout case.
ACCOUNT_UNLOCKED = "account.unlocked"
ACCOUNT_FROZEN = "account.frozen"
SESSION_COMPROMISED = "session.compromised"
#: Received: any service asks auth to file a message in the message centre and mail it.
NOTIFY = "notify"

EVENT_ROUTES: dict[str, tuple[str, ...]] = {
    ACCOUNT_LOCKED: ("verification",),
    ACCOUNT_UNLOCKED: ("verification",),
    ACCOUNT_FROZEN: ("verification",),
    SESSION_COMPROMISED: ("orders", "verification"),
}

EVENT_HANDLERS: dict[str, EventHandler] = {
    NOTIFY: handle_notify,
}
