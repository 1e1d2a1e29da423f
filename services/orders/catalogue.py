"""Every text orders shows a customer, in Japanese and English, in one place.

Reason codes (risk decisions, cancellation refusals) map to both languages here; API answers
carry the code and both texts. Notices put times as placeholders (``{refunded_at}``) with the UTC
ISO value in the event data: auth renders them in the customer's zone.
"""

from __future__ import annotations

from pydantic import BaseModel

from services.orders.cancellation.rules import Refusal


class Text(BaseModel):
    ja: str
    en: str


REASONS: dict[str, Text] = {
    # risk/rules.py
    "gift_or_top_up_over_limit": Text(
        ja="ギフトカードまたはチャージの金額が上限に達しているため、確認が終わるまで保留しています。",
        en="Gift cards or top-ups in this order reach the limit, so it is on hold until we verify the payment.",
    ),
    "cardholder_name_differs": Text(
        ja="カードの名義がアカウントの名義と異なるため、確認が終わるまで保留しています。",
        en="The cardholder's name differs from the account holder's, so the order is on hold until we verify it.",
    ),
    "gift_or_top_up_velocity": Text(
        ja="24時間以内のギフトカードのご購入またはチャージが多いため、確認が終わるまで保留しています。",
        en="Several gift-card purchases or top-ups within 24 hours: the order is on hold until we verify the payment.",
    ),
    "top_up_from_new_session_or_device": Text(
        ja="サインインしたばかりのセッションまたは初めての端末からのチャージのため、確認が終わるまで保留しています。",
        en="A top-up from a session or device we have known for less than a day is on hold until we verify it.",
    ),
    "high_value_new_device_or_country": Text(
        ja="初めてのご利用環境からの高額のご注文のため、確認が終わるまで保留しています。",
        en="A high-value order from a device or country we have not seen before is on hold until we verify it.",
    ),
    "amount_over_block_limit": Text(
        ja="ご注文金額が上限を超えているため、お受けできません。",
        en="The order amount exceeds the limit we can accept.",
    ),
    # cancellation/rules.py
    Refusal.already_shipped.value: Text(
        ja="発送済みのため取り消せません。返品をお申し込みください。",
        en="This item has shipped and cannot be cancelled: please request a return.",
    ),
    Refusal.digital_used.value: Text(
        ja="デジタル商品はすでにご利用済みのため取り消せません。",
        en="This digital item has already been used, so it cannot be cancelled.",
    ),
    Refusal.gift_card_redeemed.value: Text(
        ja="ギフトカードはすでに使用済みのため取り消せません。",
        en="This gift card has already been redeemed, so it cannot be cancelled.",
    ),
    Refusal.top_up_spent.value: Text(
        ja="チャージ残高がすでに使われているため取り消せません。",
        en="The topped-up balance has already been spent, so it cannot be cancelled.",
    ),
    Refusal.already_cancelled.value: Text(
        ja="このご注文はすでに取り消されています。", en="This has already been cancelled."
    ),
    Refusal.not_shipped.value: Text(
        ja="未発送の商品は返品ではなく取り消しができます。",
        en="This item has not shipped: cancel it instead of returning it.",
    ),
    Refusal.return_already_requested.value: Text(
        ja="この商品の返品はすでに受け付けています。", en="A return of this item is already open."
    ),
}


def reason_text(code: str) -> Text:
    return REASONS.get(code, Text(ja="詳しくはお問い合わせください。", en="Please contact us for details."))


class Notice(BaseModel):
    """Data of auth's ``notice`` template."""

    subject_ja: str
    subject_en: str
    body_ja: str
    body_en: str


ACTION_TEXTS: dict[str, Text] = {
    "cancelled": Text(ja="ご注文 {order} を取り消しました。", en="We cancelled order {order}."),
    "refunded": Text(ja="{amount}円を返金しました（{refunded_at}）。", en="We refunded ¥{amount} ({refunded_at})."),
    "return_opened": Text(
        ja="発送済みのご注文 {order} の返品を受け付けました。届き次第返金します。",
        en="Order {order} had shipped: we opened a return and refund it once it is back.",
    ),
    "authorisation_voided": Text(
        ja="ご注文 {order} の {amount}円 はまだ請求前でした。カードの与信を取り消しました（請求はありません）。",
        en="Order {order} (¥{amount}) had not been charged yet: we released the card authorisation (no charge).",
    ),
    "subscription_cancelled": Text(ja="定期購入 {order} を解約しました。", en="We cancelled subscription {order}."),
    "held": Text(ja="ご注文 {order} を保留しました。", en="We put order {order} on hold."),
    "released": Text(
        ja="確認が終わり、ご注文 {order} を確定しました。", en="Verification is done: order {order} goes ahead."
    ),
    "not_cancellable": Text(
        ja="ご注文 {order} は取り消せませんでした（{why_ja}）。", en="Order {order} could not be cancelled ({why_en})."
    ),
}


def intrusion_notice(lines_ja: list[str], lines_en: list[str], case_number: str) -> Notice:
    return Notice(
        subject_ja="不正アクセスの疑いがあったご注文を取り消しました",
        subject_en="We cancelled orders placed during a suspected intrusion",
        body_ja="アカウントへの不正アクセスの疑いがあったため、その間のご注文について次の対応をしました。\n"
        + "\n".join(lines_ja)
        + f"\nケース番号: {case_number}\nお客様による操作は必要ありません。",
        body_en="Someone else may have been in your account. For the orders placed meanwhile we did this:\n"
        + "\n".join(lines_en)
        + f"\nCase: {case_number}\nThere is nothing you need to do.",
    )


def not_mine_notice(lines_ja: list[str], lines_en: list[str]) -> Notice:
    return Notice(
        subject_ja="「身に覚えのない注文」のご報告を受け付けました",
        subject_en="We received your report of an order you did not place",
        body_ja="ご報告ありがとうございます。次の対応をしました。\n"
        + "\n".join(lines_ja)
        + "\n次回のサインイン時に追加の本人確認をお願いします。アカウントは凍結していません。",
        body_en="Thank you for telling us. We did this:\n"
        + "\n".join(lines_en)
        + "\nAt your next sign-in we will ask you to confirm it is you. Your account is not frozen.",
    )


def decision_notice(lines_ja: list[str], lines_en: list[str]) -> Notice:
    return Notice(
        subject_ja="保留中のご注文について",
        subject_en="About your order on hold",
        body_ja="\n".join(lines_ja),
        body_en="\n".join(lines_en),
    )


def refund_notice(amount: int, order_label: str) -> Notice:
    return Notice(
        subject_ja="返金のお知らせ",
        subject_en="Your refund",
        body_ja=f"ご注文 {order_label} について {amount}円を返金しました（{{refunded_at}}）。",
        body_en=f"We refunded ¥{amount} for order {order_label} ({{refunded_at}}).",
    )
