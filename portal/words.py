"""Words for the codes the services send that a customer would otherwise read raw.

The services keep machine codes in a few free fields (an account's ``state_reason``, a security
event's ``reason``): a risk rule's name (``cardholder_name_differs``), a step-up's cause
(``order_reported_not_mine``), an intrusion signal. The pages show the text for each code here, in
the reader's language (the Japanese is in the Babel catalogue); a code this list does not know is
never shown raw, it reads as a general "a security check" instead. Free text a person wrote (a
staff member's reason) has no underscore-joined words and is shown as it is.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.localization import Reader


def _(text: str) -> str:
    """Marks a text for the catalogue (``make i18n`` extracts it); translated when shown."""
    return text


#: Every code a customer can meet in a reason field, with its English source text.
REASON_WORDS: dict[str, str] = {
    # orders' risk rules (services/orders/risk/rules.py): why a payment is held
    "gift_or_top_up_over_limit": _("a gift card or balance top-up above the amount we check"),
    "cardholder_name_differs": _("the cardholder's name differs from the account holder's"),
    "gift_or_top_up_velocity": _("several gift card or top-up purchases in a short time"),
    "top_up_from_new_session_or_device": _("a balance top-up from a new device or session"),
    "high_value_new_device_or_country": _("a large order from a new device or country"),
    "amount_over_block_limit": _("an amount above what can be ordered online"),
    "gift_card": _("a gift card purchase"),
    "amount": _("the amount of the order"),
    # why a step-up (an extra check at sign-in) was asked for
    "order_reported_not_mine": _("you reported an order as not yours"),
    "requested": _("a check asked for by our order safety system"),
    "under_attack": _("many failed sign-ins to your account"),
    "new_device": _("a new device"),
    "new_country": _("a new country or network"),
    "after_failed_step_ups": _("earlier wrong codes"),
    "consecutive_failures": _("several wrong passwords in a row"),
    "second_factor": _("your account's second factor"),
    "passkey_required": _("you chose to require a passkey"),
    # intrusion signals (services/auth/intrusion/policy.py)
    "password_change": _("a password change"),
    "email_change": _("an e-mail address change"),
    "phone_change": _("a phone number change"),
    "totp_change": _("an authenticator app change"),
    "new_tender": _("a new payment method"),
    "gift_card_order": _("a gift card order"),
    "top_up_order": _("a balance top-up order"),
    # what orders did about an order reported as not yours
    "cancelled": _("cancelled"),
    "refunded": _("refunded"),
    "authorisation_voided": _("the card payment was released"),
    "return_opened": _("a return was opened"),
    "not_cancellable": _("a part could no longer be cancelled (the case says what happens to it)"),
    # why a case was decided
    "verification_rejected": _("the payment could not be verified"),
    "cardholder_not_confirmed": _("we could not confirm the cardholder agreed to the payment"),
    "document_altered": _("the document sent showed signs of alteration"),
}

#: Sentences auth writes in English into a reason field: the catalogue holds their Japanese.
REASON_SENTENCES = (
    _("Too many wrong sign-in codes."),
    _("Unlocked with a mailed code and a new password."),
    _("A passkey's signature counter went backwards (a copied authenticator?): the sign-in was refused."),
)

#: Words joined by underscores: a machine code, never free text.
_CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$|^[a-z]+$")
_SPLIT = re.compile(r"\s*[,、]\s*")


def is_code(part: str) -> bool:
    return bool(_CODE.match(part))


def reason_words(reader: Reader, raw: str | None) -> str:
    """A reason field as the customer reads it: each code in words, joined in their language.

    Free text (no code in it) is returned as written; a list with codes this module does not
    know reads "a security check" for those rather than the code."""
    if not raw:
        return ""
    parts = [part for part in _SPLIT.split(raw.strip()) if part]
    if not any(is_code(part) for part in parts):
        return reader.gettext(raw) if raw in REASON_SENTENCES else raw
    words: list[str] = []
    for part in parts:
        code = part.split(":", 1)[0]
        if code in REASON_WORDS:
            text = reader.gettext(REASON_WORDS[code])
        elif is_code(code):
            text = reader.gettext(_("a security check"))
        else:
            text = part
        if text not in words:
            words.append(text)
    return ("、" if reader.language == "ja" else ", ").join(words)
