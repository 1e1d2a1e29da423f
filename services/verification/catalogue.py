"""Every text a customer reads from verification, in Japanese and English, in one place.

Reviewers pick reason codes; the customer reads the reason's text, never a form letter. Checklist
items, case kinds and states are named here too, so a page, a mail and the API say the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decision = Literal["approve", "reject", "request_more"]


@dataclass(frozen=True)
class Text:
    ja: str
    en: str


@dataclass(frozen=True)
class Reason:
    code: str
    #: Which decisions may give this reason.
    decisions: frozenset[str]
    text: Text


KIND_NAMES: dict[str, Text] = {
    "payment_verification": Text("お支払いの確認", "Payment verification"),
    "intrusion": Text("不正アクセスへの対応", "Unauthorised access"),
    "lockout": Text("アカウントのロック", "Account lock"),
    "not_me": Text("身に覚えのない注文", "Order you did not place"),
    "callback": Text("お電話のご依頼", "Callback request"),
}

STATE_NAMES: dict[str, Text] = {
    "awaiting_customer": Text("お客様からのご提出待ち", "Waiting for you"),
    "in_review": Text("担当者が確認中", "Being reviewed"),
    "more_needed": Text("追加のご提出が必要です", "More is needed from you"),
    "approved": Text("承認済み", "Approved"),
    "rejected": Text("承認できませんでした", "Not approved"),
    "closed": Text("終了", "Closed"),
}


#: The open state's name for a kind whose checklist is empty: such a case asks the customer for no
#: document, so it never reads "waiting for what you send". A lockout waits for the customer's
#: own unlock (a mailed code); every other kind is with us.
NOTHING_ASKED_STATE_NAMES: dict[str, Text] = {
    "lockout": Text("お客様ご自身でのロック解除をお待ちしています", "Waiting for you to unlock it"),
}
NOTHING_ASKED_STATE_NAME = Text(
    "担当者が対応中です（お客様にご用意いただくものはありません）", "We are handling it: nothing is needed from you"
)


def state_name(state: str, kind: str, asks_for_items: bool) -> Text:
    """The state as the customer reads it: an open case that asks for nothing says so."""
    if state == "awaiting_customer" and not asks_for_items:
        return NOTHING_ASKED_STATE_NAMES.get(kind, NOTHING_ASKED_STATE_NAME)
    return STATE_NAMES[state]


@dataclass(frozen=True)
class ItemText:
    label: Text
    how: Text


CHECKLIST_ITEMS: dict[str, ItemText] = {
    "statement": ItemText(
        Text("カードのご利用明細書", "Card statement"),
        Text(
            "最近のご利用明細書（PDF・PNG・JPEG）をアップロードしてください。カード番号は下4桁以外を隠してください。",
            "Upload a recent statement (PDF, PNG or JPEG) showing only the last 4 digits of the card number.",
        ),
    ),
    "billing_name": ItemText(
        Text("請求先のお名前", "Billing name"),
        Text(
            "明細書に記載のお名前、または入力でお知らせください（会員名と異なっても構いません）。",
            "The name on the statement, or type it in (it may differ from the account holder's).",
        ),
    ),
    "billing_address": ItemText(
        Text("請求先のご住所", "Billing address"),
        Text("明細書に記載がない場合は、入力でお知らせください。", "If the statement does not show it, type it in."),
    ),
    "cardholder_phone": ItemText(
        Text("カード名義人の電話番号", "Cardholder's phone number"),
        Text("明細書に記載がない場合は、入力でお知らせください。", "If the statement does not show it, type it in."),
    ),
}

ITEM_STATUS_NAMES: dict[str, Text] = {
    "missing": Text("未提出", "Missing"),
    "received": Text("受領済み（確認待ち）", "Received, to be checked"),
    "accepted": Text("確認済み", "Accepted"),
    "rejected": Text("不備あり", "Not accepted"),
}

_APPROVE = frozenset({"approve"})
_REJECT = frozenset({"reject"})
_MORE = frozenset({"request_more", "reject"})

REASONS: dict[str, Reason] = {
    reason.code: reason
    for reason in (
        Reason(
            "verified",
            _APPROVE,
            Text(
                "ご提出いただいた内容でご本人様のお支払いであることを確認できました。",
                "What you sent shows the payment was made by you or with the cardholder's consent.",
            ),
        ),
        Reason(
            "resolved_by_phone",
            _APPROVE,
            Text("お電話でご本人様であることを確認しました。", "We confirmed it was you on the phone."),
        ),
        Reason(
            "statement_unreadable",
            _MORE,
            Text(
                "明細書が読み取れませんでした。鮮明な画像かPDFをお送りください。",
                "We could not read the statement. Please send a sharper image or the PDF.",
            ),
        ),
        Reason(
            "statement_too_old",
            _MORE,
            Text(
                "明細書が古すぎます。直近3か月以内のものをお送りください。",
                "The statement is too old. Please send one from the last three months.",
            ),
        ),
        Reason(
            "card_last4_mismatch",
            _MORE,
            Text(
                "明細書のカード番号下4桁が、保留中のお支払いのカードと一致しません。",
                "The last 4 digits on the statement do not match the card of the held payment.",
            ),
        ),
        Reason(
            "name_mismatch",
            _MORE,
            Text(
                "明細書のお名前を確認できませんでした。名義人のお名前が分かる明細書をお送りください。",
                "We could not confirm the name on the statement. Please send one showing the cardholder's name.",
            ),
        ),
        Reason(
            "address_unverifiable",
            _MORE,
            Text(
                "ご住所を確認できませんでした。明細書に記載のご住所を入力してください。",
                "We could not confirm the address. Please type the address the statement is sent to.",
            ),
        ),
        Reason(
            "phone_unverifiable",
            _MORE,
            Text(
                "お電話番号を確認できませんでした。名義人のお電話番号を入力してください。",
                "We could not confirm the phone number. Please type the cardholder's number.",
            ),
        ),
        Reason(
            "cardholder_not_confirmed",
            _REJECT,
            Text(
                "何度かご提出いただきましたが、カード名義人のご了承を確認できませんでした。",
                "After several attempts we could not confirm the cardholder agreed to the payment.",
            ),
        ),
        Reason(
            "document_altered",
            _REJECT,
            Text(
                "ご提出の書類に加工の跡があり、確認に使用できませんでした。",
                "The document sent shows signs of alteration and could not be used.",
            ),
        ),
    )
}

#: Reasons the automatic statement check gives an item (the customer reads them too).
ITEM_REASONS = frozenset({"card_last4_mismatch", "name_mismatch", "statement_unreadable"})


def reasons_for(decision: Decision) -> list[str]:
    return sorted(code for code, reason in REASONS.items() if decision in reason.decisions)


# -- Steps: the timeline line and the message of each step. ``{number}`` is the case number,
# ``{due_at}`` the promised time (auth renders it in the customer's zone), other fields as named.

STEPS: dict[str, Text] = {
    "opened_payment_verification": Text(
        "ご注文のお支払い（{amount_ja}）を確認のため保留しました。確認が終わるまで、新しいご注文と連絡先の変更はできません。"
        "サインインしてケースの確認と書類のアップロードはできます。",
        "We held the payment of your order ({amount_en}) to verify it. Until it is verified you cannot place orders "
        "or change contact details; you can still sign in, see this case and upload documents.",
    ),
    "joined_payment_verification": Text(
        "別のご注文のお支払い（{amount_ja}）も同じケースで確認します。",
        "The payment of another order ({amount_en}) is verified in this same case.",
    ),
    "opened_intrusion": Text(
        "第三者によるアクセスの可能性があるため、アカウントを保護しています。",
        "We are protecting your account because someone else may have used it.",
    ),
    "account_frozen": Text(
        "パスワードを無効にし、アカウントを凍結しました。理由: {reason}",
        "We invalidated the password and froze the account. Reason: {reason}",
    ),
    "session_compromised": Text(
        "不審なセッション（{count} 件）を終了しました。",
        "We ended {count} suspicious session(s).",
    ),
    "opened_lockout": Text(
        "アカウントを一時的にロックしました。理由: {reason_ja}。メールでお送りするコードと新しいパスワードで、すぐにロックを解除できます。",
        "We locked your account for a while. Reason: {reason_en}. The code we mail you and a new password unlock it at once.",
    ),
    "unlocked": Text("ロックが解除されました。", "Your account was unlocked."),
    "opened_not_me": Text(
        "身に覚えのない注文のご報告を受け付けました。対応: {actions_ja}",
        "We received your report of an order you did not place. What we did: {actions_en}",
    ),
    "opened_callback": Text(
        "お電話のご依頼を受け付けました。担当者からお電話します。",
        "We received your callback request. A member of staff will call you.",
    ),
    "callback_requested": Text(
        "このケースについてお電話のご依頼を受け付けました。担当者からお電話します。",
        "We received your callback request about this case. A member of staff will call you.",
    ),
    "document_checked": Text(
        "書類を受け付けました（{pages} ページ）。読み取れた内容: {found_ja}",
        "We received your document ({pages} page(s)). What we could read: {found_en}",
    ),
    "document_masked": Text(
        "書類に完全なカード番号が写っていたため、その部分を黒塗りにした写しだけを保存しました。",
        "The document showed a full card number: we kept only a copy with those digits blacked out.",
    ),
    "supplement_added": Text(
        "「{item_ja}」の入力を受け付けました。",
        'We received what you typed for "{item_en}".',
    ),
    "submitted": Text(
        "必要なものがすべて揃いました。担当者が確認します。",
        "Everything needed is here. A specialist will review it.",
    ),
    "approved": Text("確認が完了し、承認しました。{reason_ja}", "We completed the check and approved it. {reason_en}"),
    "more_needed": Text(
        "確認の結果、追加のご提出が必要です。{reason_ja}（残り {left} 回）",
        "We need more from you. {reason_en} ({left} attempt(s) left)",
    ),
    "rejection_proposed": Text(
        "担当者が却下を提案しました。別の担当者が確認します。",
        "A specialist proposed a rejection; a second specialist will check it.",
    ),
    "rejected": Text("承認できませんでした。{reason_ja}", "We could not approve it. {reason_en}"),
    "account_closed": Text(
        "規定の回数の確認を経て、アカウントを閉鎖します。",
        "After the set number of attempts, the account will be closed.",
    ),
    "orders_released": Text("保留していたご注文の手続きを再開します。", "Your held orders go ahead."),
    "orders_cancelled": Text(
        "保留していたご注文はキャンセルし、お支払いは請求されません。",
        "Your held orders are cancelled and the payment is not taken.",
    ),
    "closed": Text("このケースは終了しました。", "This case is closed."),
    "escalated": Text(
        "担当部署に引き継ぎました。これまでの内容はそのまま引き継がれます。",
        "We passed your case on to the team that handles it, with everything so far.",
    ),
}

#: What orders did about an order reported as not the customer's (``OrderReportedNotMine.actions``);
#: ``not_cancellable:<refusal>`` reads as the refusal's text.
NOT_MINE_ACTIONS: dict[str, Text] = {
    "cancelled": Text("ご注文をキャンセルしました", "we cancelled the order"),
    "refunded": Text("お支払いを返金しました", "we refunded the payment"),
    "authorisation_voided": Text("カードのお支払いを取り消しました", "we released the card payment"),
    "return_opened": Text("発送済みの商品の返品を受け付けました", "we opened a return for what had shipped"),
    "not_cancellable": Text(
        "一部はすでにキャンセルできない状態でした（このケースでご案内します）",
        "part of it could no longer be cancelled (this case says what happens to it)",
    ),
}
NOTHING_DONE = Text("担当者が確認します", "a member of staff looks into it")


def actions_text(actions: list[str], language: str) -> str:
    """The actions in words, in ``language`` ("ja" or "en"); an unknown code reads as staff's task."""
    words: list[str] = []
    for action in actions:
        text = NOT_MINE_ACTIONS.get(action.split(":", 1)[0], NOTHING_DONE)
        if getattr(text, language) not in words:
            words.append(getattr(text, language))
    return ("、" if language == "ja" else ", ").join(words or [getattr(NOTHING_DONE, language)])


#: Why auth locked an account, as auth words it (``account.locked``'s ``reason``), in both languages.
LOCK_REASONS: dict[str, Text] = {
    "Too many wrong sign-in codes.": Text("サインイン用のコードの入力誤りが続きました", "too many wrong sign-in codes"),
}


def lock_reason(reason: str) -> Text:
    """A lock's reason in both languages; a reason not listed is shown as auth wrote it."""
    return LOCK_REASONS.get(reason) or Text(reason or "-", reason or "-")


def amount_text(amount: int, currency: str, language: str) -> str:
    """An amount as a customer reads it: "100,000円", "¥100,000" (never "JPY")."""
    if currency == "JPY":
        return f"{amount:,}円" if language == "ja" else f"¥{amount:,}"
    return f"{amount:,} {currency}"


#: Subjects of the messages, per step family.
SUBJECTS: dict[str, Text] = {
    "opened": Text("ケース {number} を開始しました", "Case {number} opened"),
    "update": Text("ケース {number} の状況", "Case {number}: an update"),
    "decided": Text("ケース {number} の結果", "Case {number}: the decision"),
}

NEEDED_LINES: dict[str, Text] = {
    "needed": Text("まだ必要なもの: {items}", "Still needed: {items}"),
    "met": Text("受領済み: {items}", "Received: {items}"),
    "due": Text("回答予定: {due_at} まで", "We answer by {due_at}"),
    "number": Text("ケース番号: {number}（{kind}）", "Case number: {number} ({kind})"),
    "nothing_read": Text("なし", "nothing"),
    "last4_found": Text("カード番号の下4桁 {last4}", "the card's last 4 digits {last4}"),
    "last4_other": Text("別のカードの下4桁 {last4}", "the last 4 digits {last4} of another card"),
    "name_found": Text("名義人のお名前", "the cardholder's name"),
    "address_found": Text("ご住所（郵便番号）", "an address (postcode)"),
    "phone_found": Text("電話番号", "a phone number"),
}
